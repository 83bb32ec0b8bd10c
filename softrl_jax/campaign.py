"""The campaign layer: everything that runs many pieces, where a piece is ONE `python -m softrl_jax.train`
process (one compiled program over its seeds), e.g. one (task, algorithm) of a benchmark suite.

Used by `python -m softrl_jax.benchmark` (suites), `experiments/dspg_table1.py`, `experiments/pg_soft_q.py`
and the sweeps' resume (`softrl_jax/sweep.py`). It gives them:

- ONE definition of finished (`run_finished`): a run folder whose summary.json says it reached its
  total_steps. The runner writes summary.json last, after every chunk's metrics.jsonl rows and the final
  checkpoint, so a run killed at any moment before is unfinished and resumes from its checkpoint.
- a piece's state before it runs: new, resumes at step N (its newest checkpoint), or finished (skipped);
  a run folder holding another configuration is refused with one line (ConfigError);
- cost estimates from rates measured on this machine (`calibrate`, `estimate_lines`);
- running the pieces one after another as child processes that get SIGTERM/SIGINT forwarded
  (`run_pieces`, through `io.signals.Children`): the running piece checkpoints and exits 143/130, no
  new one starts, and the same command continues.
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
from typing import Callable, Sequence

from softrl_jax.config import ConfigError
from softrl_jax.io.signals import Children, Interrupted

PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # the checkout git_commit() reads

SUMMARY = "summary.json"


def run_finished(out: str | os.PathLike, total_steps: int | None = None) -> bool:
    """THE definition of a finished run folder: its summary.json exists (written last, once every chunk's
    rows and the final checkpoint are on disk) and, when `total_steps` is given, records at least that
    many steps per seed."""
    path = Path(out) / SUMMARY
    if not path.is_file():
        return False
    if total_steps is None:
        return True
    try:
        done = json.loads(path.read_text()).get("total_steps")
    except ValueError:
        return False
    return isinstance(done, int) and done >= total_steps


def read_rows(out: str | os.PathLike) -> list[dict]:
    """The metrics.jsonl rows of a run folder ([] when there is none)."""
    from softrl_jax.io.runstore import read_metrics

    return read_metrics(out) if (Path(out) / "metrics.jsonl").is_file() else []


def checkpointed_steps(out: str | os.PathLike, eval_every: int, total_steps: int) -> int:
    """Steps per seed in the newest checkpoint of a run folder (a resumed run continues from there;
    metrics.jsonl rows written after it are truncated on resume)."""
    from softrl_jax.checkpoint import checkpoint_dir

    folder = checkpoint_dir(out)
    chunks = [int(p.name) for p in folder.iterdir() if p.name.isdigit()] if folder.is_dir() else []
    return min(max(chunks, default=0) * eval_every, total_steps)


@dataclasses.dataclass
class Piece:
    """One train process with every seed. `flags`: every train flag, --out last."""

    name: str
    algo: str
    flags: dict[str, str]
    rc: object  # its RunConfig (softrl_jax.config), as the train command will build it
    existing: bool = False  # its folder holds a run of this configuration (it resumes or is skipped)
    done_steps: int = 0  # steps per seed its newest checkpoint holds
    finished: bool = False
    rate_extra: tuple[str, ...] = ()  # what else its cost depends on (extra flags), for the rate key
    task: str = ""  # the caller's name of its task
    commit: str = ""  # git_commit() when its (last) process started: the code that trained it

    @property
    def out(self) -> Path:
        return Path(self.flags["out"])

    @property
    def total_steps(self) -> int:
        return self.rc.loop.total_steps

    def command(self, **override) -> list[str]:
        flags = {**self.flags, **{k: str(v) for k, v in override.items()}}
        flags["out"] = flags.pop("out")  # last, as the train docs write it
        return [sys.executable, "-m", "softrl_jax.train"] + [f"--{k}={v}" for k, v in flags.items()]

    def rate_key(self) -> str:
        return rate_key(self.algo, self.rc.loop.env, self.rc.preset, self.rc.loop.seeds, self.rate_extra)

    def status(self) -> str:
        if self.finished:
            return "finished: skipped"
        if self.existing:
            return f"resumes at step {self.done_steps:,}"
        return "new"


def plan_piece(name: str, flags: dict[str, str], rate_extra: Sequence[str] = (), task: str = "") -> Piece:
    """A piece from its train flags (`algo` and `preset` among them), validated by the train command's own
    run_config, with what its run folder already holds (another configuration there: ConfigError).
    Writes nothing."""
    from softrl_jax import algos, checkpoint

    flags = {k: str(v) for k, v in flags.items()}
    flags["out"] = flags.pop("out")
    train_flags = {k: v for k, v in flags.items() if k not in ("algo", "preset")}
    try:
        rc = algos.run_config(flags["algo"], flags.get("preset", "paper"), train_flags)
        existing = checkpoint.check_same_config(flags["out"], rc.flat())
    except ConfigError as e:
        raise ConfigError(f"{e} ({name})") from None
    piece = Piece(name, flags["algo"], flags, rc, existing, rate_extra=tuple(rate_extra), task=task)
    if existing:
        piece.finished = run_finished(piece.out, piece.total_steps)
        piece.done_steps = (piece.total_steps if piece.finished else
                            checkpointed_steps(piece.out, rc.loop.eval_every, piece.total_steps))
    return piece


def git_commit() -> str:
    """HEAD's commit, with '+dirty' when tracked files differ from it; 'unknown' outside a git checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PACKAGE_ROOT, capture_output=True, text=True,
                              timeout=10)
        if head.returncode:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PACKAGE_ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return head.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def shown(cmd: list[str]) -> str:
    """A child's command as a user would type it."""
    return " ".join(["python"] + cmd[1:])


