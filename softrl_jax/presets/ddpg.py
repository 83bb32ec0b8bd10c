"""DDPG's presets (softrl_jax/algos/ddpg.py is the maths): `modern` (the TD3 paper's DDPG), `lillicrap` and `paper` (Lillicrap et al. 2015), `quick`, `fast`, `fast-cpu` and `dmc100k`, with the source of every value and the known differences."""

from __future__ import annotations

from softrl_jax.presets.common import CPU_PRESET_DIFFERENCE, DMC100K_LOOP, DMC100K_SOURCE, FAST_CPU_LEARNER, FAST_CPU_LOOP, FAST_CPU_SOURCE, FAST_LEARNER, FAST_LOOP, QUICK_LOOP, quick_source
from softrl_jax.presets import Presets

TASK_DEFAULTS: dict[str, dict] = {}

# Lillicrap et al. 2015 (arXiv 1509.02971), low-dimensional inputs.
LILLICRAP = {
    "actor_lr": 1e-4, "critic_lr": 1e-3,    # Sec. 7: Adam, 1e-4 (actor) and 1e-3 (critic)
    "critic_weight_decay": 1e-2,            # Sec. 7: L2 weight decay of 1e-2 on Q
    "tau": 0.001,                           # Sec. 7: soft target updates, tau = 0.001 (gamma 0.99, Sec. 7,
                                            # is the default)
    "hidden": (400, 300),                   # Sec. 7: 2 hidden layers of 400 and 300 units
    "critic_action_layer": 1,               # Sec. 7: actions not included until the 2nd hidden layer of Q
    "final_init": 3e-3,                     # Sec. 7: final layers' weights and biases ~ U[-3e-3, 3e-3]
    "fan_in_init": True,                    # Sec. 7: other layers ~ U[-1/sqrt(f), 1/sqrt(f)], f the fan-in
    "batch_norm": True,                     # Sec. 3: batch norm on the state input, all layers of mu and
                                            # the layers of Q before the action (momentum: not given)
    "batch_size": 64,                       # Sec. 7: minibatches of 64
    "buffer_size": 1_000_000,               # Sec. 7: replay buffer of 1e6
    "noise": "ou",                          # Sec. 7: Ornstein-Uhlenbeck, theta 0.15, sigma 0.2 (the
                                            # defaults of ou_theta, ou_sigma)
    "updates_per_step": 1,                  # Sec. 3, Algorithm 1: one minibatch update per time step
    "warmup": "policy", "warmup_steps": 0,  # Algorithm 1: mu(s) + OU noise acts from the first step
    "learning_starts": 64,                  # Algorithm 1 samples a minibatch every step: ours once one is stored
}

# Citations for `--explain` (softrl_jax/explain.py): the source of every value a preset sets.
_L = "Lillicrap et al. 2015 (arXiv 1509.02971)"
LILLICRAP_SOURCES = {
    "actor_lr": f"{_L} Sec. 7: Adam, learning rate 1e-4 for the actor",
    "critic_lr": f"{_L} Sec. 7: Adam, learning rate 1e-3 for the critic",
    "critic_weight_decay": f"{_L} Sec. 7: L2 weight decay of 1e-2 on Q",
    "tau": f"{_L} Sec. 7: soft target updates with tau = 0.001",
    "hidden": f"{_L} Sec. 7: 2 hidden layers of 400 and 300 units (low-dimensional networks)",
    "critic_action_layer": f"{_L} Sec. 7: actions were not included until the 2nd hidden layer of Q",
    "final_init": f"{_L} Sec. 7: final layer weights and biases ~ uniform [-3e-3, 3e-3]",
    "fan_in_init": f"{_L} Sec. 7: other layers ~ uniform [-1/sqrt(f), 1/sqrt(f)], f the fan-in",
    "batch_norm": f"{_L} Sec. 3: batch normalization on the state input, all layers of mu and the layers of Q "
                  "before the action",
    "batch_size": f"{_L} Sec. 7: minibatches of 64 (low-dimensional problems)",
    "buffer_size": f"{_L} Sec. 7: replay buffer size 1e6",
    "noise": f"{_L} Sec. 7: Ornstein-Uhlenbeck process, theta 0.15, sigma 0.2",
    "updates_per_step": f"{_L} Algorithm 1: one minibatch update per time step",
    "warmup": f"{_L} Algorithm 1: actions mu(s) + N from the first step",
    "warmup_steps": f"{_L} Algorithm 1: no random-action phase",
    "learning_starts": f"{_L} Algorithm 1 samples a minibatch at every step; ours waits until one (64) is stored",
}

