"""SeqGAN through the command line: train on a text file and on the oracle, sample TXT, evaluate."""

import json
import random

from multigan.cli import main

QUICK = ["--set", "pretrain_d_rounds=1", "--set", "d_epochs=1", "--set", "n_critic=1", "--set", "rollouts=2",
         "--set", "d_filter_sizes=1,2,3", "--set", "d_num_filters=8,8,8"]


def test_train_sample_and_eval_on_a_text_file(tmp_path, capsys):
    rng = random.Random(0)
    words = "the a cat dog sees likes river house garden apple moon city".split()
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(3, 8)))
                                for _ in range(300)) + "\n", encoding="utf-8")
    run = tmp_path / "run"
    assert main(["train", "seqgan", "--data", str(corpus), "--steps", "1", "--batch-size", "16", "--out", str(run),
                 "--no-progress", "--set", "vocab_size=30", "--set", "max_len=10", "--set", "pretrain_g_epochs=1",
                 *QUICK]) == 0
    last = sorted((run / "samples").glob("step-*.txt"))[-1]
    lines = last.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 16 and all(not line.isdigit() for line in lines)
    capsys.readouterr()
    assert main(["sample", str(run), "--n", "5", "--out", str(tmp_path / "five.txt")]) == 0
    assert len((tmp_path / "five.txt").read_text(encoding="utf-8").splitlines()) == 5
    capsys.readouterr()
    assert main(["eval", str(run), "--n", "50"]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"bleu2", "bleu5", "self_bleu3", "distinct2", "nll_test", "temperature"} <= set(metrics)
    assert set(metrics["references"]) == {"untrained", "train_lines"}


def test_a_corpus_too_small_for_the_vocabulary_says_what_to_set(tmp_path, capsys):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("".join(f"line number {i}\n" for i in range(40)), encoding="utf-8")
    assert main(["train", "seqgan", "--data", str(corpus), "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "tiny.txt" in err and "vocab_size=5000" in err and "--set vocab_size=" in err


def test_eval_on_the_oracle_reports_nll_oracle_and_nll_test(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "seqgan", "--steps", "1", "--batch-size", "64", "--out", str(run), "--no-progress",
                 *QUICK, "--set", "pretrain_g_epochs=0", "--set", "pretrain_d_rounds=0"]) == 0
    capsys.readouterr()
    assert main(["eval", str(run), "--n", "200"]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["name"] == "seqgan" and metrics["n_samples"] == 200 and metrics["temperature"] == 1.0
    assert metrics["nll_oracle"] > metrics["nll_test"] > 0   # an untrained G: near-uniform, far from the oracle
    oracle, untrained = metrics["references"]["oracle"], metrics["references"]["untrained"]
    # the oracle's own samples and held-out data: both near its entropy (about 5.8 nats a token),
    # far below a G that has seen one adversarial step and no MLE, which is still near untrained
    assert 5.5 < oracle["nll_oracle"] < 6.1 and 5.5 < oracle["nll_test"] < 6.1, oracle
    assert oracle["nll_oracle"] < metrics["nll_oracle"] - 3 and oracle["nll_test"] < metrics["nll_test"] - 2
    assert abs(untrained["nll_test"] - metrics["nll_test"]) < 0.5, metrics
