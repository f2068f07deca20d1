"""The models a server holds: loaded from run folders, safetensors exports or pretrained
folders (never from a bare pickle-based checkpoint file), each under a URL-safe name."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import config_to_dict
from ..errors import ConfigError
from ..export import is_exported
from ..gan import GAN
from ..labels import class_names
from ..modality import Modality
from ..registry import get_modality
from ..runs import load_gan

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass
class ServedModel:
    """One model behind ``/v1/models/{name}``.

    Attributes:
        name: its name in URLs.
        gan: the loaded GAN, in eval mode.
        source: the folder or file it came from.
        modality: its modality (what encodes its samples).
        metrics: the ``eval.json`` found beside it, if any.
    """

    name: str
    gan: GAN
    source: Path
    modality: Modality
    metrics: dict[str, Any] | None = None
    labels: list[str] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        """What ``GET /v1/models`` says about the model."""
        gan = self.gan
        info = {"name": self.name, "family": gan.name, "modality": gan.modality, "source": str(self.source),
                "config": config_to_dict(gan.config), "media_type": self.modality.media[1] if self.modality.media else None,
                "condition": getattr(gan, "condition", "none"), "labels": self.labels, "metrics": self.metrics}
        if hasattr(gan, "sample_rate"):
            info["sample_rate"] = gan.sample_rate
        return info


def split_spec(spec: str) -> tuple[str | None, str]:
    """``"NAME=PATH"`` or ``"PATH"`` as ``(name or None, path)``."""
    name, sep, path = spec.partition("=")
    if sep and NAME.match(name) and not Path(spec).exists():
        return name, path
    return None, spec


def default_name(path: Path) -> str:
    """A folder's own name; an export's file stem, or its folder's name when the stem is the
    default ``generator``."""
    if path.is_dir():
        return path.resolve().name
    return path.resolve().parent.name if path.stem == "generator" else path.stem


def read_metrics(path: Path) -> dict[str, Any] | None:
    """The ``eval.json`` in a folder, or beside a file; None if absent or unreadable."""
    candidate = (path if path.is_dir() else path.parent) / "eval.json"
    try:
        return json.loads(candidate.read_text())
    except (OSError, ValueError):
        return None


def load_model(spec: str, device: str = "cpu") -> ServedModel:
    """Load ``spec`` (``[NAME=]PATH``: a run folder, a pretrained folder or a ``.safetensors``
    export). Raises :class:`ConfigError` for a name unfit for URLs or a path of another kind,
    and what :func:`multigan.load` raises for a damaged one."""
    name, raw = split_spec(spec)
    path = Path(raw)
    if not path.exists():
        raise ConfigError(f"{raw!r} does not exist: give a run folder, a pretrained folder or a .safetensors export")
    if not path.is_dir() and not is_exported(path):
        raise ConfigError(f"{raw!r}: a server loads run folders, pretrained folders and .safetensors exports only "
                          "(a checkpoint file is not served: give its run folder)")
    name = name or default_name(path)
    if not NAME.match(name):
        raise ConfigError(f"model name {name!r} is not URL-safe (letters, digits, '.', '_', '-'): "
                          f"give one as NAME={raw}")
    gan = load_gan(path, device=device)
    modality = get_modality(gan.modality)
    if modality.encode_example is None or modality.media is None:
        raise ConfigError(f"the {gan.modality} modality does not say how to encode its samples for a server "
                          "(Modality.encode_example and Modality.media)")
    try:
        labels = list(class_names(gan))
    except ConfigError:     # not class-conditional
        labels = []
    return ServedModel(name, gan, path, modality, read_metrics(path), labels)


def load_models(specs: list[str], device: str = "cpu") -> dict[str, ServedModel]:
    """:func:`load_model` for each spec, by name; two models under one name is a
    :class:`ConfigError` that says how to name them."""
    models: dict[str, ServedModel] = {}
    for spec in specs:
        model = load_model(spec, device)
        if model.name in models:
            raise ConfigError(f"two models are named {model.name!r} ({models[model.name].source} and {model.source}): "
                              f"name them, e.g. {model.name}-2={model.source}")
        models[model.name] = model
    return models
