"""DDPG update: target actor without noise, stop-gradients, deterministic policy gradient, weight decay,
exploration noise (Gaussian and Ornstein-Uhlenbeck), Polyak targets, metric keys; the network options of
Lillicrap et al. 2015 (batch norm and its running averages, the action at the critic's second layer,
the uniform initialisations) and the default update against a copy of the code before them."""

import dataclasses
import functools

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from softrl_jax import algos, ops
from softrl_jax.algos import ddpg
from softrl_jax.config import ConfigError
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
    rc = algos.run_config("ddpg", "lillicrap")
    lil = rc.algo_cfg
    assert (lil.actor_lr, lil.critic_lr, lil.critic_weight_decay, lil.tau, lil.batch_size, lil.hidden,
            lil.noise, lil.ou_theta, lil.ou_sigma, lil.gamma) == (1e-4, 1e-3, 1e-2, 0.001, 64, (400, 300), "ou", 0.15,
                                                                 0.2, 0.99)
    assert (lil.batch_norm, lil.batch_norm_momentum, lil.critic_action_layer, lil.final_init,
            lil.fan_in_init) == (True, 0.99, 1, 3e-3, True)
    assert (rc.loop.updates_per_step, rc.loop.buffer_size) == (1, 1_000_000)
    paper = algos.run_config("ddpg", "paper")
    assert paper.algo_cfg == lil and paper.loop == rc.loop
    modern = algos.run_config("ddpg", "modern").algo_cfg
    assert modern == ddpg.Config()
    assert (modern.batch_norm, modern.critic_action_layer, modern.final_init, modern.fan_in_init) == (False, 0, 0.0,
                                                                                                      False)
    assert (modern.hidden, modern.actor_lr, modern.tau, modern.batch_size, modern.noise,
            modern.noise_sigma) == ((256, 256), 3e-4, 0.005, 256, "gaussian", 0.1)


def test_bad_fields_raise_config_error():
    for bad in ({"noise": "foo"}, {"tau": 2}, {"ou_dt": 0.0}, {"critic_weight_decay": -1.0},
                {"batch_norm_momentum": 1.5}, {"final_init": -1e-3}, {"critic_action_layer": -1}):
        with pytest.raises(ConfigError):
            algos.run_config("ddpg", "modern", bad)


@pytest.mark.parametrize("bad, words", [
    ({"critic_action_layer": 3}, ["--critic_action_layer=3", "must be <= 2", "--hidden=400,300"]),
    ({"batch_norm": True, "critic_layer_norm": True}, ["--batch_norm=true", "--critic_layer_norm=true"])])
def test_unsupported_combinations_raise_one_line_config_error(bad, words):
    with pytest.raises(ConfigError) as e:
        algos.run_config("ddpg", "lillicrap", bad)
    assert "\n" not in str(e.value) and all(w in str(e.value) for w in words), str(e.value)
    algos.run_config("ddpg", "lillicrap", {"critic_action_layer": 2})  # after the last hidden layer: valid


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


# ------------------------------------------------------------- Lillicrap et al. 2015 network options

H1, H2 = 16, 12
# The paper's options on small networks; momentum 0.9 makes one update's step in the running averages large.
LIL = ddpg.Config(hidden=(H1, H2), batch_size=B, batch_norm=True, batch_norm_momentum=0.9, critic_action_layer=1,
                  final_init=3e-3, fan_in_init=True)
EPS = 1e-5  # flax BatchNorm's epsilon


def _lil_batch(key, n=B):
    """Observations with means far from 0 and spreads far from 1, so that normalisation shows."""
    b = random_batch(key, n, OBS, ACT)
    shift, scale = jnp.array([3.0, -2.0, 0.5]), jnp.array([2.0, 0.5, 4.0])
    return b._replace(obs=shift + scale * b.obs, next_obs=shift + scale * b.next_obs)


def _paths(tree):
    return {jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_leaves_with_path(tree)}


def _np(tree):
    return jax.tree.map(lambda x: np.asarray(x, np.float64), tree)


