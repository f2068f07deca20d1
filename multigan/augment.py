"""``multigan augment``: a class-conditional GAN's samples as a labelled dataset on disk.

The folder has the class-subfolder layout that multigan's folder loaders and torchvision's
``ImageFolder`` read (``DIR/<class>/<index>.png`` or ``.wav``), and ``manifest.json`` saying
where it came from (the run, its step, the seed) and how many examples each class has. It is
written beside its final place and renamed into it when complete, so a stopped command leaves
no half-written dataset under that name.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from .errors import ConfigError
from .files import check_new_folder, staged_folder
from .labels import class_names
from .registry import get_modality

if TYPE_CHECKING:
    from .gan import GAN

MANIFEST = "manifest.json"
CHUNK = 256   # samples drawn per call


def folder_names(names: tuple[str, ...]) -> list[str]:
    """A distinct folder name per class name: the name itself where it is safe on every file
    system, else with each unsafe character replaced by ``_``; a name that would then equal an
    earlier one, ignoring case (one folder on macOS and Windows), gets ``_<index>`` appended
    (then ``_<index>_2``, ... while that is taken too)."""
    safe = [re.sub(r'[<>:"/\\|?*\x00-\x1f]', "_", name).strip(" .") or "_" for name in names]
    kept = {folder.casefold() for folder in safe}   # a renamed class must not take another's name
    folders: list[str] = []
    taken: set[str] = set()
    for i, folder in enumerate(safe):
        candidate, k = folder, 1
        while candidate.casefold() in taken or (candidate != folder and candidate.casefold() in kept):
            candidate = f"{folder}_{i}" if k == 1 else f"{folder}_{i}_{k}"
            k += 1
        folders.append(candidate)
        taken.add(candidate.casefold())
    return folders


def write_labelled_dataset(gan: "GAN", out: str | os.PathLike, per_class: int, seed: int = 0,
                           provenance: dict[str, Any] | None = None, progress: bool = True) -> dict[str, Any]:
    """Write ``per_class`` samples of every class of the class-conditional ``gan`` to ``out``
    (see the module docstring) and return the manifest.

    Class ``k``'s samples are drawn with seeds ``seed + k * per_class + i`` for chunk starts
    ``i``, so one class's files do not depend on how many classes or samples came before.
    ``provenance`` (run, step) goes into the manifest. Raises :class:`ConfigError`, with
    nothing written, for an unconditional GAN, a bad count or an ``out`` that is in use.
    """
    names = class_names(gan)
    if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1:
        raise ConfigError(f"--per-class {per_class!r}: the number of samples per class must be 1 or more")
    out = Path(out)
    check_new_folder(out, "--out")
    modality = get_modality(gan.modality)
    if modality.write_example is None:
        raise ConfigError(f"the {gan.modality} modality cannot write its samples as a dataset folder")
    folders = folder_names(names)
    with staged_folder(Path(os.path.abspath(out))) as staging:
        bar = tqdm(total=len(names) * per_class, unit="sample", desc="augment", disable=not progress,
                   dynamic_ncols=True)
        for k, folder in enumerate(folders):
            (staging / folder).mkdir()
            for start in range(0, per_class, CHUNK):
                count = min(CHUNK, per_class - start)
                samples = gan.sample(count, seed=seed + k * per_class + start, cond=k)
                for i, sample in enumerate(samples):
                    modality.write_example(sample, staging / folder / f"{start + i:06d}", gan)
                bar.update(count)
        bar.close()
        manifest = {**(provenance or {}), "family": gan.name, "modality": gan.modality, "seed": seed,
                    "per_class": per_class, "classes": list(names), "folders": dict(zip(names, folders)),
                    "counts": {name: per_class for name in names}, "total": per_class * len(names)}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest

