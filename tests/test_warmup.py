"""Warm-up and learning start: `--warmup=uniform|policy`, `--warmup_steps`, `--learning_starts`.

DDPG with zero exploration noise acts exactly `mu(s)`, so the stored actions tell which branch
acted, and the actor's Adam step count tells how many updates ran."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from softrl_jax import algos, envs
from softrl_jax.algos import ddpg
from softrl_jax.config import ConfigError, learning_start
from softrl_jax.loop import make_train

BASE = {"env": "gymnax:Pendulum-v1", "hidden": (8, 8), "batch_size": 4, "noise_sigma": 0.0, "num_envs": 1,
        "updates_per_step": 1, "eval_every": 10, "total_steps": 30, "eval_episodes": 1, "episode_length": 200,
        "buffer_size": 100}


def _run(**kw):
    """(carries after chunks 0, 1, 2, metrics per chunk, run config)."""
    rc = algos.run_config("ddpg", "modern", {**BASE, **kw})
    trainer = make_train(ddpg, envs.make(rc.loop.env, rc.loop.episode_length), rc)
    chunk = jax.jit(trainer.chunk)
    carry = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    carries, metrics = [], []
    for _ in range(3):
        carry, m = chunk(carry)
        carries.append(carry)
        metrics.append(m)
    return trainer, carries, metrics, rc


def _updates(carry) -> int:
    """Actor updates so far: the Adam step count."""
    return int(optax.tree_utils.tree_get(carry.agent.actor_opt, "count"))


def _stored(carry, rows):
    return np.asarray(carry.buffer.obs[0, rows]), np.asarray(carry.buffer.action[0, rows])


def test_policy_warmup_acts_with_the_initial_policy_and_learning_starts_at_the_given_transition():
    trainer, (c0, c1, c2), (m0, m1, m2), rc = _run(warmup="policy", warmup_steps=0, learning_starts=20)
    assert learning_start(rc.loop) == 20
    # the step storing transition 20 makes the first update: none in 1..10, one in 11..20, ten in 21..30
    assert [_updates(c) for c in (c0, c1, c2)] == [0, 1, 11]
    assert [trainer.logged(i) for i in range(3)] == [False, True, True]
    assert np.isnan(m0["eval_return"]) and np.isfinite(m1["eval_return"]) and np.isfinite(m2["eval_return"])
    # the first 20 actions are the initial policy's (no update before transition 20)
    init_actor = jax.jit(trainer.init)(jax.random.PRNGKey(0)).agent.actor
    obs, action = _stored(c1, slice(0, 20))
    np.testing.assert_allclose(action, np.asarray(ddpg.mu(rc.algo_cfg, init_actor, jnp.asarray(obs))), atol=1e-6)
    assert np.std(action) > 1e-3  # the actions vary with the state: not a constant


def test_uniform_warmup_with_earlier_learning_start_updates_while_acting_at_random():
    trainer, (c0, c1, _), (m0, _, _), rc = _run(warmup="uniform", warmup_steps=10, learning_starts=5)
    # updates in the steps storing transitions 5..10 of chunk 0, while actions are still uniform
    assert [_updates(c) for c in (c0, c1)] == [6, 16]
    assert trainer.logged(0) and np.isfinite(m0["eval_return"])
    init_actor = jax.jit(trainer.init)(jax.random.PRNGKey(0)).agent.actor
    obs, action = _stored(c0, slice(0, 10))
    mu0 = np.asarray(ddpg.mu(rc.algo_cfg, init_actor, jnp.asarray(obs)))
    assert np.all(np.abs(action - mu0) > 1e-4)  # uniform draws, not the policy
    assert np.all(np.abs(action) <= 1.0) and np.ptp(action) > 0.5


def test_default_learning_start_follows_the_uniform_warmup():
    trainer, (c0, c1, _), _, rc = _run(warmup_steps=10)
    assert rc.loop.warmup == "uniform" and rc.loop.learning_starts == -1 and learning_start(rc.loop) == 11
    assert [_updates(c) for c in (c0, c1)] == [0, 10]  # steps storing 11..20
    assert [trainer.logged(i) for i in range(3)] == [False, True, True]
    # after the warm-up the policy acts: transitions 11.. are the (updated) actor's, not uniform
    obs, action = _stored(c0, slice(0, 10))
    assert np.all(np.abs(action - np.asarray(ddpg.mu(rc.algo_cfg, c0.agent.actor, jnp.asarray(obs)))) > 1e-4)


@pytest.mark.parametrize("overrides,needle", [
    ({"learning_starts": 3}, "--learning_starts=3 is out of range; must be >= --batch_size=4"),
    ({"warmup_steps": 2, "learning_starts": -1}, "--warmup_steps=2 is out of range"),
    ({"warmup": "random"}, "--warmup='random' is not valid; valid choices: uniform, policy"),
    ({"learning_starts": -2}, "--learning_starts=-2 is out of range; must be >= -1"),
    ({"learning_starts": 40}, "--total_steps=30 is out of range"),
])
def test_bad_warmup_values_raise_one_line(overrides, needle):
    with pytest.raises(ConfigError) as e:
        algos.run_config("ddpg", "modern", {**BASE, "warmup_steps": 10, **overrides})
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_paper_presets_use_the_papers_warmup():
    for algo, preset, start in [("dspg", "paper", 100), ("dspg", "authors", 100), ("sac", "paper", 1000),
                                ("sac", "v1", 1000), ("sql", "paper", 1000), ("sql", "appendix", 10_000),
                                ("sql", "multigoal", 100), ("ddpg", "lillicrap", 64),
                                ("ddpg", "paper", 64)]:
        loop = algos.run_config(algo, preset).loop
        assert (loop.warmup, loop.warmup_steps, loop.learning_starts) == ("policy", 0, start), (algo, preset)
    # the suite's own presets keep the uniform warm-up
    for algo in algos.ALGOS:
        loop = algos.run_config(algo, "quick").loop
        assert loop.warmup == "uniform" and loop.learning_starts == -1
