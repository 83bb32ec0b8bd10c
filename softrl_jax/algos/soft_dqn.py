"""Soft DQN: n-step soft Q-learning of Schulman, Chen & Abbeel (2017), Sec. 6.2. DQN with the backup
r + gamma V'(s'), V' = tau log E_{pi-bar} exp(Q'/tau) (eqs. 82-83; n-step: eq. 46), the same
epsilon-greedy exploration. `prior=none` is the entropy bonus (eq. 83), `prior=uniform` the KL
penalty (eq. 82). The implementation is `softrl_jax.algos.qlearn`."""

from __future__ import annotations

from softrl_jax.algos.qlearn import (State, act, act_eval, check, init, make, q_values, update,  # noqa: F401
                                     window)
from softrl_jax.algos.qlearn import SoftConfig as Config
