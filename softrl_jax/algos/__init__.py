"""Algorithms by name: the registry (`AlgoSpec`) and the layered configuration of a run.

Each algorithm is registered with an `AlgoSpec`: its maths module (softrl_jax/algos/<module>.py: a frozen
`Config`, `check(cfg)` of cross-field values, and `make(cfg, spec) -> Agent`, the one protocol of
softrl_jax/agent.py; on-policy modules add `check_loop(loop, cfg)`), its presets (softrl_jax/presets),
its action type and loop kind, and the fields a sweep may batch. `programs.make_train` builds the
off-policy loop (softrl_jax/loop.py), or the on-policy one (softrl_jax/onpolicy.py) for
`loop="on_policy"`."""

from __future__ import annotations

import dataclasses
import importlib
import sys
from typing import Any, Mapping

from softrl_jax.config import ConfigError, LoopConfig, RunConfig, apply_overrides, check_loop, validate
from softrl_jax.presets import Presets

ACTIONS = ("continuous", "discrete")
LOOPS = ("off_policy", "on_policy")


@dataclasses.dataclass(frozen=True)
class AlgoSpec:
    """One registered algorithm. `module`: softrl_jax.algos.<module> (the maths); `presets`:
    "<softrl_jax.presets module>:<Presets constant>"; `batchable`: config fields a sweep may vmap as
    traced numbers (None: the sweep's rule, softrl_jax/sweep.py BATCHABLE)."""

    name: str
    module: str  # a name in softrl_jax/algos, or a dotted module path (an algorithm of your own)
    presets: str  # "<module in softrl_jax/presets, or a dotted path>:<Presets constant>"
    actions: str
    loop: str
    batchable: tuple[str, ...] | None = None

    def __post_init__(self):
        if self.actions not in ACTIONS or self.loop not in LOOPS:
            raise ValueError(f"AlgoSpec {self.name}: actions in {ACTIONS}, loop in {LOOPS}")


A2C_BATCHABLE = ("lr", "tau", "gamma", "value_coef", "rms_decay", "rms_eps")  # clip_norm = 0 is a Python branch
SPECS = {s.name: s for s in (
    AlgoSpec("dspg", "dspg", "dspg:DSPG", "continuous", "off_policy"),
    AlgoSpec("sac", "sac", "sac:SAC", "continuous", "off_policy"),
    AlgoSpec("ddpg", "ddpg", "ddpg:DDPG", "continuous", "off_policy"),
    AlgoSpec("sql", "sql", "sql:SQL", "continuous", "off_policy"),
    AlgoSpec("dqn", "dqn", "qlearn:DQN", "discrete", "off_policy"),
    AlgoSpec("soft_dqn", "soft_dqn", "qlearn:SOFT_DQN", "discrete", "off_policy"),
    AlgoSpec("a2c_naive", "a2c_naive", "a2c:A2C", "discrete", "on_policy", A2C_BATCHABLE),
    AlgoSpec("a2c_soft", "a2c_soft", "a2c:A2C", "discrete", "on_policy", A2C_BATCHABLE),
    AlgoSpec("soft_dqn_pg", "soft_dqn_pg", "a2c:SOFT_DQN_PG", "discrete", "on_policy", A2C_BATCHABLE),
)}
ALGOS = tuple(SPECS)
BUILT_IN = frozenset(SPECS)


def register(new: AlgoSpec) -> AlgoSpec:
    """Add an algorithm of your own to this process's registry (examples/td3.py): every command and
    function that takes an algorithm name then knows it. A registered name is refused."""
    global ALGOS
    if new.name in SPECS:
        raise ConfigError(f"algo {new.name!r} is registered already; choose another name")
    SPECS[new.name] = new
    ALGOS = tuple(SPECS)
    return new


def unregister(name: str) -> None:
    """Remove an algorithm `register` added (the built-in ones stay)."""
    global ALGOS
    if name in BUILT_IN:
        raise ConfigError(f"algo {name!r} is built in; only registered algorithms can be removed")
    SPECS.pop(name, None)
    ALGOS = tuple(SPECS)


