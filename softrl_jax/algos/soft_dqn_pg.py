"""n-step soft Q-learning run as A2C (Schulman, Chen & Abbeel 2017, Sec. 6.3).

The shared A2C of softrl_jax/algos/a2c.py (network, rollouts, optimiser, presets) with the
`soft_q` loss; see its docstring. On-policy: trained by softrl_jax/onpolicy.py."""

from __future__ import annotations

import functools

from softrl_jax.algos import a2c
from softrl_jax.algos.a2c import BATCHABLE, PRESET_SOURCES, PRESETS, TASK_DEFAULTS, Config, act, act_eval, check_loop, init

__all__ = ["BATCHABLE", "Config", "PRESETS", "PRESET_SOURCES", "KNOWN_DIFFERENCES", "TASK_DEFAULTS", "DISCRETE", "ON_POLICY",
           "check_loop", "init", "act", "act_eval", "update"]

DISCRETE = True
ON_POLICY = True
# Q = V + tau (log pi - log pi-bar): with pi-bar uniform, the paper's V + tau log pi plus the constant tau log |A|
_PARAMETRISATION = ("Q = V + tau log(pi / pi-bar), i.e. the paper's V + tau log pi plus tau log |A| for the uniform "
                    "pi-bar, so that V_Q = V and the target's tau KL terms are consistent (Sec. 6.3 prints V + tau log pi)")
KNOWN_DIFFERENCES = {preset: [*diffs, _PARAMETRISATION] for preset, diffs in a2c.KNOWN_DIFFERENCES.items()}
update = functools.partial(a2c.update, variant="soft_q")
