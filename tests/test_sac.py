"""SAC update: min of twin targets, SAC v1 V-network variant, stop-gradients, temperature, Polyak."""

import dataclasses
import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from softrl_jax import algos
from softrl_jax.algos import sac
from softrl_jax.networks import MLP, QNetwork
from helpers import random_batch

OBS, ACT, B = 3, 2, 8
CFG = sac.Config(hidden=(16, 16), batch_size=B, alpha=0.3, reward_scale=2.0, alpha_lr=1e-2)
V1 = dataclasses.replace(CFG, critic="v_net", num_critics=1, learn_alpha=False)
METRIC_KEYS = {"critic_loss", "actor_loss", "alpha", "entropy", "actor_grad_norm", "q_mean", "target_mean"}


def _batch(key, terminated=0.0):
    return random_batch(key, B, OBS, ACT, terminated)


# Eager JAX compiles every primitive on first use; jitting whole functions keeps this file fast.
init = jax.jit(sac.init, static_argnums=(0, 2, 3))
critic_loss = jax.jit(sac.critic_loss, static_argnums=0)
value_loss = jax.jit(sac.value_loss, static_argnums=0)
actor_loss = jax.jit(sac.actor_loss, static_argnums=0)
update = jax.jit(sac.update, static_argnums=0)


@functools.lru_cache(maxsize=None)
def _state(cfg=CFG, seed=0):
    s = init(cfg, jax.random.PRNGKey(seed), OBS, ACT)
    # targets re-initialised from another key: mixing up online and target critics would show
    other = init(cfg, jax.random.PRNGKey(seed + 100), OBS, ACT)
    return s._replace(target_critic=other.target_critic)


def _shift_member(q_params, k, delta):
    """Add `delta` to the output bias of ensemble member k (members are stacked on axis 0)."""
    def shift(path, x):
        last_bias = "Dense_2" in jax.tree_util.keystr(path) and "bias" in jax.tree_util.keystr(path)
        return x.at[k].add(delta) if last_bias else x
    return jax.tree_util.tree_map_with_path(shift, q_params)


def _member(q_params, k):
    return jax.tree.map(lambda x: x[k], q_params)


# ------------------------------------------------------------------------------------ structure


def test_twin_ensemble_shapes_and_independent_members():
    s = init(CFG, jax.random.PRNGKey(0), OBS, ACT)
    assert set(s.critic) == {"q"} and set(s.target_critic) == {"q"}
    assert all(x.shape[0] == 2 for x in jax.tree.leaves(s.critic["q"]))
    k0, k1 = jax.tree.leaves(_member(s.critic["q"], 0))[-1], jax.tree.leaves(_member(s.critic["q"], 1))[-1]
    assert not np.allclose(k0, k1)
    q = sac.q_values(CFG, s.critic["q"], jnp.zeros((5, OBS)), jnp.zeros((5, ACT)))
    assert q.shape == (2, 5)
    np.testing.assert_allclose(float(jnp.exp(s.log_alpha)), CFG.alpha, rtol=1e-6)


def test_v_net_structure():
    s = init(V1, jax.random.PRNGKey(0), OBS, ACT)
    assert set(s.critic) == {"q", "v"} and set(s.target_critic) == {"v"}
    assert all(x.shape[0] == 1 for x in jax.tree.leaves(s.critic["q"]))


def test_presets():
    paper = algos.run_config("sac", "paper").algo_cfg
    assert (paper.critic, paper.num_critics, paper.learn_alpha) == ("v_net", 1, False)
    modern = algos.run_config("sac", "modern").algo_cfg
    assert modern == sac.Config()
    assert (modern.critic, modern.num_critics, modern.learn_alpha, modern.tau, modern.batch_size,
            modern.hidden, modern.gamma, modern.target_entropy_per_dim) == ("twin", 2, True, 0.005, 256,
                                                                           (256, 256), 0.99, -1.0)


def test_bad_fields_raise_config_error():
    from softrl_jax.config import ConfigError
    for bad in ({"critic": "foo"}, {"tau": 2}, {"num_critics": 0}, {"alpha": 0.0}):
        with pytest.raises(ConfigError):
            algos.run_config("sac", "modern", bad)


# -------------------------------------------------------------------------------------- targets