def _bn(x, params, stats):
    """BatchNorm in inference mode by hand: (x - running mean) / sqrt(running var + eps) * scale + bias."""
    return (x - stats["mean"]) / np.sqrt(stats["var"] + EPS) * params["scale"] + params["bias"]


def _updated(cfg, n):
    """State after n updates on one shifted batch (running averages well away from their init), and the batch."""
    s, b = _state(cfg), _lil_batch(jax.random.PRNGKey(4))
    for i in range(n):
        s, _ = update(cfg, s, b, jax.random.PRNGKey(i))
    return s, b


def test_batch_norm_sits_on_the_state_input_and_the_layers_before_the_action():
    s = _state(LIL)
    actor, actor_stats = s.actor["params"]["MLP_0"], s.actor["batch_stats"]["MLP_0"]
    assert {k: v["mean"].shape for k, v in actor_stats.items()} == {"BatchNorm_0": (OBS,), "BatchNorm_1": (H1,),
                                                                     "BatchNorm_2": (H2,)}
    assert set(actor) == {"BatchNorm_0", "BatchNorm_1", "BatchNorm_2", "Dense_0", "Dense_1", "Dense_2"}
    # a Dense followed by BatchNorm has no bias (rllab's batch_norm drops it); the output layer keeps one
    assert set(actor["Dense_0"]) == set(actor["Dense_1"]) == {"kernel"} and set(actor["Dense_2"]) == {"kernel", "bias"}
    critic_stats = s.critic["batch_stats"]
    assert set(critic_stats) == {"state_layers"}
    assert {k: v["mean"].shape for k, v in critic_stats["state_layers"].items()} == {"BatchNorm_0": (OBS,),
                                                                                      "BatchNorm_1": (H1,)}
    assert set(s.critic["params"]["state_layers"]) == {"BatchNorm_0", "Dense_0", "BatchNorm_1"}
    assert not any("BatchNorm" in p for p in _paths(s.critic["params"]["MLP_0"]))  # after the action: none
    # the action at the input: batch norm on the state input only
    s0 = init(dataclasses.replace(LIL, critic_action_layer=0), jax.random.PRNGKey(0), OBS, ACT)
    assert _paths(s0.critic["batch_stats"]) == {"['state_layers']['BatchNorm_0']['mean']",
                                                "['state_layers']['BatchNorm_0']['var']"}
    # the optimisers see the params only
    assert _paths(s.actor_opt[0].mu) == _paths({"params": s.actor["params"]})


def test_training_mode_normalises_each_layer_over_the_batch():
    """In training mode each BatchNorm's output (scale 1, bias 0 at init) has, per unit, batch mean 0 and
    variance v / (v + eps) ~ 1, v the batch variance of its input."""
    s, b = _state(LIL), _lil_batch(jax.random.PRNGKey(3), 64)
    actor_net, q_net = ddpg.networks(LIL, ACT)
    mutable = ["batch_stats", "intermediates"]

    @jax.jit
    def intermediates(actor, critic):
        _, a = actor_net.apply(actor, b.obs, train=True, capture_intermediates=True, mutable=mutable)
        _, c = q_net.apply(critic, b.obs, b.action, train=True, capture_intermediates=True, mutable=mutable)
        return a["intermediates"], c["intermediates"]

    a, c = intermediates(s.actor, s.critic)
    outs = ([a["MLP_0"][f"BatchNorm_{i}"]["__call__"][0] for i in range(3)]
            + [c["state_layers"][f"BatchNorm_{i}"]["__call__"][0] for i in range(2)])
    assert [x.shape for x in outs] == [(64, OBS), (64, H1), (64, H2), (64, OBS), (64, H1)]
    for x in outs:
        np.testing.assert_allclose(np.mean(x, 0), 0.0, atol=1e-5)
        np.testing.assert_allclose(np.var(x, 0), 1.0, atol=2e-3)