def run_pieces(pieces: Sequence[Piece], children: Children, after: Callable[[Piece, float], None] | None = None,
               budget_s: float = 0.0) -> int:
    """Run every unfinished piece, one after another, as a child process; `after(piece, seconds)` once a
    piece ends well (also for a piece found finished, with 0 s). `budget_s` > 0: no piece starts after
    that many seconds. The first failing piece stops the campaign with its exit code; SIGTERM/SIGINT
    raise `Interrupted` once the running piece has checkpointed."""
    t0 = time.perf_counter()
    for p in pieces:
        if p.finished:
            print(f"{p.name}: finished ({p.total_steps:,} steps): skipped", flush=True)
            if after is not None:
                after(p, 0.0)
            continue
        if budget_s and time.perf_counter() - t0 > budget_s:
            print(f"{p.name}: not started, --budget_s={budget_s:g} spent", flush=True)
            continue
        print(f"{p.name}: {p.status()}: {shown(p.command())}", flush=True)
        t = time.perf_counter()
        p.commit = git_commit()  # the code the child imports now, whatever HEAD is by the time it ends
        code = children.run(p.command())
        if code:
            print(f"error: {p.name} exited with code {code}; fix the cause and run the same command again "
                  "(finished pieces are skipped, this one resumes)", file=sys.stderr)
            return code
        if not run_finished(p.out, p.total_steps):
            print(f"error: {p.name} exited 0 without {SUMMARY} in {p.out}", file=sys.stderr)
            return 1
        p.finished = True
        if after is not None:
            after(p, time.perf_counter() - t)
    return 0


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
            raise ConfigError(f"--rates={str(path)!r} is not a file; pass a rates.json written by a campaign")
        return {}
    try:
        rates = json.loads(path.read_text())
    except ValueError as e:
        raise ConfigError(f"--rates={str(path)!r} is not valid JSON ({e})") from None
    if not isinstance(rates, dict) or not all(isinstance(v, dict) for v in rates.values()):
        raise ConfigError(f"--rates={str(path)!r} is not a rates.json written by a campaign")
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


CALIBRATION_WARMUP = 256  # at least every paper preset's batch size (SAC 256, DSPG 100, DDPG 64)


