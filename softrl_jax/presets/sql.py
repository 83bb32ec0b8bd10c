"""Soft Q-learning's presets (softrl_jax/algos/sql.py is the maths): `paper` (the authors' code), `appendix` (the paper's Appendix D.1), `quick`, `multigoal` and `dmc100k`, the authors' per-task reward scales, the source of every value and the known differences."""

from __future__ import annotations

from softrl_jax.presets.common import CPU_PRESET_DIFFERENCE, DMC100K_LOOP, DMC100K_SOURCE, QUICK_LOOP, quick_source
from softrl_jax.presets import Presets

# Authors' reward scales (examples/mujoco_all_sql.py ENV_PARAMS; examples/multigoal_sql.py).
TASK_DEFAULTS = {
    "swimmer": {"reward_scale": 30.0},
    "hopper": {"reward_scale": 30.0},
    "halfcheetah": {"reward_scale": 30.0},
    "walker2d": {"reward_scale": 10.0},
    "ant": {"reward_scale": 300.0},
    "humanoid": {"reward_scale": 100.0},
    "multigoal": {"reward_scale": 0.1},
}

PRESETS = {
    # Authors' code (github haarnoja/softqlearning): one gradient step per env step, replay 1e6
    # (examples/mujoco_all_sql.py n_train_repeat 1, max_pool_size 1e6); the policy samples from the
    # first step and training starts once the pool holds min_pool_size = max_path_length = 1000
    # samples (mujoco_all_sql.py SimpleSampler; misc/sampler.py batch_ready).
    "paper": {"updates_per_step": 1, "buffer_size": 1_000_000, "warmup": "policy", "warmup_steps": 0,
              "learning_starts": 1000},
    # Paper Appendix D.1: Q lr 1e-3, sampler lr 1e-4, 2x200, batch 64, K = M = 32, K_V = 50, OU 0.15/0.3,
    # replay 1e6, "Training does not start until the replay pool has at least 10,000 samples" (collected
    # by the sampler: no uniform phase), one update per step. Appendix C.1's estimator averages over
    # M particles a^(i) (Q gradients and kernels: our fixed particles) and K particles a~^(j) (moved:
    # our updated particles), so K = M = 32 is 32 + 32; the median bandwidth divides by log 32.
    "appendix": {"hidden": (200, 200), "critic_lr": 1e-3, "actor_lr": 1e-4, "batch_size": 64,
                 "num_fixed_particles": 32, "num_updated_particles": 32, "num_value_samples": 50,
                 "ou_sigma": 0.3, "updates_per_step": 1, "buffer_size": 1_000_000, "warmup": "policy",
                 "warmup_steps": 0, "learning_starts": 10_000},
    # gymnax Pendulum on a CPU in minutes (measured in tests/test_learning_sql.py).
    "quick": {"hidden": (64, 64), "actor_lr": 1e-3, "critic_lr": 1e-3, "reward_scale": 1.0, "alpha": 0.1,
              "target_update_period": 200, "batch_size": 128, **QUICK_LOOP},
    # Use with --env=multigoal. Authors' examples/multigoal_sql.py: 2x128, lr 3e-4, K = 32 (16 + 16),
    # K_V = 16, target copied every 1000 steps, reward scale 0.1 (paper D.1: alpha 10), batch 64,
    # learning once the pool holds 100 policy samples (SimpleSampler min_pool_size 100), 1000 epochs of
    # 100 steps.
    "multigoal": {"hidden": (128, 128), "actor_lr": 3e-4, "critic_lr": 3e-4, "reward_scale": 0.1,
                  "alpha": 1.0, "num_fixed_particles": 16, "num_updated_particles": 16,
                  "num_value_samples": 16, "target_update_period": 1000, "batch_size": 64,
                  "num_envs": 1, "updates_per_step": 1, "warmup": "policy", "warmup_steps": 0,
                  "learning_starts": 100,
                  "buffer_size": 1_000_000, "total_steps": 100_000, "eval_every": 1000, "eval_episodes": 10},
    # DMC-100K (presets/common.py DMC100K_LOOP): the authors' sampler and value estimate (K = 16 as 8 + 8, K_V 16,
    # target copied every 1000 steps, Adam 3e-4) with SAC's network and batch (2x256, 256). Reward scale
    # 20 is a temperature of 0.05 on DM Control's rewards in [0, 1], as DSPG's dmc100k preset; the
    # authors' scales are 10-300 on Gym MuJoCo's larger rewards. Chosen before any DMC run.
    "dmc100k": {"hidden": (256, 256), "batch_size": 256, "reward_scale": 20.0, **DMC100K_LOOP},
}


