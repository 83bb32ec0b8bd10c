"""Frozen configuration: loop fields shared by all algorithms, plus each algorithm's own fields.

Fields carry their validation in `metadata` (`ge`, `gt`, `le`, `choices`), so the command line, the
sweep runner and library users all get the same one-line errors. A run's configuration is built in
layers: algorithm defaults (the paper) < per-task defaults < preset < explicit overrides.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from typing import Any, Mapping


WARMUPS = ("uniform", "policy")


class ConfigError(ValueError):
    """Bad configuration value; the message is one line naming the value and the valid choices."""


def fld(default: Any, *, ge=None, gt=None, le=None, lt=None, choices=None, doc: str = "") -> Any:
    meta = {k: v for k, v in dict(ge=ge, gt=gt, le=le, lt=lt, choices=choices, doc=doc).items() if v is not None}
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class LoopConfig:
    """The fused off-policy loop (shared by all algorithms). Step counts are environment transitions."""

    env: str = fld("gymnax:Pendulum-v1", doc="environment name, e.g. brax:hopper, brax:hopper:spring")
    seeds: int = fld(1, ge=1, doc="independent seeds trained at once (vmapped)")
    seed: int = fld(0, ge=0, doc="base seed; seed i uses PRNGKey(seed + i)")
    total_steps: int = fld(3_000_000, gt=0, doc="environment transitions per seed, a multiple of eval_every "
                                                 "(DSPG paper: 3e6)")
    num_envs: int = fld(1, ge=1, doc="parallel training environments per seed (paper: 1)")
    warmup: str = fld("uniform", choices=WARMUPS, doc="how the first --warmup_steps transitions act: uniform = "
                                                   "uniform random actions; policy = the agent's own (initial) "
                                                   "policy (DSPG authors' main.py, softqlearning's sampler)")
    warmup_steps: int = fld(10_000, ge=0, doc="transitions of the warm-up before learning (counted in total_steps)")
    learning_starts: int = fld(-1, ge=-1, doc="updates begin in the step that stores transition number "
                                              "learning_starts (DSPG authors: buffer size >= batch); -1: right "
                                              "after the warm-up, with its first step")
    buffer_size: int = fld(3_000_000, ge=1, doc="replay capacity in transitions (DSPG paper: 3e6)")
    updates_per_step: int = fld(4, ge=1, doc="gradient steps per vectorised env step (paper: 4)")
    eval_every: int = fld(10_000, ge=1, doc="transitions between evaluations, from the start; the first once "
                                            "learning has started (authors: 1e4)")
    eval_episodes: int = fld(7, ge=1, doc="deterministic evaluation episodes (authors: 7)")
    episode_length: int = fld(0, ge=0, doc="time limit; 0 keeps the environment's own (Brax 1000)")
    out: str = fld("", doc="run folder for config.json and metrics.jsonl (default runs/<algo>-<env>-<time>)")
    progress: bool = fld(True, doc="show a progress bar")
    autoreset: str = fld("pool", choices=("pool", "exact"),
                         doc="episode restarts: pool = a random state of a pool drawn once per chunk; exact = "
                             "a fresh reset computed every step")
    reset_pool: int = fld(0, ge=0, doc="reset states per pool (autoreset=pool); 0: max(64, num_envs)")
    replay_obs_dtype: str = fld("float32", choices=("float32", "bfloat16"), doc="dtype of stored observations")
    obs_norm: bool = fld(False, doc="normalise observations by a running mean and variance per seed, updated from "
                                    "collected observations (softrl_jax/normalize.py)")
    # Where the program runs (never changes results; see softrl_jax/runner.py)
    devices: str = fld("all", doc="devices to shard the points x seeds axis over: all, or a count N")
    cpu_devices: int = fld(0, ge=0, doc="on a CPU, XLA devices to split the host into (runs shard over them); 0: "
                                        "one per available core, at most one per run")
    distributed: bool = fld(False, doc="multi-process run through jax.distributed.initialize()")
    coordinator: str = fld("", doc="host:port of process 0 (--distributed); empty: JAX_COORDINATOR_ADDRESS or "
                                   "cluster auto-detection")
    num_processes: int = fld(0, ge=0, doc="processes (--distributed); 0: JAX_NUM_PROCESSES or auto-detection")
    process_id: int = fld(-1, ge=-1, doc="this process (--distributed); -1: JAX_PROCESS_ID or auto-detection")
    cpu_ynn_fusion: bool = fld(False, doc="XLA:CPU's YNNPACK fusions of matrix products (off: 0-40% faster updates "
                                          "on a 2-core CPU, make bench); no effect on GPU or TPU")
    checkpoint: bool = fld(True, doc="write orbax checkpoints of the whole run to <out>/checkpoints (the newest two "
                                     "kept) and resume from them when the same command runs again")
    checkpoint_every: float = fld(300.0, ge=0, doc="seconds of wall clock between checkpoints (one more at the end "
                                                    "and on SIGTERM/SIGINT); 0: after every chunk")
    compile_cache: str = fld("auto", doc="persistent compilation cache folder; auto: $JAX_COMPILATION_CACHE_DIR "
                                          "where set, else <user cache dir>/softrl-jax/jax; off: disabled")
    # The watchdog (softrl_jax/io/watchdog.py): a chunk that runs past max(hang_floor_s, hang_factor x the
    # median of the chunks before it) has every thread's stack dumped to <out>/hang-<time>.txt
    on_hang: str = fld("wait", choices=("wait", "exit"), doc="after a hang's stacks are dumped: keep waiting, or "
                                                              "exit with code 3 (the last checkpoint stays valid)")
    hang_factor: float = fld(20.0, gt=0, doc="a chunk hangs past this many times the median of the chunks before it")
    hang_floor_s: float = fld(300.0, ge=0, doc="a chunk is never judged hung before this many seconds")
    # Weights & Biases (host-side, one W&B run per seed; see softrl_jax/io/wandb_log.py)
    wandb: str = fld("off", choices=("off", "online", "offline", "auto"),
                     doc="W&B logging: auto = online with credentials, else offline")
    wandb_project: str = fld("softrl-jax", doc="W&B project")
    wandb_entity: str = fld("", doc="W&B entity (team or user); empty: your default")
    wandb_group: str = fld("", doc="W&B group; empty: algo|env|preset[|sweep point]")
    wandb_tags: str = fld("", doc="extra W&B tags, comma-separated")




def field_meta(cls) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


def field_types(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _type_name(tp) -> str:
    return {int: "int", float: "float", str: "str", bool: "bool"}.get(tp, "comma-separated ints")


def parse_value(name: str, text: str, tp) -> Any:
    """Convert command-line text to the field's type, or raise ConfigError."""
    try:
        if tp is bool:
            low = text.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if tp is int:
            value = float(text)
            if not value.is_integer():
                raise ValueError
            return int(value)
        if tp is float:
            return float(text)
        if tp is str:
            return text
        return tuple(int(x) for x in text.replace("[", "").replace("]", "").replace(" ", "").split(",") if x)
    except ValueError:
        raise ConfigError(f"--{name}={text!r} is not a valid {_type_name(tp)}") from None


