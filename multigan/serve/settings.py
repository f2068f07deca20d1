"""What a server accepts and how it batches: :class:`ServeSettings`, one place for the
defaults, the command-line flags and their help."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from ..errors import ConfigError
from ..precision import check_precision


def _setting(default: float | str, doc: str):
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class ServeSettings:
    """Limits and batching of ``multigan serve``; each field is the flag of the same name
    (``max_batch``: ``--max-batch``) and its ``metadata["doc"]`` the flag's help."""

    max_batch: int = _setting(64, "samples in one forward pass: concurrent requests are coalesced up to it")
    max_wait_ms: float = _setting(5.0, "milliseconds the first request of a batch waits for others to join it")
    max_n: int = _setting(64, "the most samples one request may ask for")
    max_body: int = _setting(10 * 2**20, "the largest request body in bytes, a WAV upload included")
    max_audio_seconds: float = _setting(30.0, "the longest WAV a vocoder takes, in seconds")
    timeout: float = _setting(30.0, "seconds a request may take, queueing included, before it is answered 408")
    precision: str = _setting("auto", "numeric precision of the forward passes: auto (bf16-mixed where the CPU or "
                                      "GPU runs bf16 natively, else 32), 32, bf16-mixed or 16-mixed (CUDA)")

    def __post_init__(self) -> None:
        check_precision(self.precision)
        for f in fields(self):
            if f.name == "precision":
                continue
            value, low = getattr(self, f.name), 0 if f.name == "max_wait_ms" else None
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (
                value >= 0 if low == 0 else value > 0)
            if not ok:
                raise ConfigError(f"--{f.name.replace('_', '-')} {value!r}: must be a number "
                                  f"{'>= 0' if low == 0 else '> 0'}")
