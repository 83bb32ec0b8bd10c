"""Hyperparameter sweeps from a W&B sweep YAML (`sweeps/<algo>.yaml`), online or offline.

    python -m softrl_jax.sweep --algo=dspg --env=gymnax:Pendulum-v1 --seeds=2 --count=2 \\
        --preset=quick -- --total_steps=3000

Online (W&B credentials found and WANDB_MODE is not offline): the YAML, with the fixed values below
written into it, becomes a sweep on W&B's server (`wandb.sweep`), then `wandb agent --count COUNT`
runs it; every agent run is `python -m softrl_jax.train --name=value ...` with SEEDS vmapped seeds.

Offline (no credentials, WANDB_MODE=offline, or --wandb=offline): the YAML is expanded here (grid:
cartesian product; random: `distribution` sampling with a seeded numpy RNG; COUNT caps the points),
every point is trained with SEEDS vmapped seeds, W&B logs offline (one run per seed per point, for
`wandb sync` later) and every point writes `<sweep_dir>/<point>/config.json` + `metrics.jsonl`,
the files `python -m softrl_jax.report` reads.

Points that differ only in float fields that keep shapes (BATCHABLE: learning rates, clip_norm,
alpha, tau, reward_scale, gamma, ...) train as ONE compiled program, vmapped over points and seeds;
points that differ in anything else (hidden sizes, num_samples, batch_size, policy, baseline,
preset, env, any loop field) are grouped and each group compiles once.

Precedence of values: YAML parameters < --env/--seeds/--preset before `--` (empty = keep the
YAML's) < flags after `--` (make's ARGS). A flag after `--` that names a swept parameter fixes it.

Options (before or after `--`): --algo, --count (points; empty = all grid points), --sweep_file
(default sweeps/<algo>.yaml), --sweep_dir (default runs/sweeps/<algo>-<env>-<time>), --sampler_seed
(random method, default 0), --max_points (at most this many points per compiled program; 0 = no
limit), and every `python -m softrl_jax.train` flag, --wandb=auto|online|offline|off included.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from softrl_jax.config import ConfigError, LoopConfig, RunConfig, field_types, flag_names
from softrl_jax.io import runlock, runstore
from softrl_jax.train import parse_flags, show_help

# Float fields whose values only enter the computation as numbers (never shapes or Python branches),
# so points that differ in them share one compiled program. An algorithm's AlgoSpec.batchable
# (softrl_jax/algos) can replace this set.
# Names ending in `_lr` count too. A field in this set that an algorithm does use in Python control
# flow is caught when the group is traced, and its points then compile one by one.
BATCHABLE = frozenset({"lr", "clip_norm", "alpha", "tau", "reward_scale", "gamma", "target_entropy_per_dim",
                       "noise_sigma"})

SWEEP_FLAGS = ("count", "sweep_file", "sweep_dir", "sampler_seed", "max_points")
TOP_KEYS = ("program", "method", "metric", "parameters", "command", "name", "description", "project",
            "entity", "early_terminate", "run_cap", "controller")
METHODS = ("grid", "random", "bayes")
DISTRIBUTIONS = ("constant", "categorical", "int_uniform", "uniform", "q_uniform", "log_uniform",
                 "log_uniform_values", "q_log_uniform_values", "inv_log_uniform_values", "normal",
                 "q_normal", "log_normal", "q_log_normal")
SPEC_KEYS = ("value", "values", "probabilities", "distribution", "min", "max", "q", "mu", "sigma")


# ---------------------------------------------------------------- YAML spec


def load_spec(path: str | os.PathLike) -> dict:
    """Read and check a W&B sweep YAML: top-level keys, method and every parameter's form."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"sweep file {str(path)!r} does not exist; valid choices: "
                          + ", ".join(str(x) for x in sorted(Path("sweeps").glob("*.yaml"))))
    try:
        spec = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"sweep file {str(path)!r} is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(spec, dict):
        raise ConfigError(f"sweep file {str(path)!r} must hold a mapping with 'method' and 'parameters'")
    for key in spec:
        if key not in TOP_KEYS:
            raise ConfigError(f"sweep file {str(path)!r}: unknown key {key!r}; valid keys: {', '.join(TOP_KEYS)}")
    if spec.get("method") not in METHODS:
        raise ConfigError(f"sweep file {str(path)!r}: method={spec.get('method')!r} is not valid; "
                          f"valid choices: {', '.join(METHODS)}")
    params = spec.get("parameters")
    if not isinstance(params, dict) or not params:
        raise ConfigError(f"sweep file {str(path)!r}: 'parameters' must map names to value specs")
    for name, ps in params.items():
        _check_param(name, ps, spec["method"])
    return spec


