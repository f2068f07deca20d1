import sys
import types
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

import multigan
from multigan.errors import ConfigError, DataError
from multigan.modalities.image.data import ImageFolder, digits
from multigan.modalities.image.io import save_image_grid
from multigan.registry import get_modality

IMAGE = get_modality("image")


def test_digits_splits_are_fixed_disjoint_and_scaled():
    train, test = digits("train"), digits("test")
    assert (len(train), len(test)) == (1438, 359)
    assert train.images.shape[1:] == (1, 32, 32)
    assert train.images.min() >= -1 and train.images.max() <= 1
    assert train.images.min() == -1 and train.images.max() > 0.9
    assert set(train.labels.tolist()) == set(range(10)) == set(test.labels.tolist())
    assert torch.equal(digits("train").images, train.images)
    flat_train = {tuple(x.flatten().tolist()) for x in train.images[:, :, ::4, ::4]}
    assert not any(tuple(x.flatten().tolist()) in flat_train for x in test.images[:20, :, ::4, ::4])


def test_digits_follow_the_model_config():
    x = digits("train", image_size=64, channels=3)
    assert x.images.shape[1:] == (3, 64, 64)
    gan = multigan.build("dcgan")
    assert IMAGE.dataset("digits", gan)[0].shape == (3, 64, 64)


def write_image(path, mode="RGB", size=(40, 30)):
    rng = np.random.default_rng(0)
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(path)


@pytest.mark.parametrize("channels", [1, 3])
def test_image_folder_resizes_crops_and_converts(tmp_path, channels):
    write_image(tmp_path / "a.png", "RGB", (40, 30))
    write_image(tmp_path / "b.jpg", "L", (16, 64))
    (tmp_path / "sub").mkdir()
    write_image(tmp_path / "sub" / "c.JPEG", "RGB", (32, 32))
    (tmp_path / "notes.txt").write_text("not an image and not an image extension")
    data = ImageFolder(tmp_path, image_size=32, channels=channels)
    assert len(data) == 3
    for i in range(3):
        x = data[i]
        assert x.shape == (channels, 32, 32) and x.dtype == torch.float32
        assert -1 <= x.min() and x.max() <= 1


def test_image_folder_through_the_modality(tmp_path):
    write_image(tmp_path / "a.png")
    gan = multigan.build("dcgan", image_size=32, channels=1)
    assert IMAGE.dataset(str(tmp_path), gan)[0].shape == (1, 32, 32)


@pytest.mark.parametrize("content", [b"", b"this is text, not a PNG", b"\x89PNG\r\n\x1a\n truncated"])
def test_unreadable_image_names_the_file(tmp_path, content):
    write_image(tmp_path / "good.png")
    (tmp_path / "bad.png").write_bytes(content)
    with pytest.raises(DataError, match="bad.png"):
        ImageFolder(tmp_path, 32, 3)


def test_unreadable_images_can_be_skipped_with_a_warning(tmp_path):
    write_image(tmp_path / "good.png")
    (tmp_path / "bad.png").write_text("text")
    with pytest.warns(UserWarning, match="bad.png"):
        data = ImageFolder(tmp_path, 32, 3, skip_bad_files=True)
    assert [p.name for p in data.files] == ["good.png"]


def test_folder_of_only_bad_images(tmp_path):
    (tmp_path / "bad.png").write_text("text")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataError, match="no readable image files"):
            ImageFolder(tmp_path, 32, 3, skip_bad_files=True)


def test_empty_folder(tmp_path):
    (tmp_path / "readme.md").write_text("no images here")
    with pytest.raises(DataError, match="has no image files"):
        ImageFolder(tmp_path, 32, 3)


def test_missing_path_and_single_file(tmp_path):
    gan = multigan.build("dcgan")
    with pytest.raises(DataError, match="neither a built-in image dataset .*digits.* nor an existing path"):
        IMAGE.dataset(str(tmp_path / "nowhere"), gan)
    write_image(tmp_path / "one.png")
    with pytest.raises(DataError, match="not a folder of images"):
        IMAGE.dataset(str(tmp_path / "one.png"), gan)


def test_torchvision_datasets_are_read_from_a_local_root(tmp_path, monkeypatch):
    """torchvision is optional; a stand-in module checks the wrapper's contract with it."""
    seen = {}

    class FakeMNIST:
        def __init__(self, root, train, download):
            seen.update(root=root, train=train, download=download)

        def __len__(self):
            return 2

        def __getitem__(self, i):
            return Image.new("L", (28, 28), color=255 * i), i

    class FakeSVHN(FakeMNIST):  # takes split= instead of train=
        def __init__(self, root, split, download):
            seen.update(root=root, split=split, download=download)

    fake = types.ModuleType("torchvision.datasets")
    fake.FakeMNIST, fake.FakeSVHN = FakeMNIST, FakeSVHN
    monkeypatch.setitem(sys.modules, "torchvision", types.ModuleType("torchvision"))
    monkeypatch.setitem(sys.modules, "torchvision.datasets", fake)
    gan = multigan.build("dcgan", image_size=32, channels=1)
    data = IMAGE.dataset(f"torchvision:FakeMNIST:{tmp_path}", gan)
    assert seen == {"root": str(tmp_path), "train": True, "download": False}
    assert data[0].shape == (1, 32, 32) and data[0].max() == -1 and data[1].min() == 1
    seen.clear()
    IMAGE.dataset(f"torchvision:FakeSVHN:{tmp_path}", gan, split="test")
    assert seen == {"root": str(tmp_path), "split": "test", "download": False}
    with pytest.raises(ConfigError, match="no dataset 'CIFAR11'"):
        IMAGE.dataset(f"torchvision:CIFAR11:{tmp_path}", gan)
    with pytest.raises(DataError, match="does not exist"):
        IMAGE.dataset(f"torchvision:FakeMNIST:{tmp_path / 'nowhere'}", gan)


def test_png_grid(tmp_path):
    images = torch.full((5, 3, 8, 8), -1.0)
    images[1] = 1.0
    path = save_image_grid(images, tmp_path / "grid.png")
    with Image.open(path) as im:
        assert im.mode == "RGB" and im.size == (3 * 10 + 2, 2 * 10 + 2)  # 3 columns, 2 rows, 2 px padding
        pixels = np.asarray(im)
    assert pixels[2, 2].tolist() == [0, 0, 0]  # -1 maps to black
    assert pixels[2, 12].tolist() == [255, 255, 255]  # the second tile, +1 maps to white
    assert pixels[1, 12].tolist() == [0, 0, 0]  # padding
    gray = save_image_grid(torch.ones(1, 1, 4, 4), tmp_path / "gray.png")
    with Image.open(gray) as im:
        assert im.mode == "L" and np.asarray(im)[3, 3] == 255
