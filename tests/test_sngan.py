"""SNGAN with the projection discriminator, spectral norm as a shared layer, class labels
through the image data path and sampling by label."""

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import multigan
from multigan import ConfigError
from multigan.errors import DataError
from multigan.labels import label_indices
from multigan.layers import spectral_normed
from multigan.modalities.image.data import ImageFolder
from multigan.modalities.image.sngan import ConditionalBatchNorm2d, ProjectionDiscriminator
from multigan.train.trainer import Trainer

TINY = {"n_critic": 1, "image_size": 32, "channels": 1, "num_classes": 10, "latent_dim": 8, "g_width": 8, "d_width": 8}


def tiny(**overrides):
    torch.manual_seed(0)
    return multigan.build("sngan", **{**TINY, **overrides})


def test_done_when_two_labels_give_two_images():
    images = multigan.build("sngan", num_classes=10).sample(cond=[3, 7])
    assert images.shape == (2, 3, 32, 32) and images.abs().max() <= 1


@pytest.mark.parametrize("size", [32, 64])
def test_shapes_and_sampling_by_name_index_or_count(size):
    gan = tiny(image_size=size)
    assert gan.sample(cond=["3", 7, torch.tensor(1)]).shape == (3, 1, size, size)
    assert gan.sample(5, cond="7").shape == (5, 1, size, size)
    assert gan.sample(4).shape == (4, 1, size, size)        # no labels: every class in turn
    a, b = gan.sample(cond=[3, 7], seed=1), gan.sample(cond=["3", "7"], seed=1)
    assert torch.equal(a, b)


def test_the_label_changes_the_image_and_only_the_label():
    gan = tiny()
    assert torch.equal(gan.sample(cond=[2], seed=0), gan.sample(cond=[5], seed=0))  # fresh: gamma 1, beta 0 for all
    with torch.no_grad():
        for name, table in gan.generator.named_parameters():
            if name.endswith(("gamma.weight", "beta.weight")):
                table.add_(torch.randn_like(table))
    same = gan.sample(cond=[2, 2], seed=0)
    other = gan.sample(cond=[2, 5], seed=0)
    assert torch.equal(same[0], other[0]) and not torch.allclose(same[1], other[1])


@pytest.mark.parametrize("cond, message", [
    (["x"], r"label 'x' is not one of sngan's 10 classes; valid labels: 0, 1, 2, .*, 9"),
    ([10], r"label 10 is not one of"),
    ([-1], r"label -1 is not one of"),
    ([], r"asks for no samples"),
])
def test_wrong_labels_list_the_valid_ones(cond, message):
    with pytest.raises(ConfigError, match=message):
        tiny().sample(cond=cond)


def test_named_classes_and_a_count_mismatch():
    gan = tiny(num_classes=3, label_names=("cat", "dog", "owl"))
    assert gan.label_names == ("cat", "dog", "owl")
    assert gan.sample(cond=["owl", "cat"]).shape == (2, 1, 32, 32)
    with pytest.raises(ConfigError, match="valid labels: cat, dog, owl"):
        gan.sample(cond="7")
    with pytest.raises(ConfigError, match="2 labels"):
        gan.sample(3, cond=["cat", "dog"])
    with pytest.raises(ConfigError, match="'label_names': 2 names for num_classes=3"):
        tiny(num_classes=3, label_names=("cat", "dog"))


def test_label_indices_cycle_when_no_label_is_given():
    assert label_indices(None, 7, 3).tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert label_indices("b", 2, 3, ("a", "b", "c")).tolist() == [1, 1]


def test_unconditional_when_num_classes_is_0():
    gan = tiny(num_classes=0)
    assert gan.discriminator.embed is None
    assert gan.sample(3).shape == (3, 1, 32, 32)
    with pytest.raises(ConfigError, match="unconditional"):
        gan.sample(cond=[1])


@pytest.mark.parametrize("make", [lambda: nn.Linear(20, 7), lambda: nn.Conv2d(3, 6, 3), lambda: nn.Embedding(5, 9)])
def test_spectral_norm_brings_the_largest_singular_value_to_1(make):
    torch.manual_seed(0)
    layer = make()
    with torch.no_grad():
        layer.weight.mul_(5)
    normed = spectral_normed(layer)
    x = torch.randint(0, 5, (4,)) if isinstance(layer, nn.Embedding) else torch.randn(2, *(
        (20,) if isinstance(layer, nn.Linear) else (3, 8, 8)))
    for _ in range(200):                     # one power iteration per training forward
        normed(x)
    normed.eval()
    matrix = normed.weight.detach().flatten(1)
    assert torch.linalg.svdvals(matrix)[0].item() == pytest.approx(1.0, abs=2e-3)
    assert spectral_normed(nn.Linear(2, 2), enabled=False).__class__ is nn.Linear


def test_the_discriminator_is_spectral_normed_everywhere():
    d = tiny().discriminator
    weighted = [m for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding))]
    assert weighted and all(nn.utils.parametrize.is_parametrized(m, "weight") for m in weighted)
    d = tiny(spectral_norm=False).discriminator
    assert not any(nn.utils.parametrize.is_parametrized(m) for m in d.modules())


