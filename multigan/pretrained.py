"""Hugging Face-style model folders: ``gan.save_pretrained(DIR)``, ``multigan.from_pretrained(DIR)``.

A folder holds what sampling needs and a card a person reads::

    DIR/config.json          {"format": "multigan-pretrained", "version": 1, "name", "modality",
                              "config", "kernels", "weights", "artifacts", "provenance"}
    DIR/model.safetensors    the sampling generator's weights (the EMA copy when there is one)
    DIR/README.md            the model card: family, data, steps, eval metrics, training command
    DIR/<artifact>           files the family keeps with its weights (a text corpus's tokenizer.model)
    DIR/run_config.json      only when the GAN came from a run: that run's config, which
                             ``multigan train --config`` repeats

``config.json`` is the source of truth for the family and its config; ``model.safetensors``
holds tensors only (stored with :func:`multigan.export.flatten_state`, so tied weights and a
tokenizer kept in the generator's state survive), and runs no code when read. Nothing is
downloaded: loading reads these files and nothing else. This module writes and reads the
folder; :func:`multigan.runs.from_pretrained` rebuilds the GAN from what :func:`read_pretrained`
returns (building needs the registry, which sits above the GAN class that calls
:func:`save_pretrained`).
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any

from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save
from torch import nn

from .config import config_to_dict
from .errors import ConfigError, DataError
from .export import flatten_state, unflatten_state
from .files import check_new_folder, staged_folder, write_bytes_atomic
from .labels import class_names

FORMAT = "multigan-pretrained"
VERSION = 1
CONFIG = "config.json"
WEIGHTS = "model.safetensors"
CARD = "README.md"
RUN_CONFIG = "run_config.json"
#: the folder's own files, which a family's artifacts may not be named
RESERVED = (CONFIG, WEIGHTS, CARD, RUN_CONFIG)


def is_pretrained(path: str | os.PathLike) -> bool:
    """Whether ``path`` is to be read as a pretrained folder: a folder without ``checkpoints/``
    (a run folder has one) that holds ``model.safetensors`` or a ``config.json`` naming a
    format (a run's config.json names none). :func:`read_pretrained` then says what is wrong
    with a folder that is not a whole one."""
    folder = Path(path)
    if not folder.is_dir() or (folder / "checkpoints").exists():
        return False
    if (folder / WEIGHTS).exists():
        return True
    try:
        record = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and "format" in record


def save_pretrained(gan: nn.Module, directory: str | os.PathLike) -> Path:
    """Write ``gan`` (a :class:`multigan.GAN`) as a pretrained folder at ``directory`` (see the
    module docstring) and return its path.

    The folder is written beside ``directory`` under a hidden name and renamed into place when
    whole, so an interrupted call leaves no half-written folder under that name. Raises
    :class:`ConfigError`, with nothing written, when ``directory`` exists and is not an empty
    folder, lies under a file, or ``gan`` was not made by :func:`multigan.build` (its family
    could not be rebuilt).
    """
    if not gan.name:
        raise ConfigError(f"this {type(gan).__name__} has no registered family name (make it with "
                          "multigan.build), so a loader could not rebuild it")
    out = check_new_folder(directory)
    target = Path(os.path.abspath(out))   # "." or "x/..": staged beside the folder, not inside it
    artifacts = gan.artifacts()
    clash = sorted(set(artifacts) & set(RESERVED))
    if clash:
        raise ConfigError(f"{gan.name}'s artifacts {', '.join(map(repr, clash))} would overwrite the folder's own files")
    tensors, layout = flatten_state(gan.sampling_generator)
    provenance = gan.provenance
    record = {"format": FORMAT, "version": VERSION, "name": gan.name, "modality": gan.modality,
              "config": config_to_dict(gan.config), "kernels": gan.kernels,
              "weights": "generator" if gan.generator_ema is None else "generator_ema",
              "artifacts": sorted(artifacts), "provenance": provenance}
    files = {CONFIG: (json.dumps(record, indent=2) + "\n").encode("utf-8"),
             # "format": "pt" is what Hugging Face's loaders expect of a PyTorch safetensors file
             WEIGHTS: save(tensors, metadata={"format": "pt", **layout}),
             CARD: model_card(gan, record, target.name).encode("utf-8"), **artifacts}
    if provenance and isinstance(provenance.get("train"), dict):
        run_config = {"name": gan.name, "modality": gan.modality, "config": record["config"],
                      "train": provenance["train"]}
        files[RUN_CONFIG] = (json.dumps(run_config, indent=2) + "\n").encode("utf-8")
    with staged_folder(target) as staging:
        for name, contents in files.items():
            write_bytes_atomic(staging / name, contents)
    return out


def read_pretrained(directory: str | os.PathLike) -> tuple[dict[str, Any], dict[str, Any], dict[str, bytes]]:
    """A pretrained folder's ``(config.json, generator state dict, artifacts by file name)``,
    checked. Raises :class:`DataError` naming the file when the folder or a file is missing,
    unreadable, not this format (a run folder's config.json is said to be one), or from a
    newer multigan."""
    folder = Path(directory)
    if not folder.is_dir():
        raise DataError(f"pretrained model folder {str(folder)!r} does not exist")
    record = _read_config(folder / CONFIG)
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise DataError(f"pretrained model folder {str(folder)!r} has no {WEIGHTS} (its generator's weights)")
    try:
        with safe_open(str(weights), framework="pt") as f:
            layout = f.metadata() or {}
        state = unflatten_state(load_file(str(weights)), layout)
    except (SafetensorError, OSError, ValueError) as exc:
        raise DataError(f"{str(weights)!r} is damaged or not a multigan generator's weights: {exc}") from exc
    artifacts = {}
    for name in record["artifacts"]:
        path = folder / name
        try:
            artifacts[name] = path.read_bytes()
        except OSError as exc:
            raise DataError(f"{str(folder / CONFIG)!r} lists the file {name!r}, which cannot be read: "
                            f"{exc.strerror or exc}") from exc
    return record, state, artifacts


def _read_config(path: Path) -> dict[str, Any]:
    """A pretrained folder's config.json, checked (see :func:`read_pretrained`)."""
    if not path.is_file():
        raise DataError(f"{str(path.parent)!r} has no {CONFIG}: it is not a multigan pretrained model folder "
                        "(gan.save_pretrained or 'multigan export RUN --format hf' writes one)")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{str(path)!r} is not readable JSON: {exc}") from exc
    if not isinstance(record, dict):
        raise DataError(f"{str(path)!r} is not a JSON object: not a multigan pretrained model's config")
    if record.get("format") != FORMAT:
        if "format" not in record and {"name", "train"} <= set(record):
            raise DataError(f"{str(path)!r} is a training run's config (multigan train writes it), not a pretrained "
                            f"model's: load the run folder itself (with its checkpoints/), or export it with "
                            f"'multigan export RUN --format hf'")
        raise DataError(f"{str(path)!r} says its format is {record.get('format')!r}, not {FORMAT!r}: "
                        "not a multigan pretrained model folder")
    version = record.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= VERSION:
        newer = isinstance(version, int) and version > VERSION
        raise DataError(f"{str(path)!r} has format version {version!r}; this multigan reads version {VERSION}"
                        + (" (a newer multigan wrote it)" if newer else ""))
    kinds = {"name": str, "modality": str, "config": dict, "kernels": str, "artifacts": list}
    wrong = [key for key, kind in kinds.items() if not isinstance(record.get(key), kind)]
    if not isinstance(record.get("provenance"), (dict, type(None))):
        wrong.append("provenance")
    if record.get("weights") not in ("generator", "generator_ema"):
        wrong.append("weights")
    if wrong or not all(isinstance(n, str) and n == Path(n).name and n not in ("", ".", "..", *RESERVED)
                        for n in record["artifacts"]):
        # artifacts are plain file names inside the folder: a path would read files elsewhere
        raise DataError(f"{str(path)!r}: {', '.join(map(repr, wrong or ['artifacts']))} missing or of the wrong "
                        "type: not a whole multigan pretrained model config")
    return record


# ---------------------------------------------------------------------------------------- the card
def model_card(gan: nn.Module, record: dict[str, Any], folder_name: str) -> str:
    """The folder's README.md: what the model is, how it was trained and scored, how to use it.
    What is not known (a GAN built in Python rather than loaded from a run) is said to be
    unknown, never guessed."""
    provenance = record["provenance"] or {}
    steps = provenance.get("step")
    decay = getattr(gan.config, "ema_decay", 0)
    weights = ("the generator (the GAN kept no EMA copy)" if gan.generator_ema is None else
               "the EMA generator" + (f" (decay {decay})" if decay else ""))
    rows = [("family", f"`{gan.name}`"), ("modality", gan.modality), ("weights", weights),
            ("generator parameters", f"{sum(p.numel() for p in gan.sampling_generator.parameters()):,}")]
    labels = _class_names(gan)
    if labels:
        shown = ", ".join(labels[:20]) + (f", ... ({len(labels)} in all)" if len(labels) > 20 else "")
        rows.append(("classes", f"{len(labels)}: {shown}"))
    rows += [("data", f"`{provenance['data']}`" if provenance.get("data") else "unknown"),
             ("training steps", str(steps) if steps is not None else "unknown")]
    tags = "".join(f"- {tag}\n" for tag in ("multigan", "gan", gan.modality, gan.name))
    lines = [f"---\nlibrary_name: multigan\ntags:\n{tags}---\n", f"# {folder_name}: a {gan.name} generator\n",
             f"A `{gan.name}` {gan.modality} GAN's generator, saved by multigan's `save_pretrained`. It holds the "
             f"weights `sample()` uses: {weights}. The discriminator is not included.\n",
             "| | |\n| --- | --- |", *(f"| {key} | {value} |" for key, value in rows), "",
             "## Training\n", *_training(gan, provenance), "## Evaluation\n", *_evaluation(provenance, folder_name),
             "## Use\n", *_use(gan, folder_name, labels)]
    return "\n".join(lines)


def _class_names(gan: nn.Module) -> tuple[str, ...]:
    try:
        return class_names(gan)
    except ConfigError:   # not class-conditional
        return ()


def _training(gan: nn.Module, provenance: dict[str, Any]) -> list[str]:
    if not provenance:
        return ["Unknown: this GAN was not loaded from a run folder (it was built or trained in Python), so its "
                "training data, steps and command are not recorded.\n"]
    train = provenance.get("train") or {}
    run = f"the run folder `{provenance['run']}`" if provenance.get("run") else "a run"
    where = f"checkpoint `{provenance['checkpoint']}`" if provenance.get("checkpoint") else "its checkpoint"
    settings = ", ".join(f"{label} {train[key]}" for key, label in
                         (("batch_size", "batch"), ("precision", "precision"), ("seed", "seed"))
                         if train.get(key) is not None)
    steps = provenance.get("step")
    data = f"`{provenance['data']}`" if provenance.get("data") else "unknown data"
    lines = [f"Exported from {run} ({where}, after {'an unknown number of' if steps is None else steps} training "
             f"steps, pre-training phases included), trained on {data}{': ' + settings if settings else ''}.\n"]
    if train:
        lines += [f"The run records its settings, not the command typed; `{RUN_CONFIG}` holds them, and this "
                  "command trains the same model again (into `runs/" + gan.name + "`; `--out DIR` for another "
                  "folder):\n", f"```bash\nmultigan train --config {RUN_CONFIG}\n```\n"]
    return lines


def _evaluation(provenance: dict[str, Any], folder_name: str) -> list[str]:
    metrics = provenance.get("eval") if provenance else None
    if not isinstance(metrics, dict):
        said = ("No evaluation of this checkpoint was recorded in its run folder (`multigan eval RUN` writes "
                "RUN/eval.json)." if provenance else "Unknown: no evaluation was recorded with this GAN.")
        return [said + f" `multigan eval {shlex.quote(folder_name)}` scores this folder.\n"]
    references = {name: scores for name, scores in (metrics.get("references") or {}).items() if isinstance(scores, dict)}
    names = [key for key, value in metrics.items() if _number(value)]
    columns = ["model", *references]
    table = [f"| metric | {' | '.join(columns)} |", "| --- |" + " --- |" * len(columns)]
    for key in names:
        cells = [metrics[key], *(scores.get(key) for scores in references.values())]
        table.append(f"| `{key}` | " + " | ".join(_shown(v) for v in cells) + " |")
    return ["`multigan eval` of this checkpoint, as its run folder's eval.json recorded it, with the reference "
            "points computed in the same evaluation (docs/evaluation.md says how to read them; the full record is "
            f"`provenance.eval` in {CONFIG}):\n", *table, ""]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _shown(value: Any) -> str:
    if not _number(value):
        return ""
    return str(value) if isinstance(value, int) else f"{value:.4g}"


def _use(gan: nn.Module, folder_name: str, labels: tuple[str, ...]) -> list[str]:
    if labels:
        call, cli = f"gan.sample(16, seed=0, cond={labels[0]!r})", f" --label {shlex.quote(labels[0])}"
    elif getattr(gan, "condition", "none") == "mel":   # a vocoder
        call = "gan.sample(seed=0, cond=mel)   # mel: log-mel frames from the family's front end"
        cli = " --cond SPEECH.wav"
    else:
        call, cli = "gan.sample(16, seed=0)", ""
    decode = "\ntexts = gan.decode(samples)" if gan.modality == "text" else ""
    return ["Nothing is downloaded: loading reads this folder only.\n",
            f"```python\nimport multigan\n\ngan = multigan.from_pretrained({folder_name!r})\nsamples = {call}{decode}\n```\n",
            f"```bash\nmultigan sample {shlex.quote(folder_name)}{cli}\nmultigan eval {shlex.quote(folder_name)}\n```\n"]
