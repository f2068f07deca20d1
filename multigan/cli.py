"""The ``multigan`` command line: list, train, sample, eval, fid, export, bench (training or inference),
augment, serve."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import shlex
import signal
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any, Sequence

import torch

from .config import describe_fields, parse_set_options
from .errors import ConfigError, MultiganError, UnknownModelError
from .augment import write_labelled_dataset
from .export import FORMATS, export_generator, is_exported
from .files import check_new_folder, write_text_atomic
from .gan import KERNELS
from .labels import class_names
from .precision import PRECISIONS
from .registry import build, get_modality, list_models, model_entry, with_data_hints
from .runs import load_gan, split_legacy_config
from .serve.settings import ServeSettings
from .settings import TrainSettings
from .train import Trainer, distributed

#: the keys of a run's config.json (``multigan train --config``)
#: the keys of a run's config.json; a recipe's JSON may add "scaled" (the config fields its
#: --scale multiplies, which `multigan train --config` runs at scale 1)
RUN_CONFIG_KEYS = ("name", "modality", "config", "train", "precision", "scaled")
#: ``multigan train`` flags for TrainSettings fields, by field (their help comes from the field's doc)
TRAIN_FLAGS = {"data": "--data", "max_steps": "--steps", "batch_size": "--batch-size", "precision": "--precision",
               "kernels": "--kernels", "compile": "--compile", "out_dir": "--out", "seed": "--seed",
               "device": "--device", "sample_every": "--sample-every", "checkpoint_every": "--checkpoint-every",
               "log_every": "--log-every", "num_workers": "--num-workers", "skip_bad_files": "--skip-bad-files",
               "sync_batchnorm": "--sync-batchnorm", "lr_decay": "--lr-decay", "n_preview": "--n-preview",
               "keep_checkpoints": "--keep-checkpoints"}


def _setting_flag(parser: argparse.ArgumentParser, field: str, flag: str) -> None:
    """A flag for TrainSettings ``field``: its doc and default as the help, None when not given."""
    f = {x.name: x for x in dataclasses.fields(TrainSettings)}[field]
    help_text = f.metadata["doc"] + ("" if f.default is None else f" (default: {f.default})")
    if typing.get_type_hints(TrainSettings)[field] is bool:
        parser.add_argument(flag, dest=field, action="store_true", default=None, help=help_text)
        return
    kind = int if "int" in str(f.type) else str
    parser.add_argument(flag, dest=field, type=kind, choices=f.metadata.get("choices"), help=help_text,
                        metavar=None if f.metadata.get("choices") else flag.lstrip("-").upper().replace("-", "_"))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="multigan", description="Train GANs on images, audio and text.")
    sub = p.add_subparsers(dest="command", required=True)

    ls = sub.add_parser("list", help="list the registered model families, or one family's options")
    ls.add_argument("pattern", nargs="?", help="only names matching this shell pattern, e.g. '*gan*'")
    ls.add_argument("--modality", help="only this modality's families")
    ls.add_argument("--options", metavar="NAME", help="print every config field of family NAME (type, default, doc), "
                                                      "and the training settings")

    tr = sub.add_parser("train", help="train a family and write a run folder")
    tr.add_argument("name", nargs="?", help="model family (see 'multigan list'); optional with --config")
    tr.add_argument("--config", help="a run's config.json: repeat that run (flags given here override it; "
                                     "--out to the run's own folder continues it)")
    for field, flag in TRAIN_FLAGS.items():
        _setting_flag(tr, field, flag)
    tr.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config field, e.g. --set lr_g=1e-4 (repeatable; see 'multigan list --options NAME')")
    tr.add_argument("--no-progress", action="store_true", help="no progress bar")
    tr.add_argument("--nproc", type=int, help="train on N processes of this machine (launches torchrun)")

    sa = sub.add_parser("sample", help="generate samples from a trained run")
    sa.add_argument("run", help="run folder, checkpoint file, exported generator or pretrained folder")
    sa.add_argument("--n", type=int, help="number of samples (default: 64; with --cond, one per file)")
    sa.add_argument("--out", help="output file (default: RUN/samples/sample-seedS.<ext>)")
    sa.add_argument("--seed", type=int, default=0)
    sa.add_argument("--cond", help="a file to condition on (MelGAN: a WAV to resynthesise through its mel)")
    sa.add_argument("--label", help="class-conditional families: the class to sample (its name or index), or "
                                    "'all' for --n samples of every class, one file each (default --n: 8)")
    sa.add_argument("--device", default="cpu")

    au = sub.add_parser("augment", help="class-conditional runs: write a labelled dataset of samples (one "
                                        "subfolder per class, PNG or WAV, and manifest.json)")
    au.add_argument("run", help="run folder, checkpoint file, exported generator or pretrained folder")
    au.add_argument("--per-class", type=int, required=True, metavar="N", help="samples per class")
    au.add_argument("--out", required=True, help="the dataset folder to create (new, or empty)")
    au.add_argument("--seed", type=int, default=0)
    au.add_argument("--device", default="cpu")
    au.add_argument("--no-progress", action="store_true", help="no progress bar")

    ev = sub.add_parser("eval", help="quality metrics of a trained run (last line: one JSON object)")
    ev.add_argument("run", help="run folder, checkpoint file, exported generator or pretrained folder (data: the "
                                "run's; without a recorded run, the family's built-in dataset)")
    ev.add_argument("--n", type=int, help="number of generated samples (default: the modality's)")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--device", default="cpu")
    ev.add_argument("--temperature", type=float, help="text: sample at this temperature (default: 1)")
    ev.add_argument("--features", help="image: 'digits' (default: the digits classifier) or 'inception' "
                                       "(standard FID/KID features)")
    ev.add_argument("--inception", metavar="PATH", help="image: the TF-Inception weights file for --features "
                                                        "inception (default: $MULTIGAN_INCEPTION, or multigan[fid])")
    fi = sub.add_parser("fid", help="standard FID and KID between two image folders (TF-Inception features)")
    fi.add_argument("dir_a", help="a folder of images")
    fi.add_argument("dir_b", help="another folder of images")
    fi.add_argument("--inception", metavar="PATH", help="the TF-Inception weights file "
                                                        "(default: $MULTIGAN_INCEPTION, or multigan[fid])")
    fi.add_argument("--device", default="cpu")
    ex = sub.add_parser("export", help="write a trained run's generator alone, for inference")
    ex.add_argument("run", help="run folder, checkpoint file, exported generator or pretrained folder")
    ex.add_argument("--format", choices=FORMATS, default="safetensors",
                    help="safetensors: one file; hf: a Hugging Face-style folder (config.json, model.safetensors, "
                         "README.md model card); onnx: an ONNX graph (default: safetensors)")
    ex.add_argument("--out", help="output file, or for hf a new folder (default: RUN/generator.safetensors, "
                                  "RUN/pretrained, RUN/generator.onnx)")
    se = sub.add_parser("serve", help="serve trained generators over HTTP (FastAPI): /health, /v1/models, "
                                      "/v1/models/NAME/generate and /vocode, /metrics, /docs")
    se.add_argument("models", nargs="+", metavar="[NAME=]RUN_OR_EXPORT",
                    help="run folders, pretrained folders or .safetensors exports, each served under its folder's "
                         "name (or NAME)")
    se.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    se.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0 picks a free one)")
    se.add_argument("--device", default="cpu")
    for f in dataclasses.fields(ServeSettings):
        se.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default,
                        choices=PRECISIONS if f.name == "precision" else None,
                        help=f"{f.metadata['doc']} (default: {f.default})")
    be = sub.add_parser("bench", help="training throughput (or, with --inference, generation speed) against "
                                      "plain PyTorch code of the same model")
    be.add_argument("name", help="model family (see 'multigan list')")
    be.add_argument("--inference", action="store_true",
                    help="time generation instead of training: vocoders in x real time, the others in samples/s, "
                         "at batch 1 and at a throughput batch")
    be.add_argument("--steps", type=int, default=10, help="timed iterations; the median is reported (default: 10)")
    be.add_argument("--warmup", type=int, default=2, help="untimed iterations first (default: 2)")
    be.add_argument("--precision", choices=PRECISIONS,
                    help="numeric precision (default: auto; with --inference, both 32 and bf16-mixed)")
    be.add_argument("--kernels", choices=KERNELS, default="auto", help="auto (default) or eager")
    be.add_argument("--batch-size", type=int, help="batch size (default: the family's; with --inference, the "
                                                   "throughput batch timed beside batch 1: 8 for vocoders, else 64)")
    be.add_argument("--seconds", type=float, help="with --inference: seconds of audio in each mel a vocoder is "
                                                  "given (default: 2)")
    be.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field")
    be.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N (default: auto)")
    be.add_argument("--no-baseline", action="store_true", help="time multigan only")
    be.add_argument("--compile", action="store_true", help="also time the trainer with torch.compile on (G's and D's "
                                                          "forward passes); compile time is reported on its own")
    be.add_argument("--json", help="also write the rows to this JSON file")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``multigan`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    args.argv = argv  # what was typed, recorded beside benchmark rows
    try:
        return {"list": _list, "train": _train, "sample": _sample, "eval": _eval, "fid": _fid, "export": _export,
                "bench": _bench, "augment": _augment, "serve": _serve}[args.command](args)
    except MultiganError as exc:
        print(f"multigan: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("multigan: interrupted", file=sys.stderr)
        return 130


def _list(args: argparse.Namespace) -> int:
    if args.options:
        entry = model_entry(args.options)
        if entry.config is None:
            raise ConfigError(f"{entry.name!r} was registered without its config class "
                              "(register_model(..., config=ConfigClass)), so its options are not known")
        print(f"{entry.name} ({entry.modality}): {entry.config.__name__}, set with --set KEY=VALUE")
        _print_fields(describe_fields(entry.config))
        print("\ntraining settings (TrainSettings), set with the train command's flags or a config's \"train\":")
        _print_fields(describe_fields(TrainSettings))
        return 0
    for name in list_models(args.pattern, modality=args.modality):
        print(f"{name:12s} {model_entry(name).modality}")
    return 0


def _print_fields(rows: list[tuple[str, str, Any, str]]) -> None:
    width = max(len(name) for name, *_ in rows)
    for name, kind, default, doc in rows:
        print(f"  {name:{width}s}  {kind}, default {json.dumps(default)}: {doc}")


def _read_run_config(path: Path) -> dict[str, Any]:
    """A run's config.json, checked: a :class:`ConfigError` names what is wrong with it."""
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read run config {str(path)!r}: {exc}") from exc
    if not isinstance(saved, dict) or not isinstance(saved.get("name"), str):
        raise ConfigError(f"{str(path)!r} is not a multigan run config (a JSON object with name, config, train)")
    unknown = sorted(set(saved) - set(RUN_CONFIG_KEYS))
    if unknown:
        raise ConfigError(f"{str(path)!r}: unknown key(s) {', '.join(map(repr, unknown))}; a run config has "
                          f"{', '.join(RUN_CONFIG_KEYS)}")
    for section in ("config", "train"):
        if not isinstance(saved.get(section, {}), dict):
            raise ConfigError(f"{str(path)!r}: {section!r} must be a JSON object")
    scaled = saved.get("scaled", [])
    if not (isinstance(scaled, list) and all(isinstance(k, str) for k in scaled)):
        raise ConfigError(f"{str(path)!r}: 'scaled' must be a list of config field names")
    config, train = split_legacy_config(saved.get("config", {}), saved.get("train", {}))
    return {**saved, "config": config, "train": train}


