"""Peer benchmark: our SAC beside rejax's SAC and Brax's own SAC trainer, same settings, one job at a time.

    python -m softrl_jax.bench_peers [--out=reports/peers] [--only=pendulum,idp] [--quick]

(a) SAC on gymnax Pendulum-v1 at 1, 4 and 16 vmapped seeds against rejax 0.1.3 (gymnax 0.0.9);
(b) SAC on Brax inverted_double_pendulum (MJX, 16 envs, batch 256, 2x256, one update per vector
    step) against `brax.training.agents.sac` (jax 0.7.2: Brax's trainers crash on jax >= 0.8).

The peers live in their own virtual environments under `.venv-peers/` (benchmarks/peers/setup.sh,
run first). Every job is a fresh process with a cold compile (our compilation cache off), and jobs
run one after another so none shares the CPU with another. For every job the table gives:

  compile [s]     tracing, lowering and XLA compilation of every program of the run (evaluation's
                  included); Brax: the compile events JAX reports inside its train()
  env steps/s     env steps of all seeds / run time of the compiled training, compile excluded and
                  warm-up and evaluations included (rejax: one call of its compiled train; Brax: its
                  train() minus compile)
  wall [s]        compile + run
  final return    the last evaluation per seed (deterministic policy)
  ratio           our env steps/s / the peer's

Ours runs as `python -m softrl_jax.train` does by default: on a CPU the host is split into one XLA
device per core (at most one per seed) and the seeds are sharded over them (`--cpu_devices`); the
"dev" column says how many devices it used.

and prints every setting the peer cannot match (benchmarks/peers/*.py list them). Writes
`<out>/peers.json` and `<out>/peers.png`. Budgets keep the whole comparison near 15 minutes on a
2-core CPU; `--quick` shrinks them about 5x to check the plumbing.
"""

from __future__ import annotations

import json
import os
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

# Shared settings: SAC `modern` (2x256, Adam 3e-4, batch 256, tau 0.005, learned alpha); 1 update per
# vector step. Pendulum: one env per seed, 1000 warm-up steps, replay 1e5, evaluation every 1000 steps
# on 8 episodes. IDP: 16 envs, 1008 warm-up steps (Brax rounds 1000 up to a multiple of 16), replay 1e5,
# evaluation every 8000 steps on 16 episodes.
PENDULUM = {"seeds_steps": [(1, 20_000), (4, 10_000), (16, 3_000)], "warmup": 1000, "eval_every": 1000,
            "eval_episodes": 8, "buffer": 100_000}
IDP = {"steps": 40_000, "num_envs": 16, "warmup": 1008, "eval_every": 8000, "eval_episodes": 16, "buffer": 100_000}


def our_pendulum(seeds: int, steps: int, out: Path) -> list[str]:
    p = PENDULUM
    return [sys.executable, "-m", "softrl_jax.train", "--algo=sac", "--preset=modern", "--env=gymnax:Pendulum-v1",
            f"--seeds={seeds}", f"--total_steps={steps}", "--num_envs=1", f"--warmup_steps={p['warmup']}",
            f"--buffer_size={p['buffer']}", "--updates_per_step=1", f"--eval_every={p['eval_every']}",
            f"--eval_episodes={p['eval_episodes']}", "--compile_cache=off", "--checkpoint=false", "--progress=false", f"--out={out}"]


def rejax_pendulum(seeds: int, steps: int, out: Path) -> list[str]:
    p = PENDULUM
    return [str(VENVS / "rejax" / "bin" / "python"), str(PEERS / "rejax_sac.py"), f"--seeds={seeds}",
            f"--total_steps={steps}", f"--warmup_steps={p['warmup']}", f"--buffer_size={p['buffer']}",
            f"--eval_every={p['eval_every']}", f"--eval_episodes={p['eval_episodes']}", "--measure_eval=0",
            f"--json={out}"]


