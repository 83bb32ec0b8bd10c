"""Every run says its expected training time before training, and progress off a terminal prints plain
lines with an ETA (pytest's captured stderr is not a terminal)."""

import json
import re

import pytest

from softrl_jax import train
from softrl_jax.io import eta

TINY = ["--algo=sac", "--preset=quick", "--env=gymnax:Pendulum-v1", "--seeds=1", "--total_steps=600",
        "--warmup_steps=200", "--eval_every=200", "--batch_size=32", "--hidden=8,8", "--buffer_size=1000",
        "--eval_episodes=1", "--checkpoint=false", "--wandb=off", "--progress=true"]


def test_the_estimate_comes_before_training_then_from_this_machines_rate(tmp_path, capsys):
    cache = tmp_path / "cache"
    args = TINY + [f"--compile_cache={cache}"]
    assert train.main(args + [f"--out={tmp_path / 'a'}"]) == 0
    err = capsys.readouterr().err
    first = err.index("estimated training time: after the first training chunk (this program has not run here")
    assert first < err.index("200/600")  # said before the first chunk's progress line
    assert re.search(r"estimated training time: \d+s \(200 env steps at [\d,]+ env steps/s, the rate of the first "
                     r"training chunk\)", err), err
    assert re.search(r"600/600 \(100%\) .* elapsed \d+s  ETA 0s", err), err  # plain lines with an ETA
    rates = json.loads((cache / "rates.json").read_text())
    (saved,) = rates.values()
    assert saved["env_steps_per_s"] > 0
    # the same program (other seed, folder and length) later: the estimate is there before training
    longer = [a.replace("--total_steps=600", "--total_steps=800") for a in args]
    assert train.main(longer + [f"--out={tmp_path / 'b'}", "--seed=7"]) == 0
    err = capsys.readouterr().err
    want = eta.estimate(800, saved["env_steps_per_s"], f"this program's rate here on {saved['measured']}")
    assert want in err and err.index(want) < err.index("200/800"), err


def test_the_signature_ignores_where_and_how_long_but_not_the_program():
    config = {"algo": "sac", "env": "gymnax:Pendulum-v1", "hidden": [8, 8], "out": "a", "seed": 0, "total_steps": 9}
    key = eta.signature(config, 4, "cpu")
    assert eta.signature({**config, "out": "b", "seed": 3, "total_steps": 99, "progress": False}, 4, "cpu") == key
    assert eta.signature({**config, "hidden": [16, 16]}, 4, "cpu") != key
    assert eta.signature(config, 8, "cpu") != key and eta.signature(config, 4, "NVIDIA H200") != key


def test_durations():
    assert [eta.duration(s) for s in (0.4, 59, 61, 3599, 3600, 90061)] == ["0s", "59s", "1m01s", "59m59s", "1h00m",
                                                                            "25h01m"]


@pytest.mark.system
def test_a_resumed_run_estimates_from_its_first_chunk(tmp_path):
    """A run stopped before it finished has left no rate behind; started again, it estimates its time
    from the first chunk it runs itself (before the fix, a resumed run never gave an estimate)."""
    import signal
    import subprocess
    import sys
    import time

    out, cache = tmp_path / "run", tmp_path / "cache"
    args = [a for a in TINY if not a.startswith(("--total_steps", "--checkpoint"))]
    cmd = [sys.executable, "-m", "softrl_jax.train", *args, "--total_steps=6000", "--checkpoint_every=0",
           f"--compile_cache={cache}", f"--out={out}"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    while not (out / "metrics.jsonl").is_file() or not (out / "metrics.jsonl").read_text():
        assert p.poll() is None and time.time() < deadline, p.stderr.read()[-2000:] if p.poll() is not None else ""
        time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 143 and "checkpoint written" in err, err[-2000:]
    assert not (cache / "rates.json").exists()  # a stopped run keeps no rate: nothing to estimate from
    done = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["step"]
    assert done < 6000  # stopped mid-run: the second start resumes
    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert re.search(r"estimated training time: \d+\S* \([\d,]+ env steps at [\d,]+ env steps/s, the rate of the "
                     r"first training chunk\)", resumed.stderr), resumed.stderr[-3000:]
