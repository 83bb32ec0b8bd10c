"""Sweep points vmapped together against each point alone, beside a 1-ulp envelope (issue 22).

tests/test_sweep.py::test_vmapped_points_equal_each_point_alone compared the [P x S] program of a
2-point DSPG sweep with each point's own [S] program at 1e-4 at every evaluation. On jax 0.12.0.1 it
failed on point 0 in the third chunk; this script showed why, and the test now compares the first
evaluation (well conditioned at every point) and checks the whole run bit for bit against the same
program with the points in the other slots. This script prints, for every compared key and evaluated chunk, the largest relative
difference between the two programs, and beside it the envelope of a 1-ulp perturbation: the same
point-alone run started once more with the actor's first kernel moved by one ulp (`jnp.nextafter`).
Where the two columns differ by orders of magnitude, the trajectory is ill-conditioned there: which
side of it a run lands on depends on the last bits of its rounding.

Measured on a 2-core Intel Xeon on 2026-12-05, point 0 (actor_lr 3e-3, clip_norm 0.05) at chunk 2:

    jax 0.10.2:   sweep vs alone  eval_return 9.6e-6  actor_loss 5.2e-6   1-ulp envelope  8.7e-3  2.8e-4
    jax 0.12.0.1: sweep vs alone  eval_return 8.6e-3  actor_loss 2.8e-4   1-ulp envelope  1.1e-6  5.8e-6

The same size, once in each column. Update by update (chunk 2's 200 vector steps, seed 0 of point 0,
the nudged run against the plain one on jax 0.10.2; `--per_update=0`), the relative difference of the
policy entropy stays near 1e-5 for about 150 updates (first past 1e-4 at update 105), is 3e-4 at
update 160 and 6e-3 at 170, and peaks at 0.12 in the last 30: the high learning rate makes the last
40 updates unstable, and any difference in rounding grows about a thousandfold there. The test's
1e-4 holds on jax 0.10 because the two programs' differences happen to stay small through that
stretch, not because the comparison is well conditioned.

    XLA_FLAGS=--xla_force_host_platform_device_count=1 .venv/bin/python benchmarks/sweep_vs_alone.py [0,3]

The optional argument names the grid points (indices into test_sweep's 4-point grid; default 0,3).
`--per_update=P` prints instead, for grid point P, the relative difference between the plain and the
nudged run at every update of the last chunk (per-step metrics of the loop's own vector step).

It imports the test's configuration (tests/test_sweep.py: TINY, POINTS, SPEC_KEYS) and trains in this
process in about a minute on a 2-core CPU.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import test_sweep as T  # noqa: E402

from softrl_jax import algos, envs, replay, sweep  # noqa: E402
from softrl_jax.loop import make_collect_and_update, make_train  # noqa: E402
from softrl_jax.training import (agent_factory, chunk_keys, chunk_resets, first_env_state,  # noqa: E402
                                 reset_starts, seed_keys)


def nudged(carry):
    """The carry with the actor's first kernel one ulp up."""
    actor = jax.tree.map(lambda x: x, carry.agent.actor)
    kernel = actor["params"]["Dense_0"]["kernel"]
    actor["params"]["Dense_0"]["kernel"] = jnp.nextafter(kernel, jnp.inf)
    return carry._replace(agent=carry.agent._replace(actor=actor))


def relative(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)) / np.maximum(np.abs(np.asarray(b)), 1e-6)))


