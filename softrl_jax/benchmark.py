r"""Run a benchmark suite: every (task, algorithm) piece of a suite file, resumable, with one results file
per piece.

    python -m softrl_jax.benchmark --suite=dmc100k                    # or: make benchmark SUITE=dmc100k
    python -m softrl_jax.benchmark --suite=dmc100k --only=CheetahRun/sac,CheetahRun/dspg
    python -m softrl_jax.benchmark --suite=dmc100k --estimate_only --calibrate=auto

Suites are data: `benchmarks/suites/<name>.toml` (tasks, algorithms with their presets, seeds, step
budget, evaluation cadence and episodes, reference scores with citations; softrl_jax/suites.py), or a
path to such a file.

A piece is ONE `python -m softrl_jax.train` process over all the suite's seeds (softrl_jax/campaign.py).
Its run folder (`<work>/<suite>/<task>/<algo>`, checkpoints included) makes it resumable; when it ends,
its results file `<out>/<suite>/<task>/<algo>.json` holds the per-seed evaluation curves, final returns,
wall time, env steps/s, compile time, machine, device count, jax version, git commit and the resolved
configuration. A piece whose results file is present with the same configuration is finished, on a
fresh clone too: the same command trains nothing. A results file of another configuration (other
seeds or budget) is never mixed in: the command refuses with one line, and `--out` names another folder.

    --suite=NAME|PATH          required; NAME is a file in benchmarks/suites/
    --only=TASK/ALGO,...       these pieces (TASK as in the results folder, e.g. CheetahRun/sac)
    --seeds=N                  seeds per piece (default: the suite's)
    --out=DIR                  results root (default results)
    --work=DIR                 run folders (default runs/benchmark)
    --launcher=local           pieces one after another here (default); slurm: one SLURM job per piece
                               through submitit; submitit-local: the same jobs on submitit's local executor
    --wait=true                with a submitit launcher: wait for the jobs (false: submit and exit)
    --slurm_partition=NAME  --slurm_time_min=N  --slurm_gpus=N  --slurm_cpus=N   (launcher=slurm)
    --estimate_only            print the plan and the cost estimate, then exit
    --calibrate=never          auto: measure the rate of unfinished pieces without one on this device
                               (a short run of the piece's own command), always, never
    --calibrate_s=30  --calibrate_every=1000   seconds of evaluated chunks measured, and their length in
                               steps (short chunks add per-chunk overhead that a 10,000-step chunk does not have)
    --verify                   train the selected finished pieces again in a temporary folder and check
                               that their curves equal the recorded ones bit for bit (same machine kind)
    --progress=true  --wandb=off|offline|online|auto  --checkpoint_every=300   passed to every piece
    --note=TEXT                recorded in each results file this command writes (e.g. what else ran on the
                               machine, which colours its env steps/s and wall time), shown on the page

SIGTERM/SIGINT go to the running piece: it checkpoints and exits 143/130, and so does this command; the
same command continues (finished pieces are skipped, the stopped one resumes). Bad flags and unknown
suite, task or algorithm names print one line and exit 2 before anything is written.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from softrl_jax import campaign
from softrl_jax.config import ConfigError, parse_value
from softrl_jax.io.signals import Children, Interrupted
from softrl_jax.suites import Suite, load_suite, suite_choices, task_name
from softrl_jax.train import parse_flags, show_help

LAUNCHERS = ("local", "slurm", "submitit-local")
CALIBRATE = ("never", "auto", "always")
DEFAULTS = {"suite": "", "only": "", "seeds": "", "out": "results", "work": "runs/benchmark", "launcher": "local",
            "wait": "true", "slurm_partition": "", "slurm_time_min": "1440", "slurm_gpus": "0", "slurm_cpus": "0",
            "estimate_only": "false", "calibrate": "never", "calibrate_s": "30", "calibrate_every": "1000", "verify": "false",
            "progress": "true", "wandb": "off", "checkpoint_every": "300", "note": ""}
SWITCHES = {"--estimate_only": "true", "--verify": "true"}  # a bare flag means this value
WANDB = ("off", "offline", "online", "auto")
# config fields that never change a piece's numbers: where and how it runs and logs
NOT_THE_RESULT = frozenset({"out", "progress", "compile_cache", "checkpoint", "checkpoint_every", "on_hang",
                            "hang_factor", "hang_floor_s", "wandb", "wandb_project", "wandb_entity", "wandb_group",
                            "wandb_tags", "distributed", "coordinator", "num_processes", "process_id", "devices",
                            "cpu_devices", "resume"})
RESULTS_FORMAT = 1


# ---------------------------------------------------------------- options and plan


def options(argv) -> dict:
    argv = [f"{a}={SWITCHES[a]}" if a in SWITCHES else a for a in argv]
    flags = parse_flags(argv)
    for name in flags:
        if name not in DEFAULTS:
            raise ConfigError(f"unknown flag --{name}; valid flags: {' '.join('--' + k for k in DEFAULTS)}")
    o: dict[str, Any] = {**DEFAULTS, **flags}
    if not o["suite"]:
        raise ConfigError(f"--suite is required; valid suites: {', '.join(suite_choices())}")
    for name in ("wait", "estimate_only", "verify", "progress"):
        o[name] = parse_value(name, o[name], bool)
    for name, low in (("slurm_time_min", 1), ("slurm_gpus", 0), ("slurm_cpus", 0)):
        o[name] = parse_value(name, o[name], int)
        if o[name] < low:
            raise ConfigError(f"--{name}={o[name]} is out of range; must be >= {low}")
    if o["seeds"] != "":
        o["seeds"] = parse_value("seeds", o["seeds"], int)
        if o["seeds"] < 1:
            raise ConfigError(f"--seeds={o['seeds']} is out of range; must be >= 1")
    else:
        o["seeds"] = None
    o["calibrate_every"] = parse_value("calibrate_every", o["calibrate_every"], int)
    if o["calibrate_every"] < 1:
        raise ConfigError(f"--calibrate_every={o['calibrate_every']} is out of range; must be >= 1")
    o["calibrate_s"] = parse_value("calibrate_s", o["calibrate_s"], float)
    if not o["calibrate_s"] > 0:
        raise ConfigError(f"--calibrate_s={o['calibrate_s']} is out of range; must be > 0")
    o["checkpoint_every"] = parse_value("checkpoint_every", o["checkpoint_every"], float)
    if not o["checkpoint_every"] >= 0:
        raise ConfigError(f"--checkpoint_every={o['checkpoint_every']} is out of range; must be >= 0")
    for name, valid in (("launcher", LAUNCHERS), ("calibrate", CALIBRATE), ("wandb", WANDB)):
        if o[name] not in valid:
            raise ConfigError(f"--{name}={o[name]!r} is not valid; valid choices: {', '.join(valid)}")
    if o["launcher"] == "slurm" and not o["slurm_partition"]:
        raise ConfigError("--launcher=slurm needs --slurm_partition=NAME")
    if o["launcher"] != "local":
        try:
            import submitit  # noqa: F401 (installed?)
        except ImportError:
            raise ConfigError(f"--launcher={o['launcher']} needs submitit: pip install -e \".[slurm]\"") from None
    for name in ("out", "work"):
        if not o[name]:
            raise ConfigError(f"--{name} is empty; give a folder")
    return o


def result_config(rc) -> dict:
    """The part of a piece's resolved configuration its numbers depend on (JSON-normal)."""
    flat = json.loads(json.dumps(rc.flat(), default=list))
    return {k: v for k, v in sorted(flat.items()) if k not in NOT_THE_RESULT}


