"""Class labels, for the class-conditional families of every modality.

A conditional family trains on ``(example, label)`` pairs, the label an int64 class index below
its ``num_classes``, and samples from labels given by name (``"7"``, ``"A4"``, ``"cat"``) or by
index. This module holds the pieces that do not depend on the modality: the dataset wrapper
that yields the pairs (:class:`Labelled`), the check of a batch's labels
(:func:`check_labels`), the translation of what a user asks for into indices
(:func:`label_indices`), and the labels of a folder of files (:func:`folder_labels`: a
``labels.csv`` beside the files, or one subfolder per class).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import Tensor
from torch.utils.data import Dataset

from .errors import ConfigError, DataError


class Labelled(Dataset):
    """``(example, label)`` pairs for class-conditional families: ``example`` from ``dataset``
    and its class index from ``dataset.labels`` (the digits' classes, the notes' pitches).

    Args:
        dataset: any dataset with a ``labels`` tensor (one int64 index per example).
        how: what the user should do when ``dataset`` has no labels (the modality says it).
        num_classes: when given (the family's), a dataset that names a different number of
            classes (``dataset.label_names``) is a :class:`DataError`.
        family: the family's name, for that error.
    """

    def __init__(self, dataset: Dataset, how: str, num_classes: int = 0, family: str = "the family"):
        labels = getattr(dataset, "labels", None)
        source = getattr(dataset, "source", type(dataset).__name__)
        if labels is None:
            raise DataError(f"data {source!r} has no class labels, and a class-conditional family trains on "
                            f"labelled data: {how}")
        self.dataset, self.labels, self.source = dataset, labels, source
        self.label_names = getattr(dataset, "label_names", None)
        names = self.label_names or ()
        if num_classes and names and len(names) != num_classes:
            raise DataError(f"{source} has {len(names)} classes ({', '.join(names)}) but {family} was built with "
                            f"num_classes={num_classes}: build it with num_classes={len(names)}")

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.dataset[i], self.labels[i]


#: The file beside a flat folder's data that labels it (a header ``file,label``, one row per file).
LABELS_CSV = "labels.csv"
_FILE_COLUMNS = ("file", "path", "filename")
_LABEL_COLUMNS = ("label", "class")
_CSV_HOW = (f"{LABELS_CSV} needs a header line file,label and one row per file: its path relative to the folder, "
            "and its class")


def folder_labels(root: Path, files: Sequence[Path]) -> tuple[tuple[str, ...], Tensor] | None:
    """The classes of ``files`` (data files under the folder ``root``) and each one's class index
    (int64), or None when the folder is unlabelled.

    Labels come from, in this order:

    - ``root/labels.csv``: a header line naming a file column (``file``, ``path`` or
      ``filename``) and a label column (``label`` or ``class``), then one row per file, its path
      relative to ``root`` (or its bare name, when no other file under ``root`` has it);
    - the layout torchvision's ``ImageFolder`` reads (:func:`class_folders`): every file in a
      subfolder of ``root``, the subfolder its class.

    The classes are the distinct labels of ``files``, sorted by name (no files: None). A file
    with no row, a row naming a file that does not exist, or a malformed ``labels.csv`` is a
    :class:`DataError`; a row naming a file that exists but is not among ``files`` (skipped as
    unreadable) is ignored.
    """
    if not files:
        return None
    table = root / LABELS_CSV
    if table.is_file():
        by_file = _read_labels_csv(table, root)
        missing = next((path for path in files if path.relative_to(root).as_posix() not in by_file), None)
        if missing is not None:
            raise DataError(f"{str(missing)!r} has no row in {str(table)!r}: add a row "
                            f"'{missing.relative_to(root).as_posix()},<class>' for it, or remove the file")
        labels = [by_file[path.relative_to(root).as_posix()] for path in files]
    else:
        subfolders = class_folders(root, files)
        if subfolders is None:
            return None
        labels = [path.parent.name for path in files]
    names = tuple(sorted(set(labels)))
    index = {name: i for i, name in enumerate(names)}
    return names, torch.tensor([index[label] for label in labels], dtype=torch.long)


def class_folders(root: Path, files: Sequence[Path]) -> tuple[str, ...] | None:
    """The class names of a folder in torchvision's ``ImageFolder`` layout, sorted: when every
    one of ``files`` lies in a subfolder of ``root``, those subfolders' names; else None."""
    if files and all(len(path.relative_to(root).parts) == 2 for path in files):
        return tuple(sorted({path.parent.name for path in files}))
    return None


def _read_labels_csv(table: Path, root: Path) -> dict[str, str]:
    """``labels.csv``'s rows as {path relative to ``root`` (POSIX): label}; each row's file is
    found on disk by its relative path, else by its name when exactly one file under ``root``
    has that name."""
    on_disk: dict[str, list[str]] = {}   # file name -> relative paths of the files so named
    for path in root.rglob("*"):
        if path.is_file():
            on_disk.setdefault(path.name, []).append(path.relative_to(root).as_posix())
    rows: dict[str, str] = {}
    try:
        with open(table, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, strict=True)   # a stray quote is an error, not a merged row
            header = next((row for row in reader if row), None)
            if header is None:
                raise DataError(f"{str(table)!r} is empty: {_CSV_HOW}")
            columns = [name.strip().lower() for name in header]
            file_col = next((columns.index(c) for c in _FILE_COLUMNS if c in columns), None)
            label_col = next((columns.index(c) for c in _LABEL_COLUMNS if c in columns), None)
            if file_col is None or label_col is None:
                raise DataError(f"{str(table)!r} line {reader.line_num}: header {','.join(header)!r} names no "
                                f"{'file' if file_col is None else 'label'} column: {_CSV_HOW}")
            first_line: dict[str, int] = {}
            for row in reader:
                if not row:
                    continue
                where = f"{str(table)!r} line {reader.line_num}"
                if len(row) != len(header):
                    raise DataError(f"{where} has {len(row)} fields but the header has {len(header)}: {_CSV_HOW}")
                name, label = row[file_col].strip().replace("\\", "/"), row[label_col].strip()
                if not name or not label:
                    raise DataError(f"{where} has an empty {'file' if not name else 'label'}: {_CSV_HOW}")
                rel = _on_disk(name.removeprefix("./"), on_disk, where, root)
                if rel in first_line:
                    raise DataError(f"{where} labels {rel!r} again (first on line {first_line[rel]}): "
                                    "keep one row per file")
                rows[rel], first_line[rel] = label, reader.line_num
    except csv.Error as exc:
        raise DataError(f"{str(table)!r} line {reader.line_num} is not valid CSV ({exc}): {_CSV_HOW}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{str(table)!r} cannot be read ({exc}): save it as UTF-8 text; {_CSV_HOW}") from exc
    return rows


def _on_disk(name: str, on_disk: dict[str, list[str]], where: str, root: Path) -> str:
    """The relative path of the file a ``labels.csv`` row names (see :func:`_read_labels_csv`)."""
    if name in on_disk.get(Path(name).name, ()):
        return name
    if "/" not in name and len(on_disk.get(name, ())) == 1:
        return on_disk[name][0]
    if "/" not in name and name in on_disk:
        raise DataError(f"{where} names {name!r}, and {len(on_disk[name])} files under {str(root)!r} have that "
                        f"name ({', '.join(on_disk[name][:3])}, ...): give its path relative to the folder")
    raise DataError(f"{where} names {name!r}, which is not a file under {str(root)!r}: fix the path "
                    "(relative to the folder) or remove the row")


def check_labels(labels: Any, num_classes: int, family: str) -> None:
    """Raise :class:`DataError` unless ``labels`` is an int64 tensor (N,) of class indices below
    ``num_classes``."""
    if not isinstance(labels, Tensor) or labels.dtype != torch.long or labels.dim() != 1:
        raise DataError(f"{family} expects int64 class labels (N,), got "
                        f"{getattr(labels, 'dtype', type(labels).__name__)}")
    if labels.numel() and not 0 <= int(labels.min()) <= int(labels.max()) < num_classes:
        raise DataError(f"labels range over [{int(labels.min())}, {int(labels.max())}] but {family} has "
                        f"{num_classes} classes")


def names_of(label_names: Sequence[str], num_classes: int) -> tuple[str, ...]:
    """The classes' names: ``label_names`` when given, else the indices as text."""
    return tuple(label_names) if label_names else tuple(str(i) for i in range(num_classes))


def label_indices(cond: Any, n: int | None, num_classes: int, label_names: Sequence[str] = (),
                  family: str = "this family") -> Tensor:
    """The class indices (int64, CPU) that ``sample(n, cond=cond)`` asks for.

    - ``cond`` None: ``n`` labels cycling through the classes (0, 1, ..., K - 1, 0, ...), so
      unconditional use of a conditional family gives every class its share;
    - one label (a name or an index): ``n`` samples of it (one when ``n`` is None);
    - a sequence or tensor of labels: one sample each (``n``, when given, must equal its length).

    A name is looked up in ``label_names`` (by default the indices as text, ``"0"`` to
    ``"K-1"``); an unknown name or an index out of range is a :class:`ConfigError` that lists the
    valid labels.
    """
    names = names_of(label_names, num_classes)
    if cond is None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"sample(n) needs a number of samples >= 1, got {n!r}")
        return torch.arange(n) % num_classes
    single = isinstance(cond, (str, int)) or (isinstance(cond, Tensor) and cond.dim() == 0)
    items = [cond] * (1 if n is None else n) if single else list(cond)
    if not single and n is not None and n != len(items):
        raise ConfigError(f"sample(n={n}) was given {len(items)} labels: pass n=None, or one label for n samples")
    if not items:
        raise ConfigError("sample(cond=[]) asks for no samples: give at least one label")
    return torch.tensor([_index(item, names, family) for item in items], dtype=torch.long)


