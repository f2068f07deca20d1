"""What the audio modality needs from a family: :class:`AudioGAN`."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, ClassVar, Literal

from ...errors import ConfigError
from ...gan import GAN

if TYPE_CHECKING:
    from .features import MelConfig

Condition = Literal["none", "mel", "label"]


class AudioGAN(GAN):
    """An audio family: ``sample(...)`` gives waveforms (n, 1, T) in [-1, 1] at :attr:`sample_rate`.

    The audio modality reads only what is declared here: the sample rate (data is resampled to
    it; WAV files are written at it), the training segment length, and what the family is
    conditioned on (:attr:`condition`), which decides its training batches:

    - ``"none"``: waveforms (N, 1, segment_length); ``sample(n)``.
    - ``"mel"`` (a vocoder): ``(mel, waveform)`` pairs, the mel computed by the front end
      :attr:`mel_config` describes; ``sample(cond=mel)``; scored as a vocoder.
    - ``"label"``: ``(waveform, label)`` pairs, the label an int64 class index below
      :attr:`num_classes` (the built-in notes: the pitch); ``sample(cond=labels)``.
    """

    condition: ClassVar[Condition] = "none"

    @property
    @abc.abstractmethod
    def sample_rate(self) -> int:
        """Samples per second of the audio the family makes and trains on."""

    @property
    @abc.abstractmethod
    def segment_length(self) -> int:
        """Samples per training example."""

    @property
    def mel_config(self) -> "MelConfig":
        """For ``condition == "mel"``: the mel front end the conditions come from."""
        raise ConfigError(f"{type(self).__name__} defines no mel_config: only a family conditioned on a mel "
                          f"must (its condition is {self.condition!r})")

    @property
    def num_classes(self) -> int:
        """For ``condition == "label"``: how many classes the labels index."""
        raise ConfigError(f"{type(self).__name__} defines no num_classes: only a family conditioned on a label "
                          f"must (its condition is {self.condition!r})")