def test_the_projection_head_by_hand():
    torch.manual_seed(0)
    d = ProjectionDiscriminator(32, 1, 4, num_classes=3, sn=False).eval()
    with torch.no_grad():
        d.linear.weight.copy_(torch.tensor([[1.0, -2.0, 0.5, 0.0]]))
        d.linear.bias.fill_(0.25)
        d.embed.weight.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 3.0, -1.0]]))
    x, y = torch.randn(3, 1, 32, 32), torch.tensor([0, 1, 2])
    h = d.features(x)
    expected = torch.stack([
        h[0, 0] - 2 * h[0, 1] + 0.5 * h[0, 2] + 0.25 + h[0, 0],
        h[1, 0] - 2 * h[1, 1] + 0.5 * h[1, 2] + 0.25 + h[1, 1],
        h[2, 0] - 2 * h[2, 1] + 0.5 * h[2, 2] + 0.25 + 3 * h[2, 2] - h[2, 3],
    ])
    torch.testing.assert_close(d(x, y), expected)
    torch.testing.assert_close(d(x), d.linear(h).flatten())      # no label: the unconditional score


def test_conditional_batch_norm_scales_and_shifts_per_class():
    cbn = ConditionalBatchNorm2d(2, num_classes=3)
    with torch.no_grad():
        cbn.gamma.weight.copy_(torch.tensor([[1.0, 1.0], [2.0, 0.5], [-1.0, 3.0]]))
        cbn.beta.weight.copy_(torch.tensor([[0.0, 0.0], [1.0, -1.0], [0.5, 0.5]]))
    x = torch.randn(6, 2, 4, 4)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    normalised = nn.functional.batch_norm(x, None, None, training=True)
    expected = cbn.gamma.weight[y][:, :, None, None] * normalised + cbn.beta.weight[y][:, :, None, None]
    torch.testing.assert_close(cbn(x, y), expected)
    fresh = ConditionalBatchNorm2d(2, num_classes=3)     # starts as the identity after normalising
    torch.testing.assert_close(fresh(x, y), normalised)


def test_digits_train_with_their_labels_and_labels_survive_the_checkpoint(tmp_path):
    gan = tiny(num_classes=10)
    Trainer(gan, out_dir=tmp_path / "run", max_steps=2, batch_size=8, precision="32",
            sample_every=2, checkpoint_every=2, progress=False).fit()
    loaded = multigan.load(tmp_path / "run")
    assert loaded.num_classes == 10 and loaded.label_names == tuple("0123456789")
    torch.testing.assert_close(loaded.sample(cond=["7"], seed=0), gan.sample(cond=["7"], seed=0))
    assert (tmp_path / "run" / "samples" / "step-000002.png").is_file()


def test_resume_is_bitwise(tmp_path):
    settings = dict(batch_size=8, precision="32", progress=False, checkpoint_every=1, sample_every=0)
    whole = tiny()
    Trainer(whole, out_dir=tmp_path / "whole", max_steps=2, **settings).fit()
    half = tiny()
    Trainer(half, out_dir=tmp_path / "half", max_steps=1, **settings).fit()
    resumed = tiny()
    Trainer(resumed, out_dir=tmp_path / "half", max_steps=2, **settings).fit()
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def _folder(root, layout):
    for i, rel in enumerate(layout):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((8, 8), 40 * i, dtype=np.uint8)).save(path)
    return root


def test_class_subfolders_are_labels(tmp_path):
    root = _folder(tmp_path / "pets", ["dog/a.png", "cat/b.png", "dog/c.png", "owl/d.png"])
    data = ImageFolder(root, 32, 1)
    assert data.label_names == ("cat", "dog", "owl")
    assert [data.label_names[i] for i in data.labels] == ["cat", "dog", "dog", "owl"]   # files sorted by path
    flat = ImageFolder(_folder(tmp_path / "flat", ["a.png", "b.png"]), 32, 1)
    assert flat.labels is None and flat.label_names is None


def test_a_conditional_family_refuses_unlabelled_or_mismatched_data(tmp_path):
    flat = _folder(tmp_path / "flat", ["a.png", "b.png"])
    with pytest.raises(DataError, match="has no class labels.*one subfolder of images per class"):
        Trainer(tiny(), out_dir=tmp_path / "a", data=str(flat), max_steps=1, batch_size=2, progress=False).fit()
    pets = _folder(tmp_path / "pets", ["dog/a.png", "cat/b.png"])
    with pytest.raises(DataError, match="has 2 classes \\(cat, dog\\).*build it with num_classes=2"):
        Trainer(tiny(), out_dir=tmp_path / "b", data=str(pets), max_steps=1, batch_size=2, progress=False).fit()
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_folder_of_classes_trains_and_samples_by_name(tmp_path):
    pets = _folder(tmp_path / "pets", ["dog/a.png", "cat/b.png", "dog/c.png", "cat/d.png"])
    gan = tiny(num_classes=2, label_names=("cat", "dog"))
    Trainer(gan, out_dir=tmp_path / "run", data=str(pets), max_steps=1, batch_size=2,
            precision="32", progress=False).fit()
    assert multigan.load(tmp_path / "run").sample(cond=["dog", "cat"]).shape == (2, 1, 32, 32)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sngan") / "run"
    Trainer(tiny(), out_dir=out, max_steps=1, batch_size=4, precision="32", progress=False).fit()
    return out


