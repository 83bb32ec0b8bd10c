"""Stein variational gradient descent (SVGD) and the importance-sampled soft value, one state at a time.

Equation numbers refer to Haarnoja, Tang, Abbeel & Levine (2017), "Reinforcement Learning with Deep
Energy-Based Policies" (soft Q-learning), part 2 of papers/maxent-irl_soft-q-learning-svgd_pg-equals-soft-q.txt.
The kernel and its median bandwidth follow the authors' code (github haarnoja/softqlearning,
`adaptive_isotropic_gaussian_kernel`). Every function acts on ONE state's particles; callers vmap.
"""

from __future__ import annotations

import math

import chex
import jax
import jax.numpy as jnp
from jax.scipy.special import digamma, gammaln

Array = chex.Array
Numeric = chex.Numeric

# Floor of the median-heuristic bandwidth (authors' code: h_min = 1e-3).
MIN_BANDWIDTH = 1e-3


def median_bandwidth(dist_sq: Array, num_x: int, min_bandwidth: Numeric = MIN_BANDWIDTH) -> Array:
    """Median heuristic `h = max(median(dist_sq) / log(K), min_bandwidth)`, no gradient through h.

    Args:
      dist_sq: [K, L] squared distances `||x_k - y_l||^2`.
      num_x: K, the number of particles the kernel expectation runs over (needs K >= 2).
      min_bandwidth: floor on h (authors 1e-3).

    Returns:
      scalar h. The authors' top-k picks the lower middle value for an even count; `jnp.median`
      averages the two middle values. The paper's Appendix D.1 writes `d / (2 log(M + 1))` with d a
      median DISTANCE; we follow the code (squared distance, log K), as REFERENCE.md pins.
    """
    chex.assert_rank(dist_sq, 2)
    if num_x < 2:
        raise ValueError(f"median bandwidth needs at least 2 particles, got K={num_x}")
    h = jnp.maximum(_median(dist_sq.reshape(-1)) / math.log(num_x), min_bandwidth)
    return jax.lax.stop_gradient(h)


