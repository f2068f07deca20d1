"""A load test for ``multigan serve``: concurrent clients on the loopback address, each bounded
in requests and time, and a server started in a child process for the duration
(``benchmarks/serve.py`` and the tests use both)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Any, Iterator

import httpx

from ..errors import ConfigError

LOOPBACK = ("127.0.0.1", "localhost", "::1")
ANNOUNCE = re.compile(r"at (http://\S+?) ")


@contextmanager
def server_process(specs: list[str], *options: str, env: dict[str, str] | None = None,
                   startup_timeout: float = 120.0) -> Iterator[tuple[subprocess.Popen, str]]:
    """``multigan serve SPECS --port 0 OPTIONS`` in a child process: yields ``(process, url)``
    once it listens, and stops it (SIGTERM, then SIGKILL after 30 s) on exit."""
    cmd = [sys.executable, "-m", "multigan", "serve", *specs, "--port", "0", *options]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    try:
        url, deadline, seen = None, time.monotonic() + startup_timeout, []
        while url is None:
            line = proc.stderr.readline()
            if not line:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"multigan serve did not start ({proc.poll()}): {''.join(seen)[-2000:]}")
                continue
            seen.append(line)
            match = ANNOUNCE.search(line)
            url = match.group(1) if match else None
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.stderr.close()


def percentile(values: list[float], q: float) -> float:
    """The ``q``-quantile (0..1) of ``values`` by the nearest rank; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def _client(url: str, path: str, body: dict[str, Any], requests: int, deadline: float,
                  record: list[tuple[int, float]]) -> None:
    # a client of its own per simulated user (one keep-alive connection each): one shared
    # client with a 64-connection pool costs the load generator ~3x more CPU per request here
    async with httpx.AsyncClient(base_url=url, timeout=max(deadline - time.monotonic(), 1.0)) as client:
        for _ in range(requests):
            if time.monotonic() > deadline:
                return
            start = time.monotonic()
            try:
                response = await client.post(path, json=body)
                status = response.status_code
            except httpx.HTTPError:
                status = 0     # no answer: a lost request
            record.append((status, time.monotonic() - start))


def run_load(url: str, model: str, *, clients: int = 64, requests: int = 20, seconds: float = 60.0,
             body: dict[str, Any] | None = None) -> dict[str, Any]:
    """``clients`` concurrent clients each POST ``body`` (default ``{"n": 1}``) to ``model``'s
    generate endpoint ``requests`` times, one after another, stopping at ``seconds``.

    Returns the counts (``sent``, ``ok``, ``client_errors``, ``server_errors``, ``lost``: no
    answer), ``seconds`` of wall time, ``req_per_s`` (answered with 200, per second) and the
    latencies ``p50_ms`` and ``p99_ms`` of the answered requests. Only loopback URLs are
    accepted: this is a test, not a tool to load someone else's server.
    """
    if httpx.URL(url).host not in LOOPBACK:
        raise ConfigError(f"{url}: the load test only talks to this machine's loopback address")
    record: list[tuple[int, float]] = []

    async def main() -> float:
        start = time.monotonic()
        await asyncio.gather(*(_client(url, f"/v1/models/{model}/generate", body or {"n": 1}, requests,
                                       start + seconds, record) for _ in range(clients)))
        return time.monotonic() - start

    wall = asyncio.run(main())
    latencies = [t for status, t in record if status == 200]
    return {"clients": clients, "sent": len(record), "ok": len(latencies),
            "client_errors": sum(400 <= s < 500 for s, _ in record), "server_errors": sum(s >= 500 for s, _ in record),
            "lost": sum(s == 0 for s, _ in record), "seconds": round(wall, 3),
            "req_per_s": round(len(latencies) / wall, 2) if wall > 0 else float("nan"),
            "p50_ms": round(1000 * percentile(latencies, 0.5), 2), "p99_ms": round(1000 * percentile(latencies, 0.99), 2)}
