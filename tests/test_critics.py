"""Critic options: the C51 ops against hand-computed values and an independent Algorithm-1 reference,
LayerNorm in the critics' hidden layers, bfloat16 layer maths, and the c51 critics of SAC, DDPG and
DSPG (targets against the scalar formulas, the FastTD3 ensemble rule, stop-gradients, learning)."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from softrl_jax import algos, ops
from softrl_jax.algos import ddpg, dspg, sac
from softrl_jax.config import ConfigError
from softrl_jax.networks import MLP, QNetwork, compute_dtype
from helpers import random_batch

OBS, ACT, B = 3, 2, 16
Z5 = jnp.arange(5.0)  # the support [0, 1, 2, 3, 4]


def algorithm1(atoms, probs, support):
    """Bellemare et al. 2017, Algorithm 1, in numpy on a uniform support (with the l == u case kept)."""
    support = np.asarray(support, np.float64)
    v_min, v_max, dz = support[0], support[-1], support[1] - support[0]
    m = np.zeros(len(support))
    for x, p in zip(np.asarray(atoms, np.float64), np.asarray(probs, np.float64)):
        b = (np.clip(x, v_min, v_max) - v_min) / dz
        lo, hi = int(np.floor(b)), int(np.ceil(b))
        if lo == hi:
            m[lo] += p
        else:
            m[lo] += p * (hi - b)
            m[hi] += p * (b - lo)
    return m


# ------------------------------------------------------------------------------------- projection


def test_projection_of_shifted_scaled_distribution_by_hand():
    """Atoms 0.5 + 0.5 z on z = [0..4]: 0.5 splits 1/2-1/2 between 0 and 1, 1.0 and 2.0 land on
    atoms, 1.5 and 2.5 split between their neighbours."""
    p = jnp.array([0.1, 0.2, 0.3, 0.25, 0.15])
    got = ops.categorical_projection(0.5 + 0.5 * Z5, p, Z5)
    # 0: .05 (from 0.5); 1: .05 + .2 + .15; 2: .15 + .25 + .075; 3: .075; 4: 0
    np.testing.assert_allclose(got, [0.05, 0.4, 0.475, 0.075, 0.0], atol=1e-7)
    np.testing.assert_allclose(got @ Z5, p @ (0.5 + 0.5 * Z5), rtol=1e-6)  # inside: mean kept
    # the same atoms as a Bellman target: r = 0.5, discount = 0.5
    td = ops.categorical_td_target(jnp.float32(0.5), jnp.float32(0.5), p, Z5)
    np.testing.assert_allclose(td, got, atol=1e-7)


def test_projection_clips_to_end_atoms():
    # -3 and -0.5 -> v_min = 0; 4 (on the bound) and 7 -> v_max = 4; 2.25 splits 3/4-1/4
    atoms, p = jnp.array([-3.0, -0.5, 4.0, 7.0, 2.25]), jnp.array([0.1, 0.2, 0.3, 0.2, 0.2])
    got = ops.categorical_projection(atoms, p, Z5)
    np.testing.assert_allclose(got, [0.3, 0.0, 0.15, 0.05, 0.5], atol=1e-7)
    # r = -1, discount 2: atoms -1, 1, 3, 5, 7 -> [0.2 (from -1), 0.2, 0, 0.2, 0.4 (5 and 7)]
    td = ops.categorical_td_target(jnp.float32(-1.0), jnp.float32(2.0), jnp.full((5,), 0.2), Z5)
    np.testing.assert_allclose(td, [0.2, 0.2, 0.0, 0.2, 0.4], atol=1e-7)
    assert float(td @ Z5) != pytest.approx(float(jnp.full((5,), 0.2) @ (-1.0 + 2.0 * Z5)))  # clipped: biased


def test_projection_non_uniform_support():
    # support [0, 1, 3]: 2 is halfway between 1 and 3; 0.5 halfway between 0 and 1
    got = ops.categorical_projection(jnp.array([2.0, 0.5]), jnp.array([0.6, 0.4]), jnp.array([0.0, 1.0, 3.0]))
    np.testing.assert_allclose(got, [0.2, 0.5, 0.3], atol=1e-7)


@pytest.mark.parametrize("seed", range(3))
def test_projection_matches_algorithm1_sums_to_one_and_keeps_the_mean_inside(seed):
    rng = np.random.default_rng(seed)
    support = jnp.linspace(-10.0, 10.0, 41)
    p = rng.dirichlet(np.ones(30)).astype(np.float32)
    for lo, hi in ((-9.9, 9.9), (-30.0, 30.0)):  # inside the support; then partly outside
        atoms = rng.uniform(lo, hi, 30).astype(np.float32)
        got = np.asarray(ops.categorical_projection(jnp.asarray(atoms), jnp.asarray(p), support))
        np.testing.assert_allclose(got, algorithm1(atoms, p, support), atol=1e-6)
        np.testing.assert_allclose(got.sum(), 1.0, rtol=1e-5)
        assert got.min() >= 0.0
        if hi < 10.0:
            np.testing.assert_allclose(got @ np.asarray(support), p @ atoms, rtol=1e-5, atol=1e-5)
        else:  # clipped mass: the mean is the mean of the CLIPPED atoms
            np.testing.assert_allclose(got @ np.asarray(support), p @ np.clip(atoms, -10, 10), rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------------- td targets


def test_terminal_target_puts_all_mass_at_the_reward():
    next_p = jnp.array([0.5, 0.1, 0.1, 0.1, 0.2])  # ignored when discount = 0
    td = ops.categorical_td_target(jnp.float32(1.3), jnp.float32(0.0), next_p, Z5, jnp.float32(7.0))
    np.testing.assert_allclose(td, [0.0, 0.7, 0.3, 0.0, 0.0], atol=1e-6)
    td = ops.categorical_td_target(jnp.float32(9.0), jnp.float32(0.0), next_p, Z5)  # beyond v_max
    np.testing.assert_allclose(td, [0.0, 0.0, 0.0, 0.0, 1.0], atol=1e-7)


def test_soft_shift_equals_reward_shift():
    """r + d (z - s) = (r - d s) + d z, and by hand for s = 1: atoms 0.5 + 0.5 (z - 1) = 0.5 z."""
    p = jnp.array([0.1, 0.2, 0.3, 0.25, 0.15])
    r, d, s = jnp.float32(0.9), jnp.float32(0.6), jnp.float32(0.7)
    np.testing.assert_allclose(ops.categorical_td_target(r, d, p, Z5, s),
                               ops.categorical_td_target(r - d * s, d, p, Z5), atol=1e-6)
    got = ops.categorical_td_target(jnp.float32(0.5), jnp.float32(0.5), p, Z5, jnp.float32(1.0))
    np.testing.assert_allclose(got, [0.1 + 0.1, 0.1 + 0.3 + 0.125, 0.125 + 0.15, 0.0, 0.0], atol=1e-7)


def test_sampled_target_mean_is_dspg_eq15_inside_the_support():
    rng = np.random.default_rng(0)
    support = jnp.linspace(-20.0, 20.0, 81)
    probs = jnp.asarray(rng.dirichlet(np.ones(81), size=4), jnp.float32)
    probs = probs.at[:, :10].set(0.0).at[:, -10:].set(0.0)
    probs = probs / probs.sum(-1, keepdims=True)  # Z' in [-15, 15]: no shifted atom leaves the support
    log_pi, alpha, r, d = jnp.array([-1.0, 0.5, -2.0, 0.3]), 0.4, jnp.float32(0.7), jnp.float32(0.9)
    y = ops.sampled_categorical_td_target(r, d, probs, support, alpha * log_pi)
    np.testing.assert_allclose(float(y.sum()), 1.0, rtol=1e-5)
    eq15 = ops.soft_bellman_target(r, d, probs @ support, log_pi, alpha)
    np.testing.assert_allclose(y @ support, eq15, rtol=1e-5)
    each = jax.vmap(ops.categorical_td_target, (None, None, 0, None, 0))(r, d, probs, support, alpha * log_pi)
    np.testing.assert_allclose(y, each.mean(0), atol=1e-7)


# ------------------------------------------------------------------------------------------- loss


def test_categorical_loss_value_gradient_and_stop_gradient():
    logits, target = jnp.array([0.3, -1.0, 2.0, 0.0]), jnp.array([0.1, 0.0, 0.6, 0.3])
    p = jax.nn.softmax(logits)
    np.testing.assert_allclose(ops.categorical_loss(logits, target), -np.sum(target * np.log(p)), rtol=1e-6)
    g_logits, g_target = jax.grad(ops.categorical_loss, argnums=(0, 1))(logits, target)
    np.testing.assert_allclose(g_logits, p - target, atol=1e-6)  # softmax - target
    assert float(jnp.abs(g_target).max()) == 0.0
    # the critic mean: softmax(log [.25, .75]) on [-1, 3] is -0.25 + 2.25 = 2
    np.testing.assert_allclose(ops.categorical_mean(jnp.log(jnp.array([0.25, 0.75])), jnp.array([-1.0, 3.0])),
                               2.0, rtol=1e-6)


# ------------------------------------------------------------------------------- networks options


def _paths(tree):
    return {jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_leaves_with_path(tree)}


def test_layer_norm_is_dense_layernorm_relu_in_hidden_layers():
    x, a = jax.random.normal(jax.random.PRNGKey(0), (6, OBS)), jax.random.normal(jax.random.PRNGKey(1), (6, ACT))
    plain = QNetwork((16, 8)).init(jax.random.PRNGKey(2), x, a)
    net = QNetwork((16, 8), layer_norm=True)
    params = net.init(jax.random.PRNGKey(2), x, a)
    assert not any("LayerNorm" in p for p in _paths(plain))
    extra = _paths(params) - _paths(plain)
    assert extra == {f"['params']['MLP_0']['LayerNorm_{i}']['{w}']" for i in (0, 1) for w in ("scale", "bias")}
    # the Dense layers keep their names and shapes (and, from the same key, their values)
    for i in range(3):
        dense = f"Dense_{i}"
        assert all(jax.tree.leaves(jax.tree.map(np.array_equal, plain["params"]["MLP_0"][dense],
                                                params["params"]["MLP_0"][dense])))

    out, inter = net.apply(params, x, a, capture_intermediates=True, mutable=["intermediates"])
    mlp = inter["intermediates"]["MLP_0"]
    for i in (0, 1):  # the pre-activations: mean 0, variance 1 per example at init
        h = np.asarray(mlp[f"LayerNorm_{i}"]["__call__"][0])
        np.testing.assert_allclose(h.mean(-1), 0.0, atol=1e-5)
        np.testing.assert_allclose(h.var(-1), 1.0, rtol=1e-3)
    # the order by hand: Dense -> LayerNorm -> ReLU, twice, then the linear head
    p = params["params"]["MLP_0"]
    h = jnp.concatenate([x, a], -1)
    for i in (0, 1):
        h = h @ p[f"Dense_{i}"]["kernel"] + p[f"Dense_{i}"]["bias"]
        h = (h - h.mean(-1, keepdims=True)) / jnp.sqrt(h.var(-1, keepdims=True) + 1e-6)
        h = jax.nn.relu(h * p[f"LayerNorm_{i}"]["scale"] + p[f"LayerNorm_{i}"]["bias"])
    np.testing.assert_allclose(out, (h @ p["Dense_2"]["kernel"] + p["Dense_2"]["bias"])[:, 0], rtol=1e-5, atol=1e-5)


def test_algorithms_put_layer_norm_in_critics_only():
    def init(mod, cfg):  # shapes only: tracing, no compilation
        return jax.eval_shape(lambda k: mod.init(cfg, k, OBS, ACT), jax.random.PRNGKey(0))

    s, s0 = init(sac, sac.Config(hidden=(8, 8), critic_layer_norm=True)), init(sac, sac.Config(hidden=(8, 8)))
    assert any("LayerNorm" in p for p in _paths(s.critic)) and not any("LayerNorm" in p for p in _paths(s0.critic))
    assert _paths(s.actor) == _paths(s0.actor)
    for mod in (ddpg, dspg):
        cfg = mod.Config(hidden=(8, 8), critic_layer_norm=True, critic="c51", num_atoms=11)
        st = init(mod, cfg)
        assert any("LayerNorm" in p for p in _paths(st.critic)) and not any("LayerNorm" in p for p in _paths(st.actor))
        assert st.critic["params"]["MLP_0"]["Dense_2"]["kernel"].shape == (8, 11)


def test_bfloat16_layers_float32_params_and_outputs():
    x = jax.random.normal(jax.random.PRNGKey(0), (6, OBS))
    assert compute_dtype("float32") is None and compute_dtype("bfloat16") == jnp.bfloat16
    f32, bf16 = MLP((32, 32), 4), MLP((32, 32), 4, layer_norm=True, dtype=jnp.bfloat16)
    params = bf16.init(jax.random.PRNGKey(1), x)
    assert all(v.dtype == jnp.float32 for v in jax.tree.leaves(params))
    out, inter = bf16.apply(params, x, capture_intermediates=True, mutable=["intermediates"])
    assert inter["intermediates"]["Dense_0"]["__call__"][0].dtype == jnp.bfloat16
    assert out.dtype == jnp.float32
    ln32 = MLP((32, 32), 4, layer_norm=True)
    np.testing.assert_allclose(out, ln32.apply(params, x), rtol=0.05, atol=0.05)
    assert f32.apply(f32.init(jax.random.PRNGKey(1), x), x).dtype == jnp.float32


# ------------------------------------------------------------------------------------------ config


def test_defaults_and_valid_c51_configs():
    for mod in (sac, ddpg, dspg):
        c = mod.Config()
        assert (c.critic_layer_norm, c.num_atoms, c.v_min, c.v_max, c.compute_dtype) == (False, 101, -250.0, 250.0,
                                                                                         "float32")
    assert (sac.Config().critic, ddpg.Config().critic, dspg.Config().critic) == ("twin", "scalar", "scalar")
    for algo in ("sac", "ddpg", "dspg"):
        cfg = algos.run_config(algo, None, {"critic": "c51", "v_min": -5, "v_max": 5, "num_atoms": 11}).algo_cfg
        assert (cfg.critic, cfg.v_min, cfg.v_max, cfg.num_atoms) == ("c51", -5.0, 5.0, 11)


@pytest.mark.parametrize("algo", ["sac", "ddpg", "dspg"])
@pytest.mark.parametrize("bad", [{"critic": "c51", "v_min": 1.0, "v_max": 0.0}, {"v_min": 3.0, "v_max": 3.0},
                                 {"v_max": "inf"}, {"v_min": "nan"}, {"num_atoms": 1},
                                 {"compute_dtype": "float16"}, {"critic": "dueling"}])
def test_bad_critic_configs_raise_one_line_config_error(algo, bad):
    with pytest.raises(ConfigError) as e:
        algos.run_config(algo, None, bad)
    assert "\n" not in str(e.value)
    if "v_min" in bad and "v_max" in bad:
        assert f"--v_min={float(bad['v_min'])}" in str(e.value) and f"--v_max={float(bad['v_max'])}" in str(e.value)


# ----------------------------------------------------------------------------------- c51 targets

# gamma 0.5 and a wide support: no shifted atom r + 0.5 (z - alpha log pi) leaves [-100, 100], so each
# projection keeps its mean and the c51 targets' means must equal the scalar formulas exactly.
WIDE = dict(hidden=(16, 16), batch_size=B, critic="c51", num_atoms=41, v_min=-100.0, v_max=100.0, gamma=0.5)
SAC51 = sac.Config(**WIDE, alpha=0.3, reward_scale=2.0)
DDPG51 = ddpg.Config(**WIDE, reward_scale=2.0)
DSPG51 = dspg.Config(**WIDE, num_samples=5, alpha=0.2, reward_scale=2.0)


def _init(mod, cfg, key, obs_size, action_size):
    """Jitted init (eager JAX compiles every primitive on first use)."""
    return jax.jit(mod.init, static_argnums=(0, 2, 3))(cfg, key, obs_size, action_size)


def _member(q_params, k):
    return jax.tree.map(lambda x: x[k], q_params)


def _tilt(q_params, k, slope):
    """Add slope * z / v_max to member k's output logits: slope > 0 moves its mass up."""
    z = sac.support(SAC51) / SAC51.v_max
    return jax.tree_util.tree_map_with_path(
        lambda p, x: x.at[k].add(slope * z) if "Dense_2" in jax.tree_util.keystr(p) and "bias" in
        jax.tree_util.keystr(p) else x, q_params)


