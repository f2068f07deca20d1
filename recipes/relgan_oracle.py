"""RelGAN on the oracle: the paper's synthetic experiment (Nie et al. 2019, Table 1: NLL-oracle
6.680 at length 20 with beta_max 100), sized for a 2-core CPU.

    python recipes/relgan_oracle.py                 # the recipe's run (16 minutes on one thread of a 2-core CPU)
    python recipes/relgan_oracle.py --scale 0.1     # a tenth of the MLE epochs and adversarial steps
    python recipes/relgan_oracle.py --set head_size=256 --set d_embed_dim=64 --set d_representations=64 \
        --set d_num_filters=300,300,300,300 --set pretrain_g_epochs=150 \
        --steps 3000                                # the paper's networks and schedule, for a GPU

The recipe's G is the paper's relational memory with heads of 64 instead of 256, its D has 16
representations and 75 filters per window size instead of 64 and 300; it pre-trains for
``pretrain_g_epochs`` (10) epochs instead of 150 and runs the first ``max_steps`` (200) of the
paper's 3,000 adversarial steps, on the paper's temperature schedule (beta_max 100, reached at
step 5,000: beta rises from 1 to 1.2 over these 200 steps). MLE runs at the reference's
learning rate, 1e-2 (``lr_pretrain``), as a run of its own in ``OUT/mle`` (so the MLE generator
is kept and swept); the adversarial run, in ``OUT/adversarial``, starts from its G with the
reference's 1e-4 (``lr_g``).

Scores G untrained, at every checkpoint of both runs (the trajectory through MLE pre-training,
one point per checkpoint_every steps, and through adversarial training, which runs in chunks of
``eval_every`` steps that each end in a checkpoint; ``n_trajectory`` samples each), and after
each stage with ``n_samples``, by NLL-oracle (quality) and NLL-test (coverage), beside the
paper's and the oracle's own. Then sweeps the sampling temperature for the MLE start, RelGAN
and the oracle, and beside them SeqGAN's sweep when a SeqGAN recipe's eval.json is found
(``runs/seqgan_oracle/eval.json`` by default, ``seqgan=`` in ``main``): one table and one plot,
``quality_diversity.md`` and ``.png``, and the trajectory as ``trajectory.md`` and ``.png``, in
OUT. Targets: RelGAN's NLL-oracle at least 0.3 below its MLE start's and below SeqGAN's recipe
result, at an NLL-test no worse than the MLE start's + 0.5.
"""

from __future__ import annotations

import json
from pathlib import Path

import multigan
from multigan import Trainer
from multigan.modalities.text.metrics import OracleReference, oracle_scores
from multigan.modalities.text.sweep import ORACLE, at_equal_quality, sweep, write_sweep
from multigan.plots import Series, line_plot_png
from multigan.recipe import check_targets, load_recipe, recipe_arguments
from multigan.registry import get_modality

CONFIG = Path(__file__).with_suffix(".json")
PAPER = {"relgan": 6.680, "mle": 9.038}   # Table 1, length 20: RelGAN (beta_max 100); MLE as SeqGAN's paper
SEQGAN_RUN = Path("runs/seqgan_oracle/eval.json")
#: SeqGAN's NLL-oracle from its recipe's full run, when no eval.json of one is at hand (docs/seqgan.md)
SEQGAN_DOCUMENTED = 8.860
TEMPERATURES = (0.8, 0.9, 1.0, 1.1, 1.25)
LABELS = {"mle": "MLE", "relgan": "RelGAN", "seqgan": "SeqGAN", "oracle": ORACLE}


def trajectory(runs: list[tuple[Path, str, int]], n_samples: int) -> list[dict]:
    """NLL-oracle and NLL-test of every checkpoint of each run ``(folder, phase, first step)``,
    in order, each point marked with its phase and its step counted from the first run's start."""
    points = []
    for folder, phase, offset in runs:
        for path in sorted((folder / "checkpoints").glob("step-*.pt")):
            points.append({"step": offset + int(path.stem.split("-")[1]), "phase": phase,
                           **oracle_scores(multigan.load(path), n_samples)})
    return points


