"""Benchmark: speed, FLOP efficiency, memory and compile times, measured side by side in one run.

    python -m softrl_jax.bench [--sections=loop,roofline,replay,compile,autoreset] [--chunks=3]
                               [--json=PATH] [any train flag, e.g. --algo=sac --preset=quick]

Sections (all by default):
  loop       env steps/s of the fused loop (act, step, store, updates, evaluation) against the bare
             jitted update step on batches drawn beforehand (same seeds, same update count): the
             loop's cost over its updates; compile time of the chunk; replay and program memory
  roofline   FLOPs per update from XLA's own cost analysis (`compiled.cost_analysis()`), the FLOP/s
             the loop achieves, the machine's dense-matmul FLOP/s (a jitted 1024x1024 float32
             matmul, measured in this run) and their ratio; the same for the update alone of
             standard sizes (SAC 2x256 / batch 256, DSPG paper size with M = 64, DSPG quick, SQL's
             SVGD update)
  replay     bytes per stored transition for Brax humanoid-sized observations (244) and actions
             (17): this buffer (each observation once), float32 and bfloat16 observations, against a
             buffer of whole (obs, action, reward, terminated, next_obs) transitions
  compile    cold and warm compile of `make demo`'s program, each in a fresh process (the warm one
             reads the persistent compilation cache the cold one wrote), and the warm start: seconds
             from process launch until the first chunk can run
  autoreset  env steps/s of MJX hopper and inverted double pendulum, 64 environments under random
             actions, with each auto-reset mode (exact: a fresh reset every step; pool: reset states
             drawn once per chunk)

Defaults: DSPG quick on gymnax Pendulum, 4 seeds (the demo's program). Absolute figures hold for
the machine named in the output; the ratios are what carries over.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from typing import Sequence

from softrl_jax.config import ConfigError
from softrl_jax.io import runstore
from softrl_jax.train import config_from_flags, parse_flags, show_help

SECTIONS = ("loop", "roofline", "replay", "compile", "autoreset", "checkpoint")
HUMANOID = (244, 17)  # Brax humanoid: observation and action sizes
DEMO_FLAGS = ["--algo=dspg", "--env=gymnax:Pendulum-v1", "--seeds=4", "--seed=0", "--preset=quick"]
AUTORESET_ENVS = ("brax:hopper", "brax:inverted_double_pendulum")
# (label, algo, preset, overrides, seeds, obs size, action size) of the update-only roofline rows
UPDATE_SIZES = [("SAC 2x256, batch 256", "sac", "modern", {}, 4, 11, 3),
                ("DSPG paper: 2x512, batch 100, M = 64", "dspg", "paper", {}, 1, 11, 3),
                ("DSPG quick: 2x64, batch 128, M = 32", "dspg", "quick", {}, 4, 3, 1),
                ("SQL quick (SVGD, 16 particles)", "sql", "quick", {}, 4, 3, 1)]


def _parse(argv: Sequence[str]):
    flags = parse_flags(argv)
    try:
        chunks = int(flags.pop("chunks", "3"))
    except ValueError:
        raise ConfigError("--chunks must be an int >= 1") from None
    if chunks < 1:
        raise ConfigError(f"--chunks={chunks} is out of range; must be >= 1")
    json_path = flags.pop("json", "")
    sections = flags.pop("sections", ",".join(SECTIONS)).split(",")
    bad = [s for s in sections if s not in SECTIONS]
    if bad or not sections:
        raise ConfigError(f"--sections={','.join(sections)!r} is not valid; valid choices: {', '.join(SECTIONS)} "
                          "(comma-separated)")
    defaults = {"algo": "dspg", "preset": "quick", "env": "gymnax:Pendulum-v1", "seeds": "4"}
    argv = [f"--{k}={v}" for k, v in {**defaults, **flags}.items()]
    return config_from_flags(argv), chunks, json_path, sections


# ---------------------------------------------------------------- helpers


def _best_time(fn, reps: int = 3) -> float:
    """Best wall time of `reps` calls of fn (which blocks until its result is ready)."""
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def matmul_program(n: int):
    """(compiled n x n float32 matmul, its two operands) on the default device."""
    import jax

    a = jax.random.normal(jax.random.PRNGKey(0), (n, n))
    b = jax.random.normal(jax.random.PRNGKey(1), (n, n))
    return jax.jit(lambda a, b: a @ b).lower(a, b).compile(), (a, b)


def matmul_flops_per_s(n: int = 1024, reps: int = 10) -> float:
    """Dense float32 matmul FLOP/s of the default device: the machine's practical peak for our dots.
    The FLOPs are XLA's own count of the compiled program (2 n^3, tests/test_bench.py)."""
    import jax

    compiled, args = matmul_program(n)
    jax.block_until_ready(compiled(*args))
    return _flops(compiled) / _best_time(lambda: jax.block_until_ready(compiled(*args)), reps)