@functools.lru_cache(maxsize=None)
def _sac_state():
    s = _init(sac, SAC51, jax.random.PRNGKey(0), OBS, ACT)
    return s._replace(target_critic=_init(sac, SAC51, jax.random.PRNGKey(100), OBS, ACT).target_critic)


@pytest.mark.parametrize("low_member", [0, 1])
def test_sac_c51_target_is_the_projection_of_the_lower_mean_member(low_member):
    """FastTD3's rule: the member whose projected target has the lower mean supplies the target
    distribution; by hand with Algorithm 1, and its mean is the twin formula with Q' = E[Z']."""
    s, alpha, key = _sac_state(), jnp.float32(SAC51.alpha), jax.random.PRNGKey(2)
    tq = _tilt(_tilt(s.target_critic["q"], low_member, -4.0), 1 - low_member, 4.0)
    batch = random_batch(jax.random.PRNGKey(1), B, OBS, ACT)
    got = jax.jit(jax.vmap(lambda t: sac.c51_target(SAC51, s.actor, {"q": tq}, t, alpha, key)))(batch)

    @jax.jit
    @jax.vmap
    def by_hand(t):
        _, a, lp = sac.policy(SAC51, s.actor, t.next_obs).sample_and_log_prob(key, 1)
        probs = jnp.stack([jax.nn.softmax(QNetwork(SAC51.hidden, num_atoms=SAC51.num_atoms).apply(
            _member(tq, k), t.next_obs, a[0])) for k in range(2)])
        return probs, lp[0]

    probs, lp = map(np.asarray, by_hand(batch))
    z = np.asarray(sac.support(SAC51))
    r_s, gamma = SAC51.reward_scale * np.asarray(batch.reward), SAC51.gamma
    for i in range(B):
        atoms = r_s[i] + gamma * (z - SAC51.alpha * lp[i])
        assert np.abs(atoms).max() < SAC51.v_max  # no clipping in this setup
        want = algorithm1(atoms, probs[i, low_member], z)
        other = algorithm1(atoms, probs[i, 1 - low_member], z)
        assert want @ z < other @ z - 1.0
        np.testing.assert_allclose(got[i], want, atol=1e-5)
    q_next = probs @ z  # [B, 2]
    y = r_s + gamma * (q_next.min(-1) - SAC51.alpha * lp)
    _, m = jax.jit(sac.critic_loss, static_argnums=0)(SAC51, s.critic, s.actor, {"q": tq}, batch, alpha,
                                                       jax.random.PRNGKey(3))
    keys = jax.random.split(jax.random.split(jax.random.PRNGKey(3))[0], B)  # critic_loss's own keys
    ys = jax.jit(jax.vmap(lambda t, k: sac.c51_target(SAC51, s.actor, {"q": tq}, t, alpha, k)))(batch, keys)
    np.testing.assert_allclose(m["target_mean"], np.mean(np.asarray(ys) @ z), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(got) @ z, y, rtol=1e-4, atol=1e-4)


