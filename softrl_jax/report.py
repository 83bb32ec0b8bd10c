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

A "variant" is one algorithm with one configuration: runs that share algorithm, environment, preset and
sweep point pool their seeds; variants of one algorithm are told apart by preset and sweep point.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import re
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np

from softrl_jax.config import ConfigError
from softrl_jax.stats import best_average_return, bootstrap_mean_band, iqm, iqm_intervals  # noqa: F401 (re-exported)
from softrl_jax.train import parse_flags, show_help

# DSPG paper (Shi, Song & Wu 2019), Table 1: best average return over training, 3e6 steps, 7 seeds,
# MuJoCo gym v2 (docs: /work/shared/REFERENCE.md). Our tasks are Brax's versions: a guide, not a match.
PAPER_TABLE1 = {
    "ant": {"dspg": 3384.1, "sac": 3472.3, "ddpg": 1012.2},
    "halfcheetah": {"dspg": 7889.7, "sac": 8103.2, "ddpg": 1014.4},
    "hopper": {"dspg": 3674.0, "sac": 3652.9, "ddpg": 3097.1},
    "walker2d": {"dspg": 6060.9, "sac": 5520.4, "ddpg": 2507.2},
}
FLAGS = ("runs", "out", "metric", "reps", "seed", "wandb_report", "envs", "algos", "results", "docs", "suite")


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


# ---------------------------------------------------------------- reading


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


# ---------------------------------------------------------------- statistics (softrl_jax/stats.py)


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


# ---------------------------------------------------------------- plots


def _slug(text: str) -> str:
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


# ---------------------------------------------------------------- report


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
    curves = {env: plot_task(vs, out / f"curves-{_slug(env)}.png", metric, reps, seed, colors)
              for env, vs in by_env.items()}

    table1 = []
    for v in every:
        if not v.seeds:
            table1.append({"env": v.env, "task": v.task, "label": v.label, "algo": v.algo, "seeds": 0,
                           "diverged": len(v.diverged), "last_step": None, "best_average": None, "final_mean": None,
                           "paper": PAPER_TABLE1.get(v.task.lower(), {}).get(v.algo)})
            continue
        steps, values = v.matrix()
        paper = PAPER_TABLE1.get(v.task.lower(), {}).get(v.algo)
        table1.append({"env": v.env, "task": v.task, "label": v.label, "algo": v.algo, "seeds": values.shape[0],
                       "diverged": len(v.diverged), "last_step": int(steps[-1]), "best_average": best_average_return(values),
                       "final_mean": float(np.nanmean(v.finals())), "paper": paper})

    iqm_rows = []
    raw, tasks, norm = final_scores(variants)
    per_task = []
    for env, vs in by_env.items():
        scores = {v.label: v.finals()[:, None] for v in vs if np.isfinite(v.finals()).all()}
        if scores:
            est, ci = iqm_intervals(scores, reps, seed)
            for lab in scores:
                per_task.append({"env": env, "label": lab, "iqm": est[lab], "lo": ci[lab][0], "hi": ci[lab][1],
                                 "runs": int(scores[lab].shape[0])})
                iqm_rows.append((env, lab, est[lab], ci[lab][0], ci[lab][1]))
    across = []
    if len(tasks) > 1 and norm:
        finite = {k: v for k, v in norm.items() if np.isfinite(v).all()}
        if finite:
            est, ci = iqm_intervals(finite, reps, seed)
            for lab in finite:
                across.append({"label": lab, "iqm": est[lab], "lo": ci[lab][0], "hi": ci[lab][1],
                               "runs": int(finite[lab].shape[0]), "tasks": len(tasks)})
                iqm_rows.append(("all tasks (normalised)", lab, est[lab], ci[lab][0], ci[lab][1]))
    iqm_png = plot_iqm(iqm_rows, out / "iqm.png", colors) if iqm_rows else None

    result = {"metric": metric, "runs": [f for v in variants for f in v.folders], "table1": table1,
              "iqm_per_task": per_task, "iqm_across_tasks": across,
              "curves": {k: p.name for k, p in curves.items()}, "iqm_png": iqm_png.name if iqm_png else None}
    (out / "summary.json").write_text(json.dumps(result, indent=2) + "\n")
    md = markdown(result, every)
    (out / "report.md").write_text(md)
    (out / "report.html").write_text(to_html(md, out))
    return result


def _fmt(x) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "—"
    text = f"{x:.1f}" if abs(x) >= 10 else f"{x:.3g}"
    return text.lstrip("-") if float(text) == 0 else text


