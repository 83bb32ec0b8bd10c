"""Environments by name: `brax:<task>[:<backend>]`, `playground:<task>` (MuJoCo Playground on MJX),
`gymnax:<task>`, and our own JAX tasks."""

from __future__ import annotations

from softrl_jax.envs.backends import (BRAX_BACKENDS, GYMNAX_DISCRETE, GYMNAX_TASKS, PlaygroundAssetsMissing, brax_task_names,
                                      make_brax, make_gymnax, make_playground, playground_task_names)
from softrl_jax.envs.core import (AUTORESETS, Env, EnvSpec, EnvState, ResetPool, StepInfo, Transition,
                                  make_reset_pool, reset, step)

OWN_TASKS: dict = {}


def env_choices() -> list[str]:
    """Every valid `--env` value (Brax tasks listed with their default MJX backend)."""
    return ([f"brax:{t}" for t in brax_task_names()] + [f"playground:{t}" for t in playground_task_names()]
            + [f"gymnax:{t}" for t in GYMNAX_TASKS] + sorted(OWN_TASKS))


def check_env_name(name: str) -> None:
    """Raise ValueError with the valid choices if `name` is not a known environment."""
    parts = name.split(":")
    ok = False
    if parts[0] == "brax" and len(parts) in (2, 3):
        ok = parts[1] in brax_task_names() and (len(parts) == 2 or parts[2] in BRAX_BACKENDS)
    elif parts[0] == "playground" and len(parts) == 2:
        ok = parts[1] in playground_task_names()
    elif parts[0] == "gymnax" and len(parts) == 2:
        ok = parts[1] in GYMNAX_TASKS
    elif len(parts) == 1:
        ok = name in OWN_TASKS
    if not ok:
        raise ValueError(
            f"unknown env {name!r}; valid choices: {', '.join(env_choices())} "
            f"(Brax backends: brax:<task>:{'|'.join(BRAX_BACKENDS)}, default mjx)")


def is_discrete(name: str) -> bool:
    """Whether the (valid) environment `name` has discrete actions, known from its name alone."""
    return name.startswith("gymnax:") and name.split(":")[1] in GYMNAX_DISCRETE


def discrete_env_choices() -> list[str]:
    return [f"gymnax:{t}" for t in GYMNAX_DISCRETE]


def make(name: str, episode_length: int | None = None) -> Env:
    """Build a single environment from its command-line name."""
    check_env_name(name)
    parts = name.split(":")
    if parts[0] == "brax":
        return make_brax(parts[1], parts[2] if len(parts) == 3 else "mjx", episode_length)
    if parts[0] == "playground":
        return make_playground(parts[1], episode_length)
    if parts[0] == "gymnax":
        return make_gymnax(parts[1], episode_length)
    return OWN_TASKS[name](episode_length)


__all__ = ["AUTORESETS", "Env", "EnvSpec", "EnvState", "ResetPool", "StepInfo", "Transition", "check_env_name",
           "env_choices", "discrete_env_choices", "is_discrete", "make", "make_reset_pool", "reset", "step", "OWN_TASKS", "PlaygroundAssetsMissing"]

from softrl_jax.envs.multigoal import make_multigoal  # noqa: E402  (own tasks register after OWN_TASKS)

OWN_TASKS["multigoal"] = make_multigoal