def our_idp(steps: int, out: Path) -> list[str]:
    p = IDP
    return [sys.executable, "-m", "softrl_jax.train", "--algo=sac", "--preset=modern",
            "--env=brax:inverted_double_pendulum", "--seeds=1", f"--total_steps={steps}",
            f"--num_envs={p['num_envs']}", f"--warmup_steps={p['warmup']}", f"--buffer_size={p['buffer']}",
            "--batch_size=256", "--updates_per_step=1", f"--eval_every={p['eval_every']}",
            f"--eval_episodes={p['eval_episodes']}", "--compile_cache=off", "--checkpoint=false", "--progress=false", f"--out={out}"]


def brax_idp(steps: int, out: Path) -> list[str]:
    p = IDP
    n_evals = steps // p["eval_every"]
    return [str(VENVS / "brax" / "bin" / "python"), str(PEERS / "brax_sac.py"), f"--total_steps={steps}",
            "--seed=0", f"--num_evals={n_evals + 1}", f"--num_envs={p['num_envs']}",
            f"--num_eval_envs={p['eval_episodes']}", "--min_replay_size=1000",
            f"--max_replay_size={p['buffer']}", "--batch_size=256", "--grad_updates_per_step=1", f"--json={out}"]


def run_job(cmd: list[str], log: Path) -> float:
    """Run one job alone; returns its wall time. Raises RuntimeError with the log's tail on failure."""
    t = time.perf_counter()
    with log.open("w") as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT, env=_env())
    if proc.returncode != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-15:])
        raise RuntimeError(f"{' '.join(cmd[:3])} ... failed (exit {proc.returncode}); log {log}:\n{tail}")
    return time.perf_counter() - t


def _env() -> dict:
    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)
    env.setdefault("WANDB_MODE", "disabled")
    return env


def ours_row(out: Path, process_s: float) -> dict:
    s = json.loads((out / "summary.json").read_text())
    run_s = s["init_s"] + s["train_s"]
    return {"who": "softrl-jax", "seeds": s["seeds"], "total_steps": s["total_steps"], "compile_s": s["compile_s"],
            "env_steps_per_s": s["seeds"] * s["total_steps"] / run_s, "wall_s": s["compile_s"] + run_s,
            "process_s": process_s, "final_return": s["final_eval_return"], "devices": s["devices"]}


def peer_row(path: Path, process_s: float) -> dict:
    r = json.loads(path.read_text())
    compile_s = r["compile_s"] + r.get("eval_compile_s", 0.0)
    return {"who": r["peer"], "seeds": r["seeds"], "total_steps": r["total_steps"], "compile_s": compile_s,
            "env_steps_per_s": r["seeds"] * r["total_steps"] / r["wall_s"], "wall_s": compile_s + r["wall_s"],
            "process_s": process_s, "final_return": r["final_return"], "unmatched": r.get("unmatched", []),
            "peer_version": f"{r['peer']} {r['version']} (jax {r['jax']})"}


