"""Typed configs: a dataclass per family, overrides from keywords and from ``--set key=value``.

Every family's config subclasses :class:`GANConfig`, whose fields are what is trained and the
family's reference schedule (optimisers, critic steps, batch size, schedule length, clipping,
EMA); how a run computes and where it writes are :class:`multigan.TrainSettings`. Fields are
declared with :func:`option`, which records what values are allowed so that a bad value is
reported with the key, the value and what would be accepted.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from typing import Any, Mapping

from .errors import ConfigError, did_you_mean

_MISSING = dataclasses.MISSING


def option(default: Any, doc: str = "", *, choices: typing.Sequence[Any] | None = None,
           low: float | None = None, high: float | None = None, low_open: bool = False,
           high_open: bool = False) -> Any:
    """A config field: its default, a one-line description and the values it allows.

    ``low``/``high`` bound numbers (inclusive; ``low_open``/``high_open`` make a bound strict),
    and bound every element of a tuple. ``choices`` lists the allowed values. Numbers must be
    finite.
    """
    meta = {"doc": doc, "choices": tuple(choices) if choices else None,
            "low": low, "high": high, "low_open": low_open, "high_open": high_open}
    return dataclasses.field(default=default, metadata=meta)


@dataclass
class GANConfig:
    """Settings every family has. Subclasses change the defaults to their paper's values."""

    lr_g: float = option(2e-4, "generator learning rate (Adam)", low=0, low_open=True)
    lr_d: float = option(2e-4, "discriminator learning rate (Adam)", low=0, low_open=True)
    betas_g: tuple[float, float] = option((0.5, 0.999), "generator Adam betas", low=0, high=1, high_open=True)
    betas_d: tuple[float, float] = option((0.5, 0.999), "discriminator Adam betas", low=0, high=1, high_open=True)
    n_critic: int = option(1, "discriminator steps per generator step", low=1)
    batch_size: int = option(64, "default batch size", low=1)
    max_steps: int = option(1000, "default number of generator steps", low=1)
    grad_clip_g: float = option(0.0, "max gradient norm for G (0 disables clipping)", low=0)
    grad_clip_d: float = option(0.0, "max gradient norm for D (0 disables clipping)", low=0)
    ema_decay: float = option(0.0, "decay of the EMA copy of G (0 disables EMA)", low=0, high=0.99999)

    def validate(self) -> None:
        """Cross-field checks. Subclasses extend it and raise :class:`ConfigError`."""


def fields_of(config: type | GANConfig) -> dict[str, dataclasses.Field]:
    """The dataclass fields of a config class or instance, by name."""
    return {f.name: f for f in dataclasses.fields(config)}


def describe_fields(cls: type, prefix: str = "", defaults: Any = None) -> list[tuple[str, str, Any, str]]:
    """``(name, type, default, doc)`` of every field of config class ``cls``, nested config
    fields as dotted names (``mel.n_mels``), for ``multigan list --options``. ``defaults``: an
    instance whose values are the defaults (a nested field's default, which a family may set
    apart from its class's: HiFi-GAN's natural-log mel)."""
    hints = typing.get_type_hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        if defaults is not None:
            default = getattr(defaults, f.name)
        else:
            default = f.default if f.default is not _MISSING else f.default_factory()  # type: ignore[misc]
        if dataclasses.is_dataclass(hints[f.name]):
            rows += describe_fields(hints[f.name], prefix=f"{prefix}{f.name}.", defaults=default)
            continue
        doc = f.metadata.get("doc", "")
        choices = f.metadata.get("choices")
        if choices:
            doc += f" (one of {', '.join(map(str, choices))})"
        plain = list(default) if isinstance(default, tuple) else default
        rows.append((prefix + f.name, _type_name(hints[f.name]), plain, doc))
    return rows


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(_type_name(a) for a in args) + " or None"
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a comma-separated list of {_type_name(args[0])}"
        return f"{len(args)} comma-separated values ({', '.join(_type_name(a) for a in args)})"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(tp, str(tp))


