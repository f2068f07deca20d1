"""SeqGAN on the oracle: the paper's synthetic experiment (Yu et al. 2017, Table 1).

    python recipes/seqgan_oracle.py                 # the recipe's run (sized for a CPU; see docs/seqgan.md)
    python recipes/seqgan_oracle.py --scale 0.1     # a tenth of the steps and pre-training
    python recipes/seqgan_oracle.py --set pretrain_g_epochs=120 --set pretrain_d_rounds=50 \
        --set d_rounds=5 --set d_epochs=3 --steps 200   # the paper's schedule, for a GPU

Scores G at three points, untrained, after MLE pre-training and after adversarial training,
by NLL-oracle (the oracle's per-token negative log-likelihood of 10,000 samples of G: quality)
and NLL-test (G's per-token NLL of the 2,000 held-out oracle sequences: coverage), and prints
them beside the paper's NLL-oracle and the oracle's own. Target: the paper's ordering,
random > MLE > SeqGAN.

NLL-oracle alone rewards a sharper, less diverse G: sampled at temperature 0.8 the oracle
itself scores far below its own entropy. So the MLE generator (kept after pre-training) and the
SeqGAN generator are also swept over sampling temperatures, each scored by both metrics at each
temperature (G's NLL-test under the same tempered softmax), beside the oracle's own sweep: the
quality-diversity view of Caccia et al., "Language GANs Falling Short" (ICLR 2020). SeqGAN beats
MLE only if its curve lies below MLE's (lower NLL-oracle at the same NLL-test), not merely if
its T = 1 point has a lower NLL-oracle. Written as quality_diversity.md and .png in the run
folder.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from multigan import Trainer
from multigan.modalities.text.metrics import OracleReference, oracle_scores
from multigan.modalities.text.sweep import at_equal_quality, sweep, write_sweep
from multigan.recipe import check_targets, load_recipe, recipe_arguments
from multigan.registry import get_modality

CONFIG = Path(__file__).with_suffix(".json")
PAPER = {"random": 10.310, "mle": 9.038, "seqgan": 8.736}
TEMPERATURES = (0.8, 0.9, 1.0, 1.1, 1.25)
SWEEP_MODELS = {"mle": "MLE", "seqgan": "SeqGAN", "oracle": "oracle"}


def main(out_dir: str | Path = "runs/seqgan_oracle", scale: float = 1.0, overrides: dict | None = None,
         n_samples: int = 10_000, progress: bool = True, steps: int | None = None,
         temperatures: tuple[float, ...] = TEMPERATURES) -> dict:
    """Train in two stages (pre-training, then adversarial), score each, sweep temperatures,
    print the tables and return ``{"nll_oracle": {"random", "mle", "seqgan"}, "nll_test": {...},
    "oracle": {...}, "untrained": {...}, "n_samples": n, "sweep": {"mle", "seqgan", "oracle":
    [{"nll_oracle", "nll_test", "temperature", "n_samples"}, ...]}, "mle_at_seqgan_quality":
    {"temperature", "nll_oracle", "nll_test"} or None, "rewards": [...]}`` (the references
    ``oracle`` and ``untrained`` are those of the final evaluation: the oracle at T = 1, an
    untrained G)."""
    out_dir = Path(out_dir)
    gan, train = load_recipe(CONFIG, scale, overrides)
    if steps is not None:
        train["max_steps"] = steps
    temperatures = tuple(sorted({float(t) for t in temperatures}))
    scores = {"random": oracle_scores(gan, n_samples, 0)}
    # stage 1: the pre-training phases only (MLE of G, then D); stage 2 resumes adversarially
    Trainer(gan, out_dir=out_dir, progress=progress, **{**train, "max_steps": 0}).fit()
    mle = copy.deepcopy(gan).eval()   # the MLE generator, kept for the sweep
    points = {"mle": sweep(mle, temperatures, n_samples)}
    scores["mle"] = next((p for p in points["mle"] if p["temperature"] == 1.0), None) or oracle_scores(mle, n_samples)
    Trainer(gan, out_dir=out_dir, progress=progress, **train).fit()
    final = get_modality("text").evaluate(gan, "oracle", n_samples, 0)   # with the references
    references = final.pop("references")
    scores["seqgan"] = final
    points["seqgan"] = sweep(gan, temperatures, n_samples, known=final)
    points["oracle"] = sweep(OracleReference(), temperatures, n_samples, known=references["oracle"])

    logged = [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]
    rewards = [entry["g_reward"] for entry in logged if "g_reward" in entry]
    result = {"nll_oracle": {k: s["nll_oracle"] for k, s in scores.items()},
              "nll_test": {k: s["nll_test"] for k, s in scores.items()},
              "oracle": references["oracle"], "untrained": references["untrained"],
              "n_samples": n_samples, "sweep": points,
              "mle_at_seqgan_quality": at_equal_quality(points["mle"], final["nll_oracle"]), "rewards": rewards}
    (out_dir / "eval.json").write_text(json.dumps(result, indent=2) + "\n")
    table = write_sweep({SWEEP_MODELS[k]: rows for k, rows in points.items()}, out_dir, n_samples,
                        "SeqGAN on the oracle: quality against coverage, over sampling temperatures T",
                        zoom=(SWEEP_MODELS["mle"], SWEEP_MODELS["seqgan"]))

    nll, test, oracle = result["nll_oracle"], result["nll_test"], result["oracle"]
    print(f"\nSeqGAN on the oracle: per-token NLLs of {n_samples:,} samples (lower is better), scale {scale}")
    print(f"  {'':8s} {'paper':>8s} {'nll_oracle':>11s} {'nll_test':>9s}")
    for key, label in (("random", "random"), ("mle", "MLE"), ("seqgan", "SeqGAN")):
        print(f"  {label:8s} {PAPER[key]:8.3f} {nll[key]:11.3f} {test[key]:9.3f}")
    print(f"  {'oracle':8s} {'':8s} {oracle['nll_oracle']:11.3f} {oracle['nll_test']:9.3f}   "
          "(the true distribution: both ~ its entropy)")
    check_targets([(f"the paper's ordering by NLL-oracle, random > MLE > SeqGAN: {nll['random']:.3f} > "
                    f"{nll['mle']:.3f} > {nll['seqgan']:.3f}", nll["random"] > nll["mle"] > nll["seqgan"])])
    if rewards:
        print(f"  D's mean reward on G's samples: first adversarial step {rewards[0]:.3f}, last {rewards[-1]:.3f}")
    print("\n" + table)
    matched = result["mle_at_seqgan_quality"]
    if matched is None:
        print("SeqGAN's NLL-oracle lies outside the MLE sweep: no MLE temperature matches its quality")
    else:
        better = "better" if test["seqgan"] < matched["nll_test"] else "worse"
        print(f"At SeqGAN's NLL-oracle {nll['seqgan']:.3f}, MLE sampled at T = {matched['temperature']:.2f} has "
              f"NLL-test {matched['nll_test']:.3f} against SeqGAN's {test['seqgan']:.3f}: at equal quality SeqGAN "
              f"covers the data {better} than a temperature-tuned MLE generator")
    print(f"samples (TXT): {out_dir / 'samples'}   metrics: {out_dir / 'eval.json'}   "
          f"sweep: {out_dir / 'quality_diversity.md'}, {out_dir / 'quality_diversity.png'}")
    return result


if __name__ == "__main__":
    args = recipe_arguments(__doc__, "runs/seqgan_oracle", steps=True)
    main(args.out, args.scale, args.overrides, steps=args.steps)
