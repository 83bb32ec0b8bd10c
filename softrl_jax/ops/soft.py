"""Soft (maximum-entropy) value and policy-gradient maths, one example at a time.

Every function here acts on ONE example (one transition or one state); callers batch with
`jax.vmap`, as in rlax. Equation numbers refer to Shi, Song & Wu (2019), "Soft Policy Gradient
Method for Maximum Entropy Deep Reinforcement Learning" (DSPG), unless said otherwise.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import optax

Array = chex.Array
Numeric = chex.Numeric

BASELINES = ("none", "loo")


def soft_bellman_target(
    r_t: Numeric,
    discount_t: Numeric,
    q_t: Array,
    log_pi_t: Array,
    alpha: Numeric = 1.0,
) -> Array:
    """Sampled soft Bellman target for one transition (DSPG eq. 15, temperature explicit).

        y = r_t + discount_t * mean_j[ q_t[j] - alpha * log_pi_t[j] ]

    Args:
      r_t: scalar reward of the transition (already scaled by any reward scale).
      discount_t: scalar `gamma * (1 - terminated)`; a time-limit truncation keeps `gamma`.
      q_t: [M] target critic `Q_w'(s', a'_j)` at M actions `a'_j ~ pi_theta'(.|s')`.
      log_pi_t: [M] target-policy log-probabilities `log pi_theta'(a'_j|s')` of the same actions.
      alpha: temperature; the paper folds it into the reward (alpha = 1, reward scale 5).

    Returns:
      scalar target `y`. No gradient is stopped here; the critic loss stops it.
    """
    chex.assert_rank([r_t, discount_t, q_t, log_pi_t], [0, 0, 1, 1])
    chex.assert_equal_shape([q_t, log_pi_t])
    soft_v = jnp.mean(q_t - alpha * log_pi_t)
    return r_t + discount_t * soft_v


def soft_q_critic_loss(q_tm1: Numeric, target: Numeric) -> Array:
    """Squared soft Bellman error for one transition (DSPG eq. 16): `(q - stop_gradient(y))^2`.

    Args:
      q_tm1: scalar `Q_w(s, a)` of the stored action.
      target: scalar `y` from `soft_bellman_target`; its gradient is stopped.
    """
    chex.assert_rank([q_tm1, target], [0, 0])
    return jnp.square(q_tm1 - jax.lax.stop_gradient(target))


def leave_one_out_mean(x: Array) -> Array:
    """[M] -> [M]: entry j is the mean of x over the other M - 1 entries."""
    chex.assert_rank(x, 1)
    m = x.shape[0]
    return (jnp.sum(x) - x) / (m - 1)


def soft_policy_gradient_loss(
    log_pi: Array,
    q: Array,
    alpha: Numeric = 1.0,
    baseline: str = "none",
) -> Array:
    """Surrogate loss whose gradient is minus the soft policy gradient at one state (eqs. 5, 13, 17).

        loss = -mean_j[ stop_gradient(q_j - alpha * log_pi_j - alpha - b_j) * log_pi_j ]
        grad loss = -1/M sum_j (Q(s, a_j) - alpha log pi(a_j|s) - alpha - b_j) grad log pi(a_j|s)

    The M actions `a_j ~ pi(.|s)` are drawn from the CURRENT policy and held constant ("double
    sampling"); only `log_pi` carries the gradient (score-function estimator).

    Args:
      log_pi: [M] `log pi_theta(a_j|s)`, differentiable in the policy parameters.
      q: [M] critic values `Q_w(s, a_j)`; treated as constants.
      alpha: temperature.
      baseline: "none" is the paper's estimator (b = 0). "loo" subtracts the leave-one-out mean of
        `q - alpha * log_pi` over the other M - 1 samples; since b_j does not depend on a_j the
        estimate stays unbiased while its variance drops sharply (docs/training.md, "Finding: the paper's estimator needs a baseline").

    Returns:
      scalar loss.
    """
    chex.assert_rank([log_pi, q], [1, 1])
    chex.assert_equal_shape([log_pi, q])
    if baseline not in BASELINES:
        raise ValueError(f"baseline={baseline!r}; valid choices: {', '.join(BASELINES)}")
    soft_q = q - alpha * log_pi
    advantage = soft_q - alpha
    if baseline == "loo":
        if log_pi.shape[0] < 2:
            raise ValueError("baseline='loo' needs at least M=2 samples per state")
        advantage = advantage - leave_one_out_mean(soft_q)
    return -jnp.mean(jax.lax.stop_gradient(advantage) * log_pi)


def dspg_actor_optimizer(learning_rate: Numeric, clip_norm: Numeric) -> optax.GradientTransformation:
    """DSPG actor optimiser (eq. 18): clip the actor gradient by GLOBAL norm N, then Adam.

    Args:
      learning_rate: Adam step size (paper: 5e-5).
      clip_norm: global-norm bound N (paper grid {1, 3, 5}).
    """
    return optax.chain(optax.clip_by_global_norm(clip_norm), optax.adam(learning_rate))
