"""Presets of `dqn` and `soft_dqn` (softrl_jax/algos/qlearn.py is the maths), with their `--explain` citations.

minatar: MinAtar's DQN (Young & Tian 2019, github kenjyoung/MinAtar examples/dqn.py) on gymnax
Breakout-MinAtar; the learner's values are the Config defaults (cited there), the preset sets the
loop: 5e6 frames, replay 1e5, uniform random actions for the first 5000 frames (REPLAY_START_SIZE),
one update per frame. soft_dqn adds the paper's tau = 0.1 and the entropy bonus (Sec. 6.2).

quick: gymnax CartPole-v1 on a 2-core CPU in a few minutes (tests/test_learning_dqn.py).
"""

from __future__ import annotations

from softrl_jax.presets import Presets
from softrl_jax.presets.common import CPU_PRESET_DIFFERENCE, QUICK_LOOP, quick_source

MINATAR = "MinAtar examples/dqn.py (Young & Tian 2019)"
PAPER = "Schulman, Chen & Abbeel 2017 Sec. 6.2"

MINATAR_LOOP = {
    "env": "gymnax:Breakout-MinAtar",
    "total_steps": 5_000_000,   # NUM_FRAMES
    "buffer_size": 100_000,     # REPLAY_BUFFER_SIZE
    "warmup": "uniform",        # world_dynamics: a uniform random policy before learning starts
    "warmup_steps": 5000,       # REPLAY_START_SIZE
    "updates_per_step": 1,      # TRAINING_FREQ 1
    "num_envs": 1,
    "eval_every": 100_000,      # ours: MinAtar logs training returns only
}
# Measured on the 2-core CPU, 4 vmapped seeds (0-3), final greedy returns at 100k steps. In pytest (one XLA
# device, tests/test_learning_dqn.py): soft_dqn [500, 257.6, 500, 500] (mean 439.4, 54 s), dqn [500, 500, 500,
# 500] (51 s); with lr 5e-4: soft_dqn mean 439.4, dqn 433.4. Tuning runs of soft_dqn (two XLA devices, the
# CLI's default; the numbers differ from one device's): this preset [461.9, 481.8, 500, 500]; lr 5e-4
# [500, 486.2, 500, 500]; target_every 1000 [139.9, 500, 500, 500]; batch 64, epsilon over 10k updates
# [152.5, 500, 500, 500] (with lr 5e-4 [155.6, 500, 500, 500], with Huber [81.5, 500, 148.5, 466.1]); lr 3e-4,
# batch 128, target_every 1000 [222.2, 155.6, 146.0, 248.8]; at 50k steps (batch 64) the mean was 313.5.
QUICK = {"env": "gymnax:CartPole-v1", **QUICK_LOOP, "total_steps": 100_000, "hidden": (64, 64),
         "optimizer": "adam", "lr": 1e-3, "batch_size": 128, "target_every": 500, "eps_start": 1.0, "eps_end": 0.05,
         "eps_decay": 20_000, "loss": "mse"}


def presets(soft: bool) -> dict[str, dict]:
    minatar = {**MINATAR_LOOP, **({"tau": 0.1, "prior": "none", "n_step": 1} if soft else {})}
    quick = {**QUICK, **({"tau": 0.1, "prior": "none", "n_step": 1} if soft else {})}
    return {"minatar": minatar, "quick": quick}


PRESET_SOURCES = {
    "minatar": {
        "env": f"{MINATAR}: Breakout is one of MinAtar's games (the paper's Sec. 6.2 uses Atari)",
        "total_steps": f"{MINATAR} NUM_FRAMES 5000000",
        "buffer_size": f"{MINATAR} REPLAY_BUFFER_SIZE 100000",
        "warmup": f"{MINATAR} world_dynamics: uniform random actions before REPLAY_START_SIZE frames",
        "warmup_steps": f"{MINATAR} REPLAY_START_SIZE 5000",
        "updates_per_step": f"{MINATAR} TRAINING_FREQ 1: one update per frame",
        "num_envs": f"{MINATAR}: one environment",
        "eval_every": "ours: MinAtar's example logs training returns only",
        "tau": f"{PAPER}: tau = 0.1",
        "prior": f"{PAPER}, eq. 83: the entropy-bonus variant (better than the KL penalty of eq. 82)",
        "n_step": f"{PAPER}: 1-step Q-learning in the main comparison (5-step variants also reported)",
    },
    "quick": {"*": quick_source("test_learning_dqn.py", "gymnax CartPole-v1")},
}
KNOWN_DIFFERENCES = {
    "minatar": [
        "MinAtar, not the paper's Atari (Sec. 6.2): 10x10 images, MinAtar's smaller network and DQN settings",
        "gymnax's MinAtar has no sticky actions (MinAtar's default sticky_action_prob 0.1)",
        "evaluation: the suite's greedy evaluation episodes; MinAtar's example reports training returns of the "
        "epsilon-greedy policy",
    ],
    "quick": [CPU_PRESET_DIFFERENCE],
}

DQN = Presets(values=presets(soft=False), sources=PRESET_SOURCES, differences=KNOWN_DIFFERENCES)
SOFT_DQN = Presets(values=presets(soft=True), sources=PRESET_SOURCES, differences=KNOWN_DIFFERENCES)
