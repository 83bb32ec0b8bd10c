"""Peer benchmark: our SAC beside Brax's own SAC trainer and rejax's SAC, equal work, one clock.

    python -m softrl_jax.bench_peers [--out=reports/peers] [--only=idp,pendulum] [--repeats=3] [--quick]
                                     [--baseline=GIT_REF]

  idp       SAC on Brax inverted_double_pendulum (MJX, 16 envs, batch 256, 2x256, one update per vector
            step, 1 seed) against `brax.training.agents.sac` (jax 0.7.2: Brax's trainers fail on >= 0.8)
  pendulum  SAC on gymnax Pendulum-v1, 4 vmapped seeds (one env each), against rejax 0.1.3

Before anything runs, a table puts every setting of both sides next to each other and marks with `!=`
the ones that differ (numbers from our resolved config and the flags the peer script gets; behaviour
that no flag sets, from the peer scripts' own lists). Then the jobs run one at a time, each a fresh
process with a cold compile (persistent compilation cache off), ours and the peer alternating,
`--repeats` times (the peer first in every other repeat, so drift of the machine hits both sides).

One clock for both sides (the peers' scripts measure it the same way; benchmarks/peers/README.md):
  train env steps/s   steady TRAINING throughput: env steps of all seeds over the time of training
                      after the first trained chunk, evaluation and compilation excluded.
                      Ours: the runner times each chunk's resets + training on its own (summary.json
                      steady_train_env_steps_per_s). Brax: its training epochs after the first (Brax's
                      own training/sps). rejax evaluates inside its one compiled program, so its script
                      runs two lengths T and T/2 and divides the extra env steps by the extra time, each
                      run's evaluations subtracted (timed alone on the final state): the warm-up and
                      fixed costs cancel as our first chunks are left out.
  train compile [s]   tracing + lowering + XLA compilation of the training program alone (ours: the
                      chunk; Brax: its training epoch; rejax: its one program, evaluation inside)
  all compile [s]     every program of the run (ours: init, resets, chunk, evaluation; Brax: every
                      compile event of train() and its Evaluator)
  eval [s]            seconds per evaluation, reported apart: the sides evaluate differently (Brax
                      always unrolls episode_length steps; we stop once every episode has ended)

`--baseline=GIT_REF` adds a third side: our same command at another commit (checked out with `git worktree`
under `<out>/baseline-<commit>` and run from there), in the same rotation, so that a change's before and
after are measured side by side in one run against the same peer.

The summary gives, per benchmark and side, the median over repeats with the spread (min-max), the ratio
of the medians and the ratio of each repeat's pair. Writes `<out>/peers.json`, `<out>/peers.md` and
`<out>/peers.png`. About 20 minutes on a 2-core CPU with 3 repeats; `--quick` runs 1 repeat of shorter
jobs (a check of the plumbing, not a measurement).
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

from softrl_jax.config import ConfigError
from softrl_jax.train import parse_flags, show_help

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT / "benchmarks" / "peers"
VENVS = ROOT / ".venv-peers"
BENCHMARKS = ("idp", "pendulum")

# Shared settings: SAC `modern` (2x256, Adam 3e-4, batch 256, tau 0.005, learned alpha); 1 update per
# vector step. IDP: 16 envs, 1008 warm-up steps (Brax rounds 1000 up to a multiple of 16), replay 1e5,
# 40000 env steps: Brax's 5 training epochs of 7808 steps, our 5 chunks of 8000. Pendulum: 4 seeds, one
# env each, 1000 warm-up steps, replay 1e5, evaluation every 1000 steps on 8 episodes.
IDP = {"steps": 40_000, "num_envs": 16, "warmup": 1008, "eval_every": 8000, "eval_episodes": 16,
       "buffer": 100_000, "num_evals": 6}
PENDULUM = {"seeds": 4, "steps": 6000, "warmup": 1000, "eval_every": 1000, "eval_episodes": 8, "buffer": 100_000}


def our_idp(steps: int, out: Path) -> list[str]:
    p = IDP
    return [sys.executable, "-m", "softrl_jax.train", "--algo=sac", "--preset=modern",
            "--env=brax:inverted_double_pendulum", "--seeds=1", f"--total_steps={steps}",
            f"--num_envs={p['num_envs']}", f"--warmup_steps={p['warmup']}", f"--buffer_size={p['buffer']}",
            "--batch_size=256", "--updates_per_step=1", f"--eval_every={p['eval_every']}",
            f"--eval_episodes={p['eval_episodes']}", "--compile_cache=off", "--checkpoint=false", "--progress=false",
            f"--out={out}"]


def brax_idp(steps: int, out: Path) -> list[str]:
    p = IDP
    return [str(VENVS / "brax" / "bin" / "python"), str(PEERS / "brax_sac.py"), f"--total_steps={steps}",
            "--seed=0", f"--num_evals={p['num_evals']}", f"--num_envs={p['num_envs']}",
            f"--num_eval_envs={p['eval_episodes']}", "--min_replay_size=1000",
            f"--max_replay_size={p['buffer']}", "--batch_size=256", "--grad_updates_per_step=1", f"--json={out}"]


def our_pendulum(steps: int, out: Path) -> list[str]:
    p = PENDULUM
    return [sys.executable, "-m", "softrl_jax.train", "--algo=sac", "--preset=modern", "--env=gymnax:Pendulum-v1",
            f"--seeds={p['seeds']}", f"--total_steps={steps}", "--num_envs=1", f"--warmup_steps={p['warmup']}",
            f"--buffer_size={p['buffer']}", "--updates_per_step=1", f"--eval_every={p['eval_every']}",
            f"--eval_episodes={p['eval_episodes']}", "--compile_cache=off", "--checkpoint=false", "--progress=false",
            f"--out={out}"]


def rejax_pendulum(steps: int, out: Path) -> list[str]:
    p = PENDULUM
    return [str(VENVS / "rejax" / "bin" / "python"), str(PEERS / "rejax_sac.py"), f"--seeds={p['seeds']}",
            f"--total_steps={steps}", f"--warmup_steps={p['warmup']}", f"--buffer_size={p['buffer']}",
            f"--eval_every={p['eval_every']}", f"--eval_episodes={p['eval_episodes']}", "--steady=1",
            f"--json={out}"]


def our_config(cmd: list[str]) -> dict:
    """The resolved flat config of one of our commands (what config.json will hold)."""
    from softrl_jax.train import config_from_flags

    return config_from_flags([a for a in cmd[3:] if not a.startswith(("--out=", "--progress=", "--checkpoint=",
                                                                     "--compile_cache="))]).flat()


def peer_module(name: str):
    """benchmarks/peers/<name>.py as a module (its top level imports only the standard library)."""
    sys.path.insert(0, str(PEERS))
    try:
        spec = importlib.util.spec_from_file_location(f"peers_{name}", PEERS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(PEERS))


def settings(bench: str, steps: int) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(rows of (setting, ours, peer), the peer's behavioural differences) for one benchmark."""
    if bench == "idp":
        c = our_config(our_idp(steps, Path("unused")))
        p, peer = IDP, peer_module("brax_sac")
        rows = [
            ("environment", c["env"].replace("brax:", "brax ") + ", backend mjx", "brax inverted_double_pendulum, backend mjx"),
            ("seeds x envs per seed", f"{c['seeds']} x {c['num_envs']}", f"1 x {p['num_envs']}"),
            ("env steps (warm-up included)", str(c["total_steps"]), f"{steps} (rounded up to whole epochs)"),
        ]
        warm_peer = "1008 by the initial policy (min_replay_size 1000 rounded up)"
        evals_peer = f"{p['num_evals']}: before training and after each of {p['num_evals'] - 1} epochs"
        eval_unroll_peer = "always episode_length (1000) steps"
        target_peer = "-0.5 * A"
        versions = ("jax 0.10.2, brax 0.14.2, mujoco-mjx 3.17.0", "jax 0.7.2, brax 0.14.2, mujoco-mjx 3.17.0")
    else:
        c = our_config(our_pendulum(steps, Path("unused")))
        p, peer = PENDULUM, peer_module("rejax_sac")
        rows = [
            ("environment", c["env"].replace("gymnax:", "gymnax ") + " (gymnax 1.0.1)", "gymnax Pendulum-v1 (gymnax 0.0.9)"),
            ("seeds x envs per seed", f"{c['seeds']} x {c['num_envs']} (vmapped)", f"{p['seeds']} x 1 (vmapped)"),
            ("env steps per seed (warm-up included)", str(c["total_steps"]), f"{steps} and {steps // 2} (two runs)"),
        ]
        warm_peer = f"{p['warmup']} by the initial policy"
        evals_peer = f"every {p['eval_every']} steps"
        eval_unroll_peer = "the episode (200 steps)"
        target_peer = "-1 * A"
        versions = ("jax 0.10.2, gymnax 1.0.1", "jax 0.10.2, rejax 0.1.3, gymnax 0.0.9")
    a = "A"
    rows += [
        ("batch", str(c["batch_size"]), "256"),
        ("hidden (actor, critics)", "x".join(map(str, c["hidden"])) + " relu", "256x256 relu"),
        ("critics", str(c["num_critics"]), "2"),
        ("learning rates actor / critic / alpha", f"{c['actor_lr']:g} / {c['critic_lr']:g} / {c['alpha_lr']:g}",
         "0.0003 / 0.0003 / 0.0003"),
        ("gamma, tau", f"{c['gamma']:g}, {c['tau']:g}", "0.99, 0.005"),
        ("reward scale", f"{c['reward_scale']:g}", "1"),
        ("updates per vector step", str(c["updates_per_step"]), "1"),
        ("replay capacity", str(c["buffer_size"]), str(p["buffer"])),
        ("initial alpha", f"{c['alpha']:g}", "1"),
        ("target entropy", f"{c['target_entropy_per_dim']:g} * {a}", target_peer),
        ("observation normalisation", str(c["obs_norm"]).lower(), "false"),
        ("warm-up", f"{c['warmup_steps']} uniform random", warm_peer),
        ("evaluations (excluded from train env steps/s)",
         f"every {c['eval_every']} steps" + (f": {c['total_steps'] // c['eval_every']}" if bench == "idp" else ""),
         evals_peer),
        ("evaluation episodes, deterministic", f"{c['eval_episodes']}, yes", f"{p['eval_episodes']}, yes"),
        ("evaluation unroll", "until every episode has ended", eval_unroll_peer),
        ("software", *versions),
    ]
    return rows, peer.UNMATCHED


