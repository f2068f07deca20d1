"""A trained generator alone, for inference: ``multigan export RUN --format safetensors``.

The file holds the weights :meth:`GAN.sample` uses (the EMA copy when the run kept one) as a
safetensors file, which stores tensors only and runs no code when read, and in its metadata
the family, its config and its kernels setting, so that ``multigan.load(FILE)`` (see
:func:`multigan.runs.load_exported`) rebuilds the GAN and can sample.
The discriminator is not exported; a GAN loaded from such a file has a freshly initialised one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from safetensors.torch import save

from .config import config_to_dict
from .errors import ConfigError
from .files import write_bytes_atomic

if TYPE_CHECKING:
    from .gan import GAN

FORMAT = "multigan-generator"
VERSION = "1"
FORMATS = ("safetensors",)
NESTED = "."  # a module's extra state (a dict of tensors, SeqGAN's tokenizer) is stored key by key


def export_generator(gan: "GAN", path: str | os.PathLike) -> Path:
    """Write ``gan``'s sampling generator to ``path`` (safetensors; see the module docstring).
    Raises :class:`ConfigError` (nothing written) when ``path`` cannot be a file: a folder, or
    under a file."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{str(path)!r} is a folder; give the exported file's name (ending in .safetensors)")
    existing = next((p for p in path.parents if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise ConfigError(f"cannot write {str(path)!r}: {str(existing)!r} is a file, not a folder")
    tensors, nested, aliases, seen = {}, [], {}, {}
    for key, value in gan.sampling_generator.state_dict().items():
        items = value.items() if isinstance(value, dict) else [(None, value)]
        if isinstance(value, dict):
            nested.append(key)
        for sub, tensor in items:
            name = key if sub is None else f"{key}{NESTED}{sub}"
            ident = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape))
            if tensor.numel() and ident in seen:  # tied weights (GPT-2's embedding and output) once
                aliases[name] = seen[ident]
                continue
            seen[ident] = name
            tensors[name] = tensor.detach().cpu().contiguous()
    metadata = {"format": FORMAT, "version": VERSION, "name": gan.name, "modality": gan.modality,
                "config": json.dumps(config_to_dict(gan.config)), "kernels": gan.kernels, "nested": json.dumps(nested),
                "aliases": json.dumps(aliases)}
    return write_bytes_atomic(path, save(tensors, metadata=metadata))


def is_exported(path: str | os.PathLike) -> bool:
    """Whether ``path`` names an exported generator file (by its suffix)."""
    return Path(path).suffix == ".safetensors"
