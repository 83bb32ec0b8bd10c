"""Benchmark: the fused loop against its bare update step, from one run on one machine.

    python -m softrl_jax.bench [--chunks=3] [--json=PATH] [any train flag, e.g. --algo=dspg --preset=quick]

Prints env steps/s of the fused loop (act, step, store, updates and evaluation), updates/s of the
jitted update step alone (vmapped over the same seeds, on batches drawn beforehand), the loop's
cost over its updates, compile time and peak memory. Defaults: DSPG quick, gymnax Pendulum, 4 seeds.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Sequence

from softrl_jax.config import ConfigError
from softrl_jax.train import config_from_flags, parse_flags, show_help


def _parse(argv: Sequence[str]):
    flags = parse_flags(argv)
    try:
        chunks = int(flags.pop("chunks", "3"))
    except ValueError:
        raise ConfigError("--chunks must be an int >= 1") from None
    if chunks < 1:
        raise ConfigError(f"--chunks={chunks} is out of range; must be >= 1")
    json_path = flags.pop("json", "")
    defaults = {"algo": "dspg", "preset": "quick", "env": "gymnax:Pendulum-v1", "seeds": "4"}
    argv = [f"--{k}={v}" for k, v in {**defaults, **flags}.items()]
    return config_from_flags(argv), chunks, json_path


def measure(rc, chunks: int) -> dict:
    import jax
    import jax.numpy as jnp

    from softrl_jax import algos, envs, replay
    from softrl_jax.loop import make_agent, make_train, seed_keys

    loop = rc.loop
    env = envs.make(loop.env, loop.episode_length or None)
    algorithm = algos.get(rc.algo)
    trainer = make_train(algorithm, env, rc)
    keys = seed_keys(loop.seed, loop.seeds)
    carry = jax.block_until_ready(jax.jit(jax.vmap(trainer.init))(keys))

    t = time.perf_counter()
    chunk = jax.jit(jax.vmap(trainer.chunk), donate_argnums=0).lower(carry).compile()
    compile_s = time.perf_counter() - t
    mem = chunk.memory_analysis()
    carry, _ = chunk(carry)  # warm
    jax.block_until_ready(carry)
    t = time.perf_counter()
    for _ in range(chunks):
        carry, metrics = chunk(carry)
    jax.block_until_ready(metrics)
    loop_s = time.perf_counter() - t
    env_steps_per_s = chunks * loop.eval_every * loop.seeds / loop_s

    # The bare update: a scan of U updates (same count as one chunk) on pre-drawn batches.
    agent = make_agent(algorithm, rc.algo_cfg, env.spec.obs_size, env.spec.action_size)
    n_updates = loop.eval_every // loop.num_envs * loop.updates_per_step
    batch_keys = jax.random.split(jax.random.PRNGKey(0), loop.seeds * 16).reshape(loop.seeds, 16, 2)
    batches = jax.vmap(jax.vmap(trainer.replay.sample, in_axes=(None, 0)))(carry.buffer, batch_keys)

    def updates(agent_state, batches, key):
        def body(s, k_i):
            k, i = k_i
            return agent.update(s, jax.tree.map(lambda x: x[i % 16], batches), k)[0], None
        ks = (jax.random.split(key, n_updates), jnp.arange(n_updates))
        return jax.lax.scan(body, agent_state, ks)[0]

    upd = jax.jit(jax.vmap(updates)).lower(carry.agent, batches, keys).compile()
    state = jax.block_until_ready(upd(carry.agent, batches, keys))
    t = time.perf_counter()
    for _ in range(chunks):
        state = upd(state, batches, keys)
    jax.block_until_ready(state)
    upd_s = time.perf_counter() - t
    updates_per_s = chunks * n_updates * loop.seeds / upd_s
    loop_updates_per_s = env_steps_per_s / loop.num_envs * loop.updates_per_step
    device = jax.devices()[0]
    stats = device.memory_stats() or {}
    return {
        "algo": rc.algo, "preset": rc.preset, "env": loop.env, "seeds": loop.seeds,
        "device": f"{device.platform}:{device.device_kind}", "chunk_env_steps": loop.eval_every,
        "env_steps_per_s": env_steps_per_s,
        "updates_per_s_bare": updates_per_s,
        "updates_per_s_in_loop": loop_updates_per_s,
        "loop_overhead": updates_per_s / loop_updates_per_s - 1.0,
        "compile_s": compile_s,
        "replay_mib_per_seed": replay.nbytes(carry.buffer) / loop.seeds / 2**20,
        "program_temp_mib": mem.temp_size_in_bytes / 2**20 if mem else None,
        "program_args_mib": mem.argument_size_in_bytes / 2**20 if mem else None,
        "device_peak_mib": stats.get("peak_bytes_in_use", 0) / 2**20 or None,
        "host_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if show_help(argv, __doc__):
        return 0
    try:
        rc, chunks, json_path = _parse(argv)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    r = measure(rc, chunks)
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"bench: {r['algo']} ({r['preset']}) on {r['env']}, {r['seeds']} seeds, {r['device']}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    fmt = lambda v: "n/a" if v is None else (f"{v:,.1f}" if isinstance(v, float) else str(v))  # noqa: E731
    rows = [("fused loop env steps/s (all seeds)", r["env_steps_per_s"]),
            ("bare update steps/s (all seeds)", r["updates_per_s_bare"]),
            ("update steps/s inside the loop", r["updates_per_s_in_loop"]),
            ("loop cost over its updates", f"{100 * r['loop_overhead']:+.1f}% (target <= +15%)"),
            ("compile time of one chunk [s]", r["compile_s"]),
            ("replay per seed [MiB]", r["replay_mib_per_seed"]),
            ("compiled chunk: arguments / temporaries [MiB]",
             f"{fmt(r['program_args_mib'])} / {fmt(r['program_temp_mib'])}"),
            ("device peak [MiB]", r["device_peak_mib"]),
            ("host peak RSS [MiB]", r["host_peak_rss_mib"])]
    for name, value in rows:
        table.add_row(name, fmt(value))
    Console().print(table)
    if json_path:
        with open(json_path, "w") as f:
            json.dump(r, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
