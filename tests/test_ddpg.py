"""DDPG update: target actor without noise, stop-gradients, deterministic policy gradient, weight decay,
exploration noise (Gaussian and Ornstein-Uhlenbeck), Polyak targets, metric keys."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from softrl_jax import algos
from softrl_jax.algos import ddpg
from softrl_jax.networks import DeterministicPolicyNet, QNetwork
from helpers import random_batch

OBS, ACT, B = 3, 2, 8
CFG = ddpg.Config(hidden=(16, 16), batch_size=B, reward_scale=2.0)
OU = ddpg.Config(hidden=(16, 16), batch_size=B, noise="ou")
METRIC_KEYS = {"critic_loss", "actor_loss", "alpha", "entropy", "actor_grad_norm", "q_mean", "target_mean"}

# Eager JAX compiles every primitive on first use; jitting whole functions keeps this file fast.
init = jax.jit(ddpg.init, static_argnums=(0, 2, 3))
critic_loss = jax.jit(ddpg.critic_loss, static_argnums=0)
actor_loss = jax.jit(ddpg.actor_loss, static_argnums=0)
update = jax.jit(ddpg.update, static_argnums=0)


def _batch(key, terminated=0.0):
    return random_batch(key, B, OBS, ACT, terminated)


@functools.lru_cache(maxsize=None)
def _state(cfg=CFG):
    s = init(cfg, jax.random.PRNGKey(0), OBS, ACT)
    # targets re-initialised from other keys: online and target networks clearly differ
    t = init(cfg, jax.random.PRNGKey(1), OBS, ACT)
    return s._replace(target_actor=t.actor, target_critic=t.critic)


def test_presets():
    lil = algos.run_config("ddpg", "lillicrap").algo_cfg
    assert (lil.actor_lr, lil.critic_lr, lil.critic_weight_decay, lil.tau, lil.batch_size, lil.hidden,
            lil.noise) == (1e-4, 1e-3, 1e-2, 0.001, 64, (400, 300), "ou")
    assert algos.run_config("ddpg", "paper").algo_cfg == lil
    modern = algos.run_config("ddpg", "modern").algo_cfg
    assert modern == ddpg.Config()
    assert (modern.hidden, modern.actor_lr, modern.tau, modern.batch_size, modern.noise,
            modern.noise_sigma) == ((256, 256), 3e-4, 0.005, 256, "gaussian", 0.1)


def test_bad_fields_raise_config_error():
    from softrl_jax.config import ConfigError
    for bad in ({"noise": "foo"}, {"tau": 2}, {"ou_dt": 0.0}, {"critic_weight_decay": -1.0}):
        with pytest.raises(ConfigError):
            algos.run_config("ddpg", "modern", bad)


def test_target_uses_target_actor_and_target_critic_without_noise():
    """y = r_s + gamma Q'(s', mu'(s')) recomputed by hand; the online actor or critic gives another value."""
    s, batch = _state(), _batch(jax.random.PRNGKey(2))
    _, m = critic_loss(CFG, s.critic, s.target_actor, s.target_critic, batch)

    @jax.jit
    def by_hand(actor, critic):
        a_next = DeterministicPolicyNet(CFG.hidden, ACT).apply(actor, batch.next_obs)
        q_next = QNetwork(CFG.hidden).apply(critic, batch.next_obs, a_next)
        return CFG.reward_scale * batch.reward + CFG.gamma * q_next

    y = by_hand(s.target_actor, s.target_critic)
    np.testing.assert_allclose(m["target_mean"], np.mean(y), rtol=1e-5)
    per_transition = jax.jit(jax.vmap(lambda t: ddpg.target(CFG, s.target_actor, s.target_critic, t)))(batch)
    np.testing.assert_allclose(per_transition, y, rtol=1e-5, atol=1e-6)
    assert np.abs(np.asarray(by_hand(s.actor, s.target_critic)) - np.asarray(y)).max() > 1e-3
    assert np.abs(np.asarray(by_hand(s.target_actor, s.critic)) - np.asarray(y)).max() > 1e-3


def test_terminal_target_is_scaled_reward():
    s, batch = _state(), _batch(jax.random.PRNGKey(2), terminated=1.0)
    _, m = critic_loss(CFG, s.critic, s.target_actor, s.target_critic, batch)
    np.testing.assert_allclose(m["target_mean"], CFG.reward_scale * np.mean(batch.reward), rtol=1e-5)


def test_critic_loss_has_zero_gradient_wrt_targets():
    s, batch = _state(), _batch(jax.random.PRNGKey(2))
    f = lambda c, ta, tc: critic_loss(CFG, c, ta, tc, batch)[0]  # noqa: E731
    g_c, g_ta, g_tc = jax.jit(jax.grad(f, argnums=(0, 1, 2)))(s.critic, s.target_actor, s.target_critic)
    assert float(optax.global_norm((g_ta, g_tc))) == 0.0
    assert float(optax.global_norm(g_c)) > 0.0


def test_actor_gradient_is_deterministic_policy_gradient():
    """grad_theta mean_s -Q(s, mu(s)) = -1/B sum_s grad_a Q(s, a)|_{mu(s)} d mu(s) / d theta (chain rule
    assembled by hand from a critic action-gradient and an actor vector-Jacobian product)."""
    s, obs = _state(), _batch(jax.random.PRNGKey(2)).obs

    @jax.jit
    def by_hand(actor):
        mu, vjp = jax.vjp(lambda p: DeterministicPolicyNet(CFG.hidden, ACT).apply(p, obs), actor)
        dq_da = jax.grad(lambda a: jnp.sum(QNetwork(CFG.hidden).apply(s.critic, obs, a)))(mu)  # [B, A]
        return vjp(-dq_da / B)[0]

    got = jax.jit(jax.grad(lambda p: actor_loss(CFG, p, s.critic, obs)[0]))(s.actor)
    chex.assert_trees_all_close(got, by_hand(s.actor), rtol=1e-5, atol=1e-7)


def test_critic_step_uses_the_critic_loss_only():
    """The actor loss depends on the critic too; the update must apply only the critic loss to it."""
    s, batch = _state(), _batch(jax.random.PRNGKey(2))
    new, _ = update(CFG, s, batch, jax.random.PRNGKey(0))

    @jax.jit
    def critic_step(critic):
        g = jax.grad(lambda c: ddpg.critic_loss(CFG, c, s.target_actor, s.target_critic, batch)[0])(critic)
        upd, _ = ddpg.critic_optimizer(CFG).update(g, s.critic_opt, critic)
        return optax.apply_updates(critic, upd)

    chex.assert_trees_all_close(new.critic, critic_step(s.critic), rtol=1e-6, atol=1e-7)


def test_update_ignores_key_and_polyak_targets():
    s, batch = _state(), _batch(jax.random.PRNGKey(2))
    a, m = update(CFG, s, batch, jax.random.PRNGKey(0))
    b, _ = update(CFG, s, batch, jax.random.PRNGKey(99))
    chex.assert_trees_all_equal(a, b)
    for online, old, new in ((a.actor, s.target_actor, a.target_actor), (a.critic, s.target_critic, a.target_critic)):
        expected = jax.tree.map(lambda o, t: CFG.tau * o + (1 - CFG.tau) * t, online, old)
        chex.assert_trees_all_close(new, expected, rtol=1e-5, atol=1e-6)
    assert set(m) == METRIC_KEYS
    assert float(m["alpha"]) == 0.0 and float(m["entropy"]) == 0.0
    assert all(np.isfinite(float(v)) for v in m.values())


def test_critic_weight_decay_is_l2_on_kernels_only():
    """With a zero loss gradient, Adam's first step on `wd * W` moves each kernel entry by about
    -lr*sign(W) and leaves biases alone; wd = 0 leaves everything in place."""
    params = _state().critic
    zeros = jax.tree.map(jnp.zeros_like, params)
    for wd in (1e-2, 0.0):
        opt = ddpg.critic_optimizer(ddpg.Config(critic_weight_decay=wd, critic_lr=1e-3))
        upd, _ = jax.jit(opt.update)(zeros, opt.init(params), params)
        for path, u in jax.tree_util.tree_leaves_with_path(upd):
            p = params
            for k in path:
                p = p[k.key]
            if wd > 0 and u.ndim == 2:
                g = wd * np.asarray(p)  # gradient of wd/2 ||W||^2; Adam's first step is -lr g / (|g| + eps)
                np.testing.assert_allclose(u, -1e-3 * g / (np.abs(g) + 1e-8), rtol=1e-4, atol=1e-9)
            else:
                assert float(jnp.abs(u).max()) == 0.0, jax.tree_util.keystr(path)


# ---------------------------------------------------------------------------------------- acting


def _act_many(cfg, noise, n=4096):
    s, obs = _state(cfg), jnp.ones((OBS,))
    f = jax.jit(jax.vmap(lambda k: ddpg.act(cfg, s, obs, noise, k)))
    actions, new_noise = f(jax.random.split(jax.random.PRNGKey(5), n))
    mu = jax.jit(lambda o: ddpg.act_eval(cfg, s, o))(obs)
    return np.asarray(actions), np.asarray(new_noise), np.asarray(mu)


def test_gaussian_noise_statistics_and_clipping():
    actions, noise, mu = _act_many(CFG, jnp.zeros((ACT,)))
    np.testing.assert_allclose(noise.std(axis=0), CFG.noise_sigma, rtol=0.05)
    np.testing.assert_allclose(noise.mean(axis=0), 0.0, atol=0.01)
    np.testing.assert_allclose(actions, np.clip(mu + noise, -1.0, 1.0), rtol=1e-6, atol=1e-7)
    big = ddpg.Config(hidden=(16, 16), batch_size=B, noise_sigma=10.0)
    actions, _, _ = _act_many(big, jnp.zeros((ACT,)))
    assert np.abs(actions).max() <= 1.0 and np.mean(np.abs(actions) == 1.0) > 0.5


def test_ou_act_carries_the_noise_state():
    """From noise x: new noise ~ N((1 - theta dt) x, sigma^2 dt), and the action is clip(mu + new noise)."""
    x = jnp.array([1.0, -0.5])
    actions, noise, mu = _act_many(OU, x)
    np.testing.assert_allclose(noise.mean(axis=0), (1 - OU.ou_theta * OU.ou_dt) * np.asarray(x), atol=0.015)
    np.testing.assert_allclose(noise.std(axis=0), OU.ou_sigma * np.sqrt(OU.ou_dt), rtol=0.05)
    np.testing.assert_allclose(actions, np.clip(mu + noise, -1.0, 1.0), rtol=1e-6, atol=1e-7)


def test_ou_noise_through_act_is_mean_reverting():
    """Chained through `act` (as the loop carries it): stationary std sigma sqrt(dt / (1 - (1 - theta dt)^2))
    (= 0.380; continuous-time sigma / sqrt(2 theta) = 0.365), mean 0."""
    s, obs = _state(OU), jnp.ones((OBS,))

    @jax.jit
    def run(key):
        def body(z, k):
            _, z = jax.vmap(lambda zz, kk: ddpg.act(OU, s, obs, zz, kk))(z, jax.random.split(k, 64))
            return z, z
        return jax.lax.scan(body, jnp.full((64, ACT), 3.0), jax.random.split(key, 3000))[1]

    zs = np.asarray(run(jax.random.PRNGKey(0)))[200:]
    exact = OU.ou_sigma * np.sqrt(OU.ou_dt / (1 - (1 - OU.ou_theta * OU.ou_dt) ** 2))
    assert abs(zs.mean()) < 0.02
    np.testing.assert_allclose(zs.std(), exact, rtol=0.03)
    np.testing.assert_allclose(zs.std(), OU.ou_sigma / np.sqrt(2 * OU.ou_theta), rtol=0.07)


def test_act_eval_is_noise_free_mu():
    s, obs = _state(OU), jnp.ones((OBS,))
    np.testing.assert_allclose(jax.jit(lambda o: ddpg.act_eval(OU, s, o))(obs),
                               DeterministicPolicyNet(OU.hidden, ACT).apply(s.actor, obs), rtol=1e-6)
