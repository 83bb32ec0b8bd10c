r"""The DSPG paper's Table 1 (Shi, Song & Wu 2019) as one command: DSPG, SAC and DDPG on Ant,
HalfCheetah, Hopper and Walker2d, then the report with the paper's numbers beside ours.

    python experiments/dspg_table1.py --out=runs/table1

Protocol (the paper's): every algorithm with `--preset=paper` (SAC: v1 with a V network and a fixed
temperature; DDPG: Lillicrap et al.), 7 seeds vmapped in ONE `python -m softrl_jax.train` process per
(algorithm, task), 3e6 environment steps, evaluation every 1e4 steps over 7 deterministic episodes;
Table-1 statistic: the best over evaluations of the mean over seeds. The tasks are Brax's MJX versions
(`brax:ant`, `brax:halfcheetah`, `brax:hopper`, `brax:walker2d`), NOT the paper's MuJoCo gym v2 tasks:
the paper column is a reference point, not a target. Writes:

    <out>/<algo>-<task>/     one train run folder per piece (config, metrics, checkpoints: resumable)
    <out>/rates.json         measured env steps/s per piece, keyed by device (see Cost estimate)
    <out>/report/            `python -m softrl_jax.report --runs=<out> --out=<out>/report`; its Table-1
                             section (every run under <out>) is printed at the end

Pieces (checked first, for every piece, by the train command's own validation; a bad value prints
one line naming it and the valid choices, exits 2 and writes nothing):

    --tasks=ant,halfcheetah,hopper,walker2d   --algos=dspg,sac,ddpg
    --seeds=7  --total_steps=3000000  --eval_every=10000  --eval_episodes=7
    --warmup_steps=N   (default: not passed, the preset's)    --progress=true
    python experiments/dspg_table1.py --out=runs/table1 -- --buffer_size=1000000
                       (flags after `--` go to every train command, after the protocol's)

Resume: a piece whose metrics.jsonl reaches total_steps is skipped; an unfinished one runs the same
command again, which continues from <out>/<algo>-<task>/checkpoints. SIGTERM/SIGINT go to the running
train process (started in its own process group, so a terminal's Ctrl-C reaches it once): it stops
after the chunk in flight, writes a checkpoint and exits 143/130, and so does this pipeline; the same
command continues. A second signal stops the train process at once (its last checkpoint stays).

Cost estimate, printed before anything trains: hours = (startup_s + steps left / rate) / 3600 per
piece, from rates MEASURED on this machine by a calibration run of each piece: the piece's own command
(the real seeds, preset and flags) in a temporary folder, with a warm-up of 256 steps, evaluation
every `--calibrate_every` steps and `--episode_length=1`. The rate is env steps per second per seed
over the evaluated chunks (compilation excluded), stopped once `--calibrate_s` seconds of chunks are
measured (at least one chunk); `startup_s` is compilation, initialisation and the warm-up. One-step
episodes make the calibration's frequent evaluations one step long, so the rate is the training
rate (acting, stepping, updating; every step of any run selects its pool reset where an episode
ended, so one-step episodes cost no more). The real run's evaluations are not in the estimate: on
the 2-core CPU one evaluation of DSPG on Ant (7 seeds x 7 episodes x 1000 steps) took about 4 s, so
its 300 evaluations add about 20 minutes.

    --calibrate=auto     (default) measure the pieces about to run that have no rate for this device
    --calibrate          (=always) measure them again;   --calibrate=never: no measurement
    --calibrate_every=N  evaluation interval of a calibration run (default 32 on a CPU, 1000 elsewhere)
    --calibrate_s=30     seconds of evaluated chunks measured per piece
    --estimate_only      print the plan and the estimate (calibrating as above), then exit
    --rates=PATH         another machine's rates.json (e.g. a GPU's), estimated beside this one

Reduced CPU version (the README's; about 15 minutes on a 2-core CPU, compilation and calibration
included): `--reduced` stands for the flag set below (explicit flags win):

    python experiments/dspg_table1.py --reduced
    = --out=runs/table1-reduced --tasks=hopper --seeds=2 --total_steps=1024 --eval_every=128 --calibrate_s=10
      (each preset's own warm-up: DSPG and DDPG learn from transition 100 and 64, SAC v1 from 1000)

Testing only: `--test_env=gymnax:Pendulum-v1` trains every task on that environment instead (the
folders keep the task names), so that tests/test_table1.py can run real train processes cheaply.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from softrl_jax.config import ConfigError, parse_value
from softrl_jax.io.signals import Children, Interrupted
from softrl_jax.train import parse_flags, show_help

TASKS = ("ant", "halfcheetah", "hopper", "walker2d")
ALGOS = ("dspg", "sac", "ddpg")
PRESET = "paper"
DEFAULTS = {"out": "runs/table1", "tasks": ",".join(TASKS), "algos": ",".join(ALGOS), "seeds": "7",
            "total_steps": "3000000", "eval_every": "10000", "eval_episodes": "7", "warmup_steps": "",
            "progress": "true", "calibrate": "auto", "calibrate_every": "", "calibrate_s": "30",
            "estimate_only": "false", "reduced": "false", "rates": "", "test_env": ""}
REDUCED = {"out": "runs/table1-reduced", "tasks": "hopper", "seeds": "2", "total_steps": "1024",
           "eval_every": "128", "calibrate_s": "10"}
SWITCHES = {"--estimate_only": "true", "--reduced": "true", "--calibrate": "always"}  # bare flag = this value
CALIBRATE = ("auto", "always", "never")
# train flags the pipeline sets itself: not accepted after `--`
OWN = ("algo", "preset", "env", "seeds", "total_steps", "eval_every", "eval_episodes", "warmup_steps", "progress",
       "out", "resume")
CALIBRATION_WARMUP = 256  # at least every paper preset's batch size (SAC 256, DSPG 100, DDPG 64)
TABLE1_HEADING = "## Best average return over training"
BRAX_NOTE = ("Tasks: Brax's MJX versions (brax:<task>), not the paper's MuJoCo gym v2: read the paper column "
             "as a reference point, not a target.")


# ---------------------------------------------------------------- options and plan


def options(argv) -> tuple[dict, dict[str, str]]:
    """(pipeline options, train flags given after `--`); ConfigError on any bad value."""
    argv = [SWITCHES.get(a) and f"{a}={SWITCHES[a]}" or a for a in argv]
    own, extra = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    flags = parse_flags(own)
    for name in flags:
        if name not in DEFAULTS:
            raise ConfigError(f"unknown flag --{name}; valid flags: {' '.join('--' + k for k in DEFAULTS)} "
                              "(train flags go after --)")
    o = dict(DEFAULTS)
    if parse_value("reduced", flags.get("reduced", "false"), bool):
        o.update(REDUCED)
    o.update(flags)
    for name in ("reduced", "estimate_only", "progress"):
        o[name] = parse_value(name, o[name], bool)
    for name in ("seeds", "total_steps", "eval_every", "eval_episodes", "warmup_steps", "calibrate_every"):
        if o[name] == "" and name in ("warmup_steps", "calibrate_every"):
            o[name] = None  # the preset's warm-up; the calibration interval of the device
            continue
        o[name] = parse_value(name, o[name], int)
        if o[name] < 1:
            raise ConfigError(f"--{name}={o[name]} is out of range; must be >= 1")
    o["calibrate_s"] = parse_value("calibrate_s", o["calibrate_s"], float)
    if not o["calibrate_s"] > 0:
        raise ConfigError(f"--calibrate_s={o['calibrate_s']} is out of range; must be > 0")
    for name, valid in (("tasks", TASKS), ("algos", ALGOS)):
        o[name] = [x for x in o[name].split(",") if x]
        if not o[name]:
            raise ConfigError(f"--{name} is empty; valid choices: {', '.join(valid)}")
        for x in o[name]:
            if x not in valid:
                raise ConfigError(f"unknown {name[:-1]} {x!r} in --{name}; valid choices: {', '.join(valid)}")
            if o[name].count(x) > 1:
                raise ConfigError(f"{name[:-1]} {x!r} is listed twice in --{name}")
    if o["calibrate"] not in CALIBRATE:
        raise ConfigError(f"--calibrate={o['calibrate']!r} is not valid; valid choices: {', '.join(CALIBRATE)}")
    if o["rates"]:
        read_rates(o["rates"], must_exist=True)
    extra = parse_flags(extra)
    for name in extra:
        if name in OWN:
            raise ConfigError(f"--{name} after -- is set by this pipeline; use its own flag"
                              + ("" if name in ("algo", "preset", "env", "out", "resume") else f" --{name}")
                              + f" (train flags it leaves to you: anything but {', '.join('--' + n for n in OWN)})")
    return o, extra


@dataclasses.dataclass
class Piece:
    """One (algorithm, task): one train process with every seed."""

    algo: str
    task: str
    flags: dict[str, str]  # every train flag, in command order, --out last
    rc: object  # its RunConfig (softrl_jax.config), as the train command will build it
    existing: bool = False  # its folder holds a run of this configuration (it resumes or is skipped)
    done_steps: int = 0  # steps per seed its newest checkpoint holds
    finished: bool = False

    @property
    def out(self) -> Path:
        return Path(self.flags["out"])

    @property
    def name(self) -> str:
        return f"{self.algo}-{self.task}"

    @property
    def total_steps(self) -> int:
        return self.rc.loop.total_steps

    def command(self, **override) -> list[str]:
        flags = {**self.flags, **{k: str(v) for k, v in override.items()}}
        flags["out"] = flags.pop("out")  # last, as the train docs write it
        return [sys.executable, "-m", "softrl_jax.train"] + [f"--{k}={v}" for k, v in flags.items()]

    def rate_key(self, extra: dict[str, str]) -> str:
        """What the cost of a piece depends on: algorithm, environment, preset, seeds and extra flags."""
        return " ".join([self.algo, self.rc.loop.env, f"preset={PRESET}", f"seeds={self.rc.loop.seeds}"]
                        + [f"{k}={v}" for k, v in sorted(extra.items())])


def plan(o: dict, extra: dict[str, str]) -> list[Piece]:
    """Every selected (task, algorithm), validated by the train command's own run_config, with what its
    run folder already holds (a different configuration there is a ConfigError). Writes nothing."""
    from softrl_jax import algos, checkpoint

    pieces = []
    for task in o["tasks"]:
        for algo in o["algos"]:
            flags = {"algo": algo, "preset": PRESET, "env": o["test_env"] or f"brax:{task}", "seeds": o["seeds"],
                     "total_steps": o["total_steps"], "eval_every": o["eval_every"],
                     "eval_episodes": o["eval_episodes"]}
            if o["warmup_steps"] is not None:
                flags["warmup_steps"] = o["warmup_steps"]
            flags = {k: str(v) for k, v in {**flags, "progress": str(o["progress"]).lower(), **extra,
                                            "out": str(Path(o["out"]) / f"{algo}-{task}")}.items()}
            train_flags = {k: v for k, v in flags.items() if k not in ("algo", "preset")}
            try:
                rc = algos.run_config(algo, PRESET, train_flags)
                existing = checkpoint.check_same_config(flags["out"], rc.flat())
            except ConfigError as e:
                raise ConfigError(f"{e} ({algo} on {flags['env']})") from None
            piece = Piece(algo, task, flags, rc, existing)
            if existing:
                steps = [r["step"] for r in read_rows(piece.out)]
                piece.finished = bool(steps) and max(steps) >= piece.total_steps
                piece.done_steps = piece.total_steps if piece.finished else checkpointed_steps(piece)
            pieces.append(piece)
    return pieces


def read_rows(out: Path) -> list[dict]:
    """The metrics.jsonl rows of a run folder ([] when there is none)."""
    from softrl_jax.io.runstore import read_metrics

    return read_metrics(out) if (Path(out) / "metrics.jsonl").is_file() else []


def checkpointed_steps(piece: Piece) -> int:
    """Steps per seed in the newest checkpoint (a resumed run continues from there; metrics.jsonl rows
    written after it are truncated on resume)."""
    from softrl_jax.checkpoint import checkpoint_dir

    folder = checkpoint_dir(piece.out)
    chunks = [int(p.name) for p in folder.iterdir() if p.name.isdigit()] if folder.is_dir() else []
    return min(max(chunks, default=0) * piece.rc.loop.eval_every, piece.total_steps)


def shown(cmd: list[str]) -> str:
    """A child's command as a user would type it."""
    return " ".join(["python"] + cmd[1:])


