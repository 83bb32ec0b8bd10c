"""DSPG's presets (softrl_jax/algos/dspg.py is the maths): `paper` (Shi, Song & Wu 2019, Appendix A), `authors` (github shiwj16/dspg), `quick`, `fast`, `fast-cpu` and `dmc100k`, the paper's per-task clip norms, the source of every value and the known differences."""

from __future__ import annotations

from softrl_jax.presets.common import CPU_PRESET_DIFFERENCE, DMC100K_LOOP, DMC100K_SOURCE, FAST_CPU_LEARNER, FAST_CPU_LOOP, FAST_CPU_SOURCE, FAST_LEARNER, FAST_LOOP, QUICK_LOOP, quick_source
from softrl_jax.presets import Presets

# Paper Sec. 6.1: N = 5 for Ant and Walker2d, 1 for Hopper, 3 for HalfCheetah.
TASK_DEFAULTS = {
    "ant": {"clip_norm": 5.0},
    "walker2d": {"clip_norm": 5.0},
    "hopper": {"clip_norm": 1.0},
    "halfcheetah": {"clip_norm": 3.0},
}

# Per-task values of one preset, above the preset itself. The authors' Walker2d script sets only the
# reward scale, so their code's defaults hold there: global_norm 3 (not the paper's Walker2d N = 5)
# and a replay of 5e6.
PRESET_TASK_DEFAULTS = {"authors": {"walker2d": {"clip_norm": 3.0, "buffer_size": 5_000_000}}}

# The DSPG paper's protocol of data collection: "Training does not start until the replay buffer has
# enough samples for a minibatch" (Appendix A), the policy acting from the first step (Algorithm 1;
# authors' main.py: `agent.sampling_actions` from step one, training `if buffer.size() >= batch_size`
# right after the step's transition is stored). So no random warm-up, and the first update comes in
# the step that stores transition 100 (the paper's minibatch).
PAPER_WARMUP = {"warmup": "policy", "warmup_steps": 0, "learning_starts": 100}

PRESETS = {
    # The defaults (Config: DSPG Appendix A) plus PAPER_WARMUP; per-task clip norms from TASK_DEFAULTS.
    "paper": PAPER_WARMUP,
    # github shiwj16/dspg, line by line:
    #   num_samples 100          main.py flag num_samples 100
    #   grad_reduction sum       src/model.py: the actor loss sums over the B x M terms
    #   policy tanh_gaussian     src/model.py: tanh on the sampled actions (main.py: action_converter)
    #   hidden 800x800           main.py flags hidden_dims_pi / hidden_dims_Q [800, 800]
    #   warm-up                  main.py: the policy acts from step one; training once buffer >= 100
    #   (Walker2d: PRESET_TASK_DEFAULTS)
    "authors": {"num_samples": 100, "grad_reduction": "sum", "policy": "tanh_gaussian",
                "hidden": (800, 800), **PAPER_WARMUP},
    # Small tasks on a CPU in minutes (gymnax Pendulum: about -150 by 6000 steps).
    "quick": {"hidden": (64, 64), "num_samples": 32, "clip_norm": 1.0, "actor_lr": 1e-3,
              "critic_lr": 1e-3, "alpha": 0.1, "reward_scale": 1.0, "baseline": "loo",
              "policy": "tanh_gaussian", "std_head": "log_std", "batch_size": 128, "tau": 0.01, **QUICK_LOOP},
    # DSPG at FastTD3's scale (softrl_jax/presets/common.py FAST_LOOP, FAST_LEARNER) with a C51 critic whose
    # mean enters the soft policy gradient (sound: see the module docstring). Ours, not from a paper:
    # M = 8 samples and batch 8192 (B x M = 65536 critic evaluations per update, twice SAC's 2 x 32768),
    # a fixed temperature 0.05 with reward scale 1 (DM Control rewards in [0, 1]), the quick preset's
    # squashed policy and leave-one-out baseline.
    "fast": {**FAST_LEARNER, "batch_size": 8192, "num_samples": 8, "alpha": 0.05, "reward_scale": 1.0,
             "clip_norm": 1.0, "baseline": "loo", "policy": "tanh_gaussian", "std_head": "log_std", **FAST_LOOP},
    "fast-cpu": {**FAST_CPU_LEARNER, "num_samples": 8, "alpha": 0.05, "reward_scale": 1.0, "clip_norm": 1.0,
                 "baseline": "loo", "policy": "tanh_gaussian", "std_head": "log_std", **FAST_CPU_LOOP},
    # DMC-100K (presets/common.py DMC100K_LOOP). DSPG's estimator with SAC's network, optimiser and batch (2x256,
    # Adam 3e-4 for both, batch 256, tau 0.005), so the comparison is of the policy update alone. Ours,
    # not the paper's, and chosen before any DMC run: M = 8 samples (as `fast`; M = 16 ran at 100 env
    # steps/s over 5 seeds on CheetahRun on the 2-core CPU, against SAC's 180) with the leave-one-out baseline,
    # the paper's N = 1 clip, the authors' squashed policy, and a fixed temperature 0.05 at reward scale 1.
    # The paper's alpha 1 at reward scale 5 is a temperature of 0.2 on Gym MuJoCo rewards of about 1-10
    # a step; DM Control's lie in [0, 1], so 0.05 keeps entropy at about the same weight.
    "dmc100k": {"hidden": (256, 256), "actor_lr": 3e-4, "critic_lr": 3e-4, "batch_size": 256, "tau": 0.005,
                "num_samples": 8, "baseline": "loo", "clip_norm": 1.0, "alpha": 0.05, "reward_scale": 1.0,
                "policy": "tanh_gaussian", "std_head": "log_std", **DMC100K_LOOP},
}


