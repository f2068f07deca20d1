import hashlib
import subprocess
import sys
import types
import warnings

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image

import multigan
from multigan.errors import ConfigError, DataError
from multigan.modalities.audio.data import (NOISE_FLOOR, PITCHES, AudioFolder, MelPairs, check_audio_batch, midi_to_hz,
                                            notes, read_audio)
from multigan.modalities.audio.features import MelConfig
from multigan.modalities.audio.io import save_spectrogram_png, save_wav, spectrogram_image, write_audio_samples


# ---------------------------------------------------------------- notes

def _digest(data, items=range(4)) -> str:
    return hashlib.sha256(b"".join(data[i].numpy().tobytes() for i in items)).hexdigest()


def test_notes_are_deterministic_across_calls_objects_and_processes():
    a, b = notes(), notes()
    assert torch.equal(a[7], a[7]) and torch.equal(a[7], b[7])
    assert torch.equal(a.labels, b.labels)
    assert not torch.equal(a[0], notes("test")[0]) and not torch.equal(a[0], notes(seed=1)[0])
    code = ("from multigan.modalities.audio.data import notes; import hashlib; d = notes(); "
            "print(hashlib.sha256(b''.join(d[i].numpy().tobytes() for i in range(4))).hexdigest())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == _digest(a)


@pytest.mark.parametrize("segment_length", [16384, 32768, 65536, 8192])
def test_notes_shapes_range_and_padding(segment_length):
    data = notes("test", segment_length=segment_length, size=4)
    for i in range(len(data)):
        x = data[i]
        assert x.shape == (1, segment_length) and x.dtype == torch.float32
        assert x.abs().max() == pytest.approx(0.9, abs=0.01)   # peak-normalised (plus the floor), wherever cropped
        assert x[0, 0].abs() < 0.05                             # starts at sample 0, from silence
        if segment_length > 16000:
            tail = x[0, 16000:]                                 # one second, then only the -60 dB floor
            assert tail.pow(2).mean().sqrt().item() == pytest.approx(NOISE_FLOOR, rel=0.1)


def test_notes_sizes_and_labels():
    train, test = notes("train"), notes("test")
    assert (len(train), len(test), len(notes(size=10))) == (4096, 512, 10)
    for data in (train, test):
        assert data.labels.dtype == torch.long and len(data.labels) == len(data)
        assert set(data.labels.tolist()) == set(range(len(PITCHES)))
    assert train.source == "notes (train)" and train.sample_rate == 16000
    assert torch.equal(notes("train", size=20).labels, train.labels[:20])
    with pytest.raises(ConfigError, match="'valid'"):
        notes("valid")


@pytest.mark.parametrize("sample_rate", [16000, 22050])
def test_notes_sound_at_their_labelled_pitch(sample_rate):
    data = notes("test", sample_rate=sample_rate, segment_length=16384, size=8)
    for i in range(len(data)):
        spectrum = np.abs(np.fft.rfft(data[i][0].numpy().astype(np.float64)))
        peak = spectrum.argmax() * sample_rate / 16384
        f0 = midi_to_hz(PITCHES[data.labels[i]])
        harmonic = round(peak / f0)
        assert 1 <= harmonic <= 8 and abs(peak / (harmonic * f0) - 1) < 0.02, (i, peak, f0)


# ---------------------------------------------------------------- AudioFolder

def sine(freq, seconds, rate, amplitude=0.5):
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_resampling_keeps_the_frequency(tmp_path):
    sf.write(tmp_path / "a.wav", sine(1000, 0.5, 44100), 44100)
    x = AudioFolder(tmp_path, 16000, 8000)[0]
    assert x.shape == (1, 8000) and x.dtype == torch.float32
    assert x[0, -100:].abs().max() > 0.1                      # 0.5 s at 16 kHz: 8,000 samples, no padding
    peak = np.abs(np.fft.rfft(x[0].numpy())).argmax() * 16000 / 8000
    assert peak == pytest.approx(1000, abs=3)


def test_stereo_is_mixed_down(tmp_path):
    left = sine(440, 0.25, 16000, amplitude=0.8)
    sf.write(tmp_path / "s.wav", np.stack([left, np.zeros_like(left)], axis=1), 16000)
    x = AudioFolder(tmp_path, 16000, 4000, normalize="none")[0]
    assert torch.allclose(x[0], torch.from_numpy(left) / 2, atol=1e-4)


def test_long_files_are_cropped_at_random_and_short_ones_padded(tmp_path):
    ramp = np.linspace(-0.9, 0.9, 20000, dtype=np.float32)
    sf.write(tmp_path / "long.wav", ramp, 16000, subtype="FLOAT")
    sf.write(tmp_path / "short.wav", ramp[:1000], 16000, subtype="FLOAT")
    data = AudioFolder(tmp_path, 16000, 8192, normalize="none")
    crops = []
    for seed in (0, 1, 0):
        torch.manual_seed(seed)
        crop = data[0][0].numpy()
        start = int(np.argmin(np.abs(ramp - crop[0])))
        assert np.allclose(crop, ramp[start:start + 8192])
        crops.append(start)
    assert crops[0] == crops[2] != crops[1]            # the global torch RNG decides the crop
    short = data[1]
    assert short.shape == (1, 8192)
    assert np.allclose(short[0, :1000].numpy(), ramp[:1000]) and torch.all(short[0, 1000:] == 0)


def test_peak_and_loudness_normalisation(tmp_path):
    sf.write(tmp_path / "a.wav", sine(300, 0.5, 16000, amplitude=0.2), 16000)
    assert AudioFolder(tmp_path, 16000, 8000, normalize="peak")[0].abs().max() == pytest.approx(0.95, rel=1e-4)
    rms = AudioFolder(tmp_path, 16000, 8000, normalize="loudness")[0].pow(2).mean().sqrt()
    assert rms == pytest.approx(0.1, rel=1e-3)   # -20 dBFS
    with pytest.raises(ConfigError, match="'loud'"):
        AudioFolder(tmp_path, 16000, 8000, normalize="loud")


def test_flac_ogg_and_upper_case_extensions(tmp_path):
    sf.write(tmp_path / "a.flac", sine(440, 0.3, 22050), 22050)
    sf.write(tmp_path / "b.ogg", sine(440, 0.3, 22050), 22050, format="OGG", subtype="VORBIS")
    sf.write(tmp_path / "C.WAV", sine(440, 0.3, 16000), 16000)
    (tmp_path / "notes.txt").write_text("not audio")
    data = AudioFolder(tmp_path, 16000, 4096)
    assert [p.name for p in data.files] == ["C.WAV", "a.flac", "b.ogg"]
    for i in range(3):
        x = data[i]
        assert x.shape == (1, 4096) and x.abs().max() == pytest.approx(0.95, rel=1e-3)
    assert data.source == str(tmp_path)


def write_good(folder):
    sf.write(folder / "good.wav", sine(440, 0.2, 16000), 16000)


def truncated_wav(path):
    sf.write(path, sine(440, 0.2, 16000), 16000)
    path.write_bytes(path.read_bytes()[:30])   # the header is cut before the data chunk


@pytest.mark.parametrize("make_bad", [
    lambda p: p.write_bytes(b"RIFF this is not really a wave file at all"),
    truncated_wav,
    lambda p: p.write_bytes(b""),
    lambda p: sf.write(p, np.zeros(0, np.float32), 16000),
], ids=["garbage", "truncated", "zero-bytes", "zero-frames"])
def test_unreadable_or_empty_files_are_named_when_the_folder_is_opened(tmp_path, make_bad):
    write_good(tmp_path)
    make_bad(tmp_path / "bad.wav")
    with pytest.raises(DataError, match="bad.wav"):
        AudioFolder(tmp_path, 16000, 4096)


@pytest.mark.parametrize("samples", [np.zeros(3200, np.float32), np.full(3200, np.nan, np.float32)],
                         ids=["silent", "nan"])
def test_silent_or_nan_files_are_named_when_read(tmp_path, samples):
    sf.write(tmp_path / "bad.wav", samples, 16000, subtype="FLOAT")
    data = AudioFolder(tmp_path, 16000, 4096)
    with pytest.raises(DataError, match="bad.wav.*(silent|NaN)"):
        data[0]


def test_bad_files_can_be_skipped_with_a_warning(tmp_path):
    sf.write(tmp_path / "a-silent.wav", np.zeros(3200, np.float32), 16000)
    (tmp_path / "b-garbage.wav").write_bytes(b"garbage")
    write_good(tmp_path)
    with pytest.warns(UserWarning, match="b-garbage.wav"):
        data = AudioFolder(tmp_path, 16000, 4096, skip_bad_files=True)
    assert [p.name for p in data.files] == ["a-silent.wav", "good.wav"]
    with pytest.warns(UserWarning, match="a-silent.wav"):
        x = data[0]
    assert torch.equal(x, data[1])   # the next good file instead


def test_a_folder_of_only_bad_files(tmp_path):
    sf.write(tmp_path / "silent.wav", np.zeros(3200, np.float32), 16000)
    data = AudioFolder(tmp_path, 16000, 4096, skip_bad_files=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataError, match="no file that can be decoded"):
            data[0]
    (tmp_path / "silent.wav").write_bytes(b"garbage")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataError, match="no readable audio files"):
            AudioFolder(tmp_path, 16000, 4096, skip_bad_files=True)


