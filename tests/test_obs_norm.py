"""Observation normalisation: running statistics equal numpy's; the loop normalises acting, targets and
evaluation alike (an affine change of the observations leaves a normalised run unchanged)."""

import chex
import jax
import numpy as np
import pytest

from softrl_jax import algos, envs, normalize, replay
from softrl_jax.loop import make_train

TINY = {"env": "gymnax:Pendulum-v1", "hidden": (16, 16), "num_samples": 4, "batch_size": 16,
        "warmup_steps": 32, "eval_every": 32, "total_steps": 96, "eval_episodes": 2,
        "episode_length": 40, "buffer_size": 500, "num_envs": 2, "updates_per_step": 2, "obs_norm": True}


def test_running_stats_equal_numpy():
    rng = np.random.default_rng(0)
    # batches of different sizes, far from zero mean and unit variance, one constant dimension
    batches = [rng.normal([100.0, -3.0, 0.0, 7.0], [5.0, 0.01, 1.0, 0.0], size=(n, 4)).astype(np.float32)
               for n in (1, 7, 64, 3, 256)]
    stats = normalize.init(4)
    np.testing.assert_array_equal(stats.mean, 0.0)
    np.testing.assert_array_equal(stats.var, 1.0)
    update = jax.jit(normalize.update)
    for i, b in enumerate(batches):
        stats = update(stats, b)
        seen = np.concatenate(batches[: i + 1]).astype(np.float64)
        assert float(stats.count) == len(seen)
        np.testing.assert_allclose(stats.mean, seen.mean(axis=0), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(stats.var, seen.var(axis=0), rtol=1e-3, atol=1e-6)
    x = batches[2]
    want = np.clip((x - stats.mean) / np.sqrt(np.asarray(stats.var) + normalize.EPS), -normalize.CLIP, normalize.CLIP)
    np.testing.assert_allclose(normalize.apply(stats, x), want, rtol=1e-6)
    assert np.all(np.asarray(normalize.apply(stats, x))[:, 3] == 0.0)  # a constant dimension maps to 0


def _trainer(env, **kw):
    rc = algos.run_config("dspg", "quick", {**TINY, **kw})
    return make_train(algos.get("dspg"), env, rc)


def _affine(env: envs.Env, scale: float, shift: float) -> envs.Env:
    """The same task with observations scale * obs + shift."""
    def reset(key):
        core, obs = env.reset(key)
        return core, scale * obs + shift

    def step(core, action, key):
        core, obs, reward, terminated = env.step(core, action, key)
        return core, scale * obs + shift, reward, terminated

    return envs.Env(env.spec, reset, step)


def test_loop_statistics_are_the_observations_acted_on():
    """After three chunks (48 steps per environment, an episode end at 40) the carry's statistics are numpy's over exactly the observations the agent
    acted on: the replay rows that start a transition (the final observations are not acted on)."""
    trainer = _trainer(envs.make("gymnax:Pendulum-v1", 40))
    carry = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    chunk = jax.jit(trainer.chunk)
    for _ in range(3):
        carry, _ = chunk(carry)
    kind = np.asarray(carry.buffer.kind)
    acted = np.asarray(carry.buffer.obs)[(kind == replay.STEP) | (kind == replay.TERMINATED)].astype(np.float64)
    assert len(acted) == 96 and float(carry.obs_stats.count) == 96
    assert (kind == replay.FINAL).sum() == 2  # one episode end per environment at step 40, left out
    np.testing.assert_allclose(carry.obs_stats.mean, acted.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(carry.obs_stats.var, acted.var(axis=0), rtol=1e-4, atol=1e-6)


# the normalisation lives in the loop, not the algorithm: DSPG in make test, SAC in make test-slow
@pytest.mark.parametrize("algo", ["dspg", pytest.param("sac", marks=pytest.mark.slow)])
def test_normalised_run_is_invariant_to_affine_observations(algo):
    """With --obs_norm the networks see (obs - mean) / std, so scaling and shifting every observation
    changes nothing: the same losses, agent and evaluation returns. If acting, the Bellman targets'
    next observations or evaluation used raw observations, the runs would differ completely."""
    base = envs.make("gymnax:Pendulum-v1", 40)
    runs = []
    for env in (base, _affine(base, 50.0, 20.0)):
        rc = algos.run_config(algo, "quick", TINY if algo == "dspg" else {k: v for k, v in TINY.items()
                                                                         if k != "num_samples"})
        trainer = make_train(algos.get(algo), env, rc)
        runs.append(jax.jit(trainer.train)(jax.random.PRNGKey(3)))
    (c0, m0), (c1, m1) = runs
    assert np.isfinite(m0["eval_return"][1:]).all()
    for k in ("critic_loss", "actor_loss", "eval_return", "train_return"):
        np.testing.assert_allclose(m0[k], m1[k], rtol=2e-3, atol=1e-3, err_msg=k)
    np.testing.assert_allclose(c1.obs_stats.mean, 50.0 * np.asarray(c0.obs_stats.mean) + 20.0, rtol=1e-4)
    chex.assert_trees_all_close(c0.agent, c1.agent, rtol=1e-2, atol=1e-3)


def test_without_obs_norm_raw_observations_reach_the_networks():
    """The control for the test above: without normalisation the affine change does change the run."""
    base = envs.make("gymnax:Pendulum-v1", 40)
    outs = [jax.jit(_trainer(env, obs_norm=False).train)(jax.random.PRNGKey(3))[1]
            for env in (base, _affine(base, 50.0, 20.0))]
    assert not np.allclose(outs[0]["critic_loss"], outs[1]["critic_loss"], rtol=1e-2)
