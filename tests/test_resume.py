"""Checkpoints and resume with real processes and real signals: a run killed with SIGKILL at random
moments (seeded) and started again with the same command ends with the same metrics.jsonl (the
wall-clock fields aside) and the same final carry, bit for bit, as a run never interrupted; SIGTERM
stops with exit 143, a checkpoint and a line saying how to resume; a changed configuration is refused."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from softrl_jax.checkpoint import read_carry

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = ["--algo=sac", "--env=gymnax:Pendulum-v1", "--preset=quick", "--seeds=2", "--total_steps=4000",
       "--warmup_steps=500", "--eval_every=250", "--eval_episodes=2", "--buffer_size=3000", "--progress=false",
       "--checkpoint_every=0"]
CLOCK = ("time_s", "env_steps_per_s")  # wall-clock fields: they differ between any two runs


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("jax-cache"))


def start(out, cache, *extra):
    cmd = [sys.executable, "-m", "softrl_jax.train", *RUN, f"--out={out}", f"--compile_cache={cache}", *extra]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(out, cache, *extra):
    p = start(out, cache, *extra)
    stdout, stderr = p.communicate(timeout=300)
    assert p.returncode == 0, stderr[-2000:]
    return stderr


def rows(out):
    with open(os.path.join(out, "metrics.jsonl")) as f:
        return [{k: v for k, v in json.loads(line).items() if k not in CLOCK} for line in f]


def lines(out):
    try:
        with open(os.path.join(out, "metrics.jsonl")) as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def assert_same_run(out, ref):
    assert rows(out) == rows(ref)
    got, got_host = read_carry(out)
    want, want_host = read_carry(ref)
    assert got_host["next_chunk"] == want_host["next_chunk"] == 16
    import jax

    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.fixture(scope="module")
def reference(tmp_path_factory, cache):
    out = str(tmp_path_factory.mktemp("ref") / "run")
    finish(out, cache)
    assert len(rows(out)) == 2 * 14  # 16 chunks of 250 steps, the first two warm-up only (not evaluated)
    return out


def kill_at(p, out, chunks_done: int, fraction: float) -> None:
    """SIGKILL `p` once `chunks_done` evaluated chunks are in metrics.jsonl, `fraction` of a chunk later."""
    deadline = time.time() + 120
    while lines(out) < 2 * chunks_done and p.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(fraction * 0.3)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert p.returncode == -signal.SIGKILL, "the run ended before it could be killed: the test would prove nothing"


def kill_moments(trial: int) -> tuple[int, float, int, float]:
    """Trial `trial`'s seeded moments: (chunks, fraction) of the first kill, anywhere from start-up (0
    chunks: during imports or compile) to mid-run, then of a second kill of the resumed process, later."""
    rng = random.Random(8)
    for _ in range(trial + 1):
        moments = rng.randint(0, 6), rng.random(), rng.randint(7, 12), rng.random()
    return moments


# trial 0 in `make test`; trials 1 and 2 (other moments, the same check) with the system tests
@pytest.mark.parametrize("trial", [0, pytest.param(1, marks=pytest.mark.system), pytest.param(2, marks=pytest.mark.system)])
def test_sigkill_at_random_moments_then_resume_is_bit_identical(tmp_path, cache, reference, trial):
    first, first_fraction, second, second_fraction = kill_moments(trial)
    out = str(tmp_path / "run")
    p = start(out, cache)
    kill_at(p, out, first, first_fraction)
    p = start(out, cache)
    kill_at(p, out, second, second_fraction)
    finish(out, cache)
    assert_same_run(out, reference)


def test_sigterm_checkpoints_exits_143_and_resume_flag_continues(tmp_path, cache, reference):
    out = str(tmp_path / "run")
    p = start(out, cache, "--wandb=offline")  # real W&B, offline: the resumed run continues the same run ids
    while lines(out) < 2 * 4 and p.poll() is None:
        time.sleep(0.01)
    p.send_signal(signal.SIGTERM)
    _, stderr = p.communicate(timeout=120)
    assert p.returncode == 143, stderr[-2000:]
    last = stderr.strip().splitlines()[-1]
    assert "stopped by SIGTERM at step" in last and f"--resume={out}" in last
    _, host = read_carry(out)
    assert 6 <= host["next_chunk"] < 16 and lines(out) == 2 * (host["next_chunk"] - 2)
    # --resume=PATH takes the run's own flags from its config.json
    p = subprocess.run([sys.executable, "-m", "softrl_jax.train", f"--resume={out}", f"--compile_cache={cache}"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert_same_run(out, reference)
    runs = sorted(os.listdir(os.path.join(out, "wandb")))
    ids = [d.rsplit("-", 1)[-1] for d in runs if d.startswith("offline-run-")]
    assert len(ids) == 4 and len(set(ids)) == 2 and all(ids.count(i) == 2 for i in ids), runs  # 2 seeds, 2 sessions


def test_finished_run_again_changes_nothing_and_a_changed_config_is_refused(tmp_path, cache, reference):
    out = str(tmp_path / "run")
    finish(out, cache)
    before = open(os.path.join(out, "metrics.jsonl")).read()
    finish(out, cache)  # complete: nothing to train, the table again
    assert open(os.path.join(out, "metrics.jsonl")).read() == before
    p = start(out, cache, "--actor_lr=0.01")
    _, stderr = p.communicate(timeout=120)
    assert p.returncode == 2
    err = stderr.strip()
    assert "\n" not in err and "holds a run with another configuration: --actor_lr=0.01" in err
    assert open(os.path.join(out, "metrics.jsonl")).read() == before
    assert_same_run(out, reference)


def test_a_checkpoint_whose_carry_has_other_fields_is_refused_in_one_line(tmp_path, cache, reference):
    """A checkpoint written by another version whose carry had other fields (the on-policy carry lost its
    replay placeholder and noise in the redesign) is refused in one line naming both field sets, with
    nothing written; not the misleading "resume on as many devices" line."""
    import shutil

    from softrl_jax.checkpoint import Manager, checkpoint_dir

    out = str(tmp_path / "run")
    shutil.copytree(reference, out)
    steps = sorted(int(d) for d in os.listdir(checkpoint_dir(out)) if d.isdigit())
    saved = [(step, *read_carry(out, step)) for step in steps]
    shutil.rmtree(checkpoint_dir(out))
    manager = Manager(checkpoint_dir(out))
    for step, carry, host in saved:  # the same arrays, plus a field this version's carry does not have
        manager.save(step, {**carry, "placeholder": np.zeros((2,), np.float32)}, host)
    manager.wait()
    manager.close()
    before = open(os.path.join(out, "metrics.jsonl")).read()
    p = start(out, cache)
    _, stderr = p.communicate(timeout=300)
    assert p.returncode == 2
    err = stderr.strip()
    assert "\n" not in err and "were written by another version of softrl-jax" in err
    assert "placeholder" in err and "resume on as many devices" not in err
    assert open(os.path.join(out, "metrics.jsonl")).read() == before


SWEEP_SPEC = "method: grid\nparameters:\n  actor_lr:\n    values: [0.001, 0.0003]\n"


def sweep_cmd(sweep_dir, spec, cache):
    # --max_points=1: the two points train as two programs, one after the other
    return [sys.executable, "-m", "softrl_jax.sweep", "--algo=sac", "--env=gymnax:Pendulum-v1", "--seeds=2",
            "--preset=quick", "--max_points=1", f"--sweep_file={spec}", f"--sweep_dir={sweep_dir}", "--",
            "--wandb=off", "--total_steps=3000", "--warmup_steps=500", "--eval_every=250", "--eval_episodes=2",
            "--buffer_size=3000", "--progress=false", "--checkpoint_every=0", f"--compile_cache={cache}"]


def sweep_folders(sweep_dir):
    with open(os.path.join(sweep_dir, "sweep.json")) as f:
        return [os.path.join(sweep_dir, p["folder"]) for p in json.load(f)["points"]]


@pytest.mark.system
def test_a_killed_sweep_resumes_skipping_finished_points(tmp_path, cache):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SWEEP_SPEC)
    ref, cut = str(tmp_path / "ref"), str(tmp_path / "cut")
    assert subprocess.run(sweep_cmd(ref, spec, cache), cwd=ROOT, capture_output=True, timeout=600).returncode == 0
    p = subprocess.Popen(sweep_cmd(cut, spec, cache), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and p.poll() is None:
        if os.path.exists(os.path.join(cut, "sweep.json")):
            first, second = sweep_folders(cut)
            if os.path.exists(os.path.join(first, "summary.json")) and lines(second) >= 4:
                break
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert p.returncode == -signal.SIGKILL, "the sweep ended before it could be killed"
    first, second = sweep_folders(cut)
    done_before = os.stat(os.path.join(first, "metrics.jsonl")).st_mtime_ns
    rerun = subprocess.run(sweep_cmd(cut, spec, cache), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "resuming the sweep" in rerun.stderr and "1 of 2 point(s) finished" in rerun.stderr
    assert os.stat(os.path.join(first, "metrics.jsonl")).st_mtime_ns == done_before  # skipped, not retrained
    for got, want in zip(sweep_folders(cut), sweep_folders(ref), strict=True):
        assert rows(got) == rows(want) and len(rows(got)) == 2 * 10
    # another sweep into the same folder is refused with one line
    other = tmp_path / "other.yaml"
    other.write_text(SWEEP_SPEC.replace("0.0003", "0.0001"))
    bad = subprocess.run(sweep_cmd(cut, other, cache), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "holds another sweep" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def limited(out, cache, max_bytes, *extra):
    """The run's command under a real file-size limit (RLIMIT_FSIZE): a write past `max_bytes` fails with
    EFBIG, as a full disk fails with ENOSPC (Python ignores SIGXFSZ, so the write returns the error)."""
    import shutil

    cmd = [sys.executable, "-m", "softrl_jax.train", *RUN, f"--out={out}", f"--compile_cache={cache}", *extra]
    # util-linux's prlimit sets the limit and execs: no Python runs between fork and exec (preexec_fn would,
    # in a process whose JAX threads make that unsafe)
    assert shutil.which("prlimit"), "prlimit (util-linux) sets the file-size limit"
    return subprocess.run(["prlimit", f"--fsize={max_bytes}:{max_bytes}", *cmd], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_a_failed_checkpoint_write_ends_in_one_line_and_the_run_resumes_once_space_returns(tmp_path, cache, reference):
    out = str(tmp_path / "run")
    p = start(out, cache)
    kill_at(p, out, 3, 0.0)  # leaves complete checkpoints behind
    # the checkpoint files (about 400 KB) no longer fit; config.json and metrics.jsonl (< 15 KB) do
    full = limited(out, cache, 100_000)
    assert full.returncode == 1, full.stderr[-2000:]
    *before, line = full.stderr.strip().splitlines()  # one error line, no traceback, no orbax thread noise
    # the kill may have cut the newest checkpoint short: resume then says so in its one documented warning
    assert all(b.startswith("warning: checkpoint ") and "resuming from checkpoint" in b for b in before), before
    assert len(before) <= 1
    assert line.startswith("error: File too large (") and "checkpoints is intact" in line, line
    assert open(os.path.join(out, "metrics.jsonl")).read().endswith("\n")
    read_carry(out)  # the newest complete checkpoint reads
    finish(out, cache)  # space is back: the same command resumes and ends as if never interrupted
    assert_same_run(out, reference)


def test_a_failed_metrics_write_keeps_whole_rows(tmp_path, cache):
    out = str(tmp_path / "run")
    full = limited(out, cache, 5000, "--checkpoint=false")
    assert full.returncode == 1, full.stderr[-2000:]
    (line,) = full.stderr.strip().splitlines()
    assert line.startswith("error: File too large (") and "metrics.jsonl" in line and "nothing was checkpointed" in line
    text = open(os.path.join(out, "metrics.jsonl")).read()
    assert 0 < len(text) <= 5000 and text.endswith("\n")
    assert all(json.loads(row)["step"] > 0 for row in text.splitlines())  # every row whole