def test_read_audio_gives_the_whole_file(tmp_path):
    sf.write(tmp_path / "a.flac", sine(440, 1.5, 22050), 22050)
    wav = read_audio(tmp_path / "a.flac", 16000)
    assert wav.shape == (1, 24000) and wav.abs().max() == pytest.approx(0.95, rel=1e-4)
    assert read_audio(tmp_path / "a.flac", 22050, normalize="none").abs().max() == pytest.approx(0.5, rel=1e-3)
    with pytest.raises(DataError, match="missing.wav.*does not exist"):
        read_audio(tmp_path / "missing.wav", 16000)


def test_empty_folder_and_non_folder(tmp_path):
    (tmp_path / "readme.md").write_text("no audio here")
    with pytest.raises(DataError, match=f"{tmp_path.name}.*has no audio files"):
        AudioFolder(tmp_path, 16000, 4096)
    write_good(tmp_path)
    with pytest.raises(DataError, match="good.wav.*not a folder"):
        AudioFolder(tmp_path / "good.wav", 16000, 4096)
    with pytest.raises(DataError, match="nowhere.*not a folder"):
        AudioFolder(tmp_path / "nowhere", 16000, 4096)


def test_sc09_and_ljspeech_layouts(tmp_path):
    for word in ("zero", "one", "two"):
        (tmp_path / "sc09" / "train" / word).mkdir(parents=True)
        for k in range(2):
            sf.write(tmp_path / "sc09" / "train" / word / f"{word}_{k}.wav", sine(300 + 50 * k, 0.9, 16000), 16000)
    data = AudioFolder(tmp_path / "sc09" / "train", 16000, 16384)
    assert len(data) == 6 and data[5].shape == (1, 16384)
    wavs = tmp_path / "LJSpeech-1.1" / "wavs"
    wavs.mkdir(parents=True)
    (tmp_path / "LJSpeech-1.1" / "metadata.csv").write_text("LJ001-0001|Printing|Printing\n")
    sf.write(wavs / "LJ001-0001.wav", sine(200, 1.5, 22050), 22050)
    data = AudioFolder(tmp_path / "LJSpeech-1.1", 22050, 8192)
    assert len(data) == 1 and data[0].shape == (1, 8192)


