"""A third-party multigan plugin: a whole new modality ("points", 2-D data) and its family.

Installing a package with this entry point is all it takes for multigan to find it
(``tests/plugin_example/pyproject.toml`` is that package):

    [project.entry-points."multigan.plugins"]
    points = "multigan_points"
"""

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from multigan import GANConfig, LatentGAN, Modality, register_model, register_modality
from multigan.config import make_config, option
from multigan.errors import DataError
from multigan.losses import discriminator_loss, generator_loss
from multigan.modality import check_float_batch


# ---------------------------------------------------------------------- the modality
def ring(n: int = 2048, modes: int = 8, seed: int = 0) -> torch.Tensor:
    """``n`` points from ``modes`` Gaussians on the unit circle (the classic 2-D GAN toy)."""
    g = torch.Generator().manual_seed(seed)
    angle = torch.randint(modes, (n,), generator=g) * (2 * torch.pi / modes)
    centres = torch.stack([angle.cos(), angle.sin()], dim=1)
    return centres + 0.05 * torch.randn(n, 2, generator=g)


def ring_dataset(gan, split: str) -> torch.Tensor:
    """The built-in ``ring``: 2,048 points, a different draw for the test split."""
    return ring(seed=0 if split == "train" else 1)


def load_points(path, gan, split, skip_bad_files) -> torch.Tensor:
    """A text file of "x y" lines."""
    try:
        points = torch.tensor([[float(v) for v in line.split()] for line in Path(path).read_text().splitlines()
                               if line.strip()])
    except ValueError as exc:
        raise DataError(f"points file {path!r} is not 'x y' lines: {exc}") from exc
    return points


def check_points(batch, gan) -> None:
    """Training batches are float points (N, 2)."""
    check_float_batch(batch, (2,), gan.name or type(gan).__name__, "point",
                      "give a file of 'x y' lines (two numbers a line)")


def write_points(samples: torch.Tensor, stem: Path, gan) -> list[Path]:
    path = Path(stem).with_suffix(".txt")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{x:.4f} {y:.4f}\n" for x, y in samples.tolist()))
    return [path]


def evaluate_points(gan, data, n_samples, seed) -> dict[str, float]:
    """Share of samples within 0.2 of the unit circle, and how many of the 8 modes are hit."""
    x = gan.sample(n_samples or 1000, seed=seed).float()
    radius = x.norm(dim=1)
    angle = torch.atan2(x[:, 1], x[:, 0]) % (2 * torch.pi)
    mode = (angle / (2 * torch.pi / 8)).round().long() % 8
    on_ring = (radius - 1).abs() < 0.2
    return {"on_ring": on_ring.float().mean().item(), "modes_covered": int(mode[on_ring].unique().numel())}


POINTS = register_modality(Modality(
    name="points",
    default_data="ring",
    datasets={"ring": ring_dataset},
    load_path=load_points,
    write_samples=write_points,
    check_batch=check_points,
    evaluate=evaluate_points,
    unit="points",
))


# ---------------------------------------------------------------------- the family
@dataclass
class PointGANConfig(GANConfig):
    latent_dim: int = option(2, "size of z", low=1)
    hidden: int = option(64, "width of both MLPs", low=1)
    lr_g: float = option(1e-3, "generator learning rate", low=0, low_open=True)
    lr_d: float = option(1e-3, "discriminator learning rate", low=0, low_open=True)
    batch_size: int = option(128, "default batch size", low=1)


def mlp(n_in: int, hidden: int, n_out: int) -> nn.Module:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, n_out))


class PointGAN(LatentGAN):
    """z ~ N(0, I) -> MLP -> a point; an MLP discriminator; the non-saturating loss.

    LatentGAN gives ``generate`` and ``fake_batch``; with ``shares_fakes`` the trainer makes one
    fake batch a step, which D's loss sees detached and G's loss trains through.
    """

    shares_fakes = True

    def __init__(self, config: PointGANConfig):
        super().__init__(config, mlp(config.latent_dim, config.hidden, 2), mlp(2, config.hidden, 1))

    def discriminator_loss(self, batch, step):
        fake = self.discriminator_fakes(batch, step)
        return {"loss": discriminator_loss("non_saturating", self.discriminator(batch), self.discriminator(fake))}

    def generator_loss(self, batch, step):
        fake = self.generator_fakes(batch, step)
        return {"loss": generator_loss("non_saturating", self.discriminator(fake))}


@register_model("pointgan", modality="points", config=PointGANConfig)
def pointgan(**overrides) -> PointGAN:
    return PointGAN(make_config(PointGANConfig, overrides))
