"""softrl_jax.ops.svgd: RBF kernel, SVGD direction and soft value against hand values, autodiff,
a plain Python loop, a two-mode target, and closed-form integrals."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softrl_jax import ops


class TestRbfKernel(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_hand_values_fixed_bandwidth(self):
        x = jnp.array([[0.0, 0.0], [1.0, 2.0]])
        y = jnp.array([[1.0, 0.0]])
        k, g = self.variant(lambda a, b: ops.rbf_kernel(a, b, 2.0))(x, y)
        # ||x0 - y||^2 = 1, ||x1 - y||^2 = 4; k = exp(-d / 2)
        np.testing.assert_allclose(k, [[math.exp(-0.5)], [math.exp(-2.0)]], rtol=1e-6)
        # grad_x k = -2 (x - y) / h * k = -(x - y) k
        np.testing.assert_allclose(g[0, 0], [math.exp(-0.5), 0.0], rtol=1e-6)
        np.testing.assert_allclose(g[1, 0], [0.0, -2.0 * math.exp(-2.0)], rtol=1e-6)

    @chex.variants(with_jit=True, without_jit=True)
    def test_median_bandwidth_hand_value(self):
        # K = 2 fixed, L = 2 updated in 1D: squared distances [[1, 9], [0, 4]], median 2.5, h = 2.5 / log 2
        x = jnp.array([[0.0], [1.0]])
        y = jnp.array([[1.0], [3.0]])
        k, _ = self.variant(ops.rbf_kernel)(x, y)
        h = 2.5 / math.log(2.0)
        np.testing.assert_allclose(k, np.exp(-np.array([[1.0, 9.0], [0.0, 4.0]]) / h), rtol=1e-5)

    def test_median_matches_jnp_median(self):
        for n in (7, 8, 64):
            d = jax.random.uniform(jax.random.PRNGKey(n), (n, 1))
            h = ops.median_bandwidth(d, 2, 0.0)
            np.testing.assert_allclose(h, jnp.median(d) / math.log(2.0), rtol=1e-6)

    def test_bandwidth_floor(self):
        x = jnp.zeros((4, 3))  # all distances 0: the median heuristic would give h = 0
        k, g = ops.rbf_kernel(x, x)
        np.testing.assert_allclose(k, 1.0)
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(ops.median_bandwidth(jnp.zeros((4, 4)), 4), 1e-3)

    def test_gradient_matches_autodiff(self):
        x = jax.random.normal(jax.random.PRNGKey(0), (5, 3))
        y = jax.random.normal(jax.random.PRNGKey(1), (4, 3))
        for bandwidth in (None, 0.7):
            _, g = ops.rbf_kernel(x, y, bandwidth)
            jac = jax.jacobian(lambda a: ops.rbf_kernel(a, y, bandwidth)[0])(x)  # [K, L, K, D]
            auto = jnp.einsum("kjkd->kjd", jac)  # d k(x_k, y_j) / d x_k
            np.testing.assert_allclose(g, auto, rtol=1e-5, atol=1e-7)

    def test_bandwidth_has_no_gradient(self):
        """With h stopped, d k / d x equals the fixed-h formula at the same h; with h live it would not."""
        x = jax.random.normal(jax.random.PRNGKey(2), (6, 2))
        y = jax.random.normal(jax.random.PRNGKey(3), (6, 2))
        d = jnp.sum((x[:, None] - y[None]) ** 2, -1)
        h = ops.median_bandwidth(d, 6)
        g_median = jax.grad(lambda a: jnp.sum(ops.rbf_kernel(a, y)[0]))(x)
        g_fixed = jax.grad(lambda a: jnp.sum(ops.rbf_kernel(a, y, h)[0]))(x)
        np.testing.assert_allclose(g_median, g_fixed, rtol=1e-6)
        grad_h = jax.grad(lambda a: ops.median_bandwidth(jnp.sum((a[:, None] - y[None]) ** 2, -1), 6))(x)
        np.testing.assert_array_equal(grad_h, 0.0)

    def test_shapes_checked(self):
        with pytest.raises(AssertionError):
            ops.rbf_kernel(jnp.zeros((3, 2)), jnp.zeros((3, 4)))


def _svgd_loop(x, grad_log_p, y, h):
    """Plain Python loops over particles: phi(y_l) = 1/K sum_k [k(x_k, y_l) g_k + grad_{x_k} k(x_k, y_l)]."""
    x, grad_log_p, y = (np.asarray(a, np.float64) for a in (x, grad_log_p, y))
    phi = np.zeros_like(y)
    for l_ in range(y.shape[0]):
        for k_ in range(x.shape[0]):
            diff = x[k_] - y[l_]
            kern = math.exp(-float(diff @ diff) / h)
            phi[l_] += kern * grad_log_p[k_] - 2.0 * diff / h * kern
        phi[l_] /= x.shape[0]
    return phi


class TestSvgdDirection(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_matches_python_loop(self):
        x = jax.random.normal(jax.random.PRNGKey(0), (8, 3))
        g = jax.random.normal(jax.random.PRNGKey(1), (8, 3))
        y = jax.random.normal(jax.random.PRNGKey(2), (5, 3))
        d = np.sum((np.asarray(x)[:, None] - np.asarray(y)[None]) ** 2, -1)
        h = max(float(np.median(d)) / math.log(8), 1e-3)
        phi = self.variant(ops.svgd_direction)(x, g, y)
        np.testing.assert_allclose(phi, _svgd_loop(x, g, y, h), rtol=1e-4, atol=1e-6)
        phi_fixed = self.variant(lambda a, b, c: ops.svgd_direction(a, b, c, 0.3))(x, g, y)
        np.testing.assert_allclose(phi_fixed, _svgd_loop(x, g, y, 0.3), rtol=1e-4, atol=1e-6)

    def test_single_particle_follows_score(self):
        """One particle, K = 1 and fixed h: k = 1, grad k = 0, so phi = grad log p."""
        x = jnp.array([[0.3, -1.2]])
        g = jnp.array([[2.0, -0.5]])
        np.testing.assert_allclose(ops.svgd_direction(x, g, x, 1.0), g, rtol=1e-6)

    def test_repulsion_without_score(self):
        """With grad log p = 0, two particles push apart along their difference."""
        x = jnp.array([[0.0], [1.0]])
        phi = ops.svgd_direction(x, jnp.zeros_like(x), x, 1.0)
        assert phi[0, 0] < 0.0 < phi[1, 0]

    def test_particles_cover_both_modes_of_a_mixture(self):
        """SVGD with the analytic score of an equal two-mode 2D Gaussian mixture (means (+-2, 0), std 0.5):
        64 particles started in a small cloud N(0, 0.2^2) end with >= 25% at each mode, each mode's
        particles spread with about the mode's std (SVGD matches the distribution, not just its modes)."""
        x = _run_particles(repulsion=True)
        left = np.asarray(x[:, 0] < 0.0)
        assert 0.25 <= left.mean() <= 0.75, left.mean()
        near = np.min(np.linalg.norm(np.asarray(x)[:, None] - np.asarray(_MUS)[None], axis=-1), axis=1)
        assert (near < 1.5).mean() > 0.95  # on the modes, not between them
        for side in (left, ~left):
            np.testing.assert_allclose(np.std(np.asarray(x)[side], axis=0), 0.5, atol=0.15)

    def test_without_repulsion_particles_collapse(self):
        """Control: the same steps with the kernel-gradient term dropped collapse each mode's particles
        to a point, so the spread asserted above comes from the repulsive term."""
        x = np.asarray(_run_particles(repulsion=False))
        left = x[:, 0] < 0.0
        for side in (left, ~left):
            assert np.all(np.std(x[side], axis=0) < 0.05)


