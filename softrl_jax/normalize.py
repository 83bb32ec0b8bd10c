"""Observation normalisation: a pure running mean and variance, carried per seed in the loop's carry.

    stats = normalize.init(obs_size)
    stats = normalize.update(stats, obs)      # obs [N, O]: a batch of collected observations
    x = normalize.apply(stats, obs)           # (obs - mean) / sqrt(var + eps), clipped to +-clip

`update` merges a batch into the running statistics with Chan, Golub & LeVeque's parallel formula
(1979), so after any sequence of batches `mean` and `var` equal numpy's `mean(axis=0)` and
`var(axis=0)` (population variance, ddof 0) over every observation seen, up to float32 rounding.
Before the first batch (`count == 0`) the statistics are mean 0, variance 1: `apply` is the identity
apart from the clip.

The loop (`--obs_norm=true`) updates them from the observations the training environments hand the
agent at each step (never from evaluation episodes), keeps raw observations in replay, and applies
the current statistics everywhere an observation meets a network: acting, both sides of every
sampled transition (so Bellman targets see the same normalisation as the Q values they train), and
evaluation. Being part of the carry, they are saved and restored with checkpoints.

eps 1e-8 and clip 10 are Stable-Baselines3 VecNormalize's defaults (`epsilon`, `clip_obs`).
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax.numpy as jnp

EPS = 1e-8
CLIP = 10.0


class RunningStats(NamedTuple):
    count: chex.Array  # [] float32, observations seen
    mean: chex.Array  # [O]
    var: chex.Array  # [O] population variance


def init(size: int) -> RunningStats:
    return RunningStats(jnp.zeros((), jnp.float32), jnp.zeros((size,), jnp.float32), jnp.ones((size,), jnp.float32))


def update(stats: RunningStats, x: chex.Array) -> RunningStats:
    """Merge a batch x [N, O] into the statistics (Chan et al.'s parallel mean / M2 update)."""
    x = jnp.asarray(x, jnp.float32).reshape(-1, stats.mean.shape[-1])
    n = jnp.asarray(x.shape[0], jnp.float32)
    batch_mean = jnp.mean(x, axis=0)
    batch_var = jnp.mean(jnp.square(x - batch_mean), axis=0)
    total = stats.count + n
    delta = batch_mean - stats.mean
    mean = stats.mean + delta * (n / total)
    m2 = stats.var * stats.count + batch_var * n + jnp.square(delta) * (stats.count * n / total)
    return RunningStats(total, mean, m2 / total)


def apply(stats: RunningStats, x: chex.Array) -> chex.Array:
    """Normalise x [..., O] with the current statistics."""
    return jnp.clip((jnp.asarray(x, jnp.float32) - stats.mean) / jnp.sqrt(stats.var + EPS), -CLIP, CLIP)
