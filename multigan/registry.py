"""Models and modalities by name, and discovery of third-party plugins.

A family registers a factory with :func:`register_model`; a modality registers its data
sources, sample writer and metrics with :func:`register_modality`. Built-in modalities and the
entry-point group ``multigan.plugins`` are imported on first use of the registry.
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.metadata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from .errors import MultiganError, UnknownModelError, did_you_mean, warn

if TYPE_CHECKING:
    from .gan import GAN
    from .modality import Modality

PLUGIN_GROUP = "multigan.plugins"
_BUILTIN_MODULES = ("multigan.modalities.image", "multigan.modalities.audio", "multigan.modalities.text")


@dataclass(frozen=True)
class ModelEntry:
    """A registered family: its name, modality, factory ``(**overrides) -> GAN`` and config
    class (the dataclass the overrides are fields of; None when the plugin did not say)."""

    name: str
    modality: str
    factory: Callable[..., "GAN"]
    config: type | None = None


_models: dict[str, ModelEntry] = {}
_modalities: dict[str, "Modality"] = {}
_loaded = False


def register_model(name: str, *, modality: str, config: type | None = None
                   ) -> Callable[[Callable[..., "GAN"]], Callable[..., "GAN"]]:
    """Decorator registering a family factory under ``name`` for ``modality``; ``config`` is
    its config dataclass (``multigan list --options NAME`` prints its fields, and the CLI applies
    what the data dictates before building).

    >>> @register_model("mygan", modality="image", config=MyGANConfig)
    ... def mygan(**overrides) -> GAN:
    ...     return MyGAN(make_config(MyGANConfig, overrides))
    """
    def decorator(factory: Callable[..., "GAN"]) -> Callable[..., "GAN"]:
        if name in _models and _models[name].factory is not factory:
            raise MultiganError(f"model {name!r} is already registered by {_models[name].factory.__module__}")
        _models[name] = ModelEntry(name, modality, factory, config)
        return factory
    return decorator


def register_modality(modality: "Modality") -> "Modality":
    """Register a :class:`~multigan.modality.Modality` (its data, sample writer and metrics)."""
    if modality.name in _modalities and _modalities[modality.name] is not modality:
        raise MultiganError(f"modality {modality.name!r} is already registered")
    _modalities[modality.name] = modality
    return modality


def load_plugins(force: bool = False) -> None:
    """Import the built-in modalities and every ``multigan.plugins`` entry point (once).

    A plugin that fails to import is reported with a warning and skipped, so one broken
    package does not take the whole library down.
    """
    global _loaded
    if _loaded and not force:
        return
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)
    _loaded = True
    importlib.invalidate_caches()
    for ep in importlib.metadata.entry_points(group=PLUGIN_GROUP):
        try:
            ep.load()
        except Exception as exc:  # a broken third-party plugin must not break multigan
            warn(f"plugin {ep.name!r} ({ep.value}) failed to load and is skipped: {exc!r}")


def list_models(pattern: str | None = None, modality: str | None = None) -> list[str]:
    """Sorted names of the registered families, optionally those matching a shell-style
    ``pattern`` (``"*gan*"``, ``"mel*"``) and of one ``modality``."""
    load_plugins()
    if modality is not None:
        get_modality(modality)  # raises for an unknown modality
    return sorted(n for n, e in _models.items() if (modality is None or e.modality == modality)
                  and (pattern is None or fnmatch.fnmatchcase(n, pattern)))


def model_entry(name: str) -> ModelEntry:
    """The registry entry of ``name``; :class:`UnknownModelError` with close matches otherwise."""
    load_plugins()
    if name not in _models:
        raise UnknownModelError(f"unknown model {name!r}.{did_you_mean(name, _models)} If {name!r} comes from a "
                                f"plugin package, install it (plugins register through the entry-point group "
                                f"{PLUGIN_GROUP!r}). Registered models: {', '.join(sorted(_models)) or 'none'}")
    return _models[name]


def get_modality(name: str) -> "Modality":
    """The registered modality ``name``; :class:`UnknownModelError` with close matches otherwise."""
    load_plugins()
    if name not in _modalities:
        raise UnknownModelError(f"unknown modality {name!r}." + did_you_mean(name, _modalities)
                                + f" Registered modalities: {', '.join(sorted(_modalities))}")
    return _modalities[name]


def build(name: str, **overrides: Any) -> "GAN":
    """Build family ``name`` with its reference defaults, changed by keyword ``overrides``."""
    from .gan import GAN

    entry = model_entry(name)
    gan = entry.factory(**overrides)
    if not isinstance(gan, GAN):
        raise MultiganError(f"the factory of {name!r} returned {type(gan).__name__}, not a multigan.GAN")
    gan.name, gan.modality = entry.name, entry.modality
    return gan


#: config hints that make sense for a class-conditional family only
CLASS_HINTS = ("num_classes", "label_names")


def with_data_hints(name: str, overrides: dict[str, Any], data: Any) -> dict[str, Any]:
    """``overrides`` for family ``name``, plus the config fields its modality says the data
    dictates (:attr:`Modality.config_hints`: digits are 32x32 and one channel; a folder of class
    subfolders has those classes) where the family has the field, ``overrides`` do not set it
    and its default differs. The classes are given only to a family that is class-conditional
    with these overrides (``num_classes`` above 0): an unconditional one stays so on labelled data."""
    from .config import config_to_dict, make_config

    entry = model_entry(name)
    if entry.config is None:
        return dict(overrides)
    hints = get_modality(entry.modality).config_hints(data)
    defaults = config_to_dict(make_config(entry.config, overrides))
    if not defaults.get("num_classes"):
        hints = {k: v for k, v in hints.items() if k not in CLASS_HINTS}
    return {**overrides, **{k: v for k, v in hints.items() if k in defaults and k not in overrides and defaults[k] != v}}
