"""The loop and roofline sections: the fused loop against its bare update, and FLOP efficiency."""

from __future__ import annotations

import time

from softrl_jax.bench.common import UPDATE_SIZES, _best_time, _flops, update_program


def bench_loop(rc, chunks: int) -> dict:
    """The fused loop against its bare update, one program each, same seeds."""
    import jax

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

    agent = algorithm.make(rc.algo_cfg, env.spec)
    updates_per_s, one = bare_updates(agent, trainer, carry, keys, chunks, options)
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


def bare_updates(agent, trainer, carry, keys, chunks: int, options) -> tuple:
    """(updates/s, the one-update program): the bare update, as many updates as one chunk makes, on
    batches drawn beforehand from the loop's real buffer (same seeds)."""
    import jax
    import numpy as np

    from softrl_jax import compiled

    loop = trainer.loop
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
    return updates_per_s, one
