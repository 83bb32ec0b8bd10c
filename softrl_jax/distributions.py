"""Gaussian policies: tanh-squashed (SAC, the DSPG authors' code) and plain (the DSPG paper).

Log-probabilities are always computed from the PRE-squash sample `u`, never by inverting tanh:
`log pi(a) = log N(u; loc, scale) - sum log|d tanh(u)/du|`, with the stable form
`log(1 - tanh(u)^2) = 2 * (log 2 - u - softplus(-2u))` (as distrax.Tanh computes it).

The Gaussian's samples and log-densities are distrax's `MultivariateNormalDiag` (0.1.9), op for op,
including the no-op terms of its bijector chain (a standard normal with loc 0 and scale 1, the zero
bias of `DiagLinear`, the zero log-det of `Shift`): the same ops in the same order give the same
float32 rounding, so every number is bit for bit what the distrax versions of this module gave
(tests/test_distributions.py checks it against distrax), on every jax. distrax itself is not
imported: its TensorFlow Probability substrate cost about 0.7 s of every process's start-up and does
not import on jax >= 0.11.
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

# distrax Normal's log-normaliser for scale 1: 0.5 log(2 pi) + log(1), rounded once to float32
_HALF_LOG_2PI = float(np.float32(0.5 * np.log(2.0 * np.pi)))

POLICY_KINDS = ("tanh_gaussian", "gaussian")


def tanh_log_det_jacobian(u: chex.Array) -> chex.Array:
    """[..., A] -> [...]: `sum_k log|d tanh(u_k)/du_k|`, stable for large |u|."""
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
        shape = (n,) + jnp.shape(self.loc)
        eps = jax.random.normal(key, shape, jnp.result_type(self.loc))
        std = jnp.ones((1,) * len(shape), eps.dtype) * eps + jnp.zeros(shape[-1:], eps.dtype)  # N(0, 1)
        return (self.scale * std + jnp.zeros_like(self.loc)) + self.loc  # DiagLinear, then Shift

    def log_prob_raw(self, u: chex.Array) -> chex.Array:
        """[..., A] -> [...]: log-density of the squashed action `action(u)` at pre-squash `u`."""
        # distrax's order matters for the gradients too: the cotangents of loc and scale add up in it
        inv_scale, log_scale = 1.0 / self.scale, jnp.log(jnp.abs(self.scale))
        x = inv_scale * ((u - self.loc) - jnp.zeros_like(u))  # Shift^-1, then DiagLinear^-1
        log_det = (jnp.sum(jnp.zeros_like(x), axis=-1)  # Shift's, then DiagLinear's inverse log-det
                   + jnp.sum(jnp.broadcast_to(-log_scale, x.shape), axis=-1))
        z = (x - jnp.zeros_like(self.loc)) / 1.0  # the standard normal's standardisation
        log_p = jnp.sum(-0.5 * jnp.square(z) - jnp.asarray(_HALF_LOG_2PI, z.dtype), axis=-1) + log_det
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
