"""A load test for ``multigan serve``: concurrent clients on the loopback address, each bounded
in requests and time, and a server started in a child process for the duration
(``benchmarks/serve.py`` and the tests use both)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
import ssl
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


def cpu_seconds(pid: int) -> float | None:
    """CPU seconds (user + system) process ``pid`` has used so far; None where ``/proc`` does
    not tell (not Linux)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    """The ``q``-quantile (0..1) of ``values`` by the nearest rank; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def _client(client: httpx.AsyncClient, path: str, body: dict[str, Any], requests: int, deadline: float,
                  record: list[tuple[int, float]]) -> None:
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


def _measure(url: str, path: str, body: dict[str, Any], clients: int, requests: int,
             seconds: float) -> tuple[list[tuple[int, float]], float, float, float]:
    """``(status, seconds)`` of every request ``clients`` concurrent clients made (one process),
    when they started and ended (``time.time()``, comparable across processes), and the CPU
    seconds this process spent meanwhile."""
    record: list[tuple[int, float]] = []
    times: list[float] = []

    async def main() -> None:
        # One client per simulated user (one keep-alive connection each; a shared client with a
        # 64-connection pool costs ~3x more CPU per request here), made before the clock starts
        # and sharing one TLS context: each client would otherwise load the CA bundle (~20 ms).
        tls = ssl.create_default_context()
        users = [httpx.AsyncClient(base_url=url, timeout=seconds, verify=tls) for _ in range(clients)]
        try:
            times.extend([time.time(), time.process_time()])
            deadline = time.monotonic() + seconds
            await asyncio.gather(*(_client(user, path, body, requests, deadline, record) for user in users))
            times.extend([time.time(), time.process_time()])
        finally:
            await asyncio.gather(*(user.aclose() for user in users))

    asyncio.run(main())
    start, cpu_start, end, cpu_end = times
    return record, start, end, cpu_end - cpu_start


def run_load(url: str, model: str, *, clients: int = 64, requests: int = 20, seconds: float = 60.0,
             body: dict[str, Any] | None = None, processes: int = 1) -> dict[str, Any]:
    """``clients`` concurrent clients each POST ``body`` (default ``{"n": 1}``) to ``model``'s
    generate endpoint ``requests`` times, one after another, stopping at ``seconds``.

    The clients run in one process (an asyncio loop), or spread over ``processes`` processes:
    an httpx client costs about as much CPU per request as the server does, so one process of
    clients can be what limits the measured rate on a small machine.

    Returns the counts (``sent``, ``ok``, ``client_errors``, ``server_errors``, ``lost``: no
    answer), ``seconds`` of wall time, ``req_per_s`` (answered with 200, per second) and the
    latencies ``p50_ms`` and ``p99_ms`` of the answered requests, and the CPU time the clients
    spent per request (``client_cpu_ms_per_req``). Only loopback URLs are
    accepted: this is a test, not a tool to load someone else's server.
    """
    if httpx.URL(url).host not in LOOPBACK:
        raise ConfigError(f"{url}: the load test only talks to this machine's loopback address")
    if processes < 1 or clients < processes:
        raise ConfigError(f"{clients} clients over {processes} processes: give at least one client per process")
    args = (url, f"/v1/models/{model}/generate", body or {"n": 1})
    shares = [clients // processes + (i < clients % processes) for i in range(processes)]
    if processes == 1:
        parts = [_measure(*args, clients, requests, seconds)]
    else:   # the wall time spans the processes' own measurements, not their start-up
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            parts = pool.starmap(_measure, [(*args, share, requests, seconds) for share in shares])
    record = [r for part, *_ in parts for r in part]
    wall = max(end for _, _, end, _ in parts) - min(start for _, start, _, _ in parts)
    client_cpu = sum(cpu for *_, cpu in parts)
    latencies = [t for status, t in record if status == 200]
    return {"clients": clients, "processes": processes, "sent": len(record), "ok": len(latencies),
            "client_errors": sum(400 <= s < 500 for s, _ in record), "server_errors": sum(s >= 500 for s, _ in record),
            "lost": sum(s == 0 for s, _ in record), "seconds": round(wall, 3),
            "req_per_s": round(len(latencies) / wall, 2) if wall > 0 else float("nan"),
            "p50_ms": round(1000 * percentile(latencies, 0.5), 2), "p99_ms": round(1000 * percentile(latencies, 0.99), 2),
            "client_cpu_ms_per_req": round(1000 * client_cpu / max(len(record), 1), 3)}
