"""RelGAN on a local text file: one sentence (or line) per example, the paper's COCO schedule.

    python recipes/relgan_text.py --data corpus.txt                  # the paper's schedule: a GPU job
    python recipes/relgan_text.py --data corpus.txt --scale 0.05     # a twentieth of every phase
    python recipes/relgan_text.py --data corpus.txt --set vocab_size=2000 --set max_len=48

The same run from the command line:
    multigan train --config recipes/relgan_text.json --data corpus.txt --out runs/relgan_text

A corpus that needs no download: `python recipes/python_docs_corpus.py corpus.txt`.

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

from pathlib import Path

from multigan.recipe import pretrain_then_train, recipe_arguments, reference_table, stage_table

CONFIG = Path(__file__).with_suffix(".json")
KEYS = ("bleu2", "bleu3", "bleu4", "bleu5", "self_bleu3", "distinct2", "nll_test")


def main(data: str, out_dir: str | Path = "runs/relgan_text", scale: float = 1.0, overrides: dict | None = None,
         n_samples: int = 1000, progress: bool = True) -> dict:
    """Pre-train, score, train adversarially, score again; print both and return
    ``{"mle": {...}, "relgan": {...}}``."""
    result = pretrain_then_train(CONFIG, data, out_dir, scale, overrides, n_samples, progress)
    print(f"\nRelGAN on {data} (scale {scale}): after MLE pre-training, then after adversarial training")
    print(stage_table(result, KEYS))
    print("RelGAN beside the reference points (train_lines: real training sentences; no NLL):")
    print(reference_table(result["relgan"], KEYS))
    print(f"samples (TXT): {Path(out_dir) / 'samples'}   metrics: {Path(out_dir) / 'eval.json'}")
    return result

if __name__ == "__main__":
    args = recipe_arguments(__doc__, "runs/relgan_text", needs_data=True)
    main(args.data, args.out, args.scale, args.overrides)