# ---------------------------------------------------------------- MelPairs, batches

def test_mel_pairs(tmp_path):
    pairs = MelPairs(notes("test", sample_rate=22050, segment_length=8192, size=3), MelConfig())
    mel, wav = pairs[1]
    assert mel.shape == (80, 32) and wav.shape == (1, 8192)
    assert torch.equal(wav, notes("test", sample_rate=22050, segment_length=8192, size=3)[1])
    assert len(pairs) == 3 and pairs.source == "notes (test)" and len(pairs.labels) == 3
    write_good(tmp_path)
    folder_pairs = MelPairs(AudioFolder(tmp_path, 22050, 8192), MelConfig())
    assert folder_pairs.source == str(tmp_path) and not hasattr(folder_pairs, "labels")
    assert folder_pairs[0][0].shape == (80, 32)


def test_check_audio_batch():
    gan = multigan.build("wavegan", segment_length=4096, model_size=2)
    ok = torch.zeros(2, 1, 4096)
    check_audio_batch(ok, gan)
    for bad, pattern in [(torch.zeros(2, 2, 4096), r"\(N, 1, 4096\), got \(2, 2, 4096\)"),
                         (torch.zeros(2, 4096), r"got \(2, 4096\)"),
                         (torch.zeros(2, 1, 32), r"got \(2, 1, 32\)"),
                         ([ok], "got list"),
                         (torch.zeros(2, 1, 4096, dtype=torch.long), "float")]:
        with pytest.raises(DataError, match=f"wavegan.*{pattern}"):
            check_audio_batch(bad, gan)


