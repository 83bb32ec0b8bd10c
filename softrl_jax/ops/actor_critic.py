"""SAC and DDPG maths, one example at a time (rlax style); callers batch with `jax.vmap`.

References:
  SAC v1: Haarnoja, Zhou, Abbeel & Levine (2018a), "Soft Actor-Critic: Off-Policy Maximum Entropy
    Deep Reinforcement Learning with a Stochastic Actor" (V-network, eqs. 5, 7, 12).
  SAC v2: Haarnoja, Zhou, Hartikainen et al. (2018b), "Soft Actor-Critic Algorithms and
    Applications" (twin critics with the minimum, learned temperature, eqs. 5, 7, 18).
  TD3: Fujimoto, van Hoof & Meger (2018), clipped double Q (the minimum over critics).
  DDPG: Lillicrap, Hunt, Pritzel et al. (2015), "Continuous control with deep reinforcement
    learning" (Algorithm 1; Ornstein-Uhlenbeck exploration, Sec. 7).

No function here stops a gradient unless its docstring says so; the squared-error critic loss
`softrl_jax.ops.soft_q_critic_loss` stops the gradient of the target.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

Array = chex.Array
Numeric = chex.Numeric


def sac_critic_target(
    r_t: Numeric,
    discount_t: Numeric,
    q_t: Array,
    log_pi_t: Numeric,
    alpha: Numeric,
) -> Array:
    """Soft Bellman target of SAC v2 with clipped double Q, for one transition (SAC v2 eqs. 3, 5).

        y = r_t + discount_t * (min_k q_t[k] - alpha * log_pi_t)

    Args:
      r_t: scalar reward (already scaled by any reward scale).
      discount_t: scalar `gamma * (1 - terminated)`; a truncation keeps `gamma`.
      q_t: [K] target critics `Q'_k(s', a')` at ONE action `a' ~ pi(.|s')`.
      log_pi_t: scalar `log pi(a'|s')` of the same action.
      alpha: temperature.

    Returns:
      scalar target `y`.
    """
    chex.assert_rank([r_t, discount_t, q_t, log_pi_t], [0, 0, 1, 0])
    return r_t + discount_t * (jnp.min(q_t) - alpha * log_pi_t)


def sac_actor_loss(q: Array, log_pi: Numeric, alpha: Numeric) -> Array:
    """Reparameterised SAC policy loss at one state (SAC v2 eq. 7 / 18 with clipped double Q).

        loss = alpha * log_pi - min_k q[k]

    where `a = f_phi(eps; s)` is reparameterised so both terms carry the policy gradient.

    Args:
      q: [K] critics `Q_k(s, a)` at the sampled action.
      log_pi: scalar `log pi(a|s)`.
      alpha: temperature (a constant here; it is trained by `sac_temperature_loss`).
    """
    chex.assert_rank([q, log_pi], [1, 0])
    return alpha * log_pi - jnp.min(q)


ALPHA_LOSSES = ("log_alpha", "alpha")


def sac_temperature_loss(log_alpha: Numeric, log_pi: Numeric, target_entropy: Numeric,
                         multiplier: str = "log_alpha") -> Array:
    """Temperature loss at one sampled action (SAC v2 eq. 18), with the temperature parameterised by
    `log_alpha` (so `alpha = exp(log_alpha)` stays positive). Two forms are in use:

        multiplier "log_alpha" (softlearning, the SAC authors' code):
            loss = -log_alpha * stop_gradient(log_pi + target_entropy)
            d loss / d log_alpha = -(log_pi + target_entropy)
        multiplier "alpha" (CleanRL's sac_continuous_action.py, `-log_alpha.exp() * (log_pi + target)`;
        eq. 18 as written, in alpha):
            loss = -exp(log_alpha) * stop_gradient(log_pi + target_entropy)
            d loss / d log_alpha = -alpha * (log_pi + target_entropy)

    Both lower alpha when the entropy estimate `-log_pi` exceeds the target and raise it otherwise;
    the second scales the step by alpha (smaller steps as the temperature falls).

    Args:
      log_alpha: scalar log temperature (the only differentiable input).
      log_pi: scalar `log pi(a|s)` of an action from the current policy; its gradient is stopped.
      target_entropy: scalar target (softlearning and CleanRL: `-A`).
      multiplier: "log_alpha" or "alpha", as above.
    """
    chex.assert_rank([log_alpha, log_pi, target_entropy], [0, 0, 0])
    if multiplier not in ALPHA_LOSSES:
        raise ValueError(f"multiplier={multiplier!r}; valid choices: {', '.join(ALPHA_LOSSES)}")
    scale = jnp.exp(log_alpha) if multiplier == "alpha" else log_alpha
    return -scale * jax.lax.stop_gradient(log_pi + target_entropy)


def sac_value_target(q: Array, log_pi: Numeric, alpha: Numeric) -> Array:
    """Regression target of the SAC v1 state-value network at one state (SAC v1 eq. 5).

        V_target(s) = min_k q[k] - alpha * log_pi,    a ~ pi(.|s) from the CURRENT policy

    With K = 1 this is the "general form without tricks" of the DSPG paper's SAC baseline.

    Args:
      q: [K] current critics `Q_k(s, a)`.
      log_pi: scalar `log pi(a|s)`.
      alpha: temperature (SAC v1 folds it into the reward scale: alpha = 1).
    """
    chex.assert_rank([q, log_pi], [1, 0])
    return jnp.min(q) - alpha * log_pi


def value_bootstrap_target(r_t: Numeric, discount_t: Numeric, v_t: Numeric) -> Array:
    """One-step target of the SAC v1 Q-network from the target V-network (SAC v1 eq. 8).

        y = r_t + discount_t * v_t,    v_t = V_psi'(s')

    Args:
      r_t: scalar reward (already scaled).
      discount_t: scalar `gamma * (1 - terminated)`.
      v_t: scalar target state value at the next state.
    """
    chex.assert_rank([r_t, discount_t, v_t], [0, 0, 0])
    return r_t + discount_t * v_t


def ddpg_target(r_t: Numeric, discount_t: Numeric, q_t: Numeric) -> Array:
    """DDPG critic target for one transition (Lillicrap et al. 2015, Algorithm 1).

        y = r_t + discount_t * q_t,    q_t = Q'(s', mu'(s'))

    `q_t` comes from the TARGET critic at the TARGET actor's action, without exploration noise.

    Args:
      r_t: scalar reward (already scaled).
      discount_t: scalar `gamma * (1 - terminated)`.
      q_t: scalar `Q'(s', mu'(s'))`.
    """
    chex.assert_rank([r_t, discount_t, q_t], [0, 0, 0])
    return r_t + discount_t * q_t


def ddpg_actor_loss(q: Numeric) -> Array:
    """Deterministic policy gradient surrogate at one state (Lillicrap et al. 2015, eq. 6).

        loss = -q,    q = Q(s, mu(s)),    grad = -grad_a Q(s, a)|_{a = mu(s)} grad_theta mu(s)

    Args:
      q: scalar `Q(s, mu_theta(s))`, differentiable in the actor parameters through the action.
    """
    chex.assert_rank(q, 0)
    return -q


def ornstein_uhlenbeck_step(x_tm1: Array, eps: Array, theta: Numeric, sigma: Numeric, dt: Numeric) -> Array:
    """One Euler-Maruyama step of a zero-mean Ornstein-Uhlenbeck process (DDPG Sec. 7).

        x_t = x_tm1 - theta * x_tm1 * dt + sigma * sqrt(dt) * eps,    eps ~ N(0, I)

    Lag-one autocorrelation `1 - theta*dt`; stationary variance `sigma^2 dt / (1 - (1 - theta dt)^2)`,
    which tends to the continuous-time `sigma^2 / (2 theta)` as dt -> 0 (DDPG: theta 0.15,
    sigma 0.2, dt 1 gives std 0.380 against 0.365).

    Args:
      x_tm1: [A] previous noise state (zeros at the start of an episode).
      eps: [A] standard normal draw.
      theta: mean-reversion rate.
      sigma: diffusion scale.
      dt: time step.

    Returns:
      [A] next noise state.
    """
    chex.assert_rank([x_tm1, eps], [1, 1])
    chex.assert_equal_shape([x_tm1, eps])
    return x_tm1 - theta * x_tm1 * dt + sigma * jnp.sqrt(dt) * eps