def write_trajectory(points: list[dict], untrained: dict, out_dir: Path) -> str:
    """The trajectory as a markdown table (``trajectory.md``, returned) and a plot
    (``trajectory.png``: both NLLs against the step)."""
    rows = [{"step": 0, "phase": "untrained", **untrained}, *points]
    lines = ["| step | phase | nll_oracle | nll_test |", "| ---: | --- | ---: | ---: |"]
    lines += [f"| {p['step']} | {p['phase']} | {p['nll_oracle']:.3f} | {p['nll_test']:.3f} |" for p in rows]
    table = "\n".join(lines) + "\n"
    (out_dir / "trajectory.md").write_text(table)
    series = [Series(key, [(p["step"], p[key]) for p in points]) for key in ("nll_oracle", "nll_test")]
    last_mle = max((p["step"] for p in points if p["phase"] == "mle"), default=0)
    line_plot_png(series, out_dir / "trajectory.png",
                  title=f"RelGAN on the oracle: MLE pre-training to step {last_mle}, then adversarial training",
                  x_label="training step (G's MLE updates, then adversarial steps of 1 G and n_critic D updates)",
                  y_label="per-token NLL (lower is better)")
    return table


def read_seqgan(path: str | Path | None) -> dict | None:
    """A SeqGAN oracle recipe's eval.json (its sweep and final scores), or None when absent."""
    if path is None or not Path(path).is_file():
        return None
    return json.loads(Path(path).read_text())


