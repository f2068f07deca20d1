import numpy as np
import pytest
import torch

import multigan
from multigan.metrics import (class_histogram_kl, frechet_distance, kernel_distance, memorisation,
                              precision_recall_density_coverage, with_references)
from multigan.modalities.image.data import digits
from multigan.modalities.image.metrics import (copy_index, digits_classifier, evaluate_digits, evaluate_images,
                                               to_digits_space)


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


def test_frechet_distance_of_a_set_with_itself_is_zero_where_the_covariance_is_singular():
    """Fewer samples than features (as with 2,048-d Inception features of a small folder):
    sqrtm(C @ C) drifts here, the symmetric square roots do not."""
    a = np.random.default_rng(2).standard_normal((50, 512)) * 3
    assert abs(frechet_distance(a, a)) < 1e-6
    assert frechet_distance(a, a + 1.0) == pytest.approx(512.0, rel=1e-6)   # a shift: |mu_a - mu_b|^2 only


def _mmd2_unbiased(x, y):
    d = x.shape[1]
    k = lambda p, q: (p @ q.T / d + 1) ** 3  # noqa: E731
    m = len(x)
    kxx, kyy = k(x, x), k(y, y)
    return ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (m * (m - 1)) - 2 * k(x, y).mean()


def test_kernel_distance_is_the_unbiased_mmd_with_the_cubic_kernel():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((40, 4)), rng.standard_normal((40, 4)) + 0.5
    mean, std = kernel_distance(x, y, subsets=3, subset_size=40)   # every subset is the whole set
    assert mean == pytest.approx(_mmd2_unbiased(x, y)) and std == pytest.approx(0.0, abs=1e-12)
    same = [kernel_distance(rng.standard_normal((300, 8)), rng.standard_normal((300, 8)), subsets=20,
                            subset_size=100, seed=s)[0] for s in range(3)]
    shifted = kernel_distance(rng.standard_normal((300, 8)), rng.standard_normal((300, 8)) + 0.5,
                              subsets=20, subset_size=100)[0]
    assert max(abs(v) for v in same) < 0.1 * shifted   # unbiased: around 0 for one distribution


def test_precision_recall_density_coverage_of_one_distribution_and_of_copies():
    rng = np.random.default_rng(4)
    real, fake = rng.standard_normal((1000, 16)), rng.standard_normal((1000, 16))
    same = precision_recall_density_coverage(real, fake, k=5)
    assert same["precision"] > 0.8 and same["recall"] > 0.8
    assert same["density"] == pytest.approx(1.0, abs=0.15)
    assert same["coverage"] == pytest.approx(1 - 0.5 ** 5, abs=0.04)   # Naeem et al.'s expectation
    copies = precision_recall_density_coverage(real, np.repeat(real[:10], 100, axis=0), k=5)
    assert copies["precision"] == 1.0 and copies["recall"] <= 0.01 and copies["coverage"] < 0.1
    far = precision_recall_density_coverage(real, fake + 10, k=5)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_memorisation_is_zero_for_copies_and_near_one_for_new_samples():
    rng = np.random.default_rng(5)
    train, test, new = (rng.standard_normal((500, 8)) for _ in range(3))
    assert memorisation(train[rng.integers(0, 500, 300)], train, test) == 0.0
    assert memorisation(train + 0.05, train, test) < 0.1
    assert memorisation(new, train, test) == pytest.approx(1.0, abs=0.15)


def test_class_histogram_kl_sees_collapse_and_unclaimed_samples():
    labels = np.arange(1000) % 10
    real = np.eye(10)[labels] * 0.95 + 0.005
    assert class_histogram_kl(real, real) == pytest.approx(0.0, abs=1e-12)
    collapsed = np.eye(10)[np.zeros(1000, dtype=int)]
    assert class_histogram_kl(collapsed, real) == pytest.approx(np.log(10), abs=0.05)
    unsure = np.full((1000, 10), 0.1)                  # no class claimed: the extra bin only
    assert class_histogram_kl(unsure, real) > 5
    half_sure = np.where(np.arange(1000)[:, None] % 2 == 0, real, 0.1)
    assert 0.1 < class_histogram_kl(half_sure, real) < class_histogram_kl(unsure, real)


def test_with_references_scores_each_reference_the_same_way():
    result = with_references(lambda x: {"mean": float(np.mean(x))}, [1, 2], {"zeros": lambda: [0, 0]})
    assert result == {"mean": 1.5, "references": {"zeros": {"mean": 0.0}}}


def test_copies_take_every_class_in_turn():
    labels = torch.tensor([0, 0, 1, 2, 1, 2, 0])
    assert copy_index(labels, 3, 7).tolist() == [0, 2, 3, 0, 2, 3, 0]
    assert copy_index(labels, 6, 6).tolist() == [0, 2, 3, 1, 4, 5]
    assert copy_index(None, 2, 5).tolist() == [0, 1, 0, 1, 0]


class Replay(multigan.GAN):
    """A 'generator' returning real training digits: the best a copier can be."""

    def generate(self, n, *, cond, rng):
        return digits("train").images[torch.randint(1438, (n,), generator=rng)]

    def discriminator_loss(self, batch):
        raise AssertionError

    generator_loss = discriminator_loss


def _replay():
    gan = multigan.build("dcgan", image_size=32, channels=1, g_width=8, d_width=8)
    replay = Replay(gan.config, gan.generator, gan.discriminator)
    replay.name = "dcgan"
    return replay


def test_digits_eval_ranks_real_data_above_every_trivial_reference():
    metrics = evaluate_digits(_replay(), "digits", n_samples=400)
    refs = metrics["references"]
    assert set(refs) == {"real", "copy10", "copy100", "untrained"}
    assert all(set(r) == set(metrics) - {"references"} for r in refs.values())
    real = refs["real"]
    for worse in ("copy10", "copy100", "untrained"):
        assert real["fd"] < 0.5 * refs[worse]["fd"], worse
        assert real["kid"] < refs[worse]["kid"], worse
        assert real["recall"] > refs[worse]["recall"] + 0.5, worse
        assert real["coverage"] > refs[worse]["coverage"] + 0.2, worse
    for copier in ("copy10", "copy100"):
        assert refs[copier]["memorisation"] < 0.1 and refs[copier]["modes_covered"] == 10
    assert refs["untrained"]["class_kl"] > 1 > 0.1 > real["class_kl"]
    # the replaying 'model' copies the training set: like real data on fd, but memorisation 0
    assert metrics["fd"] < 0.5 * refs["copy100"]["fd"] and metrics["memorisation"] < 1e-6


def test_image_eval_refuses_unknown_features():
    gan = multigan.build("dcgan", image_size=32, channels=1)
    with pytest.raises(multigan.ConfigError, match="features 'clip'"):
        evaluate_images(gan, "digits", features="clip")
    with pytest.raises(multigan.ConfigError, match="--inception applies"):
        evaluate_images(gan, "digits", inception="/some/file.pt")
