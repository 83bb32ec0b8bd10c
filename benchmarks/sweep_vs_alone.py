"""Sweep points vmapped together against each point alone, beside a 1-ulp envelope (issue 22).

tests/test_sweep.py::test_vmapped_points_equal_each_point_alone compares the [P x S] program of a
2-point DSPG sweep with each point's own [S] program at 1e-4. On jax 0.12.0.1 it fails on point 0 in
the third chunk. This script prints, for every compared key and evaluated chunk, the largest relative
difference between the two programs, and beside it the envelope of a 1-ulp perturbation: the same
point-alone run started once more with the actor's first kernel moved by one ulp (`jnp.nextafter`).
Where the two columns differ by orders of magnitude, the trajectory is ill-conditioned there: which
side of it a run lands on depends on the last bits of its rounding.

Measured on a 2-core Intel Xeon on 2026-12-05, point 0 (actor_lr 3e-3, clip_norm 0.05) at chunk 2:

    jax 0.10.2:   sweep vs alone  eval_return 9.6e-6  actor_loss 5.2e-6   1-ulp envelope  8.7e-3  2.8e-4
    jax 0.12.0.1: sweep vs alone  eval_return 8.6e-3  actor_loss 2.8e-4   1-ulp envelope  1.1e-6  5.8e-6

The same size, once in each column. Update by update (chunk 2's 200 vector steps, seed 0 of point 0,
the nudged run against the plain one on jax 0.10.2), the relative difference of the policy entropy
stays at 1e-6 to 1e-5 for 140 updates, reaches 3e-4 by update 160 and 0.12 by the end: the high
learning rate makes the last 40 updates unstable, and any difference in rounding grows about a
thousandfold there. The test's 1e-4 holds on jax 0.10 because the two programs' differences happen
to stay small through that stretch, not because the comparison is well conditioned.

    XLA_FLAGS=--xla_force_host_platform_device_count=1 .venv/bin/python benchmarks/sweep_vs_alone.py [0,3]

The optional argument names the grid points (indices into test_sweep's 4-point grid; default 0,3).

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

from softrl_jax import algos, envs, sweep  # noqa: E402
from softrl_jax.loop import make_train  # noqa: E402
from softrl_jax.training import seed_keys  # noqa: E402


def nudged(carry):
    """The carry with the actor's first kernel one ulp up."""
    actor = jax.tree.map(lambda x: x, carry.agent.actor)
    kernel = actor["params"]["Dense_0"]["kernel"]
    actor["params"]["Dense_0"]["kernel"] = jnp.nextafter(kernel, jnp.inf)
    return carry._replace(agent=carry.agent._replace(actor=actor))


def relative(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)) / np.maximum(np.abs(np.asarray(b)), 1e-6)))


def main() -> None:
    grid = sweep.build_points("dspg", T.POINTS, T.TINY, 0, 0, tempfile.mkdtemp())
    points = [grid[int(i)] for i in (sys.argv[1] if len(sys.argv) > 1 else "0,3").split(",")]
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
