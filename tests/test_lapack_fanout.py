"""The Ant hang: jaxlib's LAPACK batch fan-out deadlocks XLA:CPU when every pool thread runs a device.

The end-to-end test runs a real `train` process on a real MJX environment with a batch that crosses
jaxlib's fan-out threshold on as many CPU devices as the pool has threads. Without the guard in
`softrl_jax.lapack_fanout` it sits at 0% CPU forever (jaxlib <= 0.11.0); the timeout turns that into
a failure.
"""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softrl_jax import envs, lapack_fanout


def test_fixed_versions():
    assert lapack_fanout.jaxlib_fans_out("0.10.2")
    assert lapack_fanout.jaxlib_fans_out("0.11.0")
    assert not lapack_fanout.jaxlib_fans_out("0.11.1")
    assert not lapack_fanout.jaxlib_fans_out("0.12.0.1")


def test_costs_are_jaxlibs():
    assert lapack_fanout.matrix_flops("cholesky", [(14, 14)]) == 914  # n^3 / 3, integer division
    assert lapack_fanout.matrix_flops("triangular_solve", [(14, 14), (14, 1)]) == 196  # m n k
    assert lapack_fanout.matrix_flops("svd", [(4, 3)]) == 360  # 10 m n min(m, n)


def test_calls_are_found_inside_loops_and_vmaps():
    def solve(a, b):
        def body(i, x):
            chol = jnp.linalg.cholesky(a + i * jnp.eye(5))
            return jax.scipy.linalg.solve_triangular(chol, x, lower=True)
        return jax.lax.fori_loop(0, 3, body, b)

    a = jax.ShapeDtypeStruct((7, 5, 5), np.float32)
    b = jax.ShapeDtypeStruct((7, 5, 2), np.float32)
    calls = lapack_fanout.lapack_calls(jax.vmap(solve), a, b)
    assert ("cholesky", 7, 41) in calls
    assert ("triangular_solve", 7, 50) in calls
    assert lapack_fanout.lapack_calls(lambda x: jnp.tanh(x) @ x, jax.ShapeDtypeStruct((5, 5), np.float32)) == []


def test_mjx_physics_calls_cholesky():
    env = envs.make("brax:inverted_double_pendulum", None)  # nv = 3: 9 FLOP per Cholesky, 9 per solve
    calls = set(lapack_fanout.env_lapack_calls(env))
    assert ("cholesky", 1, 9) in calls and ("triangular_solve", 1, 9) in calls
    assert lapack_fanout.env_lapack_calls(envs.make("gymnax:Pendulum-v1", None)) == []


def test_devices_are_kept_below_the_threshold_and_cut_above_it():
    env = envs.make("brax:inverted_double_pendulum", None)
    threads = lapack_fanout.pool_threads()
    devices = [jax.devices("cpu")[0]] * threads  # one per pool thread, as the runner lays runs out
    # 9 FLOP per matrix: 22,222 matrices per device stay inline, 22,223 cross jaxlib's 200,000
    kept, why = lapack_fanout.safe_cpu_devices(devices, threads, env, 22_222)
    assert (len(kept), why) == (threads, "")
    cut, why = lapack_fanout.safe_cpu_devices(devices, threads, env, 22_223)
    if lapack_fanout.jaxlib_fans_out() and threads > 1:
        assert len(cut) == threads - 1
        assert "22223 matrices x 9 FLOP" in why and f"{threads}-thread pool" in why
    else:
        assert (len(cut), why) == (threads, "")
    # a GPU or a single device is never cut
    assert lapack_fanout.safe_cpu_devices(devices[:1], threads, env, 10**6) == (devices[:1], "")


def test_a_run_whose_resets_cross_the_threshold_finishes(tmp_path):
    """brax IDP with a 23,000-state reset pool: 23,007 Choleskys x 9 FLOP = 207K per device per chunk."""
    threads = lapack_fanout.pool_threads()
    if threads > 4:
        pytest.skip("puts one run on every pool thread; this host has too many")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "softrl_jax.train", "--algo=sac", "--preset=quick",
           "--env=brax:inverted_double_pendulum", f"--seeds={threads}", "--reset_pool=23000",
           "--total_steps=256", "--eval_every=128", "--warmup_steps=128", "--checkpoint=false",
           "--wandb=off", "--progress=false", f"--out={out}"]
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}  # the runner's own device split
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=420, env=env)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the run hung (no exit in {e.timeout} s): the LAPACK fan-out deadlock")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    first = min(r["seed"] for r in rows)
    assert [r["step"] for r in rows if r["seed"] == first] == [256]  # logged once learning has started
    assert len({r["seed"] for r in rows}) == threads
    noted = "CPU devices: jaxlib" in proc.stderr
    assert noted == (lapack_fanout.jaxlib_fans_out() and threads > 1), proc.stderr[-2000:]