def test_check_audio_batch_follows_the_condition():
    vocoder = multigan.build("melgan", segment_length=2048)
    wav = torch.zeros(2, 1, 2048)
    check_audio_batch((vocoder.mel(wav), wav), vocoder)
    with pytest.raises(DataError, match=r"\(mel, waveform\) pairs, got Tensor"):
        check_audio_batch(wav, vocoder)
    with pytest.raises(DataError, match=r"mels of shape \(N, 80, frames\), got \(2, 64, 8\)"):
        check_audio_batch((torch.zeros(2, 64, 8), wav), vocoder)


# ---------------------------------------------------------------- writers

def test_save_wav_clips_and_keeps_rate_and_length(tmp_path):
    path = save_wav(torch.linspace(-2, 2, 1000)[None], tmp_path / "deep" / "a.wav", 22050)
    data, rate = sf.read(path)
    info = sf.info(path)
    assert (rate, len(data), info.subtype) == (22050, 1000, "PCM_16")
    assert data.min() == pytest.approx(-1, abs=1e-4) and data.max() == pytest.approx(1, abs=1e-4)


def test_spectrogram_image_puts_low_frequencies_at_the_bottom(tmp_path):
    image = spectrogram_image(torch.from_numpy(sine(500, 1.0, 16000)), 16000)
    assert image.dtype == np.uint8 and image.shape == (257, 126, 3)
    brightest_row = image.astype(int).sum(axis=2).mean(axis=1).argmax()
    assert brightest_row == 256 - 16          # 500 Hz is bin 16 of 257 (31.25 Hz per bin), counted from the bottom
    silent = spectrogram_image(np.zeros(4096, np.float32), 16000)
    assert (silent == silent[0, 0]).all() and silent[0, 0].sum() < 200   # uniformly dark
    path = save_spectrogram_png(torch.from_numpy(sine(500, 0.5, 16000))[None], tmp_path / "s.png", 16000)
    with Image.open(path) as im:
        assert im.mode == "RGB" and len(im.getbands()) == 3


def test_sample_writer(tmp_path):
    gan = types.SimpleNamespace(sample_rate=16000)  # the writer reads the AudioGAN contract only
    one = write_audio_samples(torch.zeros(1, 1, 2048).uniform_(-1, 1), tmp_path / "a" / "step-1.wav", gan)
    assert [p.name for p in one] == ["step-1.wav", "step-1.png"]
    many = write_audio_samples(torch.zeros(3, 1, 2048).uniform_(-1, 1), tmp_path / "b" / "step-2", gan)
    assert sorted(p.name for p in many) == ["step-2-000.png", "step-2-000.wav", "step-2-001.png",
                                            "step-2-001.wav", "step-2-002.png", "step-2-002.wav"]
    for path in one + many:
        assert path.is_file()
        if path.suffix == ".wav":
            assert sf.info(path).samplerate == 16000 and sf.info(path).frames == 2048
        else:
            with Image.open(path) as im:
                assert len(im.getbands()) == 3
