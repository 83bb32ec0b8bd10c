"""A2C with the naive entropy bonus (Schulman, Chen & Abbeel 2017, eq. 79).

The shared A2C of softrl_jax/algos/a2c.py (network, rollouts, optimiser, presets) with the
`naive` loss; see its docstring. On-policy: trained by softrl_jax/onpolicy.py."""

from __future__ import annotations

import functools

from softrl_jax.algos import a2c
from softrl_jax.algos.a2c import BATCHABLE, PRESET_SOURCES, PRESETS, TASK_DEFAULTS, Config, act, act_eval, check_loop, init

__all__ = ["BATCHABLE", "Config", "PRESETS", "PRESET_SOURCES", "KNOWN_DIFFERENCES", "TASK_DEFAULTS", "DISCRETE", "ON_POLICY",
           "check_loop", "init", "act", "act_eval", "update"]

DISCRETE = True
ON_POLICY = True
KNOWN_DIFFERENCES = a2c.KNOWN_DIFFERENCES
update = functools.partial(a2c.update, variant="naive")
