"""DSPG update: stop-gradients, terminal targets, clipping, Polyak targets, jit == no-jit."""

import chex
import dataclasses
import jax
import jax.numpy as jnp
import numpy as np
import optax

from softrl_jax import algos
from softrl_jax.algos import dspg
from helpers import random_batch

OBS, ACT, B = 3, 2, 8
CFG = dspg.Config(hidden=(16, 16), num_samples=5, batch_size=B, alpha=0.2, reward_scale=2.0)


def _batch(key, terminated=0.0):
    return random_batch(key, B, OBS, ACT, terminated)


def _state(cfg=CFG, key=jax.random.PRNGKey(0)):
    s = dspg.init(cfg, key, OBS, ACT)
    # make targets differ from online nets so that mixing them up would show
    noisy = lambda p, k: jax.tree.map(lambda x: x + 0.1 * jax.random.normal(k, x.shape), p)  # noqa: E731
    return s._replace(target_actor=noisy(s.actor, jax.random.PRNGKey(7)),
                      target_critic=noisy(s.critic, jax.random.PRNGKey(8)))


def test_critic_loss_has_zero_gradient_wrt_targets():
    s, batch = _state(), _batch(jax.random.PRNGKey(1))
    f = lambda ta, tc: dspg.critic_loss(CFG, s.critic, ta, tc, batch, jax.random.PRNGKey(2))[0]  # noqa: E731
    g_ta, g_tc = jax.grad(f, argnums=(0, 1))(s.target_actor, s.target_critic)
    assert all(float(jnp.abs(x).max()) == 0.0 for x in jax.tree.leaves((g_ta, g_tc)))
    g_online = jax.grad(lambda c: dspg.critic_loss(CFG, c, s.target_actor, s.target_critic, batch,
                                                   jax.random.PRNGKey(2))[0])(s.critic)
    assert float(optax.global_norm(g_online)) > 0.0


def test_terminal_target_is_scaled_reward():
    s, batch = _state(), _batch(jax.random.PRNGKey(1), terminated=1.0)
    _, m = dspg.critic_loss(CFG, s.critic, s.target_actor, s.target_critic, batch, jax.random.PRNGKey(2))
    np.testing.assert_allclose(m["target_mean"], CFG.reward_scale * np.mean(batch.reward), rtol=1e-5)


def test_nonterminal_target_uses_target_networks():
    """Target = scaled r + gamma * mean_j(Q'(s', a'_j) - alpha log pi'(a'_j|s')), recomputed by hand."""
    s, batch = _state(), _batch(jax.random.PRNGKey(1))
    key = jax.random.PRNGKey(2)
    _, m = dspg.critic_loss(CFG, s.critic, s.target_actor, s.target_critic, batch, key)
    ys = []
    for i, k in enumerate(jax.random.split(key, B)):
        d = dspg.policy(CFG, s.target_actor, batch.next_obs[i])
        _, a, lp = d.sample_and_log_prob(k, CFG.num_samples)
        q = dspg.networks(CFG, ACT)[1].apply(s.target_critic, jnp.tile(batch.next_obs[i], (CFG.num_samples, 1)), a)
        ys.append(CFG.reward_scale * batch.reward[i] + CFG.gamma * jnp.mean(q - CFG.alpha * lp))
    np.testing.assert_allclose(m["target_mean"], np.mean(ys), rtol=1e-5)
    # with the ONLINE actor in place of the target actor the value differs
    _, m_wrong = dspg.critic_loss(CFG, s.critic, s.actor, s.target_critic, batch, key)
    assert abs(float(m_wrong["target_mean"]) - float(m["target_mean"])) > 1e-4


def test_actor_loss_does_not_train_the_critic():
    s, batch = _state(), _batch(jax.random.PRNGKey(1))
    g = jax.grad(lambda c: dspg.actor_loss(CFG, s.actor, c, batch.obs, jax.random.PRNGKey(3))[0])(s.critic)
    assert float(optax.global_norm(g)) == 0.0


def test_summed_reduction_is_mean_times_bm():
    s, batch = _state(), _batch(jax.random.PRNGKey(1))
    k = jax.random.PRNGKey(3)
    mean_loss, _ = dspg.actor_loss(CFG, s.actor, s.critic, batch.obs, k)
    sum_cfg = dataclasses.replace(CFG, grad_reduction="sum")
    sum_loss, _ = dspg.actor_loss(sum_cfg, s.actor, s.critic, batch.obs, k)
    np.testing.assert_allclose(sum_loss, mean_loss * B * CFG.num_samples, rtol=1e-5)


