"""Checkpoints: written atomically, loadable with ``weights_only=True``, complete enough that a
resumed run takes exactly the steps an uninterrupted one would have taken."""

from __future__ import annotations

import os
import pickle
import random
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Callable

import numpy as np
import torch

from ..errors import DataError, MultiganError, UnknownModelError

if TYPE_CHECKING:
    from ..gan import GAN

FORMAT = "multigan-checkpoint"
VERSION = 1


def checkpoint_dir(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / "checkpoints"


def _write_atomic(path: Path, write: Callable[[BinaryIO], Any]) -> Path:
    """``write`` into a temporary file in ``path``'s folder, fsync, then rename over ``path``:
    a crash at any moment leaves either the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)
    return path


def save_atomic(state: dict[str, Any], path: Path) -> None:
    """``torch.save`` ``state`` to ``path`` atomically (see :func:`write_bytes_atomic`)."""
    _write_atomic(path, lambda f: torch.save(state, f))


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file, fsync and rename: a crash leaves the
    old file or the new one, never half of one."""
    return _write_atomic(Path(path), lambda f: f.write(data))


def link_atomic(src: Path, dst: Path) -> None:
    """Make ``dst`` the same file as ``src`` (a hard link, or a copy where links are not
    supported), replacing ``dst`` atomically."""
    tmp = dst.with_name(f".{dst.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        tmp.write_bytes(src.read_bytes())
    os.replace(tmp, dst)
    _fsync_dir(dst.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # not every platform can open a folder
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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


def rng_state() -> dict[str, Any]:
    """Every random state training draws from: Python, NumPy, torch CPU and CUDA."""
    py = random.getstate()
    np_state = np.random.get_state()
    state = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` saved."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def load_gan(path: str | os.PathLike, device: str | torch.device = "cpu") -> "GAN":
    """A trained GAN from a run folder (its ``checkpoints/last.pt``), a checkpoint file, or a
    generator exported by ``multigan export`` (``.safetensors``: the generator only).

    The family is rebuilt from the config saved in the checkpoint, so sampling needs nothing
    else; the EMA generator is restored when the run had one. The GAN is in eval mode.
    """
    from ..export import is_exported, load_exported

    if is_exported(path):
        return load_exported(path, device)
    path = resolve_checkpoint(path)
    return gan_from_state(load_state(path), device, source=path)


def gan_from_state(state: dict[str, Any], device: str | torch.device = "cpu",
                   source: str | os.PathLike | None = None) -> "GAN":
    """The GAN a loaded checkpoint describes (see :func:`load_gan`); ``source`` (the file)
    names it in errors.

    Raises :class:`UnknownModelError` when the checkpoint's family is not registered here (a
    plugin that is not installed), and :class:`DataError` when its config or weights do not
    fit that family (a checkpoint edited, or mixed from two runs).
    """
    from ..registry import build
    from .ema import make_ema

    where = "the checkpoint" if source is None else f"checkpoint {str(source)!r}"
    missing = [k for k in ("name", "config", "generator", "discriminator") if k not in state]
    if missing or not isinstance(state["config"], dict):
        what = f"lacks {', '.join(map(repr, missing))}" if missing else "has a config that is not a dict"
        raise DataError(f"{where} {what}: it is not a complete multigan checkpoint")
    name = state["name"]
    try:
        gan = build(name, **state["config"])
    except UnknownModelError as exc:
        raise UnknownModelError(f"{where} was written by model {name!r}, which is not registered here "
                                f"(is its plugin installed?): {exc}") from exc
    except MultiganError as exc:
        raise DataError(f"{where} says it holds a {name!r} model, but its config does not fit that family: "
                        f"{exc}") from exc
    networks = [("generator", gan.generator), ("discriminator", gan.discriminator)]
    if state.get("generator_ema") is not None:
        gan.generator_ema = make_ema(gan.generator)
        networks.append(("generator_ema", gan.generator_ema))
    for key, module in networks:
        try:
            module.load_state_dict(state[key])
        except (MultiganError, RuntimeError, KeyError, TypeError, ValueError) as exc:
            first = str(exc).strip().splitlines()
            detail = " ".join(line.strip() for line in first[:3])
            raise DataError(f"{where}: its {key} state does not fit the {name!r} model its config describes "
                            f"({detail})") from exc
    return gan.place(device).eval()