def _coerce(key: str, value: Any, tp: Any) -> Any:
    """Convert ``value`` (a Python value or the text of ``--set``) to the field's type."""
    bad = ConfigError(f"config key {key!r}: got {value!r}, expected {_type_name(tp)}")
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null")):
            return None
        (inner,) = [a for a in typing.get_args(tp) if a is not type(None)]
        return _coerce(key, value, inner)
    if origin is tuple:
        args = typing.get_args(tp)
        if isinstance(value, str):
            text = value.strip().strip("()[]")
            value = [v.strip() for v in text.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise bad
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(key, v, args[0]) for v in value)
        if len(value) != len(args):
            raise bad
        return tuple(_coerce(key, v, a) for v, a in zip(value, args))
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on"):
            return True
        if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off"):
            return False
        raise bad
    if tp is int:
        if isinstance(value, bool):
            raise bad
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise bad from None
        raise bad
    if tp is float:
        if isinstance(value, bool):
            raise bad
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                raise bad from None
        raise bad
    if tp is str:
        if isinstance(value, str):
            return value
        raise bad
    return value


def _check_bounds(key: str, value: Any, meta: Mapping[str, Any]) -> None:
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        raise ConfigError(f"config key {key!r}: got {value!r}, allowed: {', '.join(map(repr, choices))}"
                          + did_you_mean(str(value), [str(c) for c in choices]))
    low, high = meta.get("low"), meta.get("high")
    low_open, high_open = meta.get("low_open"), meta.get("high_open")
    for v in (value if isinstance(value, tuple) else (value,)):
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            continue
        if not math.isfinite(v):
            raise ConfigError(f"config key {key!r}: got {value!r}, allowed: a finite number")
        too_low = low is not None and (v <= low if low_open else v < low)
        too_high = high is not None and (v >= high if high_open else v > high)
        if too_low or too_high:
            lo = "" if low is None else (f"> {low}" if low_open else f">= {low}")
            hi = "" if high is None else (f"< {high}" if high_open else f"<= {high}")
            raise ConfigError(f"config key {key!r}: got {value!r}, allowed: a value "
                              + " and ".join(s for s in (lo, hi) if s))


def make_config(cls: type, overrides: Mapping[str, Any] | None = None, prefix: str = "") -> Any:
    """An instance of ``cls`` with ``overrides`` applied, converted and validated.

    Unknown keys raise :class:`ConfigError` naming the key, close matches and the valid keys.
    Values may be Python values or strings (as given to ``--set``); both are converted to the
    field's declared type. A field whose type is itself a (frozen) config dataclass, such as
    MelGAN's ``mel``, takes a dict, an instance, or dotted keys (``mel.n_mels=64``).
    """
    fields = fields_of(cls)
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in (overrides or {}).items():
        head, dot, rest = key.partition(".")
        if head not in fields or (dot and not dataclasses.is_dataclass(hints[head])):
            raise ConfigError(f"unknown config key {prefix + key!r} for {cls.__name__}." + did_you_mean(key, fields)
                              + f" Valid keys: {', '.join(prefix + k for k in sorted(fields))}")
        if dataclasses.is_dataclass(hints[head]):
            if dot:
                nested.setdefault(head, {})[rest] = value
            elif isinstance(value, hints[head]):
                nested.setdefault(head, {}).update(dataclasses.asdict(value))
            elif isinstance(value, Mapping):
                nested.setdefault(head, {}).update(value)
            else:
                raise ConfigError(f"config key {prefix + head!r}: got {value!r}, expected a dict of "
                                  f"{hints[head].__name__} fields or dotted keys like {head}.<field>=...")
            continue
        value = _coerce(prefix + key, value, hints[key])
        _check_bounds(prefix + key, value, fields[key].metadata)
        values[key] = value
    for head, sub in nested.items():
        values[head] = make_config(hints[head], sub, prefix=f"{prefix}{head}.")
    config = cls(**values)
    for key, f in fields.items():  # defaults are checked too, so a subclass cannot ship a bad one
        if key not in values and not dataclasses.is_dataclass(hints[key]):
            _check_bounds(prefix + key, getattr(config, key), f.metadata)
    if hasattr(config, "validate"):
        config.validate()
    return config


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON-able dict of the config (tuples become lists, nested configs dicts)."""
    def plain(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return [plain(x) for x in v] if isinstance(v, (tuple, list)) else v
    return plain(dataclasses.asdict(config))


def parse_set_options(items: typing.Iterable[str]) -> dict[str, str]:
    """Parse CLI ``--set key=value`` items into a dict of strings (converted later by type)."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {item!r}")
        out[key.strip()] = value
    return out