def jobs(only: set[str], scale: float, out: Path) -> list[tuple[str, str, list[str], Path]]:
    """(benchmark, who, command, result path) in run order."""
    todo = []
    if "pendulum" in only:
        for seeds, steps in PENDULUM["seeds_steps"]:
            steps = max(PENDULUM["warmup"] + 2 * PENDULUM["eval_every"],
                        int(steps * scale) // PENDULUM["eval_every"] * PENDULUM["eval_every"])
            name = f"pendulum x{seeds}"
            todo.append((name, "ours", our_pendulum(seeds, steps, out / f"ours-pendulum-{seeds}"),
                         out / f"ours-pendulum-{seeds}"))
            todo.append((name, "peer", rejax_pendulum(seeds, steps, out / f"rejax-pendulum-{seeds}.json"),
                         out / f"rejax-pendulum-{seeds}.json"))
    if "idp" in only:
        steps = max(3 * IDP["eval_every"], int(IDP["steps"] * scale) // IDP["eval_every"] * IDP["eval_every"])
        todo.append(("idp x1", "ours", our_idp(steps, out / "ours-idp"), out / "ours-idp"))
        todo.append(("idp x1", "peer", brax_idp(steps, out / "brax-idp.json"), out / "brax-idp.json"))
    return todo


def table(results: dict[str, dict[str, dict]]) -> str:
    lines = [f"{'benchmark':<14} {'who':<22} {'compile [s]':>11} {'env steps/s':>12} {'wall [s]':>9} "
             f"{'ratio':>6}  final return per seed"]
    for name, pair in results.items():
        ratio = pair["ours"]["env_steps_per_s"] / pair["peer"]["env_steps_per_s"]
        for who in ("ours", "peer"):
            r = pair[who]
            finals = ", ".join(f"{x:.0f}" for x in r["final_return"])
            shown = f"softrl-jax ({r['devices']} dev)" if who == "ours" else r["peer_version"].split(" (")[0]
            lines.append(f"{name:<14} {shown:<22} {r['compile_s']:11.1f} {r['env_steps_per_s']:12.0f} "
                         f"{r['wall_s']:9.1f} {(f'{ratio:.2f}x' if who == 'ours' else ''):>6}  {finals}")
    return "\n".join(lines)


def plot(results: dict[str, dict[str, dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(results)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    x = np.arange(len(names))
    for ax, key, title in ((axes[0], "env_steps_per_s", "env steps/s (all seeds)"),
                           (axes[1], "compile_s", "compile [s]")):
        for i, who in enumerate(("ours", "peer")):
            ax.bar(x + (i - 0.5) * 0.38, [results[n][who][key] for n in names], 0.38,
                   label="softrl-jax" if who == "ours" else "peer (rejax / Brax SAC)")
        ax.set_xticks(x, names, rotation=15)
        ax.set_title(title)
    axes[0].legend(fontsize=8)
    for i, who in enumerate(("ours", "peer")):
        for j, n in enumerate(names):
            finals = results[n][who]["final_return"]
            axes[2].scatter(np.full(len(finals), j + (i - 0.5) * 0.3), finals, s=12,
                            color=f"C{i}", label=None if j else ("softrl-jax" if who == "ours" else "peer"))
    axes[2].set_xticks(x, names, rotation=15)
    axes[2].set_title("final return per seed")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if show_help(argv, __doc__):
        return 0
    try:
        flags = parse_flags([a if "=" in a or not a.startswith("--quick") else "--quick=true" for a in argv])
        out = Path(flags.pop("out", "reports/peers"))
        only = set(flags.pop("only", "pendulum,idp").split(","))
        quick = flags.pop("quick", "false").lower() in ("1", "true", "yes")
        if not only or not only <= {"pendulum", "idp"}:
            raise ConfigError(f"--only={','.join(sorted(only))!r} is not valid; valid choices: pendulum, idp, "
                              "or both comma-separated")
        if flags:
            raise ConfigError(f"unknown flag --{next(iter(flags))}; valid flags: --out, --only, --quick")
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    setup = subprocess.run(["bash", str(PEERS / "setup.sh"), "all"], cwd=ROOT)
    if setup.returncode != 0:
        print("error: the peer environments could not be installed (see the message above)", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, dict]] = {}
    t0 = time.perf_counter()
    for name, who, cmd, path in jobs(only, 0.2 if quick else 1.0, out):
        print(f"[{time.perf_counter() - t0:6.0f} s] {name}: {'softrl-jax' if who == 'ours' else Path(cmd[1]).stem}",
              file=sys.stderr, flush=True)
        try:
            seconds = run_job(cmd, out / f"{path.stem}.log")
        except RuntimeError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        results.setdefault(name, {})[who] = ours_row(path, seconds) if who == "ours" else peer_row(path, seconds)
    import jax

    machine = f"{os.cpu_count()}-core {jax.devices()[0].platform.upper()}"
    text = table(results)
    print(f"\nbench-peers on a {machine} ({time.perf_counter() - t0:.0f} s):\n{text}")
    unmatched = {pair["peer"]["peer_version"]: pair["peer"]["unmatched"] for pair in results.values()}
    for peer, items in unmatched.items():
        print(f"\nsettings {peer} cannot match:")
        for item in items:
            print(f"  - {item}")
    plot(results, out / "peers.png")
    (out / "peers.json").write_text(json.dumps({"machine": machine, "results": results, "table": text},
                                               indent=2) + "\n")
    print(f"\nwrote {out / 'peers.json'} and {out / 'peers.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
