"""SAC's presets (softrl_jax/algos/sac.py is the maths): `modern` (SAC v2), `paper` (the DSPG paper's SAC v1 baseline), `v1`, `quick`, `fast`, `fast-cpu` and `dmc100k`, with the source of every value and the known differences."""

from __future__ import annotations

from softrl_jax.presets.common import CPU_PRESET_DIFFERENCE, DMC100K_LOOP, DMC100K_SOURCE, FAST_CPU_LEARNER, FAST_CPU_LOOP, FAST_CPU_SOURCE, FAST_LEARNER, FAST_LOOP, QUICK_LOOP, quick_source
from softrl_jax.presets import Presets

TASK_DEFAULTS: dict[str, dict] = {}

# SAC v1 "without tricks", line by line (Haarnoja et al. 2018a, arXiv 1801.01290 v1; code github
# haarnoja/sac):
#   critic v_net, num_critics 1   one Q, a state-value net V with a Polyak target (v1 Sec. 4.2, eqs. 5-8)
#   learn_alpha False, alpha 1    fixed temperature folded into the reward scale (v1 Appendix D, Table 1)
#   reward_scale 5                Hopper, Walker2d, HalfCheetah, Ant (v1 Appendix D, Table 2)
#   hidden 2x256, lr 3e-4, tau 0.005, batch 256, gamma 0.99: the suite's defaults (v1 Appendix D, Table 1)
#   policy_reg 1e-3               examples/variants.py GMM_POLICY_PARAMS_BASE reg 1e-3 (a GMM with K = 1,
#                                 i.e. one Gaussian), applied to the pre-squash mean and log std
#   updates_per_step 1            v1 Table 1 "gradient steps per environment step 1"; variants.py n_train_repeat 1
#   buffer_size 1e6               v1 Table 1 "replay buffer size 10^6"; variants.py max_replay_buffer_size
#   warmup policy, learning_starts 1000: sac/algos/base.py (v1-era RLAlgorithm._train): the policy acts
#                                 from the first step and training runs once pool.size >= min_pool_size,
#                                 1000 (variants.py SAMPLER_PARAMS). Later versions of the code add 1000
#                                 uniform exploration steps (10000 on HalfCheetah and Ant)
#   tanh_gaussian, log_std        v1 Appendix C (tanh squashing with the log-det correction)
V1 = {"critic": "v_net", "num_critics": 1, "learn_alpha": False, "alpha": 1.0, "reward_scale": 5.0,
      "policy_reg": 1e-3, "updates_per_step": 1, "buffer_size": 1_000_000, "warmup": "policy",
      "learning_starts": 1000, "warmup_steps": 0}

PRESETS = {
    # SAC v2 (Haarnoja et al. 2018b, Table 1): one gradient step per environment step, replay 1e6
    # (the suite's loop defaults are the DSPG paper's 4 and 3e6).
    "modern": {"updates_per_step": 1, "buffer_size": 1_000_000},
    # The DSPG paper's SAC baseline: SAC v1 (the `v1` preset below) with "a simple multivariate
    # Gaussian for both DSPG and SAC" (DSPG paper Sec. 6.1), i.e. DSPG's plain Gaussian policy with a
    # sigmoid std (DSPG Appendix A; +1e-4 as the DSPG authors' code), actions clipped by the
    # environment, no tanh.
    "paper": {**V1, "policy": "gaussian", "std_head": "sigmoid"},
    # SAC v1 as Haarnoja et al. 2018a ran it (`SAC_V1`).
    "v1": V1,
    # Small tasks on a CPU in minutes (gymnax Pendulum: see tests/test_learning_baselines.py).
    "quick": {"hidden": (64, 64), "actor_lr": 1e-3, "critic_lr": 1e-3, "alpha_lr": 1e-3, "batch_size": 128,
              **QUICK_LOOP},
    # FastSAC (arXiv 2512.01996) after FastTD3's recipe (softrl_jax/presets/common.py FAST_LOOP, FAST_LEARNER):
    # 1024 environments, batch 32768, 2 updates per vector step, gamma 0.97, tau 0.1, twin C51 critics
    # (FastTD3's clipped double Q on the projected distributions), observation normalisation, bfloat16
    # layer maths; the temperature learned as in SAC v2 from alpha 1.
    "fast": {**FAST_LEARNER, "alpha_lr": 3e-4, **FAST_LOOP},
    # The same recipe on a 2-core CPU (presets/common.py FAST_CPU_LOOP / FAST_CPU_LEARNER).
    "fast-cpu": {**FAST_CPU_LEARNER, "alpha_lr": 1e-3, **FAST_CPU_LOOP},
    # DMC-100K (presets/common.py DMC100K_LOOP): SAC v2's learner as `modern` (2x256, Adam 3e-4, batch 256,
    # twin critics, temperature learned from 1 towards -|A|) inside the protocol's loop.
    "dmc100k": DMC100K_LOOP,
}


