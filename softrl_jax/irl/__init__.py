"""Maximum-entropy inverse RL on tabular MDPs: tasks (`tasks`) and fitting loops (`fit`).
The maths on one MDP is `softrl_jax.ops.maxent_irl`."""

from softrl_jax.irl.fit import (
    OPTIMIZERS,
    FitResult,
    evaluate,
    exponentiated_gradient,
    fit_frequency,
    fit_maxent,
    fit_projection,
    sample_demos,
    soft_optimal_policy,
)
from softrl_jax.irl.tasks import TASKS, TabularMDP, gridworld, objectworld

__all__ = [
    "OPTIMIZERS",
    "FitResult",
    "evaluate",
    "exponentiated_gradient",
    "fit_frequency",
    "fit_maxent",
    "fit_projection",
    "sample_demos",
    "soft_optimal_policy",
    "TASKS",
    "TabularMDP",
    "gridworld",
    "objectworld",
]
