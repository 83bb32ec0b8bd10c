"""SIGTERM and SIGINT end the in-process experiments at once with one line and 143 / 130, even while a
compiled program runs (real processes, real signals)."""

import os
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def stop(cmd, wait_for: str, signum: int) -> subprocess.CompletedProcess:
    p = subprocess.Popen([sys.executable, *cmd], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert wait_for in line, line
    time.sleep(2.0)  # inside the compiled program by now (it runs for minutes)
    t = time.time()
    p.send_signal(signum)
    out, err = p.communicate(timeout=60)
    return subprocess.CompletedProcess(cmd, p.returncode, out, err), time.time() - t


@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_maxent_irl_stops_at_once_with_one_line(tmp_path, signum, code):
    out = tmp_path / "irl"
    proc, took = stop(["experiments/maxent_irl.py", f"--out={out}"], "compiling and running one program", signum)
    assert proc.returncode == code, proc.stderr[-2000:]
    lines = [x for x in proc.stderr.strip().splitlines() if "Warning" not in x and "warnings.warn" not in x]
    assert lines == [f"stopped by {signal.Signals(signum).name}: one compiled program, nothing written; run the same "
                     "command again"]
    assert took < 10  # not after the program: it runs for minutes
    assert not out.exists() or not any(out.iterdir())  # nothing half-written
