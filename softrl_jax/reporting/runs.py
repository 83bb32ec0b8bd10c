"""Run folders as data: find them, pool their seeds into variants, and the statistics of the
comparison report (the DSPG paper's Table-1 form, rliable IQMs) from softrl_jax/stats.py.

A "variant" is one algorithm with one configuration: runs that share algorithm, environment, preset and
sweep point pool their seeds; variants of one algorithm are told apart by preset and sweep point.
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np

from softrl_jax.stats import best_average_return, iqm_intervals

# DSPG paper (Shi, Song & Wu 2019), Table 1: best average return over training, 3e6 steps, 7 seeds,
# MuJoCo gym v2 (docs: /work/shared/REFERENCE.md). Our tasks are Brax's versions: a guide, not a match.
PAPER_TABLE1 = {
    "ant": {"dspg": 3384.1, "sac": 3472.3, "ddpg": 1012.2},
    "halfcheetah": {"dspg": 7889.7, "sac": 8103.2, "ddpg": 1014.4},
    "hopper": {"dspg": 3674.0, "sac": 3652.9, "ddpg": 3097.1},
    "walker2d": {"dspg": 6060.9, "sac": 5520.4, "ddpg": 2507.2},
}

@dataclasses.dataclass
class Variant:
    """All seeds of one (algorithm, env, preset, sweep point)."""

    algo: str
    env: str
    preset: str
    point: str
    seeds: dict[str, dict[int, float]] = dataclasses.field(default_factory=dict)  # seed id -> step -> value
    folders: list[str] = dataclasses.field(default_factory=list)
    label: str = ""
    # seeds that went non-finite (metrics.jsonl `diverged`): seed id -> step; counted, never averaged in
    diverged: dict[str, int] = dataclasses.field(default_factory=dict)

    @property
    def task(self) -> str:
        parts = self.env.split(":")
        return parts[1] if len(parts) > 1 else parts[0]

    def matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps [T], values [S, T]) with NaN where a seed has no evaluation at a step."""
        steps = sorted(set().union(*[set(v) for v in self.seeds.values()])) if self.seeds else []
        values = np.array([[by_step.get(t, np.nan) for t in steps] for by_step in self.seeds.values()], float)
        return np.asarray(steps, int), values.reshape(len(self.seeds), len(steps))

    def finals(self) -> np.ndarray:
        """[S]: each seed's last evaluation."""
        out = []
        for by_step in self.seeds.values():
            finite = [(t, v) for t, v in sorted(by_step.items()) if np.isfinite(v)]
            out.append(finite[-1][1] if finite else np.nan)
        return np.asarray(out, float)


def find_runs(roots: Sequence[str | Path]) -> list[Path]:
    """Every folder under `roots` (or a root itself) holding config.json and metrics.jsonl."""
    found = set()
    for root in roots:
        for cfg in Path(root).rglob("config.json"):
            if (cfg.parent / "metrics.jsonl").is_file():
                found.add(cfg.parent)
    return sorted(found)


def load_variants(run_dirs: Sequence[Path], metric: str = "eval_return") -> list[Variant]:
    variants: dict[tuple, Variant] = {}
    for d in run_dirs:
        config = json.loads((d / "config.json").read_text())
        algo, env, preset = config.get("algo", "?"), config.get("env", "?"), config.get("preset", "?")
        point = str(config.get("sweep_point") or "")
        v = variants.setdefault((algo, env, preset, point), Variant(algo, env, preset, point))
        v.folders.append(str(d))
        for line in (d / "metrics.jsonl").read_text().splitlines():
            if not line.strip():
                continue
            r = json.loads(line)
            value = r.get(metric)
            seed_id = f"{d}#{r.get('seed', 0)}"  # the same seed number in two folders is two runs
            v.seeds.setdefault(seed_id, {})[int(r["step"])] = np.nan if value is None else float(value)
            if r.get("diverged"):
                v.diverged[seed_id] = r.get("diverged_at")
    for v in variants.values():  # a diverged seed's frozen curve is left out of every statistic
        for seed_id in v.diverged:
            v.seeds.pop(seed_id, None)
    out = [v for v in variants.values() if v.seeds or v.diverged]
    _label(out)
    return sorted(out, key=lambda v: (v.task, v.env, v.algo, v.preset, v.point))


