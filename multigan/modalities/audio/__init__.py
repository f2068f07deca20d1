"""The audio modality: built-in ``notes``, folders of WAV/FLAC/OGG, the log-mel front end,
WAV and spectrogram-PNG writers, pitch and vocoder metrics; and its families, WaveGAN and
MelGAN.

A config with a ``mel`` field (MelGAN's) marks a vocoder: its data are ``(mel, waveform)``
pairs, its condition files are read into mels, and it is scored as a vocoder.
"""

from ...errors import ConfigError
from ...modality import Modality
from ...registry import register_modality
from . import melgan, wavegan  # noqa: F401  (register the families)
from .data import AudioFolder, MelPairs, notes, read_audio
from .features import MelSpectrogram
from .io import write_audio_samples
from .metrics import evaluate_pitch, evaluate_vocoder


def _is_vocoder(config) -> bool:
    return hasattr(config, "mel")


def _shaped(dataset, config):
    return MelPairs(dataset, config.mel) if _is_vocoder(config) else dataset


def _notes(config, split):
    return _shaped(notes(split, config.sample_rate, config.segment_length), config)


def _folder(path, config, split, skip_bad_files):
    return _shaped(AudioFolder(path, config.sample_rate, config.segment_length,
                               skip_bad_files=skip_bad_files), config)


def _evaluate(gan, data, n_samples, seed):
    score = evaluate_vocoder if _is_vocoder(gan.config) else evaluate_pitch
    return score(gan, data, n_samples, seed)


def _read_condition(path, config):
    """An audio file's log-mel (1, n_mels, frames), for resynthesis through a vocoder."""
    if not _is_vocoder(config):
        raise ConfigError("--cond is for vocoders (MelGAN); this family is unconditional")
    wav = read_audio(path, config.sample_rate)
    wav = wav[..., : wav.shape[-1] - wav.shape[-1] % config.mel.hop_length]
    return MelSpectrogram(config.mel)(wav[None])


def _seconds(batch, config) -> float:
    wave = batch[1] if isinstance(batch, (tuple, list)) else batch  # (mel, waveform) pairs or waveforms
    return wave.shape[0] * wave.shape[-1] / config.sample_rate


AUDIO = register_modality(Modality(
    name="audio",
    default_data="notes",
    datasets={"notes": _notes},
    load_path=_folder,
    write_samples=write_audio_samples,
    evaluate=_evaluate,
    read_condition=_read_condition,
    unit="seconds of audio",
    batch_units=_seconds,
))