def _check_param(name: str, ps: Any, method: str) -> None:
    where = f"parameter {name!r}"
    if not isinstance(ps, dict):
        raise ConfigError(f"{where} must be a mapping such as {{values: [...]}} or {{value: x}}")
    if "parameters" in ps:
        raise ConfigError(f"{where}: nested parameters are not supported; use flat --name=value fields")
    for key in ps:
        if key not in SPEC_KEYS:
            raise ConfigError(f"{where}: unknown key {key!r}; valid keys: {', '.join(SPEC_KEYS)}")
    dist = _distribution(name, ps)
    if dist not in DISTRIBUTIONS:
        raise ConfigError(f"{where}: distribution={dist!r} is not valid; valid choices: {', '.join(DISTRIBUTIONS)}")
    if dist == "constant" and "value" not in ps:
        raise ConfigError(f"{where}: distribution 'constant' needs 'value'")
    if dist == "categorical":
        if not isinstance(ps.get("values"), list) or not ps["values"]:
            raise ConfigError(f"{where}: 'values' must be a non-empty list")
        probs = ps.get("probabilities")
        if probs is not None and (len(probs) != len(ps["values"]) or abs(sum(probs) - 1.0) > 1e-6
                                  or min(probs) < 0):
            raise ConfigError(f"{where}: 'probabilities' must be {len(ps['values'])} non-negative numbers summing to 1")
    if dist in ("normal", "q_normal", "log_normal", "q_log_normal"):
        pass  # mu and sigma default to 0 and 1 as in W&B
    elif dist not in ("constant", "categorical"):
        for key in ("min", "max"):
            if not isinstance(ps.get(key), (int, float)) or isinstance(ps.get(key), bool):
                raise ConfigError(f"{where}: distribution {dist!r} needs numeric 'min' and 'max'")
        if not ps["min"] <= ps["max"]:
            raise ConfigError(f"{where}: min={ps['min']} must be <= max={ps['max']}")
        if dist in ("log_uniform_values", "q_log_uniform_values", "inv_log_uniform_values") and ps["min"] <= 0:
            raise ConfigError(f"{where}: distribution {dist!r} needs min > 0")
    if method == "grid" and dist not in ("constant", "categorical", "int_uniform", "q_uniform"):
        raise ConfigError(f"{where}: grid search needs 'values' (or int_uniform / q_uniform); got distribution {dist!r}")


def _distribution(name: str, ps: dict) -> str:
    """W&B's inference: value -> constant, values -> categorical, int min/max -> int_uniform, else uniform."""
    if "distribution" in ps:
        return ps["distribution"]
    if "value" in ps:
        return "constant"
    if "values" in ps:
        return "categorical"
    if "min" in ps and "max" in ps:
        ints = all(isinstance(ps[k], int) and not isinstance(ps[k], bool) for k in ("min", "max"))
        return "int_uniform" if ints else "uniform"
    raise ConfigError(f"parameter {name!r} needs 'value', 'values', or 'min' and 'max'")


def _grid_values(ps: dict) -> list:
    dist = _distribution("", ps)
    if dist == "constant":
        return [ps["value"]]
    if dist == "categorical":
        return list(ps["values"])
    if dist == "int_uniform":
        return list(range(int(ps["min"]), int(ps["max"]) + 1))
    q = ps.get("q", 1.0)  # q_uniform: multiples of q inside [min, max]
    return [float(v) for v in np.arange(math.ceil(ps["min"] / q), math.floor(ps["max"] / q) + 1) * q]


