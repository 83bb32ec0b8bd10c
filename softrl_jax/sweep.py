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
import json
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
from softrl_jax.sweep_spec import expand, load_spec, split_params
from softrl_jax.train import parse_flags, show_help

# Float fields whose values only enter the computation as numbers (never shapes or Python branches),
# so points that differ in them share one compiled program. An algorithm's AlgoSpec.batchable
# (softrl_jax/algos) can replace this set.
# Names ending in `_lr` count too. A field in this set that an algorithm does use in Python control
# flow is caught when the group is traced, and its points then compile one by one.
BATCHABLE = frozenset({"lr", "clip_norm", "alpha", "tau", "reward_scale", "gamma", "target_entropy_per_dim",
                       "noise_sigma"})

SWEEP_FLAGS = ("count", "sweep_file", "sweep_dir", "sampler_seed", "max_points")
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
