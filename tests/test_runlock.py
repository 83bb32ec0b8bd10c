"""One writer per run folder: real processes, real flock locks, a real SIGKILL (no mocks of the OS)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from softrl_jax.config import ConfigError
from softrl_jax.io import runlock

HOLD = """
import sys, time
from softrl_jax.io import runlock
runlock.hold(sys.argv[1], sys.argv[2])
print("held", flush=True)
time.sleep(600)
"""


def _holder(folder: Path, what: str = "run") -> subprocess.Popen:
    """A real process that holds `folder`'s lock until killed."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder), what], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def test_a_second_process_is_refused_naming_the_holder(tmp_path):
    folder = tmp_path / "run"
    proc = _holder(folder)
    try:
        assert (folder / ".lock").read_text().strip() == str(proc.pid)
        before = _snapshot(folder)
        with pytest.raises(ConfigError, match=rf"in use by process {proc.pid}: another run is writing there"):
            runlock.hold(folder)
        assert _snapshot(folder) == before  # the loser wrote nothing
    finally:
        proc.kill()
        proc.wait()


def test_a_killed_holder_never_blocks(tmp_path):
    folder = tmp_path / "run"
    proc = _holder(folder)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (folder / ".lock").read_text().strip() == str(proc.pid)  # the stale file stays...
    try:
        runlock.hold(folder)  # ...and blocks nothing: the kernel dropped the lock with the process
        assert (folder / ".lock").read_text().strip() == str(os.getpid())
        runlock.hold(folder)  # idempotent within one process
    finally:
        runlock.release(folder)


def test_nothing_is_written_inside_a_folder_another_process_sweeps(tmp_path):
    sweep = tmp_path / "sweep"
    proc = _holder(sweep, "sweep")
    try:
        with pytest.raises(ConfigError, match=rf"in use by process {proc.pid} .*: a run cannot write inside it"):
            runlock.hold(sweep / "point-0")
        assert not (sweep / "point-0").exists()
    finally:
        proc.kill()
        proc.wait()


TRAIN = ["-m", "softrl_jax.train", "--algo=sac", "--env=gymnax:Pendulum-v1", "--preset=quick", "--seeds=1",
         "--hidden=32,32", "--batch_size=32", "--warmup_steps=500", "--eval_every=500", "--eval_episodes=1",
         "--buffer_size=5000", "--progress=false", "--wandb=off"]  # the suite's compile cache (conftest.py)


def test_two_trains_with_one_out_the_second_exits_2_with_one_line(tmp_path):
    """The colliding writers of the issue: the same command twice, seconds apart. The second gets one line
    naming the first's PID and exit 2; the first finishes alone, so metrics.jsonl holds each evaluation
    once (with two writers, rows came twice)."""
    out = tmp_path / "run"
    # no compile cache: the first run compiles, so it is surely still running when the second starts
    cmd = [sys.executable, *TRAIN, "--total_steps=4000", "--compile_cache=off", f"--out={out}"]
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not ((out / ".lock").exists() and (out / ".lock").read_text().strip() == str(first.pid)):
            assert first.poll() is None and time.time() < deadline, first.stderr.read() if first.poll() else "timeout"
            time.sleep(0.1)
        second = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        running = first.poll() is None
        first_err = first.communicate(timeout=300)[1]
    finally:
        first.kill()
    assert running, "the first run ended before the second asked for the folder: the test checked nothing"
    assert second.returncode == 2, second.stderr[-2000:]
    err = second.stderr.strip()
    assert "\n" not in err and err.startswith("error: ") and f"in use by process {first.pid}" in err
    assert first.returncode == 0, first_err[-2000:]
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 4000  # every evaluation once, in order


def test_sweep_stopped_by_sigterm_exits_143_with_one_line_and_resumes(tmp_path):
    """SIGTERM ends a sweep as it ends a train: one line, the group checkpointed, exit 143; the same
    command then finishes the sweep from the checkpoint."""
    sweep_dir = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "softrl_jax.sweep", "--algo=sac", "--env=gymnax:Pendulum-v1", "--preset=quick",
           "--seeds=1", "--count=2", f"--sweep_dir={sweep_dir}", "--wandb=off", "--", "--total_steps=8000",
           "--hidden=32,32", "--batch_size=32", "--warmup_steps=500", "--eval_every=500", "--eval_episodes=1",
           "--buffer_size=5000", "--progress=false", "--checkpoint_every=0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    while not list(sweep_dir.glob("*/metrics.jsonl")):
        assert proc.poll() is None and time.time() < deadline, proc.communicate()[1][-2000:]
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 143, err[-2000:]
    assert "Traceback" not in err
    last = [line for line in err.strip().splitlines() if line.strip()][-1]
    assert "stopped by SIGTERM at step" in last and "Resume with the same command" in last
    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    for metrics in sweep_dir.glob("*/metrics.jsonl"):
        steps = [json.loads(line)["step"] for line in metrics.read_text().splitlines()]
        assert steps == sorted(set(steps)) and steps[-1] == 8000


def test_a_truncated_newest_checkpoint_falls_back_to_the_previous_one(tmp_path):
    """The newest checkpoint's largest file cut short (a kill or a full disk while it was written):
    resuming warns in one line, restores the previous checkpoint and ends bit-identical to the
    uninterrupted run. With every checkpoint unreadable it refuses with one line and exit 2."""
    out = tmp_path / "run"
    cmd = [sys.executable, *[a for a in TRAIN if a != "--seeds=1"], "--seeds=2", "--total_steps=2000", "--checkpoint_every=0", f"--out={out}"]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    uninterrupted = _rows(out)
    steps = sorted(int(p.name) for p in (out / "checkpoints").iterdir() if p.name.isdigit())
    assert steps == [3, 4]  # the newest two: after chunks 3 and 4 of 4
    newest = max((p for p in (out / "checkpoints" / "4").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    with open(newest, "r+b") as f:
        f.truncate(100)
    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "warning: checkpoint 4: " in resumed.stderr and "resuming from checkpoint 3" in resumed.stderr
    assert "Traceback" not in resumed.stderr and "Event loop is closed" not in resumed.stderr
    assert _rows(out) == uninterrupted  # chunk 4 trained again from checkpoint 3: the same numbers
    for step in (3, 4):
        big = max((p for p in (out / "checkpoints" / str(step)).rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
        with open(big, "r+b") as f:
            f.truncate(100)
    refused = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2
    err = refused.stderr.strip()
    assert "\n" not in err and err.startswith("error: no checkpoint in ") and "is readable" in err


def _rows(out: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if k not in ("time_s", "env_steps_per_s")}
            for line in (out / "metrics.jsonl").read_text().splitlines()]
