"""Pure, network-free maths on ONE example (rlax style); callers vmap."""

from softrl_jax.ops.soft import (
    BASELINES,
    dspg_actor_optimizer,
    leave_one_out_mean,
    soft_bellman_target,
    soft_policy_gradient_loss,
    soft_q_critic_loss,
)

__all__ = [
    "BASELINES",
    "dspg_actor_optimizer",
    "leave_one_out_mean",
    "soft_bellman_target",
    "soft_policy_gradient_loss",
    "soft_q_critic_loss",
]
