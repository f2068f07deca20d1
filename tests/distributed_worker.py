"""One process of a multi-process test run, started by torchrun from tests/test_distributed.py.

    torchrun --standalone --nproc_per_node 2 tests/distributed_worker.py SPEC.json

SPEC holds the family, its config, the trainer's settings and a folder where every rank saves
its final state_dict (``rank-R.pt``) and the number of items it loaded per batch, so the test
can compare ranks with each other and with a one-process run, and the names of the process
group's threads still running after ``fit`` (none: the group was really shut down).
"""

import json
import os
import sys
from pathlib import Path

import torch

import multigan


def gloo_threads() -> list[str] | None:
    """Names of this process's gloo threads (None where /proc cannot tell)."""
    tasks = Path("/proc/self/task")
    if not tasks.is_dir():
        return None
    names = []
    for task in tasks.iterdir():
        try:
            names.append((task / "comm").read_text().strip())
        except OSError:  # the thread ended while we looked
            pass
    return sorted(n for n in names if "gloo" in n)


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    torch.manual_seed(spec.get("build_seed", 0) + int(os.environ.get("RANK", "0")))  # ranks build differently:
    gan = multigan.build(spec["name"], **spec["config"])                            # the trainer must align them
    trainer = multigan.Trainer(gan, out_dir=spec["out_dir"], progress=False, **spec["train"])
    trainer.fit()
    dump = Path(spec["dump"])
    dump.mkdir(parents=True, exist_ok=True)
    rank = int(os.environ.get("RANK", "0"))
    state = {k: v for k, v in gan.state_dict().items() if isinstance(v, torch.Tensor)}
    torch.save({"state": state, "local_batch": trainer.stream.batch_size // trainer.stream.world_size,
                "world_size": trainer.stream.world_size, "stopped_by": trainer.stopped_by,
                "gloo_threads_after_fit": gloo_threads()},
               dump / f"rank-{rank}.pt")


if __name__ == "__main__":
    main()