def test_sac_c51_actor_loss_uses_min_of_member_means():
    s, alpha, key = _sac_state(), jnp.float32(0.3), jax.random.PRNGKey(5)
    critic = {"q": _tilt(s.critic["q"], 1, 5.0)}
    obs = random_batch(jax.random.PRNGKey(1), B, OBS, ACT).obs
    loss, _ = jax.jit(sac.actor_loss, static_argnums=0)(SAC51, s.actor, critic, obs, alpha, key)

    @jax.jit
    @jax.vmap
    def by_hand(o, k):
        _, a, lp = sac.policy(SAC51, s.actor, o).sample_and_log_prob(k, 1)
        q = [jax.nn.softmax(QNetwork(SAC51.hidden, num_atoms=SAC51.num_atoms).apply(_member(critic["q"], j), o, a[0]))
             @ sac.support(SAC51) for j in range(2)]
        return alpha * lp[0] - jnp.minimum(q[0], q[1]), q[1] - q[0]

    per_state, gap = by_hand(obs, jax.random.split(key, B))
    assert float(gap.min()) > 1.0  # member 1 is far above: a mean or max would differ
    np.testing.assert_allclose(loss, np.mean(per_state), rtol=1e-5)


def test_ddpg_c51_target_mean_is_the_ddpg_target():
    s = _init(ddpg, DDPG51, jax.random.PRNGKey(0), OBS, ACT)
    t = _init(ddpg, DDPG51, jax.random.PRNGKey(1), OBS, ACT)
    batch = random_batch(jax.random.PRNGKey(2), B, OBS, ACT)
    _, m = jax.jit(ddpg.critic_loss, static_argnums=0)(DDPG51, s.critic, t.actor, t.critic, batch)
    a_next = ddpg.mu(DDPG51, t.actor, batch.next_obs)
    z = ddpg.support(DDPG51)
    q_next = jax.nn.softmax(QNetwork(DDPG51.hidden, num_atoms=DDPG51.num_atoms).apply(
        t.critic, batch.next_obs, a_next)) @ z
    y = DDPG51.reward_scale * batch.reward + DDPG51.gamma * q_next
    np.testing.assert_allclose(m["target_mean"], np.mean(y), rtol=1e-5)
    q = jax.nn.softmax(QNetwork(DDPG51.hidden, num_atoms=DDPG51.num_atoms).apply(s.critic, batch.obs, batch.action)) @ z
    np.testing.assert_allclose(m["q_mean"], np.mean(q), rtol=1e-5, atol=1e-6)