# Citations for `--explain` (softrl_jax/explain.py): the source of every value a preset sets.
TASK_SOURCE = "github haarnoja/softqlearning examples/mujoco_all_sql.py ENV_PARAMS reward_scale; multigoal: " \
              "examples/multigoal_sql.py"
PRESET_SOURCES = {
    "paper": {"updates_per_step": "haarnoja/softqlearning examples/mujoco_all_sql.py n_train_repeat 1",
              "buffer_size": "haarnoja/softqlearning examples/mujoco_all_sql.py max_pool_size 1e6",
              "*": "haarnoja/softqlearning mujoco_all_sql.py SimpleSampler(min_pool_size=max_path_length=1000), "
                   "misc/sampler.py: the policy samples from the first step; training once the pool holds 1000"},
    "appendix": {"*": "SQL paper (Haarnoja et al. 2017) Appendix D.1",
                 "num_fixed_particles": "SQL paper Appendix C.1 and D.1: M = 32 particles a^(i) (our fixed ones)",
                 "num_updated_particles": "SQL paper Appendix C.1 and D.1: K = 32 particles a~^(j) (our moved ones)",
                 "learning_starts": "SQL paper Appendix D.1: \"Training does not start until the replay pool has at "
                                    "least 10,000 samples\"",
                 "warmup": "SQL paper Appendix D.1: samples come from the sampler (no uniform phase stated)",
                 "warmup_steps": "SQL paper Appendix D.1: no uniform phase stated"},
    "quick": {"*": quick_source("test_learning_sql.py")},
    "dmc100k": {"*": DMC100K_SOURCE + "; the rest as haarnoja/softqlearning's defaults",
                "hidden": "ours: SAC v2's 2x256 (the authors' 2x128)", "batch_size": "ours: SAC v2's 256",
                "reward_scale": "ours: a temperature of 0.05 on rewards in [0, 1] (the authors' 10-300 are per "
                                "Gym task)"},
    "multigoal": {"*": "haarnoja/softqlearning examples/multigoal_sql.py (2x128, lr 3e-4, K = 32 as 16 + 16, K_V 16, "
                       "target every 1000, reward scale 0.1, batch 64, min_pool_size 100)",
                  "total_steps": "ours: 1e5 = the authors' 1000 epochs x 100 steps",
                  "eval_every": "ours: an evaluation every 1000 steps",
                  "eval_episodes": "ours: 10 deterministic episodes"},
}
KNOWN_DIFFERENCES = {
    "paper": ["the authors' runs last n_epochs x 1000 steps per task (2e6 Hopper, 1e7 HalfCheetah and Ant, 5e6 "
              "Walker2d); the suite's protocol stops at --total_steps (3e6)",
              "the authors evaluate 1 episode per epoch; the suite 7 deterministic ones every 1e4 steps"],
    "appendix": ["the paper's OU noise is added to the sampler's actions; the paper's 10000-step training "
                 "iterations are not a unit here (updates every step)"],
    "quick": [CPU_PRESET_DIFFERENCE],
    "multigoal": ["evaluation: deterministic episodes (the mean particle) rather than the authors' plots"],
    "dmc100k": ["not the authors' configuration: SAC v2's network and batch, and a reward scale of 20 chosen for "
                "DM Control's rewards in [0, 1] (the authors tune it per Gym task)"],
}

SQL = Presets(
    values=PRESETS, sources=PRESET_SOURCES, differences=KNOWN_DIFFERENCES,
    task_defaults=TASK_DEFAULTS, task_source=TASK_SOURCE)
