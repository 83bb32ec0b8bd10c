"""Schulman, Chen & Abbeel (2017), Sec. 6, on MinAtar: soft Q-learning = policy gradient, measured.

Three comparisons, every algorithm trained by the suite's own fused loops (seeds vmapped in one
program per algorithm and task):

    6.1  a2c_naive vs a2c_soft     A2C with the naive one-step entropy bonus (eq. 79) against the
                                   "proper" entropy-regularised return (eq. 80)
    6.2  dqn vs soft_dqn           DQN's max backup (eq. 81) against the logsumexp soft backup
                                   (eqs. 82-83 / n-step eq. 46), epsilon-greedy in both
    6.3  a2c_soft vs soft_dqn_pg   entropy-regularised PG against soft Q-learning run in A2C's
                                   rollouts (Q = V + tau log pi, the eq. 46 target, gradient scaling)

    python experiments/pg_soft_q.py [--scale=cpu|gpu|paper] [--tasks=breakout,asterix,...] [--seeds=4]
                                    [--algos=...] [--q_steps=N] [--q_eval_every=N] [--pg_steps=N]
                                    [--pg_eval_every=N] [--out=DIR]
                                    [--budget_s=S   (start no piece after S seconds; 0: no limit)]
                                    [--train=false  (only the table, figure and report of what is there)]
                                    [-- --flag=value ...   (passed to every training run)]

Scales (every run starts from its algorithm's default preset, the paper's / MinAtar's settings):

    cpu    (default) the comparison on Breakout at a small budget, about 10 minutes on a 2-core CPU:
           CPU_STEPS, and CPU_OVERRIDES shrink what must shrink: the DQNs act in 4 environments per
           update (as for gpu, below), learn after 2000 frames, decay epsilon over 50k frames; 8
           evaluation episodes. All else is the preset's.
    gpu    the presets at a GPU's budget of minutes: GPU_STEPS, and the DQNs act in 4 environments
           per update (GPU_OVERRIDES: Atari DQN's one update per 4 frames, where MinAtar's DQN makes one
           per frame; epsilon decays over 100k frames and the target is copied every 1000 frames, as
           in MinAtar, counted in updates of 4 frames).
    paper  the presets unchanged but for the step budgets.

Step budgets are per family, equal within each comparison: the Q-learners (dqn, soft_dqn: 6.2) and
the A2C family (a2c_naive, a2c_soft, soft_dqn_pg: 6.1 and 6.3), since A2C's on-policy updates need
many more environment steps and far less compute per step than DQN's replay updates.

Writes, under --out (default runs/pg_soft_q):

    <algo>-<task>/          one run folder per piece (config.json, metrics.jsonl, checkpoints: a
                            piece that finished is skipped, an unfinished one resumes)
    comparisons.png         one row per comparison, one column per task: mean eval return over seeds
                            with a 95% bootstrap band
    summary.md / .json      per task and algorithm: seeds, final eval return (mean and 95% bootstrap
                            interval over seeds), best average return, wall seconds, the device
    report/                 `python -m softrl_jax.report --runs=<out> --out=<out>/report` (curves with
                            95% bands, IQM with stratified-bootstrap intervals, the table)

Bad flags print one line naming the value and the valid choices and exit 2, before anything is written.
SIGTERM / SIGINT: the piece in flight writes a checkpoint and the script exits 143 / 130; the same
command continues it (finished pieces are kept).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from softrl_jax import campaign
from softrl_jax.config import ConfigError, parse_value
from softrl_jax.io.signals import Children, Interrupted
from softrl_jax.train import parse_flags, show_help

TASKS = {"breakout": "Breakout-MinAtar", "asterix": "Asterix-MinAtar", "freeway": "Freeway-MinAtar",
         "space_invaders": "SpaceInvaders-MinAtar", "cartpole": "CartPole-v1", "acrobot": "Acrobot-v1"}
ALGOS = ("a2c_naive", "a2c_soft", "dqn", "soft_dqn", "soft_dqn_pg")
COMPARISONS = (("6.1 A2C: naive vs proper entropy return", ("a2c_naive", "a2c_soft")),
               ("6.2 DQN vs soft DQN", ("dqn", "soft_dqn")),
               ("6.3 soft Q-learning as PG vs entropy-regularised PG", ("a2c_soft", "soft_dqn_pg")))
SCALES = ("cpu", "gpu", "paper")
DEFAULTS = {"out": "runs/pg_soft_q", "scale": "cpu", "tasks": "breakout", "algos": ",".join(ALGOS),
            "seeds": "4", "q_steps": "", "q_eval_every": "", "pg_steps": "", "pg_eval_every": "", "progress": "true",
            "budget_s": "0", "train": "true"}
FAMILY = {"dqn": "q", "soft_dqn": "q", "a2c_naive": "pg", "a2c_soft": "pg", "soft_dqn_pg": "pg"}
# The cpu scale: env steps per seed and per run, and what the DQNs' schedules must shrink to fit them.
CPU_STEPS = {"q_steps": 60_000, "q_eval_every": 6_000, "pg_steps": 160_000, "pg_eval_every": 16_000}
CPU_OVERRIDES = {"dqn": {"num_envs": 4, "warmup_steps": 2000, "eps_decay": 12_500, "target_every": 250, "eval_episodes": 8},
                 "soft_dqn": {"num_envs": 4, "warmup_steps": 2000, "eps_decay": 12_500, "target_every": 250,
                              "eval_episodes": 8},
                 "a2c_naive": {"eval_episodes": 8}, "a2c_soft": {"eval_episodes": 8}, "soft_dqn_pg": {"eval_episodes": 8}}
GPU_STEPS = {"q_steps": 250_000, "q_eval_every": 25_000, "pg_steps": 2_500_000, "pg_eval_every": 250_000}
GPU_OVERRIDES = {"dqn": {"num_envs": 4, "eps_decay": 25_000, "target_every": 250},
                 "soft_dqn": {"num_envs": 4, "eps_decay": 25_000, "target_every": 250}}
PAPER_STEPS = {"q_steps": 1_000_000, "q_eval_every": 50_000, "pg_steps": 5_000_000, "pg_eval_every": 250_000}


def _split_passthrough(argv):
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1:]
    return argv, []


def _flag(v) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def plan(argv) -> tuple[dict, list]:
    """(options, [campaign.Piece]): every piece validated by the train command's own checks before anything
    runs, with what its run folder holds (softrl_jax/campaign.py). Raises ConfigError."""
    from softrl_jax import algos

    own, rest = _split_passthrough(list(argv))
    flags = parse_flags(own)
    unknown = sorted(set(flags) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"unknown flag --{unknown[0]}; valid flags: {' '.join('--' + k for k in DEFAULTS)} "
                          "(training flags go after --)")
    o = {**DEFAULTS, **flags}
    if o["scale"] not in SCALES:
        raise ConfigError(f"--scale={o['scale']!r} is not valid; valid choices: {', '.join(SCALES)}")
    tasks = [t for t in o["tasks"].split(",") if t]
    chosen = [a for a in o["algos"].split(",") if a]
    for t in tasks:
        if t not in TASKS:
            raise ConfigError(f"--tasks: unknown task {t!r}; valid choices: {', '.join(TASKS)}")
    for a in chosen:
        if a not in ALGOS:
            raise ConfigError(f"--algos: unknown algorithm {a!r}; valid choices: {', '.join(ALGOS)}")
    if not tasks or not chosen:
        raise ConfigError("--tasks and --algos must each name at least one value")
    steps = dict({"cpu": CPU_STEPS, "gpu": GPU_STEPS, "paper": PAPER_STEPS}[o["scale"]])
    scaled = {"cpu": CPU_OVERRIDES, "gpu": GPU_OVERRIDES, "paper": {}}[o["scale"]]
    for k in CPU_STEPS:
        if o[k]:
            steps[k] = parse_value(k, o[k], int)
            if steps[k] < 1:
                raise ConfigError(f"--{k}={steps[k]} is out of range; must be >= 1")
    seeds = parse_value("seeds", o["seeds"], int)
    o["budget_s"] = parse_value("budget_s", o["budget_s"], float)
    if o["budget_s"] < 0:
        raise ConfigError(f"--budget_s={o['budget_s']} is out of range; must be >= 0 (0: no limit)")
    progress = parse_value("progress", o["progress"], bool)
    o["train"] = parse_value("train", o["train"], bool)
    passthrough = parse_flags(rest)
    pieces = []
    for task in tasks:
        for algo in chosen:
            f = FAMILY[algo]
            over = {**scaled.get(algo, {}),
                    "total_steps": steps[f"{f}_steps"], "eval_every": steps[f"{f}_eval_every"],
                    "env": f"gymnax:{TASKS[task]}", "seeds": seeds, "progress": progress,
                    "out": str(Path(o["out"]) / f"{algo}-{task}"), **passthrough}
            flags = {"algo": algo, "preset": algos.default_preset(algo), **{k: _flag(v) for k, v in over.items()}}
            pieces.append(campaign.plan_piece(f"{algo}-{task}", flags, task=task))
    o.update(tasks=tasks, algos=chosen, **steps)
    return o, pieces


def _triples(pieces) -> list:
    return [(p.algo, p.task, p.rc) for p in pieces]


def finished(rc) -> bool:
    """The campaign layer's definition (softrl_jax/campaign.py run_finished)."""
    from softrl_jax.campaign import run_finished

    return run_finished(rc.loop.out, rc.loop.total_steps)


