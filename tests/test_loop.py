"""The fused loop: vmap over seeds == one seed at a time, carry invariants, PRNG streams."""


import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softrl_jax import algos, envs, replay
from softrl_jax.loop import make_train
from softrl_jax.training import seed_keys

TINY = {"env": "gymnax:Pendulum-v1", "hidden": (16, 16), "num_samples": 4, "batch_size": 16,
        "warmup_steps": 32, "eval_every": 32, "total_steps": 96, "eval_episodes": 2,
        "episode_length": 40, "buffer_size": 500, "num_envs": 2, "updates_per_step": 2}


def _trainer(**kw):
    rc = algos.run_config("dspg", "quick", {**TINY, **kw})
    env = envs.make(rc.loop.env, rc.loop.episode_length or None)
    return make_train(algos.get("dspg"), env, rc)


@pytest.fixture(scope="module")
def trainer():
    return _trainer()


def test_vmap_over_seeds_equals_single_seed(trainer):
    keys = seed_keys(3, 3)
    carry_v, metrics_v = jax.jit(jax.vmap(trainer.train))(keys)
    for i in (0, 2):
        carry_i, metrics_i = jax.jit(trainer.train)(keys[i])
        chex.assert_trees_all_close(jax.tree.map(lambda x: x[i], metrics_v), metrics_i, rtol=1e-4, atol=1e-5)
        chex.assert_trees_all_close(jax.tree.map(lambda x: x[i], carry_v.agent.actor), carry_i.agent.actor,
                                    rtol=1e-4, atol=1e-5)
    # seeds are independent: different keys give different results
    assert not np.allclose(metrics_v["critic_loss"][0], metrics_v["critic_loss"][1])


def test_chunk_keeps_carry_shapes_and_dtypes(trainer):
    carry = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    warm, metrics = jax.jit(trainer.chunk)(carry)
    chex.assert_trees_all_equal_shapes_and_dtypes(carry, warm)
    # chunk 0 is all warm-up (warmup_steps = eval_every = 32): no update, no evaluation
    assert int(warm.steps) == 32 and int(warm.chunk) == 1 and int(metrics["step"]) == 32
    chex.assert_trees_all_equal(warm.agent, carry.agent)
    assert np.isnan(metrics["eval_return"]) and np.isnan(metrics["critic_loss"])
    new, metrics = jax.jit(trainer.chunk)(warm)
    chex.assert_trees_all_equal_shapes_and_dtypes(carry, new)
    assert int(new.steps) == 64 and int(new.chunk) == 2 and int(metrics["step"]) == 64
    assert np.isfinite(metrics["eval_return"]) and np.isfinite(metrics["critic_loss"])
    assert not np.allclose(new.agent.actor["params"]["Dense_0"]["kernel"], carry.agent.actor["params"]["Dense_0"]["kernel"])
    assert trainer.n_chunks == 3 and trainer.steps_at(2) == 96
    assert [trainer.logged(i) for i in range(3)] == [False, True, True]
    expected = {"critic_loss", "actor_loss", "alpha", "entropy", "actor_grad_norm", "q_mean",
                "target_mean", "train_return", "eval_return", "step"}
    assert expected <= set(metrics)


def test_vmap_with_unbatched_counters_equals_plain_vmap(trainer):
    """Trainer.vmap() keeps the counters unbatched (real branches); a plain vmap computes both
    branches and selects: the same numbers."""
    keys = seed_keys(0, 2)
    init, chunk = trainer.vmap()
    a = jax.jit(init)(keys, None)
    b = jax.jit(jax.vmap(trainer.init))(keys)
    assert a.steps.shape == () and b.steps.shape == (2,)
    for _ in range(2):
        a, ma = jax.jit(chunk)(a, None)
        b, mb = jax.jit(jax.vmap(trainer.chunk))(b)
    chex.assert_trees_all_close(ma, mb, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(a.agent, b.agent, rtol=1e-5, atol=1e-6)


def test_train_scans_all_chunks(trainer):
    _, metrics = jax.jit(trainer.train)(jax.random.PRNGKey(0))
    np.testing.assert_array_equal(metrics["step"], [32, 64, 96])


def test_evaluation_schedule_does_not_change_training():
    a, b = _trainer(eval_episodes=2), _trainer(eval_episodes=5)
    ca, _ = jax.jit(a.train)(jax.random.PRNGKey(1))
    cb, _ = jax.jit(b.train)(jax.random.PRNGKey(1))
    chex.assert_trees_all_close(ca.agent, cb.agent, rtol=1e-6)


def test_hparams_override_equals_static_config():
    """Traced overrides (the sweep hook) give the same run as the same values in the config."""
    static = _trainer(actor_lr=3e-3, clip_norm=0.5)
    base = _trainer()
    hp = {"actor_lr": jnp.float32(3e-3), "clip_norm": jnp.float32(0.5)}
    _, m_static = jax.jit(static.train)(jax.random.PRNGKey(2))
    _, m_traced = jax.jit(base.train)(jax.random.PRNGKey(2), hp)
    chex.assert_trees_all_close(m_static, m_traced, rtol=1e-4, atol=1e-5)


def test_replay_holds_transitions_and_reports_memory(trainer):
    carry = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    assert int(replay.size(carry.buffer)) == 0
    carry, _ = jax.jit(trainer.chunk)(carry)
    assert int(replay.size(carry.buffer)) == 32  # 16 warm-up steps x 2 envs (no episode ends yet)
    per_row = 3 * 4 + 1 * 4 + 4 + 1  # obs [3], action [1], reward (float32), kind (int8)
    assert replay.bytes_per_row(3, 1) == per_row
    assert 500 * per_row <= replay.nbytes(carry.buffer) <= 500 * per_row + 64
    batch = jax.jit(trainer.replay.sample)(carry.buffer, jax.random.PRNGKey(1))
    assert batch.obs.shape == (16, 3) and batch.action.shape == (16, 1) and batch.obs.dtype == jnp.float32
    # warm-up actions are uniform in [-1, 1]
    stored = np.asarray(carry.buffer.action[:, :16])
    assert stored.min() >= -1 and stored.max() <= 1 and stored.std() > 0.3


def test_split_programs_equal_the_fused_chunk(trainer):
    """The runner's four programs (init, resets, training chunk, evaluation) compute what the fused
    chunk computes: the same carry and metrics, evaluation included."""
    keys = seed_keys(1, 2)
    init, chunk = (jax.jit(f) for f in trainer.vmap())
    s_init, resets, train_chunk, evaluation = (jax.jit(f) for f in trainer.vmap_split())
    a, b = init(keys, None), s_init(keys, None)
    for c in range(3):
        a, ma = chunk(a, None)
        starts = resets(b)
        b, mb = train_chunk(b, None, starts)
        assert np.isnan(mb["eval_return"]).all()  # the training chunk leaves evaluation out
        if trainer.logged(c):
            mb["eval_return"] = evaluation(b, None, starts)
            assert np.isfinite(mb["eval_return"]).all()
        chex.assert_trees_all_close(ma, mb, rtol=1e-6, atol=1e-6)
        chex.assert_trees_all_close(a, b, rtol=1e-6, atol=1e-6)
