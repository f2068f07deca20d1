"""The ``multigan`` command line: list, train, sample, eval, bench."""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

import torch

from .config import fields_of, parse_set_options
from .errors import ConfigError, MultiganError
from .export import FORMATS, export_generator, is_exported
from .registry import build, get_modality, list_models, model_entry
from .train import Trainer, distributed, load_gan
from .train.checkpoint import gan_from_state, load_state, resolve_checkpoint
from .train.trainer import PRECISIONS

KERNELS = ("fused", "eager")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="multigan", description="Train GANs on images, audio and text.")
    sub = p.add_subparsers(dest="command", required=True)

    ls = sub.add_parser("list", help="list the registered model families")
    ls.add_argument("--modality", help="only this modality's families")

    tr = sub.add_parser("train", help="train a family and write a run folder")
    tr.add_argument("name", nargs="?", help="model family (see 'multigan list'); optional with --config")
    tr.add_argument("--config", help="a run's config.json: repeat that run (flags given here override it; "
                                     "--out to the run's own folder continues it)")
    tr.add_argument("--data", help="built-in dataset name or local path (default: the modality's built-in)")
    tr.add_argument("--steps", type=int, help="generator steps (default: the family's)")
    tr.add_argument("--batch-size", type=int, help="batch size (default: the family's)")
    tr.add_argument("--precision", choices=PRECISIONS, help="numeric precision (default: 32)")
    tr.add_argument("--kernels", choices=KERNELS, help="fused (default) or eager: plain PyTorch ops only")
    tr.add_argument("--out", help="run folder (default: runs/NAME); an existing run there is resumed")
    tr.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config field, e.g. --set lr_g=1e-4 (repeatable)")
    tr.add_argument("--seed", type=int, help="random seed (default: 0)")
    tr.add_argument("--device", help="auto, cpu, cuda, cuda:N (default: auto)")
    tr.add_argument("--sample-every", type=int, help="write samples every N steps (default: 500)")
    tr.add_argument("--checkpoint-every", type=int, help="checkpoint every N steps (default: 500)")
    tr.add_argument("--log-every", type=int, help="log metrics every N steps (default: 10)")
    tr.add_argument("--num-workers", type=int, help="data loader worker processes (default: 0)")
    tr.add_argument("--skip-bad-files", action="store_true", default=None,
                    help="skip unreadable data files with a warning instead of stopping")
    tr.add_argument("--no-progress", action="store_true", help="no progress bar")
    tr.add_argument("--nproc", type=int, help="train on N processes of this machine (launches torchrun)")
    tr.add_argument("--sync-batchnorm", action="store_true", default=None,
                    help="multi-process: BatchNorm statistics of the global batch")

    sa = sub.add_parser("sample", help="generate samples from a trained run")
    sa.add_argument("run", help="run folder or checkpoint file")
    sa.add_argument("--n", type=int, help="number of samples (default: 64; with --cond, one per file)")
    sa.add_argument("--out", help="output file (default: RUN/samples/sample-seedS.<ext>)")
    sa.add_argument("--seed", type=int, default=0)
    sa.add_argument("--cond", help="a file to condition on (MelGAN: a WAV to resynthesise through its mel)")
    sa.add_argument("--device", default="cpu")

    ev = sub.add_parser("eval", help="quality metrics of a trained run (last line: one JSON object)")
    ev.add_argument("run", help="run folder")
    ev.add_argument("--n", type=int, help="number of generated samples (default: the modality's)")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--device", default="cpu")
    ex = sub.add_parser("export", help="write a trained run's generator alone, for inference")
    ex.add_argument("run", help="run folder or checkpoint file")
    ex.add_argument("--format", choices=FORMATS, default="safetensors", help="file format (default: safetensors)")
    ex.add_argument("--out", help="output file (default: RUN/generator.safetensors)")
    be = sub.add_parser("bench", help="training throughput against a plain PyTorch loop of the same model")
    be.add_argument("name", help="model family (see 'multigan list')")
    be.add_argument("--steps", type=int, default=10, help="timed iterations; the median is reported (default: 10)")
    be.add_argument("--warmup", type=int, default=2, help="untimed iterations first (default: 2)")
    be.add_argument("--precision", choices=PRECISIONS, default="32", help="numeric precision (default: 32)")
    be.add_argument("--kernels", choices=KERNELS, default="fused", help="fused (default) or eager")
    be.add_argument("--batch-size", type=int, help="batch size (default: the family's)")
    be.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field")
    be.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N (default: auto)")
    be.add_argument("--no-baseline", action="store_true", help="time multigan only")
    be.add_argument("--json", help="also write the rows to this JSON file")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``multigan`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    args.argv = argv  # what was typed, recorded beside benchmark rows
    try:
        return {"list": _list, "train": _train, "sample": _sample, "eval": _eval, "export": _export,
                "bench": _bench}[args.command](args)
    except MultiganError as exc:
        print(f"multigan: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("multigan: interrupted", file=sys.stderr)
        return 130


def _list(args: argparse.Namespace) -> int:
    for name in list_models(modality=args.modality):
        print(f"{name:12s} {model_entry(name).modality}")
    return 0


def _train(args: argparse.Namespace) -> int:
    if args.nproc is not None and args.nproc > 1 and not distributed.launched():
        return _launch(args.nproc, args.argv)
    saved: dict[str, Any] = {"config": {}, "train": {}}
    if args.config:
        path = Path(args.config)
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read run config {str(path)!r}: {exc}") from exc
        if not isinstance(saved, dict) or not isinstance(saved.get("name"), str):
            raise ConfigError(f"{str(path)!r} is not a multigan run config (a JSON object with name, config, train)")
        saved = {"config": {}, "train": {}, **saved}
        if args.name and args.name != saved.get("name"):
            raise ConfigError(f"{path} is a {saved.get('name')!r} run, not {args.name!r}")
        args.name = saved.get("name")
    if not args.name:
        raise ConfigError("name a model family to train (see 'multigan list'), or give --config RUN/config.json")
    run = saved["train"]
    data = args.data if args.data is not None else run.get("data")
    overrides = {**saved["config"], **parse_set_options(args.set)}
    if args.kernels:
        overrides["kernels"] = args.kernels
    seed = args.seed if args.seed is not None else run.get("seed", 0)
    torch.manual_seed(seed)  # the initial weights are part of what config.json reproduces
    gan = build(args.name, **overrides)
    # Fields the data dictates (digits: 32x32, one channel) unless the user or config.json set them.
    hints = {k: v for k, v in get_modality(gan.modality).config_hints(data).items()
             if k in fields_of(gan.config) and k not in overrides and getattr(gan.config, k) != v}
    if hints:
        torch.manual_seed(seed)
        gan = build(args.name, **overrides, **hints)

    def pick(flag: Any, key: str, default: Any) -> Any:
        return flag if flag is not None else run.get(key, default)

    out_dir = Path(args.out or f"runs/{args.name}")
    if args.config and not args.out and out_dir.resolve() == Path(args.config).resolve().parent:
        # an explicit --out to the same folder continues (or extends) that run instead
        raise ConfigError(f"{out_dir} is the folder of the run being repeated; give the repeat its own --out")
    trainer = Trainer(
        gan, data=data, out_dir=out_dir,
        max_steps=pick(args.steps, "max_steps", None), batch_size=pick(args.batch_size, "batch_size", None),
        precision=pick(args.precision, "precision", "32"), seed=seed,
        device=args.device or "auto", sample_every=pick(args.sample_every, "sample_every", 500),
        checkpoint_every=pick(args.checkpoint_every, "checkpoint_every", 500),
        log_every=pick(args.log_every, "log_every", 10), num_workers=pick(args.num_workers, "num_workers", 0),
        n_preview=run.get("n_preview", 64), keep_checkpoints=run.get("keep_checkpoints", 5),
        skip_bad_files=bool(pick(args.skip_bad_files, "skip_bad_files", False)),
        sync_batchnorm=bool(pick(args.sync_batchnorm, "sync_batchnorm", False)),
        progress=not args.no_progress)
    trainer.fit()
    if trainer.rank != 0:  # rank 0 speaks for every process
        return 0
    if trainer.stopped_by:
        print(f"stopped by {trainer.stopped_by} at step {trainer.step}: checkpoint "
              f"{trainer.out_dir / 'checkpoints' / 'last.pt'} written. To resume, run the same command again, or: "
              f"multigan train --config {trainer.out_dir / 'config.json'} --out {trainer.out_dir}", file=sys.stderr)
        return 130 if trainer.stopped_by == "SIGINT" else 143
    print(f"run folder: {trainer.out_dir} (step {trainer.step}); "
          f"samples in {trainer.out_dir / 'samples'}, metrics in {trainer.out_dir / 'metrics.jsonl'}")
    return 0


def _launch(nproc: int, argv: list[str]) -> int:
    """``multigan train --nproc N ...``: the same command on N processes, through torchrun."""
    rest, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            rest.append(arg)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "multigan", *rest]
    print("launching:", shlex.join(command), file=sys.stderr, flush=True)
    child = subprocess.Popen(command)
    # Ctrl-C reaches torchrun and its workers from the terminal: this process only waits for
    # them to checkpoint and stop. A SIGTERM sent to this process alone is passed on.
    previous = {signal.SIGINT: signal.signal(signal.SIGINT, signal.SIG_IGN),
                signal.SIGTERM: signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signum))}
    try:
        return child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _sample(args: argparse.Namespace) -> int:
    gan = load_gan(args.run, device=args.device)
    if args.out:
        out = Path(args.out)
        stem = out.with_suffix("") if out.suffix else out
    else:
        stem = _run_dir(args.run) / "samples" / f"sample-seed{args.seed}"
    modality = get_modality(gan.modality)
    if args.cond:
        if modality.read_condition is None:
            raise ConfigError(f"the {gan.modality} modality has no conditions to read from a file")
        samples = gan.sample(seed=args.seed, cond=modality.read_condition(args.cond, gan.config))
    else:
        samples = gan.sample(args.n or 64, seed=args.seed)
    for path in modality.write_samples(samples, stem, gan):
        print(path)
    return 0


def _run_dir(path: str) -> Path:
    """The run folder of a run folder, of a checkpoint in its checkpoints/, or of an export in it."""
    p = Path(path)
    return p if p.is_dir() else p.parent if is_exported(p) else p.parent.parent


def _export(args: argparse.Namespace) -> int:
    gan = load_gan(args.run)
    if args.out:
        out = Path(args.out)
    else:
        out = _run_dir(args.run) / "generator.safetensors"
    if not is_exported(out):
        raise ConfigError(f"--out {str(out)!r}: an exported generator's file name ends in .safetensors")
    print(export_generator(gan, out))
    return 0


def _eval(args: argparse.Namespace) -> int:
    run_dir = Path(args.run)
    state = load_state(resolve_checkpoint(run_dir))
    gan = gan_from_state(state, device=args.device)
    modality = get_modality(gan.modality)
    if modality.evaluate is None:
        raise ConfigError(f"the {gan.modality} modality defines no metrics")
    metrics = {"name": gan.name, **modality.evaluate(gan, state["train"].get("data"), args.n, args.seed)}
    line = json.dumps(metrics)
    if run_dir.is_dir():
        (run_dir / "eval.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(line)
    return 0


def _bench(args: argparse.Namespace) -> int:
    from .bench import bench, format_table, write_json

    rows = bench(args.name, steps=args.steps, warmup=args.warmup, precision=args.precision, kernels=args.kernels,
                 batch_size=args.batch_size, device=args.device, overrides=parse_set_options(args.set),
                 baseline=not args.no_baseline)
    print(format_table(rows))
    if args.json:
        write_json(rows, args.json, command=shlex.join(["multigan", *args.argv]))
        print(f"rows written to {args.json}")
    return 0