def test_update_clips_actor_gradient_and_reports_raw_norm():
    cfg = dataclasses.replace(CFG, clip_norm=1e-3)
    s, batch, key = _state(cfg), _batch(jax.random.PRNGKey(1)), jax.random.PRNGKey(4)
    new, m = dspg.update(cfg, s, batch, key)
    # recompute the raw actor gradient against the updated critic
    critic_key, actor_key = jax.random.split(key)
    g = jax.grad(lambda p: dspg.actor_loss(cfg, p, new.critic, batch.obs, actor_key)[0])(s.actor)
    raw = float(optax.global_norm(g))
    np.testing.assert_allclose(m["actor_grad_norm"], raw, rtol=1e-4)
    assert raw > cfg.clip_norm  # so the clip is active
    mu = new.actor_opt[1][0].mu  # Adam first moment = (1 - b1) * clipped gradient
    np.testing.assert_allclose(float(optax.global_norm(mu)), 0.1 * cfg.clip_norm, rtol=1e-4)


def test_polyak_targets():
    s, batch = _state(), _batch(jax.random.PRNGKey(1))
    new, _ = dspg.update(CFG, s, batch, jax.random.PRNGKey(4))
    for online, old, tgt in ((new.actor, s.target_actor, new.target_actor),
                             (new.critic, s.target_critic, new.target_critic)):
        expect = jax.tree.map(lambda o, t: CFG.tau * o + (1 - CFG.tau) * t, online, old)
        chex.assert_trees_all_close(tgt, expect, rtol=1e-6, atol=1e-7)


class TestJit(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_update_jit_equals_nojit(self):
        s, batch = _state(), _batch(jax.random.PRNGKey(1))
        new, m = self.variant(lambda st, b, k: dspg.update(CFG, st, b, k))(s, batch, jax.random.PRNGKey(4))
        ref, m_ref = jax.jit(lambda st, b, k: dspg.update(CFG, st, b, k))(s, batch, jax.random.PRNGKey(4))
        chex.assert_trees_all_close(new, ref, rtol=1e-5, atol=1e-6)
        chex.assert_trees_all_close(m, m_ref, rtol=1e-5, atol=1e-6)


def test_presets_and_task_defaults():
    from softrl_jax import algos

    assert algos.run_config("dspg", "paper", {"env": "brax:hopper"}).algo_cfg.clip_norm == 1.0
    assert algos.run_config("dspg", "paper", {"env": "brax:ant:spring"}).algo_cfg.clip_norm == 5.0
    assert algos.run_config("dspg", "paper", {"env": "brax:halfcheetah"}).algo_cfg.clip_norm == 3.0
    assert algos.run_config("dspg", "paper", {"env": "brax:walker2d", "clip_norm": 2}).algo_cfg.clip_norm == 2.0
    a = algos.run_config("dspg", "authors", {"env": "brax:hopper"}).algo_cfg
    assert (a.num_samples, a.grad_reduction, a.policy, a.hidden) == (100, "sum", "tanh_gaussian", (800, 800))
    p = algos.run_config("dspg", "paper").algo_cfg
    assert (p.actor_lr, p.critic_lr, p.num_samples, p.batch_size, p.reward_scale, p.tau) == (5e-5, 5e-4, 64, 100, 5.0, 0.01)


def test_authors_preset_on_walker2d_keeps_the_authors_defaults():
    """Under `authors`, Walker2d gets the authors' code defaults (clip 3, replay 5e6), not the paper's
    per-task N = 5; other presets and tasks keep theirs, and a flag still wins."""
    rc = algos.run_config("dspg", "authors", {"env": "brax:walker2d"})
    assert rc.algo_cfg.clip_norm == 3.0 and rc.loop.buffer_size == 5_000_000
    assert algos.run_config("dspg", "paper", {"env": "brax:walker2d"}).algo_cfg.clip_norm == 5.0
    assert algos.run_config("dspg", "authors", {"env": "brax:hopper"}).algo_cfg.clip_norm == 1.0
    assert algos.run_config("dspg", "authors", {"env": "brax:walker2d", "clip_norm": 2.0}).algo_cfg.clip_norm == 2.0
