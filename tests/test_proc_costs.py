"""benchmarks/proc_costs: the sitecustomize logs a real process's compilations, and the summary adds
them up per module and per test, leaving pytest's own processes out; bad input is one line, exit 2."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "benchmarks" / "proc_costs"


def test_a_real_process_logs_its_compilations(tmp_path):
    log = tmp_path / "procs.jsonl"
    env = dict(os.environ, PROC_COSTS_LOG=str(log), PYTHONPATH=str(TOOL), JAX_COMPILATION_CACHE_DIR="",
               PYTEST_CURRENT_TEST="tests/test_x.py::test_y (call)")
    code = "import jax, jax.numpy as jnp; jax.jit(lambda x: 2 * x)(jnp.ones(3)).block_until_ready()"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
    (rec,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert rec["test"] == "tests/test_x.py::test_y (call)" and rec["pytest"] is False
    assert rec["compiles"] >= 2 and rec["compile_s"] > 0 and rec["cpu_s"] > 0  # ones and the jitted program


def test_the_summary_adds_up_per_module_and_test_without_pytest_processes(tmp_path):
    log = tmp_path / "procs.jsonl"
    recs = [dict(test="tests/test_a.py::t1 (call)", cpu_s=3.0, compile_s=2.0, compiles=4, cache_hits=1, pytest=False),
            dict(test="tests/test_a.py::t2 (setup)", cpu_s=5.0, compile_s=1.0, compiles=2, cache_hits=0, pytest=False),
            dict(test="tests/test_b.py::t3 (call)", cpu_s=1.0, compile_s=0.5, compiles=1, cache_hits=3, pytest=False),
            dict(test="", cpu_s=100.0, compile_s=90.0, compiles=50, cache_hits=0, pytest=True)]
    log.write_text("".join(json.dumps(r) + "\n" for r in recs))
    p = subprocess.run([sys.executable, str(TOOL / "summarise.py"), str(log), "--top=2"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "3 processes, 9 s of CPU, 4 s compiling"
    assert lines[4].split() == ["8.0", "3.0", "6", "1", "2", "tests/test_a.py"]  # the costliest module first
    assert lines[5].split() == ["1.0", "0.5", "1", "3", "1", "tests/test_b.py"]
    tests = lines[lines.index("by test (top 2)") + 2:]
    assert [t.split()[-1] for t in tests] == ["tests/test_a.py::t2", "tests/test_a.py::t1"]


def test_bad_input_is_one_line_exit_2(tmp_path):
    for args in ([], ["--top=0", "x"], ["--top=x", "x"], ["--nonsense", "x"], [str(tmp_path / "missing.jsonl")]):
        p = subprocess.run([sys.executable, str(TOOL / "summarise.py"), *args], capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 2 and p.stdout == "" and len(p.stderr.strip().splitlines()) == 1, (args, p.stderr)
        assert p.stderr.startswith("error: ")