def _flops(compiled) -> float:
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return float(cost.get("flops", 0.0))


def update_program(algorithm, cfg, seeds: int, obs_size: int, action_size: int, n_updates: int, options):
    """(one vmapped update compiled, n_updates scanned compiled, states, batches, keys) on random batches."""
    import jax
    import jax.numpy as jnp

    from softrl_jax.envs import Transition
    from softrl_jax.compiled import compile_lowered

    keys = jax.random.split(jax.random.PRNGKey(0), seeds)
    states = jax.vmap(lambda k: algorithm.init(cfg, k, obs_size, action_size))(keys)

    def batch(k):
        k1, k2, k3, k4 = jax.random.split(k, 4)
        b = cfg.batch_size
        return Transition(jax.random.normal(k1, (b, obs_size)),
                          jax.random.uniform(k2, (b, action_size), minval=-1, maxval=1),
                          jax.random.normal(k3, (b,)), jnp.zeros((b,)), jax.random.normal(k4, (b, obs_size)))

    batches = jax.vmap(batch)(keys)
    update = lambda s, b, k: algorithm.update(cfg, s, b, k)  # noqa: E731
    one = compile_lowered(jax.jit(jax.vmap(update)).lower(states, batches, keys), options)

    def many(s, b, k):
        return jax.lax.scan(lambda s, kk: (update(s, b, kk)[0], None), s, jax.random.split(k, n_updates))[0]

    scan = compile_lowered(jax.jit(jax.vmap(many)).lower(states, batches, keys), options)
    return one, scan, states, batches, keys


# ---------------------------------------------------------------- sections


