"""Adversarial losses and regularisers shared by the families.

Every adversarial loss is a pair of functions of the discriminator's raw outputs (logits or
critic values): ``d(real, fake)`` for the discriminator and ``g(fake)`` for the generator;
the relativistic loss (:func:`relativistic_loss`) takes both outputs for each player. They
average over every element, so multi-scale or patch outputs work unchanged.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def _d_logistic(real: Tensor, fake: Tensor) -> Tensor:
    # -log sigmoid(real) - log(1 - sigmoid(fake)), written with softplus for stability
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def _g_non_saturating(fake: Tensor) -> Tensor:
    return F.softplus(-fake).mean()  # -log sigmoid(fake)


def _g_minimax(fake: Tensor) -> Tensor:
    return -F.softplus(fake).mean()  # log(1 - sigmoid(fake))


def _d_hinge(real: Tensor, fake: Tensor) -> Tensor:
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def _g_mean_negated(fake: Tensor) -> Tensor:
    return -fake.mean()


def _d_wasserstein(real: Tensor, fake: Tensor) -> Tensor:
    return fake.mean() - real.mean()


def _d_least_squares(real: Tensor, fake: Tensor) -> Tensor:
    return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake ** 2).mean()


def _g_least_squares(fake: Tensor) -> Tensor:
    return 0.5 * ((fake - 1) ** 2).mean()


#: name -> (discriminator loss, generator loss)
ADVERSARIAL_LOSSES: dict[str, tuple[Callable[[Tensor, Tensor], Tensor], Callable[[Tensor], Tensor]]] = {
    "non_saturating": (_d_logistic, _g_non_saturating),  # Goodfellow et al. 2014, the practical G loss
    "minimax": (_d_logistic, _g_minimax),                # the original min-max game
    "hinge": (_d_hinge, _g_mean_negated),                # Lim & Ye 2017; Miyato et al. 2018
    "wasserstein": (_d_wasserstein, _g_mean_negated),    # Arjovsky et al. 2017
    "least_squares": (_d_least_squares, _g_least_squares),  # Mao et al. 2017, a-b-c = 0-1-1
}


def discriminator_loss(kind: str, real: Tensor, fake: Tensor) -> Tensor:
    """The discriminator's adversarial loss of ``kind`` (a key of :data:`ADVERSARIAL_LOSSES`)."""
    return ADVERSARIAL_LOSSES[kind][0](real.float(), fake.float())


def generator_loss(kind: str, fake: Tensor) -> Tensor:
    """The generator's adversarial loss of ``kind`` (a key of :data:`ADVERSARIAL_LOSSES`)."""
    return ADVERSARIAL_LOSSES[kind][1](fake.float())


def relativistic_loss(positive: Tensor, negative: Tensor) -> Tensor:
    """The relativistic standard GAN loss (RSGAN; Jolicoeur-Martineau, ICLR 2019), RelGAN's:
    the mean over paired elements of ``-log sigmoid(positive - negative)``.

    The discriminator minimises ``relativistic_loss(real, fake)`` (each real output should
    exceed the fake one it is paired with) and the generator ``relativistic_loss(fake, real)``;
    both take D's raw outputs of the same shape, paired element by element. It is not in
    :data:`ADVERSARIAL_LOSSES` because G's loss needs the real outputs too, nor in
    :mod:`multigan.kernels.adversarial_loss`, whose fused pass covers losses of one tensor at a
    time; this plain function is the reference and the implementation.
    """
    if positive.shape != negative.shape:
        raise ValueError(f"the relativistic loss pairs outputs element by element: got shapes "
                         f"{tuple(positive.shape)} and {tuple(negative.shape)}")
    return _g_non_saturating(positive.float() - negative.float())


def _input_gradients(outputs: Tensor, inputs: Tensor) -> Tensor:
    # Sum in float32 so the double backward is not run from a low-precision scalar; the graph
    # stays differentiable (create_graph) so the penalty trains D.
    (grad,) = torch.autograd.grad(outputs.float().sum(), inputs, create_graph=True)
    return grad.float().flatten(1)


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor,
                     generator: torch.Generator | None = None) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017): ``E[(||grad critic(x_hat)||_2 - 1)^2]``.

    ``x_hat`` interpolates each real/fake pair with its own uniform weight; the norm is taken
    over every non-batch dimension (channels and time, or channels and pixels). The caller
    multiplies by lambda (10 in the paper).
    """
    eps_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = torch.rand(eps_shape, device=real.device, dtype=real.dtype, generator=generator)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    # A compiled critic (compile=True) runs eagerly here: torch.compile's graphs have no double
    # backward, which the penalty's gradient needs.
    with torch.compiler.set_stance("force_eager"):
        grad = _input_gradients(critic(x_hat), x_hat)
    return ((grad.norm(2, dim=1) - 1) ** 2).mean()


def feature_matching(real_features: Sequence[Tensor], fake_features: Sequence[Tensor],
                     weights: Sequence[float] | None = None) -> Tensor:
    """Sum over layers of ``weight * mean |real - fake|`` (real features are not trained through).

    MelGAN's feature matching is this with each layer weighted by ``1/num_D * 4/(n_layers+1)``.
    """
    if len(real_features) != len(fake_features):
        raise ValueError(f"feature matching needs as many real as fake features, got "
                         f"{len(real_features)} and {len(fake_features)}")
    weights = [1.0] * len(real_features) if weights is None else list(weights)
    total = real_features[0].new_zeros((), dtype=torch.float32)
    for w, r, f in zip(weights, real_features, fake_features):
        total = total + w * (f.float() - r.detach().float()).abs().mean()
    return total
