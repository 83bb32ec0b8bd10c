"""Comparison report from local run folders alone (no W&B): `make report ARGS="--runs=runs"`.

    python -m softrl_jax.report --runs=runs/sweeps/a,runs/b --out=reports/latest

Reads every folder under `--runs` that holds `config.json` + `metrics.jsonl` (train.py runs and sweep
points alike) and writes to `--out`:

- `curves-<task>.png`: learning curves per task, the mean over seeds with a 95% bootstrap band
  (seeds resampled with replacement at every evaluation step);
- `iqm.png`: final-return IQM with 95% stratified-bootstrap intervals (rliable), per task and across
  tasks on per-task min-max normalised scores;
- `report.md` (images beside it) and `report.html` (images embedded: one self-contained file), with
  the DSPG paper's Table-1 form -- best average return over training: for every algorithm and task,
  the maximum over evaluation steps of the mean over seeds -- next to the paper's published numbers
  where the task matches (Ant, HalfCheetah, Hopper, Walker2d).

The parts live in softrl_jax/reporting/: run folders and statistics (runs.py: a "variant" pools the
seeds of runs that share algorithm, environment, preset and sweep point), figures (figures.py), and
Markdown and HTML (markdown.py).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Sequence

from softrl_jax.config import ConfigError
from softrl_jax.reporting.figures import plot_iqm, plot_task, slug
from softrl_jax.reporting.markdown import document, to_html
from softrl_jax.reporting.runs import Variant, find_runs, iqm_tables, load_variants, table1_rows
from softrl_jax.train import parse_flags, show_help

FLAGS = ("runs", "out", "metric", "reps", "seed", "wandb_report", "envs", "algos", "results", "docs", "suite")


def build(run_roots: Sequence[str], out: str | Path, metric: str = "eval_return", reps: int = 2000,
          seed: int = 0) -> dict:
    """Compute everything, write the PNGs, report.md and report.html; return the numbers."""
    every = load_variants(find_runs(run_roots), metric)
    if not every:
        raise ConfigError(f"no runs with {metric!r} values under {', '.join(map(str, run_roots))}")
    variants = [v for v in every if v.seeds]  # variants whose every seed diverged appear in the table only
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    by_env: dict[str, list[Variant]] = defaultdict(list)
    for v in variants:
        by_env[v.env].append(v)

    colors = {lab: f"C{i % 10}" for i, lab in enumerate(sorted({v.label for v in variants}))}  # same in every plot
    curves = {env: plot_task(vs, out / f"curves-{slug(env)}.png", metric, reps, seed, colors)
              for env, vs in by_env.items()}
    per_task, across, figure_rows = iqm_tables(variants, by_env, reps, seed)
    iqm_png = plot_iqm(figure_rows, out / "iqm.png", colors) if figure_rows else None

    result = {"metric": metric, "runs": [f for v in variants for f in v.folders], "table1": table1_rows(every),
              "iqm_per_task": per_task, "iqm_across_tasks": across,
              "curves": {k: p.name for k, p in curves.items()}, "iqm_png": iqm_png.name if iqm_png else None}
    (out / "summary.json").write_text(json.dumps(result, indent=2) + "\n")
    md = document(result, every)
    (out / "report.md").write_text(md)
    (out / "report.html").write_text(to_html(md, out))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if show_help(argv, __doc__):
        return 0
    try:
        flags = parse_flags(argv)
        for name in flags:
            if name not in FLAGS:
                raise ConfigError(f"unknown flag --{name}; valid flags: " + " ".join(f"--{f}" for f in FLAGS))
        if "wandb_report" in flags:
            return publish_wandb_report(flags)
        if "results" in flags:
            return results_page(flags)
        for name in ("docs", "suite"):
            if name in flags:
                raise ConfigError(f"--{name} goes with --results=results/<suite> (the results page)")
        for name in ("envs", "algos"):
            if name in flags:
                raise ConfigError(f"--{name} goes with --wandb_report=ENTITY/PROJECT (the local report reads every run)")
        roots = [r for r in flags.get("runs", "runs").split(",") if r]
        for r in roots:
            if not Path(r).is_dir():
                raise ConfigError(f"--runs={r!r} is not a folder; pass folders holding run folders "
                                  "(config.json + metrics.jsonl), e.g. --runs=runs")
        reps, seed = _reps_seed(flags)
        metric = flags.get("metric", "eval_return")
        if not find_runs(roots):
            raise ConfigError(f"no run folders (config.json + metrics.jsonl) under {', '.join(roots)}")
        out = flags.get("out", "reports/latest")
        result = build(roots, out, metric, reps, seed)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"report: {Path(out) / 'report.md'} and {Path(out) / 'report.html'} "
          f"({len(result['curves'])} task(s), {len(result['table1'])} variant(s))")
    return 0


def _reps_seed(flags: dict) -> tuple[int, int]:
    """--reps (bootstrap resamples, >= 10) and --seed of both reports; ConfigError on bad values."""
    try:
        reps, seed = int(flags.get("reps", "2000")), int(flags.get("seed", "0"))
    except ValueError:
        raise ConfigError("--reps and --seed take integers") from None
    if reps < 10:
        raise ConfigError(f"--reps={reps} is out of range; must be >= 10")
    return reps, seed


def results_page(flags: dict) -> int:
    """`--results=results/<suite> [--suite=NAME|PATH] [--docs=docs/results] [--reps=2000] [--seed=0]`: a
    benchmark suite's results page (softrl_jax/results_page.py); the suite defaults to the folder's name."""
    from softrl_jax import results_page as page

    for name in flags:
        if name not in ("results", "docs", "suite", "reps", "seed"):
            raise ConfigError(f"--{name} does not go with --results; its flags: --results --suite --docs --reps --seed")
    reps, seed = _reps_seed(flags)
    path = page.build(flags["results"], flags.get("docs", "docs/results"), reps, seed, flags.get("suite", ""))
    print(f"results page: {path} (figures in {path.with_suffix('')}/)")
    return 0


def publish_wandb_report(flags: dict) -> int:
    """`--wandb_report=ENTITY/PROJECT --envs=brax:ant,brax:hopper [--algos=dspg,sac,ddpg]`: save the
    same comparison as a W&B report (softrl_jax.io.wandb_report.comparison_report) and print its URL."""
    from softrl_jax.io import wandb_log, wandb_report

    entity, _, project = flags["wandb_report"].partition("/")
    if not entity or not project or "/" in project:
        raise ConfigError(f"--wandb_report={flags['wandb_report']!r} must be ENTITY/PROJECT, e.g. my-team/softrl-jax")
    envs = [e for e in flags.get("envs", "").split(",") if e]
    if not envs:
        raise ConfigError("--wandb_report needs --envs=ENV[,ENV...], e.g. --envs=brax:ant,brax:hopper")
    try:
        import wandb_workspaces  # noqa: F401
    except ImportError:
        raise ConfigError("--wandb_report needs the wandb-workspaces package: pip install wandb-workspaces==0.4.13") from None
    if not wandb_log.has_credentials():
        raise ConfigError("--wandb_report needs W&B credentials (WANDB_API_KEY or `wandb login`)")
    algos = [a for a in flags.get("algos", "").split(",") if a]
    report = wandb_report.comparison_report(entity, project, envs, flags.get("metric", "eval_return"), algos)
    report.save()
    print(f"W&B report: {report.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