def has_metrics(rc) -> bool:
    path = Path(rc.loop.out) / "metrics.jsonl"
    return path.exists() and bool(path.read_text().strip())


def curves(rc) -> tuple[np.ndarray, np.ndarray]:
    """(steps [T], eval returns [seeds, T]) from a piece's metrics.jsonl."""
    rows = [json.loads(line) for line in (Path(rc.loop.out) / "metrics.jsonl").read_text().splitlines() if line.strip()]
    steps = sorted({r["step"] for r in rows})
    seeds = sorted({r["seed"] for r in rows})
    values = np.full((len(seeds), len(steps)), np.nan)
    for r in rows:
        values[seeds.index(r["seed"]), steps.index(r["step"])] = r["eval_return"]
    return np.asarray(steps), values


def summarise(o: dict, pieces: list, seconds: dict) -> dict:
    from softrl_jax.stats import best_average_return, bootstrap_mean_band

    rows = []
    for algo, task, rc in _triples(pieces):
        if not has_metrics(rc):
            continue  # not trained (e.g. a run stopped before this piece): left out of the table, named below
        steps, values = curves(rc)
        final = values[:, -1]
        _, lo, hi = bootstrap_mean_band(final[:, None])
        rows.append({"task": task, "algo": algo, "preset": rc.preset, "seeds": int(values.shape[0]),
                     "steps": int(steps[-1]), "final_mean": float(np.nanmean(final)), "final_lo": float(lo[0]),
                     "final_hi": float(hi[0]), "final_per_seed": final.tolist(),
                     "best_average": best_average_return(values), "wall_s": seconds.get((algo, task))})
    missing = [f"{algo}-{task}" for algo, task, rc in _triples(pieces) if not has_metrics(rc)]
    return {"scale": o["scale"], "tasks": o["tasks"], "algos": o["algos"],
            **{k: o[k] for k in CPU_STEPS}, "device": o["device"], "jax": o["jax"],
            "rows": rows, "missing": missing}