@pytest.mark.parametrize("low_member", [0, 1])
def test_twin_target_is_min_of_target_critics(low_member):
    """y = r_s + gamma (min_k Q'_k(s', a') - alpha log pi(a'|s')) with a' ~ pi, by hand; the twins are
    made far apart so that a mean, a max or one fixed member would give another value."""
    s = _state()
    tq = _shift_member(s.target_critic["q"], 1 - low_member, 10.0)
    target_critic = {"q": tq}
    batch, key = _batch(jax.random.PRNGKey(1)), jax.random.PRNGKey(2)
    alpha = jnp.float32(CFG.alpha)

    @jax.jit
    @jax.vmap
    def by_hand(t):
        _, a, lp = sac.policy(CFG, s.actor, t.next_obs).sample_and_log_prob(key, 1)
        q = jnp.stack([QNetwork(CFG.hidden).apply(_member(tq, k), t.next_obs, a[0]) for k in range(2)])
        soft = CFG.reward_scale * t.reward + CFG.gamma * (q - CFG.alpha * lp[0])  # [2]: each member's target
        return soft[low_member], soft[1 - low_member], q

    y, y_other, q = by_hand(batch)
    assert np.all(q[:, 1 - low_member] > q[:, low_member])
    got = jax.jit(jax.vmap(lambda t: sac.twin_target(CFG, s.actor, target_critic, t, alpha, key)))(batch)
    np.testing.assert_allclose(got, y, rtol=1e-5, atol=1e-5)
    _, m = critic_loss(CFG, s.critic, s.actor, target_critic, batch, alpha, key)
    assert abs(float(m["target_mean"]) - np.mean(y_other)) > 1.0


def test_twin_terminal_target_is_scaled_reward():
    s, batch = _state(), _batch(jax.random.PRNGKey(1), terminated=1.0)
    _, m = critic_loss(CFG, s.critic, s.actor, s.target_critic, batch, jnp.float32(0.3), jax.random.PRNGKey(2))
    np.testing.assert_allclose(m["target_mean"], CFG.reward_scale * np.mean(batch.reward), rtol=1e-5)


def test_v_net_q_target_uses_target_v():
    """SAC v1: y = r_s + gamma V'(s'), by hand; the online V would give another value."""
    s = _state(V1)
    batch = _batch(jax.random.PRNGKey(1))
    _, m = critic_loss(V1, s.critic, s.actor, s.target_critic, batch, jnp.float32(V1.alpha), jax.random.PRNGKey(2))
    v_next = MLP(V1.hidden, 1).apply(s.target_critic["v"], batch.next_obs)[:, 0]
    y = V1.reward_scale * batch.reward + V1.gamma * v_next
    np.testing.assert_allclose(m["target_mean"], np.mean(y), rtol=1e-5)
    _, m_wrong = critic_loss(V1, s.critic, s.actor, {"v": s.critic["v"]}, batch, jnp.float32(V1.alpha),
                                 jax.random.PRNGKey(2))
    assert abs(float(m_wrong["target_mean"]) - float(m["target_mean"])) > 1e-4


def test_v_net_value_loss_by_hand():
    """SAC v1 eq. 5: mean (V(s) - (Q(s, a) - alpha log pi(a|s)))^2, a ~ pi(.|s) (K = 1)."""
    s = _state(V1)
    obs, key, alpha = _batch(jax.random.PRNGKey(1)).obs, jax.random.PRNGKey(4), jnp.float32(0.7)
    got = value_loss(V1, s.critic, s.actor, obs, alpha, key)

    @jax.jit
    @jax.vmap
    def by_hand(o, k):
        _, a, lp = sac.policy(V1, s.actor, o).sample_and_log_prob(k, 1)
        q = QNetwork(V1.hidden).apply(_member(s.critic["q"], 0), o, a[0])
        v = MLP(V1.hidden, 1).apply(s.critic["v"], o)[0]
        return (v - (q - alpha * lp[0])) ** 2

    np.testing.assert_allclose(got, np.mean(by_hand(obs, jax.random.split(key, B))), rtol=1e-5)
    # the V loss trains V only: the Q inside its target is held constant
    g = jax.jit(jax.grad(lambda c: value_loss(V1, c, s.actor, obs, alpha, key)))(s.critic)
    assert float(optax.global_norm(g["q"])) == 0.0 and float(optax.global_norm(g["v"])) > 0.0


# ------------------------------------------------------------------------------- stop-gradients


@pytest.mark.parametrize("cfg", [CFG, V1], ids=["twin", "v_net"])
def test_critic_loss_has_zero_gradient_wrt_targets_and_actor(cfg):
    s, batch = _state(cfg), _batch(jax.random.PRNGKey(1))
    key, alpha = jax.random.PRNGKey(2), jnp.float32(cfg.alpha)
    f = lambda c, a, t: critic_loss(cfg, c, a, t, batch, alpha, key)[0]  # noqa: E731
    g_c, g_a, g_t = jax.jit(jax.grad(f, argnums=(0, 1, 2)))(s.critic, s.actor, s.target_critic)
    assert float(optax.global_norm(g_t)) == 0.0
    assert float(optax.global_norm(g_a)) == 0.0
    assert float(optax.global_norm(g_c)) > 0.0


