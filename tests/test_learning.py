"""DSPG learns gymnax Pendulum (random policy: about -1200)."""

import pytest

from helpers import final_pendulum_returns


@pytest.mark.learning
def test_dspg_quick_learns_pendulum_short(tmp_path):
    """CI's short learning test: 2 seeds, 8000 steps (measured about -150)."""
    finals = final_pendulum_returns(tmp_path, "dspg", 2, 8000)
    assert finals.mean() > -400, finals


@pytest.mark.slow
def test_dspg_quick_pendulum_30k_4_seeds(tmp_path):
    """Issue acceptance: mean final deterministic return better than -400 within 30000 steps."""
    finals = final_pendulum_returns(tmp_path, "dspg", 4, 30000)
    assert finals.mean() > -400, finals