def markdown(result: dict, variants: Sequence[Variant]) -> str:
    metric = result["metric"]
    lines = ["# softrl-jax comparison report", "",
             f"Generated {time.strftime('%Y-%m-%d %H:%M')} from {len(result['runs'])} run folder(s); "
             f"metric `{metric}` (deterministic evaluation return). Bands and intervals: 95% bootstrap.", ""]
    lines += ["## Learning curves", ""]
    for env, png in result["curves"].items():
        lines += [f"### {env}", "", f"![{env}]({png})", ""]
    lines += ["## Best average return over training (the DSPG paper's Table-1 form)", "",
              "Per algorithm and task: the maximum over evaluation steps of the mean over seeds. "
              "*Paper*: Shi, Song & Wu 2019, Table 1 (MuJoCo gym v2, 3e6 steps, 7 seeds; the paper's SAC is "
              "SAC v1 with a V network and fixed temperature). Brax tasks differ from MuJoCo's, so read the "
              "paper column as a reference point, not a target.", "",
              "*Diverged*: seeds whose losses or parameters went non-finite; they are frozen at their last "
              "finite state, counted here and left out of every average, curve and interval.", "",
              "| task | variant | seeds | diverged | steps | best average | final (mean) | paper |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in result["table1"]:
        if not r["seeds"]:
            lines.append(f"| {r['env']} | {r['label']} | 0 | all {r['diverged']} | — | — | — | {_fmt(r['paper'])} |")
            continue
        lines.append(f"| {r['env']} | {r['label']} | {r['seeds']} | {r['diverged']} | {r['last_step']} "
                     f"| {_fmt(r['best_average'])} | {_fmt(r['final_mean'])} | {_fmt(r['paper'])} |")
    lines += ["", "## Final return: IQM with 95% stratified-bootstrap intervals (rliable)", "",
              "Final return = each seed's last evaluation. Per task on raw returns:", "",
              "| task | variant | runs | IQM | 95% CI |", "|---|---|---:|---:|---|"]
    for r in result["iqm_per_task"]:
        lines.append(f"| {r['env']} | {r['label']} | {r['runs']} | {_fmt(r['iqm'])} | [{_fmt(r['lo'])}, {_fmt(r['hi'])}] |")
    if result["iqm_across_tasks"]:
        lines += ["", "Across tasks, on scores min-max normalised per task (0 = the lowest final return in this "
                  "report on that task, 1 = the highest); only variants run on every task:", "",
                  "| variant | runs x tasks | IQM | 95% CI |", "|---|---|---:|---|"]
        for r in result["iqm_across_tasks"]:
            lines.append(f"| {r['label']} | {r['runs']} x {r['tasks']} | {r['iqm']:.3f} | [{r['lo']:.3f}, {r['hi']:.3f}] |")
    if result["iqm_png"]:
        lines += ["", f"![IQM]({result['iqm_png']})"]
    lines += ["", "## Runs read", ""]
    for v in variants:
        gone = f" ({len(v.diverged)} more diverged, left out)" if v.diverged else ""
        lines.append(f"- {v.label} on {v.env}: {len(v.seeds)} seed(s){gone} from " + ", ".join(f"`{f}`" for f in v.folders))
    return "\n".join(lines) + "\n"


def to_html(md: str, out: Path) -> str:
    """A small Markdown-to-HTML rendering of `md` with the PNGs embedded as data URIs."""
    body, in_table, header_done = [], False, False
    for line in md.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if set("".join(cells)) <= set("-:"):
                header_done = True
                continue
            if not in_table:
                body.append("<table>")
                in_table, header_done = True, False
            tag = "td" if header_done else "th"
            body.append("<tr>" + "".join(f"<{tag}>{_inline(c)}</{tag}>" for c in cells) + "</tr>")
            continue
        if in_table:
            body.append("</table>")
            in_table = False
        m = re.match(r"!\[(.*)\]\((.*)\)", line)
        if m:
            data = base64.b64encode((out / m.group(2)).read_bytes()).decode()
            body.append(f'<p><img alt="{html.escape(m.group(1))}" src="data:image/png;base64,{data}"></p>')
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{_inline(line[level:].strip())}</h{level}>")
        elif line.startswith("- "):
            body.append(f"<li>{_inline(line[2:])}</li>")
        elif line.strip():
            body.append(f"<p>{_inline(line)}</p>")
    if in_table:
        body.append("</table>")
    style = ("body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
             "td:first-child,td:nth-child(2),th{text-align:left}img{max-width:100%}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>softrl-jax report</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def _inline(text: str) -> str:
    text = html.escape(text)
    text = re.sub(r"`([^`]*)`", r"<code>\1</code>", text)
    return re.sub(r"\*([^*]+)\*", r"<em>\1</em>", text)


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
    same comparison as a W&B report (softrl_jax.io.wandb_log.comparison_report) and print its URL."""
    from softrl_jax.io import wandb_log

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
    report = wandb_log.comparison_report(entity, project, envs, flags.get("metric", "eval_return"), algos)
    report.save()
    print(f"W&B report: {report.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