_MUS = jnp.array([[-2.0, 0.0], [2.0, 0.0]])


def _run_particles(repulsion: bool, steps: int = 2000, step_size: float = 0.05):
    score = jax.vmap(jax.grad(lambda a: jax.nn.logsumexp(-jnp.sum((a - _MUS) ** 2, -1) / (2 * 0.5**2))))
    x0 = 0.2 * jax.random.normal(jax.random.PRNGKey(0), (64, 2))

    def step(x, _):
        if repulsion:
            return x + step_size * ops.svgd_direction(x, score(x), x), None
        k, _ = ops.rbf_kernel(x, x)
        return x + step_size * jnp.mean(k[..., None] * score(x)[:, None, :], axis=0), None

    return jax.lax.scan(step, x0, None, length=steps)[0]


class TestSoftValue(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_uniform_proposal_formula(self):
        q = jnp.array([1.0, -2.0, 0.5, 3.0])
        a = 2  # action size
        alpha = 0.5
        log_prop = jnp.full(4, -a * math.log(2.0))
        v = self.variant(lambda q_, lp: ops.soft_value(q_, lp, alpha))(q, log_prop)
        expected = alpha * (np.log(np.sum(np.exp(np.asarray(q) / alpha))) - math.log(4) + a * math.log(2.0))
        np.testing.assert_allclose(v, expected, rtol=1e-6)

    def test_constant_q_is_exact(self):
        """Q = c on [-1, 1]^A: V = alpha log integral exp(c / alpha) da = c + alpha A log 2 for any sample."""
        a, c, alpha = 3, 1.7, 0.4
        actions = jax.random.uniform(jax.random.PRNGKey(0), (16, a), minval=-1, maxval=1)
        v = ops.soft_value(jnp.full(16, c), ops.uniform_log_density(actions), alpha)
        np.testing.assert_allclose(v, c + alpha * a * math.log(2.0), rtol=1e-6)

    def test_quadratic_gaussian_integral(self):
        """Q(a) = -a^2 / 2 on R with a N(0, 2^2) proposal: V = log integral exp(-a^2/2) da = log sqrt(2 pi)."""
        s = 2.0
        a = s * jax.random.normal(jax.random.PRNGKey(1), (200_000,))
        log_prop = -0.5 * (a / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)
        v = ops.soft_value(-0.5 * a**2, log_prop, 1.0)
        np.testing.assert_allclose(v, 0.5 * math.log(2 * math.pi), atol=5e-3)

    def test_quadratic_uniform_proposal_with_temperature(self):
        """Q(a) = -(a - 0.2)^2 on [-1, 1], alpha 0.5: V = alpha log integral_{-1}^{1} exp(Q / alpha) da,
        the Gaussian integral sqrt(pi alpha) (Phi(...) - Phi(...)); checked with 1e5 uniform samples."""
        alpha, m = 0.5, 0.2
        a = jax.random.uniform(jax.random.PRNGKey(2), (100_000, 1), minval=-1, maxval=1)
        v = ops.soft_value(-((a[:, 0] - m) ** 2), ops.uniform_log_density(a), alpha)
        sd = math.sqrt(alpha / 2.0)  # exp(-(a - m)^2 / alpha) is a Gaussian kernel of variance alpha / 2
        mass = 0.5 * (math.erf((1 - m) / (sd * math.sqrt(2))) - math.erf((-1 - m) / (sd * math.sqrt(2))))
        expected = alpha * math.log(math.sqrt(math.pi * alpha) * mass)
        np.testing.assert_allclose(v, expected, atol=3e-3)

    def test_stable_for_large_q(self):
        v = ops.soft_value(jnp.array([1e4, 1e4 - 1.0]), jnp.zeros(2), 1.0)
        np.testing.assert_allclose(v, 1e4 + math.log((1 + math.exp(-1.0)) / 2), rtol=1e-6)

    def test_small_alpha_tends_to_max(self):
        q = jnp.array([0.3, 2.0, -1.0])
        np.testing.assert_allclose(ops.soft_value(q, jnp.zeros(3), 1e-4), 2.0, atol=1e-3)


def test_uniform_log_density():
    np.testing.assert_allclose(ops.uniform_log_density(jnp.zeros((5, 3))), -3 * math.log(2.0), rtol=1e-6)


def test_tanh_log_barrier_is_tanh_log_jacobian():
    u = jnp.array([[0.3, -1.1], [2.0, 0.0]])
    np.testing.assert_allclose(ops.tanh_log_barrier(jnp.tanh(u), 0.0),
                               np.sum(np.log(1 - np.tanh(np.asarray(u)) ** 2), -1), rtol=1e-5)


def test_amortized_svgd_loss_gradient_is_minus_phi():
    a = jnp.array([[0.1, 0.2], [0.3, -0.4]])
    phi = jnp.array([[1.0, -2.0], [0.5, 3.0]])
    np.testing.assert_allclose(jax.grad(ops.amortized_svgd_loss)(a, phi), -phi)
    np.testing.assert_array_equal(jax.grad(ops.amortized_svgd_loss, argnums=1)(a, phi), 0.0)


@pytest.mark.parametrize("dim", [1, 2])
def test_knn_entropy_gaussian_and_uniform(dim):
    """Closed forms: N(0, I_d) has d/2 log(2 pi e); uniform on [-1, 1]^d has d log 2. 1000 float64 draws
    cast to float32 (no exact ties, which would make a nearest-neighbour distance 0 and H = -inf)."""
    rng = np.random.default_rng(dim)
    g = jnp.asarray(rng.standard_normal((1000, dim)), jnp.float32)
    np.testing.assert_allclose(ops.knn_entropy(g), 0.5 * dim * math.log(2 * math.pi * math.e), atol=0.1)
    u = jnp.asarray(rng.uniform(-1, 1, (1000, dim)), jnp.float32)
    np.testing.assert_allclose(ops.knn_entropy(u), dim * math.log(2.0), atol=0.1)
    # twice the spread adds d log 2
    np.testing.assert_allclose(ops.knn_entropy(2 * g) - ops.knn_entropy(g), dim * math.log(2.0), rtol=1e-4)