def _round_q(x: float, q: float) -> float:
    return float(np.round(x / q) * q)


def sample_value(ps: dict, rng: np.random.Generator) -> Any:
    """One draw from a parameter spec with W&B's semantics (log_uniform: min/max are natural-log exponents)."""
    dist = _distribution("", ps)
    lo, hi, q = ps.get("min"), ps.get("max"), ps.get("q", 1.0)
    mu, sigma = ps.get("mu", 0.0), ps.get("sigma", 1.0)
    if dist == "constant":
        return ps["value"]
    if dist == "categorical":
        return ps["values"][int(rng.choice(len(ps["values"]), p=ps.get("probabilities")))]
    if dist == "int_uniform":
        return int(rng.integers(int(lo), int(hi) + 1))
    if dist == "uniform":
        return float(rng.uniform(lo, hi))
    if dist == "q_uniform":
        return float(np.clip(_round_q(rng.uniform(lo, hi), q), lo, hi))
    if dist == "log_uniform":
        return float(math.exp(rng.uniform(lo, hi)))
    if dist == "log_uniform_values":
        return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    if dist == "q_log_uniform_values":
        return float(_round_q(math.exp(rng.uniform(math.log(lo), math.log(hi))), q))
    if dist == "inv_log_uniform_values":
        return float(1.0 / math.exp(rng.uniform(math.log(1.0 / hi), math.log(1.0 / lo))))
    if dist == "normal":
        return float(rng.normal(mu, sigma))
    if dist == "q_normal":
        return _round_q(rng.normal(mu, sigma), q)
    if dist == "log_normal":
        return float(math.exp(rng.normal(mu, sigma)))
    return _round_q(math.exp(rng.normal(mu, sigma)), q)  # q_log_normal


def split_params(spec: dict) -> tuple[dict[str, Any], dict[str, dict]]:
    """(fixed values, swept parameter specs) of a spec's parameters."""
    fixed, swept = {}, {}
    for name, ps in spec["parameters"].items():
        if _distribution(name, ps) == "constant":
            fixed[name] = ps["value"]
        elif _distribution(name, ps) == "categorical" and len(ps["values"]) == 1:
            fixed[name] = ps["values"][0]
        else:
            swept[name] = ps
    return fixed, swept