def _dspg_eq15(cfg, target_actor, target_critic, batch, key):
    """Eq. 15 by hand with Q' = E[Z'] and the critic loss's own samples; also the largest |atom|."""
    z = dspg.support(cfg)

    @jax.jit
    @jax.vmap
    def per(o2, r, k):
        _, a, lp = dspg.policy(cfg, target_actor, o2).sample_and_log_prob(k, cfg.num_samples)
        probs = jax.nn.softmax(QNetwork(cfg.hidden, num_atoms=cfg.num_atoms).apply(
            target_critic, jnp.broadcast_to(o2, (cfg.num_samples, OBS)), a))
        r_s = cfg.reward_scale * r
        return r_s + cfg.gamma * jnp.mean(probs @ z - cfg.alpha * lp), jnp.max(jnp.abs(
            r_s + cfg.gamma * (z[None] - cfg.alpha * lp[:, None])))

    return per(batch.next_obs, batch.reward, jax.random.split(key, B))


def test_dspg_c51_target_mean_is_eq15_inside_the_support_and_biased_outside():
    s = _init(dspg, DSPG51, jax.random.PRNGKey(0), OBS, ACT)
    t = _init(dspg, DSPG51, jax.random.PRNGKey(1), OBS, ACT)
    batch, key = random_batch(jax.random.PRNGKey(2), B, OBS, ACT), jax.random.PRNGKey(3)
    _, m = jax.jit(dspg.critic_loss, static_argnums=0)(DSPG51, s.critic, t.actor, t.critic, batch, key)
    y, biggest = _dspg_eq15(DSPG51, t.actor, t.critic, batch, key)
    assert float(biggest.max()) < DSPG51.v_max
    np.testing.assert_allclose(m["target_mean"], np.mean(y), rtol=1e-5, atol=1e-5)
    # a support narrower than the soft returns clips atoms: the target mean is pulled toward the bounds
    narrow = dataclasses.replace(DSPG51, v_min=-1.0, v_max=1.0)
    _, m2 = jax.jit(dspg.critic_loss, static_argnums=0)(narrow, s.critic, t.actor, t.critic, batch, key)
    y2, _ = _dspg_eq15(narrow, t.actor, t.critic, batch, key)
    assert abs(float(m2["target_mean"]) - float(np.mean(y2))) > 0.05