def calibrate(piece: Piece, device: str, children: Children, calibrate_s: float, every: int | None = None) -> dict:
    """Run `piece`'s own command in a temporary folder with evaluation every `every` steps and one-step
    episodes (evaluations of one step: the rate is training's) until `calibrate_s` seconds of evaluated
    chunks are measured; return `measure`'s record."""
    every = every or (32 if device.startswith("cpu") else 1000)
    warmup = every * math.ceil(max(CALIBRATION_WARMUP, piece.rc.algo_cfg.batch_size) / every)
    folder = Path(tempfile.mkdtemp(prefix=f"softrl-calibrate-{piece.name.replace('/', '-')}-"))
    try:
        cmd = piece.command(out=folder / "run", total_steps=warmup + every * 100_000, eval_every=every,
                            warmup_steps=warmup, episode_length=1, progress="false", checkpoint="false")
        print(f"calibrating {piece.name} on {device}: {shown(cmd)}", flush=True)
        with open(folder / "log.txt", "w") as log:
            proc = children.start(cmd, stdout=log, stderr=subprocess.STDOUT)
            record = None
            while proc.poll() is None and children.signum is None:
                record = measure(read_rows(folder / "run"), every, piece.rc.loop.seeds)
                if record and record["measured_s"] >= calibrate_s:
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


def calibrate_missing(pieces: Sequence[Piece], rates_path: Path, device: str, children: Children, mode: str,
                      calibrate_s: float, every: int | None = None) -> dict[str, dict]:
    """Calibrate the unfinished pieces without a rate for `device` (mode auto), all of them (always) or
    none (never); each record is written to `rates_path` as soon as it is measured. Returns the rates."""
    from softrl_jax.io.runstore import write_json

    rates = read_rates(rates_path)
    for p in pieces:
        if p.finished or mode == "never" or (mode == "auto" and p.rate_key() in rates.get(device, {})):
            continue
        record = calibrate(p, device, children, calibrate_s, every)
        rates = read_rates(rates_path)  # written piece by piece: a stopped calibration keeps the others
        rates.setdefault(device, {})[p.rate_key()] = record
        write_json(rates_path, rates)
    return rates


# ---------------------------------------------------------------- estimate


def rate_key(algo: str, env: str, preset: str, seeds: int, extra: Sequence[str] = ()) -> str:
    """What the cost of a piece depends on, the key of its measured rate in rates.json: algorithm,
    environment, preset, seeds and extra flags."""
    return " ".join([algo, env, f"preset={preset}", f"seeds={seeds}", *extra])


def hours(record: dict | None, steps_left: int) -> float | None:
    """(startup + steps left / rate) / 3600 from a measured rate; None without a measurement."""
    if record is None:
        return None
    return (record["startup_s"] + steps_left / record["steps_per_s"]) / 3600


def piece_hours(piece: Piece, record: dict | None) -> float | None:
    """The hours `piece` has left; 0 when finished; None without a measurement."""
    return 0.0 if piece.finished else hours(record, piece.total_steps - piece.done_steps)


def fmt_hours(h: float | None) -> str:
    if h is None:
        return "not measured"
    if h < 1:
        return f"{h:.2f} h ({h * 60:.0f} min)"
    return f"{h:.2f} h" if h < 100 else f"{h:,.0f} h ({h / 24:,.0f} days)"


def estimate_lines(pieces: Sequence[Piece], rates: dict[str, dict], this_device: str) -> list[str]:
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
            record = rates.get(d, {}).get(p.rate_key())
            h = piece_hours(p, record)
            totals[d] += h or 0.0
            missing[d] += h is None
            rate = f"{record['steps_per_s']:.3g}/s, " if record and not p.finished else ""
            cells.append(rate + fmt_hours(h))
        left = p.total_steps - p.done_steps
        lines.append(f"| {p.name} | {p.rc.loop.seeds} | {left:,} | " + " | ".join(cells) + " |")
    lines.append("| total | | | " + " | ".join(
        fmt_hours(totals[d]) + (f" + {missing[d]} not measured" if missing[d] else "") for d in devices) + " |")
    lines.append(f"this machine: {this_device}")
    if not any(is_gpu(d) and any(rates[d].get(p.rate_key()) for p in pieces) for d in rates):
        lines.append("GPU: not measured (run with --estimate_only on a GPU machine)")
    return lines
