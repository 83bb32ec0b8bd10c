"""Algorithms by name. Each module declares `Config`, `PRESETS`, `TASK_DEFAULTS`, pure `init` and
`update`, `act` and `act_eval`; `loop.make_agent(module, cfg, obs_size, action_size, spec)` binds them.
Discrete-action modules declare `DISCRETE = True` (every function takes the EnvSpec after `cfg`) and
may declare `window(cfg) -> n` to learn from n-step windows of the replay; on-policy modules declare
`ON_POLICY = True` (softrl_jax/onpolicy.py)."""

from __future__ import annotations

import importlib
from typing import Any, Mapping

from softrl_jax.config import ConfigError, LoopConfig, RunConfig, apply_overrides, check_loop, validate

ALGOS = ("dspg", "sac", "ddpg", "sql", "dqn", "soft_dqn", "a2c_naive", "a2c_soft", "soft_dqn_pg")


def get(name: str):
    if name not in ALGOS:
        raise ConfigError(f"unknown algo {name!r}; valid choices: {', '.join(ALGOS)}")
    return importlib.import_module(f"softrl_jax.algos.{name}")


def task_of(env_name: str) -> str:
    """'brax:hopper:spring' -> 'hopper'; 'gymnax:Pendulum-v1' -> 'Pendulum-v1'."""
    parts = env_name.split(":")
    return parts[1] if len(parts) > 1 else parts[0]


def default_preset(algo: str) -> str:
    """The first preset an algorithm lists (DSPG: paper; SAC and DDPG: modern)."""
    return next(iter(get(algo).PRESETS))


LAYERS = ("default", "per-task", "preset", "preset per-task", "flag")  # run_config's layers, lowest first


def config_layers(algo: str, preset: str | None = None, overrides: Mapping[str, Any] | None = None):
    """(module, preset, task, [(layer name, {field: value})]) of a run: the layers of `run_config`
    above the config defaults, lowest first (names from LAYERS). Raises ConfigError."""
    from softrl_jax import envs

    module = get(algo)
    preset = default_preset(algo) if preset is None else preset
    overrides = dict(overrides or {})
    if preset not in module.PRESETS:
        raise ConfigError(f"unknown preset {preset!r} for {algo}; valid choices: {', '.join(module.PRESETS)}")
    # The environment: the flag, else the preset's own (the discrete algorithms' presets name theirs),
    # else the loop default.
    env_name = overrides.get("env", module.PRESETS[preset].get("env", LoopConfig.env))
    if not isinstance(env_name, str):
        raise ConfigError(f"--env={env_name!r} is not a valid str")
    try:
        envs.check_env_name(env_name)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    discrete = bool(getattr(module, "DISCRETE", False))
    if envs.is_discrete(env_name) != discrete:
        kind, choices = (("discrete", envs.discrete_env_choices()) if discrete else
                         ("continuous", [e for e in envs.env_choices() if not envs.is_discrete(e)]))
        raise ConfigError(f"--env={env_name} does not fit --algo={algo}, which needs {kind} actions; valid choices: "
                          + ", ".join(choices))
    task = task_of(env_name)
    preset_task = getattr(module, "PRESET_TASK_DEFAULTS", {}).get(preset, {}).get(task, {})
    layers = [("per-task", module.TASK_DEFAULTS.get(task, {})), ("preset", module.PRESETS[preset]),
              ("preset per-task", preset_task), ("flag", overrides)]
    return module, preset, task, layers


def run_config(algo: str, preset: str | None = None, overrides: Mapping[str, Any] | None = None) -> RunConfig:
    """Layers: config defaults < per-task defaults < preset < the preset's per-task defaults (a module's
    optional PRESET_TASK_DEFAULTS) < overrides. Raises ConfigError.

    `preset=None` takes the algorithm's default preset (the first in its PRESETS)."""
    module, preset, _, layers = config_layers(algo, preset, overrides)
    loop, cfg = LoopConfig(), module.Config()
    sources = {"per-task": "task default", "preset": "preset field", "preset per-task": "preset task default",
               "flag": "flag"}
    for name, layer in layers:
        loop, cfg = apply_overrides(loop, cfg, layer, sources[name])
    validate(cfg)
    if hasattr(module, "check"):  # the algorithm's cross-field checks
        module.check(cfg)
    if hasattr(module, "check_loop"):  # on-policy algorithms: their own loop checks (no replay, no warm-up)
        module.check_loop(loop, cfg)
    else:
        check_loop(loop, cfg.batch_size)
    return RunConfig(algo, preset, loop, cfg)
