"""How a run trains, as opposed to what it trains: :class:`TrainSettings`.

The one place where the trainer's settings, their defaults, their documentation and their
allowed values are written. :class:`multigan.Trainer` takes them as keywords, ``multigan train``
builds its flags from them, recipes give them in their JSON's ``"train"`` section, and a run's
``config.json`` records them there (``multigan train --config RUN/config.json`` repeats it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .config import config_to_dict, make_config, option
from .gan import KERNELS
from .precision import PRECISIONS


@dataclass
class TrainSettings:
    """The shared trainer's settings (see :class:`multigan.Trainer`)."""

    data: str | None = option(None, "built-in dataset name or local path (None: the modality's built-in)")
    out_dir: str | None = option(None, "run folder (None: runs/NAME); a run already there is resumed")
    # bounded by the trainer: >= 1, or >= 0 for a family with pre-training phases (0: the phases only)
    max_steps: int | None = option(None, "adversarial steps (None: the family's max_steps); pre-training "
                                         "phases run before them, and 0 runs them only")
    batch_size: int | None = option(None, "global batch, split among the processes (None: the family's)", low=1)
    precision: str = option("auto", "32, bf16-mixed (CPU and CUDA), 16-mixed (CUDA), or auto: bf16-mixed where "
                                    "it is native (a GPU with bf16, a CPU with bf16 instructions), else 32",
                            choices=PRECISIONS)
    kernels: str = option("auto", "auto: fused Triton kernels and fast paths where they run (CUDA); "
                                  "eager: plain PyTorch ops only", choices=KERNELS)
    compile: bool = option(False, "torch.compile G's and D's forward passes (the first steps are slow while it "
                                  "compiles; a gradient penalty's double backward runs eagerly)")
    seed: int = option(0, "seeds Python, NumPy and torch, and the data order", low=0)
    device: str = option("auto", "auto (CUDA when available), cpu, cuda, cuda:N; under torchrun, this "
                                 "process's GPU")
    lr_decay: float = option(0.0, "the last fraction of the adversarial steps, over which lr_g and lr_d fall "
                                  "linearly toward 0 (CycleGAN's schedule; 0: constant)", low=0, high=1)
    sample_every: int = option(500, "write preview samples every N steps (0: only at the end)", low=0)
    checkpoint_every: int = option(500, "checkpoint every N steps (0: only at the end)", low=0)
    log_every: int = option(10, "log metrics every N steps (0: only at the end)", low=0)
    n_preview: int = option(64, "samples each preview writes", low=1)
    keep_checkpoints: int = option(5, "periodic checkpoints to keep, the newest (0: all)", low=0)
    num_workers: int = option(0, "DataLoader worker processes", low=0)
    skip_bad_files: bool = option(False, "skip unreadable data files with a warning instead of stopping")
    sync_batchnorm: bool = option(False, "multi-process: BatchNorm statistics of the global batch")
    progress: bool = option(True, "show a progress bar")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None = None) -> "TrainSettings":
        """Settings from keywords or a ``config.json`` ``"train"`` section, converted and checked:
        a :class:`ConfigError` names an unknown key (and the valid ones) or a bad value."""
        return make_config(cls, values or {}, prefix="")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict, as ``config.json`` records it."""
        return config_to_dict(self)


#: settings a resumed run must share with the run it continues: they define its data stream
RESUME_MUST_MATCH = ("data", "batch_size", "seed")