def bench_loop(rc, chunks: int) -> dict:
    """The fused loop against its bare update, one program each, same seeds."""
    import jax
    import numpy as np

    from softrl_jax import algos, compiled, envs, replay
    from softrl_jax.training import seed_keys
    from softrl_jax.programs import make_train

    loop = rc.loop
    env = envs.make(loop.env, loop.episode_length or None)
    algorithm = algos.get(rc.algo)
    trainer = make_train(algorithm, env, rc)
    options = compiled.compiler_options(loop, jax.devices()[0].platform)
    keys = seed_keys(loop.seed, loop.seeds)
    init, chunk = trainer.vmap()
    carry = jax.block_until_ready(compiled.compile_lowered(jax.jit(init).lower(keys, None), options)(keys, None))
    t = time.perf_counter()
    chunk_c = compiled.compile_lowered(jax.jit(chunk, donate_argnums=0).lower(carry, None), options)
    compile_s = time.perf_counter() - t
    mem = chunk_c.memory_analysis()
    c = 0
    while not trainer.logged(c):  # warm-up chunks, then one training chunk to warm caches
        carry, _ = chunk_c(carry, None)
        c += 1
    carry, metrics = chunk_c(carry, None)
    jax.block_until_ready(metrics)
    t = time.perf_counter()
    for _ in range(chunks):
        carry, metrics = chunk_c(carry, None)
    jax.block_until_ready(metrics)
    loop_s = time.perf_counter() - t
    env_steps_per_s = chunks * loop.eval_every * loop.seeds / loop_s
    loop_updates_per_s = env_steps_per_s / loop.num_envs * loop.updates_per_step  # seed-updates

    # The bare update: the same number of updates as one chunk, on batches drawn from the real buffer.
    agent = algorithm.make(rc.algo_cfg, env.spec)
    n_updates = loop.eval_every // loop.num_envs * loop.updates_per_step
    batch_keys = jax.random.split(jax.random.PRNGKey(0), loop.seeds * 16).reshape(loop.seeds, 16, 2)
    batches = jax.vmap(jax.vmap(trainer.replay.sample, in_axes=(None, 0)))(carry.buffer, batch_keys)

    def updates(agent_state, batches, key):
        def body(s, k_i):
            k, i = k_i
            return agent.update(s, jax.tree.map(lambda x: x[i % 16], batches), k)[0], None
        ks = (jax.random.split(key, n_updates), np.arange(n_updates))
        return jax.lax.scan(body, agent_state, ks)[0]

    upd = compiled.compile_lowered(jax.jit(jax.vmap(updates)).lower(carry.agent, batches, keys), options)
    state = jax.block_until_ready(upd(carry.agent, batches, keys))
    t = time.perf_counter()
    for _ in range(chunks):
        state = upd(state, batches, keys)
    jax.block_until_ready(state)
    updates_per_s = chunks * n_updates * loop.seeds / (time.perf_counter() - t)
    one = compiled.compile_lowered(jax.jit(jax.vmap(agent.update)).lower(
        carry.agent, jax.tree.map(lambda x: x[:, 0], batches), keys), options)
    stats = jax.devices()[0].memory_stats() or {}
    return {
        "chunk_env_steps": loop.eval_every,
        "env_steps_per_s": env_steps_per_s,
        "updates_per_s_bare": updates_per_s,
        "updates_per_s_in_loop": loop_updates_per_s,
        "loop_overhead": updates_per_s / loop_updates_per_s - 1.0,
        "compile_s": compile_s,
        "flops_per_update": _flops(one) / loop.seeds,
        "replay_mib_per_seed": replay.nbytes(carry.buffer) / loop.seeds / 2**20,
        "program_temp_mib": mem.temp_size_in_bytes / 2**20 if mem else None,
        "program_args_mib": mem.argument_size_in_bytes / 2**20 if mem else None,
        "device_peak_mib": stats.get("peak_bytes_in_use", 0) / 2**20 or None,
    }


def bench_roofline(loop_result: dict | None, peak: float) -> dict:
    """FLOP efficiency of the loop (from the loop section) and of standard update sizes."""
    import jax

    from softrl_jax import algos, compiled
    from softrl_jax.config import LoopConfig

    options = compiled.compiler_options(LoopConfig(), jax.devices()[0].platform)
    out: dict = {"matmul_flops_per_s": peak}
    if loop_result:
        achieved = loop_result["flops_per_update"] * loop_result["updates_per_s_in_loop"]
        out.update(loop_flops_per_update=loop_result["flops_per_update"], loop_flops_per_s=achieved,
                   loop_efficiency=achieved / peak)
    rows = []
    for label, algo, preset, over, seeds, obs, act in UPDATE_SIZES:
        cfg = algos.run_config(algo, preset, over).algo_cfg
        n = 20
        one, scan, states, batches, keys = update_program(algos.get(algo), cfg, seeds, obs, act, n, options)
        state = jax.block_until_ready(scan(states, batches, keys))
        seconds = _best_time(lambda: jax.block_until_ready(scan(state, batches, keys)))
        flops = _flops(one) / seeds
        rate = flops * n * seeds / seconds
        rows.append({"update": label, "seeds": seeds, "flops_per_update": flops,
                     "updates_per_s": n * seeds / seconds, "flops_per_s": rate, "efficiency": rate / peak})
    out["updates"] = rows
    return out