def _label(variants: list[Variant]) -> None:
    """Name = algorithm, plus preset and sweep point where one algorithm has several configurations."""
    configs = defaultdict(set)
    for v in variants:
        configs[v.algo].add((v.preset, v.point))
    for v in variants:
        if len(configs[v.algo]) == 1:
            v.label = v.algo
        else:
            v.label = f"{v.algo} [{v.preset}" + (f", {v.point}" if v.point else "") + "]"


def final_scores(variants: Sequence[Variant]) -> tuple[dict[str, np.ndarray], list[str], dict[str, np.ndarray]]:
    """Final returns per label as [runs, tasks] raw and min-max normalised per task.

    Only labels present on every task enter the across-task matrix; runs per label are cut to the
    smallest seed count among its tasks (rliable needs a full matrix)."""
    tasks = sorted({v.env for v in variants})
    by = {(v.label, v.env): v.finals() for v in variants}
    labels = sorted({v.label for v in variants})
    complete = [lab for lab in labels if all((lab, t) in by for t in tasks)]
    lo_hi = {}
    for t in tasks:
        allf = np.concatenate([f for (lab, tt), f in by.items() if tt == t])
        allf = allf[np.isfinite(allf)]
        lo_hi[t] = (allf.min(), allf.max()) if allf.size else (0.0, 1.0)
    raw, norm = {}, {}
    for lab in complete:
        n = min(len(by[(lab, t)]) for t in tasks)
        raw[lab] = np.stack([by[(lab, t)][:n] for t in tasks], axis=1)
        span = np.array([max(lo_hi[t][1] - lo_hi[t][0], 1e-12) for t in tasks])
        norm[lab] = (raw[lab] - np.array([lo_hi[t][0] for t in tasks])) / span
    return raw, tasks, norm


def table1_rows(every: Sequence[Variant]) -> list[dict]:
    """Per variant: seeds, diverged seeds, last step, best average return over training (the maximum over
    evaluation steps of the mean over seeds), final mean, and the paper's number where the task matches."""
    rows = []
    for v in every:
        paper = PAPER_TABLE1.get(v.task.lower(), {}).get(v.algo)
        if not v.seeds:
            rows.append({"env": v.env, "task": v.task, "label": v.label, "algo": v.algo, "seeds": 0,
                         "diverged": len(v.diverged), "last_step": None, "best_average": None, "final_mean": None,
                         "paper": paper})
            continue
        steps, values = v.matrix()
        rows.append({"env": v.env, "task": v.task, "label": v.label, "algo": v.algo, "seeds": values.shape[0],
                     "diverged": len(v.diverged), "last_step": int(steps[-1]), "best_average": best_average_return(values),
                     "final_mean": float(np.nanmean(v.finals())), "paper": paper})
    return rows


def iqm_tables(variants: Sequence[Variant], by_env: dict[str, list[Variant]], reps: int, seed: int) -> tuple:
    """(per task rows, across-task rows, figure rows (panel, label, iqm, lo, hi)): final-return IQMs with
    95% stratified-bootstrap intervals per task on raw returns, and across tasks on min-max normalised
    scores (only variants run on every task)."""
    figure, per_task, across = [], [], []
    raw, tasks, norm = final_scores(variants)
    for env, vs in by_env.items():
        scores = {v.label: v.finals()[:, None] for v in vs if np.isfinite(v.finals()).all()}
        if scores:
            est, ci = iqm_intervals(scores, reps, seed)
            for lab in scores:
                per_task.append({"env": env, "label": lab, "iqm": est[lab], "lo": ci[lab][0], "hi": ci[lab][1],
                                 "runs": int(scores[lab].shape[0])})
                figure.append((env, lab, est[lab], ci[lab][0], ci[lab][1]))
    if len(tasks) > 1 and norm:
        finite = {k: v for k, v in norm.items() if np.isfinite(v).all()}
        if finite:
            est, ci = iqm_intervals(finite, reps, seed)
            for lab in finite:
                across.append({"label": lab, "iqm": est[lab], "lo": ci[lab][0], "hi": ci[lab][1],
                               "runs": int(finite[lab].shape[0]), "tasks": len(tasks)})
                figure.append(("all tasks (normalised)", lab, est[lab], ci[lab][0], ci[lab][1]))
    return per_task, across, figure