def markdown(summary: dict) -> str:
    by = {(r["task"], r["algo"]): r for r in summary["rows"]}
    lines = [f"Final eval return (mean over seeds [95% bootstrap interval]); env steps per seed: "
             f"{summary['q_steps']:,} (dqn, soft_dqn), {summary['pg_steps']:,} (A2C family); scale "
             f"{summary['scale']}, on {summary['device']} (jax {summary['jax']}).", "",
             "| task | " + " | ".join(summary["algos"]) + " |", "|---" * (len(summary["algos"]) + 1) + "|"]
    for task in summary["tasks"]:
        cells = []
        for a in summary["algos"]:
            r = by.get((task, a))
            cells.append(f"{r['final_mean']:.2f} [{r['final_lo']:.2f}, {r['final_hi']:.2f}] (n={r['seeds']}, "
                         f"{r['steps']:,} steps)" if r else "not run")
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    lines += ["", "| comparison | task | first | second | second - first |", "|---|---|---|---|---|"]
    for title, (a, b) in COMPARISONS:
        for task in summary["tasks"]:
            if (task, a) in by and (task, b) in by:
                x, y = by[(task, a)]["final_mean"], by[(task, b)]["final_mean"]
                lines.append(f"| {title} | {task} | {a} {x:.2f} | {b} {y:.2f} | {y - x:+.2f} |")
    if summary.get("missing"):
        lines += ["", "Not run: " + ", ".join(summary["missing"])]
    return "\n".join(lines) + "\n"