def per_update(point) -> None:
    """The plain and the nudged point-alone runs through every chunk but the last, then the last chunk
    update by update: each metric's relative difference per seed, every 10th update and its first
    update past 1e-4."""
    rc, algorithm = point.rc, algos.get("dspg")
    loop, env = rc.loop, envs.make(point.rc.loop.env, point.rc.loop.episode_length)
    trainer = make_train(algorithm, env, rc)
    n = loop.num_envs
    buf = replay.make_replay(loop.buffer_size, rc.algo_cfg.batch_size, n, jnp.dtype(loop.replay_obs_dtype))
    agent_for = agent_factory(algorithm, rc, env.spec)
    step = make_collect_and_update(env, loop, buf, algorithm.make(rc.algo_cfg, env.spec).window)

    def chunk_steps(carry, hparams):  # the loop's chunk without evaluation, keeping the per-step outputs
        key = chunk_keys(carry)[0]
        train_starts, _ = chunk_resets(env, loop, reset_starts(loop), carry)
        carry = carry._replace(env=first_env_state(carry, train_starts, n), key=key)
        pool = train_starts if loop.autoreset == "pool" else None
        return jax.lax.scan(step(agent_for(hparams), pool), carry, None, length=loop.eval_every // n)[1]

    init, chunk = (jax.jit(f) for f in trainer.vmap())
    steps = jax.jit(jax.vmap(chunk_steps, in_axes=(trainer.carry_axes, 0)))
    keys = seed_keys(loop.seed, loop.seeds)
    hp = {f: jnp.full((loop.seeds,), getattr(rc.algo_cfg, f), jnp.float32) for f in ("actor_lr", "clip_norm")}
    plain, moved = init(keys, hp), nudged(init(keys, hp))
    for _ in range(trainer.n_chunks - 1):
        plain, moved = chunk(plain, hp)[0], chunk(moved, hp)[0]
    a, b = steps(plain, hp), steps(moved, hp)
    print(f"jax {jax.__version__}; point {point.index}, chunk {trainer.n_chunks - 1}, relative difference "
          f"plain vs nudged at updates 0, 10, 20, ...")
    for key in ("entropy", "actor_grad_norm", "critic_loss", "actor_loss"):
        x, y = np.asarray(a[key]), np.asarray(b[key])
        rel = np.abs(x - y) / np.maximum(np.abs(x), 1e-6)
        for seed in range(x.shape[0]):
            past = np.flatnonzero(rel[seed] > 1e-4)
            first = int(past[0]) if past.size else None
            print(f"{key:16} seed {seed}: first past 1e-4 at update {first}; "
                  + " ".join(f"{v:.0e}" for v in rel[seed, ::10]))


def grid_indices(text: str, size: int, most: int) -> list[int]:
    """1 to `most` comma-separated indices into the grid of `size` points; anything else (or a second
    argument) is one line on stderr and exit 2."""
    try:
        indices = [int(i) for i in text.split(",")]
    except ValueError:
        indices = []
    if not 1 <= len(indices) <= most or any(not 0 <= i < size for i in indices) or len(sys.argv) > 2:
        print(f"error: {' '.join(sys.argv[1:])!r} is not valid; valid: grid indices 0-{size - 1} separated by "
              f"commas (e.g. 0,3), or --per_update=INDEX", file=sys.stderr)
        sys.exit(2)
    return indices


def main() -> None:
    grid = sweep.build_points("dspg", T.POINTS, T.TINY, 0, 0, tempfile.mkdtemp())
    arg = sys.argv[1] if len(sys.argv) > 1 else "0,3"
    if arg.startswith("--per_update="):
        per_update(grid[grid_indices(arg.split("=", 1)[1], len(grid), 1)[0]])
        return
    points = [grid[i] for i in grid_indices(arg, len(grid), len(grid))]
    results = sweep.train_group(points, batchable=T._batchable())
    rc = points[0].rc
    trainer = make_train(algos.get("dspg"), envs.make(rc.loop.env, rc.loop.episode_length), rc)
    keys = seed_keys(rc.loop.seed, rc.loop.seeds)
    init, chunk = (jax.jit(f) for f in trainer.vmap())
    logged = [c for c in range(trainer.n_chunks) if trainer.logged(c)]
    print(f"jax {jax.__version__}; relative differences, largest over seeds")
    print(f"{'point':>5} {'chunk':>5} {'key':16} {'sweep vs alone':>14} {'1-ulp envelope':>14}")
    for p in points:
        hp = {f: jnp.full((rc.loop.seeds,), getattr(p.rc.algo_cfg, f), jnp.float32) for f in ("actor_lr", "clip_norm")}
        alone, moved = init(keys, hp), nudged(init(keys, hp))
        for c in range(trainer.n_chunks):
            alone, m = chunk(alone, hp)
            moved, m_moved = chunk(moved, hp)
            if c not in logged:
                continue
            for key in T.SPEC_KEYS:
                got = T._values(results[p.index], key)[:, logged.index(c)]
                print(f"{p.index:5d} {c:5d} {key:16} {relative(got, m[key]):14.1e} {relative(m_moved[key], m[key]):14.1e}")


if __name__ == "__main__":
    main()
