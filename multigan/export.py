"""A trained generator alone, for inference: ``multigan export RUN --format safetensors``.

The file holds the weights :meth:`GAN.sample` uses (the EMA copy when the run kept one) as a
safetensors file, which stores tensors only and runs no code when read, and in its metadata
the family and its config, so that ``multigan.load(FILE)`` rebuilds the GAN and can sample.
The discriminator is not exported; a GAN loaded from such a file has a freshly initialised one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save

from .errors import ConfigError, DataError

if TYPE_CHECKING:
    from .gan import GAN

FORMAT = "multigan-generator"
VERSION = "1"
FORMATS = ("safetensors",)
_NESTED = "."  # a module's extra state (a dict of tensors, SeqGAN's tokenizer) is stored key by key


def export_generator(gan: "GAN", path: str | os.PathLike) -> Path:
    """Write ``gan``'s sampling generator to ``path`` (safetensors; see the module docstring)."""
    from .config import config_to_dict
    from .train.checkpoint import write_bytes_atomic

    tensors, nested, aliases, seen = {}, [], {}, {}
    for key, value in gan.sampling_generator.state_dict().items():
        items = value.items() if isinstance(value, dict) else [(None, value)]
        if isinstance(value, dict):
            nested.append(key)
        for sub, tensor in items:
            name = key if sub is None else f"{key}{_NESTED}{sub}"
            ident = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape))
            if tensor.numel() and ident in seen:  # tied weights (GPT-2's embedding and output) once
                aliases[name] = seen[ident]
                continue
            seen[ident] = name
            tensors[name] = tensor.detach().cpu().contiguous()
    metadata = {"format": FORMAT, "version": VERSION, "name": gan.name, "modality": gan.modality,
                "config": json.dumps(config_to_dict(gan.config)), "nested": json.dumps(nested),
                "aliases": json.dumps(aliases)}
    return write_bytes_atomic(path, save(tensors, metadata=metadata))


def is_exported(path: str | os.PathLike) -> bool:
    """Whether ``path`` names an exported generator file (by its suffix)."""
    return Path(path).suffix == ".safetensors"


def load_exported(path: str | os.PathLike, device: str | torch.device = "cpu") -> "GAN":
    """The GAN an exported file describes, its generator loaded, in eval mode (see the module
    docstring). Raises :class:`DataError` naming the file when it is missing, damaged or not a
    multigan export."""
    from .registry import build

    path = Path(path)
    if not path.is_file():
        raise DataError(f"exported generator {str(path)!r} does not exist")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise DataError(f"exported generator {str(path)!r} is damaged or not a safetensors file: {exc}") from exc
    if metadata.get("format") != FORMAT:
        raise DataError(f"{str(path)!r} is a safetensors file but not a multigan generator export "
                        "(no 'format: multigan-generator' in its metadata)")
    config = json.loads(metadata["config"])
    state: dict[str, Any] = dict(tensors)
    for alias, original in json.loads(metadata["aliases"]).items():
        state[alias] = state[original]
    for key in json.loads(metadata["nested"]):
        prefix = key + _NESTED
        state[key] = {k[len(prefix):]: state.pop(k) for k in list(state) if k.startswith(prefix)}
    try:
        gan = build(metadata["name"], **config)
        gan.generator.load_state_dict(state)
    except (ConfigError, RuntimeError) as exc:
        raise DataError(f"exported generator {str(path)!r} does not fit the {metadata['name']!r} model "
                        f"its metadata describes: {exc}") from exc
    return gan.place(device).eval()
