"""The replay and checkpoint sections: bytes per stored transition, and saving and restoring the carry."""

from __future__ import annotations

import tempfile
import time

from softrl_jax.bench.common import HUMANOID


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
