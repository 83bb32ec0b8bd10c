"""Entropy-regularised discrete RL on ONE example: soft Q-learning and its policy-gradient twin.

Equation numbers refer to Schulman, Chen & Abbeel (2017), "Equivalence Between Policy Gradients and
Soft Q-Learning" (the last part of shared/papers/maxent-irl_soft-q-learning-svgd_pg-equals-soft-q.txt).
Actions are discrete: `q: [A]` holds Q(s, .) for one state. The reference policy pi-bar is given as
`log_prior: [A]`; None means uniform (the paper's Atari choice: a KL penalty against uniform).
`log_prior = zeros` (the counting measure) turns the KL penalty into the plain entropy bonus: the two
differ by the constant tau log |A| per step (Sec. 6.2, eqs. 82-83).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

Array = chex.Array
Numeric = chex.Numeric


def _log_prior(q: Array, log_prior: Array | None) -> Array:
    if log_prior is None:
        return jnp.full(q.shape, -jnp.log(q.shape[-1]), q.dtype)
    chex.assert_equal_shape([q, log_prior])
    return log_prior


def boltzmann_value(q: Array, tau: Numeric, log_prior: Array | None = None) -> Array:
    """V_Q(s) = tau log E_{a ~ pi-bar}[exp(Q(s, a) / tau)] (eq. 29), the soft value.

    With pi-bar uniform: tau logsumexp(Q / tau) - tau log |A|; as tau -> 0 it tends to max_a Q.
    (Eqs. 82-83 print the DQN targets as log sum exp(Q / tau) without the factor tau; they agree at
    tau = 1. We keep eq. 29's tau, which is what makes V the entropy-augmented value, eq. 31.)
    """
    chex.assert_rank(q, 1)
    return tau * jax.nn.logsumexp(q / tau + _log_prior(q, log_prior))


def boltzmann_log_policy(q: Array, tau: Numeric, log_prior: Array | None = None) -> Array:
    """log pi_Q^B(a|s) = log pi-bar(a|s) + (Q(s, a) - V_Q(s)) / tau (eqs. 28, 30), [A]."""
    chex.assert_rank(q, 1)
    return _log_prior(q, log_prior) + (q - boltzmann_value(q, tau, log_prior)) / tau


def kl_to_prior(log_pi: Array, log_prior: Array | None = None) -> Array:
    """`D_KL[pi || pi-bar](s) = sum_a pi(a) (log pi(a) - log pi-bar(a))`, for one state."""
    chex.assert_rank(log_pi, 1)
    return jnp.sum(jnp.exp(log_pi) * (log_pi - _log_prior(log_pi, log_prior)))


def entropy_regularised_returns(
    r_t: Array,
    discount_t: Array,
    v_next_t: Array,
    cut_t: Array,
    penalty_t: Array,
) -> Array:
    """n-step returns of a rollout with a per-step penalty, bootstrapped at the rollout's end and at
    every episode end inside it (A3C-style: step k looks n - k steps ahead):

        G_k = (r_k - penalty_k) + discount_k * (cut_k ? v_next_k : G_{k+1}),   G_n = v_next_{n-1}

    penalty = tau KL_t gives eq. 80's "proper" entropy-regularised return sum_d gamma^d (r - tau KL);
    penalty = 0 gives the naive return of eq. 79.

    Args:
      r_t: [n] rewards r_{t+k}.
      discount_t: [n] gamma * (1 - terminated_{t+k}); 0 where the step terminated the episode.
      v_next_t: [n] value of each step's TRUE next state s'_{t+k} (the final observation where the
        episode ended; only read where cut, and at the last step).
      cut_t: [n] 1 where the episode ended at step k (terminated or truncated): the return does not
        run on into the next episode. A truncation keeps discount gamma and bootstraps v_next.
      penalty_t: [n] the per-step penalty subtracted from the reward.

    Returns:
      [n] the returns G_k.
    """
    chex.assert_rank([r_t, discount_t, v_next_t, cut_t, penalty_t], 1)
    chex.assert_equal_shape([r_t, discount_t, v_next_t, cut_t, penalty_t])

    def step(g_next, inputs):
        r, discount, v_next, cut, penalty = inputs
        g = (r - penalty) + discount * jnp.where(cut > 0, v_next, g_next)
        return g, g

    _, g = jax.lax.scan(step, v_next_t[-1], (r_t, discount_t, v_next_t, cut_t, penalty_t), reverse=True)
    return g


def n_step_soft_q_target(
    r_t: Array,
    discount_t: Array,
    v_next_t: Array,
    cut_t: Array,
    tau_kl_t: Array,
) -> Array:
    """The n-step soft Q-learning target for the first step of a window (eq. 46):

        y_t = tau KL_t + sum_{d=0}^{n-1} gamma^d (r_{t+d} - tau KL_{t+d}) + gamma^n V_Q(s_{t+n})

    with V_Q of the target network in `v_next_t` and `tau KL_{t+d} = tau D_KL[pi_Q^B || pi-bar](s_{t+d})`
    in `tau_kl_t`. The leading tau KL_t cancels the first step's penalty: Q(s_t, a_t) omits the KL of
    its own state (Sec. 3.2). n = 1 is eq. 45, r + gamma V(s').
    Episode ends inside the window follow `entropy_regularised_returns`. Returns a scalar.
    """
    g = entropy_regularised_returns(r_t, discount_t, v_next_t, cut_t, tau_kl_t)
    return tau_kl_t[0] + g[0]


def a2c_policy_loss(
    log_pi: Array,
    action: Numeric,
    advantage: Numeric,
    tau: Numeric,
    log_prior: Array | None = None,
) -> Array:
    """`L_policy = -log pi(a_t|s_t) * stop_gradient(Delta_t) + tau D_KL[pi || pi-bar](s_t)` (eq. 84).

    Its gradient is eq. 79 (naive) or eq. 80 (proper) depending on the advantage passed: Delta_t =
    G_t - V(s_t) with G from `entropy_regularised_returns` with penalty 0 (naive) or tau KL (proper).

    Args:
      log_pi: [A] log-probabilities of the policy at s_t (differentiable).
      action: the action taken (int).
      advantage: Delta_t (its gradient is stopped).
    """
    chex.assert_rank([log_pi, action, advantage], [1, 0, 0])
    return -log_pi[action] * jax.lax.stop_gradient(advantage) + tau * kl_to_prior(log_pi, log_prior)


def value_loss(v: Numeric, target: Numeric) -> Array:
    """L_value = 1/2 (V(s_t) - stop_gradient(V-hat_t))^2 (eq. 85)."""
    chex.assert_rank([v, target], [0, 0])
    return 0.5 * jnp.square(v - jax.lax.stop_gradient(target))


def dqn_target(r_t: Numeric, discount_t: Numeric, q_next: Array) -> Array:
    """Standard DQN target r + discount * max_a' Q(s', a') (eq. 81)."""
    chex.assert_rank([r_t, discount_t, q_next], [0, 0, 1])
    return r_t + discount_t * jnp.max(q_next)


def soft_dqn_target(r_t: Numeric, discount_t: Numeric, q_next: Array, tau: Numeric,
                    log_prior: Array | None = None) -> Array:
    """Soft DQN target r + discount * V_Q(s') (eqs. 45, 82-83): KL penalty against uniform with
    `log_prior=None` (eq. 82), entropy bonus with `log_prior=zeros` (eq. 83)."""
    chex.assert_rank([r_t, discount_t, q_next], [0, 0, 1])
    return r_t + discount_t * boltzmann_value(q_next, tau, log_prior)
