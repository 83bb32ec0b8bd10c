"""Diverging runs are isolated inside the compiled program: a sweep point with an absurd critic
learning rate goes non-finite, is frozen at its last finite state and flagged in metrics.jsonl,
and the point beside it in the same vmapped program is bit for bit what it is beside a sane point."""

import numpy as np

from softrl_jax import algos, runner
from softrl_jax.checkpoint import read_carry

TINY = {"env": "gymnax:Pendulum-v1", "seeds": 2, "total_steps": 1200, "warmup_steps": 400, "eval_every": 400,
        "eval_episodes": 2, "buffer_size": 2000, "batch_size": 32, "hidden": (16, 16), "progress": False}
CLOCK = ("time_s", "env_steps_per_s")


def train(root, critic_lrs):
    points = [runner.Point(algos.run_config("sac", "quick", {**TINY, "critic_lr": lr, "out": str(root / f"p{i}")}))
              for i, lr in enumerate(critic_lrs)]
    return runner.run(points, hparam_fields=("critic_lr",), progress=False)


def strip(records):
    return [{k: v for k, v in r.items() if k not in CLOCK} for r in records]


def test_a_diverging_point_is_frozen_flagged_and_leaves_its_neighbour_bit_identical(tmp_path):
    sane = train(tmp_path / "sane", [1e-3, 1e-3])
    mixed = train(tmp_path / "mixed", [1e-3, 1e30])  # Adam steps of 1e30: the critic overflows at once
    assert strip(mixed.records[0]) == strip(sane.records[0])  # bit for bit, every field
    assert not any(r["diverged"] for r in sane.records[0] + sane.records[1])
    bad = mixed.records[1]
    assert len(bad) == 2 * 2 and all(r["diverged"] for r in bad)
    # the first update after the 400 warm-up transitions is the first to go non-finite
    assert {r["diverged_at"] for r in bad} == {401}
    assert all(np.isfinite(r["eval_return"]) for r in bad)  # evaluated with its last finite parameters
    carry, _ = read_carry(tmp_path / "mixed" / "p0")  # one program: its checkpoint is in the first point's folder
    import jax

    for leaf in jax.tree.leaves(carry["agent"]):  # agent states of all 4 runs (2 points x 2 seeds)
        if np.issubdtype(leaf.dtype, np.floating):
            assert np.all(np.isfinite(leaf))
    sane_carry, _ = read_carry(tmp_path / "sane" / "p0")
    for a, b in zip(jax.tree.leaves(carry["agent"]), jax.tree.leaves(sane_carry["agent"]), strict=True):
        assert a[:2].tobytes() == b[:2].tobytes()  # point 0's seeds: the same parameters
    assert carry["diverged_at"].tolist() == [-1, -1, 401, 401]