def test_update_moves_the_running_averages_by_momentum_once():
    """After one update: mean m * 0 + (1 - m) * batch mean, variance m * 1 + (1 - m) * batch variance (biased),
    for the input and first hidden layer of the actor (set by the actor loss) and of the critic (set by the
    critic loss alone: the actor loss's pass through the critic is discarded, else the step would be 1 - m^2)."""
    s, b = _state(LIL), _lil_batch(jax.random.PRNGKey(4))
    new, _ = update(LIL, s, b, jax.random.PRNGKey(0))
    m, obs = LIL.batch_norm_momentum, np.asarray(b.obs, np.float64)

    def check(stats, x):
        np.testing.assert_allclose(stats["mean"], (1 - m) * x.mean(0), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(stats["var"], m + (1 - m) * x.var(0), rtol=1e-4, atol=1e-6)

    def hidden1(params):  # the first hidden layer's pre-activations in training mode, from the old parameters
        p = _np(params)
        x = (obs - obs.mean(0)) / np.sqrt(obs.var(0) + EPS) * p["BatchNorm_0"]["scale"] + p["BatchNorm_0"]["bias"]
        return x @ p["Dense_0"]["kernel"]

    check(new.actor["batch_stats"]["MLP_0"]["BatchNorm_0"], obs)
    check(new.actor["batch_stats"]["MLP_0"]["BatchNorm_1"], hidden1(s.actor["params"]["MLP_0"]))
    check(new.critic["batch_stats"]["state_layers"]["BatchNorm_0"], obs)
    check(new.critic["batch_stats"]["state_layers"]["BatchNorm_1"], hidden1(s.critic["params"]["state_layers"]))


def test_act_and_act_eval_use_the_running_averages():
    """An observation's action is the same alone or in a batch, equals the actor in inference mode by hand,
    and act's action is clip(act_eval + its noise)."""
    s, b = _updated(LIL, 3)
    assert np.abs(s.actor["batch_stats"]["MLP_0"]["BatchNorm_0"]["mean"]).max() > 0.5  # (1 - 0.9^3) * 3
    batched = jax.jit(lambda o: ddpg.act_eval(LIL, s, o))(b.obs)
    rows = jax.jit(jax.vmap(lambda o: ddpg.act_eval(LIL, s, o)))(b.obs)
    single = jax.jit(lambda o: ddpg.act_eval(LIL, s, o))(b.obs[0])
    np.testing.assert_allclose(rows, batched, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(single, batched[0], rtol=1e-5, atol=1e-6)
    p, st = _np(s.actor["params"]["MLP_0"]), _np(s.actor["batch_stats"]["MLP_0"])
    x = _bn(np.asarray(b.obs, np.float64), p["BatchNorm_0"], st["BatchNorm_0"])
    for i in (0, 1):
        x = np.maximum(_bn(x @ p[f"Dense_{i}"]["kernel"], p[f"BatchNorm_{i + 1}"], st[f"BatchNorm_{i + 1}"]), 0.0)
    np.testing.assert_allclose(batched, np.tanh(x @ p["Dense_2"]["kernel"] + p["Dense_2"]["bias"]), rtol=1e-4,
                               atol=1e-6)
    action, noise = jax.jit(lambda o, z, k: ddpg.act(LIL, s, o, z, k))(b.obs[0], jnp.zeros((ACT,)),
                                                                        jax.random.PRNGKey(9))
    np.testing.assert_allclose(action, np.clip(single + noise, -1.0, 1.0), rtol=1e-6, atol=1e-7)


def test_batch_norm_losses_train_online_networks_and_read_targets_by_running_averages():
    """Critic loss: Q(s, a) on minibatch statistics, y = r + gamma Q'(s', mu'(s')) on the targets' running
    averages; actor gradient: the deterministic policy gradient through mu and Q both in training mode."""
    s, b = _updated(LIL, 2)  # the running averages are far from any minibatch's statistics
    actor_net, q_net = ddpg.networks(LIL, ACT)
    train = dict(train=True, mutable=["batch_stats"])
    _, m = critic_loss(LIL, s.critic, s.target_actor, s.target_critic, b)
    y = b.reward + LIL.gamma * q_net.apply(s.target_critic, b.next_obs, actor_net.apply(s.target_actor, b.next_obs))
    q = q_net.apply(s.critic, b.obs, b.action, **train)[0]
    np.testing.assert_allclose(m["target_mean"], np.mean(y), rtol=1e-5)
    np.testing.assert_allclose(m["q_mean"], np.mean(q), rtol=1e-5)
    assert not np.allclose(q, q_net.apply(s.critic, b.obs, b.action), rtol=1e-2)  # the two modes differ here
    per_transition = jax.jit(jax.vmap(lambda t: ddpg.target(LIL, s.target_actor, s.target_critic, t)))(b)
    np.testing.assert_allclose(per_transition, y, rtol=1e-5, atol=1e-6)

    @jax.jit
    def by_hand(actor):
        mu, vjp = jax.vjp(lambda p: actor_net.apply(p, b.obs, **train)[0], actor)
        dq_da = jax.grad(lambda a: jnp.sum(q_net.apply(s.critic, b.obs, a, **train)[0]))(mu)  # [B, A]
        return vjp(-dq_da / B)[0]

    got = jax.jit(jax.grad(lambda p: actor_loss(LIL, p, s.critic, b.obs)[0]))(s.actor)
    chex.assert_trees_all_close(got["params"], by_hand(s.actor)["params"], rtol=1e-5, atol=1e-7)


def test_action_enters_the_critic_at_its_second_layer():
    """Kernels [O, H1] then [H1 + A, H2]; Q and dQ/da = W1[H1:] (relu'(z1) * w2) by hand, z1 the second
    layer's pre-activations (inference mode, after updates so the running averages are not trivial)."""
    s, b = _updated(LIL, 2)
    p, st = _np(s.critic["params"]), _np(s.critic["batch_stats"]["state_layers"])
    ps, head = p["state_layers"], p["MLP_0"]
    assert ps["Dense_0"]["kernel"].shape == (OBS, H1)
    assert head["Dense_0"]["kernel"].shape == (H1 + ACT, H2) and head["Dense_1"]["kernel"].shape == (H2, 1)
    obs, a = np.asarray(b.obs, np.float64), np.asarray(b.action, np.float64)
    h1 = np.maximum(_bn(_bn(obs, ps["BatchNorm_0"], st["BatchNorm_0"]) @ ps["Dense_0"]["kernel"],
                        ps["BatchNorm_1"], st["BatchNorm_1"]), 0.0)  # [B, H1]: the state only
    w1, w2 = head["Dense_0"]["kernel"], head["Dense_1"]["kernel"][:, 0]
    z1 = np.concatenate([h1, a], -1) @ w1 + head["Dense_0"]["bias"]  # [B, H2]
    q = np.maximum(z1, 0.0) @ w2 + head["Dense_1"]["bias"][0]
    dq_da = ((z1 > 0) * w2) @ w1[H1:].T  # [B, A]
    got_q = jax.jit(lambda c, o, x: ddpg.q_value(LIL, c, o, x))(s.critic, b.obs, b.action)
    got_grad = jax.jit(jax.grad(lambda x: jnp.sum(ddpg.q_value(LIL, s.critic, b.obs, x))))(b.action)
    np.testing.assert_allclose(got_q, q, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got_grad, dq_da, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("batch_norm", [True, False])
def test_final_and_fan_in_initialisation(batch_norm):
    """Output layers' weights and biases ~ U[-3e-3, 3e-3] (spread over the range, no two equal); the other
    layers' ~ U[-1/sqrt(f), 1/sqrt(f)], f the fan-in (the critic's second layer counts the action). Flax's
    defaults (truncated normal of std 1/sqrt(f) to 2 std, zero biases) would fail both."""
    cfg = dataclasses.replace(LIL, hidden=(64, 48), batch_norm=batch_norm)  # wide: the ranges are well covered
    s = init(cfg, jax.random.PRNGKey(7), OBS, ACT)
    actor, critic = s.actor["params"]["MLP_0"], s.critic["params"]
    for layer in (actor["Dense_2"], critic["MLP_0"]["Dense_1"]):
        w = np.concatenate([np.ravel(layer["kernel"]), np.ravel(layer["bias"])])
        assert 2e-3 < np.abs(w).max() <= 3e-3 and np.unique(w).size == w.size
    hidden = [(actor["Dense_0"], OBS), (actor["Dense_1"], 64), (critic["state_layers"]["Dense_0"], OBS),
              (critic["MLP_0"]["Dense_0"], 64 + ACT)]
    for layer, fan_in in hidden:
        assert set(layer) == ({"kernel"} if batch_norm and layer is not critic["MLP_0"]["Dense_0"]
                              else {"kernel", "bias"})
        for x in layer.values():
            bound = 1.0 / np.sqrt(fan_in)
            assert 0.8 * bound < np.abs(x).max() <= bound


def test_lillicrap_update_under_jit_vmap_and_scan():
    """The preset's networks (400-300, batch 64): two seeds vmapped, three updates scanned (the carry keeps its
    shapes), finite metrics; the targets, running averages included, move by Polyak from the previous step."""
    cfg = algos.run_config("ddpg", "lillicrap").algo_cfg
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    states = jax.jit(jax.vmap(lambda k: ddpg.init(cfg, k, OBS, ACT)))(keys)
    batches = jax.vmap(lambda k: _lil_batch(k, cfg.batch_size))(keys)

    @jax.jit
    @jax.vmap
    def run(state, batch):
        def step(s, k):
            new, m = ddpg.update(cfg, s, batch, k)
            return new, (m, s)
        return jax.lax.scan(step, state, jax.random.split(jax.random.PRNGKey(1), 3))

    final, (metrics, history) = run(states, batches)
    assert all(np.isfinite(np.asarray(v)).all() and v.shape == (2, 3) for v in metrics.values())
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(final))
    prev = jax.tree.map(lambda x: x[:, -1], history)
    for online, old, new in ((final.actor, prev.target_actor, final.target_actor),
                             (final.critic, prev.target_critic, final.target_critic)):
        expected = jax.tree.map(lambda o, t: cfg.tau * o + (1 - cfg.tau) * t, online, old)
        chex.assert_trees_all_close(new, expected, rtol=1e-6, atol=1e-7)
        # every BatchNorm's averages moved (a first hidden layer's batch mean is ~0: its input is normalised and
        # its Dense has no bias, so its variance is what moves)
        for path, stats in jax.tree_util.tree_flatten_with_path(new["batch_stats"], is_leaf=lambda x: "var" in x)[0]:
            prev_stats = old["batch_stats"]
            for k in path:
                prev_stats = prev_stats[k.key]
            assert max(float(jnp.abs(stats[k] - prev_stats[k]).max()) for k in stats) > 1e-6, path
    # independent seeds
    assert not np.allclose(final.actor["batch_stats"]["MLP_0"]["BatchNorm_1"]["var"][0],
                           final.actor["batch_stats"]["MLP_0"]["BatchNorm_1"]["var"][1])


@pytest.mark.parametrize("change", [{"critic": "c51", "num_atoms": 11, "v_min": -10.0, "v_max": 10.0},
                                    {"compute_dtype": "bfloat16"}, {"batch_norm": False, "critic_layer_norm": True}])
def test_options_combine_with_other_critic_options(change):
    cfg = dataclasses.replace(LIL, **change)
    ddpg.check(cfg)
    s, b = _state(cfg), _lil_batch(jax.random.PRNGKey(4))
    new, m = update(cfg, s, b, jax.random.PRNGKey(0))
    assert all(np.isfinite(float(v)) for v in m.values())
    assert set(new.critic) == ({"params"} if not cfg.batch_norm else {"params", "batch_stats"})
    if cfg.batch_norm:
        np.testing.assert_allclose(new.critic["batch_stats"]["state_layers"]["BatchNorm_0"]["mean"],
                                   (1 - cfg.batch_norm_momentum) * np.mean(b.obs, 0), rtol=1e-4)
    if cfg.critic == "c51":
        assert s.critic["params"]["MLP_0"]["Dense_1"]["kernel"].shape == (H2, 11)


# ---------------------------------------------------------- the default update before the options

class _OldMLP(nn.Module):
    """networks.MLP before the Lillicrap options (float32, no LayerNorm)."""

    hidden: tuple
    out: int

    @nn.compact
    def __call__(self, x):
        for width in self.hidden:
            x = nn.relu(nn.Dense(width)(x))
        return nn.Dense(self.out)(x)


class _OldActor(nn.Module):
    hidden: tuple
    action_size: int

    @nn.compact
    def __call__(self, obs):
        return jnp.tanh(_OldMLP(self.hidden, self.action_size, name="MLP_0")(obs))


class _OldQ(nn.Module):
    hidden: tuple

    @nn.compact
    def __call__(self, obs, action):
        return _OldMLP(self.hidden, 1, name="MLP_0")(jnp.concatenate([obs, action], axis=-1))[..., 0]


def _old_init(cfg, key):
    actor_key, critic_key = jax.random.split(key)
    obs, act = jnp.zeros((OBS,)), jnp.zeros((ACT,))
    return (_OldActor(cfg.hidden, ACT).init(actor_key, obs), _OldQ(cfg.hidden).init(critic_key, obs, act))


def _old_update(cfg, s, batch):
    """DDPG's update before the Lillicrap options (commit 254068a) written out: gradients and optimisers over
    the whole variables dicts."""
    actor_net, q_net = _OldActor(cfg.hidden, ACT), _OldQ(cfg.hidden)

    def target(t):
        q_next = q_net.apply(s.target_critic, t.next_obs, actor_net.apply(s.target_actor, t.next_obs))
        return ops.ddpg_target(cfg.reward_scale * t.reward, cfg.gamma * (1.0 - t.terminated), q_next)

    def critic_loss(c):
        y = jax.vmap(target)(batch)
        q = q_net.apply(c, batch.obs, batch.action)
        loss = jnp.mean(jax.vmap(ops.soft_q_critic_loss)(q, y))
        return loss, {"critic_loss": loss, "q_mean": jnp.mean(q), "target_mean": jnp.mean(y)}

    (_, critic_metrics), grads = jax.value_and_grad(critic_loss, has_aux=True)(s.critic)
    updates, critic_opt = ddpg.critic_optimizer(cfg).update(grads, s.critic_opt, s.critic)
    critic = optax.apply_updates(s.critic, updates)

    def actor_loss(a):
        loss = jnp.mean(jax.vmap(ops.ddpg_actor_loss)(q_net.apply(critic, batch.obs, actor_net.apply(a, batch.obs))))
        return loss, {"actor_loss": loss}

    (_, actor_metrics), grads = jax.value_and_grad(actor_loss, has_aux=True)(s.actor)
    updates, actor_opt = ddpg.actor_optimizer(cfg).update(grads, s.actor_opt, s.actor)
    actor = optax.apply_updates(s.actor, updates)
    new = ddpg.State(actor, critic, optax.incremental_update(actor, s.target_actor, cfg.tau),
                     optax.incremental_update(critic, s.target_critic, cfg.tau), actor_opt, critic_opt)
    return new, {**critic_metrics, **actor_metrics}


@pytest.mark.parametrize("cfg", [CFG, dataclasses.replace(CFG, critic_weight_decay=1e-2, hidden=(32, 24, 16))])
def test_default_init_and_update_are_bit_identical_to_the_code_before_the_options(cfg):
    s = init(cfg, jax.random.PRNGKey(0), OBS, ACT)
    actor, critic = jax.jit(_old_init, static_argnums=0)(cfg, jax.random.PRNGKey(0))
    chex.assert_trees_all_equal(s.actor, actor)
    chex.assert_trees_all_equal(s.critic, critic)
    t = init(cfg, jax.random.PRNGKey(1), OBS, ACT)
    s = s._replace(target_actor=t.actor, target_critic=t.critic)
    batch = _batch(jax.random.PRNGKey(2))
    new, metrics = update(cfg, s, batch, jax.random.PRNGKey(0))
    old, old_metrics = jax.jit(_old_update, static_argnums=0)(cfg, s, batch)
    assert jax.tree.structure(new) == jax.tree.structure(old)
    assert all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(new), jax.tree.leaves(old)))
    assert all(np.array_equal(metrics[k], old_metrics[k]) for k in old_metrics)