def bench_replay(rc) -> dict:
    """Bytes per stored transition (humanoid-sized and this run's env), ours against whole transitions."""
    import jax.numpy as jnp

    from softrl_jax import envs, replay

    obs, act = HUMANOID
    spec = envs.make(rc.loop.env, rc.loop.episode_length or None).spec
    ours = replay.bytes_per_row(obs, act)
    old = replay.transition_buffer_bytes_per_row(obs, act)
    return {
        "replay_bytes_per_transition": ours,
        "replay_bytes_per_transition_bf16": replay.bytes_per_row(obs, act, jnp.bfloat16),
        "transition_buffer_bytes_per_transition": old,
        "replay_ratio": ours / old,
        "run_env": rc.loop.env,
        "run_bytes_per_transition": replay.bytes_per_row(spec.obs_size, spec.action_size),
        "run_transition_buffer_bytes": replay.transition_buffer_bytes_per_row(spec.obs_size, spec.action_size),
    }


def bench_checkpoint(rc, buffer_sizes=(None, 1_000_000), saves: int = 3) -> dict:
    """Orbax checkpoints of this run's whole carry with a full replay buffer (at its replay size and at
    1e6 transitions per seed): seconds the device waits (the save call: the device-to-host copy), seconds until the
    files are complete, size on disk, and the restore."""
    import dataclasses
    from pathlib import Path

    import jax

    from softrl_jax import algos, checkpoint, envs
    from softrl_jax.training import seed_keys
    from softrl_jax.programs import make_train

    rows = []
    for size in buffer_sizes:
        r2 = rc if size is None else dataclasses.replace(rc, loop=dataclasses.replace(rc.loop, buffer_size=size))
        trainer = make_train(algos.get(r2.algo), envs.make(r2.loop.env, r2.loop.episode_length or None), r2)
        init = jax.jit(trainer.vmap()[0])
        carry = init(seed_keys(r2.loop.seed, r2.loop.seeds), {})
        # a FULL buffer: random floats, which compress as badly as real observations or worse
        leaves, tree = jax.tree.flatten(carry.buffer)
        keys = jax.random.split(jax.random.PRNGKey(0), len(leaves))
        carry = jax.block_until_ready(carry._replace(buffer=jax.tree.unflatten(tree, [
            jax.random.normal(k, x.shape, x.dtype) if jax.numpy.issubdtype(x.dtype, jax.numpy.floating) else x
            for k, x in zip(keys, leaves)])))
        with tempfile.TemporaryDirectory() as tmp:
            manager = checkpoint.Manager(tmp)
            blocking, total = [], []
            for i in range(1, saves + 1):
                t = time.perf_counter()
                manager.save(i, carry, {"next_chunk": i})
                blocking.append(time.perf_counter() - t)
                manager.wait()
                total.append(time.perf_counter() - t)
            disk = sum(f.stat().st_size for f in (Path(tmp) / str(saves)).rglob("*") if f.is_file())
            t = time.perf_counter()
            jax.block_until_ready(manager.restore(carry)[0])
            restore = time.perf_counter() - t
            manager.close()
        rows.append({"buffer_size": r2.loop.buffer_size, "seeds": r2.loop.seeds,
                     "carry_mib": sum(x.nbytes for x in jax.tree.leaves(carry)) / 2**20, "disk_mib": disk / 2**20,
                     "save_blocking_s": min(blocking), "save_total_s": min(total), "restore_s": restore})
    return {"checkpoint": rows}


