"""The results page of a benchmark suite, from its results files alone:

    python -m softrl_jax.report --results=results/dmc100k        # -> docs/results/dmc100k.md + figures

Reads `<results>/<task>/<algo>.json` (written by `python -m softrl_jax.benchmark`) and the suite file
(`benchmarks/suites/<suite>.toml`, for its tasks, algorithms, reference scores and cost), and writes
`<docs>/<suite>.md` with its figures in `<docs>/<suite>/`:

- per-task learning curves: the mean over seeds with a 95% bootstrap band (seeds resampled);
- final returns per task with 95% bootstrap intervals, beside the suite's published reference scores,
  and whether each SAC mean lies within a reference's mean +- std;
- rliable's aggregates across tasks on scores normalised by the suite's `score_max`: IQM, mean and
  optimality gap with 95% stratified-bootstrap intervals, the probability of improvement of every pair
  of algorithms, and performance profiles; over the tasks every compared algorithm has run;
- per piece: machine, device count, wall time, env steps/s, compile time, jax version and commit;
- the pieces not run yet, with the cost estimate of the suite.

Pieces recorded on different machines stay apart in the per-piece table; a results file whose budget
or seeds differ from the suite's is listed and left out of every statistic.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from softrl_jax import campaign, stats
from softrl_jax.config import ConfigError

COLORS = {"sac": "tab:blue", "dspg": "tab:red", "ddpg": "tab:green", "sql": "tab:purple"}


def load_results(folder: Path, suite) -> tuple[dict[tuple[str, str], dict], list[str]]:
    """({(task env, algo): record} of the suite's protocol, [lines about files left out])."""
    from softrl_jax.benchmark import RESULTS_FORMAT
    from softrl_jax.suites import task_name

    records, left_out = {}, []
    for task in suite.tasks:
        for algo in suite.algos:
            path = folder / task_name(task) / f"{algo}.json"
            if not path.is_file():
                continue
            try:
                r = json.loads(path.read_text())
            except ValueError as e:
                raise ConfigError(f"{path} is not valid JSON ({e})") from None
            if r.get("format") != RESULTS_FORMAT:
                left_out.append(f"{path}: results format {r.get('format')!r}, not {RESULTS_FORMAT}")
                continue
            if (r.get("total_steps"), r.get("eval_every"), r.get("eval_episodes")) != (
                    suite.total_steps, suite.eval_every, suite.eval_episodes) or len(r.get("seeds", [])) < 1:
                left_out.append(f"{path}: {r.get('total_steps')} steps, evaluation every {r.get('eval_every')} on "
                                f"{r.get('eval_episodes')} episodes: not this suite's protocol")
                continue
            records[(task, algo)] = r
    return records, left_out


def _matrix(r: dict) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in r["eval_return"]], float)


def _finals(r: dict) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in r["final_return"]], float)


def _fmt(x: float, digits: int = 0) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:,.{digits}f}"