# Citations for `--explain` (softrl_jax/explain.py): the source of every value a preset sets.
TASK_SOURCE = "DSPG paper Sec. 6.1: N = 5 for Ant and Walker2d, 1 for Hopper, 3 for HalfCheetah"
PRESET_SOURCES = {
    "paper": {"*": "DSPG paper Appendix A: \"Training does not start until the replay buffer has enough samples for "
                   "a minibatch\" (100); the policy acts from the first step (Algorithm 1)"},
    "authors": {"num_samples": "github shiwj16/dspg main.py flag num_samples 100",
                "grad_reduction": "shiwj16/dspg src/model.py: the actor loss sums the B x M terms",
                "policy": "shiwj16/dspg src/model.py: tanh on the sampled actions",
                "hidden": "shiwj16/dspg main.py flags hidden_dims_pi, hidden_dims_Q [800, 800]",
                "*": "shiwj16/dspg main.py: the policy acts from step one; training once buffer.size() >= "
                     "batch_size (100)"},
    "quick": {"*": quick_source("test_learning.py")},
    "fast": {"*": "FastTD3's recipe, softrl_jax/presets/common.py FAST_LOOP and FAST_LEARNER (github younggyoseo/FastTD3 "
                  "hyperparams.py); M, batch, alpha, baseline and the squashed policy are ours (PRESETS comment)"},
    "fast-cpu": {"*": FAST_CPU_SOURCE},
    "dmc100k": {"*": DMC100K_SOURCE + "; the learner is SAC v2's (2x256, 3e-4, batch 256, tau 0.005); M, "
                     "baseline, alpha and the squashed policy are ours (PRESETS comment)"},
}
PRESET_TASK_SOURCES = {"authors": "shiwj16/dspg run_Walker2d.sh sets only the reward scale, so main.py's defaults "
                                  "hold: global_norm 3, buffer_size 5e6"}
KNOWN_DIFFERENCES = {
    "paper": ["evaluation: 7 deterministic episodes every 1e4 steps as the authors' main.py, run side by side from "
              "a pool of start states rather than one after another",
              "the authors' code (preset authors) differs from the paper's Appendix A: M = 100, summed gradient, "
              "tanh actions, 800x800, replay 5e6"],
    "authors": ["the authors' main.py runs 5e6 steps by default (max_steps); the suite's protocol stops at the "
                "paper's 3e6 (--total_steps)",
                "replay: 5e6 only on Walker2d (their script); on the other tasks the paper's 3e6 (their defaults "
                "would give 5e6)",
                "per-task clip norms: the paper's N (Sec. 6.1) except Walker2d (their default 3)"],
    "quick": [CPU_PRESET_DIFFERENCE],
    "fast": ["not a paper configuration: FastTD3's massively parallel recipe applied to DSPG"],
    "fast-cpu": [CPU_PRESET_DIFFERENCE],
    "dmc100k": ["not the paper's learner: SAC v2's network, optimiser and batch, M = 8 with a leave-one-out "
                "baseline, a fixed temperature 0.05 at reward scale 1"],
}

DSPG = Presets(
    values=PRESETS, sources=PRESET_SOURCES, differences=KNOWN_DIFFERENCES,
    task_defaults=TASK_DEFAULTS, task_source=TASK_SOURCE,
    preset_task_defaults=PRESET_TASK_DEFAULTS, preset_task_sources=PRESET_TASK_SOURCES)
