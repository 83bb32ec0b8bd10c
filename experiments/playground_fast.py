"""SAC and DSPG with the `fast` preset on MuJoCo Playground under a wall-clock budget: env steps/s and
return against time (the GPU check of the Playground / fast-recipe issue).

    python experiments/playground_fast.py --out=reports/playground-fast [--budget_s=480]
        [--algos=sac,dspg] [--envs=CheetahRun,WalkerRun] [--seeds=1] [--preset=fast] [--eval_every=1024000]

Each (algorithm, task) is a real `python -m softrl_jax.train` process. After `budget_s` seconds of
wall clock (compilation included) it gets SIGTERM: it stops gracefully after the chunk in flight,
saves its checkpoint and exits 143. Its metrics.jsonl then holds every evaluation so far with
`time_s` and `env_steps_per_s`. A run that finishes its steps within the budget exits 0. Writes:

    <out>/<algo>-<task>/              the run folders (config, metrics, checkpoints: resumable)
    <out>/return_vs_time.png          evaluation return against wall-clock seconds, one panel per task
    <out>/summary.json, summary.md    per run: device, env steps/s, evaluations, best and last return
                                      (mean over seeds)

`--preset=fast-cpu --budget_s=60` runs the same pipeline at CPU sizes (a plumbing check, not a
measurement). The default `eval_every` (1000 vector steps of 1024 environments) evaluates five times
as often as the preset (FastTD3's 5000), to draw a curve within minutes.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from softrl_jax.config import ConfigError
from softrl_jax.io.signals import Children, Interrupted
from softrl_jax.train import parse_flags

DEFAULTS = {"out": "reports/playground-fast", "budget_s": "480", "algos": "sac,dspg", "envs": "CheetahRun,WalkerRun",
            "seeds": "1", "preset": "fast", "eval_every": "1024000"}
ALGOS = ("sac", "dspg", "ddpg")
PRESETS = ("fast", "fast-cpu")


def options(argv) -> dict:
    flags = parse_flags(argv)
    for name in flags:
        if name not in DEFAULTS:
            raise ConfigError(f"unknown flag --{name}; valid flags: {', '.join('--' + k for k in DEFAULTS)}")
    o = {**DEFAULTS, **flags}
    for name in ("budget_s", "seeds", "eval_every"):
        try:
            o[name] = int(float(o[name])) if name == "budget_s" else int(o[name])
        except ValueError:
            raise ConfigError(f"--{name}={o[name]!r} is not a valid number") from None
        if o[name] < 1:
            raise ConfigError(f"--{name}={o[name]} is out of range; must be >= 1")
    o["algos"] = [a for a in o["algos"].split(",") if a]
    for a in o["algos"]:
        if a not in ALGOS:
            raise ConfigError(f"unknown algo {a!r} in --algos; valid choices: {', '.join(ALGOS)}")
    if o["preset"] not in PRESETS:
        raise ConfigError(f"unknown preset {o['preset']!r}; valid choices: {', '.join(PRESETS)}")
    from softrl_jax.envs import playground_task_names

    valid = playground_task_names("dm_control_suite")
    o["envs"] = [e for e in o["envs"].split(",") if e]
    for e in o["envs"]:
        if e not in valid:
            raise ConfigError(f"unknown DM Control task {e!r} in --envs; valid choices: {', '.join(valid)}")
    return o


def run_one(o: dict, algo: str, task: str, children: Children) -> dict:
    out = Path(o["out"]) / f"{algo}-{task}"
    cmd = [sys.executable, "-m", "softrl_jax.train", f"--algo={algo}", f"--env=playground:{task}",
           f"--preset={o['preset']}", f"--seeds={o['seeds']}", "--progress=false"]
    if o["preset"] == "fast":  # fast-cpu keeps its own cadence (its budget is 64000 steps)
        cmd.append(f"--eval_every={o['eval_every']}")
    cmd.append(f"--out={out}")
    print(f"{algo} on playground:{task}: {o['budget_s']} s budget", flush=True)
    t0 = time.perf_counter()
    proc = children.start(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        text, _ = proc.communicate(timeout=o["budget_s"])
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)  # graceful stop: the chunk in flight, a checkpoint, exit 143
        text, _ = proc.communicate()
    if children.signum is not None:  # our own SIGTERM/SIGINT, passed on: the run checkpointed
        raise Interrupted(children.signum, proc.returncode if proc.returncode > 0 else None,
                          then="an unfinished run starts again from its checkpoint")
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 143):
        raise RuntimeError(f"{algo} on {task} exited {proc.returncode}:\n{text[-2000:]}")
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()] \
        if (out / "metrics.jsonl").exists() else []
    evals = sorted({(r["step"], r["time_s"]) for r in rows})
    mean_at = {s: sum(r["eval_return"] for r in rows if r["step"] == s) / max(1, sum(r["step"] == s for r in rows))
               for s, _ in evals}
    return {"algo": algo, "task": task, "exit": proc.returncode, "wall_s": round(wall, 1), "device": o["device"],
            "env_steps_per_s": rows[-1]["env_steps_per_s"] if rows else None,
            "steps": evals[-1][0] if evals else 0,
            "curve": [{"step": s, "time_s": t, "eval_return": mean_at[s]} for s, t in evals],
            "best": max(mean_at.values()) if mean_at else None,
            "last": mean_at[evals[-1][0]] if evals else None}


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted({r["task"] for r in results})
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for r in results:
            if r["task"] == task and r["curve"]:
                ax.plot([c["time_s"] for c in r["curve"]], [c["eval_return"] for c in r["curve"]], marker="o",
                        label=f"{r['algo']} ({r['env_steps_per_s'] or 0:,.0f} env steps/s)")
        ax.set(title=f"playground:{task}", xlabel="wall-clock seconds (training)", ylabel="evaluation return")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "no evaluation within the budget", ha="center", transform=ax.transAxes)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    try:
        o = options(sys.argv[1:] if argv is None else argv)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(o["out"])
    out.mkdir(parents=True, exist_ok=True)
    # the device, asked of a child process: jax in this one would preallocate GPU memory the runs need
    o["device"] = subprocess.run([sys.executable, "-c", "import jax; d = jax.devices(); "
                                  "print(f'{len(d)} x {d[0].device_kind}')"],
                                 capture_output=True, text=True).stdout.strip() or "?"
    try:
        with Children() as children:
            results = [run_one(o, a, t, children) for t in o["envs"] for a in o["algos"]]
    except Interrupted as e:
        print(e, file=sys.stderr)
        return e.exit_code
    plot(results, out / "return_vs_time.png")
    (out / "summary.json").write_text(json.dumps(results, indent=1))
    lines = ["| algo | task | device | env steps/s | steps | wall s | best | last |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        fmt = lambda x: "—" if x is None else f"{x:.1f}"  # noqa: E731
        lines.append(f"| {r['algo']} | {r['task']} | {r['device']} | "
                     f"{r['env_steps_per_s'] or 0:,.0f} | {r['steps']:,} | {r['wall_s']} | {fmt(r['best'])} | "
                     f"{fmt(r['last'])} |")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
