"""Soft Q-learning: hard target copies, the soft-value target, the SVGD score, the eq.-14 actor
gradient, acting, presets and one compiled training chunk."""

import dataclasses
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softrl_jax import algos, envs, ops
from softrl_jax.algos import sql
from softrl_jax.envs import Transition
from softrl_jax.loop import make_train

OBS, A, B = 3, 2, 8
CFG = sql.Config(hidden=(16, 16), batch_size=B, num_fixed_particles=4, num_updated_particles=3,
                 num_value_samples=5, target_update_period=3, alpha=0.5, reward_scale=2.0)


def _batch(key=jax.random.PRNGKey(7), terminated=None):
    k1, k2, k3, k4 = jax.random.split(key, 4)
    term = jnp.zeros(B) if terminated is None else terminated
    return Transition(jax.random.normal(k1, (B, OBS)), jax.random.uniform(k2, (B, A), minval=-1, maxval=1),
                      jax.random.normal(k3, (B,)), term, jax.random.normal(k4, (B, OBS)))


def _constant_critic(params, c):
    """Q params whose output is the constant c: last layer kernel 0, bias c."""
    params = jax.tree.map(lambda x: x, params)
    last = params["params"]["MLP_0"][f"Dense_{len(CFG.hidden)}"]
    last["kernel"] = jnp.zeros_like(last["kernel"])
    last["bias"] = jnp.full_like(last["bias"], c)
    return params