def plot_curves(suite, records, path: Path, reps: int, seed: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from softrl_jax.suites import task_name

    tasks = [t for t in suite.tasks if any((t, a) in records for a in suite.algos)]
    cols = min(3, max(1, len(tasks)))
    rows = max(1, math.ceil(len(tasks) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(max(5.5, 4.2 * cols), 3.4 * rows), squeeze=False)
    for ax in axes.flat[len(tasks):]:
        ax.axis("off")
    for ax, task in zip(axes.flat, tasks):
        for algo in suite.algos:
            r = records.get((task, algo))
            if r is None:
                continue
            steps = np.asarray(r["steps"], float)
            mean, lo, hi = stats.bootstrap_mean_band(_matrix(r), reps=reps, seed=seed)
            color = COLORS.get(algo)
            ax.plot(steps, mean, color=color, label=f"{algo} ({len(r['seeds'])} seeds)")
            ax.fill_between(steps, lo, hi, color=color, alpha=0.2)
        refs = [ref for ref in suite.references if task in ref.scores]
        for i, ref in enumerate(refs):
            ax.axhline(ref.scores[task][0], color="gray", lw=0.8, ls="--",
                       label="published SAC (page's table)" if i == 0 else None)
        ax.set_title(task_name(task), fontsize=10)
        ax.set_xlabel("environment steps", fontsize=8)
        ax.set_ylabel("evaluation return", fontsize=8)
        ax.set_ylim(0, suite.score_max)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(f"{suite.name}: mean over seeds, 95% bootstrap band", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_aggregates(agg: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(agg)
    fig, axes = plt.subplots(1, len(stats.AGGREGATES), figsize=(3.4 * len(stats.AGGREGATES), 0.5 + 0.45 * len(labels)),
                             squeeze=False)
    for ax, name in zip(axes[0], stats.AGGREGATES):
        for i, label in enumerate(labels):
            point, lo, hi = agg[label][name]
            ax.barh(i, hi - lo, left=lo, height=0.6, color=COLORS.get(label, "gray"), alpha=0.75)
            ax.plot([point, point], [i - 0.3, i + 0.3], color="black", lw=1.5)
        ax.set_yticks(range(len(labels)), labels if ax is axes[0][0] else [""] * len(labels), fontsize=8)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("normalised score", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_profiles(profiles, bands, taus: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.6, 3.2))
    for label, p in profiles.items():
        color = COLORS.get(label)
        ax.plot(taus, p, color=color, label=label)
        ax.fill_between(taus, bands[label][0], bands[label][1], color=color, alpha=0.2)
    ax.set_xlabel(r"normalised score $\tau$", fontsize=8)
    ax.set_ylabel(r"fraction of runs with score > $\tau$", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def build(results: str | Path, docs: str | Path = "docs/results", reps: int = 2000, seed: int = 0,
          suite_name: str = "") -> Path:
    """Write `<docs>/<suite>.md` and its figures; returns the page's path. The suite: `suite_name` (a name
    in benchmarks/suites/ or a path), else the results folder's name."""
    from softrl_jax.suites import load_suite

    folder = Path(results)
    if not folder.is_dir():
        raise ConfigError(f"--results={str(results)!r} is not a folder; pass results/<suite>, e.g. results/dmc100k")
    suite = load_suite(suite_name or folder.name)
    if suite.name != folder.name:
        raise ConfigError(f"--results={str(results)!r} is not a results folder of suite {suite.name!r} "
                          f"(expected .../{suite.name})")
    records, left_out = load_results(folder, suite)
    docs = Path(docs)
    figures = docs / suite.name  # linked relative to the page
    figures.mkdir(parents=True, exist_ok=True)
    lines = [f"# Results: {suite.name}", "",
             f"Generated by `python -m softrl_jax.report --results={folder.as_posix()}"
             f"{f' --suite={suite_name}' if suite_name else ''}` from the results files in "
             f"`{folder.as_posix()}/` (one per piece, written by `python -m softrl_jax.benchmark --suite={suite.name}`). "
             "Do not edit by hand.", "", suite.description, ""]
    if suite.task_notes:
        lines += ["**Tasks.** " + suite.task_notes, ""]
    if not records:
        lines += ["No piece has run yet.", ""]
    else:
        algos_run = [a for a in suite.algos if any((t, a) in records for t in suite.tasks)]
        plot_curves(suite, records, figures / "curves.png", reps, seed)
        lines += ["## Learning curves", "", f"![learning curves]({suite.name}/curves.png)", ""]
        lines += final_section(suite, records, algos_run, reps, seed)
        lines += aggregate_section(suite, records, algos_run, figures, reps, seed)
        lines += pieces_section(records)
    lines += missing_section(suite, records, folder)
    if left_out:
        lines += ["## Results files left out", ""] + [f"- {x}" for x in left_out] + [""]
    page = docs / f"{suite.name}.md"
    page.write_text("\n".join(lines).rstrip() + "\n")
    return page


def final_section(suite, records: dict, algos_run: list[str], reps: int, seed: int) -> list[str]:
    """Final returns (mean over seeds, bootstrap interval) beside the published references."""
    from softrl_jax.suites import task_name

    lines = ["## Final return", "",
             f"Mean over seeds of the last evaluation ({suite.total_steps:,} steps, {suite.eval_episodes} "
             "episodes), with a 95% bootstrap interval over seeds. References: mean ± std as published.", ""]
    head = "| task | " + " | ".join(algos_run) + " | " + " | ".join(r.name for r in suite.references) + " |"
    lines += [head, "|---|" + "---:|" * (len(algos_run) + len(suite.references))]
    within: dict[str, list[bool]] = {r.name: [] for r in suite.references}
    for task in suite.tasks:
        cells = []
        for algo in algos_run:
            r = records.get((task, algo))
            if r is None:
                cells.append("not run")
                continue
            mean, lo, hi = stats.bootstrap_mean_band(_finals(r)[:, None], reps=reps, seed=seed)
            cells.append(f"{_fmt(mean[0])} [{_fmt(lo[0])}, {_fmt(hi[0])}]")
            for ref in suite.references:
                if ref.algo == algo and task in ref.scores:
                    m, sd = ref.scores[task]
                    within[ref.name].append(abs(mean[0] - m) <= sd if math.isfinite(sd) else False)
        refs = [(f"{_fmt(ref.scores[task][0])} ± {_fmt(ref.scores[task][1])}" if task in ref.scores else "")
                for ref in suite.references]
        lines.append(f"| {task_name(task)} | " + " | ".join(cells + refs) + " |")
    lines.append("")
    for ref in suite.references:
        if within[ref.name]:
            lines.append(f"- {ref.algo} lies within {ref.name}'s mean ± std on {sum(within[ref.name])} of "
                         f"{len(within[ref.name])} task(s) it has run.")
    lines.append("")
    lines += [f"- *{ref.name}*: {ref.citation}" + (f" {ref.notes}" if ref.notes else "") for ref in suite.references]
    return lines + [""]


def aggregate_section(suite, records: dict, algos_run: list[str], figures: Path, reps: int, seed: int) -> list[str]:
    """rliable aggregates, probabilities of improvement and performance profiles over the tasks every run
    algorithm has."""
    from softrl_jax.suites import task_name

    common = [t for t in suite.tasks if all((t, a) in records for a in algos_run)]
    if not common:
        return []
    runs = min(len(records[(t, a)]["seeds"]) for t in common for a in algos_run)
    scores = {a: np.stack([_finals(records[(t, a)])[:runs] for t in common], axis=1) / suite.score_max
              for a in algos_run}
    scores = {a: np.nan_to_num(s, nan=0.0) for a, s in scores.items()}
    agg = stats.aggregates(scores, reps=reps, seed=seed)
    plot_aggregates(agg, figures / "aggregates.png")
    taus = np.linspace(0.0, 1.0, 51)
    profiles, bands = stats.performance_profiles(scores, taus, reps=reps, seed=seed)
    plot_profiles(profiles, bands, taus, figures / "profiles.png")
    lines = ["## Aggregates across tasks (rliable)", "",
             f"Final returns / {suite.score_max:g} on the {len(common)} task(s) every algorithm below has run "
             f"({', '.join(task_name(t) for t in common)}), {runs} runs per task; 95% stratified-bootstrap "
             f"intervals ({reps} resamples). A diverged seed counts as 0.", "",
             f"![aggregates]({suite.name}/aggregates.png)", "",
             "| algorithm | " + " | ".join(stats.AGGREGATES) + " |", "|---|" + "---:|" * len(stats.AGGREGATES)]
    for a in algos_run:
        lines.append(f"| {a} | " + " | ".join(f"{p:.3f} [{lo:.3f}, {hi:.3f}]" for p, lo, hi in
                                              (agg[a][n] for n in stats.AGGREGATES)) + " |")
    pairs = [(x, y) for i, x in enumerate(algos_run) for y in algos_run[i + 1:]]
    if pairs:
        poi = stats.improvement_intervals(scores, pairs, reps=reps, seed=seed)
        lines += ["", "Probability of improvement P(X > Y) (the chance that a run of X beats a run of Y on a "
                  "task, averaged over tasks):", "", "| X | Y | P(X > Y) | 95% interval |", "|---|---|---:|---:|"]
        lines += [f"| {x} | {y} | {p:.3f} | [{lo:.3f}, {hi:.3f}] |" for (x, y), (p, lo, hi) in poi.items()]
    return lines + ["", f"![performance profiles]({suite.name}/profiles.png)", "",
                    "Performance profiles: the fraction of runs above each normalised score, with 95% bands.", ""]


def pieces_section(records: dict) -> list[str]:
    """One row per piece: where and how fast it ran."""
    from softrl_jax.suites import task_name

    lines = ["## Pieces", "", "Wall time and env steps/s as measured, with whatever else ran on the machine "
             "(see each piece's note).", "",
             "| piece | machine | devices | seeds | wall time | env steps/s | compile s | jax | commit | note |",
             "|---|---|---:|---:|---:|---:|---:|---|---|---|"]
    for (task, algo), r in records.items():
        lines.append(f"| {task_name(task)}/{algo} | {r.get('machine')} | {r.get('device_count')} | "
                     f"{len(r['seeds'])} | {_fmt((r.get('wall_s') or 0) / 60, 1)} min | "
                     f"{_fmt(r.get('env_steps_per_s'))} | {_fmt(r.get('compile_s'))} | {r.get('jax_version')} | "
                     f"{str(r.get('git_commit'))[:12]} | {r.get('note', '')} |")
    return lines + [""]


def missing_section(suite, records: dict, folder: Path) -> list[str]:
    """The pieces not run yet, with their cost from the calibrated rates in <results>/rates.json."""
    from softrl_jax.suites import task_name

    missing = [(t, a) for t in suite.tasks for a in suite.algos if (t, a) not in records]
    if not missing:
        return []
    names = [f"{task_name(t)}/{a}" for t, a in missing]
    lines = ["## Not run yet", "", f"{len(missing)} piece(s): run them with `python -m softrl_jax.benchmark "
             f"--suite={suite.name}` (finished pieces are skipped).", ""]
    rates = _rates(folder)
    if rates:
        lines += ["Hours per whole piece, from the rates `--calibrate` measured (`rates.json` in the results "
                  "folder): startup plus the steps at the measured training rate.", "",
                  "| piece | " + " | ".join(rates) + " |", "|---|" + "---:|" * len(rates)]
        for name, (task, algo) in zip(names, missing):
            key = campaign.rate_key(algo, task, suite.algos[algo], suite.seeds)
            lines.append(f"| {name} | " + " | ".join(
                "not measured" if key not in by_key else f"{campaign.hours(by_key[key], suite.total_steps):.1f} h"
                for by_key in rates.values()) + " |")
        lines.append("")
    return lines + [f"Cost: {suite.cost}" if suite.cost else "", "", ", ".join(names), ""]


def _rates(folder: Path) -> dict:
    try:
        return json.loads((folder / "rates.json").read_text())
    except (OSError, ValueError):
        return {}
