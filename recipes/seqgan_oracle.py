"""SeqGAN on the oracle: the paper's synthetic experiment (Yu et al. 2017, Table 1).

    python recipes/seqgan_oracle.py                 # the recipe's run (sized for a CPU; see docs/seqgan.md)
    python recipes/seqgan_oracle.py --scale 0.1     # a tenth of the steps and pre-training
    python recipes/seqgan_oracle.py --set pretrain_g_epochs=120 --set pretrain_d_rounds=50 \
        --set d_rounds=5 --set d_epochs=3 --steps 200   # the paper's schedule, for a GPU

Scores G at three points by NLL-oracle (the oracle's per-token negative log-likelihood of
10,000 samples of G; lower is better): untrained, after MLE pre-training, and after
adversarial training; and prints them beside the paper's. Target: the paper's ordering,
random > MLE > SeqGAN.
"""

from __future__ import annotations

import json
from pathlib import Path

from multigan import Trainer
from multigan.recipe import load_recipe, recipe_arguments
from multigan.registry import get_modality

CONFIG = Path(__file__).with_suffix(".json")
PAPER = {"random": 10.310, "mle": 9.038, "seqgan": 8.736}


def main(out_dir: str | Path = "runs/seqgan_oracle", scale: float = 1.0, overrides: dict | None = None,
         n_samples: int = 10_000, progress: bool = True, steps: int | None = None) -> dict:
    """Train in two stages (pre-training, then adversarial), score each, print the table and
    return ``{"random": ..., "mle": ..., "seqgan": ..., "nll_test": ..., "rewards": [...]}``."""
    gan, train = load_recipe(CONFIG, scale, overrides)
    if steps is not None:
        train["max_steps"] = steps
    evaluate = get_modality("text").evaluate
    nll = {"random": evaluate(gan, "oracle", n_samples, 0)["nll_oracle"]}
    # stage 1: the pre-training phases only (MLE of G, then D); stage 2 resumes adversarially
    Trainer(gan, out_dir=out_dir, progress=progress, **{**train, "max_steps": 0}).fit()
    nll["mle"] = evaluate(gan, "oracle", n_samples, 0)["nll_oracle"]
    Trainer(gan, out_dir=out_dir, progress=progress, **train).fit()
    final = evaluate(gan, "oracle", n_samples, 0)
    nll["seqgan"] = final["nll_oracle"]

    logged = [json.loads(line) for line in (Path(out_dir) / "metrics.jsonl").read_text().splitlines()]
    rewards = [entry["g_reward"] for entry in logged if "g_reward" in entry]
    result = {**nll, "nll_test": final["nll_test"], "rewards": rewards}
    (Path(out_dir) / "eval.json").write_text(json.dumps(result, indent=2) + "\n")

    print(f"\nSeqGAN on the oracle: NLL-oracle of {n_samples:,} samples (lower is better), scale {scale}")
    print(f"  {'':8s} {'paper':>8s} {'ours':>8s}")
    for key, label in (("random", "random"), ("mle", "MLE"), ("seqgan", "SeqGAN")):
        print(f"  {label:8s} {PAPER[key]:8.3f} {nll[key]:8.3f}")
    ordered = nll["random"] > nll["mle"] > nll["seqgan"]
    print(f"  ordering random > MLE > SeqGAN: {'met' if ordered else 'MISSED'}")
    if rewards:
        print(f"  D's mean reward on G's samples: first adversarial step {rewards[0]:.3f}, last {rewards[-1]:.3f}")
    print(f"samples (TXT): {Path(out_dir) / 'samples'}   metrics: {Path(out_dir) / 'eval.json'}")
    return result


if __name__ == "__main__":
    args = recipe_arguments(__doc__, "runs/seqgan_oracle", steps=True)
    main(args.out, args.scale, args.overrides, steps=args.steps)
