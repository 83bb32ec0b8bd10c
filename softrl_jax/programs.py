"""The training program of any algorithm: the off-policy loop (softrl_jax/loop.py) or the on-policy
rollout loop (softrl_jax/onpolicy.py), chosen by the loop kind of the run's algorithm (its AlgoSpec
in softrl_jax/algos). Both return a `training.Trainer` (what
they share is in softrl_jax/training.py, each has its own carry); the runner, the benches and the
experiments build their programs here, so neither loop imports the other's module."""

from __future__ import annotations

from softrl_jax import algos, envs, loop, onpolicy
from softrl_jax.config import RunConfig
from softrl_jax.training import Trainer


def make_train(algorithm, env: envs.Env, config: RunConfig) -> Trainer:
    """The fused training program of `algorithm` (a module of softrl_jax.algos) on `env`; the loop is
    the one `config.algo` is registered with."""
    if algos.spec(config.algo).loop == "on_policy":
        return onpolicy.make_train(algorithm, env, config)
    return loop.make_train(algorithm, env, config)
