"""The comparison report's figures: learning curves with bootstrap bands, and IQM intervals."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from softrl_jax.reporting.runs import Variant
from softrl_jax.stats import bootstrap_mean_band


def slug(text: str) -> str:
    """`text` as a file-name part."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


def plot_task(variants: Sequence[Variant], path: Path, metric: str, reps: int, seed: int,
              colors: dict[str, str] | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 4.3), dpi=120)
    for i, v in enumerate(variants):
        steps, values = v.matrix()
        if not len(steps):
            continue
        mean, lo, hi = bootstrap_mean_band(values, reps, seed + i)
        color = (colors or {}).get(v.label, f"C{i % 10}")
        ax.plot(steps, mean, color=color, lw=1.8, label=f"{v.label} ({values.shape[0]} seeds)")
        ax.fill_between(steps, lo, hi, color=color, alpha=0.2, lw=0)
    ax.set_xlabel("environment steps")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(variants[0].env)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8, title="mean over seeds, 95% bootstrap band", title_fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_iqm(rows: list[tuple[str, str, float, float, float]], path: Path,
             colors: dict[str, str] | None = None) -> Path:
    """rows: (panel, label, iqm, lo, hi); one panel per task plus 'all tasks (normalised)'."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = list(dict.fromkeys(r[0] for r in rows))
    labels = list(dict.fromkeys(r[1] for r in rows))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels) + 1.5, 0.45 * len(labels) + 1.6),
                             dpi=120, squeeze=False)
    for ax, panel in zip(axes[0], panels):
        for j, lab in enumerate(labels):
            for p, label, est, lo, hi in rows:
                if p == panel and label == lab:
                    color = (colors or {}).get(lab, f"C{j % 10}")
                    ax.barh(j, hi - lo, left=lo, height=0.6, color=color, alpha=0.35)
                    ax.plot([est, est], [j - 0.3, j + 0.3], color=color, lw=2.5)
        ax.set_yticks(range(len(labels)))
        ax.set_ylim(len(labels) - 0.5, -0.5)  # first label on top
        ax.set_yticklabels(labels if ax is axes[0][0] else [""] * len(labels), fontsize=8)
        ax.set_title(panel, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlabel("final-return IQM")
    fig.suptitle("IQM of final return, 95% stratified bootstrap CI (rliable)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
