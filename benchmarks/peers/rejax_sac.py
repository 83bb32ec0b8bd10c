"""Peer benchmark: rejax's SAC on gymnax Pendulum-v1, N seeds vmapped in ONE compiled program.

    .venv-peers/rejax/bin/python benchmarks/peers/rejax_sac.py --seeds=4 --total_steps=20000 --json=out.json

Settings follow softrl_jax's SAC `modern` preset with the Pendulum loop of `quick` (2x256 ReLU, Adam 3e-4,
gamma 0.99, tau 0.005, batch 256, one env per seed, 1000 warmup transitions, replay 100000, one update
per env step, evaluation every 1000 transitions on 8 deterministic episodes). rejax's algorithm is used
unmodified; only its evaluation callback is replaced by a deterministic one (tanh of the mean) over
`--eval_episodes` episodes, since rejax's default evaluates 128 *sampled* episodes.

Timing: `jax.jit(jax.vmap(algo.train)).lower(keys).compile()` is timed as compile_s; one call of the
compiled program (block_until_ready) as wall_s. The program contains the evaluations (rejax evaluates
inside its training scan), so steady_env_steps_per_s includes them; the evaluation cost is measured
separately (the same vmapped evaluation, compiled alone and timed on the final state) and subtracted for
steady_env_steps_per_s_excl_eval. Prints the JSON on stdout and writes it to --json when given.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from importlib.metadata import version

from peer_common import write_result


# Behaviour of rejax's SAC that no flag of this script sets, against softrl_jax's SAC (printed by
# make bench-peers before it runs anything).
UNMATCHED = [
    "rejax treats the time limit as terminal: gymnax's done includes the 200-step truncation of "
    "Pendulum (its only episode end) and rejax's target uses gamma * (1 - done), so the last transition "
    "of every episode is not bootstrapped (softrl_jax bootstraps truncations).",
    "Warmup transitions are collected by the initial (untrained) stochastic policy, not by uniform "
    "random actions; updates start once more than warmup_steps transitions are stored, as in softrl_jax.",
    "log_std is hard-clipped to [-10, 2] (rejax hard-codes it) instead of squashed into [-5, 2] by tanh.",
    "Each update does actor, then critic, then temperature: the actor step uses the critic from before "
    "the step and the critic target samples a' from the freshly updated actor (softrl_jax: critic, then "
    "actor against the updated critic, then temperature).",
    "The temperature loss is -alpha * (log_pi + target_entropy) (gradient w.r.t. log_alpha scaled by "
    "alpha) instead of -log_alpha * (log_pi + target_entropy).",
    "Critic loss is 0.5 * squared error summed over the two critics (softrl_jax: squared error without "
    "the 0.5); under Adam this only changes the effective epsilon.",
    "One learning rate (3e-4) and one optimiser chain for actor, critic and temperature; matches the "
    "values of the modern preset but cannot be set separately.",
    "Replay minibatches are drawn without replacement with jax.random.choice(p=...) over the whole "
    "buffer capacity, an O(buffer_size) operation per update (softrl_jax samples uniform indices with "
    "replacement).",
]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--seeds", type=int, default=4, help="seeds trained at once (vmapped)")
    p.add_argument("--seed", type=int, default=0, help="seed i uses PRNGKey(seed + i), as softrl_jax does")
    p.add_argument("--total_steps", type=int, default=20_000,
                   help="env steps per seed, warmup included (rounded up to a multiple of eval_every)")
    p.add_argument("--json", default="", help="write the result here (it is always printed too)")
    p.add_argument("--env", default="Pendulum-v1", help="gymnax environment")
    p.add_argument("--warmup_steps", type=int, default=1000, help="rejax fill_buffer: steps before updates start")
    p.add_argument("--buffer_size", type=int, default=100_000)
    p.add_argument("--eval_every", type=int, default=1000, help="rejax eval_freq (env steps per seed)")
    p.add_argument("--eval_episodes", type=int, default=8, help="deterministic evaluation episodes")
    p.add_argument("--num_envs", type=int, default=1, help="environments per seed")
    p.add_argument("--updates_per_step", type=int, default=1, help="rejax num_epochs: updates per vector env step")
    p.add_argument("--batch_size", type=int, default=256)
    p.add_argument("--hidden", default="256,256", help="hidden widths of actor and critics")
    p.add_argument("--lr", type=float, default=3e-4, help="Adam learning rate (rejax: one for actor, critic, alpha)")
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--tau", type=float, default=0.005, help="Polyak rate; rejax polyak = 1 - tau")
    p.add_argument("--measure_eval", type=int, default=1, choices=(0, 1),
                   help="also time the evaluation alone to report steps/s without it")
    p.add_argument("--steady", type=int, default=0, choices=(0, 1),
                   help="also run half the steps, to measure steady training throughput from the difference "
                        "(implies --measure_eval=1)")
    args = p.parse_args(argv)
    for name in ("seeds", "total_steps", "warmup_steps", "buffer_size", "eval_every", "eval_episodes",
                 "num_envs", "updates_per_step", "batch_size"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1")
    if args.warmup_steps >= args.total_steps:
        p.error("--warmup_steps must be < --total_steps")
    if args.steady:
        args.measure_eval = 1
        if args.warmup_steps >= half_steps(args):
            p.error("--steady=1 also runs half the steps, which must exceed --warmup_steps")
    return args


def half_steps(args) -> int:
    """The shorter run of --steady: half of --total_steps, in whole evaluation periods."""
    return max(1, args.total_steps // 2 // args.eval_every) * args.eval_every


def deterministic_eval_callback(episodes: int):
    """rejax eval_callback: `episodes` episodes of the deterministic policy (tanh of the Gaussian mean,
    rescaled to the action box), mean return reported per evaluation by the caller."""
    import jax.numpy as jnp
    from rejax.evaluate import evaluate

    def eval_callback(algo, ts, rng):
        space = algo.env.action_space(algo.env_params)
        low, high = jnp.asarray(space.low), jnp.asarray(space.high)

        def act(obs, rng):
            mean = algo.actor.apply(ts.actor_ts.params, jnp.expand_dims(obs, 0),
                                    method=lambda m, o: m._action_dist(o).mean())
            action = (low + high) / 2 + jnp.tanh(mean) * (high - low) / 2
            return jnp.squeeze(action)  # as rejax's own make_act

        return evaluate(act, rng, algo.env, algo.env_params, episodes, algo.env_params.max_steps_in_episode)

    return eval_callback


def main(argv=None) -> dict:
    args = parse_args(argv)
    try:
        import jax
        import jax.numpy as jnp
        from rejax import SAC
    except ImportError as e:
        sys.exit(f"rejax_sac.py: {e}; run benchmarks/peers/setup.sh rejax and use .venv-peers/rejax/bin/python")

    hidden = tuple(int(h) for h in args.hidden.split(","))
    keys = jnp.stack([jax.random.PRNGKey(args.seed + i) for i in range(args.seeds)])

    def build(total_steps):
        algo = SAC.create(
            env=args.env,
            total_timesteps=total_steps,
            eval_freq=args.eval_every,
            skip_initial_evaluation=True,
            num_envs=args.num_envs,
            fill_buffer=args.warmup_steps,
            buffer_size=args.buffer_size,
            batch_size=args.batch_size,
            num_epochs=args.updates_per_step,
            learning_rate=args.lr,
            gamma=args.gamma,
            polyak=1.0 - args.tau,
            target_update_freq=1,
            hidden_layer_sizes=hidden,
            agent_kwargs={"activation": "relu"},
            normalize_observations=False,
            normalize_rewards=False,
        )
        return algo.replace(eval_callback=deterministic_eval_callback(args.eval_episodes))

    def run(total_steps):
        """(algo, final train state, eval returns, compile_s, wall_s, steps per seed, evaluations)."""
        algo = build(total_steps)
        n_evals = math.ceil(total_steps / args.eval_every)
        steps = n_evals * math.ceil(args.eval_every / args.num_envs) * args.num_envs  # what rejax runs
        t = time.perf_counter()
        train = jax.jit(jax.vmap(algo.train)).lower(keys).compile()
        compile_s = time.perf_counter() - t
        t = time.perf_counter()
        ts, (lengths, returns) = jax.block_until_ready(train(keys))
        return algo, ts, returns, compile_s, time.perf_counter() - t, steps, n_evals

    algo, ts, returns, compile_s, wall_s, steps_per_seed, n_evals = run(args.total_steps)
    # returns: [seeds, n_evals, eval_episodes]
    eval_curve = jnp.mean(returns, axis=-1)  # [seeds, n_evals]
    final_return = [float(x) for x in eval_curve[:, -1]]

    total_env_steps = steps_per_seed * args.seeds
    result = {
        "peer": "rejax",
        "version": version("rejax"),
        "jax": jax.__version__,
        "gymnax": version("gymnax"),
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0].device_kind),
        "host": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "env": f"gymnax:{args.env}",
        "seeds": args.seeds,
        "seed": args.seed,
        "total_steps": steps_per_seed,
        "compile_s": round(compile_s, 3),
        "wall_s": round(wall_s, 3),
        "steady_env_steps_per_s": round(total_env_steps / wall_s, 1),
        "final_return": final_return,
        "eval_steps": [args.eval_every * (i + 1) for i in range(n_evals)],
        "eval_return_mean": [round(float(x), 2) for x in jnp.mean(eval_curve, axis=0)],
    }

    if args.measure_eval:
        # The same vmapped evaluation rejax runs inside the program, compiled alone, on the final state.
        ev = jax.jit(jax.vmap(lambda s, k: algo.eval_callback(algo, s, k)))
        ev_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)
        ev = ev.lower(ts, ev_keys).compile()
        jax.block_until_ready(ev(ts, ev_keys))
        reps = 3
        t = time.perf_counter()
        for _ in range(reps):
            out = ev(ts, ev_keys)
        jax.block_until_ready(out)
        one_eval_s = (time.perf_counter() - t) / reps
        eval_s = one_eval_s * n_evals
        result["eval_s_estimate"] = round(eval_s, 3)
        result["steady_env_steps_per_s_excl_eval"] = (
            round(total_env_steps / (wall_s - eval_s), 1) if wall_s > eval_s else None)
        result["evaluations"] = n_evals
        result["eval_s_each_mean"] = round(one_eval_s, 4)

    if args.steady:
        # make bench-peers' clock (softrl_jax/bench_peers.py): steady training, evaluation and compile
        # excluded. The program holds warm-up, training and evaluations; a second run of half the steps
        # has the same warm-up and fixed costs, so the extra steps over the extra time (each run's
        # evaluations subtracted) is the training throughput after warm-up.
        _, _, _, half_compile_s, half_wall_s, half_steps_per_seed, half_evals = run(half_steps(args))
        extra_s = (wall_s - n_evals * one_eval_s) - (half_wall_s - half_evals * one_eval_s)
        extra_steps = (steps_per_seed - half_steps_per_seed) * args.seeds
        result["steady_train_env_steps_per_s"] = round(extra_steps / extra_s, 1) if extra_s > 0 else None
        result["half_run"] = {"total_steps": half_steps_per_seed, "wall_s": round(half_wall_s, 3),
                              "compile_s": round(half_compile_s, 3), "evaluations": half_evals}
        result["train_compile_s"] = round(compile_s, 3)  # one program: training with its evaluations inside
        result["all_compile_s"] = round(compile_s, 3)

    result["notes"] = (
        "compile_s: jax.jit(jax.vmap(algo.train)).lower(keys).compile(). wall_s: one call of the compiled "
        "program, block_until_ready; it covers warmup, training and all evaluations. "
        "steady_env_steps_per_s = seeds * total_steps / wall_s, so it INCLUDES evaluation "
        f"({n_evals} evaluations x {args.eval_episodes} deterministic episodes x up to the env's time limit, "
        "vmapped over seeds, inside the program); steady_env_steps_per_s_excl_eval subtracts eval_s_estimate "
        "= n_evals x the time of the same vmapped evaluation compiled alone and run on the final state. "
        "total_steps counts warmup (rejax fill_buffer) steps, as softrl_jax does; evaluations happen at "
        "eval_steps counted from step 0 in both, the final one at the end. "
        "final_return: mean undiscounted return of the last evaluation, per seed."
    )
    result["settings"] = {
        "env": f"gymnax:{args.env}",
        "algo": "rejax.SAC (unmodified; deterministic eval callback)",
        "num_envs": args.num_envs,
        "critics": 2,
        "hidden": list(hidden),
        "activation": "relu",
        "actor_lr": args.lr,
        "critic_lr": args.lr,
        "alpha_lr": args.lr,
        "max_grad_norm": "inf (no clipping)",
        "gamma": args.gamma,
        "tau": args.tau,
        "batch_size": args.batch_size,
        "buffer_size": args.buffer_size,
        "warmup_steps": args.warmup_steps,
        "updates_per_step": args.updates_per_step,
        "initial_alpha": 1.0,
        "target_entropy": "-action_size",
        "log_std": "hard clip to [-10, 2]",
        "normalize_observations": False,
        "eval_every": args.eval_every,
        "eval_episodes": args.eval_episodes,
        "eval_policy": "deterministic (tanh of mean)",
    }
    result["unmatched"] = UNMATCHED
    return write_result(result, args.json)


if __name__ == "__main__":
    main()