def _train(args: argparse.Namespace) -> int:
    if args.nproc is not None and args.nproc > 1 and not distributed.launched():
        return _launch(args.nproc, args.argv)
    saved: dict[str, Any] = {"config": {}, "train": {}}
    if args.config:
        saved = _read_run_config(Path(args.config))
        if args.name and args.name != saved["name"]:
            raise ConfigError(f"{args.config} is a {saved['name']!r} run, not {args.name!r}")
        args.name = saved["name"]
    if not args.name:
        raise ConfigError("name a model family to train (see 'multigan list'), or give --config RUN/config.json")
    given = {field: getattr(args, field) for field in TRAIN_FLAGS if getattr(args, field) is not None}
    if args.no_progress:
        given["progress"] = False
    settings = TrainSettings.from_dict({**saved["train"], **given})  # an unknown or bad key stops here
    out_dir = Path(given.get("out_dir") or f"runs/{args.name}")
    if args.config and "out_dir" not in given and out_dir.resolve() == Path(args.config).resolve().parent:
        # an explicit --out to the same folder continues (or extends) that run instead
        raise ConfigError(f"{out_dir} is the folder of the run being repeated; give the repeat its own --out")
    try:
        model_entry(args.name)   # an unknown family, named by --config, is said so here
    except UnknownModelError as exc:
        if not args.config:
            raise
        raise UnknownModelError(f"{args.config} is a run of model {args.name!r}, which is not registered here: "
                                f"is the plugin package that provides {args.name!r} installed? ({exc})") from exc
    overrides = {**saved["config"], **parse_set_options(args.set)}
    overrides = with_data_hints(args.name, overrides, settings.data)
    torch.manual_seed(settings.seed)  # the initial weights are part of what config.json reproduces
    gan = build(args.name, **overrides)
    trainer = Trainer(gan, **{**settings.to_dict(), "out_dir": str(out_dir)})
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
    if args.n is not None and args.n < 1:
        raise ConfigError(f"--n {args.n}: the number of samples must be 1 or more")
    gan = load_gan(args.run, device=args.device)
    if args.out:
        out = Path(args.out)
        stem = out.with_suffix("") if out.suffix else out
    else:
        stem = _run_dir(args.run) / "samples" / f"sample-seed{args.seed}"
    modality = get_modality(gan.modality)
    if args.cond and args.label:
        raise ConfigError("give --cond (a file) or --label (a class), not both")
    if args.label == "all":
        names = class_names(gan)
        per_class = [gan.sample(args.n or 8, seed=args.seed, cond=i) for i in range(len(names))]
        written = [path for name, samples in zip(names, per_class)
                   for path in modality.write_samples(samples, stem.with_name(f"{stem.name}-{name}"), gan)]
    else:
        if args.cond:
            if modality.read_condition is None:
                raise ConfigError(f"the {gan.modality} modality has no conditions to read from a file")
            samples = gan.sample(seed=args.seed, cond=modality.read_condition(args.cond, gan))
        elif args.label is not None:
            samples = gan.sample(args.n or 64, seed=args.seed, cond=args.label)
        else:
            samples = gan.sample(args.n or 64, seed=args.seed)
        written = modality.write_samples(samples, stem, gan)
    for path in written:
        print(path)
    return 0