def settings_table(rows: list[tuple[str, str, str]], peer: str) -> str:
    """The side-by-side table; `!=` marks a setting whose two values differ."""
    w0 = max(len(r[0]) for r in rows + [("setting", "", "")])
    w1 = max(len(r[1]) for r in rows + [("", "softrl-jax", "")])
    lines = [f"   {'setting':<{w0}}  {'softrl-jax':<{w1}}  {peer}"]
    for name, ours, theirs in rows:
        mark = "!=" if ours != theirs else "  "
        lines.append(f"{mark} {name:<{w0}}  {ours:<{w1}}  {theirs}")
    return "\n".join(lines)


def run_job(cmd: list[str], log: Path, source: Path = ROOT) -> float:
    """Run one job alone, our package imported from `source`; returns its wall time. Raises
    RuntimeError with the log's tail on failure."""
    t = time.perf_counter()
    env = _env()
    if source != ROOT:  # `-m` puts the working directory first on sys.path: the baseline's package wins
        env["PYTHONPATH"] = str(source)
    with log.open("w") as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=source, env=env)
    if proc.returncode != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-15:])
        raise RuntimeError(f"{' '.join(cmd[:3])} ... failed (exit {proc.returncode}); log {log}:\n{tail}")
    return time.perf_counter() - t