@pytest.mark.parametrize("algo", ["sac", "ddpg", "dspg"])
def test_c51_critic_loss_stops_gradients_into_targets(algo):
    batch, key = random_batch(jax.random.PRNGKey(1), B, OBS, ACT), jax.random.PRNGKey(2)
    if algo == "sac":
        s = _sac_state()
        f = lambda c, a, tc: sac.critic_loss(SAC51, c, a, tc, batch, jnp.float32(0.3), key)[0]  # noqa: E731
        args = (s.critic, s.actor, s.target_critic)
    elif algo == "ddpg":
        s = _init(ddpg, DDPG51, jax.random.PRNGKey(0), OBS, ACT)
        f = lambda c, ta, tc: ddpg.critic_loss(DDPG51, c, ta, tc, batch)[0]  # noqa: E731
        args = (s.critic, s.target_actor, s.target_critic)
    else:
        s = _init(dspg, DSPG51, jax.random.PRNGKey(0), OBS, ACT)
        f = lambda c, ta, tc: dspg.critic_loss(DSPG51, c, ta, tc, batch, key)[0]  # noqa: E731
        args = (s.critic, s.target_actor, s.target_critic)
    g_online, g_actor, g_target = jax.jit(jax.grad(f, argnums=(0, 1, 2)))(*args)
    assert float(optax.global_norm(g_online)) > 0.0
    assert float(optax.global_norm(g_actor)) == 0.0 and float(optax.global_norm(g_target)) == 0.0


