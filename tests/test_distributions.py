"""Policy distributions: log-densities from the pre-squash sample, stable at large |u|."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softrl_jax.distributions import make_policy_dist, tanh_log_det_jacobian


def _normal_logpdf(u, loc, scale):
    return np.sum(-0.5 * ((u - loc) / scale) ** 2 - np.log(scale) - 0.5 * np.log(2 * np.pi), axis=-1)


def test_plain_gaussian_log_prob():
    loc, scale = jnp.array([0.3, -1.0]), jnp.array([0.5, 2.0])
    u = jnp.array([[0.1, 0.4], [2.0, -3.0]])
    d = make_policy_dist(loc, scale, "gaussian")
    np.testing.assert_allclose(d.log_prob_raw(u), _normal_logpdf(np.asarray(u), loc, scale), rtol=1e-5)
    np.testing.assert_allclose(d.action(u), u)


def test_tanh_gaussian_change_of_variables():
    loc, scale = jnp.array([0.3, -1.0]), jnp.array([0.5, 2.0])
    u = jnp.array([[0.1, 0.4], [1.5, -2.0]])
    d = make_policy_dist(loc, scale, "tanh_gaussian")
    naive = _normal_logpdf(np.asarray(u), loc, scale) - np.sum(np.log(1 - np.tanh(np.asarray(u)) ** 2), -1)
    np.testing.assert_allclose(d.log_prob_raw(u), naive, rtol=1e-5)
    np.testing.assert_allclose(d.action(u), np.tanh(u), rtol=1e-6)


def test_tanh_log_det_stable_where_naive_form_fails():
    u = jnp.array([[20.0, -30.0]])
    ld = tanh_log_det_jacobian(u)
    assert np.isfinite(ld).all()
    # log(1 - tanh(u)^2) -> log 4 - 2|u| for large |u|
    np.testing.assert_allclose(ld, 2 * np.log(4.0) - 2 * (20 + 30), rtol=1e-5)
    with np.errstate(divide="ignore"):
        assert np.isinf(np.log(1 - np.tanh(np.float32(20.0)) ** 2))  # the naive form fails


def test_tanh_density_integrates_to_one():
    """1-D: integrate pi(a) over a in (-1, 1) by the substitution a = tanh(u)."""
    d = make_policy_dist(jnp.array([0.4]), jnp.array([0.8]), "tanh_gaussian")
    u = jnp.linspace(-8, 8, 20001)[:, None]
    a = np.tanh(np.asarray(u[:, 0]))
    density = np.exp(np.asarray(d.log_prob_raw(u)))
    np.testing.assert_allclose(np.trapezoid(density, a), 1.0, atol=1e-3)


def test_sample_shapes_and_mode():
    d = make_policy_dist(jnp.array([0.5, -0.5]), jnp.array([0.1, 0.1]), "tanh_gaussian")
    u, a, lp = d.sample_and_log_prob(jax.random.PRNGKey(0), 7)
    assert u.shape == (7, 2) and a.shape == (7, 2) and lp.shape == (7,)
    np.testing.assert_allclose(d.mode(), np.tanh([0.5, -0.5]), rtol=1e-6)


def test_unknown_kind():
    with pytest.raises(ValueError, match="valid choices: tanh_gaussian, gaussian"):
        make_policy_dist(jnp.zeros(1), jnp.ones(1), "beta")


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("loc_shape", [(6,), (3, 2), (1,)])
def test_samples_log_probs_and_gradients_equal_distrax_bit_for_bit(jit, loc_shape):
    """The module computes distrax 0.1.9's MultivariateNormalDiag and Tanh op for op without importing
    it: samples, log-probabilities and the tanh log-det (eager and jitted) and the reparameterised
    gradients (jitted) are equal bit for bit, for batched parameters too. distrax is the test's
    reference only; where its TFP does not import (jax >= 0.11 without tfp-nightly) the test skips."""
    distrax = pytest.importorskip("distrax", exc_type=Exception)
    import jax
    import jax.numpy as jnp
    import numpy as np

    from softrl_jax import distributions as D

    loc = 3.0 * jax.random.normal(jax.random.PRNGKey(3), loc_shape)
    scale = jnp.exp(jax.random.normal(jax.random.PRNGKey(4), loc_shape))
    key = jax.random.PRNGKey(7)

    def ours(loc, scale):
        u = D.PolicyDist(loc, scale, True).sample_raw(key, 5)
        return u, D.PolicyDist(loc, scale, True).log_prob_raw(u), D.tanh_log_det_jacobian(u)

    def theirs(loc, scale):
        # as this module computed them with distrax: one distribution object per call
        u = distrax.MultivariateNormalDiag(loc, scale).sample(seed=key, sample_shape=(5,))
        log_p = distrax.MultivariateNormalDiag(loc, scale).log_prob(u)
        log_p = log_p - jnp.sum(distrax.Tanh().forward_log_det_jacobian(u), axis=-1)
        return u, log_p, jnp.sum(distrax.Tanh().forward_log_det_jacobian(u), axis=-1)

    def loss(f):
        return lambda loc, scale: jnp.sum(f(loc, scale)[1] * jnp.sum(jnp.tanh(f(loc, scale)[0]), axis=-1))

    wrap = jax.jit if jit else (lambda f: f)
    pairs = [(wrap(ours)(loc, scale), wrap(theirs)(loc, scale))]
    if jit:  # gradients jitted, as training takes them: op by op, jax 0.12 rounds one element of distrax's
        # own gradient 1 ulp differently (jax 0.10.2 does not); the values are equal either way
        pairs.append(tuple(jax.jit(jax.grad(loss(f), (0, 1)))(loc, scale) for f in (ours, theirs)))
    for got, want in pairs:
        for a, b in zip(got, want, strict=True):
            assert a.shape == b.shape and a.dtype == b.dtype
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert "distrax" not in D.__dict__  # not imported by the module itself