def _env() -> dict:
    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)
    env.setdefault("WANDB_MODE", "disabled")
    return env


def ours_row(out: Path, process_s: float, who: str = "softrl-jax") -> dict:
    s = json.loads((out / "summary.json").read_text())
    by = s["compile_s_by_program"]
    return {"who": who, "train_env_steps_per_s": s["steady_train_env_steps_per_s"],
            "env_steps_per_s_with_eval": s["steady_env_steps_per_s"], "train_compile_s": by["chunk"],
            "all_compile_s": s["compile_s"], "eval_s_each": s["eval_s"] / max(s["evaluations"], 1),
            "evaluations": s["evaluations"], "process_s": process_s, "final_return": s["final_eval_return"],
            "devices": s["devices"]}


def peer_row(path: Path, process_s: float) -> dict:
    r = json.loads(path.read_text())
    return {"who": r["peer"], "train_env_steps_per_s": r["steady_train_env_steps_per_s"],
            "train_compile_s": r["train_compile_s"], "all_compile_s": r["all_compile_s"],
            "eval_s_each": r["eval_s_each_mean"], "evaluations": r["evaluations"], "process_s": process_s,
            "final_return": r["final_return"], "unmatched": r.get("unmatched", []),
            "peer_version": f"{r['peer']} {r['version']} (jax {r['jax']})"}


