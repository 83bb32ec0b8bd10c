"""SAC and DDPG (`quick` presets) learn gymnax Pendulum (random policy: about -1200).

Measured on a 2-core CPU shared with other jobs (4 vmapped seeds, 30000 steps, seeds 0-3), final returns:
SAC [-160.7, -136.0, -109.0, -164.5] (mean -142.6) in 152 s; DDPG [-164.1, -137.1, -97.7, -167.9]
(mean -141.7) in 80 s.
"""

import pytest

from helpers import final_pendulum_returns

SEEDS, STEPS = 4, 30_000


@pytest.mark.slow
def test_sac_quick_pendulum_30k_4_seeds(tmp_path):
    """Mean final deterministic evaluation return better than -400 within 30000 steps."""
    finals = final_pendulum_returns(tmp_path, "sac", SEEDS, STEPS)
    assert finals.mean() > -400, finals


@pytest.mark.slow
def test_ddpg_quick_pendulum_30k_4_seeds(tmp_path):
    """Mean final deterministic evaluation return better than -400 within 30000 steps."""
    finals = final_pendulum_returns(tmp_path, "ddpg", SEEDS, STEPS)
    assert finals.mean() > -400, finals