def test_actor_loss_by_hand_and_gradient_reaches_actor():
    """mean_s[alpha log pi(a|s) - min_k Q_k(s, a)], a reparameterised; the twins made far apart."""
    s = _state()
    critic = {"q": _shift_member(s.critic["q"], 1, 10.0)}
    obs, key, alpha = _batch(jax.random.PRNGKey(1)).obs, jax.random.PRNGKey(5), jnp.float32(0.3)
    loss, (m, log_pi) = actor_loss(CFG, s.actor, critic, obs, alpha, key)

    @jax.jit
    @jax.vmap
    def by_hand(o, k):
        _, a, lp = sac.policy(CFG, s.actor, o).sample_and_log_prob(k, 1)
        q = [QNetwork(CFG.hidden).apply(_member(critic["q"], j), o, a[0]) for j in range(2)]
        return alpha * lp[0] - jnp.minimum(q[0], q[1])

    np.testing.assert_allclose(loss, np.mean(by_hand(obs, jax.random.split(key, B))), rtol=1e-5)
    np.testing.assert_allclose(m["entropy"], -np.mean(log_pi), rtol=1e-6)
    g = jax.jit(jax.grad(lambda p: actor_loss(CFG, p, critic, obs, alpha, key)[0]))(s.actor)
    assert float(optax.global_norm(g)) > 0.0


# --------------------------------------------------------------------------------------- update


def test_temperature_step_follows_entropy_gap():
    """d loss / d log_alpha = -(mean log_pi + target) = entropy - target; Adam's first step moves
    log_alpha by -alpha_lr * sign(entropy - target)."""
    s, batch = _state(), _batch(jax.random.PRNGKey(1))
    new, m = update(CFG, s, batch, jax.random.PRNGKey(3))
    gap = float(m["entropy"]) - CFG.target_entropy_per_dim * ACT
    np.testing.assert_allclose(float(new.log_alpha - s.log_alpha), -CFG.alpha_lr * np.sign(gap), rtol=1e-3)
    np.testing.assert_allclose(m["alpha"], CFG.alpha, rtol=1e-6)  # the step used the old temperature


def test_fixed_temperature_stays():
    s, batch = _state(V1), _batch(jax.random.PRNGKey(1))
    new, m = update(V1, s, batch, jax.random.PRNGKey(3))
    assert float(new.log_alpha) == float(s.log_alpha)
    np.testing.assert_allclose(m["alpha"], V1.alpha, rtol=1e-6)


@pytest.mark.parametrize("cfg", [CFG, V1], ids=["twin", "v_net"])
def test_polyak_targets_and_metric_keys(cfg):
    s, batch = _state(cfg), _batch(jax.random.PRNGKey(1))
    new, m = update(cfg, s, batch, jax.random.PRNGKey(3))
    expected = jax.tree.map(lambda o, t: cfg.tau * o + (1 - cfg.tau) * t, sac.target_part(cfg, new.critic),
                            s.target_critic)
    chex.assert_trees_all_close(new.target_critic, expected, rtol=1e-5, atol=1e-6)
    assert set(m) == METRIC_KEYS
    assert all(np.isfinite(float(v)) for v in m.values())
    assert float(optax.global_norm(jax.tree.map(jnp.subtract, new.actor, s.actor))) > 0.0


