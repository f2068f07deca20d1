"""Class labels through the data path: a ``labels.csv`` beside a flat folder, class subfolders
of audio, the notes' pitch names, torchvision datasets' targets, and the config hints that
carry the classes into a model."""

import importlib
import types
import warnings

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image

import multigan
from multigan.errors import DataError
from multigan.labels import folder_labels
from multigan.modalities.audio.data import PITCHES, AudioFolder, MelPairs, note_name, notes
from multigan.modalities.audio.features import MelConfig
from multigan.modalities.image.data import ImageFolder, TorchvisionImages
from multigan.registry import get_modality

RATE = 16000


def png(path, shade=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8), shade, dtype=np.uint8)).save(path)


def wav(path, hz=440.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, 0.5 * np.sin(2 * np.pi * hz * np.arange(4096) / RATE).astype(np.float32), RATE)


def table(root, text):
    (root / "labels.csv").write_text(text)
    return root


# ---------------------------------------------------------------- labels.csv

def test_labels_csv_labels_a_flat_image_folder(tmp_path):
    for i, name in enumerate(["a.png", "b.png", "c.png"]):
        png(tmp_path / name, 60 * i)
    table(tmp_path, "file,label\na.png,dog\nb.png,cat\nc.png,dog\n")
    data = ImageFolder(tmp_path, 32, 1)
    assert len(data) == 3 and data.label_names == ("cat", "dog")
    assert data.labels.dtype == torch.long and data.labels.tolist() == [1, 0, 1]


def test_labels_csv_for_audio_and_its_tolerant_header(tmp_path):
    wav(tmp_path / "x.wav")
    wav(tmp_path / "deep" / "y.wav", 330)
    wav(tmp_path / "deep" / "z.wav", 220)
    # other column names and order, an extra column, blank lines, "./", a bare name for a nested file
    table(tmp_path, "Speaker , Path,Class\n\nann,./x.wav,yes\nbob,deep/y.wav,no\n\nann,z.wav,yes\n")
    data = AudioFolder(tmp_path, RATE, 4096)
    assert [p.name for p in data.files] == ["y.wav", "z.wav", "x.wav"]   # sorted by path
    assert data.label_names == ("no", "yes") and data.labels.tolist() == [0, 1, 1]
    assert data[0].shape == (1, 4096)


def test_a_file_without_a_row_is_named(tmp_path):
    png(tmp_path / "a.png")
    png(tmp_path / "b.png")
    table(tmp_path, "file,label\na.png,dog\n")
    with pytest.raises(DataError, match="b.png' has no row in .*labels.csv.*add a row 'b.png,<class>'"):
        ImageFolder(tmp_path, 32, 1)


def test_a_row_for_a_file_that_does_not_exist(tmp_path):
    png(tmp_path / "a.png")
    table(tmp_path, "file,label\na.png,dog\nghost.png,cat\n")
    with pytest.raises(DataError, match="line 3 names 'ghost.png', which is not a file under"):
        ImageFolder(tmp_path, 32, 1)


@pytest.mark.parametrize("text, match", [
    ("", "is empty"),
    ("file,species\na.png,dog\n", "line 1: header 'file,species' names no label column"),
    ("name,label\na.png,dog\n", "line 1: header 'name,label' names no file column"),
    ("file,label\na.png,dog,extra\n", "line 2 has 3 fields but the header has 2"),
    ("file,label\na.png,\n", "line 2 has an empty label"),
    ('file,label\n"a.png,dog\n', "line 2 is not valid CSV"),
    ("file,label\na.png,dog\n./a.png,cat\n", "line 3 labels 'a.png' again \\(first on line 2\\)"),
    ("file,label\nsame.png,dog\n", "names 'same.png', and 2 files .* give its path relative"),
], ids=["empty", "no-label-column", "no-file-column", "fields", "empty-label", "quote", "twice", "ambiguous"])
def test_a_malformed_labels_csv_is_named_with_its_line(tmp_path, text, match):
    png(tmp_path / "a.png")
    png(tmp_path / "x" / "same.png")
    png(tmp_path / "y" / "same.png")
    table(tmp_path, text)
    with pytest.raises(DataError, match=match):
        ImageFolder(tmp_path, 32, 1)


def test_labels_csv_wins_over_subfolders_and_matches_by_path(tmp_path):
    png(tmp_path / "x" / "same.png")
    png(tmp_path / "y" / "same.png")
    table(tmp_path, "file,label\nx/same.png,b\ny/same.png,a\n")
    assert folder_labels(tmp_path, sorted(tmp_path.rglob("*.png")))[0] == ("a", "b")
    assert ImageFolder(tmp_path, 32, 1).labels.tolist() == [1, 0]   # not the subfolders x, y


