"""SAC and DDPG (`quick` presets) learn gymnax Pendulum (random policy: about -1200).

Measured on a 2-core CPU shared with other jobs (4 vmapped seeds, 30000 steps, seeds 0-3), final returns:
SAC [-160.7, -136.0, -109.0, -164.5] (mean -142.6) in 152 s; DDPG [-164.1, -137.1, -97.7, -167.9]
(mean -141.7) in 80 s.
"""

import numpy as np
import pytest

from softrl_jax import algos
from softrl_jax.train import run

SEEDS, STEPS = 4, 30_000


def _final_returns(tmp_path, algo):
    rc = algos.run_config(algo, "quick", {"env": "gymnax:Pendulum-v1", "seeds": SEEDS, "total_steps": STEPS,
                                          "out": str(tmp_path / algo), "progress": False})
    _, records = run(rc, quiet=True)
    last = max(r["step"] for r in records)
    finals = np.array([r["eval_return"] for r in records if r["step"] == last])
    assert finals.shape == (SEEDS,) and last == STEPS
    return finals


@pytest.mark.slow
def test_sac_quick_pendulum_30k_4_seeds(tmp_path):
    """Mean final deterministic evaluation return better than -400 within 30000 steps."""
    finals = _final_returns(tmp_path, "sac")
    assert finals.mean() > -400, finals


@pytest.mark.slow
def test_ddpg_quick_pendulum_30k_4_seeds(tmp_path):
    """Mean final deterministic evaluation return better than -400 within 30000 steps."""
    finals = _final_returns(tmp_path, "ddpg")
    assert finals.mean() > -400, finals
