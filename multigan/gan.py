"""The GAN base class: two networks, ``sample()``, and the objective the trainer optimises.

A family subclasses its modality's contract (:class:`multigan.ImageGAN`, :class:`multigan.AudioGAN`,
:class:`multigan.TextGAN`, each a :class:`GAN`) and defines

* ``generate(n, cond, rng)``: samples in data space (docs/concepts.md, "Family contracts");
* ``discriminator_loss(batch, step)`` and ``generator_loss(batch, step)``: each returns a dict
  whose ``"loss"`` entry is minimised and whose other entries are logged. ``step`` is the
  :class:`Step` the trainer shares between the losses of one training step;
* optionally ``phases(batches_per_epoch)``: pre-training phases run before adversarial
  training (SeqGAN's MLE pre-training of G and D), ``critic_steps(batches_per_epoch)``,
  ``weight_decay(network)`` and ``lr_factor(step, batches_per_epoch)`` (the optimisers and
  their schedule), ``attach_data(dataset)``, ``artifacts()`` / ``load_artifacts(files)``;
* optionally ``fake_batch(batch)`` with ``shares_fakes = True``: the trainer then makes one fake
  batch per step and hands it to both losses as ``step.fake`` (see :attr:`GAN.shares_fakes`).

The trainer knows nothing else about the family.
"""

from __future__ import annotations

import abc
import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

import torch
from torch import Tensor, nn

from .config import GANConfig
from .errors import ConfigError, did_you_mean
from .labels import label_indices
from .pretrained import save_pretrained
from .processes import share_of

Losses = dict[str, torch.Tensor]


#: how a GAN computes (``GAN.use_kernels``): "auto" runs the fused Triton kernels and fast
#: paths where they run (CUDA), "eager" plain PyTorch ops only
KERNELS = ("auto", "eager")


@dataclass
class Step:
    """What the trainer shares between the losses of one training step.

    The trainer makes a fresh ``Step`` for each step (and for each discriminator update when
    there are several per generator update) and passes the same one to
    ``discriminator_loss(batch, step)`` and then ``generator_loss(batch, step)``.

    Attributes:
        fake: the step's fake batch, made once by ``gan.fake_batch(batch)`` with autograd when the
            family :attr:`~GAN.shares_fakes` and D and G update once each; None: each loss makes
            its own (see :meth:`GAN.discriminator_fakes`, :meth:`GAN.generator_fakes`).
        kept: what the discriminator's loss keeps for the generator's loss of the same step, by
            name (MelGAN: D's detached features of the real batch, its feature-matching targets).
            It is only ever filled when ``fake`` is shared, so what G reads was computed for the
            very fakes it trains through.
    """

    fake: Any = None
    kept: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Phase:
    """A pre-training phase: ``steps`` updates of one network on ``loss(batch, step)``.

    The phase uses the same data stream as adversarial training, and that network's optimiser,
    or with ``own_optimizer`` one of its own (Adam with the network's settings), so that
    adversarial training starts with fresh optimiser state (SeqGAN's code keeps separate Adam
    states for MLE and policy gradient). ``lr`` sets that own optimiser's learning rate (None:
    the network's; RelGAN pre-trains at 1e-2 and trains adversarially at 1e-4). ``trains`` says
    in a few words what it does, for the line the trainer prints when training starts.
    """

    name: str
    network: Literal["generator", "discriminator"]
    steps: int
    loss: Callable[[Any, Step], Losses]
    own_optimizer: bool = False
    trains: str = ""
    lr: float | None = None

    def __post_init__(self) -> None:
        if self.lr is not None and not self.own_optimizer:
            raise ConfigError(f"phase {self.name!r} sets lr but shares the {self.network}'s optimiser: "
                              "a learning rate of its own needs own_optimizer=True")


