"""The watchdog: a real stalled chunk gets every thread's stack dumped (faulthandler), one line, and with
--on_hang=exit a non-zero exit that leaves the last checkpoint valid (no mocks: a real process)."""

import json
import subprocess
import sys
import threading
import time

from softrl_jax.io.watchdog import EXIT_CODE, Watchdog


def test_a_late_chunk_is_dumped_once_and_the_run_waits_on(tmp_path, capsys):
    stalled = threading.Event()

    def stall():  # a thread that sits where a hung program would, so its frame is in the dump
        stalled.wait(5)

    worker = threading.Thread(target=stall, name="stalled-worker")
    worker.start()
    with Watchdog(tmp_path, factor=2.0, floor_s=0.2, on_hang="wait", poll_s=0.05) as dog:
        assert dog.expected_s() is None  # the first chunk of a process is never judged
        dog.durations = [0.01, 0.05, 0.02]
        assert dog.expected_s() == 0.2  # max(floor 0.2, 2 x median 0.02)
        dog.start(7, 7000)
        time.sleep(0.6)  # past 0.2 s: reported once, not once per poll
        dog.done()
    stalled.set()
    worker.join()
    assert len(dog.dumps) == 1 and dog.dumps[0].parent == tmp_path
    text = dog.dumps[0].read_text()
    assert text.startswith("chunk 7 (from step 7000) has run") and "expected at most 0.2 s" in text
    assert "in stall" in text and "Thread 0x" in text  # every thread's stack, the stalled one's included
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("watchdog: the chunk from step 7000 has run")
    assert str(dog.dumps[0]) in err and "waiting on" in err


def test_on_hang_exit_ends_a_real_run_with_code_3_and_it_resumes(tmp_path):
    """A chunk judged late at once (--hang_factor tiny, --hang_floor_s=0): the run dumps, says one line
    and exits 3 after its first chunk's checkpoint; the same command without the flags resumes it."""
    out = tmp_path / "run"
    base = [sys.executable, "-m", "softrl_jax.train", "--algo=sac", "--env=gymnax:Pendulum-v1", "--preset=quick",
            "--seeds=1", "--warmup_steps=1000", "--eval_every=2000", "--total_steps=8000", "--eval_episodes=1",
            "--progress=false", "--checkpoint_every=0", f"--out={out}"]
    hung = subprocess.run(base + ["--hang_factor=0.0001", "--hang_floor_s=0", "--on_hang=exit"],
                          capture_output=True, text=True, timeout=300)
    assert hung.returncode == EXIT_CODE, hung.stderr[-2000:]
    lines = [line for line in hung.stderr.splitlines() if line.startswith("watchdog:")]
    assert len(lines) == 1 and "the chunk from step 2000 has run" in lines[0] and "exiting with code 3" in lines[0]
    assert (out / "checkpoints" / "1").is_dir()  # the checkpoint after chunk 0, complete (orbax renames when done)
    dumps = list(out.glob("hang-*.txt"))
    assert len(dumps) == 1 and str(dumps[0]) in lines[0]
    assert "Thread 0x" in dumps[0].read_text() or "Current thread 0x" in dumps[0].read_text()
    resumed = subprocess.run(base, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2000, 4000, 6000, 8000]
