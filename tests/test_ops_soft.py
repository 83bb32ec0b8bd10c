"""softrl_jax.ops.soft against hand-computed values and closed-form gradients."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from softrl_jax import ops


class TestSoftBellmanTarget(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_hand_values_nonterminal(self):
        q = jnp.array([1.0, 2.0, 3.0])
        log_pi = jnp.array([-1.0, -0.5, 0.0])
        # alpha 0.5: mean(q - 0.5 log_pi) = mean(1.5, 2.25, 3.0) = 2.25; y = 1 + 0.9 * 2.25
        y = self.variant(ops.soft_bellman_target)(jnp.float32(1.0), jnp.float32(0.9), q, log_pi, 0.5)
        np.testing.assert_allclose(y, 1.0 + 0.9 * 2.25, rtol=1e-6)

    @chex.variants(with_jit=True, without_jit=True)
    def test_terminal_uses_reward_only(self):
        # terminated: discount_t = gamma * (1 - 1) = 0, the next state's soft value is dropped
        y = self.variant(ops.soft_bellman_target)(jnp.float32(-2.5), jnp.float32(0.99 * 0.0),
                                                   jnp.array([100.0, -50.0]), jnp.array([3.0, 4.0]))
        np.testing.assert_allclose(y, -2.5, rtol=1e-6)

    @chex.variants(with_jit=True, without_jit=True)
    def test_truncated_bootstraps(self):
        # truncation is not termination: discount_t = gamma, the soft value (alpha 1) is kept
        q, log_pi = jnp.array([10.0, 20.0]), jnp.array([-2.0, -4.0])
        y = self.variant(ops.soft_bellman_target)(jnp.float32(1.0), jnp.float32(0.99), q, log_pi)
        np.testing.assert_allclose(y, 1.0 + 0.99 * (12.0 + 24.0) / 2, rtol=1e-6)

    def test_rank_checked(self):  # noqa: D102
        with self.assertRaises(AssertionError):
            ops.soft_bellman_target(1.0, 0.9, jnp.ones((2, 3)), jnp.ones((2, 3)))


class TestCriticLoss:
    def test_gradient_stops_at_target(self):
        g_target = jax.grad(ops.soft_q_critic_loss, argnums=1)(jnp.float32(2.0), jnp.float32(5.0))
        g_q = jax.grad(ops.soft_q_critic_loss, argnums=0)(jnp.float32(2.0), jnp.float32(5.0))
        assert g_target == 0.0
        np.testing.assert_allclose(g_q, 2 * (2.0 - 5.0))


def test_leave_one_out_mean():
    x = jnp.array([1.0, 2.0, 6.0])
    np.testing.assert_allclose(ops.leave_one_out_mean(x), [4.0, 3.5, 1.5])


def _gaussian_policy_gradient(mu, log_std, alpha, c, m, key, baseline):
    """Soft policy gradient estimate for pi = N(mu, exp(log_std)^2), Q(a) = -(a - c)^2."""
    eps = jax.random.normal(key, (m,))
    a = jax.lax.stop_gradient(mu + jnp.exp(log_std) * eps)  # actions held constant

    def loss(params):
        mu_, log_std_ = params
        log_pi = -0.5 * ((a - mu_) / jnp.exp(log_std_)) ** 2 - log_std_ - 0.5 * jnp.log(2 * jnp.pi)
        return ops.soft_policy_gradient_loss(log_pi, -(a - c) ** 2, alpha, baseline)

    return -jnp.stack(jax.grad(loss)((mu, log_std)))  # the loss gradient is MINUS the estimate


@pytest.mark.parametrize("baseline", ["none", "loo"])
def test_soft_policy_gradient_matches_closed_form(baseline):
    """J(mu, s) = E[-(a-c)^2] + alpha H = -(mu-c)^2 - s^2 + alpha (log s + const):
    dJ/dmu = -2 (mu - c), dJ/dlog_s = -2 s^2 + alpha."""
    mu, log_std, alpha, c = 0.7, jnp.log(0.5), 0.3, -0.4
    s = 0.5
    expected = np.array([-2 * (mu - c), -2 * s**2 + alpha])
    # 32 states x 4096 samples: average the per-state estimates (as DSPG averages over the batch)
    keys = jax.random.split(jax.random.PRNGKey(0), 32)
    est = jax.vmap(lambda k: _gaussian_policy_gradient(mu, log_std, alpha, c, 4096, k, baseline))(keys)
    np.testing.assert_allclose(np.mean(est, axis=0), expected, atol=0.03)


def test_entropy_term_matters():
    """Dropping alpha changes d/dlog_s by exactly alpha: the estimator sees the entropy bonus."""
    keys = jax.random.split(jax.random.PRNGKey(1), 32)
    with_alpha = jax.vmap(lambda k: _gaussian_policy_gradient(0.0, 0.0, 1.0, 0.0, 4096, k, "loo"))(keys)
    no_alpha = jax.vmap(lambda k: _gaussian_policy_gradient(0.0, 0.0, 0.0, 0.0, 4096, k, "loo"))(keys)
    np.testing.assert_allclose(np.mean(with_alpha[:, 1] - no_alpha[:, 1]), 1.0, atol=0.05)


def test_loo_baseline_reduces_variance():
    keys = jax.random.split(jax.random.PRNGKey(2), 256)
    f = lambda b: jax.vmap(lambda k: _gaussian_policy_gradient(0.7, -0.7, 0.3, 10.0, 16, k, b))(keys)  # noqa: E731
    assert np.var(f("loo")[:, 0]) < 0.2 * np.var(f("none")[:, 0])


class TestPolicyGradientLoss(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_hand_value(self):
        log_pi, q = jnp.array([-1.0, -2.0]), jnp.array([3.0, 1.0])
        # alpha 1: advantages q - log_pi - 1 = [3, 2]; loss = -mean([3 * -1, 2 * -2]) = 3.5
        np.testing.assert_allclose(self.variant(ops.soft_policy_gradient_loss)(log_pi, q), 3.5)

    @chex.variants(with_jit=True, without_jit=True)
    def test_hand_value_loo(self):
        log_pi, q = jnp.array([-1.0, -2.0, 0.0]), jnp.array([3.0, 1.0, 2.0])
        # soft q = [4, 3, 2]; loo means [2.5, 3, 3.5]; adv = soft - 1 - loo = [0.5, -1, -2.5]
        # loss = -mean([0.5 * -1, -1 * -2, -2.5 * 0]) = -0.5
        loss = self.variant(lambda a, b: ops.soft_policy_gradient_loss(a, b, 1.0, "loo"))(log_pi, q)
        np.testing.assert_allclose(loss, -0.5, rtol=1e-6)


def test_unknown_baseline_rejected():
    with pytest.raises(ValueError, match="valid choices: none, loo"):
        ops.soft_policy_gradient_loss(jnp.zeros(2), jnp.zeros(2), baseline="mean")


@pytest.mark.parametrize("scale", [0.01, 1e4])
def test_actor_optimizer_clips_before_adam(scale):
    """Adam's first moment after one step is (1 - b1) * clip(g): its norm is bounded by 0.1 N."""
    n = 2.0
    tx = ops.dspg_actor_optimizer(1e-3, n)
    params = {"w": jnp.zeros(3), "b": jnp.zeros(2)}
    grads = {"w": jnp.array([3.0, -4.0, 1.0]) * scale, "b": jnp.array([2.0, 2.0]) * scale}
    _, state = tx.update(grads, tx.init(params), params)
    mu = state[1][0].mu
    g_norm = float(optax.global_norm(grads))
    expected = 0.1 * min(g_norm, n)
    np.testing.assert_allclose(float(optax.global_norm(mu)), expected, rtol=1e-5)
