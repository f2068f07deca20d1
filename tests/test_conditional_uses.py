"""What a class-conditional GAN is for, beyond its samples: the classifier scores (cas,
augmentation_gain), intra-FD, a labelled dataset written to disk (``multigan augment``), the
pitch-conditional WaveGAN, the export round trip of a labelled generator and the conditional
digits metrics."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image

import multigan
from multigan import ConfigError
from multigan.augment import MANIFEST, folder_names, write_labelled_dataset
from multigan.classification import ClassifierScores, accuracy, per_class_subset, train_classifier
from multigan.cli import main
from multigan.export import export_generator
from multigan.metrics import frechet_distance
from multigan.modalities.audio.data import PITCH_NAMES, AudioFolder
from multigan.modalities.image.data import ImageFolder
from multigan.modalities.image.metrics import intra_fd
from multigan.train.trainer import Trainer

TINY_SNGAN = {"n_critic": 1, "image_size": 32, "channels": 1, "latent_dim": 8, "g_width": 8, "d_width": 8}
TINY_WAVEGAN = {"segment_length": 4096, "sample_rate": 4000, "model_size": 2}
PETS = ("cat", "dog", "a/b")


def tiny_sngan(**overrides):
    torch.manual_seed(0)
    return multigan.build("sngan", **{**TINY_SNGAN, "num_classes": 10, **overrides})


def tiny_wavegan(**overrides):
    torch.manual_seed(0)
    return multigan.build("wavegan", **{**TINY_WAVEGAN, **overrides})


def labels_matter(gan):
    """A fresh SNGAN's class-conditional batch norms start as the identity for every class (all
    labels give the same image): give each class its own scale and shift."""
    with torch.no_grad():
        for name, table in gan.generator.named_parameters():
            if name.endswith(("gamma.weight", "beta.weight")):
                table.add_(torch.randn_like(table))
    return gan


def clusters(n, means, std, seed):
    """``n`` points of Gaussian clusters around ``means`` (K, D), classes in turn."""
    generator = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % len(means)
    return means[y] + std * torch.randn(n, means.shape[1], generator=generator), y


def hidden_entries(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ---------------------------------------------------------------------------------- classification

def test_cas_is_near_1_for_right_labels_and_chance_for_shuffled_ones():
    means = 3.0 * torch.randn(5, 20, generator=torch.Generator().manual_seed(1))   # well separated
    train, test, generated = clusters(300, means, 1.0, 0), clusters(500, means, 1.0, 1), clusters(300, means, 1.0, 2)
    probe = ClassifierScores(train, test, num_classes=5, seeds=(0, 1))
    real = probe.real_scores()
    assert set(real) == {"cas_real", "cas_real_std", "few_shot_accuracy", "few_shot_accuracy_std"}
    assert real["cas_real"] > 0.95
    right = probe.scores(*generated)
    assert set(right) == {"cas", "cas_std", "augmentation_gain", "augmentation_gain_std"}
    assert right["cas"] > 0.95 and right["cas"] == pytest.approx(real["cas_real"], abs=0.03)
    shuffled = generated[1][torch.randperm(len(generated[1]), generator=torch.Generator().manual_seed(3))]
    wrong = probe.scores(generated[0], shuffled)
    assert wrong["cas"] <= 0.35                          # chance is 0.2
    assert wrong["augmentation_gain"] < 0                # wrong labels hurt the few-shot classifier


def test_augmentation_gain_of_extra_real_examples_is_positive():
    """Extra real examples (as a perfect generator would give) help a classifier that 10
    examples per class leave well below its ceiling, on overlapping clusters."""
    means = 0.5 * torch.randn(5, 20, generator=torch.Generator().manual_seed(1))
    train, test, extra = clusters(500, means, 1.0, 0), clusters(1000, means, 1.0, 1), clusters(500, means, 1.0, 2)
    probe = ClassifierScores(train, test, num_classes=5)
    real = probe.real_scores()
    assert real["few_shot_accuracy"] < real["cas_real"] - 0.05 < 0.9      # not at ceiling
    gain = probe.scores(*extra)
    assert gain["augmentation_gain"] > 0.03
    assert 0 < gain["augmentation_gain_std"] < gain["augmentation_gain"]
    # the gain is measured against the same few-shot runs real_scores reports
    assert gain["augmentation_gain"] + real["few_shot_accuracy"] == pytest.approx(
        np.mean([accuracy(train_classifier(torch.cat([train[0][i], extra[0]]), torch.cat([train[1][i], extra[1]]),
                                           5, seed), *test) for i, seed in zip(probe.few, probe.seeds)]), abs=1e-6)


def test_per_class_subset_draws_k_of_each_class_by_seed():
    labels = torch.tensor([0] * 30 + [1] * 20 + [2] * 3 + [4] * 12)[torch.randperm(65)]
    a = per_class_subset(labels, 5, seed=0)
    assert torch.equal(a, per_class_subset(labels, 5, seed=0))              # deterministic per seed
    assert len(a.unique()) == len(a) and torch.equal(a, a.sort().values)
    counts = torch.bincount(labels[a], minlength=5).tolist()
    assert counts == [5, 5, 3, 0, 5]                     # all 3 of the small class, none of an absent one
    b = per_class_subset(labels, 5, seed=1)
    assert torch.bincount(labels[b], minlength=5).tolist() == counts
    assert not torch.equal(a, b)


def test_train_classifier_leaves_the_global_random_state_alone():
    x, y = clusters(100, 3.0 * torch.randn(5, 20), 1.0, 0)
    before = torch.get_rng_state()
    model = train_classifier(x, y, 5, seed=4, steps=30)
    assert torch.equal(torch.get_rng_state(), before)
    assert not model.training
    with torch.no_grad():          # trains all the same inside a metric's no_grad
        again = train_classifier(x, y, 5, seed=4, steps=30)
    for p, q in zip(model.parameters(), again.parameters()):
        assert torch.equal(p, q)
    other = train_classifier(x, y, 5, seed=5, steps=30)
    assert not torch.equal(next(model.parameters()), next(other.parameters()))
    assert torch.equal(torch.get_rng_state(), before)


# ---------------------------------------------------------------------------------- intra-FD

def test_intra_fd_sees_labels_that_fd_cannot():
    means = 3.0 * torch.randn(5, 8, generator=torch.Generator().manual_seed(1))
    real, real_labels = clusters(1000, means, 1.0, 0)
    fake, fake_labels = clusters(1000, means, 1.0, 1)
    assert intra_fd(real, real_labels, real, real_labels) == pytest.approx(0.0, abs=1e-6)
    right = intra_fd(fake, fake_labels, real, real_labels)
    permuted = torch.tensor([1, 2, 3, 4, 0])[fake_labels]      # every class's samples labelled as another
    wrong = intra_fd(fake, permuted, real, real_labels)
    assert right < 1.0 and wrong > 20 * right
    # the pooled sets are the same either way: only the per-class distance tells
    assert frechet_distance(fake, real) < 1.0


# ---------------------------------------------------------------------------------- augment

def test_folder_names_of_unsafe_class_names():
    assert folder_names(PETS) == ["cat", "dog", "a_b"]
    assert folder_names(("a/b", "a_b")) == ["a_b", "a_b_1"]     # the first keeps the name, the next is renamed
    assert folder_names(("..", "x:y", " z ")) == ["_", "x_y", "z"]


def test_folder_names_are_always_distinct():
    folders = folder_names(("a/b", "a_b", "a_b_1"))
    assert len(set(folders)) == len(folders) and folders[2] == "a_b_1", folders   # a safe, unique name is kept


def test_folder_names_are_distinct_without_case():
    folders = folder_names(("Cat", "cat"))
    assert len({f.casefold() for f in folders}) == len(folders), folders


def _png_folder(root, layout):
    for i, rel in enumerate(layout):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((8, 8), 40 * i, dtype=np.uint8)).save(path)
    return root


@pytest.fixture(scope="module")
def pets_run(tmp_path_factory):
    """A one-step run of a tiny SNGAN whose classes are cat, dog and a/b."""
    root = tmp_path_factory.mktemp("pets")
    data = _png_folder(root / "data", ["x/1.png", "x/2.png", "y/3.png", "y/4.png", "z/5.png", "z/6.png"])
    gan = tiny_sngan(num_classes=3, label_names=PETS)
    Trainer(gan, out_dir=root / "run", data=str(data), max_steps=1, batch_size=2, precision="32",
            sample_every=0, progress=False).fit()
    return root / "run"


@pytest.fixture(scope="module")
def dcgan_run(tmp_path_factory):
    torch.manual_seed(0)
    gan = multigan.build("dcgan", image_size=32, channels=1, g_width=4, d_width=4)
    out = tmp_path_factory.mktemp("dcgan") / "run"
    Trainer(gan, out_dir=out, max_steps=1, batch_size=4, precision="32", sample_every=0, progress=False).fit()
    return out


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_augment_on_the_command_line_writes_a_folder_imagefolder_reads(pets_run, tmp_path, capsys):
    out = tmp_path / "augmented"
    assert main(["augment", str(pets_run), "--per-class", "3", "--out", str(out), "--seed", "5",
                 "--no-progress"]) == 0
    assert "9 samples, 3 of each of 3 classes (cat, dog, a/b)" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["a_b", "cat", "dog", MANIFEST]
    for folder in ("a_b", "cat", "dog"):
        assert sorted(p.name for p in (out / folder).iterdir()) == ["000000.png", "000001.png", "000002.png"]
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["run"] == str(pets_run) and manifest["step"] == 1 and manifest["seed"] == 5
    assert manifest["classes"] == list(PETS)
    assert manifest["counts"] == {"cat": 3, "dog": 3, "a/b": 3} and manifest["total"] == 9
    assert manifest["folders"] == {"cat": "cat", "dog": "dog", "a/b": "a_b"}
    assert hidden_entries(tmp_path) == []                # the staging folder was renamed, not left

    data = ImageFolder(out, 32, 1)
    assert data.label_names == ("a_b", "cat", "dog") and len(data) == 9
    assert [data.label_names[int(k)] for k in data.labels] == [p.parent.name for p in data.files]
    assert data[0].shape == (1, 32, 32)

    # each file is the run's sample of its class, drawn with seed + class * per_class
    gan = multigan.load(pets_run)
    for k, name in enumerate(PETS):
        expected = gan.sample(3, seed=5 + 3 * k, cond=name)
        for i in range(3):
            png = np.asarray(Image.open(out / manifest["folders"][name] / f"{i:06d}.png"), dtype=np.float32)
            assert np.abs(png / 127.5 - 1 - expected[i, 0].numpy()).max() <= 1 / 127.5


def test_the_same_seed_writes_the_same_files_and_the_classes_their_own_samples(tmp_path):
    gan = labels_matter(tiny_sngan(num_classes=3, label_names=PETS))
    a = write_labelled_dataset(gan, tmp_path / "a", 2, seed=0, progress=False)
    (tmp_path / "b").mkdir()                             # an empty folder may be the destination
    b = write_labelled_dataset(gan, tmp_path / "b", 2, seed=0, progress=False)
    c = write_labelled_dataset(gan, tmp_path / "c", 2, seed=1, progress=False)
    assert a == b and a["seed"] == 0 and c["seed"] == 1 and "run" not in a
    files_a, files_b, files_c = _files(tmp_path / "a"), _files(tmp_path / "b"), _files(tmp_path / "c")
    assert files_a == files_b and len(files_a) == 3 * 2 + 1
    pngs = [k for k in files_a if k.endswith(".png")]
    assert all(files_a[k] != files_c[k] for k in pngs)
    # a class's folder holds samples of that class: with the same latent, another label differs
    cat = np.asarray(Image.open(tmp_path / "a" / "cat" / "000000.png"), dtype=np.float32) / 127.5 - 1
    dog = np.asarray(Image.open(tmp_path / "a" / "dog" / "000000.png"), dtype=np.float32) / 127.5 - 1
    assert np.abs(cat - gan.sample(2, seed=0, cond="cat")[0, 0].numpy()).max() <= 1 / 127.5
    assert np.abs(dog - gan.sample(2, seed=2, cond="dog")[0, 0].numpy()).max() <= 1 / 127.5
    assert np.abs(dog - gan.sample(2, seed=2, cond="cat")[0, 0].numpy()).max() > 0.1
    assert hidden_entries(tmp_path) == []


def test_a_stopped_augment_leaves_nothing_behind(tmp_path):
    gan = tiny_sngan(num_classes=3, label_names=PETS)
    calls = []

    def stop_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return type(gan).sample(gan, *args, **kwargs)

    gan.sample = stop_on_second
    with pytest.raises(KeyboardInterrupt):
        write_labelled_dataset(gan, tmp_path / "out", 2, progress=False)
    assert len(calls) == 2 and list(tmp_path.iterdir()) == []


def _refused(argv, capsys):
    capsys.readouterr()
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("multigan: error: "), captured.err
    return lines[0]


def test_augment_refuses_with_one_line_and_writes_nothing(pets_run, dcgan_run, tmp_path, capsys):
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep.txt").write_text("mine")
    line = _refused(["augment", str(pets_run), "--per-class", "2", "--out", str(used), "--no-progress"], capsys)
    assert "is not an empty folder" in line
    assert [p.name for p in used.iterdir()] == ["keep.txt"] and (used / "keep.txt").read_text() == "mine"

    line = _refused(["augment", str(pets_run), "--per-class", "0", "--out", str(tmp_path / "zero"),
                     "--no-progress"], capsys)
    assert "--per-class 0" in line
    line = _refused(["augment", str(dcgan_run), "--per-class", "2", "--out", str(tmp_path / "plain" / "out"),
                     "--no-progress"], capsys)
    assert "dcgan is not class-conditional" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["used"]   # no out folder, parent, nor staging


# ---------------------------------------------------------------------------------- audio

def test_audio_augment_writes_wavs_audiofolder_reads_with_labels(tmp_path):
    gan = tiny_wavegan(num_classes=8, label_names=PITCH_NAMES)
    manifest = write_labelled_dataset(gan, tmp_path / "notes", 2, progress=False)
    assert manifest["classes"] == list(PITCH_NAMES) and manifest["total"] == 16
    data = AudioFolder(tmp_path / "notes", gan.sample_rate, gan.segment_length)
    assert len(data) == 16 and data.label_names == tuple(sorted(PITCH_NAMES))
    assert [data.label_names[int(k)] for k in data.labels] == [p.parent.name for p in data.files]
    for path in data.files:
        info = sf.info(str(path))
        assert info.samplerate == gan.sample_rate == 4000 and info.frames == 4096 and info.channels == 1
    assert data[0].shape == (1, 4096)
    # A4's folder holds A4's samples (16-bit PCM)
    a4, _ = sf.read(str(tmp_path / "notes" / "A4" / "000001.wav"), dtype="float32")
    expected = gan.sample(2, seed=5 * 2, cond="A4")[1, 0].numpy()
    assert np.abs(a4 - expected).max() <= 2 / 32767


# ---------------------------------------------------------------------------------- conditional WaveGAN

def test_the_projection_term_by_hand():
    d = tiny_wavegan(num_classes=8).discriminator.eval()     # eval: no phase shuffle
    x, y = torch.randn(4, 1, 4096), torch.tensor([0, 3, 3, 7])
    assert torch.count_nonzero(d.embed.weight) == 0          # an untrained D ignores the label
    assert torch.equal(d(x, y), d(x, None))
    with torch.no_grad():
        d.embed.weight.normal_()
    seen = []
    handle = d.critic.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    with torch.no_grad():
        with_labels, without = d(x, y), d(x, None)
    handle.remove()
    h = seen[0]
    assert h.shape == (4, d.embed.embedding_dim)
    torch.testing.assert_close(with_labels - without, (d.embed.weight[y] * h).sum(dim=1), rtol=1e-4, atol=1e-4)
    assert not torch.allclose(with_labels, without)


def test_the_label_changes_the_clip_and_names_are_pitches():
    gan = tiny_wavegan(num_classes=8, label_names=PITCH_NAMES)
    assert gan.condition == "label" and gan.num_classes == 8 and gan.label_names == PITCH_NAMES
    z = torch.rand(1, gan.config.latent_dim) * 2 - 1
    with torch.no_grad():
        assert not torch.allclose(gan.generator(z, torch.tensor([0])), gan.generator(z, torch.tensor([5])))
    clips = gan.sample(cond=["C4", "A4"], seed=0)
    assert clips.shape == (2, 1, 4096) and clips.abs().max() <= 1
    same, other = gan.sample(cond=["C4", "C4"], seed=0), gan.sample(cond=["C4", "A4"], seed=0)
    assert torch.equal(same[0], other[0]) and not torch.allclose(same[1], other[1])
    with pytest.raises(ConfigError, match="valid labels: C4, D4, E4, F4, G4, A4, B4, C5"):
        gan.sample(cond=["C4", "H4"])


def test_the_unconditional_wavegan_is_as_it_was():
    gan = tiny_wavegan()
    assert gan.condition == "none" and gan.config.num_classes == 0
    # the state dict and parameter count of WaveGAN before it could be conditioned
    assert list(gan.state_dict()) == [
        "generator.project.weight", "generator.project.bias", "generator.net.0.weight", "generator.net.0.bias",
        "generator.net.1.weight", "generator.net.1.bias", "generator.net.2.weight", "generator.net.2.bias",
        "generator.net.3.weight", "generator.net.3.bias", "discriminator.net.0.weight", "discriminator.net.0.bias",
        "discriminator.net.2.weight", "discriminator.net.2.bias", "discriminator.net.4.weight",
        "discriminator.net.4.bias", "discriminator.net.6.weight", "discriminator.net.6.bias",
        "discriminator.critic.weight", "discriminator.critic.bias"]
    assert sum(p.numel() for p in gan.parameters()) == 34658
    paper = multigan.build("wavegan")
    assert sum(p.numel() for p in paper.parameters()) == 36493314 and len(paper.state_dict()) == 24
    assert not any("label" in k or "embed" in k for k in paper.state_dict())
    conditional = tiny_wavegan(num_classes=8)
    extra = set(conditional.state_dict()) - set(gan.state_dict())
    assert extra == {"generator.label.weight", "discriminator.embed.weight"}


def test_a_conditional_wavegan_trains_a_step_on_notes_and_keeps_its_names(tmp_path):
    gan = tiny_wavegan(num_classes=8, label_names=PITCH_NAMES)
    Trainer(gan, out_dir=tmp_path / "run", max_steps=1, batch_size=4, precision="32", sample_every=0,
            progress=False).fit()
    loaded = multigan.load(tmp_path / "run")
    assert loaded.num_classes == 8 and loaded.label_names == PITCH_NAMES and loaded.condition == "label"
    assert torch.count_nonzero(loaded.discriminator.embed.weight) > 0   # the labels reached D's loss
    torch.testing.assert_close(loaded.sample(cond=["A4"], seed=1), gan.sample(cond=["A4"], seed=1))


def test_the_command_line_conditions_wavegan_only_when_asked(tmp_path, capsys):
    common = ["--steps", "1", "--set", "model_size=2", "--set", "segment_length=4096", "--set", "sample_rate=4000",
              "--batch-size", "4", "--sample-every", "0", "--no-progress"]
    assert main(["train", "wavegan", *common, "--out", str(tmp_path / "plain")]) == 0
    plain = json.loads((tmp_path / "plain" / "config.json").read_text())["config"]
    assert plain["num_classes"] == 0 and plain["label_names"] in ([], ())
    assert main(["train", "wavegan", *common, "--set", "num_classes=8", "--out", str(tmp_path / "pitched")]) == 0
    pitched = json.loads((tmp_path / "pitched" / "config.json").read_text())["config"]
    assert pitched["num_classes"] == 8 and tuple(pitched["label_names"]) == PITCH_NAMES
    assert multigan.load(tmp_path / "pitched").sample(cond="A4").shape == (1, 1, 4096)


# ---------------------------------------------------------------------------------- export

def test_an_exported_conditional_generator_keeps_its_classes(tmp_path):
    gan = labels_matter(tiny_sngan(num_classes=3, label_names=("cat", "dog", "owl")))
    loaded = multigan.load(export_generator(gan, tmp_path / "g.safetensors"))
    assert loaded.num_classes == 3 and loaded.label_names == ("cat", "dog", "owl")
    dog = loaded.sample(2, cond="dog", seed=3)
    assert torch.equal(dog, gan.sample(2, cond="dog", seed=3))
    assert not torch.allclose(dog, loaded.sample(2, cond="cat", seed=3))
    with pytest.raises(ConfigError, match="valid labels: cat, dog, owl"):
        loaded.sample(cond="7")


def test_export_then_augment_on_the_command_line(pets_run, tmp_path, capsys):
    exported = tmp_path / "g.safetensors"
    assert main(["export", str(pets_run), "--out", str(exported)]) == 0
    loaded = multigan.load(exported)
    assert loaded.num_classes == 3 and loaded.label_names == PETS
    assert torch.equal(loaded.sample(cond="dog", seed=0), multigan.load(pets_run).sample(cond="dog", seed=0))
    assert main(["augment", str(exported), "--per-class", "1", "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert manifest["step"] is None and manifest["run"] == str(exported)
    assert main(["augment", str(pets_run), "--per-class", "1", "--out", str(tmp_path / "from_run"),
                 "--no-progress"]) == 0
    from_export, from_run = _files(tmp_path / "out"), _files(tmp_path / "from_run")
    assert {k: v for k, v in from_export.items() if k != MANIFEST} == {k: v for k, v in from_run.items() if k != MANIFEST}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_b", "cat", "dog", MANIFEST]


# ---------------------------------------------------------------------------------- digits metrics

def test_evaluate_digits_scores_a_conditional_gan_with_classifiers():
    from multigan.modalities.image.metrics import evaluate_digits

    metrics = evaluate_digits(tiny_sngan(), "digits", 200)
    conditional = {"label_accuracy", "intra_fd", "cas", "cas_std", "augmentation_gain", "augmentation_gain_std"}
    assert conditional <= set(metrics)
    assert {"cas_real", "cas_real_std", "few_shot_accuracy", "few_shot_accuracy_std"} <= set(metrics)
    refs = metrics["references"]
    assert set(refs) == {"real", "copy10", "copy100", "untrained"}
    assert all(conditional <= set(ref) and "cas_real" not in ref for ref in refs.values())
    untrained = refs["untrained"]
    assert untrained["cas"] < 0.3 and metrics["cas"] < 0.3          # a fresh SNGAN ignores its labels
    for name in ("real", "copy100"):
        assert refs[name]["label_accuracy"] == 1.0
        assert refs[name]["cas"] > untrained["cas"] + 0.4
        assert refs[name]["intra_fd"] < untrained["intra_fd"]
    assert metrics["cas_real"] == pytest.approx(refs["real"]["cas"], abs=0.05)   # the same 200 real digits
    assert metrics["cas_real"] > 0.85 and 0.5 < metrics["few_shot_accuracy"] < 1
    assert refs["real"]["augmentation_gain"] > refs["untrained"]["augmentation_gain"]


def test_eval_of_a_conditional_run_with_few_samples_is_one_clear_line(tmp_path, capsys):
    Trainer(tiny_sngan(), out_dir=tmp_path / "run", max_steps=1, batch_size=4, precision="32", sample_every=0,
            progress=False).fit()
    _refused(["eval", str(tmp_path / "run"), "--n", "15"], capsys)


def test_the_folder_recipe_takes_its_classes_from_the_folder(tmp_path, monkeypatch, capsys):
    """recipes/sngan_folder.py on a folder of class subfolders: the classes (count and names)
    come from the folder, as `multigan train` takes them; without Inception weights it trains
    and says why it does not evaluate."""
    import importlib.util

    rng = torch.Generator().manual_seed(0)
    for name in ("owl", "cat", "dog"):
        (tmp_path / "pets" / name).mkdir(parents=True)
        for i in range(22):
            pixels = (torch.rand(8, 8, 3, generator=rng) * 255).to(torch.uint8).numpy()
            Image.fromarray(pixels).save(tmp_path / "pets" / name / f"{i}.png")
    monkeypatch.setenv("MULTIGAN_INCEPTION", str(tmp_path / "no-such-weights.pth"))
    spec = importlib.util.spec_from_file_location("sngan_folder", Path(__file__).parents[1] / "recipes" / "sngan_folder.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "run"
    assert module.main(str(tmp_path / "pets"), out, scale=1 / 50000, progress=False,
                       overrides={"g_width": 8, "d_width": 8, "latent_dim": 8}) == {}
    gan = multigan.load(out)
    assert (gan.num_classes, gan.label_names) == (3, ("cat", "dog", "owl"))
    assert gan.config.n_critic == 5 and gan.config.betas_d == (0.0, 0.9)   # the papers' settings
    assert "no evaluation after training" in capsys.readouterr().out