def _median(v: Array) -> Array:
    """[N] -> []: the median as `jnp.median` defines it, by one partial sort (XLA's CPU sort is slow)."""
    n = v.shape[0]
    part = jnp.partition(v, n // 2)
    upper = part[n // 2]
    return upper if n % 2 else 0.5 * (jnp.max(part[: n // 2]) + upper)


def rbf_kernel(x: Array, y: Array, bandwidth: Numeric | None = None,
               min_bandwidth: Numeric = MIN_BANDWIDTH) -> tuple[Array, Array]:
    """RBF kernel `k(x, y) = exp(-||x - y||^2 / h)` and its gradient in the FIRST argument.

        grad_x k(x, y) = -2 (x - y) / h * k(x, y)

    Args:
      x: [K, D] particles the SVGD expectation runs over ("fixed" particles).
      y: [L, D] particles the direction is evaluated at ("updated" particles).
      bandwidth: h; None uses `median_bandwidth` of the K*L squared distances (stop-gradient).
      min_bandwidth: floor of the median heuristic (ignored when `bandwidth` is given).

    Returns:
      (k [K, L], grad_x_k [K, L, D]) with `grad_x_k[i, j] = d k(x_i, y_j) / d x_i`.
    """
    chex.assert_rank([x, y], 2)
    chex.assert_equal_shape_suffix([x, y], 1)
    diff = x[:, None, :] - y[None, :, :]  # [K, L, D]
    dist_sq = jnp.sum(jnp.square(diff), axis=-1)  # [K, L]
    h = median_bandwidth(dist_sq, x.shape[0], min_bandwidth) if bandwidth is None else bandwidth
    k = jnp.exp(-dist_sq / h)
    grad_x_k = -2.0 * diff / h * k[..., None]
    return k, grad_x_k


def svgd_direction(x: Array, grad_log_p: Array, y: Array, bandwidth: Numeric | None = None,
                   min_bandwidth: Numeric = MIN_BANDWIDTH) -> Array:
    """Stein variational direction at each `y` (eq. 13 divided by alpha; Liu & Wang 2016 eq. 8).

        phi(y_l) = 1/K sum_k [ k(x_k, y_l) * grad log p(x_k) + grad_{x_k} k(x_k, y_l) ]

    The first term drives particles uphill on log p; the second repels them from each other.
    Moving `y` by `eps * phi(y)` decreases KL(q || p) fastest within the kernel's RKHS.

    Args:
      x: [K, D] particles the expectation runs over (the authors' stop-gradient "fixed" set).
      grad_log_p: [K, D] `grad_x log p(x)` at each `x_k` (p may be unnormalised).
      y: [L, D] particles to move (the authors' "updated" set; may be `x` itself).
      bandwidth: kernel h; None uses the median heuristic over `x` and `y`.
      min_bandwidth: floor of the median heuristic.

    Returns:
      phi: [L, D].
    """
    chex.assert_rank([x, grad_log_p, y], 2)
    chex.assert_equal_shape([x, grad_log_p])
    k, grad_x_k = rbf_kernel(x, y, bandwidth, min_bandwidth)
    return jnp.mean(k[..., None] * grad_log_p[:, None, :] + grad_x_k, axis=0)


def amortized_svgd_loss(actions: Array, phi: Array) -> Array:
    """Surrogate whose gradient pushes `phi` through the sampling network (eq. 14, Appendix C.1).

        loss = -sum_{l, d} stop_gradient(phi[l, d]) * actions[l, d],   actions = f_phi(xi_l; s)
        grad loss = -sum_l phi(a_l)^T d f_phi(xi_l; s) / d phi

    Args:
      actions: [L, A] particles from the sampling network, differentiable in its parameters.
      phi: [L, A] SVGD direction at those particles; its gradient is stopped.

    Returns:
      scalar loss (authors: summed over particles).
    """
    chex.assert_rank([actions, phi], 2)
    chex.assert_equal_shape([actions, phi])
    return -jnp.sum(jax.lax.stop_gradient(phi) * actions)


def soft_value(q: Array, log_proposal: Array, alpha: Numeric = 1.0) -> Array:
    """Importance-sampled soft value of one state (eq. 10), via logsumexp.

        V = alpha * log( 1/M sum_j exp(q_j / alpha) / q_prop(a_j) )
          = alpha * ( logsumexp(q / alpha - log_proposal) - log M )

    With the authors' uniform proposal on [-1, 1]^A, `log_proposal = -A log 2` and
    `V = alpha * (logsumexp(q / alpha) - log M + A log 2)`.

    Args:
      q: [M] `Q(s, a_j)` at M actions `a_j ~ q_prop`.
      log_proposal: [M] `log q_prop(a_j)`.
      alpha: temperature (> 0); the authors fold it into the reward scale (alpha = 1).

    Returns:
      scalar soft value V(s). Its exponential is unbiased; V itself is biased low for small M.
    """
    chex.assert_rank([q, log_proposal], 1)
    chex.assert_equal_shape([q, log_proposal])
    m = q.shape[0]
    return alpha * (jax.nn.logsumexp(q / alpha - log_proposal) - math.log(m))


def uniform_log_density(actions: Array, low: Numeric = -1.0, high: Numeric = 1.0) -> Array:
    """[M, A] -> [M]: log-density of the uniform distribution on [low, high]^A (`-A log(high - low)`)."""
    chex.assert_rank(actions, 2)
    return jnp.full(actions.shape[:1], -actions.shape[1] * jnp.log(high - low), actions.dtype)


def tanh_log_barrier(actions: Array, eps: Numeric = 1e-6) -> Array:
    """[K, A] -> [K]: `sum_d log(1 - a_d^2 + eps)`, the squash term the authors add to log p.

    It is the log-Jacobian of tanh, `log(1 - tanh(u)^2)`, evaluated at `a = tanh(u)`; in SVGD it keeps
    the particles off the saturated edges of [-1, 1]. eps (authors 1e-6) keeps it finite at |a| = 1.
    """
    chex.assert_rank(actions, 2)
    return jnp.sum(jnp.log(1.0 - jnp.square(actions) + eps), axis=-1)


def knn_entropy(x: Array) -> Array:
    """Kozachenko-Leonenko nearest-neighbour estimate of the differential entropy of samples x [N, D].

        H ~= psi(N) - psi(1) + log V_D + D/N sum_i log r_i

    r_i: distance from x_i to its nearest other sample; V_D = pi^(D/2) / Gamma(1 + D/2), the volume
    of the unit D-ball (Kraskov, Stoegbauer & Grassberger 2004, eq. 20 with k = 1). Asymptotically
    unbiased; with a handful of particles it is a coarse, noisy diagnostic.

    Returns:
      scalar entropy in nats (requires N >= 2 distinct samples).
    """
    chex.assert_rank(x, 2)
    n, d = x.shape
    dist_sq = jnp.sum(jnp.square(x[:, None, :] - x[None, :, :]), axis=-1)
    dist_sq = jnp.where(jnp.eye(n, dtype=bool), jnp.inf, dist_sq)
    log_r = 0.5 * jnp.log(jnp.min(dist_sq, axis=1))
    log_unit_ball = 0.5 * d * math.log(math.pi) - gammaln(1.0 + 0.5 * d)
    return digamma(float(n)) - digamma(1.0) + log_unit_ball + d * jnp.mean(log_r)
