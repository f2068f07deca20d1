"""Temperature sweeps on the oracle: the quality-diversity view of Caccia et al., "Language GANs
Falling Short" (ICLR 2020), which the text recipes report.

Lowering the sampling temperature T moves any model to a lower NLL-oracle (quality) and, past
its best T, a higher NLL-test (coverage). So a model beats another only if its curve of
(NLL-test, NLL-oracle) over T lies below the other's, not because its T = 1 point has the lower
NLL-oracle. :func:`sweep` scores a model at each T, :func:`at_equal_quality` reads a curve at a
given NLL-oracle, and :func:`write_sweep` writes the curves as a table and a plot.
"""

from __future__ import annotations

from pathlib import Path

from ...plots import Series, line_plot_png
from .metrics import oracle_scores

#: the label :func:`write_sweep` draws as the true distribution (grey, dashed, T = 1 large)
ORACLE = "oracle"


def sweep(model, temperatures, n_samples: int, known: dict | None = None) -> list[dict]:
    """:func:`oracle_scores` of ``model`` at each temperature (``known``: scores already
    computed at T = 1, reused)."""
    return [known if (t == 1.0 and known is not None) else oracle_scores(model, n_samples, 0, t)
            for t in temperatures]


def at_equal_quality(points: list[dict], nll_oracle: float) -> dict | None:
    """The point of a swept curve (points in order of temperature) whose NLL-oracle is
    ``nll_oracle``, interpolated linearly between the two sweep points around it (temperature
    and NLL-test alike); None when the sweep does not reach it."""
    for a, b in zip(points, points[1:]):
        if min(a["nll_oracle"], b["nll_oracle"]) <= nll_oracle <= max(a["nll_oracle"], b["nll_oracle"]) \
                and a["nll_oracle"] != b["nll_oracle"]:
            w = (nll_oracle - a["nll_oracle"]) / (b["nll_oracle"] - a["nll_oracle"])
            return {"temperature": a["temperature"] + w * (b["temperature"] - a["temperature"]),
                    "nll_oracle": nll_oracle, "nll_test": a["nll_test"] + w * (b["nll_test"] - a["nll_test"])}
    return None


def write_sweep(curves: dict[str, list[dict]], out_dir: str | Path, n_samples: int, title: str,
                zoom: tuple[str, ...] = ()) -> str:
    """The swept ``curves`` (label -> points) as a markdown table (``quality_diversity.md``,
    returned) and a plot (``quality_diversity.png``): x = NLL-test, y = NLL-oracle, one curve
    per label, points labelled by T; the label :data:`ORACLE` is drawn grey and dashed with its
    T = 1 point large, and the labels in ``zoom`` again on axes of their own on the right."""
    out_dir = Path(out_dir)
    lines = [f"NLL-oracle (quality) and NLL-test (coverage) at each sampling temperature, {n_samples:,} samples; "
             "both per token, lower is better. The oracle at T = 1 is the true distribution.", "",
             "| model | T | nll_oracle | nll_test |", "| --- | ---: | ---: | ---: |"]
    for label, rows in curves.items():
        lines += [f"| {label} | {r['temperature']:g} | {r['nll_oracle']:.3f} | {r['nll_test']:.3f} |" for r in rows]
    table = "\n".join(lines) + "\n"
    (out_dir / "quality_diversity.md").write_text(table)
    series = [Series(label if label != ORACLE else "oracle (the true distribution at T = 1: large dot)",
                     [(r["nll_test"], r["nll_oracle"]) for r in rows], [f"T={r['temperature']:g}" for r in rows],
                     colour="#7f7f7f" if label == ORACLE else None, dashed=label == ORACLE,
                     highlight=[i for i, r in enumerate(rows) if label == ORACLE and r["temperature"] == 1.0])
              for label, rows in curves.items()]
    line_plot_png(series, out_dir / "quality_diversity.png", zoom=zoom, title=title,
                  x_label="NLL-test: the model's NLL of held-out oracle data (coverage; lower is better)",
                  y_label="NLL-oracle: the oracle's NLL of the model's samples (quality; lower is better)")
    return table