def bench_compile() -> dict:
    """Cold and warm compile of the demo's program, each in a fresh process, and the warm start."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("cold", "warm"):
            run_dir = os.path.join(tmp, name)
            cmd = [sys.executable, "-m", "softrl_jax.train", *DEMO_FLAGS, "--total_steps=2000",
                   f"--compile_cache={os.path.join(tmp, 'cache')}", "--progress=false", f"--out={run_dir}"]
            launched = time.time()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"compile benchmark run failed: {proc.stderr[-2000:]}")
            summary = json.loads(open(os.path.join(run_dir, "summary.json")).read())
            out[f"{name}_compile_s"] = summary["compile_s"]
            out[f"{name}_start_s"] = summary["ready_unix"] - launched
    return out


def bench_autoreset(num_envs: int = 64, steps: int = 500) -> dict:
    """env steps/s of each auto-reset mode: random actions, `num_envs` MJX environments."""
    import jax
    import jax.numpy as jnp

    from softrl_jax import envs

    rows = []
    for name in AUTORESET_ENVS:
        env = envs.make(name)
        for mode in ("exact", "pool"):
            def run(key, env=env, mode=mode):
                k0, k1, k2 = jax.random.split(key, 3)
                state = jax.vmap(lambda k: envs.reset(env, k))(jax.random.split(k0, num_envs))
                pool = envs.make_reset_pool(env, k1, max(64, num_envs)) if mode == "pool" else None

                def body(s, k):
                    ka, ks = jax.random.split(k)
                    a = jax.random.uniform(ka, (num_envs, env.spec.action_size), minval=-1, maxval=1)
                    s, _, info = jax.vmap(lambda x, y, z: envs.step(env, x, y, z, pool))(
                        s, a, jax.random.split(ks, num_envs))
                    return s, jnp.sum(info.done)

                return jax.lax.scan(body, state, jax.random.split(k2, steps))[1]

            f = jax.jit(run).lower(jax.random.PRNGKey(0)).compile()
            jax.block_until_ready(f(jax.random.PRNGKey(1)))
            seconds = _best_time(lambda: jax.block_until_ready(f(jax.random.PRNGKey(2))))
            rows.append({"env": name, "autoreset": mode, "num_envs": num_envs,
                         "env_steps_per_s": num_envs * steps / seconds,
                         "episode_ends": int(jnp.sum(f(jax.random.PRNGKey(2))))})
    return {"autoreset": rows}


# ---------------------------------------------------------------- report


def machine() -> str:
    import jax

    d = jax.devices()[0]
    return f"{d.platform}:{d.device_kind}, {os.cpu_count()} CPU cores"


def print_tables(r: dict, rc) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    fmt = lambda v, d=1: "n/a" if v is None else (f"{v:,.{d}f}" if isinstance(v, float) else str(v))  # noqa: E731

    def show(title: str, rows: list[tuple[str, str]]) -> None:
        table = Table(title=title, title_justify="left")
        table.add_column("measure")
        table.add_column("value", justify="right")
        for name, value in rows:
            table.add_row(escape(name), escape(value))
        console.print(table)

    if "loop" in r:
        lp = r["loop"]
        show(f"loop: {rc.algo} ({rc.preset}) on {rc.loop.env}, {rc.loop.seeds} seeds", [
            ("fused loop env steps/s (all seeds)", fmt(lp["env_steps_per_s"])),
            ("bare update steps/s (all seeds)", fmt(lp["updates_per_s_bare"])),
            ("update steps/s inside the loop", fmt(lp["updates_per_s_in_loop"])),
            ("loop cost over its updates", f"{100 * lp['loop_overhead']:+.1f}% (target <= +15%)"),
            ("compile time of one chunk [s]", fmt(lp["compile_s"])),
            ("replay per seed [MiB]", fmt(lp["replay_mib_per_seed"])),
            ("compiled chunk: arguments / temporaries [MiB]",
             f"{fmt(lp['program_args_mib'])} / {fmt(lp['program_temp_mib'])}"),
            ("device peak [MiB]", fmt(lp["device_peak_mib"])),
            ("host peak RSS [MiB]", fmt(r["host_peak_rss_mib"]))])
    if "roofline" in r:
        rf = r["roofline"]
        rows = [("dense matmul (1024^2, float32) GFLOP/s", fmt(rf["matmul_flops_per_s"] / 1e9))]
        if "loop_flops_per_s" in rf:
            rows += [("loop: GFLOP per update (XLA cost analysis)", fmt(rf["loop_flops_per_update"] / 1e9, 3)),
                     ("loop: achieved GFLOP/s", fmt(rf["loop_flops_per_s"] / 1e9)),
                     ("loop: roofline efficiency", f"{100 * rf['loop_efficiency']:.0f}%")]
        for u in rf["updates"]:
            rows.append((f"update {u['update']} x{u['seeds']}: GFLOP / updates/s / efficiency",
                         f"{u['flops_per_update'] / 1e9:.3f} / {u['updates_per_s']:,.0f} / {100 * u['efficiency']:.0f}%"))
        show("roofline: achieved FLOP/s against the machine's dense matmul", rows)
    if "replay" in r:
        rp = r["replay"]
        show("replay: bytes per stored transition", [
            ("humanoid-sized (obs 244, action 17): this buffer", fmt(rp["replay_bytes_per_transition"])),
            ("  with --replay_obs_dtype=bfloat16", fmt(rp["replay_bytes_per_transition_bf16"])),
            ("  whole (obs, action, reward, terminated, next_obs)", fmt(rp["transition_buffer_bytes_per_transition"])),
            ("  ratio (target <= 0.55)", f"{rp['replay_ratio']:.3f}"),
            (f"{rp['run_env']}: this buffer / whole transitions",
             f"{rp['run_bytes_per_transition']} / {rp['run_transition_buffer_bytes']}")])
    if "compile" in r:
        cp = r["compile"]
        show("compile: make demo's program (DSPG quick, 4 seeds), fresh processes", [
            ("cold compile [s] (empty cache)", fmt(cp["cold_compile_s"])),
            ("warm compile [s] (persistent cache)", fmt(cp["warm_compile_s"])),
            ("cold start: launch to first chunk [s]", fmt(cp["cold_start_s"])),
            ("warm start: launch to first chunk [s] (target <= 5)", fmt(cp["warm_start_s"]))])
    if "autoreset" in r:
        show("autoreset: env steps/s, 64 MJX environments, random actions",
             [(f"{a['env']} {a['autoreset']}", f"{a['env_steps_per_s']:,.0f}") for a in r["autoreset"]["autoreset"]])
    if "checkpoint" in r:
        show(f"checkpoint: the whole carry of {rc.algo} ({rc.preset}) on {rc.loop.env} (orbax, async)",
             [(f"{c['seeds']} seeds x {c['buffer_size']:,} transitions: carry / on disk [MiB]; device waits / "
               "complete / restore [s]",
               f"{c['carry_mib']:.1f} / {c['disk_mib']:.1f}; {c['save_blocking_s']:.2f} / {c['save_total_s']:.2f} / "
               f"{c['restore_s']:.2f}") for c in r["checkpoint"]["checkpoint"]])


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if show_help(argv, __doc__):
        return 0
    try:
        rc, chunks, json_path, sections = _parse(argv)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from softrl_jax import devices

    devices.setup_compile_cache("off")  # every figure here is a cold compile unless stated
    r: dict = {"machine": machine(), "algo": rc.algo, "preset": rc.preset, "env": rc.loop.env,
               "seeds": rc.loop.seeds}
    peak = matmul_flops_per_s() if {"loop", "roofline"} & set(sections) else None
    if "loop" in sections:
        r["loop"] = bench_loop(rc, chunks)
    if "roofline" in sections:
        r["roofline"] = bench_roofline(r.get("loop"), peak)
    if "replay" in sections:
        r["replay"] = bench_replay(rc)
        r["replay_bytes_per_transition"] = r["replay"]["replay_bytes_per_transition"]
    if "compile" in sections:
        r["compile"] = bench_compile()
    if "autoreset" in sections:
        r["autoreset"] = bench_autoreset()
    if "checkpoint" in sections:
        r["checkpoint"] = bench_checkpoint(rc)
    r["host_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"bench on {r['machine']}")
    print_tables(r, rc)
    if json_path:
        runstore.write_json(json_path, r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