def _augment(args: argparse.Namespace) -> int:
    check_new_folder(args.out, "--out")   # before loading: a refused command writes nothing and wastes no time
    gan = load_gan(args.run, device=args.device)
    step = gan.provenance.get("step") if gan.provenance else None
    manifest = write_labelled_dataset(gan, args.out, args.per_class, args.seed,
                                      provenance={"run": str(args.run), "step": step},
                                      progress=not args.no_progress)
    print(f"{args.out}: {manifest['total']} samples, {args.per_class} of each of {len(manifest['classes'])} classes "
          f"({', '.join(manifest['classes'][:10])}{', ...' if len(manifest['classes']) > 10 else ''})")
    return 0


def _run_dir(path: str) -> Path:
    """The run folder of a run folder, of a checkpoint in its checkpoints/, or of an export in it
    (a pretrained folder is its own)."""
    p = Path(path)
    return p if p.is_dir() else p.parent if is_exported(p) else p.parent.parent


#: ``multigan export --format``: the default --out inside the run, and what a file's name ends in
EXPORTS = {"safetensors": ("generator.safetensors", ".safetensors", "an exported generator's"),
           "hf": ("pretrained", None, None), "onnx": ("generator.onnx", ".onnx", "an ONNX graph's")}


def _export(args: argparse.Namespace) -> int:
    default, suffix, what = EXPORTS[args.format]
    out = Path(args.out) if args.out else _run_dir(args.run) / default
    # refused before loading: a refused command writes nothing and wastes no time
    if suffix is None:
        check_new_folder(out)
    elif out.suffix != suffix:
        raise ConfigError(f"--out {str(out)!r}: {what} file name ends in {suffix}")
    gan = load_gan(args.run)
    if args.format == "hf":
        written = gan.save_pretrained(out)
    elif args.format == "onnx":
        from .onnx_export import export_onnx   # its own extra (multigan[onnx]); imported only when asked

        written = export_onnx(gan, out)
    else:
        written = export_generator(gan, out)
    print(written)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from .serve import serve

    settings = ServeSettings(**{f.name: getattr(args, f.name) for f in dataclasses.fields(ServeSettings)})
    serve(args.models, args.host, args.port, settings, args.device)
    return 0


