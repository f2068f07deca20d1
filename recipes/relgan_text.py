"""RelGAN on a local text file: one sentence (or line) per example, the paper's COCO schedule.

    python recipes/relgan_text.py --data corpus.txt                  # the paper's schedule: a GPU job
    python recipes/relgan_text.py --data corpus.txt --scale 0.05     # a twentieth of every phase
    python recipes/relgan_text.py --data corpus.txt --set vocab_size=2000 --set max_len=48

Nearly the same run from the command line (its MLE runs at lr_g, 1e-4, where the script's runs
at the reference's 1e-2 as a run of its own, OUT/mle, before the adversarial run, OUT/adversarial):
    multigan train --config recipes/relgan_text.json --data corpus.txt --out runs/relgan_text

Every 10th non-blank line is held out. A sentencepiece model of vocab_size pieces is trained on
the other lines and saved with the model. The settings are the reference code's COCO
experiment (real/experiments/coco_relgan.py: the oracle's networks, beta_max 100, 150 epochs of
MLE, 2,000 adversarial steps). Evaluates 1,000 decoded samples against the held-out lines:
BLEU-2..5, self-BLEU-3, distinct-2, and G's NLL of the held-out lines, after MLE and after
adversarial training, beside the reference points (an untrained G; real training lines in
place of samples). Adversarial training trades diversity for quality (the less, the larger
beta_max): expect BLEU and self-BLEU (less diversity) up from MLE to RelGAN, and nll_test up.
"""

from __future__ import annotations

import json
from pathlib import Path

from multigan import Trainer
from multigan.recipe import load_recipe, recipe_arguments, reference_table
from multigan.registry import get_modality

CONFIG = Path(__file__).with_suffix(".json")
KEYS = ("bleu2", "bleu3", "bleu4", "bleu5", "self_bleu3", "distinct2", "nll_test")


def main(data: str, out_dir: str | Path = "runs/relgan_text", scale: float = 1.0, overrides: dict | None = None,
         n_samples: int = 1000, progress: bool = True) -> dict:
    """Pre-train, score, train adversarially, score again; print both and return
    ``{"mle": {...}, "relgan": {...}}``."""
    out_dir, overrides = Path(out_dir), overrides or {}
    evaluate = get_modality("text").evaluate
    # MLE (at lr_pretrain, the reference's 1e-2) as a run of its own, so it can be scored
    mle, train = load_recipe(CONFIG, scale, overrides, data=data)
    Trainer(mle, out_dir=out_dir / "mle", progress=progress, **{**train, "max_steps": 0}).fit()
    result = {"mle": evaluate(mle, data, n_samples, 0)}
    gan, train = load_recipe(CONFIG, scale, {**overrides, "pretrain_g_epochs": 0}, data=data)
    gan.generator.load_state_dict(mle.generator.state_dict())
    Trainer(gan, out_dir=out_dir / "adversarial", progress=progress, **train).fit()
    result["relgan"] = evaluate(gan, data, n_samples, 0)
    (out_dir / "eval.json").write_text(json.dumps(result, indent=2) + "\n")

    print(f"\nRelGAN on {data}, {train['max_steps']} adversarial steps (scale {scale})")
    print(f"  {'':11s} {'MLE':>8s} {'RelGAN':>8s}")
    for key in KEYS:
        print(f"  {key:11s} {result['mle'][key]:8.3f} {result['relgan'][key]:8.3f}")
    print("RelGAN beside the reference points (train_lines: real training sentences; no NLL):")
    print(reference_table(result["relgan"], KEYS))
    print(f"runs: {out_dir / 'mle'}, {out_dir / 'adversarial'} (samples/ in each)   metrics: {out_dir / 'eval.json'}")
    return result


if __name__ == "__main__":
    args = recipe_arguments(__doc__, "runs/relgan_text", needs_data=True)
    main(args.data, args.out, args.scale, args.overrides)