# ---------------------------------------------------------------- audio folders

def test_audio_class_subfolders_are_labels(tmp_path):
    root = tmp_path / "sc09" / "train"
    for word in ("zero", "one", "two"):
        for k in range(2):
            wav(root / word / f"{word}_{k}.wav", 300 + 50 * k)
    data = AudioFolder(root, RATE, 4096)
    assert data.label_names == ("one", "two", "zero")
    assert [data.label_names[i] for i in data.labels] == [p.parent.name for p in data.files]
    flat = AudioFolder(root / "one", RATE, 4096)
    assert flat.labels is None and flat.label_names is None
    pairs = MelPairs(data, MelConfig())
    assert pairs.label_names == data.label_names and torch.equal(pairs.labels, data.labels)


def test_skipped_files_keep_labels_aligned(tmp_path):
    for name, label in [("a.png", "cat"), ("b.png", "owl"), ("c.png", "dog")]:
        png(tmp_path / "img" / name)
    (tmp_path / "img" / "b.png").write_bytes(b"not a png")   # the only owl
    table(tmp_path / "img", "file,label\na.png,cat\nb.png,owl\nc.png,dog\n")
    with pytest.warns(UserWarning, match="b.png"):
        images = ImageFolder(tmp_path / "img", 32, 1, skip_bad_files=True)
    assert [p.name for p in images.files] == ["a.png", "c.png"]
    assert images.label_names == ("cat", "dog") and images.labels.tolist() == [0, 1]

    root = tmp_path / "audio"
    wav(root / "no" / "a.wav", 200)
    (root / "no" / "b.wav").write_bytes(b"garbage")               # dropped when the folder is made
    (root / "yes").mkdir()
    sf.write(root / "yes" / "c.wav", np.zeros(4096, np.float32), RATE)    # silent: found bad only when read
    wav(root / "yes" / "d.wav", 300)
    wav(root / "yes" / "e.wav", 400)
    with pytest.warns(UserWarning, match="b.wav"):
        data = AudioFolder(root, RATE, 4096, normalize="none", skip_bad_files=True)
    assert [p.name for p in data.files] == ["a.wav", "c.wav", "d.wav", "e.wav"]
    assert data.labels.tolist() == [0, 1, 1, 1] and data.label_names == ("no", "yes")
    with pytest.warns(UserWarning, match="c.wav.*silent"):
        stand_in = data[1]                                          # silent when read: the next "yes"
    assert torch.equal(stand_in, data[2])


def test_a_bad_file_is_never_replaced_by_another_class(tmp_path):
    wav(tmp_path / "a" / "good.wav")
    (tmp_path / "b").mkdir()
    sf.write(tmp_path / "b" / "silent.wav", np.zeros(4096, np.float32), RATE)
    data = AudioFolder(tmp_path, RATE, 4096, skip_bad_files=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataError, match="no file of class 'b' that can be decoded"):
            data[1]


# ---------------------------------------------------------------- notes

def test_notes_are_named_by_pitch():
    assert note_name(60) == "C4" and note_name(61) == "C#4" and note_name(69) == "A4" and note_name(21) == "A0"
    data = notes("test", size=8)
    assert data.label_names == ("C4", "D4", "E4", "F4", "G4", "A4", "B4", "C5")
    assert len(data.label_names) == len(PITCHES)
    pairs = MelPairs(data, MelConfig())
    assert pairs.label_names == data.label_names and torch.equal(pairs.labels, data.labels)


# ---------------------------------------------------------------- torchvision

class FakeCIFAR:
    def __init__(self, root, train=True, download=False):
        self.targets = [2, 0, 1, 2] if train else [1]
        self.classes = ["bird", "cat", "dog"]

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        raise AssertionError("labels are read without decoding images")


class FakeSVHN:
    def __init__(self, root, split="train", download=False):
        self.labels = np.array([3, 1, 0])

    def __len__(self):
        return 3


class FakeMNIST(FakeCIFAR):
    def __init__(self, root, train=True, download=False):
        self.targets = torch.tensor([1, 1, 0])
        self.classes = ["0 - zero", "1 - one"]


class FakeCelebA:
    def __init__(self, root, split="train", download=False):
        self.attr = torch.zeros(2, 40, dtype=torch.long)

    def __len__(self):
        return 2


