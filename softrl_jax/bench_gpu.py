"""GPU suite: the massively parallel end of the loop, on one CUDA GPU, in at most about 20 minutes.

    python -m softrl_jax.bench_gpu [--json=PATH] [--out=reports/gpu]

Needs a CUDA build of jax and a GPU (it refuses with one line otherwise). Measures, in one run:

  envs      raw MJX hopper env steps/s (a jitted scan of vmapped `step` with random actions and pool
            auto-reset) against the same environment inside the training loop (SAC 2x256, batch 256,
            one update per vector step) at 1024 and 4096 environments; target: loop >= 0.5x raw
  seeds     SAC on Brax hopper with CleanRL's settings (one env per seed, batch 256, 2x256, Adam
            3e-4, tau 0.005, learned temperature, 5000 random warm-up steps, one update per step) at 1,
            32 and 256 vmapped seeds, same steps per seed; target: 256 seeds in at most 3x the wall
            time of 1
  dspg      the DSPG update (M = 64) against the SAC update at equal network (2x256) and batch (256);
            target: at most 1.5x the time
  memory    peak device memory (the device's own statistics, the process's peak so far after each
            program; none on a CPU)

`--allow_cpu` runs the same code on a CPU at toy sizes (a check of the plumbing, not a measurement).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Sequence

from softrl_jax.config import ConfigError
from softrl_jax.io import runstore
from softrl_jax.train import parse_flags, show_help

FULL = {"envs": (1024, 4096), "env_steps": 200, "loop_steps_per_env": 50, "seeds": (1, 32, 256),
        "seed_steps": 20_000, "warmup": 5000, "buffer": 1_000_000, "update_reps": 50, "batch": 256}
TINY = {"envs": (16, 32), "env_steps": 10, "loop_steps_per_env": 8, "seeds": (1, 2, 4), "seed_steps": 600,
        "warmup": 300, "buffer": 2000, "update_reps": 3, "batch": 64}
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
            "steady_env_steps_per_s": result.steady_env_steps_per_s, "peak_mib": peak_mib(),
            "final_eval_return": [r["eval_return"] for r in result.records[0] if r["step"] == max(
                x["step"] for x in result.records[0])]}


def bench_envs(sizes: dict, out: Path) -> list[dict]:
    rows = []
    for n in sizes["envs"]:
        raw = raw_env(n, sizes["env_steps"])
        chunk = n * sizes["loop_steps_per_env"]
        loop = run_training({"seeds": 1, "num_envs": n, "batch_size": sizes["batch"], "updates_per_step": 1,
                             "warmup_steps": chunk, "eval_every": chunk, "total_steps": 4 * chunk,
                             "eval_episodes": 16, "buffer_size": max(chunk * 4, 100_000)}, out / f"envs-{n}")
        rows.append({"num_envs": n, "raw_env_steps_per_s": raw, "loop_env_steps_per_s": loop["steady_env_steps_per_s"],
                     "loop_over_raw": loop["steady_env_steps_per_s"] / raw, "compile_s": loop["compile_s"],
                     "peak_mib": loop["peak_mib"]})
    return rows


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
    return rows


def bench_dspg_vs_sac(sizes: dict) -> dict:
    import jax

    from softrl_jax import algos, bench, runner
    from softrl_jax.config import LoopConfig

    options = runner.compiler_options(LoopConfig(), jax.devices()[0].platform)
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


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if show_help(argv, __doc__):
        return 0
    try:
        flags = parse_flags([a if "=" in a or a != "--allow_cpu" else "--allow_cpu=true" for a in argv])
        json_path = flags.pop("json", "")
        out = Path(flags.pop("out", "reports/gpu"))
        allow_cpu = flags.pop("allow_cpu", "false").lower() in ("1", "true", "yes")
        if flags:
            raise ConfigError(f"unknown flag --{next(iter(flags))}; valid flags: --json, --out, --allow_cpu")
        import jax

        platform = jax.default_backend()
        if platform != "gpu" and not allow_cpu:
            raise ConfigError(f"make bench-gpu needs a CUDA build of jax and a GPU; this jax {jax.__version__} runs on "
                              f"{platform} (install: pip install -U 'jax[cuda13]', see README 'On a GPU')")
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    sizes = FULL if platform == "gpu" else TINY
    out = out / time.strftime("%Y%m%d-%H%M%S")  # the run folders of this benchmark's trainings
    device = jax.devices()[0]
    r: dict = {"device": f"{device.platform}:{device.device_kind}", "jax": jax.__version__, "sizes": sizes}
    t0 = time.perf_counter()
    for section, fn in (("envs", lambda: bench_envs(sizes, out)), ("seeds", lambda: bench_seeds(sizes, out)),
                        ("dspg_vs_sac", lambda: bench_dspg_vs_sac(sizes))):
        r[section] = fn()  # each section is written as it ends, so a run cut short keeps what it measured
        print(f"[{time.perf_counter() - t0:6.0f} s] {section}: {r[section]}", flush=True)
        if json_path:
            runstore.write_json(json_path, r)
    r["peak_mib"] = peak_mib()
    r["seconds"] = time.perf_counter() - t0
    print(f"bench-gpu on {r['device']} (jax {r['jax']}), {r['seconds']:.0f} s")
    print(f"{'envs':>6} {'raw env steps/s':>16} {'in the loop':>12} {'loop/raw':>9}  (target >= 0.5)")
    for e in r["envs"]:
        print(f"{e['num_envs']:>6} {e['raw_env_steps_per_s']:16,.0f} {e['loop_env_steps_per_s']:12,.0f} "
              f"{e['loop_over_raw']:9.2f}")
    print(f"\n{'seeds':>6} {'wall [s]':>9} {'x one seed':>11} {'env steps/s':>12} {'peak MiB':>9}  (target 256 seeds <= 3x)")
    for s in r["seeds"]:
        print(f"{s['seeds']:>6} {s['wall_s']:9.1f} {s['wall_over_one_seed']:11.2f} {s['steady_env_steps_per_s']:12,.0f} "
              f"{s['peak_mib'] or 0:9.0f}")
    d = r["dspg_vs_sac"]
    print(f"\nupdate 2x256, batch 256: SAC {d['sac']['ms_per_update']:.2f} ms, DSPG (M = 64) {d['dspg']['ms_per_update']:.2f} ms "
          f"= {d['dspg_over_sac']:.2f}x (target <= 1.5)")
    print(f"peak device memory: {r['peak_mib'] or 0:.0f} MiB")
    if json_path:
        runstore.write_json(json_path, r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