# -------------------------------------------------------------------------------------- learning

# Small support, fast critic: gamma 0.5 keeps the soft returns of N(0, 1) rewards inside [-10, 10].
SMALL = dict(hidden=(32, 32), batch_size=B, critic="c51", num_atoms=21, v_min=-10.0, v_max=10.0, critic_lr=3e-3,
             gamma=0.5)
LEARNERS = {  # with the other critic options on: LayerNorm, bfloat16 layers
    "sac": (sac, sac.Config(**SMALL, reward_scale=2.0, alpha=0.1, critic_layer_norm=True)),
    "ddpg": (ddpg, ddpg.Config(**SMALL, reward_scale=2.0, critic_layer_norm=True, compute_dtype="bfloat16")),
    "dspg": (dspg, dspg.Config(**SMALL, num_samples=4, reward_scale=2.0, alpha=0.1, compute_dtype="bfloat16")),
}
STEPS = 300
METRIC_KEYS = {"critic_loss", "actor_loss", "alpha", "entropy", "actor_grad_norm", "q_mean", "target_mean"}


@functools.lru_cache(maxsize=None)
def _trainer(algo):
    mod, cfg = LEARNERS[algo]

    @jax.jit
    def train(batch):
        def body(s, k):
            s, m = mod.update(cfg, s, batch, k)
            return s, m
        state = mod.init(cfg, jax.random.PRNGKey(0), OBS, ACT)
        return jax.lax.scan(body, state, jax.random.split(jax.random.PRNGKey(1), STEPS))  # metrics [STEPS]

    return train