@dataclasses.dataclass
class Planned:
    task: str  # environment name
    piece: campaign.Piece
    results: Path
    recorded: dict | None  # the results file's content when it matches this configuration


def plan(o: dict, suite: Suite) -> list[Planned]:
    """Every selected piece, validated by the train command's own checks, with what its results file and
    run folder hold (another configuration in either: ConfigError). Writes nothing."""
    from softrl_jax import algos

    seeds = o["seeds"] or suite.seeds
    valid = [f"{task_name(t)}/{a}" for t in suite.tasks for a in suite.algos]
    only = [x for x in o["only"].split(",") if x]
    for x in only:
        if x not in valid:
            raise ConfigError(f"unknown piece {x!r} in --only; valid pieces of {suite.name}: {', '.join(valid)}")
    planned = []
    for task in suite.tasks:
        for algo, preset in suite.algos.items():
            name = f"{task_name(task)}/{algo}"
            if only and name not in only:
                continue
            flags = {"algo": algo, "preset": preset, "env": task, "seeds": seeds, "seed": suite.seed,
                     "total_steps": suite.total_steps, "eval_every": suite.eval_every,
                     "eval_episodes": suite.eval_episodes, "progress": str(o["progress"]).lower(),
                     "wandb": o["wandb"], "checkpoint_every": f"{o['checkpoint_every']:g}",
                     "out": Path(o["work"]) / suite.name / task_name(task) / algo}
            results = Path(o["out"]) / suite.name / task_name(task) / f"{algo}.json"
            recorded = read_results(results)
            if recorded is not None:  # checked before the run folder: the results are what must not mix
                try:
                    rc = algos.run_config(algo, preset, {k: str(v) for k, v in flags.items()
                                                         if k not in ("algo", "preset")})
                except ConfigError as e:
                    raise ConfigError(f"{e} ({name})") from None
                want, have = result_config(rc), recorded.get("config", {})
                if want != have:
                    diff = [f"{k}: {have.get(k)!r} there, {want.get(k)!r} here" for k in sorted(set(want) | set(have))
                            if want.get(k) != have.get(k)]
                    raise ConfigError(f"{results} holds {name} of another configuration ({'; '.join(diff[:3])}"
                                      f"{'; ...' if len(diff) > 3 else ''}); results of different budgets never mix: "
                                      "give another --out, or delete that file")
            piece = campaign.plan_piece(name, flags, task=task)
            planned.append(Planned(task, piece, results, recorded))
    return planned


