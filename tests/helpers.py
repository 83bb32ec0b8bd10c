"""Shared test helpers."""

import jax
import jax.numpy as jnp

from softrl_jax.envs import Transition


def random_batch(key, batch_size: int, obs_size: int, action_size: int, terminated: float = 0.0) -> Transition:
    """A [B] batch of random transitions, actions uniform in [-1, 1]."""
    k1, k2, k3, k4 = jax.random.split(key, 4)
    return Transition(
        obs=jax.random.normal(k1, (batch_size, obs_size)),
        action=jax.random.uniform(k2, (batch_size, action_size), minval=-1, maxval=1),
        reward=jax.random.normal(k3, (batch_size,)),
        terminated=jnp.full((batch_size,), terminated),
        next_obs=jax.random.normal(k4, (batch_size, obs_size)),
    )
