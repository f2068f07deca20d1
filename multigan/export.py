"""A trained generator alone, for inference: ``multigan export RUN --format safetensors``.

The file holds the weights :meth:`GAN.sample` uses (the EMA copy when the run kept one) as a
safetensors file, which stores tensors only and runs no code when read, and in its metadata
the family, its config and its kernels setting, so that ``multigan.load(FILE)`` (see
:func:`multigan.runs.load_exported`) rebuilds the GAN and can sample.
The discriminator is not exported; a GAN loaded from such a file has a freshly initialised one.

:func:`flatten_state` and :func:`unflatten_state` turn a module's state into what safetensors
stores and back; Hugging Face-style folders (:mod:`multigan.pretrained`) store their weights
with them too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from safetensors.torch import save
from torch import Tensor, nn

from .config import config_to_dict
from .files import check_new_file, write_bytes_atomic

FORMAT = "multigan-generator"
VERSION = "1"
#: ``multigan export --format``: this module's file, a Hugging Face-style folder
#: (:mod:`multigan.pretrained`), an ONNX graph (:mod:`multigan.onnx_export`)
FORMATS = ("safetensors", "hf", "onnx")
NESTED = "."  # a module's extra state (a dict of tensors, SeqGAN's tokenizer) is stored key by key


def flatten_state(module: nn.Module) -> tuple[dict[str, Tensor], dict[str, str]]:
    """``module``'s state dict as safetensors stores it: ``(tensors, layout)``.

    ``tensors`` are contiguous CPU tensors by name. A tensor that shares its storage with one
    already named (tied weights: GPT-2's embedding and output) is stored once, and an extra
    state that is a dict of tensors (SeqGAN's tokenizer) key by key under ``KEY.SUB``;
    ``layout`` (string values, for safetensors' metadata: ``"nested"`` and ``"aliases"``)
    says how :func:`unflatten_state` puts the state back together."""
    tensors, nested, aliases, seen = {}, [], {}, {}
    for key, value in module.state_dict().items():
        items = value.items() if isinstance(value, dict) else [(None, value)]
        if isinstance(value, dict):
            nested.append(key)
        for sub, tensor in items:
            name = key if sub is None else f"{key}{NESTED}{sub}"
            ident = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape))
            if tensor.numel() and ident in seen:
                aliases[name] = seen[ident]
                continue
            seen[ident] = name
            tensors[name] = tensor.detach().cpu().contiguous()
    return tensors, {"nested": json.dumps(nested), "aliases": json.dumps(aliases)}


def unflatten_state(tensors: dict[str, Tensor], layout: dict[str, str]) -> dict[str, Any]:
    """The state dict :func:`flatten_state` gave ``tensors`` and ``layout`` for. Raises
    ``ValueError`` when ``layout`` is missing, malformed or names tensors that are not there
    (the caller names the file)."""
    try:
        nested, aliases = json.loads(layout["nested"]), json.loads(layout["aliases"])
        state: dict[str, Any] = dict(tensors)
        for alias, original in aliases.items():
            state[alias] = state[original]
        for key in nested:
            prefix = key + NESTED
            state[key] = {k[len(prefix):]: state.pop(k) for k in list(state) if k.startswith(prefix)}
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ValueError(f"its layout metadata ('nested', 'aliases') is missing or does not fit its tensors "
                         f"({type(exc).__name__}: {exc})") from exc
    return state


def export_generator(gan: nn.Module, path: str | os.PathLike) -> Path:
    """Write ``gan``'s (a :class:`multigan.GAN`) sampling generator to ``path`` (safetensors;
    see the module docstring). Raises :class:`ConfigError` (nothing written) when ``path``
    cannot be a file: a folder, or under a file."""
    path = check_new_file(path, ".safetensors")
    tensors, layout = flatten_state(gan.sampling_generator)
    metadata = {"format": FORMAT, "version": VERSION, "name": gan.name, "modality": gan.modality,
                "config": json.dumps(config_to_dict(gan.config)), "kernels": gan.kernels, **layout}
    return write_bytes_atomic(path, save(tensors, metadata=metadata))


def is_exported(path: str | os.PathLike) -> bool:
    """Whether ``path`` names an exported generator file (by its suffix)."""
    return Path(path).suffix == ".safetensors"
