import numpy as np
import pytest
import torch

import multigan
from multigan.metrics import frechet_distance
from multigan.modalities.image.data import digits
from multigan.modalities.image.metrics import digits_classifier, evaluate_digits, to_digits_space


def test_frechet_distance_of_gaussians_with_known_moments():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20000, 3))
    b = rng.standard_normal((20000, 3)) * 2 + np.array([1.0, 0.0, 0.0])
    # |mu|^2 + tr(I + 4I - 2 * 2I) = 1 + 3
    assert frechet_distance(a, b) == pytest.approx(4.0, rel=0.03)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_matches_scipy_sqrtm_on_full_covariances():
    from scipy.linalg import sqrtm

    rng = np.random.default_rng(1)
    a = rng.standard_normal((500, 6)) @ rng.standard_normal((6, 6))
    b = rng.standard_normal((400, 6)) @ rng.standard_normal((6, 6)) + 0.5
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(ca + cb - 2 * sqrtm(ca @ cb).real)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_digits_classifier_is_accurate_on_the_test_split():
    clf = digits_classifier()
    test = digits("test")
    with torch.no_grad():
        accuracy = (clf(test.images).argmax(1) == test.labels).float().mean().item()
    assert accuracy > 0.95


def test_samples_of_other_sizes_are_compared_at_32x32_gray():
    x = to_digits_space(torch.zeros(2, 3, 64, 64))
    assert x.shape == (2, 1, 32, 32)


def test_metrics_need_the_digits_dataset():
    gan = multigan.build("dcgan", image_size=32, channels=1)
    with pytest.raises(multigan.ConfigError, match="digits"):
        evaluate_digits(gan, "/some/folder")


def test_real_images_score_near_the_floor_and_cover_every_digit():
    """A 'generator' that returns real training digits scores like real data."""
    class Replay(multigan.GAN):
        def generate(self, n, *, cond, rng):
            return digits("train").images[torch.randint(1438, (n,), generator=rng)]

        def discriminator_loss(self, batch):
            raise AssertionError

        generator_loss = discriminator_loss

    gan = multigan.build("dcgan", image_size=32, channels=1, g_width=8, d_width=8)
    replay = Replay(gan.config, gan.generator, gan.discriminator)
    replay.name = "dcgan"
    metrics = evaluate_digits(replay, "digits", n_samples=1000)
    assert metrics["modes_covered"] == 10
    assert metrics["fd"] < 2 * metrics["fd_real"] < 0.05 * metrics["fd_untrained"]