def _q_mean(algo, critic, batch):
    mod, cfg = LEARNERS[algo]
    if algo == "sac":
        return sac.q_values(cfg, critic["q"], batch.obs, batch.action)  # [K, B]
    if algo == "ddpg":
        return ddpg.q_value(cfg, critic, batch.obs, batch.action)[None]
    return dspg._q(cfg, critic, batch.obs, batch.action[:, None])[:, 0][None]


@pytest.mark.parametrize("algo", ["sac", "ddpg", "dspg"])
def test_c51_one_step_problem_learns_the_hand_computed_distribution(algo):
    """Terminal transitions: the target is the reward split onto its two neighbouring atoms (by hand
    with Algorithm 1), so the cross-entropy must fall to the target's entropy (KL < 0.03 per member)
    and each critic's mean to the scaled reward (within 0.1; atoms are 1 apart). SAC runs with
    LayerNorm, DDPG with LayerNorm in bfloat16, DSPG in bfloat16 (float32 parameters)."""
    mod, cfg = LEARNERS[algo]
    batch = random_batch(jax.random.PRNGKey(7), B, OBS, ACT, terminated=1.0)
    state, metrics = _trainer(algo)(batch)
    losses = metrics["critic_loss"]
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(state) if jnp.issubdtype(x.dtype, jnp.floating))
    members = cfg.num_critics if algo == "sac" else 1
    z = np.asarray(mod.support(cfg))
    r_s = cfg.reward_scale * np.asarray(batch.reward)
    targets = np.stack([algorithm1([r], [1.0], z) for r in r_s])
    entropy = -np.sum(np.where(targets > 0, targets * np.log(np.where(targets > 0, targets, 1.0)), 0.0), -1)
    assert float(losses[0]) > members * np.mean(entropy) + 1.0  # far from the target at the start
    assert float(losses[-1]) - members * np.mean(entropy) < 0.03 * members
    q = np.asarray(jax.jit(functools.partial(_q_mean, algo))(state.critic, batch))
    np.testing.assert_allclose(q, np.broadcast_to(r_s, q.shape), atol=0.1)


