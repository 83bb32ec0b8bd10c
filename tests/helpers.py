"""Shared test helpers."""

import jax
import jax.numpy as jnp
import numpy as np

from softrl_jax import algos
from softrl_jax.envs import Transition
from softrl_jax.train import run


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


def final_pendulum_returns(tmp_path, algo: str, seeds: int, steps: int) -> np.ndarray:
    """Train `algo` (quick preset) on gymnax Pendulum; the final deterministic return per seed [seeds]."""
    return final_returns(tmp_path, algo, "quick", "gymnax:Pendulum-v1", seeds, steps)


def final_returns(tmp_path, algo: str, preset: str, env: str, seeds: int, steps: int) -> np.ndarray:
    """Train `algo` with `preset` on `env` in this process (out: tmp_path / algo); the final
    deterministic return per seed [seeds]."""
    rc = algos.run_config(algo, preset, {"env": env, "seeds": seeds, "total_steps": steps,
                                         "out": str(tmp_path / algo), "progress": False})
    _, records = run(rc, quiet=True)
    last = max(r["step"] for r in records)
    finals = np.array([r["eval_return"] for r in records if r["step"] == last])
    assert finals.shape == (seeds,) and last == steps
    return finals
