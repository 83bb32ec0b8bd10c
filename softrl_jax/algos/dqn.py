"""DQN (Mnih et al. 2015) as Schulman, Chen & Abbeel (2017) Sec. 6.2 run it: the baseline of soft
Q-learning, target r + gamma max_a' Q'(s', a') (eq. 81), epsilon-greedy; `n_step` > 1 gives n-step
Q-learning (the paper's 5-step variant). The implementation is `softrl_jax.algos.qlearn`."""

from __future__ import annotations

from softrl_jax.algos.qlearn import (Config, State, act, act_eval, check, init, make, q_values,  # noqa: F401
                                     update, window)