def main(out_dir: str | Path = "runs/relgan_oracle", scale: float = 1.0, overrides: dict | None = None,
         n_samples: int = 10_000, n_trajectory: int = 1_000, eval_every: int = 25, progress: bool = True,
         steps: int | None = None,
         temperatures: tuple[float, ...] = TEMPERATURES, seqgan: str | Path | None = SEQGAN_RUN) -> dict:
    """Pre-train, then train adversarially; score the stages, the checkpoints and the sweeps;
    print the tables and targets and return ``{"nll_oracle": {"random", "mle", "relgan"},
    "nll_test": {...}, "oracle": {...}, "untrained": {...}, "n_samples": n, "trajectory": [...],
    "sweep": {"mle", "relgan", "oracle"[, "seqgan"]: [...]}, "mle_at_relgan_quality": {...} or
    None, "seqgan_nll_oracle": float, "seqgan_source": str, "targets": {...}}`` (also written to
    eval.json)."""
    out_dir = Path(out_dir)
    overrides = overrides or {}
    temperatures = tuple(sorted({float(t) for t in temperatures}))
    # stage 1, out_dir/mle: MLE pre-training at the reference's rate, a run of its own
    mle, train = load_recipe(CONFIG, scale, overrides)
    scores = {"random": oracle_scores(mle, n_samples, 0)}
    pretraining = Trainer(mle, out_dir=out_dir / "mle", progress=progress, **{**train, "max_steps": 0})
    pretraining.fit()
    points = {"mle": sweep(mle, temperatures, n_samples)}
    scores["mle"] = next(p for p in points["mle"] if p["temperature"] == 1.0) if 1.0 in temperatures \
        else oracle_scores(mle, n_samples)
    # stage 2, out_dir/adversarial: the recipe's GAN without pre-training, from the MLE start's G,
    # in chunks of eval_every steps (each ends in a checkpoint, a point of the trajectory)
    gan, train = load_recipe(CONFIG, scale, {**overrides, "pretrain_g_epochs": 0})
    if steps is not None:
        train["max_steps"] = steps
    gan.generator.load_state_dict(mle.generator.state_dict())
    for stop in [*range(eval_every, train["max_steps"], eval_every), train["max_steps"]]:
        Trainer(gan, out_dir=out_dir / "adversarial", progress=progress, **{**train, "max_steps": stop}).fit()
    final = get_modality("text").evaluate(gan, "oracle", n_samples, 0)   # with the references
    references = final.pop("references")
    scores["relgan"] = final
    points["relgan"] = sweep(gan, temperatures, n_samples, known=final)
    seqgan_run = read_seqgan(seqgan)
    if seqgan_run is not None:
        points["seqgan"] = seqgan_run["sweep"]["seqgan"]
    points["oracle"] = sweep(OracleReference(), temperatures, n_samples, known=references["oracle"])
    path = trajectory([(out_dir / "mle", "mle", 0), (out_dir / "adversarial", "adversarial", pretraining.total)],
                      n_trajectory)

    nll, test = {k: s["nll_oracle"] for k, s in scores.items()}, {k: s["nll_test"] for k, s in scores.items()}
    seqgan_nll = seqgan_run["nll_oracle"]["seqgan"] if seqgan_run else SEQGAN_DOCUMENTED
    targets = {
        f"RelGAN's NLL-oracle at least 0.3 below its MLE start's: {nll['relgan']:.3f} <= {nll['mle']:.3f} - 0.3":
            nll["relgan"] <= nll["mle"] - 0.3,
        f"RelGAN's NLL-oracle below SeqGAN's recipe result: {nll['relgan']:.3f} < {seqgan_nll:.3f}":
            nll["relgan"] < seqgan_nll,
        f"at an NLL-test no worse than the MLE start's + 0.5: {test['relgan']:.3f} <= {test['mle']:.3f} + 0.5":
            test["relgan"] <= test["mle"] + 0.5,
    }
    result = {"nll_oracle": nll, "nll_test": test, "oracle": references["oracle"],
              "untrained": references["untrained"], "n_samples": n_samples, "trajectory": path, "sweep": points,
              "mle_at_relgan_quality": at_equal_quality(points["mle"], final["nll_oracle"]),
              "seqgan_nll_oracle": seqgan_nll,
              "seqgan_source": str(seqgan) if seqgan_run else "docs/seqgan.md",
              "targets": {k: bool(v) for k, v in targets.items()}}
    (out_dir / "eval.json").write_text(json.dumps(result, indent=2) + "\n")
    sweep_table = write_sweep({LABELS[k]: v for k, v in points.items()}, out_dir, n_samples,
                              title="RelGAN on the oracle: quality against coverage, over sampling temperatures T",
                              zoom=tuple(LABELS[k] for k in points if k != "oracle"))
    path_table = write_trajectory(path, scores["random"], out_dir)

    oracle = result["oracle"]
    print(f"\nRelGAN on the oracle: per-token NLLs of {n_samples:,} samples (lower is better), scale {scale}")
    print(f"  {'':8s} {'paper':>8s} {'nll_oracle':>11s} {'nll_test':>9s}")
    for key, label in (("random", "random"), ("mle", "MLE"), ("relgan", "RelGAN")):
        paper = f"{PAPER[key]:8.3f}" if key in PAPER else f"{'':8s}"
        print(f"  {label:8s} {paper} {nll[key]:11.3f} {test[key]:9.3f}")
    print(f"  {'oracle':8s} {'':8s} {oracle['nll_oracle']:11.3f} {oracle['nll_test']:9.3f}   "
          "(the true distribution: both ~ its entropy)")
    print(f"  SeqGAN's recipe NLL-oracle: {seqgan_nll:.3f} ({result['seqgan_source']})")
    print(f"  the paper's RelGAN: {PAPER['relgan']:.3f}; this run's is {nll['relgan'] - PAPER['relgan']:+.3f} from it "
          f"(the paper: 150 MLE epochs and 3,000 steps of the full-size networks, on its own random oracle)")
    check_targets(list(targets.items()))
    matched = result["mle_at_relgan_quality"]
    if matched is None:
        print("RelGAN's NLL-oracle lies outside the MLE sweep: no MLE temperature matches its quality")
    else:
        better = "better" if test["relgan"] < matched["nll_test"] else "worse"
        print(f"At RelGAN's NLL-oracle {nll['relgan']:.3f}, MLE sampled at T = {matched['temperature']:.2f} has "
              f"NLL-test {matched['nll_test']:.3f} against RelGAN's {test['relgan']:.3f}: at equal quality RelGAN "
              f"covers the data {better} than a temperature-tuned MLE generator")
    print("\nThrough training (checkpoints, " + f"{n_trajectory:,} samples each):\n" + path_table)
    print(sweep_table)
    print(f"runs: {out_dir / 'mle'}, {out_dir / 'adversarial'} (samples/ in each)   metrics: {out_dir / 'eval.json'}"
          f"   sweep: {out_dir / 'quality_diversity.md'}, .png   trajectory: {out_dir / 'trajectory.md'}, .png")
    return result


if __name__ == "__main__":
    args = recipe_arguments(__doc__, "runs/relgan_oracle", steps=True)
    main(args.out, args.scale, args.overrides, steps=args.steps)
