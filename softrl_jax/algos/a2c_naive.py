"""A2C with the naive entropy bonus (Schulman, Chen & Abbeel 2017, eq. 79).

The shared A2C of softrl_jax/algos/a2c.py (network, rollouts, optimiser; presets: softrl_jax/presets/a2c.py) with the
`naive` loss; see its docstring. On-policy: trained by softrl_jax/onpolicy.py."""

from __future__ import annotations

import functools

from softrl_jax.algos import a2c
from softrl_jax.algos.a2c import Config, act, act_eval, check, check_loop, init

__all__ = ["Config", "check", "check_loop", "init", "act", "act_eval", "update", "make"]

update = functools.partial(a2c.update, variant="naive")
make = a2c.make_variant("naive")