def coerce(name: str, value: Any, tp) -> Any:
    """Accept a Python value (from a preset, a sweep YAML or a library call) of the right type."""
    if isinstance(value, str) and tp is not str:
        return parse_value(name, value, tp)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if tp not in (int, float, str, bool):
        if isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return tuple(value)
        raise ConfigError(f"--{name}={value!r} is not a valid {_type_name(tp)}")
    if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
        raise ConfigError(f"--{name}={value!r} is not a valid {_type_name(tp)}")
    return value


INT_MAX = 2**31 - 1  # every integer field indexes or counts inside int32 programs


def validate(obj) -> None:
    """Check every field of a config dataclass against its metadata; raise ConfigError."""
    for name, f in field_meta(type(obj)).items():
        v = getattr(obj, name)
        m = f.metadata
        if "choices" in m and v not in m["choices"]:
            raise ConfigError(f"--{name}={v!r} is not valid; valid choices: {', '.join(map(str, m['choices']))}")
        values = v if isinstance(v, tuple) else (v,)
        for x in values:
            if isinstance(x, int) and not isinstance(x, bool) and x > INT_MAX:  # sizes, counts, seeds: int32
                raise ConfigError(f"--{name}={v!r} is out of range; must be <= {INT_MAX}")
            if isinstance(x, (int, float)) and not isinstance(x, bool):
                if "gt" in m and not x > m["gt"]:
                    raise ConfigError(f"--{name}={v!r} is out of range; must be > {m['gt']}")
                if "ge" in m and not x >= m["ge"]:
                    raise ConfigError(f"--{name}={v!r} is out of range; must be >= {m['ge']}")
                if "lt" in m and not x < m["lt"]:
                    raise ConfigError(f"--{name}={v!r} is out of range; must be < {m['lt']}")
                if "le" in m and not x <= m["le"]:
                    raise ConfigError(f"--{name}={v!r} is out of range; must be <= {m['le']}")
        if isinstance(v, tuple) and not v:
            raise ConfigError(f"--{name} must list at least one value")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything a run needs: algorithm name, preset name, loop config and algorithm config."""

    algo: str
    preset: str
    loop: LoopConfig
    algo_cfg: Any

    def flat(self) -> dict[str, Any]:
        """One flat dict (the form of config.json, W&B config and command-line flags)."""
        d = {"algo": self.algo, "preset": self.preset}
        d.update(dataclasses.asdict(self.loop))
        d.update(dataclasses.asdict(self.algo_cfg))
        return d


def flag_names(algo_cfg_cls) -> list[str]:
    return ["algo", "preset"] + list(field_meta(LoopConfig)) + list(field_meta(algo_cfg_cls))


def apply_overrides(loop: LoopConfig, algo_cfg, overrides: Mapping[str, Any], source: str):
    """Return (loop, algo_cfg) with `overrides` applied; unknown names raise ConfigError."""
    loop_types, algo_types = field_types(LoopConfig), field_types(type(algo_cfg))
    loop_kw, algo_kw = {}, {}
    for name, value in overrides.items():
        if name in loop_types:
            loop_kw[name] = coerce(name, value, loop_types[name])
        elif name in algo_types:
            algo_kw[name] = coerce(name, value, algo_types[name])
        else:
            valid = flag_names(type(algo_cfg))
            close = difflib.get_close_matches(name, valid, n=1)
            hint = f" (did you mean --{close[0]}?)" if close else ""
            raise ConfigError(f"unknown {source} --{name}{hint}; valid flags: "
                              + " ".join(f"--{n}" for n in valid))
    return dataclasses.replace(loop, **loop_kw), dataclasses.replace(algo_cfg, **algo_kw)


def learning_start(loop: LoopConfig) -> int:
    """The transition whose step makes the first update: the step that stores transition number
    `learning_starts`, or with -1 the first step after the warm-up (`warmup_steps + num_envs`)."""
    return loop.learning_starts if loop.learning_starts >= 0 else loop.warmup_steps + loop.num_envs


def random_steps(loop: LoopConfig) -> int:
    """Transitions that take uniform random actions: the warm-up with warmup=uniform, else none."""
    return loop.warmup_steps if loop.warmup == "uniform" else 0


def check_devices(setting: str) -> None:
    """'all' or a positive count; raise ConfigError otherwise (no device is touched)."""
    if setting == "all":
        return
    try:
        ok = int(setting) >= 1
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError(f"--devices={setting!r} is not valid; valid choices: all, or a count >= 1")


def check_loop(loop: LoopConfig, batch_size: int) -> None:
    """Cross-field checks of the loop config."""
    validate(loop)
    check_devices(loop.devices)
    for name in ("warmup_steps", "eval_every"):
        if getattr(loop, name) % loop.num_envs:
            raise ConfigError(f"--{name}={getattr(loop, name)} must be a multiple of --num_envs={loop.num_envs}")
    start = learning_start(loop)
    if start < batch_size:
        if loop.learning_starts < 0:
            raise ConfigError(f"--warmup_steps={loop.warmup_steps} is out of range; must be >= --batch_size={batch_size}"
                              f" - --num_envs={loop.num_envs} (learning starts once a minibatch is stored), or set "
                              "--learning_starts")
        raise ConfigError(f"--learning_starts={loop.learning_starts} is out of range; must be >= --batch_size="
                          f"{batch_size} (learning starts once a minibatch is stored) or -1")
    if loop.total_steps < start or loop.total_steps <= loop.warmup_steps:
        raise ConfigError(f"--total_steps={loop.total_steps} is out of range; must be > --warmup_steps={loop.warmup_steps}"
                          f" and >= the first update's transition ({start})")
    check_whole_chunks(loop)
    if loop.buffer_size < max(batch_size, 2 * loop.num_envs):
        raise ConfigError(f"--buffer_size={loop.buffer_size} is out of range; must be >= --batch_size={batch_size} "
                          f"and >= 2 x --num_envs={loop.num_envs} (a minibatch is drawn from stored transitions)")


def check_whole_chunks(loop: LoopConfig) -> None:
    """total_steps is whole chunks of eval_every transitions (the loops run whole chunks)."""
    if loop.total_steps % loop.eval_every:
        lo = loop.total_steps // loop.eval_every * loop.eval_every
        hi = lo + loop.eval_every
        nearest = f"--total_steps={lo} or {hi}" if lo > loop.warmup_steps else f"--total_steps={hi}"
        raise ConfigError(f"--total_steps={loop.total_steps} is not a multiple of --eval_every={loop.eval_every} "
                          f"(training runs in whole evaluation intervals); choose {nearest}, or another --eval_every")