def _eval(args: argparse.Namespace) -> int:
    run_dir = Path(args.run)
    gan = load_gan(run_dir, device=args.device)
    # the data the run trained on; None (the built-in default) when no run is recorded
    data = (gan.provenance.get("train") or {}).get("data") if gan.provenance else None
    modality = get_modality(gan.modality)
    if modality.evaluate is None:
        raise ConfigError(f"the {gan.modality} modality defines no metrics")
    options = {key: getattr(args, key) for key in ("temperature", "features", "inception")
               if getattr(args, key) is not None}
    accepted = inspect.signature(modality.evaluate).parameters
    for key in options:
        if key not in accepted:
            raise ConfigError(f"--{key} does not apply to {gan.modality} models")
    metrics = {"name": gan.name, **modality.evaluate(gan, data, args.n, args.seed, **options)}
    line = json.dumps(metrics)
    if run_dir.is_dir():
        write_text_atomic(run_dir / "eval.json", json.dumps(metrics, indent=2) + "\n")
    print(line)
    return 0


def _fid(args: argparse.Namespace) -> int:
    from .modalities.image.inception import fid_folders

    print(json.dumps(fid_folders(args.dir_a, args.dir_b, inception=args.inception, device=args.device,
                                 progress=True)))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from .bench import bench, format_table, write_json

    overrides = parse_set_options(args.set)
    if args.inference:
        from . import bench_inference as inference

        rows = inference.bench_inference(
            args.name, batch_sizes=None if args.batch_size is None else (1, args.batch_size),
            precisions=inference.PRECISIONS if args.precision is None else (args.precision,), steps=args.steps,
            warmup=args.warmup, device=args.device, kernels=args.kernels, overrides=overrides,
            baseline=not args.no_baseline, seconds=inference.SECONDS if args.seconds is None else args.seconds)
        print(inference.format_table(rows))
    else:
        if args.seconds is not None:
            raise ConfigError("--seconds sets the audio a vocoder is given when timing generation: use it with "
                              "--inference")
        rows = [row for compiled in ([False, True] if args.compile else [False])
                for row in bench(args.name, steps=args.steps, warmup=args.warmup, precision=args.precision or "auto",
                                 kernels=args.kernels, batch_size=args.batch_size, device=args.device,
                                 overrides=overrides, baseline=not args.no_baseline, compile=compiled)]
        print(format_table(rows))
    if args.json:
        write_json(rows, args.json, command=shlex.join(["multigan", *args.argv]))
        print(f"rows written to {args.json}")
    return 0
