"""experiments/pg_soft_q.py: its option checks (exit 2, one line, nothing written) and a tiny run end to
end through the real loops, runner and report."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "experiments" / "pg_soft_q.py"


def _module():
    spec = importlib.util.spec_from_file_location("pg_soft_q_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("argv, expected", [
    (["--tasks=pong"], "--tasks: unknown task 'pong'; valid choices: breakout"),
    (["--algos=sac"], "--algos: unknown algorithm 'sac'; valid choices: a2c_naive"),
    (["--scale=huge"], "--scale='huge' is not valid; valid choices: cpu, gpu, paper"),
    (["--seeds=two"], "--seeds='two' is not a valid int"),
    (["--budget_s=-1"], "--budget_s=-1.0 is out of range"),
    (["--q_steps=0"], "--q_steps=0 is out of range; must be >= 1"),
    (["--pg_eval_every=-4"], "--pg_eval_every=-4 is out of range; must be >= 1"),
    (["--frobnicate=1"], "unknown flag --frobnicate"),
    (["--tasks=cartpole", "--pg_eval_every=1000"], "--eval_every=1000 is not a multiple of --num_envs x --n_steps"),
    (["--tasks=cartpole", "--", "--lr=-1"], "--lr=-1.0 is out of range"),
])
def test_bad_options_exit_2_with_one_line_and_write_nothing(tmp_path, capsys, argv, expected):
    out = tmp_path / "out"
    assert _module().main([f"--out={out}", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and expected in err, err
    assert not out.exists()


def test_bad_option_in_a_real_process(tmp_path):
    p = subprocess.run([sys.executable, str(SCRIPT), "--tasks=pong", f"--out={tmp_path / 'o'}"], capture_output=True,
                       text=True, cwd=ROOT)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "Traceback" not in p.stderr, p.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.system
def test_tiny_comparison_end_to_end(tmp_path):
    """Two A2C variants on CartPole for two evaluations: run folders, the table with one row per
    piece whose numbers are the metrics' own, the figure, the report; a second call keeps the
    finished pieces (no retraining: metrics.jsonl unchanged)."""
    m = _module()
    out = tmp_path / "pgq"
    argv = [f"--out={out}", "--tasks=cartpole", "--algos=a2c_naive,a2c_soft", "--seeds=2", "--pg_steps=1280",
            "--pg_eval_every=640", "--progress=false", "--", "--checkpoint=false"]
    assert m.main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [(r["task"], r["algo"], r["seeds"], r["steps"]) for r in summary["rows"]] == [
        ("cartpole", "a2c_naive", 2, 1280), ("cartpole", "a2c_soft", 2, 1280)]
    for r in summary["rows"]:
        rows = [json.loads(x) for x in (out / f"{r['algo']}-cartpole" / "metrics.jsonl").read_text().splitlines()]
        final = [x["eval_return"] for x in rows if x["step"] == 1280]
        assert r["final_per_seed"] == final and r["final_mean"] == pytest.approx(np.mean(final))
        assert r["final_lo"] <= r["final_mean"] <= r["final_hi"]
    assert summary["missing"] == []
    assert (out / "comparisons.png").stat().st_size > 0 and (out / "report" / "report.md").exists()
    assert "6.1 A2C: naive vs proper entropy return" in (out / "summary.md").read_text()
    before = (out / "a2c_soft-cartpole" / "metrics.jsonl").read_text()
    assert m.main(argv) == 0
    assert (out / "a2c_soft-cartpole" / "metrics.jsonl").read_text() == before