def test_vmap_over_seeds_equals_loop_over_seeds():
    """The loop vmaps `update` over seeds: each seed's result must equal its own unbatched update."""
    states = [_state(CFG, seed) for seed in (0, 1)]
    batches = [_batch(jax.random.PRNGKey(seed + 10)) for seed in (0, 1)]
    keys = jax.random.split(jax.random.PRNGKey(3), 2)
    stack = lambda xs: jax.tree.map(lambda *x: jnp.stack(x), *xs)  # noqa: E731
    got = jax.jit(jax.vmap(lambda st, b, k: sac.update(CFG, st, b, k)))(stack(states), stack(batches), keys)
    ref = stack([update(CFG, st, b, k) for st, b, k in zip(states, batches, keys)])
    chex.assert_trees_all_close(got, ref, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------- acting


def test_act_samples_in_bounds_and_passes_noise_through():
    s = _state()
    obs, noise = jnp.ones((OBS,)), jnp.array([0.3, -0.2])
    act = jax.jit(jax.vmap(lambda k: sac.act(CFG, s, obs, noise, k)))
    actions, z = act(jax.random.split(jax.random.PRNGKey(0), 64))
    np.testing.assert_array_equal(z, np.broadcast_to(noise, z.shape))
    assert np.all(np.abs(actions) <= 1.0) and actions.std(axis=0).min() > 0.0
    loc, _ = jax.jit(sac.policy_net(CFG, ACT).apply)(s.actor, obs)
    np.testing.assert_allclose(jax.jit(lambda o: sac.act_eval(CFG, s, o))(obs), jnp.tanh(loc), rtol=1e-6)


def test_alpha_loss_option_scales_the_temperature_gradient_by_alpha():
    """--alpha_loss=alpha (CleanRL) has the log-alpha gradient of the default (softlearning) times alpha."""
    log_pi = jnp.array([-0.3, 1.2, -2.0])
    grads = {}
    for form in ("log_alpha", "alpha"):
        cfg = dataclasses.replace(sac.Config(), alpha_loss=form)
        grads[form] = jax.grad(lambda la: sac.temperature_loss(cfg, la, log_pi, 2))(jnp.log(0.25))
    np.testing.assert_allclose(grads["log_alpha"], -np.mean(np.asarray(log_pi) - 2.0), rtol=1e-6)
    np.testing.assert_allclose(grads["alpha"], 0.25 * grads["log_alpha"], rtol=1e-6)


def test_v1_policy_regularisation_gradient():
    """SAC v1's penalty reg * 0.5 * (mean mu^2 + mean log_std^2): the loss with policy_reg minus the
    loss without equals it (same key); the paper preset sets it, modern does not."""
    cfg0 = sac.Config(hidden=(8,))
    cfg1 = dataclasses.replace(cfg0, policy_reg=1e-3)
    state = sac.init(cfg0, jax.random.PRNGKey(0), 3, 2)
    obs = jax.random.normal(jax.random.PRNGKey(1), (5, 3))
    key = jax.random.PRNGKey(2)
    l0 = sac.actor_loss(cfg0, state.actor, state.critic, obs, 0.2, key)[0]
    l1 = sac.actor_loss(cfg1, state.actor, state.critic, obs, 0.2, key)[0]
    dist = sac.policy(cfg0, state.actor, obs)
    mu, log_std = np.asarray(dist.loc), np.log(np.asarray(dist.scale))
    np.testing.assert_allclose(l1 - l0, 1e-3 * 0.5 * (np.mean(mu**2) + np.mean(log_std**2)), rtol=1e-3)
    assert algos.run_config("sac", "paper").algo_cfg.policy_reg == 1e-3
    assert algos.run_config("sac", "modern").algo_cfg.policy_reg == 0.0
    for preset in ("paper", "modern"):  # SAC v1 and v2: 1 gradient step per env step, replay 1e6
        loop = algos.run_config("sac", preset).loop
        assert (loop.updates_per_step, loop.buffer_size) == (1, 1_000_000)


def test_plain_gaussian_policy_for_the_dspg_papers_baseline():
    """policy=gaussian with the sigmoid std: an unsquashed Gaussian whose log-density is the closed
    form, whose evaluation action is the raw mean (the environment clips), and whose actor loss uses
    no tanh correction. The `paper` preset (the DSPG paper's SAC baseline) selects it over `v1`."""
    paper, v1 = algos.run_config("sac", "paper").algo_cfg, algos.run_config("sac", "v1").algo_cfg
    assert (paper.policy, paper.std_head, v1.policy, v1.std_head) == ("gaussian", "sigmoid", "tanh_gaussian", "log_std")
    assert dataclasses.replace(paper, policy=v1.policy, std_head=v1.std_head) == v1
    cfg = sac.Config(hidden=(8,), policy="gaussian", std_head="sigmoid")
    state = sac.init(cfg, jax.random.PRNGKey(0), 3, 2)
    # push the mean far outside [-1, 1] so a hidden tanh would show
    actor = jax.tree.map(lambda x: x, state.actor)
    actor["params"]["Dense_1"]["bias"] = jnp.array([3.0, -2.0])
    obs = jnp.array([0.1, -0.2, 0.3])
    dist = sac.policy(cfg, actor, obs)
    assert not dist.squash
    loc, scale = np.asarray(dist.loc), np.asarray(dist.scale)
    np.testing.assert_allclose(np.asarray(sac.act_eval(cfg, state._replace(actor=actor), obs)), loc, rtol=1e-6)
    assert loc[0] > 1.5 and loc[1] < -1.0
    u, a, log_p = dist.sample_and_log_prob(jax.random.PRNGKey(1), 1)
    np.testing.assert_allclose(np.asarray(a), np.asarray(u))  # no squashing
    closed = np.sum(-0.5 * ((np.asarray(u[0]) - loc) / scale) ** 2 - np.log(scale) - 0.5 * np.log(2 * np.pi))
    np.testing.assert_allclose(float(log_p[0]), closed, rtol=1e-5)
    assert np.all(scale > 0) and np.all(scale < 1.0 + 1e-4)
    # one update runs and stays finite with the plain Gaussian
    batch = random_batch(jax.random.PRNGKey(2), 8, 3, 2)
    _, metrics = jax.jit(sac.update, static_argnums=0)(cfg, state, batch, jax.random.PRNGKey(3))
    assert all(np.isfinite(float(v)) for v in metrics.values())
