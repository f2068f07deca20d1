"""The errors multigan raises. Each names the problem so that it can be fixed without a debugger."""

from __future__ import annotations

import difflib
import warnings
from typing import Iterable


class MultiganError(Exception):
    """Base class of every error multigan raises on purpose."""


class UnknownModelError(MultiganError, KeyError):
    """A model (or modality, or dataset) name that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ConfigError(MultiganError, ValueError):
    """An unknown config key, or a value that is not allowed."""


class DataError(MultiganError, ValueError):
    """Missing, empty, corrupt or mis-shaped data. The message names the file or folder."""


class TrainingError(MultiganError, RuntimeError):
    """Training cannot go on (a non-finite loss, divergence). The last good checkpoint is kept."""


def close_matches(word: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Candidates that look like ``word`` (for "did you mean" messages)."""
    return difflib.get_close_matches(word, list(candidates), n=n, cutoff=0.5)


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` or an empty string when nothing is close."""
    matches = close_matches(word, candidates)
    if not matches:
        return ""
    return " Did you mean " + " or ".join(repr(m) for m in matches) + "?"


class MultiganWarning(UserWarning):
    """Something the user should know that does not stop the work (a skipped file, a plugin
    that failed to load, a slow precision). Shown as one plain line: ``multigan: warning: ...``."""


def warn(message: str) -> None:
    """Issue a :class:`MultiganWarning` (filterable with the ``warnings`` module as usual)."""
    warnings.warn(message, MultiganWarning, stacklevel=2)


def _format_warning(message, category, filename, lineno, line=None) -> str:
    if issubclass(category, MultiganWarning):  # the user's concern, not a place in multigan's source
        return f"multigan: warning: {message}\n"
    return _python_format_warning(message, category, filename, lineno, line)


_python_format_warning = warnings.formatwarning
warnings.formatwarning = _format_warning