PRESETS = {
    "modern": {},
    "lillicrap": LILLICRAP,
    # `paper` is the CLI's default preset name; the DSPG paper's DDPG baseline is Lillicrap's DDPG.
    "paper": LILLICRAP,
    # Small tasks on a CPU in minutes (gymnax Pendulum: see tests/test_learning_baselines.py).
    "quick": {"hidden": (64, 64), "actor_lr": 1e-3, "critic_lr": 1e-3, "batch_size": 128, **QUICK_LOOP},
    # FastTD3's recipe (softrl_jax/presets/common.py FAST_LOOP, FAST_LEARNER) on DDPG: one C51 critic rather
    # than TD3's clipped pair, no target-policy smoothing or delayed actor. Exploration: Gaussian
    # sigma 0.2, inside FastTD3's per-environment range [std_min 0.001, std_max 0.4] (BaseArgs).
    "fast": {**FAST_LEARNER, "noise": "gaussian", "noise_sigma": 0.2, **FAST_LOOP},
    "fast-cpu": {**FAST_CPU_LEARNER, "noise": "gaussian", "noise_sigma": 0.2, **FAST_CPU_LOOP},
    # DMC-100K (presets/common.py DMC100K_LOOP): `modern` DDPG (TD3 paper's "our DDPG": 2x256, Adam 3e-4, batch
    # 256, Gaussian noise 0.1) inside the protocol's loop.
    "dmc100k": DMC100K_LOOP,
}


PRESET_SOURCES = {
    "modern": {"*": "TD3 paper (Fujimoto et al. 2018) \"our DDPG\", CleanRL ddpg_continuous_action.py: the defaults"},
    "lillicrap": LILLICRAP_SOURCES,
    "paper": {k: f"{v}; DSPG paper Sec. 6.1: \"identical experimental setup ... as in Lillicrap et al.\""
              for k, v in LILLICRAP_SOURCES.items()},
    "quick": {"*": quick_source("test_learning_baselines.py")},
    "fast": {"*": "FastTD3's recipe, softrl_jax/presets/common.py FAST_LOOP and FAST_LEARNER (github younggyoseo/FastTD3 "
                  "hyperparams.py); Gaussian noise sigma 0.2 inside FastTD3's [0.001, 0.4]"},
    "fast-cpu": {"*": FAST_CPU_SOURCE},
    "dmc100k": {"*": DMC100K_SOURCE},
}
_LILLICRAP_DIFFERENCES = [
    "batch-norm momentum 0.99 (flax's default; the paper gives none; rllab/Lasagne use 0.9); the actor loss "
    "evaluates Q in training mode (rllab: running averages)",
    "the paper's Algorithm 1 updates from the first step; the first update here waits for a stored minibatch of 64",
    "evaluation: the suite's protocol (7 deterministic episodes every 1e4 steps)",
]
KNOWN_DIFFERENCES = {
    "modern": ["loop: the suite's protocol (uniform warm-up of 10000 transitions, 4 updates per step, replay 3e6); "
               "TD3's DDPG used 1 update per step, a 1e6 replay and a uniform start (TD3 code: 1e4 steps, later 25e3; "
               "CleanRL 25000)"],
    "lillicrap": _LILLICRAP_DIFFERENCES,
    "paper": ["the DSPG paper says its DDPG \"has to perform a grid search\": the searched values are not "
              "published, so Lillicrap's are used", *_LILLICRAP_DIFFERENCES],
    "quick": [CPU_PRESET_DIFFERENCE],
    "fast": ["not a paper configuration: FastTD3's recipe with one C51 critic and no TD3 tricks"],
    "fast-cpu": [CPU_PRESET_DIFFERENCE],
    "dmc100k": ["not tuned for DM Control: the TD3 paper's DDPG settings inside the DMC-100K loop"],
}

DDPG = Presets(
    values=PRESETS, sources=PRESET_SOURCES, differences=KNOWN_DIFFERENCES,
    task_defaults=TASK_DEFAULTS)
