"""``multigan serve``: trained generators over HTTP, with dynamic batching, limits and
Prometheus metrics (docs/serving.md). Needs the ``serve`` extra: ``pip install "multigan[serve]"``.

- :mod:`.settings`: the limits and batching settings;
- :mod:`.models`: loading the models a server holds, and naming them;
- :mod:`.batching`: coalescing concurrent requests into one forward pass;
- :mod:`.metrics`: the Prometheus metrics;
- :mod:`.app`: the FastAPI endpoints.
"""

from __future__ import annotations

import socket
import sys
from typing import Callable

from ..errors import ConfigError
from .settings import ServeSettings

__all__ = ["ServeSettings", "serve"]


def serve(specs: list[str], host: str = "127.0.0.1", port: int = 8000, settings: ServeSettings | None = None,
          device: str = "cpu", announce: Callable[[str], None] | None = None) -> None:
    """Serve the models ``specs`` name (``[NAME=]PATH``: run folders, pretrained folders or
    safetensors exports) at ``http://host:port`` until SIGINT or SIGTERM, which drain the
    requests in flight and then return. Port 0 picks a free port; ``announce`` (default: a
    line on stderr) is told the address once the server listens.

    Raises :class:`ConfigError` when the serve extra is missing, a model cannot be served, or
    the address cannot be bound.
    """
    try:
        import uvicorn

        from .app import create_app
    except ImportError as exc:
        raise ConfigError(f"multigan serve needs the serve extra: pip install \"multigan[serve]\" ({exc})") from None
    from .models import load_models

    settings = settings or ServeSettings()
    say = announce or (lambda line: print(line, file=sys.stderr, flush=True))
    models = load_models(specs, device)
    app = create_app(models, settings)
    sock = bind(host, port)
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=int(settings.timeout) + 5)
    server = uvicorn.Server(config)
    bound_port = sock.getsockname()[1]
    import torch

    from ..precision import resolve_precision

    precision, reason, warning = resolve_precision(settings.precision, torch.device(device))
    if warning:
        say(f"multigan: warning: {warning}")
    say(f"multigan: precision {precision}" + (f" ({reason})" if reason else ""))
    say(f"multigan: serving {', '.join(sorted(models))} at http://{host}:{bound_port} "
        f"(API docs at http://{host}:{bound_port}/docs; Ctrl-C or SIGTERM to stop)")
    server.run(sockets=[sock])


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``; a :class:`ConfigError` saying why not."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except (OSError, OverflowError) as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc}") from None
    return sock
