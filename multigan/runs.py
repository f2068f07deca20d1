"""Run folders and checkpoints on disk, and a trained GAN back from them, without the trainer.

A run folder holds ``config.json``, ``metrics.jsonl``, ``checkpoints/`` (``last.pt`` and periodic
``step-NNNNNN.pt``) and ``samples/``. A checkpoint is a ``torch.save``d dict, read here with
``weights_only=True`` so that no pickled code runs. :func:`load_gan` rebuilds the family from the
config a checkpoint, an export (:mod:`multigan.export`) or a pretrained folder
(:mod:`multigan.pretrained`, :func:`from_pretrained`) carries.
"""

from __future__ import annotations

import json
import os
import pickle
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file

from .errors import ConfigError, DataError, MultiganError, UnknownModelError
from .export import FORMAT as EXPORT_FORMAT
from .export import is_exported, unflatten_state
from .pretrained import is_pretrained, read_pretrained

if TYPE_CHECKING:
    from .gan import GAN

FORMAT = "multigan-checkpoint"
VERSION = 1
#: fields that wave-1 runs kept in the family config and that are training settings now
MOVED_TO_SETTINGS = ("kernels", "compile")


def checkpoint_dir(run_dir: str | os.PathLike) -> Path:
    """A run folder's ``checkpoints/``."""
    return Path(run_dir) / "checkpoints"


def load_state(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint file (with ``weights_only=True``: no pickled code is run)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"checkpoint {str(path)!r} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise DataError(f"checkpoint {str(path)!r} is corrupt or not a multigan checkpoint "
                        f"(left as it is): {_unreadable(path, exc)}") from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise DataError(f"checkpoint {str(path)!r} is not a multigan checkpoint (left as it is)")
    return state


def _unreadable(path: Path, exc: Exception) -> str:
    """Why ``torch.load`` could not read ``path``, in one line (torch's own messages run to a
    page and advise ``weights_only=False``, which would run whatever code the file holds)."""
    try:
        size = path.stat().st_size
    except OSError:
        size = -1
    text = str(exc)
    if size == 0:
        return "the file is empty (0 bytes)"
    unsafe = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
    if unsafe:
        return (f"it holds a {unsafe.group(1)} object, which only pickled code can rebuild; checkpoints "
                "are read with weights_only=True, which runs none")
    try:
        with open(path, "rb") as f:
            head = f.read(4)
            f.seek(max(0, size - 65_557))  # the end record: 22 bytes and a comment of up to 65,535
            tail = f.read()
    except OSError:
        head = tail = b""
    if head == b"PK\x03\x04":  # torch.save's zip format
        if b"PK\x05\x06" not in tail:
            return f"its zip archive is cut short ({size} bytes, no end record): an interrupted copy?"
        return f"its zip archive is damaged ({size} bytes)"
    if isinstance(exc, pickle.UnpicklingError) or "Weights only load failed" in text:
        return f"its {size} bytes are not a file torch.save wrote"
    first = text.strip().splitlines()[0] if text.strip() else ""
    return f"torch.load failed ({type(exc).__name__}{': ' + first if first else ''})"


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A run folder's ``checkpoints/last.pt``, or ``path`` itself when it is a file."""
    path = Path(path)
    if path.is_dir():
        last = checkpoint_dir(path) / "last.pt"
        if not last.is_file():
            raise DataError(f"run folder {str(path)!r} has no checkpoint ({last} is missing)")
        return last
    return path