def _tree_equal(a, b):
    return all(bool(jnp.array_equal(x, y)) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def test_hard_target_copy_every_period():
    """period 3: the target stays at the initial critic for updates 1-2, equals the online critic right
    after update 3, stays frozen through 4-5, is copied again at 6."""
    state = sql.init(CFG, jax.random.PRNGKey(0), OBS, A)
    update = jax.jit(lambda s, k: sql.update(CFG, s, _batch(k), k))
    targets = [state.target_critic]
    for i in range(1, 8):
        prev_target = state.target_critic
        state, _ = update(state, jax.random.PRNGKey(i))
        assert int(state.step) == i
        if i % 3 == 0:
            assert _tree_equal(state.target_critic, state.critic), i
        else:
            assert _tree_equal(state.target_critic, prev_target), i
            assert not _tree_equal(state.target_critic, state.critic), i
        targets.append(state.target_critic)
    assert _tree_equal(targets[1], targets[0]) and not _tree_equal(targets[3], targets[0])
    assert not _tree_equal(targets[6], targets[3])


def test_critic_target_is_reward_plus_soft_value():
    """With a constant target critic Q' = c, eq. 10 is exact for any samples: V' = c + alpha A log 2, so
    y = reward_scale r + gamma (1 - terminated) (c + alpha A log 2)."""
    state = sql.init(CFG, jax.random.PRNGKey(0), OBS, A)
    c = 1.3
    target = _constant_critic(state.critic, c)
    term = jnp.array([0.0, 1.0] * (B // 2))
    batch = _batch(terminated=term)
    _, metrics = sql.critic_loss(CFG, state.critic, target, batch, jax.random.PRNGKey(1))
    y = CFG.reward_scale * batch.reward + CFG.gamma * (1 - term) * (c + CFG.alpha * A * math.log(2.0))
    np.testing.assert_allclose(metrics["target_mean"], np.mean(y), rtol=1e-5)
    q = sql.q_value(CFG, state.critic, batch.obs, batch.action[:, None, :])[:, 0]
    np.testing.assert_allclose(metrics["critic_loss"], np.mean((q - y) ** 2), rtol=1e-5)


def test_critic_loss_has_no_gradient_into_target():
    state = sql.init(CFG, jax.random.PRNGKey(0), OBS, A)
    g = jax.grad(lambda t: sql.critic_loss(CFG, state.critic, t, _batch(), jax.random.PRNGKey(1))[0])(
        state.target_critic)
    assert all(bool(jnp.all(x == 0)) for x in jax.tree.leaves(g))


def test_soft_value_uniform_matches_eq10_formula():
    """V = alpha (logsumexp(Q / alpha) - log M + A log 2) at the drawn uniform actions."""
    state = sql.init(CFG, jax.random.PRNGKey(0), OBS, A)
    obs = jax.random.normal(jax.random.PRNGKey(3), (B, OBS))
    key = jax.random.PRNGKey(4)
    v = sql.soft_value_uniform(CFG, state.critic, obs, A, key)
    actions = jax.random.uniform(key, (B, CFG.num_value_samples, A), minval=-1.0, maxval=1.0)
    q = np.asarray(sql.q_value(CFG, state.critic, obs, actions), np.float64)
    m = CFG.num_value_samples
    expected = CFG.alpha * (np.log(np.sum(np.exp(q / CFG.alpha), -1)) - math.log(m) + A * math.log(2.0))
    np.testing.assert_allclose(v, expected, rtol=1e-5)


def test_svgd_score_includes_squash_term():
    """Constant critic: grad_a log p = d/da sum log(1 - a^2 + eps) = -2a / (1 - a^2 + eps)."""
    state = sql.init(CFG, jax.random.PRNGKey(0), OBS, A)
    critic = _constant_critic(state.critic, -4.0)
    a = jnp.array([[[0.5, -0.2], [0.9, 0.0]]] * B)  # [B, 2, A]
    g = sql.svgd_target_grad(CFG, critic, jnp.zeros((B, OBS)), a)
    np.testing.assert_allclose(g, -2 * a / (1 - a**2 + CFG.squash_eps), rtol=1e-5)


def test_svgd_score_scales_q_by_one_over_alpha():
    """The Q part of the score is grad_a Q / alpha: halving alpha doubles it."""
    state = sql.init(CFG, jax.random.PRNGKey(0), OBS, A)
    obs = jax.random.normal(jax.random.PRNGKey(3), (B, OBS))
    a = jnp.tanh(jax.random.normal(jax.random.PRNGKey(4), (B, 4, A)))

    def no_barrier(c):
        return sql.svgd_target_grad(c, state.critic, obs, a) + 2 * a / (1 - a**2 + c.squash_eps)

    g1 = no_barrier(CFG)
    g2 = no_barrier(dataclasses.replace(CFG, alpha=CFG.alpha / 2))
    np.testing.assert_allclose(g2, 2 * g1, rtol=1e-4, atol=1e-5)
    grad_q = jax.grad(lambda x: jnp.sum(sql.q_value(CFG, state.critic, obs, x)))(a)
    np.testing.assert_allclose(g1, grad_q / CFG.alpha, rtol=1e-4, atol=1e-5)


def test_actor_gradient_is_phi_pushed_through_the_sampler():
    """Eq. 14: d loss / d theta = -1/B sum_b sum_l phi_bl^T d a_bl / d theta over the UPDATED particles
    only; the fixed particles (and phi) carry no gradient."""
    state = sql.init(CFG, jax.random.PRNGKey(0), OBS, A)
    obs = jax.random.normal(jax.random.PRNGKey(3), (B, OBS))
    key = jax.random.PRNGKey(5)
    grads = jax.grad(lambda p: sql.actor_loss(CFG, p, state.critic, obs, key)[0])(state.actor)

    kf, ku = CFG.num_fixed_particles, CFG.num_updated_particles
    xi = jax.random.normal(key, (B, kf + ku, A))  # the draw actor_loss makes from `key`
    actions = sql.sample_actions(CFG, state.actor, obs, xi)
    fixed, updated = actions[:, :kf], actions[:, kf:]
    g = sql.svgd_target_grad(CFG, state.critic, obs, fixed)
    phi = jnp.stack([ops.svgd_direction(fixed[b], g[b], updated[b]) for b in range(B)])
    _, vjp = jax.vjp(lambda p: sql.sample_actions(CFG, p, obs, xi[:, kf:]), state.actor)
    (expected,) = vjp(-phi / B)
    for x, y in zip(jax.tree.leaves(grads), jax.tree.leaves(expected)):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-6)


def test_act_eval_is_sampler_at_zero_noise_and_act_is_stochastic():
    state = sql.init(CFG, jax.random.PRNGKey(0), OBS, A)
    obs = jnp.array([0.1, -0.3, 0.7])
    a_eval = sql.act_eval(CFG, state, obs)
    u = sql.sampler_net(CFG, A).apply(state.actor, jnp.concatenate([obs, jnp.zeros(A)])[None])[0]
    np.testing.assert_allclose(a_eval, np.tanh(u), rtol=1e-6)
    noise = jnp.zeros(A)
    acts = [sql.act(CFG, state, obs, noise, jax.random.PRNGKey(i)) for i in range(4)]
    for a, z in acts:
        assert a.shape == (A,) and np.all(np.abs(a) <= 1.0)
        np.testing.assert_array_equal(z, 0.0)  # ou_sigma = 0 (authors' code): no OU noise
    assert not np.allclose(acts[0][0], acts[1][0])


def test_ou_noise_when_enabled():
    cfg = dataclasses.replace(CFG, ou_sigma=0.3)
    state = sql.init(cfg, jax.random.PRNGKey(0), OBS, A)
    obs = jnp.zeros(OBS)
    key = jax.random.PRNGKey(1)
    a, z = sql.act(cfg, state, obs, jnp.zeros(A), key)
    a0, _ = sql.act(CFG, state, obs, jnp.zeros(A), key)
    assert np.any(z != 0.0)
    np.testing.assert_allclose(a, np.clip(a0 + z, -1, 1), rtol=1e-6)


class TestUpdate(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_metrics_and_state_shapes(self):
        state = sql.init(CFG, jax.random.PRNGKey(0), OBS, A)
        new_state, metrics = self.variant(lambda s, b, k: sql.update(CFG, s, b, k))(
            state, _batch(), jax.random.PRNGKey(1))
        assert set(metrics) == {"critic_loss", "actor_loss", "alpha", "entropy", "actor_grad_norm",
                                "q_mean", "target_mean"}
        assert all(np.isfinite(float(v)) for v in metrics.values())
        chex.assert_trees_all_equal_shapes_and_dtypes(new_state, state)


def test_entropy_estimate_of_known_sampler():
    """u ~ N(0, s^2 I) with s small: tanh is nearly the identity, H(a) ~= A/2 log(2 pi e s^2)."""
    s = 0.05
    u = s * jnp.asarray(np.random.default_rng(0).standard_normal((2000, A)), jnp.float32)
    np.testing.assert_allclose(sql.entropy_estimate(u), 0.5 * A * math.log(2 * math.pi * math.e * s**2), atol=0.1)


@pytest.mark.parametrize("preset", list(algos.presets("sql").values))
def test_presets_build(preset):
    rc = algos.run_config("sql", preset, {"env": "multigoal" if preset == "multigoal" else "gymnax:Pendulum-v1"})
    assert rc.algo_cfg.num_fixed_particles >= 2


def test_task_default_reward_scale():
    assert algos.run_config("sql", "paper", {"env": "multigoal"}).algo_cfg.reward_scale == 0.1
    assert algos.run_config("sql", "paper", {"env": "brax:ant"}).algo_cfg.reward_scale == 300.0


def test_one_chunk_in_the_fused_loop():
    rc = algos.run_config("sql", "quick", {"env": "multigoal", "total_steps": 200, "warmup_steps": 50,
                                           "eval_every": 50, "batch_size": 32, "hidden": (16, 16),
                                           "eval_episodes": 2})
    trainer = make_train(sql, envs.make("multigoal"), rc)
    # traced hyperparameters, as a vmapped sweep passes them (sweeps/sql.yaml)
    hparams = {"reward_scale": jnp.float32(0.1), "actor_lr": jnp.float32(3e-4), "critic_lr": jnp.float32(3e-4),
               "target_update_period": jnp.int32(20)}
    carry = jax.jit(trainer.init)(jax.random.PRNGKey(0), hparams)
    chunk = jax.jit(trainer.chunk)
    carry, _ = chunk(carry, hparams)  # warm-up
    assert int(carry.agent.step) == 0
    carry, metrics = chunk(carry, hparams)
    assert int(carry.agent.step) == 50
    assert np.isfinite(float(metrics["eval_return"])) and np.isfinite(float(metrics["critic_loss"]))


def test_entropy_metric_skips_collapsed_states():
    """A state whose particles coincide has a -inf estimate; the metric averages the finite ones."""
    u = jnp.stack([0.3 * jnp.asarray(np.random.default_rng(1).standard_normal((16, A)), jnp.float32),
                   jnp.zeros((16, A))])
    est = jax.vmap(sql.entropy_estimate)(u)
    assert np.isfinite(est[0]) and est[1] == -np.inf
    np.testing.assert_allclose(sql.mean_finite(est), est[0])


def test_appendix_preset_has_k_equals_m_equals_32_particles():
    """Paper Appendix D.1: K = M = 32 (Appendix C.1: M particles for the kernel expectation, K moved),
    so 32 fixed + 32 updated, and the median bandwidth divides by log 32 rather than log 16."""
    cfg = algos.run_config("sql", "appendix").algo_cfg
    assert (cfg.num_fixed_particles, cfg.num_updated_particles, cfg.num_value_samples) == (32, 32, 50)
    x = jax.random.normal(jax.random.PRNGKey(0), (cfg.num_fixed_particles, 3))
    d = jnp.sum((x[:, None] - x[None]) ** 2, -1)
    k, _ = ops.rbf_kernel(x, x)
    h = float(ops.median_bandwidth(d, 32))
    np.testing.assert_allclose(h, float(jnp.median(d)) / np.log(32), rtol=1e-5)
    np.testing.assert_allclose(k, jnp.exp(-d / h), rtol=1e-5)
