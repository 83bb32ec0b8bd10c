"""softrl_jax.ops.actor_critic (SAC / DDPG maths) against hand values and analytic gradients."""

import chex
import jax
import jax.numpy as jnp
import numpy as np

from softrl_jax import ops

f32 = jnp.float32


class TestSacCriticTarget(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_hand_value_uses_min_of_twins(self):
        # min(3, 5) = 3; 3 - 0.2 * (-1.5) = 3.3; y = 1 + 0.9 * 3.3 = 3.97 (mean would give 4.87)
        y = self.variant(ops.sac_critic_target)(f32(1.0), f32(0.9), jnp.array([3.0, 5.0]), f32(-1.5), f32(0.2))
        np.testing.assert_allclose(y, 3.97, rtol=1e-6)

    @chex.variants(with_jit=True, without_jit=True)
    def test_min_is_order_free(self):
        a = self.variant(ops.sac_critic_target)(f32(0.0), f32(1.0), jnp.array([-2.0, 7.0]), f32(0.0), f32(1.0))
        b = self.variant(ops.sac_critic_target)(f32(0.0), f32(1.0), jnp.array([7.0, -2.0]), f32(0.0), f32(1.0))
        np.testing.assert_allclose([a, b], [-2.0, -2.0])

    @chex.variants(with_jit=True, without_jit=True)
    def test_terminal_is_reward(self):
        y = self.variant(ops.sac_critic_target)(f32(-0.7), f32(0.0), jnp.array([100.0, 50.0]), f32(9.0), f32(1.0))
        np.testing.assert_allclose(y, -0.7, rtol=1e-6)

    def test_gradient_reaches_q_min_only(self):
        g = jax.grad(ops.sac_critic_target, argnums=2)(f32(0.0), f32(0.9), jnp.array([3.0, 5.0]), f32(0.0), f32(1.0))
        np.testing.assert_allclose(g, [0.9, 0.0])

    def test_rank_checked(self):
        with self.assertRaises(AssertionError):
            ops.sac_critic_target(f32(1.0), f32(0.9), jnp.ones((2,)), jnp.ones((2,)), f32(0.1))


class TestSacActorLoss(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_hand_value(self):
        # 0.5 * (-2) - min(4, 1, 3) = -1 - 1 = -2
        loss = self.variant(ops.sac_actor_loss)(jnp.array([4.0, 1.0, 3.0]), f32(-2.0), f32(0.5))
        np.testing.assert_allclose(loss, -2.0, rtol=1e-6)

    def test_gradients(self):
        g_q, g_lp = jax.grad(ops.sac_actor_loss, argnums=(0, 1))(jnp.array([4.0, 1.0]), f32(-2.0), f32(0.5))
        np.testing.assert_allclose(g_q, [0.0, -1.0])
        np.testing.assert_allclose(g_lp, 0.5)


class TestSacTemperatureLoss(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_hand_value(self):
        # -log(2) * (-0.5 + -1) = 1.5 log 2
        loss = self.variant(ops.sac_temperature_loss)(jnp.log(f32(2.0)), f32(-0.5), f32(-1.0))
        np.testing.assert_allclose(loss, 1.5 * np.log(2.0), rtol=1e-6)

    @chex.variants(with_jit=True, without_jit=True)
    def test_gradient_is_minus_log_pi_plus_target(self):
        for log_alpha, log_pi, target in [(0.0, -0.5, -1.0), (-1.3, 2.0, -3.0), (0.7, -4.0, -2.0)]:
            g = self.variant(jax.grad(ops.sac_temperature_loss))(f32(log_alpha), f32(log_pi), f32(target))
            np.testing.assert_allclose(g, -(log_pi + target), rtol=1e-6)

    def test_no_gradient_to_log_pi(self):
        g = jax.grad(ops.sac_temperature_loss, argnums=1)(f32(0.3), f32(-0.5), f32(-1.0))
        assert float(g) == 0.0

    @chex.variants(with_jit=True, without_jit=True)
    def test_cleanrl_alpha_multiplier(self):
        """CleanRL's form: loss -alpha (log_pi + target), gradient in log_alpha -alpha (log_pi + target)."""
        for log_alpha, log_pi, target in [(0.0, -0.5, -1.0), (-1.3, 2.0, -3.0), (0.7, -4.0, -2.0)]:
            fn = lambda la, lp, t: ops.sac_temperature_loss(la, lp, t, "alpha")  # noqa: E731
            loss = self.variant(fn)(f32(log_alpha), f32(log_pi), f32(target))
            np.testing.assert_allclose(loss, -np.exp(log_alpha) * (log_pi + target), rtol=1e-6)
            g = self.variant(jax.grad(fn))(f32(log_alpha), f32(log_pi), f32(target))
            np.testing.assert_allclose(g, -np.exp(log_alpha) * (log_pi + target), rtol=1e-5)
            assert float(jax.grad(fn, argnums=1)(f32(log_alpha), f32(log_pi), f32(target))) == 0.0

    def test_sign_lowers_alpha_when_entropy_above_target(self):
        # entropy estimate -log_pi = 3 > target -1: the gradient step must decrease log_alpha
        g = jax.grad(ops.sac_temperature_loss)(f32(0.0), f32(-3.0), f32(-1.0))
        assert float(g) > 0.0


class TestSacV1(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_value_target(self):
        # min(2, 6) - 0.1 * (-3) = 2.3
        v = self.variant(ops.sac_value_target)(jnp.array([2.0, 6.0]), f32(-3.0), f32(0.1))
        np.testing.assert_allclose(v, 2.3, rtol=1e-6)

    @chex.variants(with_jit=True, without_jit=True)
    def test_bootstrap_target(self):
        y = self.variant(ops.value_bootstrap_target)(f32(1.0), f32(0.99), f32(10.0))
        np.testing.assert_allclose(y, 1.0 + 9.9, rtol=1e-6)


class TestDdpg(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_target_hand_values(self):
        y = self.variant(ops.ddpg_target)(f32(0.5), f32(0.99), f32(-4.0))
        np.testing.assert_allclose(y, 0.5 - 3.96, rtol=1e-6)
        y_term = self.variant(ops.ddpg_target)(f32(0.5), f32(0.0), f32(-4.0))
        np.testing.assert_allclose(y_term, 0.5, rtol=1e-6)

    @chex.variants(with_jit=True, without_jit=True)
    def test_actor_loss(self):
        np.testing.assert_allclose(self.variant(ops.ddpg_actor_loss)(f32(2.5)), -2.5)
        np.testing.assert_allclose(jax.grad(ops.ddpg_actor_loss)(f32(2.5)), -1.0)

    def test_ranks_checked(self):
        with self.assertRaises(AssertionError):
            ops.ddpg_target(f32(0.5), f32(0.99), jnp.ones((2,)))
        with self.assertRaises(AssertionError):
            ops.ddpg_actor_loss(jnp.ones((3,)))


class TestOrnsteinUhlenbeck(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_one_step_hand_value(self):
        # 1 - 0.15 * 1 * 1 + 0.2 * 1 * 0.5 = 0.95; -2 + 0.3 + 0 = -1.7
        x = self.variant(ops.ornstein_uhlenbeck_step)(jnp.array([1.0, -2.0]), jnp.array([0.5, 0.0]),
                                                     f32(0.15), f32(0.2), f32(1.0))
        np.testing.assert_allclose(x, [0.95, -1.7], rtol=1e-6)

    def test_mean_reversion_without_noise(self):
        x = jnp.array([1.0])
        for _ in range(20):
            x = ops.ornstein_uhlenbeck_step(x, jnp.zeros(1), 0.15, 0.2, 1.0)
        np.testing.assert_allclose(x, 0.85 ** 20, rtol=1e-5)

    def test_stationary_statistics(self):
        """Long run from a far start: mean 0, std sigma*sqrt(dt/(1-(1-theta dt)^2)) (= 0.380, close to
        the continuous-time sigma/sqrt(2 theta) = 0.365), lag-1 autocorrelation 1 - theta dt."""
        theta, sigma, dt, steps, dims = 0.15, 0.2, 1.0, 20_000, 64

        def body(x, k):
            x = ops.ornstein_uhlenbeck_step(x, jax.random.normal(k, x.shape), theta, sigma, dt)
            return x, x

        _, xs = jax.lax.scan(body, jnp.full((dims,), 5.0), jax.random.split(jax.random.PRNGKey(0), steps))
        xs = np.asarray(xs[200:])  # burn-in: 0.85^200 * 5 is negligible
        exact_std = sigma * np.sqrt(dt / (1 - (1 - theta * dt) ** 2))
        assert abs(xs.mean()) < 0.01
        np.testing.assert_allclose(xs.std(), exact_std, rtol=0.02)
        np.testing.assert_allclose(xs.std(), sigma / np.sqrt(2 * theta), rtol=0.06)
        lag1 = np.mean(xs[1:] * xs[:-1]) / np.mean(xs * xs)
        np.testing.assert_allclose(lag1, 1 - theta * dt, atol=0.01)