def split_legacy_config(config: dict[str, Any], train: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """A saved ``(config, train)`` pair with the settings older runs kept in the family config
    (``kernels``, ``compile``) moved to the training settings, and ``kernels="fused"`` (the old
    name of ``"auto"``) renamed."""
    config, train = dict(config), dict(train or {})
    for key in MOVED_TO_SETTINGS:
        if key in config:
            train.setdefault(key, config.pop(key))
    if train.get("kernels") == "fused":
        train["kernels"] = "auto"
    return config, train


def load_gan(path: str | os.PathLike, device: str | torch.device = "cpu") -> "GAN":
    """A trained GAN from a run folder (its ``checkpoints/last.pt``), a checkpoint file, a
    generator exported by ``multigan export`` (``.safetensors``: the generator only) or a
    pretrained folder (:func:`from_pretrained`).

    The family is rebuilt from the config saved in the checkpoint, so sampling needs nothing
    else; the EMA generator is restored when the run had one. The GAN is in eval mode. Loaded
    from a checkpoint, its :attr:`~multigan.GAN.provenance` says which (:func:`run_provenance`).
    """
    if is_pretrained(path):
        return from_pretrained(path, device)
    if is_exported(path):
        return load_exported(path, device)
    checkpoint = resolve_checkpoint(path)
    state = load_state(checkpoint)
    gan = gan_from_state(state, device, source=checkpoint)
    gan.provenance = run_provenance(checkpoint, state, gan)
    return gan


def run_provenance(checkpoint: Path, state: dict[str, Any], gan: "GAN") -> dict[str, Any]:
    """Where the GAN loaded from ``checkpoint`` (whose contents are ``state``) comes from, as
    its model card tells it: ``run`` (the run folder, when the checkpoint is in one's
    ``checkpoints/``; else None), ``checkpoint``, ``step``, ``data`` (the data it trained on,
    the built-in default named), ``train`` (the training settings) and ``eval`` (the run's
    ``eval.json`` when it scored this very checkpoint, else None)."""
    from .registry import get_modality

    run = checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else None
    train = state.get("train") if isinstance(state.get("train"), dict) else {}
    data = train.get("data")
    return {"run": None if run is None else str(run), "checkpoint": str(checkpoint), "step": state.get("step"),
            "data": str(data) if data is not None else get_modality(gan.modality).default_source(gan),
            "train": train, "eval": None if run is None else _run_eval(run, checkpoint, gan.name)}


def _run_eval(run: Path, checkpoint: Path, name: str) -> dict[str, Any] | None:
    """The run's eval.json when it scored ``checkpoint``: ``multigan eval RUN`` scores
    ``last.pt``, so only when ``checkpoint`` is that file and eval.json is not older. None
    otherwise, and when it is unreadable (it only ever informs a model card)."""
    path, last = run / "eval.json", checkpoint_dir(run) / "last.pt"
    try:
        if not (last.is_file() and os.path.samefile(checkpoint, last)):
            return None
        if path.stat().st_mtime < checkpoint.stat().st_mtime:   # an evaluation of an earlier last.pt
            return None
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return metrics if isinstance(metrics, dict) and metrics.get("name") == name else None


def build_saved(name: str, config: dict[str, Any], where: str) -> "GAN":
    """``build(name, **config)`` for a family named by a saved run, checkpoint or export; the
    errors say that the file, not the user's call, names it."""
    from .registry import build

    try:
        return build(name, **config)
    except UnknownModelError as exc:
        raise UnknownModelError(f"{where} was written by model {name!r}, which is not registered here: "
                                f"is the plugin package that provides {name!r} installed? ({exc})") from exc
    except MultiganError as exc:
        raise DataError(f"{where} says it holds a {name!r} model, but its config does not fit that family: "
                        f"{exc}") from exc


def gan_from_state(state: dict[str, Any], device: str | torch.device = "cpu",
                   source: str | os.PathLike | None = None) -> "GAN":
    """The GAN a loaded checkpoint describes (see :func:`load_gan`); ``source`` (the file)
    names it in errors.

    Raises :class:`UnknownModelError` when the checkpoint's family is not registered here (a
    plugin that is not installed), and :class:`DataError` when its config or weights do not
    fit that family (a checkpoint edited, or mixed from two runs).
    """
    where = "the checkpoint" if source is None else f"checkpoint {str(source)!r}"
    missing = [k for k in ("name", "config", "generator", "discriminator") if k not in state]
    if missing or not isinstance(state["config"], dict):
        what = f"lacks {', '.join(map(repr, missing))}" if missing else "has a config that is not a dict"
        raise DataError(f"{where} {what}: it is not a complete multigan checkpoint")
    name = state["name"]
    config, train = split_legacy_config(state["config"], state.get("train"))
    gan = build_saved(name, config, where)
    networks = [("generator", gan.generator), ("discriminator", gan.discriminator)]
    if state.get("generator_ema") is not None:
        networks.append(("generator_ema", gan.add_ema()))
    for key, module in networks:
        try:
            module.load_state_dict(state[key])
        except (MultiganError, RuntimeError, KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{where}: its {key} state does not fit the {name!r} model its config describes "
                            f"({_first_lines(exc)})") from exc
    gan.load_artifacts({k: bytes(v.numpy().tobytes()) for k, v in (state.get("artifacts") or {}).items()})
    try:
        gan.use_kernels(train.get("kernels", "auto"))
    except ConfigError as exc:
        raise DataError(f"{where}: {exc}") from exc
    return gan.place(device).eval()


def load_exported(path: str | os.PathLike, device: str | torch.device = "cpu") -> "GAN":
    """The GAN an exported file describes, its generator loaded, in eval mode (see the module
    docstring). Raises :class:`DataError` naming the file when it is missing, damaged or not a
    multigan export."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"exported generator {str(path)!r} does not exist")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise DataError(f"exported generator {str(path)!r} is damaged or not a safetensors file: {exc}") from exc
    if metadata.get("format") != EXPORT_FORMAT:
        raise DataError(f"{str(path)!r} is a safetensors file but not a multigan generator export "
                        "(no 'format: multigan-generator' in its metadata)")
    where = f"exported generator {str(path)!r}"
    try:
        name = metadata["name"]
        config, train = split_legacy_config(json.loads(metadata["config"]), {"kernels": metadata.get("kernels")}
                                            if "kernels" in metadata else None)
        state = unflatten_state(tensors, metadata)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{where}: its metadata is damaged ({type(exc).__name__}: {exc})") from exc
    gan = gan_from_generator(name, config, train.get("kernels", "auto"), state, where)
    return gan.place(device).eval()


def from_pretrained(directory: str | os.PathLike, device: str | torch.device = "cpu") -> "GAN":
    """The GAN a pretrained folder (``gan.save_pretrained(DIR)``, ``multigan export RUN --format
    hf``; see :mod:`multigan.pretrained`) holds: its generator loaded, its artifacts (a text
    family's tokenizer) and :attr:`~multigan.GAN.provenance` restored, in eval mode, on
    ``device``; when they are an EMA generator's, both ``generator`` and ``generator_ema`` hold
    them. Reads the folder's files and nothing else (no network). Raises
    :class:`DataError` naming the file when the folder is not a whole pretrained folder."""
    record, state, artifacts = read_pretrained(directory)
    where = f"pretrained model {str(directory)!r}"
    gan = gan_from_generator(record["name"], record["config"], record["kernels"], state, where)
    if record["weights"] == "generator_ema":
        gan.add_ema()   # the saved weights are an EMA generator's: the GAN says so when saved again
    try:
        gan.load_artifacts(artifacts)
    except (MultiganError, RuntimeError, ValueError) as exc:
        raise DataError(f"{where}: its files {', '.join(sorted(artifacts))} do not load: {exc}") from exc
    gan.provenance = record["provenance"]
    return gan.place(device).eval()


def gan_from_generator(name: str, config: dict[str, Any], kernels: str, state: dict[str, Any], where: str) -> "GAN":
    """The family ``name`` built with ``config``, ``state`` loaded into its generator (an export's
    or a pretrained folder's weights) and computing with ``kernels``; its discriminator is
    freshly initialised. ``where`` names the file in a :class:`DataError` when they do not fit."""
    gan = build_saved(name, config, where)
    try:
        gan.generator.load_state_dict(state)
        gan.use_kernels(kernels)
    except (MultiganError, RuntimeError, KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{where} does not fit the {name!r} model it describes ({_first_lines(exc)})") from exc
    return gan


def _first_lines(exc: Exception) -> str:
    """The first three lines of ``exc``'s message as one (``load_state_dict`` lists every
    mismatched tensor on a line of its own)."""
    return " ".join(line.strip() for line in str(exc).strip().splitlines()[:3])