def status(piece: Piece) -> str:
    if piece.finished:
        return "finished: skipped"
    if piece.existing:
        return f"resumes at step {piece.done_steps:,}"
    return "new"


# ---------------------------------------------------------------- device and rates


def device_description() -> str:
    """This machine's accelerator (or CPU) in words, asked of a child process: JAX in this one would
    take GPU memory the runs need. E.g. 'gpu: NVIDIA H100 80GB HBM3 x 1', 'cpu: Intel Xeon x 2 cores'."""
    code = ("import os, jax\nd = jax.devices()\n"
            "if d[0].platform == 'cpu':\n"
            "    model = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')),"
            " 'cpu') if os.path.exists('/proc/cpuinfo') else 'cpu'\n"
            "    print(f'cpu: {model} x {len(os.sched_getaffinity(0))} cores')\n"
            "else:\n"
            "    print(f'{d[0].platform}: {d[0].device_kind} x {len(d)}')\n")
    env = {**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if proc.returncode:
        raise RuntimeError(f"could not ask JAX for the device: {proc.stderr.strip()[-500:]}")
    return proc.stdout.strip()


def is_gpu(device: str) -> bool:
    return device.split(":")[0] in ("gpu", "cuda", "rocm")


def read_rates(path: str | Path, must_exist: bool = False) -> dict[str, dict[str, dict]]:
    """{device: {rate key: measurement}} from a rates.json; {} when it does not exist."""
    path = Path(path)
    if not path.is_file():
        if must_exist:
            raise ConfigError(f"--rates={str(path)!r} is not a file; pass a rates.json written by this script")
        return {}
    try:
        rates = json.loads(path.read_text())
    except ValueError as e:
        raise ConfigError(f"--rates={str(path)!r} is not valid JSON ({e})") from None
    if not isinstance(rates, dict) or not all(isinstance(v, dict) for v in rates.values()):
        raise ConfigError(f"--rates={str(path)!r} is not a rates.json written by this script")
    return rates


def measure(rows: list[dict], every: int, seeds: int) -> dict | None:
    """The rate of a calibration run from its metrics.jsonl rows (one evaluated chunk of `every` steps per
    seed each): env steps per second per seed over those chunks, and the seconds before the first.
    Each row's env_steps_per_s is its chunk's own (all seeds, evaluation included, compilation not)."""
    chunks = sorted({r["step"]: r for r in rows}.values(), key=lambda r: r["step"])
    if not chunks:
        return None
    seconds = [every * seeds / r["env_steps_per_s"] for r in chunks]
    steps_per_s = len(chunks) * every / sum(seconds)
    return {"steps_per_s": steps_per_s, "env_steps_per_s": steps_per_s * seeds,
            "startup_s": chunks[0]["time_s"] - seconds[0], "measured_s": sum(seconds), "chunks": len(chunks),
            "calibrate_every": every}


def calibrate(piece: Piece, o: dict, device: str, children: "Children") -> dict:
    """Run `piece`'s own command in a temporary folder with evaluation every `calibrate_every` steps and
    one-step episodes (evaluations of one step: the rate is training's) until `calibrate_s` seconds of
    evaluated chunks are measured; return `measure`'s record."""
    every = o["calibrate_every"] or (32 if device.startswith("cpu") else 1000)
    warmup = every * math.ceil(max(CALIBRATION_WARMUP, piece.rc.algo_cfg.batch_size) / every)
    folder = Path(tempfile.mkdtemp(prefix=f"dspg-table1-calibrate-{piece.name}-"))
    try:
        cmd = piece.command(out=folder / "run", total_steps=warmup + every * 100_000, eval_every=every,
                            warmup_steps=warmup, episode_length=1, progress="false", checkpoint="false")
        print(f"calibrating {piece.name} on {device}: {shown(cmd)}", flush=True)
        with open(folder / "log.txt", "w") as log:
            proc = children.start(cmd, stdout=log, stderr=subprocess.STDOUT)
            record = None
            while proc.poll() is None and children.signum is None:
                record = measure(read_rows(folder / "run"), every, piece.rc.loop.seeds)
                if record and record["measured_s"] >= o["calibrate_s"]:
                    break
                time.sleep(0.5)
            if proc.poll() is None:
                proc.kill()  # a throwaway run: no checkpoint to wait for
            proc.wait()
        if children.signum is not None:
            raise Interrupted(children.signum, then=f"the calibration of {piece.name} starts again")
        record = measure(read_rows(folder / "run"), every, piece.rc.loop.seeds)
        if record is None:
            tail = (folder / "log.txt").read_text()[-3000:]
            raise RuntimeError(f"calibration of {piece.name} ended (exit code {proc.returncode}) before its first "
                               f"evaluation:\n{tail}")
        record["date"] = datetime.datetime.now().isoformat(timespec="seconds")
        print(f"  {record['steps_per_s']:.3g} steps/s per seed ({record['env_steps_per_s']:.3g} env steps/s, "
              f"{piece.rc.loop.seeds} seeds) over {record['chunks']} chunk(s), {record['measured_s']:.0f} s; "
              f"startup {record['startup_s']:.0f} s", flush=True)
        return record
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------- estimate


def piece_hours(piece: Piece, record: dict | None) -> float | None:
    """(startup + steps left / rate) / 3600; 0 for a finished piece; None without a measurement."""
    if piece.finished:
        return 0.0
    if record is None:
        return None
    return (record["startup_s"] + (piece.total_steps - piece.done_steps) / record["steps_per_s"]) / 3600


def fmt_hours(h: float | None) -> str:
    if h is None:
        return "not measured"
    if h < 1:
        return f"{h:.2f} h ({h * 60:.0f} min)"
    return f"{h:.2f} h" if h < 100 else f"{h:,.0f} h ({h / 24:,.0f} days)"


def estimate_lines(pieces: list[Piece], extra: dict, rates: dict[str, dict], this_device: str) -> list[str]:
    """The estimate as a markdown table: one column per device with measurements (this machine first)."""
    devices = [this_device] + sorted(d for d in rates if d != this_device)
    lines = ["Cost estimate from measured rates: hours = (startup + steps left / rate) / 3600, rate = env "
             "steps per second per seed, all seeds at once",
             "| piece | seeds | steps left | " + " | ".join(devices) + " |",
             "|---|---:|---:|" + "---:|" * len(devices)]
    totals, missing = {d: 0.0 for d in devices}, {d: 0 for d in devices}
    for p in pieces:
        cells = []
        for d in devices:
            record = rates.get(d, {}).get(p.rate_key(extra))
            h = piece_hours(p, record)
            totals[d] += h or 0.0
            missing[d] += h is None
            rate = f"{record['steps_per_s']:.3g}/s, " if record and not p.finished else ""
            cells.append(rate + fmt_hours(h))
        left = p.total_steps - p.done_steps
        lines.append(f"| {p.algo} {p.task} | {p.rc.loop.seeds} | {left:,} | " + " | ".join(cells) + " |")
    lines.append("| total | | | " + " | ".join(
        fmt_hours(totals[d]) + (f" + {missing[d]} not measured" if missing[d] else "") for d in devices) + " |")
    lines.append(f"this machine: {this_device}")
    if not any(is_gpu(d) and any(rates[d].get(p.rate_key(extra)) for p in pieces) for d in rates):
        lines.append("GPU: not measured (run with --estimate_only on a GPU machine)")
    return lines


# ---------------------------------------------------------------- running


def table1_section(report_md: str) -> str:
    """The Table-1 section of report.md, up to the next section."""
    lines = report_md.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(TABLE1_HEADING))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(lines[start:end]).rstrip()


