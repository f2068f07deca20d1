"""The text recipe runs end to end (at a tiny scale) on a text file made here."""

import importlib.util
import random
from pathlib import Path

RECIPES = Path(__file__).parents[1] / "recipes"


def test_seqgan_text_recipe_on_a_local_file(tmp_path):
    spec = importlib.util.spec_from_file_location("seqgan_text", RECIPES / "seqgan_text.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng = random.Random(0)
    words = "the a cat dog sees likes river house garden apple moon city old small".split()
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(3, 9)))
                                for _ in range(400)) + "\n", encoding="utf-8")
    result = module.main(str(corpus), tmp_path / "run", scale=0.01, n_samples=50, progress=False,
                         overrides={"vocab_size": 30, "d_epochs": 1, "d_rounds": 1, "rollouts": 2,
                                    "d_filter_sizes": (1, 2, 3), "d_num_filters": (8, 8, 8)})
    assert set(result) == {"mle", "seqgan"}
    assert {"bleu2", "bleu5", "self_bleu3", "distinct2", "nll_test"} <= set(result["seqgan"])
    assert (tmp_path / "run" / "eval.json").is_file()
    assert sorted((tmp_path / "run" / "samples").glob("*.txt"))