def jobs(only: Sequence[str], quick: bool, repeats: int, out: Path,
         baseline: bool = False) -> list[tuple[str, int, str, list[str], Path]]:
    """(benchmark, repeat, who, command, result path) in run order: the sides (ours, the peer, and with
    `baseline` our command at the baseline commit) take turns, the order rotating with the repeat."""
    todo = []
    for rep in range(repeats):
        for bench in only:
            sides = []
            steps = step_budget(bench, quick)
            ours = our_idp if bench == "idp" else our_pendulum
            for who in ("ours", "baseline") if baseline else ("ours",):
                folder = out / f"{who}-{bench}-{rep}"
                sides.append((who, ours(steps, folder), folder))
            if bench == "idp":
                sides.append(("peer", brax_idp(steps, out / f"brax-idp-{rep}.json"), out / f"brax-idp-{rep}.json"))
            else:
                sides.append(("peer", rejax_pendulum(steps, out / f"rejax-pendulum-{rep}.json"),
                              out / f"rejax-pendulum-{rep}.json"))
            shift = rep % len(sides)
            for who, cmd, path in sides[shift:] + sides[:shift]:
                todo.append((bench, rep, who, cmd, path))
    return todo


def step_budget(bench: str, quick: bool) -> int:
    """Env steps per seed: a warm-up chunk, a first trained chunk and at least one steady one."""
    if bench == "idp":
        return 3 * IDP["eval_every"] if quick else IDP["steps"]
    return 4 * PENDULUM["eval_every"] if quick else PENDULUM["steps"]


