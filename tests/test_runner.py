"""The runner over devices: sharded == one device, padding never shows, two processes == one.

Each case runs the real command line in a subprocess whose CPU is split into several XLA host
devices (XLA_FLAGS=--xla_force_host_platform_device_count=N), since the device count is fixed when a
process starts JAX.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

# warm-up ends at 700, so the first evaluation (step 800) comes after 100 updates
TINY = ["--algo=sac", "--env=gymnax:Pendulum-v1", "--preset=quick", "--total_steps=1600", "--warmup_steps=700",
        "--eval_every=400", "--batch_size=32", "--hidden=32,32", "--eval_episodes=2", "--buffer_size=2000",
        "--progress=false"]
VALUES = ("eval_return", "train_return", "critic_loss", "actor_loss", "alpha", "entropy", "actor_grad_norm",
          "q_mean", "target_mean")


def _env(devices: int) -> dict:
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    env.pop("JAX_PLATFORMS", None)
    return env


def _train(out: Path, devices: int, *flags: str, module: str = "softrl_jax.train", wait: bool = True):
    cmd = [sys.executable, "-m", module, *TINY, *flags, f"--out={out}"]
    proc = subprocess.Popen(cmd, env=_env(devices), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not wait:
        return proc
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    return proc


def _metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def _table(records: list[dict]) -> np.ndarray:
    """[rows, values] in file order, with the (seed, step) keys checked separately."""
    return np.array([[r[k] if r[k] is not None else np.nan for k in VALUES] for r in records])


def _keys(records):
    return [(r["seed"], r["step"]) for r in records]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """4 seeds on 1 device, on 4 devices, and 3 seeds on 2 devices (padded to 4)."""
    root = tmp_path_factory.mktemp("runner")
    procs = {}
    for name, devices, flags in (("one", 4, ["--seeds=4", "--devices=1"]), ("four", 4, ["--seeds=4"]),
                                 ("padded", 2, ["--seeds=3"]), ("even", 2, ["--seeds=4"])):
        procs[name] = _train(root / name, devices, *flags, wait=False)
        _, err = procs[name].communicate(timeout=600)
        assert procs[name].returncode == 0, err[-3000:]
    return root


@pytest.mark.system
def test_sharded_run_equals_one_device(runs):
    """4 seeds on 4 devices == 4 seeds vmapped on one device, to float32 rounding.

    Not bit for bit: on one device XLA compiles the seed axis as a batch of 4; on four devices the
    SPMD partitioner compiles a batch of 1 per device. Matrix products agree bit for bit, but the
    sums over the minibatch (bias gradients, loss means, the global norm) round in another order,
    about 1e-7 relative per update. Training amplifies such differences like any chaotic system:
    measured here, up to 1e-6 relative at the first evaluation (100 updates), 1e-4 after 400 updates
    and 0.1-1.5% after 1200, the size of a re-run on other hardware. So the first evaluation is
    compared to 1e-4; later ones only for layout (same seeds, steps, rows)."""
    one, four = _metrics(runs / "one"), _metrics(runs / "four")
    assert _keys(one) == _keys(four) and len(one) == 4 * 3
    assert json.loads((runs / "four" / "summary.json").read_text())["devices"] == 4
    assert json.loads((runs / "one" / "summary.json").read_text())["devices"] == 1
    first = [i for i, r in enumerate(one) if r["step"] == 800]
    assert len(first) == 4
    np.testing.assert_allclose(_table(four)[first], _table(one)[first], rtol=1e-4, atol=1e-5)
    # the seeds are different runs (a wrong key layout would repeat one seed or swap them)
    assert len({r["critic_loss"] for r in four if r["step"] == 1600}) == 4


@pytest.mark.system
def test_summary_times_training_and_evaluation_apart(runs):
    """summary.json: the clock of make bench-peers. 1600 steps in chunks of 400, warm-up to 700: chunk 0
    is warm-up only, chunks 1-3 are evaluated, chunks 2-3 are the steady ones. Leaving the evaluations
    out can only raise the rate; each program's compile lies inside the whole compile."""
    s = json.loads((runs / "four" / "summary.json").read_text())
    assert s["evaluations"] == 3 and s["eval_s"] > 0
    assert s["steady_train_env_steps_per_s"] > s["steady_env_steps_per_s"] > 0
    # the steady chunks' 2 x 400 x 4 env steps over their time with and without evaluation
    steady_s, train_s = 3200 / s["steady_env_steps_per_s"], 3200 / s["steady_train_env_steps_per_s"]
    assert steady_s - train_s <= s["eval_s"]  # the evaluations of chunks 2-3 are a part of all three
    assert set(s["compile_s_by_program"]) == {"chunk", "eval", "resets", "init"}
    assert all(0 < v <= s["compile_s"] for v in s["compile_s_by_program"].values())


