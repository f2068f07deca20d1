"""What a modality tells the shared trainer, CLI and evaluator: where data comes from, how to
write samples a person can look at, and how to score a trained GAN.

A modality is registered once (``register_modality(Modality(...))``) and then every family of
that modality trains with :class:`multigan.Trainer` without any modality-specific code there.
"""

from __future__ import annotations

import re

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from torch import Tensor
from torch.utils.data import Dataset

from .errors import ConfigError, DataError

if TYPE_CHECKING:
    from .gan import GAN

#: ``(gan, split) -> Dataset``: a built-in dataset, shaped for the GAN.
BuiltinDataset = Callable[["GAN", str], Dataset]
#: ``(path, gan, split, skip_bad_files) -> Dataset``: local files.
PathDataset = Callable[[str, "GAN", str, bool], Dataset]
#: ``(samples, path_without_suffix, gan) -> written files``.
SampleWriter = Callable[[Any, Path, "GAN"], list[Path]]
#: ``(sample, path_without_suffix, gan) -> written file``: one sample as one data file.
ExampleWriter = Callable[[Any, Path, "GAN"], Path]
#: ``(sample, gan) -> bytes``: one sample as the contents of one file (a PNG, a WAV, a line of text).
ExampleEncoder = Callable[[Any, "GAN"], bytes]
#: ``(samples, gan) -> bytes``: a whole batch as one file (a PNG grid, lines of text).
BatchEncoder = Callable[[Any, "GAN"], bytes]
#: ``(path, gan) -> cond``: a file turned into what ``gan.sample(cond=...)`` takes.
ConditionReader = Callable[[str, "GAN"], Any]
#: ``(gan, data, n_samples, seed, **options) -> {metric: value, ..., "references": {name: {...}}}``;
#: ``options`` are the keyword-only parameters the evaluator declares (``temperature``,
#: ``features``, ...), which ``multigan eval`` passes only when given.
Evaluator = Callable[..., dict[str, Any]]
#: ``(batch, gan) -> None``: raise :class:`DataError` unless ``batch`` is what ``gan`` trains on.
BatchCheck = Callable[[Any, "GAN"], None]


@dataclass
class Modality:
    """A kind of data (image, audio, text, ... ) and everything the trainer needs to use it.

    A modality reads a family only through the contract its families implement (for the
    built-in ones :class:`multigan.ImageGAN`, :class:`multigan.AudioGAN`, :class:`multigan.TextGAN`).

    Attributes:
        name: the modality's name, as families give it to ``register_model``.
        default_data: the built-in dataset used when no data is given, unless the family
            declares its own (``GAN.default_data``; see :meth:`default_source`).
        datasets: built-in datasets by name.
        load_path: loader for a local file or folder (names the file in its errors).
        write_samples: writes what ``gan.sample`` returns as files a person can open (the
            GAN gives what the samples alone do not: an audio sample rate, a text tokenizer).
        check_batch: raises :class:`DataError` unless a training batch is what the GAN trains
            on; the trainer calls it on every batch, before the losses see it.
        evaluate: quality metrics of a trained GAN (``multigan eval``), with the same metrics of
            the modality's trivial reference points under ``"references"`` (docs/evaluation.md).
        config_hints: config fields a data source dictates (``digits`` -> 32x32, one channel),
            applied by the CLI when the user does not set them; the contract names them.
        write_example: writes one sample (one item of what ``gan.sample`` returns) as one file
            of the kind ``load_path`` reads back (a PNG, a WAV): ``multigan augment`` makes
            labelled datasets with it.
        media: ``(suffix, media type)`` of one encoded sample, e.g. ``("png", "image/png")``;
            a media type under ``text/`` means the bytes are UTF-8 text.
        encode_example: one sample (one item of what ``gan.sample`` returns) as a file's bytes,
            of the kind ``media`` names: ``multigan serve`` answers with it.
        encode_batch: a batch of samples as one file's bytes, where the modality has such a
            file (an image grid, lines of text); without one, a server zips the examples.
        read_condition: for conditional families, reads a file into a condition
            (``multigan sample RUN --cond FILE``): an audio file into a mel spectrogram.
        unit: what ``multigan bench`` counts per second ("images", "seconds of audio", ...).
        batch_units: how many ``unit`` a training batch holds (default: its first dimension).
    """

    name: str
    default_data: str
    datasets: Mapping[str, BuiltinDataset]
    load_path: PathDataset
    write_samples: SampleWriter
    check_batch: BatchCheck = field(default=lambda batch, gan: None)
    evaluate: Evaluator | None = None
    config_hints: Callable[[str], dict[str, Any]] = field(default=lambda source: {})
    write_example: ExampleWriter | None = None
    media: tuple[str, str] | None = None
    encode_example: ExampleEncoder | None = None
    encode_batch: BatchEncoder | None = None
    read_condition: ConditionReader | None = None
    unit: str = "examples"
    batch_units: Callable[[Any, "GAN"], float] = field(default=lambda batch, gan: len(batch))

    def default_source(self, gan: "GAN") -> str:
        """The built-in dataset ``gan`` trains on when no data is given: the family's own
        ``default_data`` when it declares one, else the modality's."""
        own = getattr(gan, "default_data", None)
        if own is None:
            return self.default_data
        if own not in self.datasets:
            raise ConfigError(f"{type(gan).__name__}.default_data is {own!r}, which is not a built-in {self.name} "
                              f"dataset ({', '.join(sorted(self.datasets))})")
        return own

    def dataset(self, source: str | Dataset | None, gan: "GAN", split: str = "train",
                skip_bad_files: bool = False) -> Dataset:
        """Resolve ``source`` (a built-in name, a local path, or a Dataset; None: the
        :meth:`default_source`) to a Dataset."""
        if source is None:
            source = self.default_source(gan)
        if isinstance(source, Dataset):
            return source
        if source in self.datasets:
            return self.datasets[source](gan, split)
        # "scheme:..." sources (such as torchvision:MNIST:/root) are the loader's to interpret
        if not Path(source).expanduser().exists() and not re.match(r"^[A-Za-z][\w+.-]*:", source):
            raise DataError(f"data {source!r} is neither a built-in {self.name} dataset "
                            f"({', '.join(sorted(self.datasets))}) nor an existing path")
        return self.load_path(source, gan, split, skip_bad_files)


def check_float_batch(batch: Any, shape: tuple[int, ...], family: str, what: str, fix: str) -> Tensor:
    """Raise :class:`DataError` unless ``batch`` is a float tensor (N, *shape) of ``what``
    (e.g. "image"); ``fix`` says how to make model and data agree."""
    if not isinstance(batch, Tensor) or tuple(batch.shape[1:]) != shape or batch.dim() != len(shape) + 1:
        got = tuple(batch.shape) if isinstance(batch, Tensor) else type(batch).__name__
        raise DataError(f"{family} expects {what} batches of shape (N, {', '.join(map(str, shape))}), "
                        f"got {got}; {fix}")
    if not batch.is_floating_point():
        raise DataError(f"{family} expects float {what} data in [-1, 1], got dtype {batch.dtype}")
    return batch
