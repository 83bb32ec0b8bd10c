"""The multi-goal task of soft Q-learning (Haarnoja et al. 2017, Sec. 5.1, Figure 1), in pure JAX.

A 2D point mass starts near the origin; the action is its velocity in [-1, 1]^2. Four goals sit at
(+-5, 0) and (0, +-5). Every constant follows the authors' `MultiGoalEnv`
(github haarnoja/softqlearning, softqlearning/environments/multigoal.py):

    s' = clip(s + clip(a, -1, 1), -7, 7)
    r  = -action_cost * ||a||^2 - distance_cost * softmin_g ||s' - g||^2  (+ goal_reward at a goal)
    terminated when min_g ||s' - g|| < goal_threshold

The paper describes the goal term as "a mixture of Gaussians centred on the goals". With
`goal_sigma = sigma > 0` the soft minimum is `-2 sigma^2 log sum_g exp(-||s' - g||^2 / (2 sigma^2))`,
so the goal term is `2 sigma^2 distance_cost` times the log of an equal-weight Gaussian mixture of
variance sigma^2 (plus a constant): same level curves as the mixture. Its sigma -> 0 limit,
`min_g ||s' - g||^2`, is what the authors' code computes and is the default (`goal_sigma = 0`).
"""

from __future__ import annotations

import dataclasses

import chex
import jax
import jax.numpy as jnp

from softrl_jax.envs.core import Env, EnvSpec


@dataclasses.dataclass(frozen=True)
class MultiGoalParams:
    """Defaults: the authors' MultiGoalEnv and examples/multigoal_sql.py."""

    goal_radius: float = 5.0  # goals at (+-r, 0), (0, +-r) (authors 5)
    goal_reward: float = 10.0  # bonus on reaching a goal (authors 10)
    action_cost: float = 30.0  # coefficient of ||a||^2 (authors actuation_cost_coeff 30)
    distance_cost: float = 1.0  # coefficient of the squared distance to the nearest goal (authors 1)
    goal_sigma: float = 0.0  # 0: hard min (authors' code); > 0: log of a Gaussian mixture (see module doc)
    goal_threshold: float = 1.0  # terminate within this distance of a goal (authors 1)
    bound: float = 7.0  # positions clipped to [-bound, bound]^2 (authors xlim = ylim = (-7, 7))
    max_speed: float = 1.0  # actions clipped to [-max_speed, max_speed]^2 (authors vel_bound 1)
    init_sigma: float = 0.1  # start ~ N(0, init_sigma^2 I), clipped to the bounds (authors 0.1)
    episode_length: int = 30  # time limit (authors' example max_path_length 30; paper D.2 T = 20)

    def goals(self) -> chex.Array:
        """[4, 2] goal positions: (+r, 0), (-r, 0), (0, +r), (0, -r) (the authors' order)."""
        r = self.goal_radius
        return jnp.array([[r, 0.0], [-r, 0.0], [0.0, r], [0.0, -r]], jnp.float32)


GOAL_NAMES = ("+x", "-x", "+y", "-y")


def goal_sq_distances(params: MultiGoalParams, pos: chex.Array) -> chex.Array:
    """pos [..., 2] -> [..., 4] squared distances to each goal."""
    return jnp.sum(jnp.square(pos[..., None, :] - params.goals()), axis=-1)


def goal_cost(params: MultiGoalParams, pos: chex.Array) -> chex.Array:
    """pos [..., 2] -> [...]: `distance_cost * softmin_g ||pos - g||^2` (hard min when goal_sigma = 0)."""
    d = goal_sq_distances(params, pos)
    if params.goal_sigma > 0:
        two_var = 2.0 * params.goal_sigma**2
        soft_min = -two_var * jax.nn.logsumexp(-d / two_var, axis=-1)
    else:
        soft_min = jnp.min(d, axis=-1)
    return params.distance_cost * soft_min


def reached_goal(params: MultiGoalParams, pos: chex.Array) -> chex.Array:
    """pos [..., 2] -> [...] int32: index of the goal within `goal_threshold`, or -1."""
    d = goal_sq_distances(params, pos)
    inside = d < params.goal_threshold**2
    return jnp.where(jnp.any(inside, axis=-1), jnp.argmin(d, axis=-1), -1).astype(jnp.int32)


def reward(params: MultiGoalParams, next_pos: chex.Array, action: chex.Array) -> chex.Array:
    """Reward [] of moving with `action` [2] (already clipped) to `next_pos` [2]."""
    r = -params.action_cost * jnp.sum(jnp.square(action)) - goal_cost(params, next_pos)
    return r + jnp.where(reached_goal(params, next_pos) >= 0, params.goal_reward, 0.0)


def make_multigoal(episode_length: int | None = None, params: MultiGoalParams = MultiGoalParams()) -> Env:
    """Single-environment `Env`: state = observation = position [2]; actions [2] in [-1, 1]."""
    if not (params.goal_threshold < params.goal_radius <= params.bound):
        raise ValueError(f"multigoal: need goal_threshold < goal_radius <= bound, got {params}")
    spec = EnvSpec("multigoal", 2, 2, episode_length or params.episode_length)

    def reset(key):
        pos = jnp.clip(params.init_sigma * jax.random.normal(key, (2,)), -params.bound, params.bound)
        return pos, pos

    def step(pos, action, key):
        del key  # deterministic dynamics (authors: PointDynamics sigma 0)
        action = jnp.clip(action, -params.max_speed, params.max_speed)
        next_pos = jnp.clip(pos + action, -params.bound, params.bound)
        return next_pos, next_pos, reward(params, next_pos, action), reached_goal(params, next_pos) >= 0

    return Env(spec, reset, step)


__all__ = ["GOAL_NAMES", "MultiGoalParams", "goal_cost", "goal_sq_distances", "make_multigoal",
           "reached_goal", "reward"]