@pytest.mark.system
def test_padding_never_reaches_the_metrics(runs):
    """3 seeds on 2 devices are padded to 4; the padding is dropped and the real seeds are exactly
    the first 3 of a 4-seed run on the same 2 devices (same program shapes, so bit for bit)."""
    padded, even = _metrics(runs / "padded"), _metrics(runs / "even")
    summary = json.loads((runs / "padded" / "summary.json").read_text())
    assert summary["devices"] == 2 and summary["padded"] == 1 and len(summary["final_eval_return"]) == 3
    assert sorted({r["seed"] for r in padded}) == [0, 1, 2] and len(padded) == 3 * 3
    first3 = [r for r in even if r["seed"] < 3]
    assert _keys(padded) == _keys(first3)
    np.testing.assert_array_equal(_table(padded), _table(first3))


def test_more_devices_than_exist_is_one_line_exit_2(tmp_path):
    out = tmp_path / "x"
    proc = subprocess.run([sys.executable, "-m", "softrl_jax.train", *TINY, "--devices=8", f"--out={out}"],
                          env=_env(2), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    err = proc.stderr.strip().splitlines()[-1]
    assert err.startswith("error: --devices=8 is out of range") and "2 cpu device(s)" in err
    assert not out.exists()
    bad = subprocess.run([sys.executable, "-m", "softrl_jax.train", "--devices=two", f"--out={out}"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "valid choices: all, or a count >= 1" in bad.stderr and not out.exists()


@pytest.mark.system
def test_cpu_devices_default_is_one_per_core_at_most_one_per_run(tmp_path):
    env = dict(os.environ, JAX_PLATFORMS="cpu")  # the CPU's device split, also on a machine with a GPU
    env.pop("XLA_FLAGS", None)
    cores = len(os.sched_getaffinity(0))
    # 4 seeds on min(cores, 4) devices and on 1 are the programs of the `runs` fixture on a 2-core host
    # (the suite's compile cache serves them); 1 seed gets 1 device whatever the cores
    for seeds, flag, want in ((4, "--cpu_devices=0", min(cores, 4)), (1, "--cpu_devices=0", 1),
                              (4, "--cpu_devices=1", 1)):
        out = tmp_path / f"{seeds}{flag[-1]}"
        proc = subprocess.run([sys.executable, "-m", "softrl_jax.train", *TINY,
                               f"--seeds={seeds}", flag, f"--out={out}"], env=env, capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert json.loads((out / "summary.json").read_text())["devices"] == want, (seeds, flag)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.system
def test_two_process_distributed_run(runs, tmp_path):
    """Two processes with 2 CPU devices each, joined by jax.distributed on 127.0.0.1: one program over
    4 devices. Process 0 writes one complete metrics.jsonl, equal bit for bit to one process with 4
    devices (each device runs the same batch-of-1 program); process 1 writes nothing."""
    port = _free_port()
    outs = [tmp_path / "p0", tmp_path / "p1"]
    flags = ["--seeds=4", "--distributed=true", f"--coordinator=127.0.0.1:{port}", "--num_processes=2"]
    procs = [_train(outs[i], 2, *flags, f"--process_id={i}", wait=False) for i in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
    records = _metrics(outs[0])
    assert len(records) == 4 * 3 and sorted({r["seed"] for r in records}) == [0, 1, 2, 3]
    assert json.loads((outs[0] / "summary.json").read_text())["devices"] == 4
    assert not outs[1].exists()
    four = _metrics(runs / "four")
    assert _keys(records) == _keys(four)
    np.testing.assert_array_equal(_table(records), _table(four))


def test_compile_options_unknown_to_this_xla_fall_back_to_defaults():
    import jax
    import jax.numpy as jnp

    from softrl_jax import compiled
    from softrl_jax.config import LoopConfig

    lowered = jax.jit(lambda x: 2 * x).lower(jnp.ones(3))
    f = compiled.compile_lowered(lowered, {"xla_cpu_no_such_option": ""})
    np.testing.assert_array_equal(f(jnp.ones(3)), [2.0, 2.0, 2.0])
    assert compiled.compiler_options(LoopConfig(), "cpu") == {"xla_cpu_experimental_ynn_fusion_type": ""}
    assert compiled.compiler_options(LoopConfig(cpu_ynn_fusion=True), "cpu") is None
    assert compiled.compiler_options(LoopConfig(), "gpu") is None
    with pytest.raises(Exception, match="xla_cpu_enable_fast_math"):  # a real option with a bad value is an error
        compiled.compile_lowered(lowered, {"xla_cpu_enable_fast_math": "maybe"})
