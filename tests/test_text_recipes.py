"""The text recipes run end to end at a tiny scale: on a text file made here, and on a
shrunken oracle (its temperature sweep, table and plot)."""

import importlib.util
import json
import random
from pathlib import Path

import pytest
from PIL import Image

from multigan.modalities.text import data as text_data

RECIPES = Path(__file__).parents[1] / "recipes"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, RECIPES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_seqgan_text_recipe_on_a_local_file(tmp_path):
    module = load("seqgan_text")
    rng = random.Random(0)
    words = "the a cat dog sees likes river house garden apple moon city old small".split()
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(3, 9)))
                                for _ in range(400)) + "\n", encoding="utf-8")
    result = module.main(str(corpus), tmp_path / "run", scale=0.01, n_samples=50, progress=False,
                         overrides={"vocab_size": 30, "d_epochs": 1, "d_rounds": 1, "rollouts": 2,
                                    "d_filter_sizes": (1, 2, 3), "d_num_filters": (8, 8, 8)})
    assert set(result) == {"mle", "seqgan"}
    assert {"bleu2", "bleu5", "self_bleu3", "distinct2", "nll_test", "temperature"} <= set(result["seqgan"])
    assert set(result["seqgan"]["references"]) == {"untrained", "train_lines"}
    assert (tmp_path / "run" / "eval.json").is_file()
    assert sorted((tmp_path / "run" / "samples").glob("*.txt"))


def test_seqgan_oracle_recipe_sweeps_temperatures_into_a_table_and_a_plot(tmp_path, monkeypatch):
    # a shrunken oracle (a prefix of each split's stream): 4 batches an epoch, 500 held out
    monkeypatch.setattr(text_data, "ORACLE_SIZES", {"train": 256, "test": 500})
    temperatures = (0.8, 1.0, 1.25)
    result = load("seqgan_oracle").main(
        tmp_path, scale=0.01, n_samples=100, progress=False, steps=1, temperatures=temperatures,
        overrides={"d_filter_sizes": (1, 2, 3), "d_num_filters": (8, 8, 8), "rollouts": 2, "d_epochs": 1,
                   "n_critic": 1})
    stages = {"random", "mle", "seqgan"}
    assert set(result["nll_oracle"]) == set(result["nll_test"]) == stages
    assert json.loads((tmp_path / "eval.json").read_text()) == result
    sweep = result["sweep"]
    assert set(sweep) == {"mle", "seqgan", "oracle"}
    for key, points in sweep.items():
        assert [p["temperature"] for p in points] == list(temperatures), key
        # each point samples and scores at its own temperature (G, nearly untrained here, is
        # too flat for the direction of the change to be certain; the oracle's is, below)
        assert len({p["nll_oracle"] for p in points}) == len({p["nll_test"] for p in points}) == 3, (key, points)
    cold, true, hot = sweep["oracle"]
    assert cold["nll_oracle"] < true["nll_oracle"] - 0.5 < hot["nll_oracle"] - 1, sweep["oracle"]
    # the T = 1 points are the stage scores and the oracle reference
    assert sweep["mle"][1]["nll_oracle"] == result["nll_oracle"]["mle"]
    assert sweep["seqgan"][1]["nll_test"] == result["nll_test"]["seqgan"]
    assert sweep["oracle"][1] == result["oracle"] and result["oracle"]["temperature"] == 1.0
    # the oracle's held-out NLL is lowest at T = 1: the sharper sampler above paid for its NLL-oracle
    assert true["nll_test"] < min(cold["nll_test"], hot["nll_test"]), sweep["oracle"]

    matched = result["mle_at_seqgan_quality"]
    assert matched is None or min(temperatures) <= matched["temperature"] <= max(temperatures), matched
    table = (tmp_path / "quality_diversity.md").read_text().splitlines()
    rows = [line for line in table if line.startswith("| ") and line[2:5] not in ("mod", "---")]
    assert len(rows) == 9 and "| MLE | 0.8 |" in rows[0] and "| oracle | 1.25 |" in rows[-1], table
    assert f"| SeqGAN | 1 | {result['nll_oracle']['seqgan']:.3f} | {result['nll_test']['seqgan']:.3f} |" in rows
    with Image.open(tmp_path / "quality_diversity.png") as image:
        assert image.size == (1800, 650)   # all three curves, then MLE and SeqGAN zoomed
        colours = {c for _, c in image.convert("RGB").getcolors(maxcolors=1 << 16)}
    # the three curves are drawn: MLE blue, SeqGAN red, the oracle grey
    assert {(0x1f, 0x77, 0xb4), (0xd6, 0x27, 0x28), (0x7f, 0x7f, 0x7f)} <= colours


def test_mle_is_read_off_its_sweep_at_seqgans_quality():
    from multigan.modalities.text.sweep import at_equal_quality

    points = [{"temperature": 0.8, "nll_oracle": 8.0, "nll_test": 8.4},
              {"temperature": 1.0, "nll_oracle": 9.0, "nll_test": 8.0},
              {"temperature": 1.25, "nll_oracle": 10.0, "nll_test": 8.1}]
    assert at_equal_quality(points, 8.75) == pytest.approx({"temperature": 0.95, "nll_oracle": 8.75, "nll_test": 8.1})
    assert at_equal_quality(points, 9.5)["temperature"] == pytest.approx(1.125)
    assert at_equal_quality(points, 7.9) is None and at_equal_quality(points, 10.1) is None


def test_python_docs_corpus_keeps_plain_sentences_once():
    module = load("python_docs_corpus")
    text = ("The first sentence is plain prose here. It has a second one too!\n\n"
            ">>> print('code is left out of this paragraph.')\n\n"
            "Too short. Names like some_name or x[0] are left out of it. The first sentence is plain prose here.")
    assert module.corpus([text]) == ["The first sentence is plain prose here.", "It has a second one too!"]
    lines = module.corpus(module.documentation())     # Python's own docs: thousands of sentences, no markup
    assert len(lines) > 5000 and len(set(lines)) == len(lines)
    assert all(5 <= len(line.split()) <= 32 and "_" not in line and "\n" not in line for line in lines)
