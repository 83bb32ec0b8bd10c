"""GPU suite: the massively parallel end of the loop, on one CUDA GPU, in at most about 9 minutes.

    python -m softrl_jax.bench_gpu [--json=PATH] [--out=reports/gpu] [--budget_s=480]

Needs a CUDA build of jax and a GPU (it refuses with one line otherwise). Measures, in one run:

  envs      raw MJX hopper env steps/s (a jitted scan of vmapped `step` with random actions and pool
            auto-reset) against the same environment inside the training loop (SAC 2x256, batch 256,
            one update per vector step) at 4096 and 1024 environments: the loop's steady training
            (evaluation timed apart, as make bench-peers' clock) and with its evaluations; target:
            training >= 0.8x raw at 4096
  seeds     SAC on Brax hopper with CleanRL's settings (one env per seed, batch 256, 2x256, Adam
            3e-4, tau 0.005, learned temperature, one update per step; 1000 random warm-up steps and
            5000 steps per seed, where CleanRL warms up for 5000 of 1e6) at 1, 32 and 256 vmapped seeds;
            target: 256 seeds in at most 3x the time of 1 (wall, and steady training alone)
  dspg      the DSPG update (M = 64) against the SAC update at equal network (2x256) and batch (256);
            target: at most 1.5x the time
  memory    peak device memory (the device's own statistics, the process's peak so far after each
            program; none on a CPU)

Sections run in the order envs 4096, dspg, seeds, envs 1024; each is written to --json as it ends,
and a section that its estimate says would end past `--budget_s` seconds is skipped and named (the
device tool runs one command for at most 10 minutes). `--allow_cpu` runs the same code on a CPU at
toy sizes (a check of the plumbing, not a measurement).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Sequence

from softrl_jax.config import ConfigError
from softrl_jax.io import runstore
from softrl_jax.train import parse_flags, show_help

FULL = {"envs": (4096, 1024), "env_steps": 200, "loop_steps_per_env": 50, "seeds": (1, 32, 256),
        "seed_steps": 5000, "warmup": 1000, "buffer": 1_000_000, "update_reps": 50, "batch": 256}
TINY = {"envs": (32, 16), "env_steps": 10, "loop_steps_per_env": 8, "seeds": (1, 2, 4), "seed_steps": 1200,
        "warmup": 300, "buffer": 2000, "update_reps": 3, "batch": 64}
# seconds each part is expected to take on one H100/H200 (compile included), to keep within --budget_s
ESTIMATE_S = {"envs": 100, "dspg_vs_sac": 40, "seeds": 100}
ENV = "brax:hopper"


def peak_mib() -> float | None:
    import jax

    stats = jax.devices()[0].memory_stats() or {}
    return stats.get("peak_bytes_in_use", 0) / 2**20 or None


def raw_env(num_envs: int, steps: int) -> float:
    """env steps/s of `steps` vectorised steps of `num_envs` MJX hoppers, random actions, pool reset."""
    import jax
    import jax.numpy as jnp

    from softrl_jax import envs
    from softrl_jax.bench import _best_time

    env = envs.make(ENV)

    def run(key):
        k0, k1, k2 = jax.random.split(key, 3)
        state = jax.vmap(lambda k: envs.reset(env, k))(jax.random.split(k0, num_envs))
        pool = envs.make_reset_pool(env, k1, num_envs)

        def body(s, k):
            ka, ks = jax.random.split(k)
            a = jax.random.uniform(ka, (num_envs, env.spec.action_size), minval=-1, maxval=1)
            s, _, info = jax.vmap(lambda x, y, z: envs.step(env, x, y, z, pool))(s, a, jax.random.split(ks, num_envs))
            return s, jnp.sum(info.done)

        return jax.lax.scan(body, state, jax.random.split(k2, steps))[1]

    f = jax.jit(run).lower(jax.random.PRNGKey(0)).compile()
    jax.block_until_ready(f(jax.random.PRNGKey(1)))
    return num_envs * steps / _best_time(lambda: jax.block_until_ready(f(jax.random.PRNGKey(2))))


def run_training(overrides: dict, out: Path) -> dict:
    """One run through the real runner; its summary (timings, throughput, memory)."""
    from softrl_jax import algos, runner

    rc = algos.run_config("sac", "modern", {"env": ENV, "progress": False, "out": str(out), "compile_cache": "off",
                                            "checkpoint": False, **overrides})
    t = time.perf_counter()
    result = runner.run([runner.Point(rc)], progress=False)
    return {"wall_s": time.perf_counter() - t, "compile_s": result.compile_s, "train_s": result.train_s,
            "steady_env_steps_per_s": result.steady_env_steps_per_s,
            "steady_train_env_steps_per_s": result.steady_train_env_steps_per_s,
            "eval_s_each": result.eval_s / max(result.evaluations, 1), "peak_mib": peak_mib(),
            "final_eval_return": [r["eval_return"] for r in result.records[0] if r["step"] == max(
                x["step"] for x in result.records[0])]}


def bench_envs(n: int, sizes: dict, out: Path) -> dict:
    """Raw MJX stepping of `n` hoppers against the loop at `n` environments (training alone, and with
    its evaluations of 16 episodes per chunk)."""
    raw = raw_env(n, sizes["env_steps"])
    chunk = n * sizes["loop_steps_per_env"]
    loop = run_training({"seeds": 1, "num_envs": n, "batch_size": sizes["batch"], "updates_per_step": 1,
                         "warmup_steps": chunk, "eval_every": chunk, "total_steps": 4 * chunk,
                         "eval_episodes": 16, "buffer_size": max(chunk * 4, 100_000)}, out / f"envs-{n}")
    return {"num_envs": n, "raw_env_steps_per_s": raw,
            "loop_train_env_steps_per_s": loop["steady_train_env_steps_per_s"],
            "loop_train_over_raw": loop["steady_train_env_steps_per_s"] / raw,
            "loop_env_steps_per_s": loop["steady_env_steps_per_s"], "loop_over_raw": loop["steady_env_steps_per_s"] / raw,
            "eval_s_each": loop["eval_s_each"], "compile_s": loop["compile_s"], "peak_mib": loop["peak_mib"]}


def bench_seeds(sizes: dict, out: Path) -> list[dict]:
    rows = []
    for seeds in sizes["seeds"]:
        r = run_training({"seeds": seeds, "num_envs": 1, "batch_size": sizes["batch"], "updates_per_step": 1,
                          "warmup_steps": sizes["warmup"], "eval_every": sizes["warmup"],
                          "total_steps": sizes["seed_steps"], "eval_episodes": 8, "buffer_size": sizes["buffer"]},
                         out / f"seeds-{seeds}")
        rows.append({"seeds": seeds, **r})
    for r in rows:
        r["wall_over_one_seed"] = r["wall_s"] / rows[0]["wall_s"]
        # steady training time of the same steps per seed, relative to one seed
        r["train_time_over_one_seed"] = (rows[0]["steady_train_env_steps_per_s"] * r["seeds"]
                                         / r["steady_train_env_steps_per_s"])
    return rows


def bench_dspg_vs_sac(sizes: dict) -> dict:
    import jax

    from softrl_jax import algos, bench, compiled
    from softrl_jax.config import LoopConfig

    options = compiled.compiler_options(LoopConfig(), jax.devices()[0].platform)
    out = {}
    for algo, preset, over in (("sac", "modern", {}), ("dspg", "paper", {"hidden": (256, 256), "batch_size": 256, "learning_starts": 256,
                                                                        "num_samples": 64})):
        cfg = algos.run_config(algo, preset, over).algo_cfg
        n = sizes["update_reps"]
        one, scan, states, batches, keys = bench.update_program(algos.get(algo), cfg, 1, 11, 3, n, options)
        state = jax.block_until_ready(scan(states, batches, keys))
        seconds = bench._best_time(lambda: jax.block_until_ready(scan(state, batches, keys)))
        out[algo] = {"ms_per_update": 1000 * seconds / n, "gflop_per_update": bench._flops(one) / 1e9}
    out["dspg_over_sac"] = out["dspg"]["ms_per_update"] / out["sac"]["ms_per_update"]
    return out


def parse(argv: Sequence[str]) -> tuple[str, Path, bool, float]:
    """(json path, out folder, allow_cpu, budget_s); ConfigError on any bad flag."""
    flags = parse_flags([a if "=" in a or a != "--allow_cpu" else "--allow_cpu=true" for a in argv])
    json_path = flags.pop("json", "")
    out = Path(flags.pop("out", "reports/gpu"))
    allow_cpu = flags.pop("allow_cpu", "false").lower() in ("1", "true", "yes")
    budget = flags.pop("budget_s", "480")
    try:
        budget_s = float(budget)
    except ValueError:
        raise ConfigError(f"--budget_s={budget!r} is not valid; must be a number of seconds > 0") from None
    if not budget_s > 0:
        raise ConfigError(f"--budget_s={budget} is out of range; must be > 0")
    if flags:
        raise ConfigError(f"unknown flag --{next(iter(flags))}; valid flags: --json, --out, --allow_cpu, --budget_s")
    return json_path, out, allow_cpu, budget_s


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if show_help(argv, __doc__):
        return 0
    try:
        json_path, out, allow_cpu, budget_s = parse(argv)
        import jax

        platform = jax.default_backend()
        if platform != "gpu" and not allow_cpu:
            raise ConfigError(f"make bench-gpu needs a CUDA build of jax and a GPU; this jax {jax.__version__} runs on "
                              f"{platform} (install: pip install -U 'jax[cuda13]', see docs/benchmarks.md 'On a GPU')")
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    sizes = FULL if platform == "gpu" else TINY
    out = out / time.strftime("%Y%m%d-%H%M%S")  # the run folders of this benchmark's trainings
    device = jax.devices()[0]
    r: dict = {"device": f"{device.platform}:{device.device_kind}", "jax": jax.__version__, "sizes": sizes}
    t0 = time.perf_counter()
    r["envs"], r["seeds"], r["skipped"] = [], [], []
    big, small = sizes["envs"]
    parts = [("envs", lambda: r["envs"].append(bench_envs(big, sizes, out))),
             ("dspg_vs_sac", lambda: r.__setitem__("dspg_vs_sac", bench_dspg_vs_sac(sizes))),
             ("seeds", lambda: r.__setitem__("seeds", bench_seeds(sizes, out))),
             ("envs", lambda: r["envs"].append(bench_envs(small, sizes, out)))]
    for section, fn in parts:
        cost = ESTIMATE_S[section] * (len(sizes["seeds"]) if section == "seeds" else 1)
        if time.perf_counter() - t0 + cost > budget_s:
            r["skipped"].append(section)
            print(f"[{time.perf_counter() - t0:6.0f} s] {section}: skipped (about {cost} s would pass --budget_s)",
                  flush=True)
            continue
        try:
            fn()  # each part is written as it ends, so a run cut short keeps what it measured
        except Exception as e:  # one failing part must not cost the others their (scarce) device time
            r.setdefault("errors", {})[section] = f"{type(e).__name__}: {e}"[:2000]
            print(f"[{time.perf_counter() - t0:6.0f} s] {section} failed: {type(e).__name__}: {e}", flush=True)
            continue
        print(f"[{time.perf_counter() - t0:6.0f} s] {section} done", flush=True)
        if json_path:
            runstore.write_json(json_path, r)
    r["peak_mib"] = peak_mib()
    r["seconds"] = time.perf_counter() - t0
    print_summary(r)
    if json_path:
        runstore.write_json(json_path, r)
    return 1 if r.get("errors") else 0


def print_summary(r: dict) -> None:
    """The suite's tables, each part against its target."""
    print(f"bench-gpu on {r['device']} (jax {r['jax']}), {r['seconds']:.0f} s")
    print(f"{'envs':>6} {'raw env steps/s':>16} {'loop training':>14} {'train/raw':>10} {'with eval':>10} "
          f"{'with eval/raw':>14} {'eval [s]':>9}  (target: train/raw >= 0.8 at 4096)")
    for e in r["envs"]:
        print(f"{e['num_envs']:>6} {e['raw_env_steps_per_s']:16,.0f} {e['loop_train_env_steps_per_s']:14,.0f} "
              f"{e['loop_train_over_raw']:10.2f} {e['loop_env_steps_per_s']:10,.0f} {e['loop_over_raw']:14.2f} "
              f"{e['eval_s_each']:9.2f}")
    if r["seeds"]:
        print(f"\n{'seeds':>6} {'wall [s]':>9} {'x one seed':>11} {'train x one':>12} {'train env steps/s':>18} "
              f"{'peak MiB':>9}  (target 256 seeds <= 3x)")
        for s in r["seeds"]:
            print(f"{s['seeds']:>6} {s['wall_s']:9.1f} {s['wall_over_one_seed']:11.2f} {s['train_time_over_one_seed']:12.2f} "
                  f"{s['steady_train_env_steps_per_s']:18,.0f} {s['peak_mib'] or 0:9.0f}")
    if "dspg_vs_sac" in r:
        d = r["dspg_vs_sac"]
        print(f"\nupdate 2x256, batch 256: SAC {d['sac']['ms_per_update']:.2f} ms, DSPG (M = 64) "
              f"{d['dspg']['ms_per_update']:.2f} ms = {d['dspg_over_sac']:.2f}x (target <= 1.5)")
    if r["skipped"]:
        print(f"skipped (budget): {', '.join(r['skipped'])}")
    if r.get("errors"):
        print(f"failed: {', '.join(r['errors'])} (messages in the JSON)")
    print(f"peak device memory: {r['peak_mib'] or 0:.0f} MiB")


if __name__ == "__main__":
    sys.exit(main())