def pipeline(o: dict, extra: dict, pieces: list[Piece], children: Children) -> int:
    out = Path(o["out"])
    print(f"DSPG paper Table 1: {len(pieces)} piece(s) into {out}. {BRAX_NOTE}")
    for p in pieces:
        print(f"  {p.name}: {status(p)}\n    {shown(p.command())}")
    device = device_description()
    rates_path = out / "rates.json"
    rates = read_rates(rates_path)
    todo = [p for p in pieces if not p.finished]
    for p in todo:
        key = p.rate_key(extra)
        if o["calibrate"] == "always" or (o["calibrate"] == "auto" and key not in rates.get(device, {})):
            record = calibrate(p, o, device, children)
            rates = read_rates(rates_path)  # written piece by piece: a stopped calibration keeps the others
            rates.setdefault(device, {})[key] = record
            from softrl_jax.io.runstore import write_json

            write_json(rates_path, rates)
    known = {d: dict(r) for d, r in rates.items()}
    if o["rates"]:
        for d, r in read_rates(o["rates"]).items():
            known.setdefault(d, {}).update(r)
    print("\n".join(estimate_lines(pieces, extra, known, device)), flush=True)
    if o["estimate_only"]:
        return 0
    t0 = time.perf_counter()
    for p in pieces:
        if p.finished:
            print(f"{p.name}: finished ({p.total_steps:,} steps): skipped", flush=True)
            continue
        print(f"{p.name}: {status(p)}: {shown(p.command())}", flush=True)
        code = children.run(p.command())
        if code:
            print(f"error: {p.name} exited with code {code}; fix the cause and run the same command again "
                  "(finished pieces are skipped, this one resumes)", file=sys.stderr)
            return code
    code = children.run([sys.executable, "-m", "softrl_jax.report", f"--runs={out}", f"--out={out / 'report'}"])
    if code:
        return code
    print(f"\n{BRAX_NOTE}\n\n" + table1_section((out / "report" / "report.md").read_text()))
    print(f"\n{len(pieces)} piece(s) in {time.perf_counter() - t0:.0f} s of training and report; report: "
          f"{out / 'report' / 'report.md'}")
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if show_help(argv, __doc__):
        return 0
    try:
        o, extra = options(argv)
        pieces = plan(o, extra)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    with Children() as children:
        try:
            return pipeline(o, extra, pieces, children)
        except Interrupted as e:
            print(e, file=sys.stderr)
            return e.exit_code
        except RuntimeError as e:  # a calibration run failed, or JAX could not name the device
            print(f"error: {e}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