def spread(values: Sequence[float]) -> dict:
    """median, min, max and count of `values`."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def summarise(results: dict[str, dict[str, list[dict]]]) -> dict:
    """Per benchmark: each side's spread of every timing, the ratio of the medians (ours / peer) and
    the ratios of the pairs of each repeat."""
    keys = ("train_env_steps_per_s", "train_compile_s", "all_compile_s", "eval_s_each")
    out = {}
    for bench, sides in results.items():
        s = {who: {k: spread([r[k] for r in rows]) for k in keys} for who, rows in sides.items() if rows}
        for who in [w for w in ("ours", "baseline") if sides.get(w)]:
            pairs = [o["train_env_steps_per_s"] / p["train_env_steps_per_s"] for o, p in zip(sides[who], sides["peer"])]
            suffix = "" if who == "ours" else "_baseline"
            s[f"ratio_of_medians{suffix}"] = (s[who]["train_env_steps_per_s"]["median"]
                                              / s["peer"]["train_env_steps_per_s"]["median"])
            s[f"ratio_per_repeat{suffix}"] = pairs
            s[f"compile_ratio_train_program{suffix}"] = (s[who]["train_compile_s"]["median"]
                                                         / s["peer"]["train_compile_s"]["median"])
        out[bench] = s
    return out


def result_table(results: dict[str, dict[str, list[dict]]], summary: dict) -> str:
    def cell(x: dict, fmt: str) -> str:
        return f"{x['median']:{fmt}} ({x['min']:{fmt}}-{x['max']:{fmt}})"

    lines = ["| benchmark | who | train env steps/s, median (min-max) | ratio | train compile [s] | "
             "all compile [s] | eval [s] each | final return (last repeat) |",
             "|---|---|---|---|---|---|---|---|"]
    for bench, sides in results.items():
        s = summary[bench]
        for who in [w for w in ("baseline", "ours", "peer") if sides.get(w)]:
            last = sides[who][-1]
            shown = last["peer_version"] if who == "peer" else f"{last['who']} ({last['devices']} dev)"
            suffix = "" if who == "ours" else "_baseline"
            ratio = (f"**{s['ratio_of_medians' + suffix]:.2f}x** ("
                     + ", ".join(f"{r:.2f}" for r in s["ratio_per_repeat" + suffix]) + ")" if who != "peer" else "")
            finals = ", ".join(f"{x:.0f}" for x in last["final_return"])
            lines.append(f"| {bench} | {shown} | {cell(s[who]['train_env_steps_per_s'], ',.0f')} | {ratio} | "
                         f"{cell(s[who]['train_compile_s'], '.1f')} | {cell(s[who]['all_compile_s'], '.1f')} | "
                         f"{cell(s[who]['eval_s_each'], '.2f')} | {finals} |")
    return "\n".join(lines)


def plot(results: dict[str, dict[str, list[dict]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(results)
    sides = [w for w in ("baseline", "ours", "peer") if all(results[n].get(w) for n in names)]
    labels = {"baseline": "softrl-jax baseline", "ours": "softrl-jax", "peer": "peer (Brax SAC / rejax)"}
    width = 0.8 / len(sides)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    x = np.arange(len(names))
    for ax, key, title in ((axes[0], "train_env_steps_per_s", "train env steps/s (all seeds), each repeat"),
                           (axes[1], "train_compile_s", "training program compile [s]"),
                           (axes[2], "final_return", "final return per seed and repeat")):
        for i, who in enumerate(sides):
            at = x + (i - (len(sides) - 1) / 2) * width
            for j, n in enumerate(names):
                vals = [v for r in results[n][who] for v in np.atleast_1d(r[key])]
                if key != "final_return":
                    ax.bar(at[j], np.median(vals), width, color=f"C{i}", alpha=0.6, label=None if j else labels[who])
                ax.scatter(np.full(len(vals), at[j]), vals, s=10, color=f"C{i}" if key == "final_return" else "k",
                           zorder=3, label=None if (j or key != "final_return") else labels[who])
        ax.set_xticks(x, names)
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def machine() -> str:
    model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()}-core CPU ({model or 'unknown model'})"


def parse(argv: Sequence[str]) -> tuple[Path, list[str], int, bool, str | None]:
    flags = parse_flags([a if "=" in a or not a.startswith("--quick") else "--quick=true" for a in argv])
    baseline = flags.pop("baseline", None)
    if baseline is not None:
        if not shutil.which("git"):
            raise ConfigError(f"--baseline={baseline!r} needs git, which is not installed here; install git or "
                              "leave out --baseline")
        found = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{baseline}^{{commit}}"], cwd=ROOT,
                               capture_output=True, text=True)
        if found.returncode != 0 or not baseline:
            raise ConfigError(f"--baseline={baseline!r} is not a commit of this repository; valid choices: a "
                              "commit hash, branch or tag (git log --oneline)")
        baseline = found.stdout.strip()
    out = Path(flags.pop("out", "reports/peers"))
    only = [b for b in flags.pop("only", ",".join(BENCHMARKS)).split(",")]
    quick = flags.pop("quick", "false").lower()
    repeats = flags.pop("repeats", None)
    if not only or any(b not in BENCHMARKS for b in only) or len(set(only)) != len(only):
        raise ConfigError(f"--only={','.join(only)!r} is not valid; valid choices: idp, pendulum, or both "
                          "comma-separated")
    if quick not in ("1", "true", "yes", "0", "false", "no"):
        raise ConfigError(f"--quick={quick!r} is not valid; valid choices: true, false")
    quick = quick in ("1", "true", "yes")
    try:
        repeats = int(repeats) if repeats is not None else (1 if quick else 3)
    except ValueError:
        raise ConfigError(f"--repeats={repeats!r} is not valid; must be an int >= 1") from None
    if repeats < 1:
        raise ConfigError(f"--repeats={repeats} is out of range; must be >= 1")
    if flags:
        raise ConfigError(f"unknown flag --{next(iter(flags))}; valid flags: --out, --only, --repeats, --quick, "
                          "--baseline")
    return out, only, repeats, quick, baseline


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if show_help(argv, __doc__):
        return 0
    try:
        out, only, repeats, quick, baseline = parse(argv)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for bench in only:
        rows, unmatched = settings(bench, step_budget(bench, quick))
        peer = "Brax SAC trainer" if bench == "idp" else "rejax SAC"
        print(f"\n{bench}: every setting side by side (!= marks a difference)\n{settings_table(rows, peer)}")
        print(f"behaviour of {peer} that no flag sets (benchmarks/peers/*.py):")
        for item in unmatched:
            print(f"  != {item}")
    print(flush=True)
    setup = subprocess.run(["bash", str(PEERS / "setup.sh"), "all" if len(only) == 2 else
                            ("brax" if only == ["idp"] else "rejax")], cwd=ROOT)
    if setup.returncode != 0:
        print("error: the peer environments could not be installed (see the message above)", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    out = out.resolve()  # the baseline's jobs run from its own checkout
    source = ROOT
    if baseline:
        source = (out / f"baseline-{baseline[:8]}").resolve()
        if not (source / "softrl_jax").is_dir():
            subprocess.run(["git", "worktree", "add", "--detach", "--force", str(source), baseline], cwd=ROOT,
                           check=True, capture_output=True)
    results: dict[str, dict[str, list[dict]]] = {b: {"ours": [], "peer": [], "baseline": []} for b in only}
    t0 = time.perf_counter()
    todo = jobs(only, quick, repeats, out, baseline=bool(baseline))
    for i, (bench, rep, who, cmd, path) in enumerate(todo):
        label = {"ours": "softrl-jax", "baseline": f"softrl-jax@{(baseline or '')[:8]}"}.get(who, Path(cmd[1]).stem)
        print(f"[{time.perf_counter() - t0:6.0f} s] job {i + 1}/{len(todo)}: {bench} repeat {rep + 1}/{repeats}, "
              f"{label}", file=sys.stderr, flush=True)
        try:
            seconds = run_job(cmd, out / f"{path.stem}.log", source if who == "baseline" else ROOT)
        except RuntimeError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        row = peer_row(path, seconds) if who == "peer" else ours_row(path, seconds, label)
        results[bench][who].append(row)
        print(f"           train env steps/s {row['train_env_steps_per_s']:,.0f}, train compile "
              f"{row['train_compile_s']:.1f} s", file=sys.stderr, flush=True)
    summary = summarise(results)
    text = result_table(results, summary)
    where = machine()
    print(f"\nbench-peers on a {where}, {repeats} repeat(s), {time.perf_counter() - t0:.0f} s:\n{text}")
    plot(results, out / "peers.png")
    (out / "peers.md").write_text(f"Measured with `make bench-peers` on a {where}, {repeats} repeat(s) per side.\n\n"
                                  f"{text}\n")
    (out / "peers.json").write_text(json.dumps({"machine": where, "repeats": repeats, "quick": quick,
                                                "baseline": baseline,
                                                "results": results, "summary": summary, "table": text},
                                               indent=2) + "\n")
    print(f"\nwrote {out / 'peers.json'}, {out / 'peers.md'} and {out / 'peers.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