@pytest.fixture
def fake_torchvision(monkeypatch):
    fake = types.SimpleNamespace(CIFAR10=FakeCIFAR, SVHN=FakeSVHN, MNIST=FakeMNIST, CelebA=FakeCelebA)
    real = importlib.import_module
    monkeypatch.setattr(importlib, "import_module",
                        lambda name, *a: fake if name == "torchvision.datasets" else real(name, *a))


def test_torchvision_targets_are_labels(fake_torchvision, tmp_path):
    cifar = TorchvisionImages("CIFAR10", str(tmp_path), 32, 3)
    assert cifar.labels.dtype == torch.long and cifar.labels.tolist() == [2, 0, 1, 2]
    assert cifar.label_names == ("bird", "cat", "dog")
    assert TorchvisionImages("CIFAR10", str(tmp_path), 32, 3, train=False).labels.tolist() == [1]
    svhn = TorchvisionImages("SVHN", str(tmp_path), 32, 3)
    assert svhn.labels.tolist() == [3, 1, 0] and svhn.label_names == ("0", "1", "2", "3")   # no classes: indices
    mnist = TorchvisionImages("MNIST", str(tmp_path), 32, 1)
    assert mnist.labels.dtype == torch.long and mnist.label_names == ("0 - zero", "1 - one")
    celeba = TorchvisionImages("CelebA", str(tmp_path), 32, 3)
    assert celeba.labels is None and celeba.label_names is None


# ---------------------------------------------------------------- config hints, training

def test_config_hints_carry_the_classes(tmp_path):
    image_hints, audio_hints = get_modality("image").config_hints, get_modality("audio").config_hints
    png(tmp_path / "img" / "a.png")
    (tmp_path / "img" / "b.png").write_bytes(b"not a png")   # hints list the files, never read them
    table(tmp_path / "img", "file,label\na.png,dog\nb.png,cat\n")
    assert image_hints(str(tmp_path / "img")) == {"num_classes": 2, "label_names": ("cat", "dog")}
    png(tmp_path / "flat" / "a.png")
    assert image_hints(str(tmp_path / "flat")) == {}

    assert audio_hints("notes") == {"num_classes": 8, "label_names": tuple(note_name(p) for p in PITCHES)}
    assert audio_hints("speech") == {}
    wav(tmp_path / "words" / "yes" / "a.wav")
    wav(tmp_path / "words" / "no" / "b.wav")
    assert audio_hints(str(tmp_path / "words")) == {"num_classes": 2, "label_names": ("no", "yes")}
    table(tmp_path / "words", "file,label\na.wav,x\nb.wav,y\n")
    assert audio_hints(str(tmp_path / "words")) == {"num_classes": 2, "label_names": ("x", "y")}
    assert audio_hints(str(tmp_path / "words" / "no")) == {}


def test_an_audio_family_on_a_label_learns_what_labels_a_folder(tmp_path):
    wav(tmp_path / "flat" / "a.wav")
    gan = types.SimpleNamespace(condition="label", num_classes=3, name="tiny", sample_rate=RATE, segment_length=4096)
    audio = get_modality("audio")
    with pytest.raises(DataError, match="no class labels.*subfolder of audio files per class.*labels.csv"):
        audio.dataset(str(tmp_path / "flat"), gan)
    wav(tmp_path / "words" / "yes" / "a.wav")
    wav(tmp_path / "words" / "no" / "b.wav")
    with pytest.raises(DataError, match="has 2 classes \\(no, yes\\) but tiny was built with num_classes=3"):
        audio.dataset(str(tmp_path / "words"), gan)
    gan.num_classes = 2
    example, label = audio.dataset(str(tmp_path / "words"), gan)[1]
    assert example.shape == (1, 4096) and int(label) == 1


def test_sngan_trains_on_a_folder_labelled_by_labels_csv(tmp_path):
    root = tmp_path / "pets"
    rows = ["file,label"]
    for i in range(6):
        png(root / f"{i}.png", 40 * i)
        rows.append(f"{i}.png,{'cat' if i % 2 else 'dog'}")
    table(root, "\n".join(rows) + "\n")
    torch.manual_seed(0)
    gan = multigan.build("sngan", num_classes=2, channels=1, g_width=8, d_width=8, image_size=32)
    multigan.Trainer(gan, data=str(root), out_dir=tmp_path / "run", max_steps=1, batch_size=4, progress=False).fit()
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()
    with pytest.raises(DataError, match="labels.csv beside the images with columns file,label"):
        unlabelled = tmp_path / "flat"
        png(unlabelled / "a.png")
        multigan.Trainer(gan, data=str(unlabelled), out_dir=tmp_path / "run2", max_steps=1, batch_size=1,
                         progress=False).fit()
