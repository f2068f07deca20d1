"""Load test of ``multigan serve``: dynamic batching against one request at a time.

    python benchmarks/serve.py                        # DCGAN (reference config), 64 clients x 20 requests of n=1
    python benchmarks/serve.py --clients 16 --requests 5 --no-save    # quicker, not kept

One model (an untrained generator of ``--model``'s reference config, exported to a temporary
safetensors file: throughput does not depend on the weights) is served twice by ``multigan
serve`` in a child process: with ``--max-batch 1 --max-wait-ms 0`` (every request its own forward
pass) and with ``--max-batch B --max-wait-ms W`` (concurrent requests coalesced), each at every
``--precision`` (default ``32`` and ``auto``, which is bf16 on a CPU with native bf16: it speeds
up big batches and can slow batch 1, so the speed-up compares each side at its best). The same load
(``multigan.serve.load.run_load``: concurrent httpx clients on the loopback address, each
bounded in requests and seconds) hits each, and the script prints and keeps (in
``results/DATE-serve-MODEL.json`` and ``.md``) requests/s, p50 and p99 latency, errors and lost
requests, and the batching speed-up. The clients run on the same CPU as the server, in one
process and in two (``--processes``): a client costs about as much CPU per request as the
server, so on a 2-core machine one client process can be what limits the rate.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import tempfile
from pathlib import Path

import torch

import multigan
from multigan.bench import machine, machine_fields
from multigan.export import export_generator
from multigan.serve.load import cpu_seconds, run_load, server_process

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="dcgan", help="family to serve (default: dcgan)")
    parser.add_argument("--clients", type=int, default=64, help="concurrent clients (default: 64)")
    parser.add_argument("--requests", type=int, default=20, help="requests per client (default: 20)")
    parser.add_argument("--seconds", type=float, default=120, help="each load's time bound (default: 120)")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2],
                        help="run the clients in each of these numbers of processes (default: 1 2)")
    parser.add_argument("--n", type=int, default=1, help="samples per request (default: 1)")
    parser.add_argument("--max-batch", type=int, default=64, help="the batching server's --max-batch (default: 64)")
    parser.add_argument("--max-wait-ms", type=float, default=5, help="the batching server's --max-wait-ms (default: 5)")
    parser.add_argument("--precision", nargs="+", default=["32", "auto"],
                        help="serve at each of these precisions (default: 32 auto)")
    parser.add_argument("--no-save", action="store_true", help="print only; keep nothing in results/")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        export = export_generator(multigan.build(args.model), Path(tmp) / f"{args.model}.safetensors")
        one = ["--max-batch", "1", "--max-wait-ms", "0"]
        batching = ["--max-batch", str(args.max_batch), "--max-wait-ms", str(args.max_wait_ms)]
        for label, options in [(label, [*opts, "--precision", p]) for label, opts in
                               (("one at a time", one), ("dynamic batching", batching)) for p in args.precision]:
            with server_process([str(export)], *options, "--max-n", str(max(args.n, 1))) as (proc, url):
                run_load(url, args.model, clients=4, requests=2, seconds=30, body={"n": args.n})   # warm-up
                for processes in args.processes:
                    before = cpu_seconds(proc.pid)
                    result = run_load(url, args.model, clients=args.clients, requests=args.requests,
                                      seconds=args.seconds, body={"n": args.n}, processes=processes)
                    after = cpu_seconds(proc.pid)
                    server_cpu = None if before is None else round(1000 * (after - before) / max(result["sent"], 1), 3)
                    rows.append({"server": label, "options": " ".join(options), **result,
                                 "server_cpu_ms_per_req": server_cpu})
                    print(json.dumps(rows[-1]), file=sys.stderr)
    # each side at its best precision: bf16 helps big batches but slows batch 1 on some CPUs
    best = {label: max(r["req_per_s"] for r in rows if r["server"] == label)
            for label in ("one at a time", "dynamic batching")}
    speedup = best["dynamic batching"] / best["one at a time"]
    table = format_rows(rows, speedup)
    print(table)
    if args.no_save:
        return
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / f"{datetime.date.today()}-serve-{args.model}"
    command = "python " + " ".join(["benchmarks/serve.py", *sys.argv[1:]])
    meta = {"command": command, "model": args.model, "n": args.n, "machine": machine(), **machine_fields(),
            "torch": torch.__version__, "python": platform.python_version(), "speedup": round(speedup, 2)}
    stem.with_suffix(".json").write_text(json.dumps({**meta, "rows": rows}, indent=1) + "\n")
    stem.with_suffix(".md").write_text(
        f"# multigan serve load test, {args.model}\n\n`{command}`\n\n{meta['machine']}; torch {meta['torch']}, "
        f"Python {meta['python']}; {datetime.date.today()}\n\n{table}\n")
    print(f"kept {stem}.json and .md", file=sys.stderr)


def format_rows(rows: list[dict], speedup: float) -> str:
    """A Markdown table of the load results, and the speed-up line."""
    lines = ["| server | options | clients (processes) | sent | ok | 4xx | 5xx | lost | req/s | p50 ms | p99 ms "
             "| CPU ms/request: server | clients |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['server']} | `{r['options']}` | {r['clients']} ({r['processes']}) | {r['sent']} | {r['ok']} | "
                     f"{r['client_errors']} | {r['server_errors']} | {r['lost']} | {r['req_per_s']:.1f} | "
                     f"{r['p50_ms']:.0f} | {r['p99_ms']:.0f} | {r['server_cpu_ms_per_req']} | {r['client_cpu_ms_per_req']} |")
    return "\n".join(lines) + (f"\n\ndynamic batching: {speedup:.2f}x the requests/s of one at a time "
                                "(each at its best precision and client processes)\n")


if __name__ == "__main__":
    main()