def read_results(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except ValueError as e:
        raise ConfigError(f"{path} is not valid JSON ({e}); delete it to run its piece again") from None
    if not isinstance(data, dict) or data.get("format") != RESULTS_FORMAT:
        raise ConfigError(f"{path} is not a results file of this version (format {RESULTS_FORMAT})")
    return data


# ---------------------------------------------------------------- results files


def curves(rows: list[dict]) -> tuple[list[int], list[list[float | None]]]:
    """(evaluation steps, eval returns [seed][step]) from metrics.jsonl rows (None where a seed diverged)."""
    steps = sorted({r["step"] for r in rows})
    seeds = sorted({r["seed"] for r in rows})
    values: list[list[float | None]] = [[None] * len(steps) for _ in seeds]
    for r in rows:
        v = r.get("eval_return")
        values[seeds.index(r["seed"])][steps.index(r["step"])] = (
            float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None)
    return steps, values


def _finite(x):
    return x if isinstance(x, (int, float)) and math.isfinite(x) else None


def results_record(suite: Suite, p: Planned, machine: str, note: str = "") -> dict:
    """The results file of a finished piece, from its run folder. wall_s: the run's own clock (its last
    row's time_s: compilation, training and evaluation of every process that worked on it, summed over
    resumes up to each one's last checkpoint)."""
    import jax

    piece = p.piece
    rows = campaign.read_rows(piece.out)
    steps, values = curves(rows)
    summary = json.loads((piece.out / campaign.SUMMARY).read_text())
    seeds = [piece.rc.loop.seed + i for i in range(piece.rc.loop.seeds)]
    return {
        "format": RESULTS_FORMAT, "suite": suite.name, "task": p.task, "algo": piece.algo,
        "preset": piece.rc.preset, "seeds": seeds, "total_steps": piece.total_steps,
        "eval_every": piece.rc.loop.eval_every, "eval_episodes": piece.rc.loop.eval_episodes,
        "steps": steps, "eval_return": values, "final_return": [v[-1] if v else None for v in values],
        "wall_s": round(max(r["time_s"] for r in rows), 1), "env_steps_per_s": _finite(summary.get("steady_env_steps_per_s")),
        "train_env_steps_per_s": _finite(summary.get("steady_train_env_steps_per_s")),
        "compile_s": _finite(summary.get("compile_s")), "machine": machine, "device_count": summary.get("devices"),
        "jax_version": jax.__version__, "git_commit": piece.commit or campaign.git_commit(),
        "date": time.strftime("%Y-%m-%d"), "config": result_config(piece.rc),
        **({"note": note} if note else {}),
    }


# ---------------------------------------------------------------- launchers


def child_argv(o: dict, suite: Suite, only: str) -> list[str]:
    """This command for one piece, run where a scheduler puts it."""
    return [sys.executable, "-m", "softrl_jax.benchmark", f"--suite={suite.path}", f"--only={only}",
            f"--seeds={o['seeds'] or suite.seeds}", f"--out={Path(o['out']).resolve()}",
            f"--work={Path(o['work']).resolve()}", "--launcher=local", f"--progress={str(o['progress']).lower()}",
            f"--wandb={o['wandb']}", f"--checkpoint_every={o['checkpoint_every']:g}"] + (
                [f"--note={o['note']}"] if o["note"] else [])


def submit(o: dict, suite: Suite, todo: list[Planned]) -> int:
    """One submitit job per piece; each writes its own results file, so the pieces of a suite can finish
    on many machines. --wait: wait for them and report each job's end."""
    import submitit
    from submitit.helpers import CommandFunction

    folder = Path(o["work"]) / suite.name / "submitit"
    if o["launcher"] == "slurm":
        executor = submitit.AutoExecutor(folder=folder, cluster="slurm")
        params = {"slurm_partition": o["slurm_partition"], "timeout_min": o["slurm_time_min"]}
        if o["slurm_gpus"]:
            params["gpus_per_node"] = o["slurm_gpus"]
        if o["slurm_cpus"]:
            params["cpus_per_task"] = o["slurm_cpus"]
        executor.update_parameters(**params)
    else:
        executor = submitit.LocalExecutor(folder=folder)
        executor.update_parameters(timeout_min=o["slurm_time_min"])
    jobs = []
    for p in todo:
        job = executor.submit(CommandFunction(child_argv(o, suite, p.piece.name), cwd=str(Path.cwd())))
        print(f"{p.piece.name}: submitted as job {job.job_id} ({o['launcher']}); logs in {folder}", flush=True)
        jobs.append((p, job))
    if not o["wait"]:
        print("the jobs write their own results files; run the same command again to see what is left")
        return 0
    failed = 0
    for p, job in jobs:
        try:
            job.result()
            print(f"{p.piece.name}: job {job.job_id} finished; {p.results}", flush=True)
        except Exception as e:  # a failed job: its own log has the traceback
            failed += 1
            first = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
            print(f"error: {p.piece.name}: job {job.job_id} failed ({first}); log: {job.paths.stderr}",
                  file=sys.stderr)
    return 1 if failed else 0


# ---------------------------------------------------------------- main


def verify(suite: Suite, planned: list[Planned], children: Children) -> int:
    """Train each finished piece again in a temporary folder; its curves must equal the recorded ones."""
    bad = 0
    for p in planned:
        if p.recorded is None:
            print(f"{p.piece.name}: no results file to verify; run the suite first", file=sys.stderr)
            bad += 1
            continue
        folder = Path(tempfile.mkdtemp(prefix="softrl-verify-"))
        try:
            cmd = p.piece.command(out=folder / "run", progress="false", checkpoint="false", wandb="off")
            print(f"{p.piece.name}: training again in {folder}: {campaign.shown(cmd)}", flush=True)
            code = children.run(cmd)
            if code:
                print(f"error: {p.piece.name} exited with code {code}", file=sys.stderr)
                bad += 1
                continue
            steps, values = curves(campaign.read_rows(folder / "run"))
            same = steps == p.recorded["steps"] and values == p.recorded["eval_return"]
            print(f"{p.piece.name}: {'bit-identical to' if same else 'DIFFERENT from'} {p.results} "
                  f"(recorded on {p.recorded.get('machine')})", flush=True)
            bad += not same
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return 1 if bad else 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if show_help(argv, __doc__):
        return 0
    try:
        o = options(argv)
        suite = load_suite(o["suite"])
        planned = plan(o, suite)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for p in planned:  # a run folder that finished before its results file was written only needs the file
        p.piece.finished = p.recorded is not None or campaign.run_finished(p.piece.out, p.piece.total_steps)
    todo = [p for p in planned if p.recorded is None]
    print(f"suite {suite.name}: {len(planned)} piece(s), {len(planned) - len(todo)} finished; "
          f"{o['seeds'] or suite.seeds} seeds x {suite.total_steps:,} steps each; results in "
          f"{Path(o['out']) / suite.name}", flush=True)
    for p in planned:
        print(f"  {p.piece.name}: {p.piece.status()}", flush=True)
    with Children() as children:
        try:
            if o["verify"]:
                return verify(suite, [p for p in planned], children)
            machine = ""  # asked of a child process (JAX here would take the GPU memory the pieces need), once
            if o["estimate_only"] or o["calibrate"] != "never":
                machine = campaign.device_description()
                rates_path = Path(o["out"]) / suite.name / "rates.json"
                rates = campaign.calibrate_missing([p.piece for p in todo], rates_path, machine, children,
                                                   o["calibrate"], o["calibrate_s"], o["calibrate_every"])
                print("\n".join(campaign.estimate_lines([p.piece for p in planned], rates, machine)), flush=True)
                if o["estimate_only"]:
                    return 0
            if not todo:
                print("nothing to train: every selected piece has its results file")
                return 0
            if o["launcher"] != "local":
                return submit(o, suite, todo)
            machine = machine or campaign.device_description()
            by_piece = {id(p.piece): p for p in planned}

            def after(piece: campaign.Piece, seconds: float) -> None:
                p = by_piece[id(piece)]
                if p.recorded is not None:
                    return
                from softrl_jax.io.runstore import write_json

                write_json(p.results, results_record(suite, p, machine, o["note"]))
                print(f"{piece.name}: results in {p.results}", flush=True)

            return campaign.run_pieces([p.piece for p in planned], children, after=after)
        except Interrupted as e:
            print(e, file=sys.stderr)
            return e.exit_code
        except RuntimeError as e:  # a calibration failed, or JAX could not name the device
            print(f"error: {e}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
