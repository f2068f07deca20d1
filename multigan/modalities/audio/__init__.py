"""The audio modality: built-in ``notes`` and ``speech``, folders of WAV/FLAC/OGG, the log-mel
front end, WAV and spectrogram-PNG writers, pitch and vocoder metrics; and its families,
WaveGAN, MelGAN and HiFi-GAN (which trains on ``speech`` by default, the others on ``notes``).

A family implements :class:`AudioGAN`, whose ``condition`` shapes everything here: a vocoder
(``"mel"``) trains on ``(mel, waveform)`` pairs, reads condition files into mels and is scored
as a vocoder; a class-conditional family (``"label"``) trains on ``(waveform, label)`` pairs.
"""

from pathlib import Path

from ...errors import ConfigError
from ...modality import Modality
from ...registry import register_modality
from .contract import AudioGAN
from ...labels import Labelled, folder_labels
from .data import PITCH_NAMES, AudioFolder, MelPairs, audio_files, check_audio_batch, notes, read_audio
from .features import MelSpectrogram
from .io import encode_audio_example, write_audio_example, write_audio_samples
from .metrics import evaluate_labelled, evaluate_pitch, evaluate_vocoder
from .speech import speech as speech_dataset  # the module keeps the name speech
from . import hifigan, melgan, wavegan  # noqa: F401,E402  (register the families)


def _shaped(dataset, gan: AudioGAN):
    """Waveforms as the family's condition asks for them."""
    if gan.condition == "mel":
        return MelPairs(dataset, gan.mel_config)
    if gan.condition == "label":
        return Labelled(dataset, "use the built-in notes (labelled by their pitch), or a folder with one "
                                 "subfolder of audio files per class or a labels.csv beside the files with "
                                 "columns file,label", gan.num_classes, gan.name or type(gan).__name__)
    return dataset


def _config_hints(source) -> dict:
    """The classes the data dictates unless the user says otherwise, for a family conditioned on
    a label (its config fields ``num_classes`` and ``label_names``): the notes' 8 pitches; a
    folder's classes when a ``labels.csv`` or class subfolders label it (the files are listed,
    not read); nothing for ``speech`` or an unlabelled folder."""
    if source in (None, "notes"):
        return {"num_classes": len(PITCH_NAMES), "label_names": PITCH_NAMES}
    root = Path(source)
    labelled = folder_labels(root, audio_files(root)) if source not in AUDIO.datasets and root.is_dir() else None
    if labelled is None:
        return {}
    names, _ = labelled
    return {"num_classes": len(names), "label_names": names}


def _notes(gan: AudioGAN, split: str):
    return _shaped(notes(split, gan.sample_rate, gan.segment_length), gan)


def _speech(gan: AudioGAN, split: str):
    return _shaped(speech_dataset(split, gan.sample_rate, gan.segment_length), gan)


def _folder(path, gan: AudioGAN, split, skip_bad_files):
    return _shaped(AudioFolder(path, gan.sample_rate, gan.segment_length, skip_bad_files=skip_bad_files), gan)


def _evaluate(gan: AudioGAN, data, n_samples, seed):
    if data is None:  # the run trained on the built-in data its family defaults to: name it
        data = AUDIO.default_source(gan)
    score = {"mel": evaluate_vocoder, "label": evaluate_labelled}.get(gan.condition, evaluate_pitch)
    return score(gan, data, n_samples, seed)


def _read_condition(path, gan: AudioGAN):
    """An audio file's log-mel (1, n_mels, frames), for resynthesis through a vocoder."""
    if gan.condition != "mel":
        raise ConfigError(f"--cond is for vocoders (MelGAN, HiFi-GAN); {gan.name or 'this family'} is conditioned on "
                          f"{gan.condition!r}")
    mel_config = gan.mel_config
    wav = read_audio(path, gan.sample_rate)
    wav = wav[..., : wav.shape[-1] - wav.shape[-1] % mel_config.hop_length]
    return MelSpectrogram(mel_config)(wav[None])


def _seconds(batch, gan: AudioGAN) -> float:
    wave = batch[1] if gan.condition == "mel" else batch[0] if gan.condition == "label" else batch
    return wave.shape[0] * wave.shape[-1] / gan.sample_rate


AUDIO = register_modality(Modality(
    name="audio",
    default_data="notes",
    datasets={"notes": _notes, "speech": _speech},
    load_path=_folder,
    write_samples=write_audio_samples,
    write_example=write_audio_example,
    media=("wav", "audio/wav"),
    encode_example=encode_audio_example,
    check_batch=check_audio_batch,
    evaluate=_evaluate,
    read_condition=_read_condition,
    config_hints=_config_hints,
    unit="seconds of audio",
    batch_units=_seconds,
))

__all__ = ["AUDIO", "AudioGAN"]