def plot(pieces: list, o: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from softrl_jax.stats import bootstrap_mean_band

    data = {(algo, task): curves(rc) for algo, task, rc in _triples(pieces) if has_metrics(rc)}
    rows = [(t, pair) for t, pair in COMPARISONS if any((a, task) in data for a in pair for task in o["tasks"])]
    if not rows:
        return
    fig, axes = plt.subplots(len(rows), len(o["tasks"]), figsize=(3.6 * len(o["tasks"]), 2.7 * len(rows)),
                             squeeze=False)
    for i, (title, pair) in enumerate(rows):
        for j, task in enumerate(o["tasks"]):
            ax = axes[i][j]
            for k, algo in enumerate(pair):
                if (algo, task) not in data:
                    continue
                steps, values = data[(algo, task)]
                mean, lo, hi = bootstrap_mean_band(values)
                ax.plot(steps, mean, color=f"C{k}", label=f"{algo} ({values.shape[0]} seeds)")
                ax.fill_between(steps, lo, hi, color=f"C{k}", alpha=0.25, linewidth=0)
            ax.set_title(f"{task}" if i == 0 else "", fontsize=10)
            if j == 0:
                ax.set_ylabel(title.split(" ", 1)[0] + " eval return")
            if i == len(rows) - 1:
                ax.set_xlabel("env steps per seed")
            if ax.lines:
                ax.legend(fontsize=7, loc="upper left")
            else:
                ax.text(0.5, 0.5, "not run", ha="center", va="center", transform=ax.transAxes, color="0.5")
            ax.grid(alpha=0.3)
    fig.suptitle("Schulman et al. 2017, Sec. 6\n(mean over seeds, 95% bootstrap band)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if show_help(argv, __doc__):
        return 0
    try:
        o, pieces = plan(argv)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from softrl_jax import report
    from softrl_jax.io.runstore import write_json

    out = Path(o["out"])
    seconds: dict = {}
    from importlib.metadata import version

    o["device"], o["jax"] = campaign.device_description(), version("jax")  # asked of a child: JAX here would
    # take the GPU memory the pieces need

    def write() -> dict:  # after every piece, so a run stopped early keeps its figure and table
        summary = summarise(o, pieces, seconds)
        write_json(out / "summary.json", summary)
        (out / "summary.md").write_text(markdown(summary))
        plot(pieces, o, out / "comparisons.png")
        return summary

    def after(piece, spent: float) -> None:
        if spent:  # trained by this command (a piece finished earlier keeps no wall time here)
            seconds[(piece.algo, piece.task)] = spent
        write()

    if o["train"]:  # each piece one train process (softrl_jax/campaign.py): finished ones skipped
        with Children() as children:
            try:
                code = campaign.run_pieces(pieces, children, after=after, budget_s=o["budget_s"])
            except Interrupted as e:  # SIGTERM / SIGINT: the piece checkpointed; the same command continues
                write()
                print(e, file=sys.stderr)
                return e.exit_code
        if code:
            write()
            return code
    summary = write()
    if summary["rows"]:
        report.build([str(out)], out / "report")
    print(markdown(summary))
    print(f"wrote {out / 'summary.md'}" + (f", {out / 'comparisons.png'}, {out / 'report'}/report.md" if summary["rows"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
