"""Loop and learner values that several algorithms' presets share: the `quick` loop, the DMC-100K
protocol, and the `fast` (FastTD3 / FastSAC) recipe with its 2-core CPU version."""

from __future__ import annotations

# The loop part of every algorithm's `quick` preset: small tasks on a CPU in minutes.
# The quick presets size their budget too: 30000 steps per seed is `make demo`'s run (DSPG learns
# Pendulum in it, about 1.5 minutes for 4 seeds on 2 cores), so `make sweep ALGO=...` as written ends
# in minutes instead of running the paper's 3e6 steps per point.
QUICK_LOOP = {"num_envs": 1, "updates_per_step": 1, "warmup_steps": 1000, "buffer_size": 100_000,
              "eval_every": 1000, "eval_episodes": 8, "total_steps": 30_000}

# The DMC-100K protocol (benchmarks/suites/dmc100k.toml): 100,000 environment steps per seed, one
# environment, one update per step, evaluation every 10,000 steps on 10 deterministic episodes. The
# 1,000 uniform steps before learning, the replay of 100,000 (the whole run) and the 10 evaluation
# episodes are CURL's (Laskin, Srinivas & Abbeel 2020, arXiv 2004.04136, Table 3: "Initial steps 1000",
# "Replay buffer size 100000", "Evaluation episodes 10"). Shared by the `dmc100k` presets of SAC, DDPG,
# DSPG and SQL, which keep their own learners.
DMC100K_LOOP = {"num_envs": 1, "updates_per_step": 1, "warmup": "uniform", "warmup_steps": 1000,
                "learning_starts": -1, "buffer_size": 100_000, "total_steps": 100_000, "eval_every": 10_000,
                "eval_episodes": 10}
DMC100K_SOURCE = ("DMC-100K (benchmarks/suites/dmc100k.toml): 1e5 steps, 1 update per step, evaluation every 1e4 "
                  "steps; 1000 uniform initial steps, a 1e5 replay and 10 evaluation episodes as CURL (arXiv "
                  "2004.04136, Table 3)")

# The massively parallel off-policy recipe of FastTD3 (Seo et al. 2025, arXiv 2505.22642) and FastSAC
# (arXiv 2512.01996), shared by the `fast` presets of SAC, DDPG and DSPG. Sources: FastTD3's
# hyperparameters, github.com/younggyoseo/FastTD3 fast_td3/hyperparams.py (BaseArgs and
# MuJoCoPlaygroundArgs); "iterations" there are vector steps of num_envs transitions each.
FAST_LOOP = {
    "num_envs": 1024,                   # MuJoCoPlaygroundArgs.num_envs
    "updates_per_step": 2,              # BaseArgs.num_updates (per vector step)
    "warmup_steps": 32 * 1024,          # BaseArgs.learning_starts is 10 vector steps; ours waits until a
                                        # full minibatch of 32768 is stored (32 vector steps)
    "buffer_size": 1024 * 10 * 1024,    # MuJoCoPlaygroundArgs.buffer_size = 10240 per environment
    "total_steps": 50_000 * 1024,       # Go1 tasks' total_timesteps = 50000 vector steps
    "eval_every": 5_000 * 1024,         # BaseArgs.eval_interval = 5000 vector steps
    "eval_episodes": 128,               # ours (FastTD3 evaluates 1024 environments at once)
    "obs_norm": True,                   # BaseArgs.obs_normalization
}
# The same recipe, made small enough to learn a Playground task on a 2-core CPU in a few minutes
# (measured on playground:CartpoleBalance, docs/playground.md): 8 environments, 2 updates per
# vector step (an update-to-data ratio of 0.25; with 16 environments, 0.125, DSPG and DDPG ended
# below the zero-action policy's 698 at 64k transitions), 64k transitions.
FAST_CPU_LOOP = {"num_envs": 8, "updates_per_step": 2, "warmup_steps": 2048, "buffer_size": 100_000,
                 "total_steps": 64_000, "eval_every": 8000, "eval_episodes": 8, "obs_norm": True}
# `--explain` citations shared by every algorithm's CPU presets (softrl_jax/explain.py).
FAST_CPU_SOURCE = ("ours: FastTD3's recipe at 2-core CPU sizes, presets/common.py FAST_CPU_LOOP and FAST_CPU_LEARNER "
                   "(tuned on playground:CartpoleBalance)")
CPU_PRESET_DIFFERENCE = "not a paper configuration: sized for a CPU"


def quick_source(test_file: str, task: str = "gymnax Pendulum") -> str:
    """The --explain citation of an algorithm's `quick` preset: ours, checked by `tests/<test_file>`."""
    return f"ours: small networks and loop for {task} on a CPU (tests/{test_file})"
# Critic and learner fields of `fast` that every algorithm shares (same source as FAST_LOOP).
FAST_LEARNER = {
    "gamma": 0.97,                      # MuJoCoPlaygroundArgs.gamma
    "tau": 0.1,                         # BaseArgs.tau
    "batch_size": 32768,                # BaseArgs.batch_size
    "actor_lr": 3e-4, "critic_lr": 3e-4,  # BaseArgs.{actor,critic}_learning_rate
    "hidden": (1024, 512, 256),         # BaseArgs.critic_hidden_dim 1024, halved per layer (FastTD3's
                                        # critic; its actor is half as wide, ours shares the widths)
    "critic": "c51", "num_atoms": 101,  # distributional critic, BaseArgs.num_atoms
    "v_min": -250.0, "v_max": 250.0,    # BaseArgs.v_min / v_max (not overridden for Playground)
    "compute_dtype": "bfloat16",        # BaseArgs.amp, amp_dtype = "bf16" (parameters stay float32)
}
# fast-cpu: the learner tuned on the 2-core CPU (playground:CartpoleBalance). DM Control rewards lie
# in [0, 1], so with gamma 0.97 returns lie in [0, 33.3]: the support [-10, 40] leaves room for the
# entropy term and resolves values 0.5 apart (FastTD3's [-250, 250] would give atoms 5 apart).
FAST_CPU_LEARNER = {"gamma": 0.97, "tau": 0.1, "batch_size": 256, "actor_lr": 1e-3, "critic_lr": 1e-3,
                    "hidden": (64, 64), "critic": "c51", "num_atoms": 101, "v_min": -10.0, "v_max": 40.0,
                    "critic_layer_norm": True}