@pytest.mark.parametrize("algo", ["sac", "ddpg", "dspg"])
def test_c51_repeated_updates_on_a_fixed_batch_drive_the_critic_loss_down(algo):
    """Bootstrapped transitions (moving targets): the loss over the last 20 updates is below 75% of
    the first update's. The metrics keep the keys of the scalar critics."""
    batch = random_batch(jax.random.PRNGKey(8), B, OBS, ACT)
    state, metrics = _trainer(algo)(batch)
    assert set(metrics) == METRIC_KEYS and all(np.isfinite(np.asarray(v)).all() for v in metrics.values())
    losses = np.asarray(metrics["critic_loss"])
    assert np.all(np.isfinite(losses))
    assert losses[-20:].mean() < 0.75 * losses[0], (losses[0], losses[-20:].mean())
    assert all(np.isfinite(x).all() for x in jax.tree.leaves(state))


def test_uniform_projection_equals_the_dense_one():
    """The scatter form used by the algorithms equals the general projection on evenly spaced supports:
    random atoms inside, outside and exactly on the support, for several sizes."""
    rng = np.random.default_rng(3)
    for n_atoms, n_target, lo, hi in [(5, 7, 0.0, 4.0), (51, 51, -10.0, 10.0), (101, 808, -250.0, 250.0)]:
        support = jnp.linspace(lo, hi, n_atoms, dtype=jnp.float32)
        x = rng.uniform(lo - 0.3 * (hi - lo), hi + 0.3 * (hi - lo), n_target).astype(np.float32)
        x[:3] = np.asarray(support)[[0, n_atoms // 2, -1]]  # exactly on atoms
        p = rng.dirichlet(np.ones(n_target)).astype(np.float32)
        fast = ops.categorical_projection_uniform(jnp.asarray(x), jnp.asarray(p), support)
        np.testing.assert_allclose(fast, ops.categorical_projection(jnp.asarray(x), jnp.asarray(p), support),
                                   atol=2e-6)
        assert abs(float(jnp.sum(fast)) - 1.0) < 1e-5
    # the hand case of the dense test: atoms 0.5 + 0.5 z on [0..4]
    p = jnp.array([0.1, 0.2, 0.3, 0.25, 0.15])
    np.testing.assert_allclose(ops.categorical_projection_uniform(0.5 + 0.5 * Z5, p, Z5),
                               [0.05, 0.4, 0.475, 0.075, 0.0], atol=1e-6)


@pytest.mark.parametrize("algo", ["sac", "dspg", "ddpg", "sql"])
def test_deep_actors_act_with_their_action_size(algo):
    """With 10 hidden layers the actor's layer names no longer sort in layer order (Dense_10 before
    Dense_2): the action size read back from the parameters must still be A = 3, not a hidden width."""
    from softrl_jax.envs import EnvSpec

    module = algos.get(algo)
    cfg = dataclasses.replace(module.Config(), hidden=(8,) * 10)
    agent = module.make(cfg, EnvSpec("deep", 5, 3, 10))
    state = agent.init(jax.random.PRNGKey(0))
    action, _ = agent.act(state, jnp.zeros(5), jnp.zeros(3), jax.random.PRNGKey(1))
    assert action.shape == (3,) and agent.act_eval(state, jnp.zeros(5)).shape == (3,)