class GAN(nn.Module, metaclass=abc.ABCMeta):
    """A generator, a discriminator and the objective that trains them.

    Attributes:
        name: the registered family name (set by :func:`multigan.build`).
        modality: the registered modality (set by :func:`multigan.build`).
        config: the family's config dataclass.
        generator, discriminator: the two networks.
        generator_ema: the exponential moving average of the generator, or None; when present
            it is used by :meth:`sample`.
        kernels: how the GAN computes, one of :data:`KERNELS` (see :meth:`use_kernels`).
        shared_rng: a CPU random generator every process of a run shares, for noise that must
            be the same on all of them (LatentGAN's training latents); the trainer seeds it and
            checkpoints its state. None: the global torch RNG.
    """

    name: str = ""
    modality: str = ""
    #: the memory format in which this family's networks and 4-D batches compute fastest
    #: (``torch.channels_last`` for image families); used when :attr:`kernels` is "auto", see
    #: :attr:`layout`. None: tensors stay as they are
    fast_memory_format: torch.memory_format | None = None
    #: ``multigan bench``'s rows: label -> the network one timed update trains, or None for a
    #: whole training step (``n_critic`` discriminator updates and one generator update)
    bench_steps: dict[str, str | None] = {"train": None}
    #: True when the family defines ``fake_batch(batch)`` (the generator's output for a training
    #: batch, with autograd). With one critic step per generator step the trainer then calls
    #: ``fake_batch`` once per step and shares the result as ``step.fake``: D's loss detaches it
    #: (see :meth:`discriminator_fakes`) and G's loss, on the same real batch, back-propagates
    #: through it (:meth:`generator_fakes`). G has not changed in between, so this is the step
    #: fresh fakes from the same latents would give, minus a generator forward, as the reference
    #: DCGAN and MelGAN loops do.
    shares_fakes: bool = False
    #: The order of an adversarial step's updates. False (GANs as most papers train them): the
    #: ``n_critic`` discriminator updates, then the generator's. True: the generator's update
    #: first, then the discriminator's (SeqGAN's reference code). Fakes are then never shared.
    generator_first: bool = False
    #: The built-in dataset (a name among its modality's ``datasets``) this family trains on when
    #: no data is given, as HiFi-GAN declares ``"speech"``; None: the modality's ``default_data``.
    default_data: str | None = None
    #: Where a loaded GAN's weights come from, for its model card (:meth:`save_pretrained`): set
    #: by :func:`multigan.load` from a run's checkpoint (run folder, checkpoint, step, data, the
    #: training settings, the run's eval.json of that checkpoint) and kept by a pretrained folder.
    #: None: not known (a GAN built or trained in Python).
    provenance: dict[str, Any] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.shares_fakes and not callable(getattr(cls, "fake_batch", None)):
            raise TypeError(f"{cls.__name__} sets shares_fakes = True but defines no fake_batch(batch)")

    def __init__(self, config: GANConfig, generator: nn.Module, discriminator: nn.Module):
        super().__init__()
        self.config = config
        self.generator = generator
        self.discriminator = discriminator
        self.generator_ema: nn.Module | None = None
        self.kernels = "auto"
        self.shared_rng: torch.Generator | None = None

    @property
    def device(self) -> torch.device:
        return next(self.generator.parameters()).device

    # ------------------------------------------------------------------ how it computes
    def use_kernels(self, kernels: str) -> "GAN":
        """Compute with the fused kernels where they run (``"auto"``) or plain PyTorch only
        (``"eager"``): sets :attr:`kernels` and the ``impl`` of every submodule that has one
        (multigan's layers, and any family module that passes ``self.impl`` to
        :mod:`multigan.kernels`). The maths is the same either way."""
        if kernels not in KERNELS:
            raise ConfigError(f"kernels {kernels!r} is not allowed; allowed: {', '.join(KERNELS)}."
                              + did_you_mean(str(kernels), KERNELS))
        self.kernels = kernels
        for module in self.modules():
            if module is not self and isinstance(getattr(module, "impl", None), str):
                module.impl = self.impl
        return self

    @property
    def impl(self) -> str:
        """The ``impl`` this GAN passes to :mod:`multigan.kernels`: ``"auto"`` (the fused kernel
        where it runs), or ``"ref"`` (plain PyTorch) when :attr:`kernels` is ``"eager"``."""
        return "ref" if self.kernels == "eager" else "auto"

    @property
    def layout(self) -> torch.memory_format | None:
        """The memory format this GAN runs in: :attr:`fast_memory_format` with kernels "auto",
        else None."""
        return self.fast_memory_format if self.kernels == "auto" else None

    def place(self, device: str | torch.device) -> "GAN":
        """Move to ``device`` in :attr:`layout` (so a loaded GAN computes as the trained one did)."""
        return self.to(device, memory_format=self.layout or torch.preserve_format)

    def add_ema(self) -> nn.Module:
        """Give the GAN an EMA generator (a frozen copy of G, which the trainer then averages
        into) and return it; :meth:`sample` uses it from then on."""
        self.generator_ema = copy.deepcopy(self.generator).eval().requires_grad_(False)
        return self.generator_ema

    def generator_inputs(self, n: int, rng: torch.Generator) -> Any:
        """``n`` fresh inputs for the generator as training draws them (latent vectors), from
        ``rng``; None when a family's inputs come from data (a vocoder's mels). The trainer
        uses them to measure the EMA generator's BatchNorm statistics."""
        return None

    # ------------------------------------------------------------------ sampling
    @property
    def sampling_generator(self) -> nn.Module:
        """The network :meth:`sample` uses: the EMA copy when there is one."""
        return self.generator_ema if self.generator_ema is not None else self.generator

    @torch.no_grad()
    def sample(self, n: int | None = None, *, seed: int | None = None, cond: Any = None, **options: Any) -> Any:
        """``n`` samples in data space (or one per condition in ``cond``), reproducible by ``seed``.

        Sampling runs the networks in eval mode and leaves the global random state untouched.
        ``options`` go to :meth:`generate` (a contract's sampling options, such as a text GAN's
        ``temperature``; the contract checks them).
        """
        rng = torch.Generator(device=self.device)
        if seed is None:
            rng.seed()
        else:
            rng.manual_seed(seed)
        net = self.sampling_generator
        was_training = net.training
        net.eval()
        try:
            return self.generate(n, cond=cond, rng=rng, **options)
        finally:
            net.train(was_training)

    def check_unconditional(self, n: Any, cond: Any) -> int:
        """For unconditional families' ``generate``: ``n`` if it is a valid sample count."""
        if cond is not None:
            raise ConfigError(f"{self.name or type(self).__name__} is unconditional: call sample(n) without cond")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"sample(n) needs a number of samples >= 1, got {n!r}")
        return n

    def preview(self, batch: Any, n: int) -> Any:
        """Samples the trainer writes every ``sample_every`` steps. ``batch`` is a fixed batch of
        real data, for conditional families; unconditional ones sample from a fixed seed."""
        return self.sample(n, seed=0)

    # ------------------------------------------------------------------ data and files
    def attach_data(self, dataset: Any) -> None:
        """Take what the family needs from its training data besides batches (a text corpus's
        tokenizer). The trainer calls this once, before training. Nothing by default."""

    def artifacts(self) -> dict[str, bytes]:
        """Files that travel with the weights, ``{file name: contents}`` (a text family's
        ``tokenizer.model``): the trainer writes them into the run folder and every checkpoint,
        and loading gives them back to :meth:`load_artifacts`. None by default."""
        return {}

    def load_artifacts(self, files: dict[str, bytes]) -> None:
        """Take back what :meth:`artifacts` gave, from a loaded checkpoint. Nothing by default."""

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write this GAN's sampling generator as a Hugging Face-style folder: ``config.json``,
        ``model.safetensors`` and a ``README.md`` model card (:mod:`multigan.pretrained`);
        :func:`multigan.from_pretrained` loads it back. Raises :class:`ConfigError`, writing
        nothing, when ``directory`` exists and is not an empty folder."""
        return save_pretrained(self, directory)

    # ------------------------------------------------------------------ the objective
    def phases(self, batches_per_epoch: int) -> list[Phase]:
        """Pre-training phases, run in order before adversarial training. None by default."""
        return []

    def critic_steps(self, batches_per_epoch: int) -> int:
        """Discriminator updates per generator update in adversarial training: ``config.n_critic``
        (SeqGAN counts them in epochs of the data)."""
        return self.config.n_critic

    def weight_decay(self, network: Literal["generator", "discriminator"]) -> float:
        """Decoupled weight decay of ``network``'s optimiser: above 0 the trainer uses AdamW
        (Loshchilov & Hutter 2019) instead of Adam. By default the config's ``weight_decay``
        where the family declares that field (HiFi-GAN: 0.01), else 0."""
        return getattr(self.config, "weight_decay", 0.0)

    def lr_factor(self, step: int, batches_per_epoch: int) -> float | None:
        """The family's own learning-rate schedule: the factor on ``lr_g`` and ``lr_d`` for the
        adversarial step after ``step`` adversarial steps, with ``batches_per_epoch`` batches in
        an epoch of the data (HiFi-GAN: ``0.999 ** epoch``). The trainer multiplies it with the
        ``lr_decay`` setting's factor. A function of its arguments alone, so a resumed run goes
        on with the same schedule. None (the default): no schedule of its own."""
        return None

    @abc.abstractmethod
    def generate(self, n: int | None, *, cond: Any, rng: torch.Generator) -> Any:
        """Samples from :attr:`sampling_generator`, drawing randomness from ``rng`` only."""

    def sampling_inputs(self, n: int | None, *, cond: Any, rng: torch.Generator) -> tuple[Tensor | None, ...] | None:
        """Where :meth:`generate` is a pure function of per-sample inputs drawn first: those
        inputs (tensors with the samples along dimension 0, or None), such that
        ``generate_from(*sampling_inputs(n, cond=cond, rng=rng))`` is ``generate(n, cond=cond,
        rng=rng)``. The inputs of several calls can then be concatenated and run as one forward
        pass (``multigan serve`` batches requests so). None (the default): not separable."""
        return None

    def generate_from(self, *inputs: Tensor | None) -> Any:
        """Samples for inputs :meth:`sampling_inputs` drew (see there)."""
        raise NotImplementedError(f"{type(self).__name__} has no separable sampling inputs")

    def discriminator_fakes(self, batch: Any, step: Step) -> Any:
        """What a sharing family's ``discriminator_loss`` scores as fake: the step's shared fake
        detached, or a fresh ``fake_batch(batch)`` made without autograd."""
        if step.fake is not None:
            return step.fake.detach()
        with torch.no_grad():
            return self.fake_batch(batch)

    def generator_fakes(self, batch: Any, step: Step) -> Any:
        """What a sharing family's ``generator_loss`` trains through: the step's shared fake, or
        a fresh ``fake_batch(batch)`` (with autograd)."""
        return self.fake_batch(batch) if step.fake is None else step.fake

    @abc.abstractmethod
    def discriminator_loss(self, batch: Any, step: Step) -> Losses:
        """The discriminator's objective on a batch of real data: ``{"loss": ..., ...}``."""

    @abc.abstractmethod
    def generator_loss(self, batch: Any, step: Step) -> Losses:
        """The generator's objective (``batch`` gives its size, or its conditions): ``{"loss": ...}``."""


