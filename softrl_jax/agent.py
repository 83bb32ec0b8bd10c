"""The one protocol every algorithm meets: `make(cfg, spec) -> Agent`.

An `Agent` is an algorithm bound to its config and the task's `EnvSpec`: four pure functions of arrays
with one signature set for every algorithm, continuous or discrete, off- or on-policy, and the replay
window it learns from. The loops (softrl_jax/loop.py, softrl_jax/onpolicy.py) call nothing else of an
algorithm. Each algorithm module (softrl_jax/algos) defines `make` with one of the binders below,
which adapt the module's own maths functions (their signatures follow the papers' quantities: the
continuous modules size their networks from (obs_size, action_size), the discrete ones from the spec).

    agent = sac.make(cfg, spec)
    state = agent.init(key)
    action, noise = agent.act(state, obs, noise, key)      # noise: exploration state (DDPG's OU)
    state, metrics = agent.update(state, batch, key)       # batch: Transition, replay.Window or Rollout

An example algorithm written against this protocol: docs/training.md, "Adding an algorithm".
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import chex


class Agent(NamedTuple):
    """An algorithm bound to its config and the task's spec. All four are pure functions of arrays."""

    init: Callable[[chex.PRNGKey], Any]  # key -> agent state
    # (state, obs [O], noise [A], key) -> (action [A], noise [A]). `noise` is per-environment
    # exploration state carried in the scan (DDPG's Ornstein-Uhlenbeck process); it is reset to
    # zeros when an episode ends. Stochastic policies pass it through unchanged.
    act: Callable[[Any, chex.Array, chex.Array, chex.PRNGKey], tuple[chex.Array, chex.Array]]
    act_eval: Callable[[Any, chex.Array], chex.Array]  # (state, obs [O]) -> deterministic action [A]
    # (state, batch, key) -> (state, metrics): a Transition batch [B], a replay.Window batch (window > 1),
    # or an on-policy Rollout [T, N]
    update: Callable[[Any, Any, chex.PRNGKey], tuple[Any, dict]]
    window: int = 1  # steps per replay sample: n-step learners read windows of n transitions (replay.Window)


def bind_sized(cfg, spec, init, act, act_eval, update) -> Agent:
    """Maths functions that take `cfg` first and `init(cfg, key, obs_size, action_size)`: the
    continuous-action modules (SAC, DDPG, DSPG, SQL)."""
    return Agent(init=lambda key: init(cfg, key, spec.obs_size, spec.action_size),
                 act=lambda state, obs, noise, key: act(cfg, state, obs, noise, key),
                 act_eval=lambda state, obs: act_eval(cfg, state, obs),
                 update=lambda state, batch, key: update(cfg, state, batch, key))


def bind_spec(cfg, spec, init, act, act_eval, update, window: int = 1) -> Agent:
    """Maths functions that take `cfg, spec` first (their networks need `num_actions` and `obs_shape`):
    the discrete-action Q-learners."""
    return Agent(init=lambda key: init(cfg, spec, key),
                 act=lambda state, obs, noise, key: act(cfg, spec, state, obs, noise, key),
                 act_eval=lambda state, obs: act_eval(cfg, spec, state, obs),
                 update=lambda state, batch, key: update(cfg, spec, state, batch, key), window=window)


def bind_on_policy(cfg, spec, init, act, act_eval, update) -> Agent:
    """Maths functions that take `cfg, spec` first and act without exploration state (the A2C family):
    `noise` passes through."""
    return Agent(init=lambda key: init(cfg, spec, key),
                 act=lambda state, obs, noise, key: (act(cfg, spec, state, obs, key), noise),
                 act_eval=lambda state, obs: act_eval(cfg, spec, state, obs),
                 update=lambda state, rollout, key: update(cfg, spec, state, rollout, key))
