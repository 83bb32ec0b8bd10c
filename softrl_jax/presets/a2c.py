"""The presets of the A2C family (softrl_jax/algos/a2c.py is the maths; a2c_naive, a2c_soft and soft_dqn_pg share them): `paper` and `quick`, with the source of every value and the known differences."""

from __future__ import annotations

from softrl_jax.presets.common import CPU_PRESET_DIFFERENCE, quick_source
from softrl_jax.presets import Presets

TASK_DEFAULTS: dict[str, dict] = {}

# `paper`: the A2C hyperparameters (the Config defaults) on a MinAtar task, learning from the first
# rollout. `quick`: CartPole-v1 on a 2-core CPU (tests/test_a2c.py).
PRESETS = {
    "paper": {"env": "gymnax:Breakout-MinAtar", "num_envs": 16, "warmup_steps": 0},
    "quick": {"env": "gymnax:CartPole-v1", "hidden": (64, 64), "optimizer": "adam", "lr": 1e-3, "n_steps": 8,
              "num_envs": 16, "warmup_steps": 0, "total_steps": 512_000, "eval_every": 12_800,
              "eval_episodes": 8},
}
_NO_WARMUP = "on-policy: learning starts with the first rollout (onpolicy.check_loop)"
PRESET_SOURCES = {
    "paper": {"env": "ours: a MinAtar task (gymnax) in place of the paper's Atari games",
              "num_envs": "ours: 16 parallel environments (A3C's 16 actor-learners, Mnih et al. 2016; baselines "
                          "run.py takes the CPU count)",
              "warmup_steps": _NO_WARMUP},
    "quick": {"*": quick_source("test_a2c.py", "gymnax CartPole-v1"),
              "warmup_steps": _NO_WARMUP},
}
_PAPER_DIFFERENCES = [
    "MinAtar (10x10 images, MinAtar's small network) in place of Atari (the Nature DQN network, 4 stacked "
    "frames, frame skip 4) and 320M frames",
    "constant learning rate: baselines A2C decays it linearly to 0 over training (lrschedule='linear')",
    "optax RMSProp (squared-gradient average from 0, epsilon inside the square root) for TF's RMSPropOptimizer",
    "evaluation: greedy (argmax) episodes, the suite's protocol; the paper reports training returns",
    "truncations bootstrap V of the true final observation (baselines: every episode end cuts the return)",
]
_ON_POLICY = ("on-policy loop (softrl_jax/onpolicy.py): --buffer_size, --replay_obs_dtype, --updates_per_step and "
              "--warmup are unused; one update per rollout of num_envs x n_steps transitions")
KNOWN_DIFFERENCES = {"paper": [*_PAPER_DIFFERENCES, _ON_POLICY], "quick": [CPU_PRESET_DIFFERENCE, _ON_POLICY]}

A2C = Presets(
    values=PRESETS, sources=PRESET_SOURCES, differences=KNOWN_DIFFERENCES,
    task_defaults=TASK_DEFAULTS)

# soft_dqn_pg: Q = V + tau (log pi - log pi-bar): with pi-bar uniform, the paper's V + tau log pi plus the
# constant tau log |A|
_PARAMETRISATION = ("Q = V + tau log(pi / pi-bar), i.e. the paper's V + tau log pi plus tau log |A| for the uniform "
                    "pi-bar, so that V_Q = V and the target's tau KL terms are consistent (Sec. 6.3 prints V + tau log pi)")
SOFT_DQN_PG = Presets(values=PRESETS, sources=PRESET_SOURCES, task_defaults=TASK_DEFAULTS,
                      differences={preset: [*diffs, _PARAMETRISATION] for preset, diffs in KNOWN_DIFFERENCES.items()})