# Citations for `--explain` (softrl_jax/explain.py): the source of every value a preset sets.
V1_SOURCES = {
    "critic": "SAC v1 (Haarnoja et al. 2018a) Sec. 4.2, eqs. 5-8: a state-value net V with a Polyak target",
    "num_critics": "SAC v1 Sec. 4.2: one Q (the DSPG paper's baseline \"without tricks\")",
    "learn_alpha": "SAC v1: fixed temperature, folded into the reward scale (Appendix D)",
    "alpha": "SAC v1: alpha 1 with the reward scale as inverse temperature (Appendix D)",
    "reward_scale": "SAC v1 Appendix D, Table 2: reward scale 5 on Hopper, Walker2d, HalfCheetah, Ant",
    "policy_reg": "github haarnoja/sac examples/variants.py GMM_POLICY_PARAMS_BASE reg 1e-3 (K = 1: one Gaussian)",
    "updates_per_step": "SAC v1 Appendix D, Table 1: 1 gradient step per environment step",
    "buffer_size": "SAC v1 Appendix D, Table 1: replay buffer size 1e6",
    "warmup": "haarnoja/sac sac/algos/base.py (v1 era): the policy acts from the first step",
    "warmup_steps": "haarnoja/sac sac/algos/base.py (v1 era): no uniform exploration phase",
    "learning_starts": "haarnoja/sac examples/variants.py SAMPLER_PARAMS min_pool_size 1000: training once the pool "
                       "holds 1000 samples",
}
PRESET_SOURCES = {
    "modern": {"*": "SAC v2 (Haarnoja et al. 2018b) Table 1: 1 gradient step per environment step, replay 1e6"},
    "paper": {**V1_SOURCES,
              "policy": "DSPG paper Sec. 6.1: \"a simple multivariate Gaussian for both DSPG and SAC\"",
              "std_head": "DSPG paper Appendix A: sigmoid std (as DSPG's policy)"},
    "v1": V1_SOURCES,
    "quick": {"*": quick_source("test_learning_baselines.py")},
    "fast": {"*": "FastSAC (arXiv 2512.01996) after FastTD3's recipe, softrl_jax/presets/common.py FAST_LOOP and "
                  "FAST_LEARNER (github younggyoseo/FastTD3 hyperparams.py)"},
    "fast-cpu": {"*": FAST_CPU_SOURCE},
    "dmc100k": {"*": DMC100K_SOURCE},
}
_V1_DIFFERENCES = [
    "evaluation: the suite's protocol (7 deterministic episodes every 1e4 steps, the DSPG paper's); the v1 code "
    "evaluates 1 deterministic episode per 1000-step epoch",
    "later versions of haarnoja/sac add uniform initial exploration (n_initial_exploration_steps 1000; 10000 on "
    "HalfCheetah and Ant): --warmup=uniform --warmup_steps=1000 --learning_starts=1000",
]
KNOWN_DIFFERENCES = {
    "paper": ["the DSPG paper states only SAC v1 \"without tricks\" and the plain Gaussian: the rest (warm-up, "
              "replay, update ratio, reward scale, policy regularisation) is SAC v1's, an assumption",
              *_V1_DIFFERENCES],
    "v1": _V1_DIFFERENCES,
    "modern": ["loop: the suite's protocol (uniform warm-up of 10000 transitions, evaluation every 1e4 over 7 "
               "episodes); softlearning evaluates 1 episode per 1000-step epoch after 1000 uniform steps"],
    "quick": [CPU_PRESET_DIFFERENCE],
    "fast": ["FastSAC's exact values are not public in full: FastTD3's are used where it is silent"],
    "fast-cpu": [CPU_PRESET_DIFFERENCE],
    "dmc100k": ["the published state-SAC references use other learners: pytorch_sac (DrQ's SAC State) has 2x1024 "
                "MLPs, batch 1024, Adam 1e-4, an initial temperature 0.1 and 5000 seed steps; CURL does not say "
                "what its State SAC ran. Ours is SAC v2's 2x256, batch 256, 3e-4, temperature learned from 1"],
}

SAC = Presets(
    values=PRESETS, sources=PRESET_SOURCES, differences=KNOWN_DIFFERENCES,
    task_defaults=TASK_DEFAULTS)
