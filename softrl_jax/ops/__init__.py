"""Pure, network-free maths on ONE example (rlax style); callers vmap.

Maximum-entropy IRL on one tabular MDP lives in `softrl_jax.ops.maxent_irl`; its public entry point
`expected_state_visitation` (and the discounted pieces) are re-exported here."""

from softrl_jax.ops.actor_critic import (
    ALPHA_LOSSES,
    ddpg_actor_loss,
    ddpg_target,
    ornstein_uhlenbeck_step,
    sac_actor_loss,
    sac_critic_target,
    sac_temperature_loss,
    sac_value_target,
    value_bootstrap_target,
)
from softrl_jax.ops.distributional import (
    categorical_loss,
    categorical_mean,
    categorical_projection,
    categorical_projection_uniform,
    categorical_td_target,
    sampled_categorical_td_target,
)
from softrl_jax.ops.entropy_pg import (
    a2c_policy_loss,
    boltzmann_log_policy,
    boltzmann_value,
    dqn_target,
    entropy_regularised_returns,
    kl_to_prior,
    n_step_soft_q_target,
    soft_dqn_target,
    value_loss,
)
from softrl_jax.ops.maxent_irl import (
    discounted_state_visitation,
    expected_state_visitation,
    soft_value_iteration,
)
from softrl_jax.ops.soft import (
    BASELINES,
    dspg_actor_optimizer,
    leave_one_out_mean,
    soft_bellman_target,
    soft_policy_gradient_loss,
    soft_q_critic_loss,
)
from softrl_jax.ops.svgd import (
    amortized_svgd_loss,
    knn_entropy,
    median_bandwidth,
    rbf_kernel,
    soft_value,
    svgd_direction,
    tanh_log_barrier,
    uniform_log_density,
)

__all__ = [
    "ALPHA_LOSSES",
    "ddpg_actor_loss",
    "ddpg_target",
    "ornstein_uhlenbeck_step",
    "sac_actor_loss",
    "sac_critic_target",
    "sac_temperature_loss",
    "sac_value_target",
    "value_bootstrap_target",
    "categorical_loss",
    "categorical_mean",
    "categorical_projection",
    "categorical_projection_uniform",
    "categorical_td_target",
    "sampled_categorical_td_target",
    "a2c_policy_loss",
    "boltzmann_log_policy",
    "boltzmann_value",
    "dqn_target",
    "entropy_regularised_returns",
    "kl_to_prior",
    "n_step_soft_q_target",
    "soft_dqn_target",
    "value_loss",
    "discounted_state_visitation",
    "expected_state_visitation",
    "soft_value_iteration",
    "BASELINES",
    "dspg_actor_optimizer",
    "leave_one_out_mean",
    "soft_bellman_target",
    "soft_policy_gradient_loss",
    "soft_q_critic_loss",
    "amortized_svgd_loss",
    "knn_entropy",
    "median_bandwidth",
    "rbf_kernel",
    "soft_value",
    "svgd_direction",
    "tanh_log_barrier",
    "uniform_log_density",
]