def test_sample_by_label_on_the_command_line(run, tmp_path, capsys):
    from multigan.cli import main

    assert main(["sample", str(run), "--label", "7", "--n", "6", "--out", str(tmp_path / "sevens.png")]) == 0
    assert Image.open(tmp_path / "sevens.png").size == (3 * 34 + 2, 2 * 34 + 2)   # 6 images, 3 to a row
    assert main(["sample", str(run), "--label", "all", "--n", "2", "--out", str(tmp_path / "all" / "g.png")]) == 0
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == [f"g-{d}.png" for d in range(10)]
    capsys.readouterr()
    assert main(["sample", str(run), "--label", "eleven", "--out", str(tmp_path / "bad" / "b.png")]) == 2
    assert "valid labels: 0, 1, 2" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_label_on_an_unconditional_run_is_one_clear_line(tmp_path, capsys):
    from multigan.cli import main

    out = tmp_path / "run"
    Trainer(tiny(num_classes=0), out_dir=out, max_steps=1, batch_size=4, precision="32", progress=False).fit()
    assert main(["sample", str(out), "--label", "all", "--out", str(tmp_path / "x.png")]) == 2
    assert "is not class-conditional" in capsys.readouterr().err
    assert main(["sample", str(out), "--label", "3", "--out", str(tmp_path / "x.png")]) == 2
    assert "unconditional" in capsys.readouterr().err and not (tmp_path / "x.png").exists()


def test_label_accuracy_hears_whether_samples_follow_their_labels():
    from multigan.labels import label_indices
    from multigan.modalities.image.data import digits
    from multigan.modalities.image.metrics import evaluate_digits

    test = digits("test")
    by_class = [test.images[test.labels == k] for k in range(10)]

    class Oracle(type(tiny())):
        """Real test digits of the asked class (shifted by ``offset`` classes: a wrong-label oracle)."""
        offset = 0

        def generate(self, n, *, cond, rng):
            labels = label_indices(cond, n, self.num_classes)
            return torch.stack([by_class[(k + self.offset) % 10][i % 30]
                                for i, k in enumerate(labels.tolist())])

    right = Oracle(tiny().config)
    right.name = "sngan"
    wrong = Oracle(tiny().config)
    wrong.name, wrong.offset = "sngan", 3
    good, bad = evaluate_digits(right, "digits", 200), evaluate_digits(wrong, "digits", 200)
    assert good["label_accuracy"] > 0.9 and bad["label_accuracy"] < 0.1
    assert good["references"]["real"]["label_accuracy"] > 0.9
    assert good["references"]["untrained"]["label_accuracy"] < 0.4
    assert "label_accuracy" not in evaluate_digits(tiny(num_classes=0), "digits", 50)


def test_the_command_line_takes_the_classes_from_the_folder(tmp_path, capsys):
    from multigan.cli import main

    pets = _folder(tmp_path / "pets", ["dog/a.png", "cat/b.png", "owl/c.png", "cat/d.png"])
    out = tmp_path / "run"
    assert main(["train", "sngan", "--data", str(pets), "--steps", "1", "--batch-size", "2", "--out", str(out),
                 "--set", "g_width=8", "--set", "d_width=8", "--set", "n_critic=1", "--no-progress"]) == 0
    gan = multigan.load(out)
    assert gan.num_classes == 3 and gan.label_names == ("cat", "dog", "owl")
    assert main(["sample", str(out), "--label", "owl", "--n", "2", "--out", str(tmp_path / "owls.png")]) == 0


def test_bench_counts_images_not_pairs():
    from multigan.bench import bench

    (row,) = bench("sngan", steps=1, warmup=0, batch_size=4, precision="32", baseline=False,
                   overrides={k: v for k, v in TINY.items() if k != "image_size"})
    assert row["throughput"] == pytest.approx(4 / row["median_s"])


def test_dcgan_switches_spectral_norm_on():
    torch.manual_seed(0)
    plain = multigan.build("dcgan", image_size=32, channels=1, g_width=4, d_width=4)
    torch.manual_seed(0)
    normed = multigan.build("dcgan", image_size=32, channels=1, g_width=4, d_width=4, spectral_norm=True)
    convs = [m for m in normed.discriminator.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(nn.utils.parametrize.is_parametrized(m, "weight") for m in convs)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in normed.discriminator.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in plain.discriminator.modules())
    # the same initial weights underneath, and a score for every image
    torch.testing.assert_close(convs[0].parametrizations.weight.original, plain.discriminator.net[0].weight)
    assert normed.discriminator(torch.randn(3, 1, 32, 32)).shape == (3,)
