"""Gaussian policies: tanh-squashed (SAC, the DSPG authors' code) and plain (the DSPG paper).

Log-probabilities are always computed from the PRE-squash sample `u`, never by inverting tanh:
`log pi(a) = log N(u; loc, scale) - sum log|d tanh(u)/du|`, with the stable form
`log(1 - tanh(u)^2) = 2 * (log 2 - u - softplus(-2u))` (as distrax.Tanh computes it).

distrax where it imports (the pinned jax 0.10 stack), else plain jax.numpy: distrax 0.1.9 imports
TensorFlow Probability 0.25, whose jax substrate fails on jax 0.11 (`jax.interpreters.xla.
pytype_aval_mappings` is gone), which stopped the GPU suite on the GPU machines' jax 0.11.2. The
fallback computes distrax's MultivariateNormalDiag formulas: the same samples `loc + scale * eps`,
`eps = jax.random.normal(key, (n, A))`, and log-probabilities equal to float32 rounding. Rounding
matters: vmapped sweep points equal points run alone to 1e-4 only with one and the same op order
(tests/test_sweep.py), so the pinned stack keeps distrax's.
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp

try:
    import distrax
except Exception:  # noqa: BLE001 -- on jax >= 0.11 TFP's import fails with AttributeError
    distrax = None

POLICY_KINDS = ("tanh_gaussian", "gaussian")


def tanh_log_det_jacobian(u: chex.Array) -> chex.Array:
    """[..., A] -> [...]: `sum_k log|d tanh(u_k)/du_k|`, stable for large |u|."""
    if distrax is not None:
        return jnp.sum(distrax.Tanh().forward_log_det_jacobian(u), axis=-1)
    return jnp.sum(2.0 * (jnp.log(2.0) - u - jax.nn.softplus(-2.0 * u)), axis=-1)


class PolicyDist(NamedTuple):
    """A diagonal Gaussian over pre-squash actions `u`, optionally squashed by tanh.

    loc, scale: [A]. `squash` is a Python bool (static).
    """

    loc: chex.Array
    scale: chex.Array
    squash: bool

    def sample_raw(self, key: chex.PRNGKey, n: int) -> chex.Array:
        """[n, A] pre-squash samples, reparameterised (`loc + scale * eps`)."""
        if distrax is not None:
            return distrax.MultivariateNormalDiag(self.loc, self.scale).sample(seed=key, sample_shape=(n,))
        eps = jax.random.normal(key, (n,) + jnp.shape(self.loc), jnp.result_type(self.loc))
        return self.loc + self.scale * eps

    def log_prob_raw(self, u: chex.Array) -> chex.Array:
        """[..., A] -> [...]: log-density of the squashed action `action(u)` at pre-squash `u`."""
        if distrax is not None:
            log_p = distrax.MultivariateNormalDiag(self.loc, self.scale).log_prob(u)
        else:
            z = (u - self.loc) / self.scale
            log_p = jnp.sum(-0.5 * jnp.square(z) - 0.5 * jnp.log(2.0 * jnp.pi) - jnp.log(self.scale), axis=-1)
        if self.squash:
            log_p = log_p - tanh_log_det_jacobian(u)
        return log_p

    def action(self, u: chex.Array) -> chex.Array:
        """The action the environment sees for pre-squash `u` (tanh, or identity)."""
        return jnp.tanh(u) if self.squash else u

    def sample_action(self, key: chex.PRNGKey) -> chex.Array:
        """[A] one action drawn from the policy (squashed for tanh_gaussian)."""
        return self.action(self.sample_raw(key, 1)[0])

    def mode(self) -> chex.Array:
        """[A] deterministic action used in evaluation: the (squashed) mean."""
        return self.action(self.loc)

    def sample_and_log_prob(self, key: chex.PRNGKey, n: int) -> tuple[chex.Array, chex.Array, chex.Array]:
        """(u [n, A], action [n, A], log_prob [n]) with gradients flowing through the sample."""
        u = self.sample_raw(key, n)
        return u, self.action(u), self.log_prob_raw(u)


def make_policy_dist(loc: chex.Array, scale: chex.Array, kind: str) -> PolicyDist:
    if kind not in POLICY_KINDS:
        raise ValueError(f"policy={kind!r}; valid choices: {', '.join(POLICY_KINDS)}")
    return PolicyDist(loc, scale, squash=(kind == "tanh_gaussian"))


def gaussian_entropy(scale: chex.Array) -> chex.Array:
    """[..., A] -> [...]: entropy of the pre-squash diagonal Gaussian."""
    return jnp.sum(0.5 * jnp.log(2.0 * jnp.pi * jnp.e) + jnp.log(scale), axis=-1)


__all__ = ["POLICY_KINDS", "PolicyDist", "gaussian_entropy", "make_policy_dist", "tanh_log_det_jacobian"]
