"""Every `quick` preset keeps its promise on seeds that no test and no tuning used: seeds 100-107 (the
tests use 0-3, the presets were tuned on 0-3). Each runs `experiments/fresh_seeds.py` for one
algorithm, as a user would (its own process, the CLI's device split). The promise: on Pendulum-v1 a
mean final return above -400 with at least 6 of 8 seeds above it; on CartPole-v1 a mean of at least 450
with at least 6 of 8 seeds at 400 or more.

Measured on the 2-core CPU (2026-12-04, benchmarks/results/fresh-seeds-2core-20261204/fresh_seeds.md):
every preset holds; the weakest are soft_dqn (mean 455.8, one seed at 180.4) and a2c_naive (mean 469.4, one seed at 255.2)."""

import json
import os
import subprocess
import sys

import pytest

from softrl_jax.algos import ALGOS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRESH_SEED = 100


@pytest.mark.slow
@pytest.mark.parametrize("algo", ALGOS)
def test_quick_preset_holds_on_fresh_seeds(algo, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}  # the CLI's own device split
    proc = subprocess.run([sys.executable, "experiments/fresh_seeds.py", f"--algos={algo}", f"--seed={FRESH_SEED}",
                           "--seeds=8", f"--out={tmp_path}"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=3600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((tmp_path / "fresh_seeds.json").read_text())[algo]
    assert result["seeds"] == list(range(FRESH_SEED, FRESH_SEED + 8))
    assert result["holds"], result