def expand(spec: dict, count: int | None = None, seed: int = 0, exclude: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Swept points of a spec, each a dict name -> value (fixed values not included).

    grid: the cartesian product in YAML order, the LAST parameter varying fastest (put shape-keeping
    parameters last so the first COUNT points share one compiled program); `count` keeps the first
    points. random (and bayes, which needs W&B's server): `count` draws (default 1) from a numpy RNG
    seeded with `seed`; duplicate draws are kept only once. Names in `exclude` are not swept."""
    _, swept = split_params(spec)
    swept = {k: v for k, v in swept.items() if k not in exclude}
    if not swept:
        return [{}]
    if spec["method"] == "grid":
        names = list(swept)
        points = [dict(zip(names, combo)) for combo in itertools.product(*(_grid_values(swept[n]) for n in names))]
        return points[:count] if count else points
    rng = np.random.default_rng(seed)
    points, seen = [], set()
    for _ in range(count or 1):
        point = {name: sample_value(ps, rng) for name, ps in swept.items()}
        key = json.dumps(point, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            points.append(point)
    return points


# ---------------------------------------------------------------- points -> run configs


@dataclasses.dataclass(frozen=True)
class Point:
    index: int
    params: dict  # swept values of this point (what differs between points)
    label: str  # 'clip_norm=3,num_samples=64' (W&B group suffix)
    folder: str  # run folder of this point (config.json, metrics.jsonl)
    rc: RunConfig


def check_names(names: Sequence[str], algo_cfg_cls, source: str) -> None:
    """Every name must be a flag of `python -m softrl_jax.train` for this algorithm."""
    import difflib

    valid = flag_names(algo_cfg_cls)
    for name in names:
        if name not in valid or name == "out":
            close = difflib.get_close_matches(name, valid, n=1)
            hint = f" (did you mean {close[0]}?)" if close and close[0] != name else ""
            reason = "is set by the sweep (use --sweep_dir)" if name == "out" else "is not a config field"
            raise ConfigError(f"{source} parameter {name!r} {reason}{hint}; valid names: {' '.join(valid)}")


def _folder_name(i: int, label: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.,=+-]+", "_", label)[:80]
    return f"p{i:02d}" + (f"-{safe}" if safe else "")


def build_points(algo: str, spec: dict, fixed_overrides: dict, count: int, sampler_seed: int,
                 sweep_dir: str) -> list[Point]:
    """Run configs of every point: YAML fixed values < swept values < `fixed_overrides`."""
    from softrl_jax import algos
    from softrl_jax.io.wandb_log import point_label

    module = algos.get(algo)
    check_names(list(spec["parameters"]), module.Config, "sweep YAML")
    check_names([k for k in fixed_overrides if k != "algo"], module.Config, "command-line")
    fixed, _ = split_params(spec)
    yaml_algo = fixed.get("algo", algo)
    if yaml_algo != algo:
        raise ConfigError(f"sweep YAML fixes algo={yaml_algo!r} but --algo={algo!r}; use sweeps/{algo}.yaml")
    raw = expand(spec, count, sampler_seed, exclude=[*fixed_overrides, "algo"])
    points, seen = [], set()
    for params in raw:
        values = {**{k: v for k, v in fixed.items() if k != "algo"}, **params, **fixed_overrides}
        values.pop("algo", None)
        preset = values.pop("preset", None)  # None: the algorithm's default preset
        label = point_label(params)
        try:
            rc = algos.run_config(algo, None if preset is None else str(preset), values)
        except ConfigError as e:
            raise ConfigError(f"sweep point {label or '(fixed)'}: {e}") from None
        key = (rc.preset, rc.loop, rc.algo_cfg)
        if key in seen:
            continue
        seen.add(key)
        folder = str(Path(sweep_dir) / _folder_name(len(points), label))
        rc = dataclasses.replace(rc, loop=dataclasses.replace(rc.loop, out=folder))
        points.append(Point(len(points), params, label, folder, rc))
    return points


def batchable_fields(algo: str, algo_cfg_cls) -> frozenset[str]:
    from softrl_jax import algos

    own = algos.spec(algo).batchable
    types = field_types(algo_cfg_cls)
    names = set(own) if own is not None else {n for n in types if n in BATCHABLE or n.endswith("_lr")}
    return frozenset(n for n in names if types.get(n) is float)


def group_points(points: Sequence[Point], batchable: frozenset[str]) -> list[list[Point]]:
    """Points whose configs agree outside `batchable` share one compiled program (insertion order)."""
    groups: dict[Any, list[Point]] = {}
    for p in points:
        static_cfg = dataclasses.replace(p.rc.algo_cfg, **{f: 0.0 for f in batchable})
        key = (p.rc.preset, dataclasses.replace(p.rc.loop, out=""), static_cfg)
        groups.setdefault(key, []).append(p)
    return list(groups.values())


def varying_fields(points: Sequence[Point], batchable: frozenset[str]) -> list[str]:
    return sorted(f for f in batchable if len({getattr(p.rc.algo_cfg, f) for p in points}) > 1)


# ---------------------------------------------------------------- training a group of points


def train_group(points: Sequence[Point], *, loggers_for=None, progress: bool = True,
                batchable: frozenset[str] = frozenset()) -> dict[int, list[dict]]:
    """Train every point of one group (same statics) x its seeds as ONE compiled program
    (softrl_jax.runner), the fields in `batchable` that differ between the points traced.

    Seeds use the same keys at every point, so each (point, seed) is the same run as alone.
    `loggers_for(point) -> list of loggers` (called once per point, before training). Returns the
    per-point records (the metrics.jsonl rows)."""
    from softrl_jax import runner

    result = runner.run(
        [runner.Point(p.rc, {"sweep_point": p.label, "sweep_params": p.params}) for p in points],
        hparam_fields=varying_fields(points, batchable),
        loggers_for=(lambda i, resume_ids=None: loggers_for(points[i])) if loggers_for else None, progress=progress)
    return {p.index: result.records[i] for i, p in enumerate(points)}


def _tracer_errors() -> tuple[type, ...]:
    import jax

    return (jax.errors.ConcretizationTypeError, jax.errors.TracerBoolConversionError,
            jax.errors.TracerIntegerConversionError, jax.errors.TracerArrayConversionError)


# ---------------------------------------------------------------- command line


def parse_args(argv: Sequence[str]) -> tuple[dict, dict]:
    """(sweep options, train overrides): flags after `--` win over the same flags before it."""
    argv = list(argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    before, after = parse_flags(argv[:cut]), parse_flags(argv[cut + 1:])
    merged = {**before, **after}
    opts = {k: merged.pop(k) for k in SWEEP_FLAGS if k in merged}
    opts["algo"] = merged.pop("algo", "dspg")
    # --env / --seeds / --preset before `--` with an empty value keep the YAML's value
    for name in ("env", "seeds", "preset"):
        if name in merged and merged[name] == "" and name not in after:
            del merged[name]
    return opts, merged


def _int_opt(opts: dict, name: str, default: int, minimum: int) -> int:
    text = opts.get(name, str(default))
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"--{name}={text!r} is not a valid int") from None
    if value < minimum:
        raise ConfigError(f"--{name}={value} is out of range; must be >= {minimum}")
    return value


def _sweep_dir(algo: str, env: str) -> str:
    tag = env.replace(":", "_").replace("/", "_")
    return f"runs/sweeps/{algo}-{tag}-{time.strftime('%Y%m%d-%H%M%S')}"


def main(argv: Sequence[str] | None = None) -> int:
    from softrl_jax import algos
    from softrl_jax.io import wandb_log

    argv = sys.argv[1:] if argv is None else argv
    if show_help(argv, __doc__):
        return 0
    try:
        opts, overrides = parse_args(argv)
        algo = opts["algo"]
        module = algos.get(algo)
        count = _int_opt(opts, "count", 0, 1) if opts.get("count") else None  # COUNT= : no cap
        sampler_seed = _int_opt(opts, "sampler_seed", 0, 0)
        max_points = _int_opt(opts, "max_points", 0, 0)
        spec = load_spec(opts.get("sweep_file") or f"sweeps/{algo}.yaml")
        fixed, _ = split_params(spec)
        wandb_flag = overrides.get("wandb", fixed.get("wandb", "auto"))
        if wandb_flag not in LoopConfig.__dataclass_fields__["wandb"].metadata["choices"]:
            raise ConfigError(f"--wandb={wandb_flag!r} is not valid; valid choices: {', '.join(wandb_log.MODES)}")
        mode = wandb_log.resolve_mode(str(wandb_flag))
        if mode == "online" and not wandb_log.has_credentials():
            raise ConfigError("--wandb=online needs W&B credentials (WANDB_API_KEY or `wandb login`); "
                              "valid choices without them: auto, offline, off")
        env_name = str(overrides.get("env", fixed.get("env", LoopConfig.env)))
        sweep_dir = opts.get("sweep_dir") or _sweep_dir(algo, env_name)
        if Path(sweep_dir).exists() and any(Path(sweep_dir).iterdir()) and not (Path(sweep_dir) / "sweep.json").exists():
            raise ConfigError(f"--sweep_dir={sweep_dir!r} is not empty and holds no sweep; choose another or delete it")
        overrides = {**overrides, "wandb": wandb_flag}
        points = build_points(algo, spec, overrides, count or 0, sampler_seed, sweep_dir)
        resumed = check_resumable(sweep_dir, algo, points)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if mode == "online":
        return run_online(algo, spec, overrides, count, sweep_dir)
    from softrl_jax.checkpoint import Stopped

    try:
        return run_offline(algo, module, spec, points, sweep_dir, mode, max_points, resumed)
    except ConfigError as e:  # found before the group's first file (its folder in use by another process)
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Stopped as e:  # SIGTERM / SIGINT: the group in flight checkpointed; the same command resumes it
        print(f"{e}; checkpoint written. Resume with the same command (--sweep_dir={sweep_dir})", file=sys.stderr)
        return e.exit_code
    except OSError as e:  # a write failed mid-sweep (disk full, file-size limit): the group's checkpoint is intact
        print(f"error: {e.strerror or e} ({e.filename or sweep_dir}); finished points and the newest complete "
              f"checkpoint of the group in flight are intact: free the space and run the same command again",
              file=sys.stderr)
        return 1


def _manifest_points(points: Sequence[Point]) -> list[dict]:
    return json.loads(json.dumps([{"folder": Path(p.folder).name, "params": p.params, "label": p.label}
                                  for p in points], default=list))


def check_resumable(sweep_dir: str, algo: str, points: Sequence[Point]) -> bool:
    """True when `sweep_dir` holds this same sweep (it will resume), False when it holds none;
    ConfigError when it holds another one."""
    path = Path(sweep_dir) / "sweep.json"
    if not path.exists():
        return False
    try:
        old = json.loads(path.read_text())
    except ValueError as e:
        raise ConfigError(f"--sweep_dir={sweep_dir!r}: sweep.json is unreadable ({e}); choose another or delete it") from None
    if old.get("algo") != algo or old.get("points") != _manifest_points(points):
        raise ConfigError(f"--sweep_dir={sweep_dir!r} holds another sweep ({old.get('algo')}, {len(old.get('points', []))} "
                          f"points); resume it with its own flags, or choose another --sweep_dir")
    return True


def finished(p: Point) -> bool:
    """A point's run ended: the campaign layer's definition (softrl_jax/campaign.py run_finished)."""
    from softrl_jax.campaign import run_finished

    return run_finished(p.rc.loop.out, p.rc.loop.total_steps)


def run_offline(algo: str, module, spec: dict, points: list[Point], sweep_dir: str, mode: str,
                max_points: int = 0, resumed: bool = False) -> int:
    """Train every point here, one compiled program per group; `resumed`: `sweep_dir` holds this same
    sweep (check_resumable), so finished groups are skipped and unfinished ones resume."""
    from softrl_jax.io import wandb_log

    batchable = batchable_fields(algo, module.Config)
    groups = group_points(points, batchable)
    if max_points:  # bound the memory of one program: P x S replay buffers live on the device at once
        groups = [g[i:i + max_points] for g in groups for i in range(0, len(g), max_points)]
    runlock.hold(sweep_dir, "sweep")  # one sweep per folder; trains are refused inside it while it runs
    manifest = {"algo": algo, "method": spec["method"], "metric": spec.get("metric"), "wandb_mode": mode,
                "points": _manifest_points(points),
                "groups": [{"points": [Path(p.folder).name for p in g],
                            "vmapped_fields": varying_fields(g, batchable)} for g in groups]}
    runstore.write_json(Path(sweep_dir) / "sweep.json", manifest)
    if resumed:
        done = sum(finished(p) for p in points)
        print(f"resuming the sweep in {sweep_dir}: {done} of {len(points)} point(s) finished; unfinished groups "
              "continue from their checkpoints", file=sys.stderr)
    print(f"sweep {algo} ({spec['method']}): {len(points)} point(s) x {points[0].rc.loop.seeds} seeds in "
          f"{len(groups)} compiled program(s); W&B {mode}; results in {sweep_dir}", file=sys.stderr)

    def loggers_for(p: Point):
        if mode == "off":
            return []
        runs = wandb_log.SeedRuns(p.rc, [p.rc.loop.seed + s for s in range(p.rc.loop.seeds)], mode=mode,
                                  point=p.label, job_type="sweep",
                                  extra_config={"sweep_dir": sweep_dir, "sweep_params": p.params},
                                  directory=os.environ.get("WANDB_DIR") or sweep_dir, announce=False)
        return [runs]

    t0 = time.perf_counter()
    results: dict[int, list[dict]] = {}
    pending = list(groups)
    while pending:
        group = pending.pop(0)
        if all(finished(p) for p in group):  # a resumed sweep skips what is done
            results.update({p.index: runstore.read_metrics(p.rc.loop.out) for p in group})
            continue
        try:
            results.update(train_group(group, loggers_for=loggers_for, batchable=batchable))
        except _tracer_errors() as e:
            if len(group) == 1:
                raise
            print(f"note: {algo} uses {', '.join(varying_fields(group, batchable))} in Python control flow "
                  f"({type(e).__name__}); compiling these {len(group)} points one by one", file=sys.stderr)
            pending = [[p] for p in group] + pending
    summary(points, results, spec, time.perf_counter() - t0, sweep_dir, mode)
    return 0


def summary(points: Sequence[Point], results: dict[int, list[dict]], spec: dict, seconds: float,
            sweep_dir: str, mode: str) -> None:
    from softrl_jax import runner

    metric = (spec.get("metric") or {}).get("name", "eval_return")
    print(f"\n{'point':<48} {'final ' + metric:>18} {'best':>10}   (mean over seeds)")
    for p in points:
        recs = results.get(p.index, [])
        steps = sorted({r["step"] for r in recs})
        if not steps:
            continue
        diverged = set(runner.diverged_seeds(recs))
        seeds = {r["seed"] for r in recs}
        if diverged == seeds:
            print(f"{Path(p.folder).name:<48} {'all ' + str(len(seeds)) + ' seeds diverged':>29}")
            continue
        kept = [r for r in recs if r["seed"] not in diverged]  # counted, never averaged in
        final = np.nanmean([r.get(metric, np.nan) for r in kept if r["step"] == steps[-1]])
        best = max(np.nanmean([r.get(metric, np.nan) for r in kept if r["step"] == t]) for t in steps)
        note = f"   ({len(diverged)} of {len(seeds)} seeds diverged, left out)" if diverged else ""
        print(f"{Path(p.folder).name:<48} {final:18.1f} {best:10.1f}{note}")
    print(f"{len(points)} point(s) in {seconds:.0f} s; local results: {sweep_dir} "
          f"(python -m softrl_jax.report --runs={sweep_dir})")
    if mode == "offline":
        print(f"W&B offline runs: {os.environ.get('WANDB_DIR') or sweep_dir}/wandb/offline-run-*  "
              f"(upload: wandb sync {os.environ.get('WANDB_DIR') or sweep_dir}/wandb/offline-run-*)")


def online_spec(algo: str, spec: dict, overrides: dict) -> dict:
    """The spec sent to W&B: the YAML with the command-line values written in as fixed values."""
    spec = json.loads(json.dumps(spec))
    params = spec["parameters"]
    params["algo"] = {"value": algo}
    for name, value in overrides.items():
        params[name] = {"value": list(value) if isinstance(value, tuple) else value}
    return spec


def run_online(algo: str, spec: dict, overrides: dict, count: int | None, sweep_dir: str) -> int:
    """Create the sweep on W&B's server, then run `wandb agent --count COUNT` on it."""
    import wandb
    import yaml

    full = online_spec(algo, spec, overrides)
    project = str(overrides.get("wandb_project") or full.get("project") or "softrl-jax")
    entity = str(overrides.get("wandb_entity") or full.get("entity") or "") or None
    Path(sweep_dir).mkdir(parents=True, exist_ok=True)
    spec_path = Path(sweep_dir) / "sweep.yaml"
    spec_path.write_text(yaml.safe_dump(full, sort_keys=False))
    sweep_id = wandb.sweep(full, project=project, entity=entity)
    path = "/".join(x for x in (entity, project, sweep_id) if x)
    print(f"W&B sweep {path} from {spec_path}; more agents on any machine: wandb agent {path}", file=sys.stderr)
    venv_wandb = Path(sys.executable).parent / "wandb"
    cmd = [str(venv_wandb) if venv_wandb.exists() else shutil.which("wandb") or "wandb", "agent"] + (["--count", str(count)] if count else []) + [path]
    env = dict(os.environ)
    # `${interpreter}` in the YAML's command is `python` from PATH: make it this environment's python.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return subprocess.call(cmd, env=env)


if __name__ == "__main__":
    sys.exit(main())
