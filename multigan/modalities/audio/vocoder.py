"""What the mel vocoders share: :class:`MelVocoder`, an :class:`AudioGAN` that vocodes log-mels."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ...config import GANConfig
from ...errors import ConfigError
from .contract import AudioGAN
from .features import MelConfig, MelSpectrogram

N_PREVIEW = 8  # vocoded clips per preview


class MelVocoder(AudioGAN):
    """A vocoder (MelGAN, HiFi-GAN): G maps a log-mel (N, n_mels, frames) to waveforms (N, 1,
    frames x hop); ``sample(cond=mel)`` vocodes. Its config holds ``mel`` (a :class:`MelConfig`,
    whose front end :attr:`mel` makes the conditions) and ``segment_length``. One fake batch is
    shared by the two updates of a step: the vocoded batch."""

    condition = "mel"
    shares_fakes = True

    def __init__(self, config: GANConfig, generator: nn.Module, discriminator: nn.Module):
        super().__init__(config, generator, discriminator)
        self.mel = MelSpectrogram(config.mel)

    @property
    def sample_rate(self) -> int:
        return self.config.mel.sample_rate

    @property
    def segment_length(self) -> int:
        return self.config.segment_length

    @property
    def mel_config(self) -> MelConfig:
        return self.config.mel

    def generate(self, n: int | None, *, cond: Tensor | None, rng: torch.Generator) -> Tensor:
        name, shape = self.name or type(self).__name__.lower(), f"(N, {self.config.mel.n_mels}, frames)"
        if cond is None:
            raise ConfigError(f"{name} vocodes mel spectrograms: call sample(cond=mel) with a log-mel of shape "
                              f"{shape}, e.g. mel = gan.mel(waveform)")
        mel = cond.unsqueeze(0) if cond.dim() == 2 else cond
        if mel.dim() != 3 or mel.shape[1] != self.config.mel.n_mels:
            raise ConfigError(f"{name} expects mels of shape {shape}, got {tuple(cond.shape)}")
        if n is not None and n != mel.shape[0]:
            raise ConfigError(f"sample(n={n}) disagrees with the {mel.shape[0]} mels given as cond")
        return self.sampling_generator(mel.to(self.device, torch.float32))

    def preview(self, batch, n: int) -> Tensor:
        mel, _ = batch
        return self.sample(cond=mel[:min(n, N_PREVIEW)])

    def fake_batch(self, batch) -> Tensor:
        """The vocoded waveforms of ``batch``'s mels."""
        mel, _ = batch
        return self.generator(mel)