def class_names(gan: Any) -> tuple[str, ...]:
    """The names of a class-conditional GAN's classes (its ``label_names``, else its
    ``num_classes`` indices as text); a :class:`ConfigError` for any other GAN."""
    family = gan.name or type(gan).__name__
    try:
        num_classes = getattr(gan, "num_classes", 0)
    except ConfigError:   # an audio GAN that is not conditioned on a label says so
        num_classes = 0
    if not num_classes:
        raise ConfigError(f"{family} is not class-conditional: it has no labels to sample")
    return names_of(getattr(gan, "label_names", ()), num_classes)


def _index(item: Any, names: tuple[str, ...], family: str) -> int:
    if isinstance(item, Tensor):
        item = item.item()
    if isinstance(item, str) and item not in names and item.isdigit():
        item = int(item)   # an index given as text (the command line's --label 3)
    if isinstance(item, str) and item in names:
        return names.index(item)
    if isinstance(item, int) and not isinstance(item, bool) and 0 <= item < len(names):
        return item
    shown = ", ".join(names) if len(names) <= 40 else ", ".join(names[:40]) + f", ... ({len(names)} in all)"
    raise ConfigError(f"label {item!r} is not one of {family}'s {len(names)} classes; valid labels: {shown} "
                      f"(or their indices 0 to {len(names) - 1})")


def check_label_names(label_names: Sequence[str], num_classes: int) -> None:
    """For a conditional family's config: raise :class:`ConfigError` unless ``label_names`` is
    empty (the indices name the classes) or names each of the ``num_classes`` classes once."""
    if label_names and len(label_names) != num_classes:
        raise ConfigError(f"config key 'label_names': {len(label_names)} names for num_classes={num_classes}")
    if len(set(label_names)) != len(label_names):
        raise ConfigError(f"config key 'label_names': names repeat ({', '.join(label_names)})")
