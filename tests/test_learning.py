"""DSPG learns gymnax Pendulum (random policy: about -1200)."""

import numpy as np
import pytest

from softrl_jax import algos
from softrl_jax.train import run


def _final_returns(tmp_path, seeds, steps):
    rc = algos.run_config("dspg", "quick", {"env": "gymnax:Pendulum-v1", "seeds": seeds,
                                            "total_steps": steps, "out": str(tmp_path / "run")})
    _, records = run(rc, quiet=True)
    last = max(r["step"] for r in records)
    finals = np.array([r["eval_return"] for r in records if r["step"] == last])
    assert finals.shape == (seeds,) and last == steps
    return finals


@pytest.mark.learning
def test_dspg_quick_learns_pendulum_short(tmp_path):
    """CI's short learning test: 2 seeds, 8000 steps (measured about -150)."""
    finals = _final_returns(tmp_path, 2, 8000)
    assert finals.mean() > -400, finals


@pytest.mark.slow
def test_dspg_quick_pendulum_30k_4_seeds(tmp_path):
    """Issue acceptance: mean final deterministic return better than -400 within 30000 steps."""
    finals = _final_returns(tmp_path, 4, 30000)
    assert finals.mean() > -400, finals
