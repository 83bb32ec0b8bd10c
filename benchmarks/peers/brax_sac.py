"""Peer benchmark: Brax's own SAC trainer (brax.training.agents.sac.train) on a Brax env, one seed.

    .venv-peers/brax/bin/python benchmarks/peers/brax_sac.py --total_steps=20000 --seed=0 --num_evals=5 --json=out.json

Defaults: inverted_double_pendulum, backend mjx, 16 envs, batch 256, policy and Q networks 2x256 ReLU,
1 gradient update per vector env step, learning rate 3e-4, discounting 0.99, tau 0.005, reward_scaling 1,
episode_length 1000, action_repeat 1, deterministic evaluation. The trainer runs unmodified; this script
only wraps brax's Evaluator to time evaluations and listens to JAX's compile events.

Brax's train() is a host loop of pmapped programs (prefill, `max(num_evals - 1, 1)` training epochs) with
an evaluation after each epoch, and compiles inside its first calls; there is no separate compile call.
So:
  compile_s  = wall time JAX spends tracing, lowering and compiling (the union of the time spans of its
               /jax/core/compile/* monitoring events) outside the Evaluator; eval_compile_s the same inside
               it. epoch_compile_s: the training-epoch program's share, cross-checked by
               compile_s_first_epoch_minus_steady = first epoch's time - a later epoch's.
  wall_s     = the whole train() call minus all compile time: prefill, epochs, evaluations, host overhead.
  steady_env_steps_per_s = env steps / wall_s (evaluation included, as in the rejax peer);
  steady_env_steps_per_s_excl_eval = env steps of epochs 2.. / their time (Brax's own training/sps), or
               with one epoch, its env steps / (its time - epoch_compile_s).
Prints the JSON on stdout and writes it to --json when given. Use --num_evals >= 3 for a steady epoch.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from importlib.metadata import version

from peer_common import write_result


# Behaviour of Brax's SAC trainer that no flag of this script sets, against softrl_jax's SAC (printed
# by make bench-peers before it runs anything).
UNMATCHED = [
    "Target entropy is -0.5 * action_size (hard-coded in Brax) instead of -action_size.",
    "The policy scale is softplus(raw) + 0.001 (Brax's NormalTanhDistribution) instead of exp(log_std) "
    "with log_std squashed into [-5, 2] by tanh.",
    "Time-limit truncations are dropped from the critic loss (their error is multiplied by "
    "1 - truncation) instead of bootstrapped; termination (the pole falling) gives discount 0 in both.",
    "Training envs auto-reset to the SAME initial state they were first reset to (AutoResetWrapper keeps "
    "first_pipeline_state), so training sees only num_envs distinct initial states; softrl_jax restarts "
    "every episode from a random state of a pool of fresh resets drawn every chunk (--autoreset=pool). "
    "Evaluation episodes get fresh resets in both.",
    "Prefill (min_replay_size, rounded up to a multiple of num_envs) is collected by the initial "
    "stochastic policy, not by uniform random actions.",
    "Each update does temperature, then critic, then actor; critic and actor both use the temperature "
    "from before the step, and the actor uses the critic from before the step (softrl_jax: critic, then "
    "actor against the updated critic, then temperature).",
    "The temperature loss is alpha * (-log_pi - target_entropy) (gradient w.r.t. log_alpha scaled by "
    "alpha), with its own freshly sampled actions, instead of -log_alpha * (log_pi + target_entropy) on "
    "the actor step's actions.",
    "Critic loss is 0.5 * mean over batch AND critics of the squared error (softrl_jax: squared error, "
    "summed over critics); under Adam this mostly changes the effective epsilon.",
    "Kernels are initialised lecun_uniform (Brax default) instead of flax's lecun_normal.",
    "One seed per process (Brax's trainer is not vmappable over seeds); softrl_jax vmaps seeds.",
    "Evaluations run before training and after each of max(num_evals - 1, 1) epochs; every evaluation "
    "unrolls num_eval_envs x episode_length steps even when episodes end early.",
    "Replay buffer capacity max_replay_size is a FIFO queue sampled uniformly with replacement; the "
    "replay sample is drawn once per env step for all grad_updates_per_step updates.",
]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--total_steps", type=int, default=20_000,
                   help="env steps (num_timesteps); Brax rounds up to whole epochs, prefill included")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default="", help="write the result here (it is always printed too)")
    p.add_argument("--num_evals", type=int, default=5,
                   help="Brax num_evals: one eval before training, then one after each of max(E-1, 1) epochs")
    p.add_argument("--env", default="inverted_double_pendulum")
    p.add_argument("--backend", default="mjx")
    p.add_argument("--num_envs", type=int, default=16)
    p.add_argument("--num_eval_envs", type=int, default=128,
                   help="deterministic eval episodes per evaluation (Brax default 128)")
    p.add_argument("--batch_size", type=int, default=256)
    p.add_argument("--grad_updates_per_step", type=int, default=1)
    p.add_argument("--learning_rate", type=float, default=3e-4)
    p.add_argument("--discounting", type=float, default=0.99)
    p.add_argument("--tau", type=float, default=0.005)
    p.add_argument("--reward_scaling", type=float, default=1.0)
    p.add_argument("--episode_length", type=int, default=1000)
    p.add_argument("--action_repeat", type=int, default=1)
    p.add_argument("--min_replay_size", type=int, default=1000,
                   help="prefill transitions before training (softrl_jax warmup_steps)")
    p.add_argument("--max_replay_size", type=int, default=100_000)
    p.add_argument("--hidden", default="256,256", help="hidden widths of policy and Q networks")
    p.add_argument("--normalize_observations", type=int, default=0, choices=(0, 1))
    args = p.parse_args(argv)
    for name in ("total_steps", "num_evals", "num_envs", "num_eval_envs", "batch_size",
                 "grad_updates_per_step", "episode_length", "action_repeat", "max_replay_size"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1")
    prefill = -(-args.min_replay_size // args.num_envs) * args.num_envs * args.action_repeat
    if args.min_replay_size >= args.total_steps or prefill > args.total_steps:
        p.error(f"--total_steps must exceed the prefill ({prefill} env steps: --min_replay_size rounded up to "
                "a multiple of --num_envs, times --action_repeat); Brax refuses otherwise")
    return args


class CompileClock:
    """Union of the wall-time spans of JAX's compile events (trace, lower, backend compile), split by a
    phase label that the caller sets. Nested spans (an inner jit traced inside an outer trace) count once."""

    PREFIX = "/jax/core/compile/"

    def __init__(self):
        self.phase = "setup"
        self.spans: list[tuple[str, float, float, str]] = []
        self.backend: dict[str, float] = {}  # "phase:program" -> XLA compile seconds (these never nest)

    def listener(self, event, start, end, **kwargs):
        if event.startswith(self.PREFIX):
            self.spans.append((self.phase, start, end, str(kwargs.get("fun_name", ""))))
            if event.endswith("backend_compile_duration"):
                name = f"{self.phase}:{kwargs.get('fun_name', '?')}"
                self.backend[name] = self.backend.get(name, 0.0) + end - start

    def total(self, phase: str, name_part: str = "") -> float:
        spans = sorted((s, e) for p, s, e, n in self.spans if p == phase and name_part in n)
        total, cur_s, cur_e = 0.0, None, None
        for s, e in spans:
            if cur_e is None or s > cur_e:
                if cur_e is not None:
                    total += cur_e - cur_s
                cur_s, cur_e = s, e
            else:
                cur_e = max(cur_e, e)
        if cur_e is not None:
            total += cur_e - cur_s
        return total


def main(argv=None) -> dict:
    args = parse_args(argv)
    t_import = time.perf_counter()
    try:
        import jax
        import jax.numpy as jnp
        from brax import envs
    except ImportError as e:
        sys.exit(f"brax_sac.py: {e}; run benchmarks/peers/setup.sh brax and use .venv-peers/brax/bin/python")
    if tuple(int(x) for x in jax.__version__.split(".")[:2]) >= (0, 8):
        sys.exit(f"brax_sac.py: jax {jax.__version__}: Brax's trainers need jax < 0.8 (they call "
                 "jax.device_put_replicated); use .venv-peers/brax/bin/python (benchmarks/peers/setup.sh brax)")
    from brax.training import acting
    from brax.training.agents.sac import networks as sac_networks
    from brax.training.agents.sac import train as sac_train
    import functools

    clock = CompileClock()
    jax.monitoring.register_event_time_span_listener(clock.listener)

    evals: list[dict] = []  # one per evaluation: wall time of run_evaluation (compile included)

    class TimedEvaluator(acting.Evaluator):
        def __init__(self, *a, **kw):  # jits and runs the eval env's reset: count it as evaluation
            clock.phase = "eval"
            try:
                super().__init__(*a, **kw)
            finally:
                clock.phase = "train"

        def run_evaluation(self, *a, **kw):
            clock.phase = "eval"
            t = time.perf_counter()
            try:
                return super().run_evaluation(*a, **kw)
            finally:
                evals.append({"s": time.perf_counter() - t})
                clock.phase = "train"

    acting.Evaluator = TimedEvaluator  # sac_train reads acting.Evaluator at call time

    env = envs.get_environment(args.env, backend=args.backend)
    import_s = time.perf_counter() - t_import
    hidden = tuple(int(h) for h in args.hidden.split(","))

    progress: list[dict] = []
    t0 = None

    def progress_fn(step, metrics):
        progress.append({"t": time.perf_counter() - t0, "step": int(step),
                         **{k: float(v) for k, v in metrics.items() if jnp.ndim(v) == 0}})

    clock.phase = "train"
    t0 = time.perf_counter()
    sac_train.train(
        environment=env,
        num_timesteps=args.total_steps,
        episode_length=args.episode_length,
        action_repeat=args.action_repeat,
        num_envs=args.num_envs,
        num_eval_envs=args.num_eval_envs,
        learning_rate=args.learning_rate,
        discounting=args.discounting,
        seed=args.seed,
        batch_size=args.batch_size,
        num_evals=args.num_evals,
        normalize_observations=bool(args.normalize_observations),
        reward_scaling=args.reward_scaling,
        tau=args.tau,
        min_replay_size=args.min_replay_size,
        max_replay_size=args.max_replay_size,
        grad_updates_per_step=args.grad_updates_per_step,
        deterministic_eval=True,
        network_factory=functools.partial(sac_networks.make_sac_networks, hidden_layer_sizes=hidden),
        progress_fn=progress_fn,
    )
    total_s = time.perf_counter() - t0

    compile_s = clock.total("train")
    eval_compile_s = clock.total("eval")
    wall_s = total_s - compile_s - eval_compile_s
    epoch_compile_s = clock.total("train", "training_epoch")  # trace + lower + compile of the epoch program
    epochs = [m for m in progress if "training/sps" in m]  # one per training epoch, in order
    env_steps = epochs[-1]["step"]
    prefill_steps = -(-args.min_replay_size // args.num_envs) * args.num_envs * args.action_repeat
    ends = [e["step"] for e in epochs]
    epoch_steps = [b - a for a, b in zip([prefill_steps] + ends[:-1], ends)]
    epoch_s = [n / e["training/sps"] for n, e in zip(epoch_steps, epochs)]
    if len(epochs) >= 2:
        steady_excl_eval = sum(epoch_steps[1:]) / sum(epoch_s[1:])
        first_minus_steady = epoch_s[0] - epoch_s[-1] * epoch_steps[0] / epoch_steps[-1]
        steady_method = "env steps of epochs 2.. / their time (Brax training/sps)"
    else:
        steady_excl_eval = epoch_steps[0] / max(epoch_s[0] - epoch_compile_s, 1e-9)
        first_minus_steady = None
        steady_method = ("the one epoch's env steps / (its time from Brax's training/sps - epoch_compile_s); "
                         "only one epoch, use --num_evals >= 3 for a steady one")
    eval_s = sum(e["s"] for e in evals)
    final = progress[-1]

    result = {
        "peer": "brax-sac",
        "version": version("brax"),
        "jax": jax.__version__,
        "mujoco_mjx": version("mujoco-mjx"),
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0].device_kind),
        "host": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "env": f"brax:{args.env}:{args.backend}",
        "seeds": 1,
        "seed": args.seed,
        "total_steps": env_steps,
        "compile_s": round(compile_s, 3),
        "wall_s": round(wall_s, 3),
        "steady_env_steps_per_s": round(env_steps / wall_s, 1),
        "steady_env_steps_per_s_excl_eval": round(steady_excl_eval, 1),
        # make bench-peers' clock (softrl_jax/bench_peers.py): steady training, evaluation and compile excluded
        "steady_train_env_steps_per_s": round(steady_excl_eval, 1),
        "train_compile_s": round(epoch_compile_s, 3),
        "all_compile_s": round(compile_s + eval_compile_s + clock.total("setup"), 3),
        "evaluations": len(evals),
        "eval_s_each_mean": round(eval_s / max(len(evals), 1), 3),
        "final_return": [final["eval/episode_reward"]],
        "total_s": round(total_s, 3),
        "import_and_env_s": round(import_s, 3),
        "env_setup_compile_s": round(clock.total("setup"), 3),
        "eval_compile_s": round(eval_compile_s, 3),
        "xla_compile_s_by_program": {k: round(v, 3) for k, v in sorted(clock.backend.items(), key=lambda kv: -kv[1])},
        "epoch_compile_s": round(epoch_compile_s, 3),
        "compile_s_first_epoch_minus_steady": None if first_minus_steady is None else round(first_minus_steady, 3),
        "eval_s": round(eval_s, 3),
        "eval_s_each": [round(e["s"], 3) for e in evals],
        "eval_env_steps_each": args.num_eval_envs * args.episode_length,
        "brax_training_sps": [round(e["training/sps"], 1) for e in epochs],
        "brax_training_walltime": round(epochs[-1]["training/walltime"], 3),
        "brax_eval_sps": [round(m["eval/sps"], 1) for m in progress if "eval/sps" in m],
        "epoch_env_steps": epoch_steps,
        "prefill_env_steps": prefill_steps,
        "eval_steps": [m["step"] for m in progress],
        "eval_return": [round(m["eval/episode_reward"], 2) for m in progress],
        "eval_episode_length": [round(m.get("eval/avg_episode_length", float("nan")), 1) for m in progress],
    }
    result["notes"] = (
        "compile_s: union of the wall-time spans of JAX's /jax/core/compile/* monitoring events (trace, "
        "lower to MLIR, backend compile) inside train() but outside the Evaluator, i.e. Brax's env reset, training-state and replay "
        "init, prefill and training-epoch programs; eval_compile_s: the same inside the Evaluator (its "
        "constructor's env reset and run_evaluation; Brax's eval unroll compiled twice in our runs, before "
        "training and again on the first trained parameters). xla_compile_s_by_program: XLA backend compile "
        "time alone per phase:program (tracing and lowering excluded). "
        "compile_s_first_epoch_minus_steady is a cross-check (first epoch's time minus a later epoch's, "
        "scaled to the same steps) of epoch_compile_s, the compile spans of Brax's training_epoch program alone. wall_s = total_s (the whole train() call) - compile_s - eval_compile_s: "
        "prefill, training epochs, every evaluation and host overhead. steady_env_steps_per_s = total_steps / "
        "wall_s and so INCLUDES evaluation; steady_env_steps_per_s_excl_eval: " + steady_method + ". "
        f"Each evaluation steps {args.num_eval_envs} envs x {args.episode_length} steps whatever the episodes' "
        "lengths (Brax's Evaluator unrolls the full episode_length; eval_s, eval_s_each, brax_eval_sps). "
        f"total_steps: env steps Brax ran ({prefill_steps} prefill + whole epochs; it rounds num_timesteps "
        "up). final_return: eval/episode_reward of the last evaluation (mean undiscounted return of the "
        "deterministic policy over num_eval_envs episodes)."
    )
    result["settings"] = {
        "env": args.env,
        "backend": args.backend,
        "num_envs": args.num_envs,
        "num_eval_envs": args.num_eval_envs,
        "num_evals": args.num_evals,
        "batch_size": args.batch_size,
        "grad_updates_per_step": args.grad_updates_per_step,
        "hidden": list(hidden),
        "activation": "relu",
        "critics": 2,
        "learning_rate": args.learning_rate,
        "alpha_lr": 3e-4,
        "discounting": args.discounting,
        "tau": args.tau,
        "reward_scaling": args.reward_scaling,
        "episode_length": args.episode_length,
        "action_repeat": args.action_repeat,
        "min_replay_size": args.min_replay_size,
        "max_replay_size": args.max_replay_size,
        "normalize_observations": bool(args.normalize_observations),
        "initial_alpha": 1.0,
        "target_entropy": "-0.5 * action_size",
        "policy_scale": "softplus(raw) + 0.001",
        "deterministic_eval": True,
    }
    result["unmatched"] = UNMATCHED
    return write_result(result, args.json)


if __name__ == "__main__":
    main()
