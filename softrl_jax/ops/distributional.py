"""Categorical (C51) distributional critic maths, one example at a time (rlax style); callers vmap.

A categorical critic represents the return distribution `Z(s, a)` as probabilities `p_i` on a fixed,
sorted support `z_1 < ... < z_N` (`z_1 = v_min`, `z_N = v_max`), with `Q(s, a) = sum_i p_i z_i`.

References:
  C51: Bellemare, Dabney & Munos (2017), "A Distributional Perspective on Reinforcement Learning"
    (ICML), Sec. 4 and Algorithm 1: the distributional Bellman target `r + discount * Z'` is projected
    back onto the support, and the critic minimises the cross-entropy to the projection.
  Rowland, Bellemare, Dabney, Munos & Teh (2018), "An Analysis of Categorical Distributional
    Reinforcement Learning" (AISTATS), Prop. 1: the projection is the Cramer (L2 of CDFs) projection
    `Phi`, with the hat-function form used here; it is linear in the probabilities and preserves the
    mean of any distribution supported inside `[v_min, v_max]`.
  rlax `categorical_l2_project` (github.com/google-deepmind/rlax, rlax/_src/value_learning.py): the
    same projection for a sorted, not necessarily uniform, support.
  Soft (maximum-entropy) distributional target, as in distributional SAC variants (Ma et al. 2020,
    "DSAC: Distributional Soft Actor Critic for Risk-Sensitive RL"; Duan et al. 2021, "Distributional
    Soft Actor-Critic"): `Z(s, a) =_D r + discount * (Z(s', a') - alpha log pi(a'|s'))`, `a' ~ pi(.|s')`.

No function here stops a gradient unless its docstring says so; `categorical_loss` stops the
gradient of the target probabilities.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

Array = chex.Array
Numeric = chex.Numeric


def categorical_projection(target_atoms: Array, probs: Array, support: Array) -> Array:
    """Project the categorical distribution `sum_j probs[j] delta(target_atoms[j])` onto `support`.

    C51's projection (Bellemare et al. 2017, Algorithm 1; rlax `categorical_l2_project`): each target
    atom is clipped into `[v_min, v_max] = [support[0], support[-1]]`, then its mass is split
    linearly between the two neighbouring support atoms `z_i <= x <= z_{i+1}`:

        x_j = clip(target_atoms[j], v_min, v_max)
        out[i] = sum_j probs[j] * clip(1 - |x_j - z_i| / dz_i(x_j), 0, 1)

    where `dz_i(x) = z_{i+1} - z_i` when `x >= z_i` and `z_i - z_{i-1}` otherwise (the hat-function
    form of Rowland et al. 2018, Prop. 1). An atom that falls exactly on `z_i` puts all its mass
    there (Algorithm 1's `l == u` case, where the mass would otherwise be lost). Mass is conserved,
    and the mean is preserved whenever every target atom already lies in `[v_min, v_max]`; mass
    outside is moved to the end atoms, which biases the mean toward the bounds.

    Args:
      target_atoms: [N'] atom locations of the distribution to project (any order).
      probs: [N'] their probabilities (non-negative, summing to 1).
      support: [N] sorted, strictly increasing support of the result (N >= 2).

    Returns:
      [N] probabilities on `support`.
    """
    chex.assert_rank([target_atoms, probs, support], [1, 1, 1])
    chex.assert_equal_shape([target_atoms, probs])
    v_min, v_max = support[0], support[-1]
    x = jnp.clip(target_atoms, v_min, v_max)[:, None]  # [N', 1]
    z = support[None, :]  # [1, N]
    # Gaps to the next and previous atoms; the outermost atoms have no neighbour on one side (a
    # negative "gap" from wrapping around), whose inverse is set to 0 (only x == z_i reaches there).
    gap_up = (jnp.concatenate([support[1:], v_min[None]]) - support)[None, :]
    gap_down = (support - jnp.concatenate([v_max[None], support[:-1]]))[None, :]
    inv_up = jnp.where(gap_up > 0, 1.0 / jnp.where(gap_up > 0, gap_up, 1.0), 0.0)
    inv_down = jnp.where(gap_down > 0, 1.0 / jnp.where(gap_down > 0, gap_down, 1.0), 0.0)
    delta = x - z  # [N', N]
    distance = jnp.where(delta >= 0, delta * inv_up, -delta * inv_down)
    weights = jnp.clip(1.0 - distance, 0.0, 1.0)
    return jnp.sum(weights * probs[:, None], axis=0).astype(probs.dtype)


def categorical_projection_uniform(target_atoms: Array, probs: Array, support: Array) -> Array:
    """`categorical_projection` for an EVENLY SPACED support (C51's `linspace(v_min, v_max, N)`), by
    scatter-adding each atom's two shares instead of weighing every (atom, support) pair:
    O(N') work and memory rather than O(N' N). Bellemare et al. 2017, Algorithm 1 as written:

        b_j = (clip(x_j, v_min, v_max) - v_min) / dz,  l = floor(b_j),  u = ceil(b_j)
        out[l] += p_j (u - b_j),  out[u] += p_j (b_j - l)     (all of p_j to l where l == u)

    Equal to `categorical_projection(target_atoms, probs, support)` for such a support (tested).
    DSPG's target projects M x N atoms per transition: the dense form's [B, M, N, N] intermediate is
    2.7 GB at B = 8192, M = 8, N = 101; this one is [B, M, N].
    """
    chex.assert_rank([target_atoms, probs, support], [1, 1, 1])
    chex.assert_equal_shape([target_atoms, probs])
    n = support.shape[0]
    v_min, v_max = support[0], support[-1]
    b = (jnp.clip(target_atoms, v_min, v_max) - v_min) / ((v_max - v_min) / (n - 1))
    b = jnp.clip(b, 0.0, n - 1.0)
    low = jnp.floor(b)
    up = jnp.ceil(b)
    w_low = jnp.where(up == low, 1.0, up - b)
    w_up = jnp.where(up == low, 0.0, b - low)
    out = jnp.zeros((n,), probs.dtype)
    out = out.at[low.astype(jnp.int32)].add(probs * w_low)
    return out.at[up.astype(jnp.int32)].add(probs * w_up)


def categorical_td_target(
    r_t: Numeric,
    discount_t: Numeric,
    next_probs: Array,
    support: Array,
    shift: Numeric = 0.0,
    uniform_support: bool = False,
) -> Array:
    """Projected (soft) distributional Bellman target for one transition.

        target = Phi( sum_i next_probs[i] delta(r_t + discount_t * (z_i - shift)) )

    `shift = alpha * log pi(a'|s')` of the sampled next action gives the SOFT target
    `Z =_D r + discount * (Z'(s', a') - alpha log pi(a'|s'))` (SAC's soft Bellman backup, SAC v2
    eq. 3, in distribution); `shift = 0` gives C51's target `r + discount * Z'(s', a')` (DDPG's
    deterministic next action). Shifting the atoms by `-shift` equals shifting the reward by
    `-discount_t * shift`. With `discount_t = 0` (termination) every atom sits at `r_t`.

    Args:
      r_t: scalar reward (already scaled by any reward scale).
      discount_t: scalar `gamma * (1 - terminated)`; a time-limit truncation keeps `gamma`.
      next_probs: [N] target critic probabilities of `Z'(s', a')` on `support`.
      support: [N] sorted support.
      shift: scalar subtracted from every next atom (soft entropy term); 0 for non-soft targets.

    Returns:
      [N] target probabilities on `support`. No gradient is stopped here; the loss stops it.
    """
    chex.assert_rank([r_t, discount_t, next_probs, support, shift], [0, 0, 1, 1, 0])
    chex.assert_equal_shape([next_probs, support])
    atoms = r_t + discount_t * (support - shift)
    project = categorical_projection_uniform if uniform_support else categorical_projection
    return project(atoms, next_probs, support)


def sampled_categorical_td_target(
    r_t: Numeric,
    discount_t: Numeric,
    next_probs: Array,
    support: Array,
    shift: Array,
    uniform_support: bool = False,
) -> Array:
    """Distributional counterpart of DSPG's sampled soft Bellman target (DSPG eq. 15), one transition.

        target = 1/M sum_j categorical_td_target(r_t, discount_t, next_probs[j], support, shift[j])

    with `a'_j ~ pi'(.|s')`, `next_probs[j]` the target critic's distribution at `(s', a'_j)` and
    `shift[j] = alpha log pi'(a'_j|s')`: the projection of the equal-weight mixture of the M soft
    targets (the projection is linear). Its mean is `r_t + discount_t * mean_j(Q'(s', a'_j) - alpha
    log pi'(a'_j|s'))`, eq. 15 exactly, when no shifted atom leaves `[v_min, v_max]`.

    Args:
      r_t: scalar reward (already scaled).
      discount_t: scalar `gamma * (1 - terminated)`.
      next_probs: [M, N] target critic probabilities at the M sampled next actions.
      support: [N] sorted support.
      shift: [M] `alpha * log pi'(a'_j|s')`.

    Returns:
      [N] target probabilities on `support`.
    """
    chex.assert_rank([r_t, discount_t, next_probs, support, shift], [0, 0, 2, 1, 1])
    chex.assert_equal_shape_prefix([next_probs, shift], 1)
    # the projection is linear: project the mixture's M x N atoms at once, each with weight 1/M
    atoms = (r_t + discount_t * (support[None, :] - shift[:, None])).reshape(-1)
    probs = (next_probs / next_probs.shape[0]).reshape(-1)
    project = categorical_projection_uniform if uniform_support else categorical_projection
    return project(atoms, probs, support)


def categorical_loss(logits: Array, target_probs: Array) -> Array:
    """Cross-entropy of the critic's distribution to the projected target (C51, Algorithm 1's loss):

        loss = -sum_i stop_gradient(target_probs[i]) * log_softmax(logits)[i]

    Its gradient in the logits is `softmax(logits) - target_probs`; none reaches the target.

    Args:
      logits: [N] critic logits of `Z(s, a)` for the stored action.
      target_probs: [N] projected target probabilities; their gradient is stopped.
    """
    chex.assert_rank([logits, target_probs], [1, 1])
    chex.assert_equal_shape([logits, target_probs])
    return -jnp.sum(jax.lax.stop_gradient(target_probs) * jax.nn.log_softmax(logits))


def categorical_mean(logits: Array, support: Array) -> Array:
    """Q(s, a) = E[Z(s, a)] = sum_i softmax(logits)[i] * z_i.

    Args:
      logits: [N] critic logits.
      support: [N] support.
    """
    chex.assert_rank([logits, support], [1, 1])
    chex.assert_equal_shape([logits, support])
    return jnp.sum(jax.nn.softmax(logits) * support)