class LatentGAN(GAN):
    """A GAN whose generator maps latent vectors of ``config.latent_dim`` to samples (DCGAN,
    WaveGAN); a family names its latent distribution in :attr:`latent_distribution`.

    A config with ``num_classes`` above 0 makes it class-conditional (SNGAN; WaveGAN with
    labels): its generator takes ``(z, labels)``, it trains on ``(examples, labels)`` batches
    (:meth:`split_labels`), makes its fakes for the real batch's labels (:meth:`fake_batch`) and
    samples from labels given by name or index (:func:`multigan.labels.label_indices`; the
    config's ``label_names`` name the classes).
    """

    #: ``"normal"``: z ~ N(0, I); ``"uniform"``: z ~ U(-1, 1)
    latent_distribution: Literal["normal", "uniform"] = "normal"

    def latent(self, n: int, rng: torch.Generator | None = None) -> torch.Tensor:
        """``n`` latent vectors on the GAN's device, drawn from ``rng`` (on its own device) or,
        without one, from the global RNG."""
        shape, device = (n, self.config.latent_dim), rng.device if rng is not None else self.device
        if self.latent_distribution == "normal":
            z = torch.randn(shape, device=device, generator=rng)
        else:
            z = torch.rand(shape, device=device, generator=rng) * 2 - 1
        return z.to(self.device)

    @property
    def label_classes(self) -> int:
        """How many classes the generator is conditioned on (the config's ``num_classes``); 0:
        unconditional."""
        return getattr(self.config, "num_classes", 0)

    def split_labels(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A training batch as ``(examples, labels)``; labels None when unconditional."""
        return (batch[0], batch[1]) if self.label_classes else (batch, None)

    def generate(self, n: int | None, *, cond: Any = None, rng: torch.Generator) -> torch.Tensor:
        return self.generate_from(*self.sampling_inputs(n, cond=cond, rng=rng))

    def sampling_inputs(self, n: int | None, *, cond: Any = None,
                        rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The latents drawn from ``rng`` and the labels (None when unconditional)."""
        if not self.label_classes:
            return self.latent(self.check_unconditional(n, cond), rng), None
        labels = label_indices(cond, n, self.label_classes, getattr(self.config, "label_names", ()),
                               self.name or type(self).__name__).to(self.device)
        return self.latent(len(labels), rng), labels

    def generate_from(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.sampling_generator(z) if labels is None else self.sampling_generator(z, labels)

    def generator_inputs(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return self.latent(n, rng)

    def fake_batch(self, batch: Any) -> torch.Tensor:
        """The generator's output for as many :meth:`training_latents` as ``batch`` has examples
        (and, when class-conditional, for the batch's labels: the data's class distribution)."""
        real, labels = self.split_labels(batch)
        z = self.training_latents(len(real))
        return self.generator(z) if labels is None else self.generator(z, labels)

    def training_latents(self, n: int) -> torch.Tensor:
        """Latents for this process's ``n`` examples of a training batch, from :attr:`shared_rng`.

        On several processes each rank keeps its share of the latents drawn for the whole global
        batch from that shared stream, so N processes train on the very latents one process
        with the global batch would (the distributed tests compare the two).
        """
        return share_of(lambda m: self.latent(m, self.shared_rng), n)
