"""Learning-curve plots and summary tables from metrics.jsonl records (host-side)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np


def curves(records: list[dict], key: str = "eval_return") -> tuple[np.ndarray, np.ndarray]:
    """(steps [T], values [S, T]) from records with `seed` and `step`; seeds sorted."""
    by_seed: dict[int, dict[int, float]] = defaultdict(dict)
    for r in records:
        if r.get(key) is not None:
            by_seed[r["seed"]][r["step"]] = r[key]
    steps = sorted(set().union(*[set(v) for v in by_seed.values()])) if by_seed else []
    values = np.array([[by_seed[s].get(t, np.nan) for t in steps] for s in sorted(by_seed)], dtype=float)
    return np.asarray(steps), values


def plot_curves(series: dict[str, list[dict]], path: str | Path, title: str, key: str = "eval_return") -> Path:
    """One line per label: mean over seeds, shaded min..max across seeds. Drawn with matplotlib's object
    API, as its docs advise for scripts and servers: no pyplot (its global figure manager) and no change
    to the caller's backend; the PNG renders with Agg."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.0), dpi=120)
    ax = fig.subplots()
    for label, records in series.items():
        steps, values = curves(records, key)
        if not len(steps):
            continue
        mean = np.nanmean(values, axis=0)
        ax.plot(steps, mean, label=f"{label} ({values.shape[0]} seeds)")
        ax.fill_between(steps, np.nanmin(values, axis=0), np.nanmax(values, axis=0), alpha=0.2)
    ax.set_xlabel("environment steps per seed  (line: mean over seeds; band: min..max)")
    ax.set_ylabel(key.replace("_", " "))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small", framealpha=0.8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    return path


def summary_rows(records: list[dict]) -> list[tuple[int, float, float]]:
    """Per seed: (seed, final eval_return, best eval_return)."""
    steps, values = curves(records)
    rows = []
    seeds = sorted({r["seed"] for r in records})
    for seed, row in zip(seeds, values):
        rows.append((seed, float(row[~np.isnan(row)][-1]), float(np.nanmax(row))))
    return rows
