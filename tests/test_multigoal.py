"""The multi-goal task: rewards, termination, clipping and bounds by hand; the registry and time limit."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softrl_jax import envs
from softrl_jax.envs.multigoal import MultiGoalParams, goal_cost, make_multigoal, reached_goal

P = MultiGoalParams()


def _step(pos, action, params=P):
    env = make_multigoal(params=params)
    _, obs, r, term = env.step(jnp.asarray(pos, jnp.float32), jnp.asarray(action, jnp.float32), jax.random.PRNGKey(0))
    return np.asarray(obs), float(r), bool(term)


def test_reaching_a_goal_terminates_with_bonus():
    # (4.5, 0) + (0.3, 0) = (4.8, 0): 0.2 from goal (5, 0)
    obs, r, term = _step([4.5, 0.0], [0.3, 0.0])
    np.testing.assert_allclose(obs, [4.8, 0.0], rtol=1e-6)
    np.testing.assert_allclose(r, -30 * 0.09 - 0.04 + 10.0, rtol=1e-5)
    assert term


@pytest.mark.parametrize("goal", range(4))
def test_each_goal(goal):
    g = np.asarray(P.goals()[goal])
    obs, r, term = _step(g * 0.9, g * 0.05)  # 0.95 of the way: 0.25 from the goal
    assert term and int(reached_goal(P, jnp.asarray(obs))) == goal
    np.testing.assert_allclose(r, -30 * np.sum((g * 0.05) ** 2) - 0.25**2 + 10.0, rtol=1e-5)


def test_threshold_is_strict_and_far_states_do_not_terminate():
    # exactly goal_threshold = 1 away: not inside (authors: dist < threshold)
    _, r, term = _step([3.0, 0.0], [1.0, 0.0])
    assert not term
    np.testing.assert_allclose(r, -30.0 - 1.0, rtol=1e-6)
    # origin + (1, 1): nearest goal squared distance (1-5)^2 + 1 = 17
    _, r, term = _step([0.0, 0.0], [1.0, 1.0])
    assert not term
    np.testing.assert_allclose(r, -30 * 2 - 17.0, rtol=1e-6)


def test_action_clipped_to_unit_speed_and_position_to_bounds():
    obs, r, _ = _step([0.0, 0.0], [3.0, 0.0])
    np.testing.assert_allclose(obs, [1.0, 0.0])
    np.testing.assert_allclose(r, -30.0 - 16.0, rtol=1e-6)  # cost uses the clipped action
    obs, _, _ = _step([6.5, -6.8], [1.0, -1.0])
    np.testing.assert_allclose(obs, [7.0, -7.0])


def test_gaussian_mixture_goal_term():
    """goal_sigma > 0: softmin = -2 s^2 log sum_g exp(-d_g / 2 s^2); at the origin all d_g = 25, so
    the cost is 25 - 2 s^2 log 4; far from the others it tends to the hard minimum."""
    s = 1.5
    p = MultiGoalParams(goal_sigma=s)
    np.testing.assert_allclose(goal_cost(p, jnp.zeros(2)), 25 - 2 * s**2 * math.log(4.0), rtol=1e-6)
    np.testing.assert_allclose(goal_cost(P, jnp.zeros(2)), 25.0)
    near = jnp.array([4.0, 0.5])
    np.testing.assert_allclose(goal_cost(MultiGoalParams(goal_sigma=0.3), near), goal_cost(P, near), rtol=1e-4)
    # level sets of the goal term are level sets of the mixture density: monotone in it
    xy = jax.random.uniform(jax.random.PRNGKey(0), (50, 2), minval=-7, maxval=7)
    density = jnp.sum(jnp.exp(-jnp.sum((xy[:, None] - p.goals()) ** 2, -1) / (2 * s**2)), -1)
    order = np.argsort(np.asarray(density))
    assert np.all(np.diff(np.asarray(goal_cost(p, xy))[order]) <= 1e-4)


def test_reset_near_origin():
    env = envs.make("multigoal")
    starts = jax.vmap(lambda k: env.reset(k)[1])(jax.random.split(jax.random.PRNGKey(0), 2000))
    assert starts.shape == (2000, 2)
    np.testing.assert_allclose(np.std(starts, 0), P.init_sigma, rtol=0.1)
    np.testing.assert_allclose(np.mean(starts, 0), 0.0, atol=0.01)


def test_registry_time_limit_and_auto_reset():
    env = envs.make("multigoal")
    assert env.spec == envs.EnvSpec("multigoal", 2, 2, 30)
    assert envs.make("multigoal", episode_length=20).spec.max_episode_steps == 20
    state = envs.reset(env, jax.random.PRNGKey(0))

    def body(s, k):
        s, tr, info = envs.step(env, s, jnp.zeros(2), k)  # standing still never reaches a goal
        return s, (tr, info)

    _, (tr, info) = jax.lax.scan(body, state, jax.random.split(jax.random.PRNGKey(1), 65))
    np.testing.assert_array_equal(np.flatnonzero(np.asarray(info.done)), [29, 59])
    assert np.asarray(info.truncated)[[29, 59]].all() and not np.asarray(tr.terminated).any()


def test_full_speed_run_terminates_at_goal_through_wrapper():
    env = envs.make("multigoal")
    state = envs.reset(env, jax.random.PRNGKey(0))
    for t in range(6):
        state, tr, info = envs.step(env, state, jnp.array([1.0, 0.0]), jax.random.PRNGKey(t))
        if bool(info.done):
            break
    assert bool(tr.terminated) and not bool(info.truncated)
    assert int(reached_goal(P, tr.next_obs)) == 0
    assert float(state.obs[0]) < 1.0  # auto-reset back near the origin


def test_bad_geometry_rejected():
    with pytest.raises(ValueError, match="goal_threshold < goal_radius <= bound"):
        make_multigoal(params=MultiGoalParams(goal_radius=8.0))
