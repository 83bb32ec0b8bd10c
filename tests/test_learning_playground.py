"""The `fast-cpu` recipe learns a MuJoCo Playground task on CPU: DM Control's CartpoleBalance on MJX
(1000-step episodes, rewards in [0, 1]). For scale: a uniform random policy scores 345 (mean of 32
episodes) and the zero action 698 (the pole starts near upright and falls slowly), so every
threshold below sits above doing nothing."""

import numpy as np
import pytest

import helpers
from softrl_jax.checkpoint import read_carry

ENV = "playground:CartpoleBalance"
ZERO_ACTION = 698.0
RANDOM = 345.0
THRESHOLD_SHORT = 750.0
# 64000 steps, 4 seeds. From the command line (one XLA device per core) the means were 905 (SAC), 934
# (DSPG) and 837 (DDPG); in this process (one device, other rounding) DDPG's seeds ended at 439, 875,
# 736 and 500 (mean 637): at this budget DDPG does NOT reliably beat the zero action, so its bar is
# "clearly better than random" only (docs/playground.md says so). SAC and DSPG must beat the zero action.
THRESHOLD = {"sac": 800.0, "dspg": 850.0, "ddpg": 550.0}


def final_returns(tmp_path, algo: str, seeds: int, steps: int) -> np.ndarray:
    return helpers.final_returns(tmp_path, algo, "fast-cpu", ENV, seeds, steps)


@pytest.mark.slow
def test_sac_fast_cpu_learns_cartpole_balance_short(tmp_path):
    """SAC fast-cpu on Playground, 2 seeds at the preset's own budget, 64000 steps (about 80 s idle,
    the longest test of the fast suite until it moved here to bring `make test` towards 10 minutes;
    tests/test_checkpoint.py keeps the zero-size-array checkpoint check fast). It ran 32000 steps until an AMD EPYC host, at the same commit, ended seed 1 at 480
    (seeds 924, 480; another XLA:CPU codegen rounds otherwise): half the budget does not hold on
    every machine, the preset's does (985 and 987 there). Also checks that the run's checkpoint, an
    MJX state with zero-size arrays, was written and reads back."""
    finals = final_returns(tmp_path, "sac", 2, 64000)
    assert finals.mean() > THRESHOLD_SHORT, finals
    carry, host = read_carry(tmp_path / "sac")
    assert host["next_chunk"] == 8  # 64000 / eval_every 8000
    assert np.isfinite(carry["agent"]["log_alpha"]).all() and carry["obs_stats"]["count"][0] == 64000


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["sac", "dspg", "ddpg"])
def test_fast_cpu_learns_cartpole_balance(tmp_path, algo):
    """The preset's own budget (64000 steps), 4 seeds."""
    assert THRESHOLD[algo] > (ZERO_ACTION if algo != "ddpg" else RANDOM)
    finals = final_returns(tmp_path, algo, 4, 64000)
    assert finals.mean() > THRESHOLD[algo], finals