def spec(name: str) -> AlgoSpec:
    if name not in SPECS:
        raise ConfigError(f"unknown algo {name!r}; valid choices: {', '.join(SPECS)}")
    return SPECS[name]


def _module(path: str, package: str):
    """A name in `package`, a dotted module path, or a module already loaded (a script's __main__)."""
    if "." not in path and path in sys.modules and not path.startswith(package):
        return sys.modules[path]
    return importlib.import_module(path if "." in path else f"{package}.{path}")


def get(name: str):
    """The maths module of an algorithm."""
    return _module(spec(name).module, "softrl_jax.algos")


def presets(name: str) -> Presets:
    module, const = spec(name).presets.split(":")
    return getattr(_module(module, "softrl_jax.presets"), const)


def task_of(env_name: str) -> str:
    """'brax:hopper:spring' -> 'hopper'; 'gymnax:Pendulum-v1' -> 'Pendulum-v1'."""
    parts = env_name.split(":")
    return parts[1] if len(parts) > 1 else parts[0]


def default_preset(algo: str) -> str:
    """The first preset an algorithm lists (DSPG: paper; SAC and DDPG: modern)."""
    return presets(algo).default


LAYERS = ("default", "per-task", "preset", "preset per-task", "flag")  # run_config's layers, lowest first


def config_layers(algo: str, preset: str | None = None, overrides: Mapping[str, Any] | None = None):
    """(module, preset, task, [(layer name, {field: value})]) of a run: the layers of `run_config`
    above the config defaults, lowest first (names from LAYERS). Raises ConfigError."""
    from softrl_jax import envs

    module, ps = get(algo), presets(algo)
    preset = ps.default if preset is None else preset
    overrides = dict(overrides or {})
    if preset not in ps.values:
        raise ConfigError(f"unknown preset {preset!r} for {algo}; valid choices: {', '.join(ps.values)}")
    # The environment: the flag, else the preset's own (the discrete algorithms' presets name theirs),
    # else the loop default.
    env_name = overrides.get("env", ps.values[preset].get("env", LoopConfig.env))
    if not isinstance(env_name, str):
        raise ConfigError(f"--env={env_name!r} is not a valid str")
    try:
        envs.check_env_name(env_name)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    discrete = spec(algo).actions == "discrete"
    if envs.is_discrete(env_name) != discrete:
        kind, choices = (("discrete", envs.discrete_env_choices()) if discrete else
                         ("continuous", [e for e in envs.env_choices() if not envs.is_discrete(e)]))
        raise ConfigError(f"--env={env_name} does not fit --algo={algo}, which needs {kind} actions; valid choices: "
                          + ", ".join(choices))
    task = task_of(env_name)
    preset_task = ps.preset_task_defaults.get(preset, {}).get(task, {})
    layers = [("per-task", ps.task_defaults.get(task, {})), ("preset", ps.values[preset]),
              ("preset per-task", preset_task), ("flag", overrides)]
    return module, preset, task, layers


def run_config(algo: str, preset: str | None = None, overrides: Mapping[str, Any] | None = None) -> RunConfig:
    """Layers: config defaults < per-task defaults < preset < the preset's per-task defaults < overrides
    (softrl_jax/presets). Raises ConfigError.

    `preset=None` takes the algorithm's default preset (the first it lists)."""
    module, preset, _, layers = config_layers(algo, preset, overrides)
    loop, cfg = LoopConfig(), module.Config()
    sources = {"per-task": "task default", "preset": "preset field", "preset per-task": "preset task default",
               "flag": "flag"}
    for name, layer in layers:
        loop, cfg = apply_overrides(loop, cfg, layer, sources[name])
    validate(cfg)
    module.check(cfg)  # the algorithm's cross-field checks
    if spec(algo).loop == "on_policy":  # their own loop checks (no replay, no warm-up)
        module.check_loop(loop, cfg)
    else:
        check_loop(loop, cfg.batch_size)
    return RunConfig(algo, preset, loop, cfg)
