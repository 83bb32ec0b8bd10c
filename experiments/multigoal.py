"""The multi-goal experiment of soft Q-learning (Haarnoja et al. 2017, Sec. 5.1 and Figure 1).

Trains SQL, SAC, DSPG and DDPG (whichever are registered) on the `multigoal` task, then runs
`--episodes` STOCHASTIC episodes of each trained agent's exploration policy (`agent.act`: SQL's
sampler with fresh noise, SAC/DSPG's Gaussian, DDPG's mean plus its exploration noise) and saves:

    <out>/<algo>.png        trajectories over the reward's level curves, goal shares in the title
    <out>/all.png           the four panels side by side
    <out>/sql_q.png         SQL's Q(s, .) at three states with sampled actions (Figure 1 right)
    <out>/curves.png        deterministic evaluation return during training
    <out>/summary.json, summary.md   goal shares, returns, wall time per algorithm

    .venv/bin/python experiments/multigoal.py --out=runs/multigoal [--algos=sql,dspg] [--total_steps=20000]

The paper's claim: the maximum-entropy policy reaches all four goals across episodes; DDPG commits
to one. All algorithms share the paper's temperature through `reward_scale = 0.1` (paper Appendix D.1:
alpha 10 for multi-goal; authors' examples/multigoal_sql.py: reward_scale 0.1).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from softrl_jax import algos, envs
from softrl_jax.config import ConfigError
from softrl_jax.envs.multigoal import GOAL_NAMES, MultiGoalParams, goal_cost, reached_goal
from softrl_jax.io.signals import exit_on_signal
from softrl_jax.loop import make_train
from softrl_jax.train import parse_flags

# Settings shared by every algorithm (loop fields, plus the reward scale that sets the temperature).
COMMON = {
    "env": "multigoal",
    "total_steps": 15_000,  # authors: 1000 epochs x 100 steps = 1e5; 1.5e4 keeps the run to minutes on a CPU
    "seeds": 1,
    "num_envs": 1,
    "updates_per_step": 1,
    "warmup": "uniform",  # one protocol for all four: 1000 uniform random actions, then learning
    "warmup_steps": 1000,
    "learning_starts": -1,
    "buffer_size": 100_000,
    "eval_every": 1000,
    "eval_episodes": 10,  # deterministic evaluation during training (authors' eval_n_episodes 10)
    "reward_scale": 0.1,  # alpha = 10 (paper D.1) for the fixed-temperature methods
}

# (preset, per-algorithm overrides). Order = plotting order.
ALGO_SETTINGS = {
    # authors' examples/multigoal_sql.py (2x128, K = 32, lr 3e-4, batch 64)
    "sql": ("multigoal", {}),
    # CPU quick preset; learned temperature (target entropy -A), so the reward scale only rescales Q
    "sac": ("quick", {}),
    # CPU quick preset with the paper's temperature: alpha 1 at reward scale 0.1
    "dspg": ("quick", {"alpha": 1.0}),
    # paper D.1: DDPG explores with Ornstein-Uhlenbeck noise, theta 0.15, sigma 0.3
    "ddpg": ("quick", {"noise": "ou", "ou_theta": 0.15, "ou_sigma": 0.3}),
}

DEFAULT_EPISODES = 100


def run_config(algo: str, total_steps: int, seed: int):
    preset, extra = ALGO_SETTINGS[algo]
    return algos.run_config(algo, preset, {**COMMON, **extra, "total_steps": total_steps, "seed": seed,
                                           "progress": False})


def train(rc):
    """Train one seed as one compiled program. Returns (agent, final agent state, records, seconds)."""
    env = envs.make(rc.loop.env, rc.loop.episode_length or None)
    module = algos.get(rc.algo)
    trainer = make_train(module, env, rc)
    t0 = time.perf_counter()
    carry, metrics = jax.block_until_ready(jax.jit(trainer.train)(jax.random.PRNGKey(rc.loop.seed)))
    seconds = time.perf_counter() - t0
    metrics = jax.device_get(metrics)
    records = [{"seed": rc.loop.seed, "step": int(metrics["step"][i]),
                **{k: float(v[i]) for k, v in metrics.items() if k != "step"}}
               for i in range(trainer.n_chunks) if trainer.logged(i)]  # warm-up-only chunks are not evaluated
    agent = module.make(rc.algo_cfg, env.spec)
    return agent, carry.agent, records, seconds


def rollouts(agent, agent_state, env, params: MultiGoalParams, episodes: int, key):
    """`episodes` stochastic episodes of `agent.act` from the reset state, without auto-reset.

    Returns numpy (positions [E, T + 1, 2], alive [E, T + 1] (position t is part of the episode),
    goal [E] (index of the goal the episode ended at, -1 if it timed out), returns [E]).
    """
    steps = env.spec.max_episode_steps

    def one(k):
        reset_key, run_key = jax.random.split(k)
        core, obs = env.reset(reset_key)
        noise = jnp.zeros((env.spec.action_size,), jnp.float32)

        def body(c, kk):
            core, obs, noise, alive, goal, ret = c
            act_key, step_key = jax.random.split(kk)
            action, noise = agent.act(agent_state, obs, noise, act_key)
            core, next_obs, r, term = env.step(core, action, step_key)
            goal = jnp.where(alive & term, reached_goal(params, next_obs), goal)
            ret = ret + jnp.where(alive, r, 0.0)
            new_alive = alive & ~term
            return (core, next_obs, noise, new_alive, goal, ret), (next_obs, alive)

        init = (core, obs, noise, jnp.array(True), jnp.array(-1, jnp.int32), jnp.array(0.0))
        (_, _, _, _, goal, ret), (pos, alive) = jax.lax.scan(body, init, jax.random.split(run_key, steps))
        return jnp.concatenate([obs[None], pos]), jnp.concatenate([jnp.array([True]), alive]), goal, ret

    out = jax.jit(jax.vmap(one))(jax.random.split(key, episodes))
    return tuple(np.asarray(x) for x in out)


def goal_shares(goal: np.ndarray) -> dict[str, float]:
    shares = {name: float(np.mean(goal == i)) for i, name in enumerate(GOAL_NAMES)}
    shares["none"] = float(np.mean(goal < 0))
    return shares


def plot_trajectories(ax, params: MultiGoalParams, positions, alive, goal, title: str) -> None:
    """Reward level curves (the goal term), goals as red dots, one blue line per episode (Figure 1 left)."""
    lim = params.bound * 1.1
    grid = np.linspace(-lim, lim, 281)
    xx, yy = np.meshgrid(grid, grid)
    cost = np.asarray(goal_cost(params, jnp.stack([xx, yy], -1)))
    cs = ax.contour(xx, yy, -cost, levels=20, cmap="viridis", linewidths=0.7)
    ax.clabel(cs, inline=True, fontsize=6, fmt="%.0f")
    for pos, mask in zip(positions, alive):
        p = pos[mask]
        ax.plot(p[:, 0], p[:, 1], color="tab:blue", lw=0.8, alpha=0.6)
    goals = np.asarray(params.goals())
    shares = goal_shares(goal)
    ax.plot(goals[:, 0], goals[:, 1], "o", color="red", ms=8, zorder=5)
    for (gx, gy), name in zip(goals, GOAL_NAMES):
        ax.annotate(f"{100 * shares[name]:.0f}%", (gx, gy), textcoords="offset points", xytext=(6, 6),
                    color="red", fontsize=9, fontweight="bold")
    ax.plot([0], [0], "k+", ms=8)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(title, fontsize=9)


def share_text(shares: dict[str, float]) -> str:
    return " ".join(f"{k} {100 * v:.0f}%" for k, v in shares.items())


def save_pngs(out: Path, params, results: dict) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for algo, r in results.items():
        fig, ax = plt.subplots(figsize=(5.2, 5.4), dpi=120)
        n_goals = sum(r["shares"][g] > 0 for g in GOAL_NAMES)
        plot_trajectories(ax, params, r["positions"], r["alive"], r["goal"],
                          f"{algo} ({r['preset']}), {len(r['goal'])} stochastic episodes, {n_goals}/4 goals\n"
                          f"{share_text(r['shares'])}")
        fig.tight_layout()
        fig.savefig(out / f"{algo}.png")
        plt.close(fig)
        paths.append(out / f"{algo}.png")
    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 4.6), dpi=110, squeeze=False)
    for ax, (algo, r) in zip(axes[0], results.items()):
        plot_trajectories(ax, params, r["positions"], r["alive"], r["goal"], f"{algo}\n{share_text(r['shares'])}")
    fig.tight_layout()
    fig.savefig(out / "all.png")
    plt.close(fig)
    paths.append(out / "all.png")
    return paths


Q_STATES = ((-2.5, 0.0), (0.0, 0.0), (2.5, 2.5))  # authors' plotter obs_lst (Figure 1 right)


def save_q_panels(path: Path, rc, agent, agent_state, samples: int = 100) -> Path:
    """Figure 1 right, for SQL: level curves of Q(s, .) over the action square at three states, with
    `samples` actions drawn by the sampler (`agent.act`) as stars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from softrl_jax.algos import sql

    grid = np.linspace(-1, 1, 101)
    aa = jnp.asarray(np.stack(np.meshgrid(grid, grid), -1).reshape(-1, 2), jnp.float32)
    fig, axes = plt.subplots(1, len(Q_STATES), figsize=(3.6 * len(Q_STATES), 3.7), dpi=110)
    for ax, s in zip(axes, Q_STATES):
        obs = jnp.asarray(s, jnp.float32)
        q = np.asarray(sql.q_value(rc.algo_cfg, agent_state.critic, obs, aa)).reshape(len(grid), len(grid))
        acts, _ = jax.vmap(lambda k: agent.act(agent_state, obs, jnp.zeros(2), k))(
            jax.random.split(jax.random.PRNGKey(0), samples))
        ax.contour(grid, grid, q, levels=20, cmap="coolwarm", linewidths=0.8)
        ax.plot(np.asarray(acts)[:, 0], np.asarray(acts)[:, 1], "*", color="tab:blue", ms=4)
        ax.set_xlim(-1, 1)
        ax.set_ylim(-1, 1)
        ax.set_aspect("equal")
        ax.set_title(f"Q(s, a) at s = {s} (red high)", fontsize=9)
        ax.set_xlabel("a_x")
        ax.set_ylabel("a_y")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_summary(out: Path, results: dict, total_steps: int, episodes: int) -> None:
    rows = {algo: {k: r[k] for k in ("preset", "shares", "goals_reached", "deterministic_shares", "mean_return",
                                       "final_eval_return", "train_seconds")} for algo, r in results.items()}
    (out / "summary.json").write_text(json.dumps({"total_steps": total_steps, "episodes": episodes,
                                                  "algos": rows}, indent=2))
    lines = [f"# Multi-goal: goal shares of {episodes} stochastic episodes after {total_steps} steps", "",
             "| algo | preset | " + " | ".join(GOAL_NAMES) + " | none | goals reached | mean return "
             "| deterministic policy (act_eval) goals | final deterministic eval | train s |",
             "|---|---|" + "---|" * (len(GOAL_NAMES) + 6)]
    for algo, r in rows.items():
        s = r["shares"]
        lines.append(f"| {algo} | {r['preset']} | " + " | ".join(f"{100 * s[g]:.0f}%" for g in GOAL_NAMES)
                     + f" | {100 * s['none']:.0f}% | {r['goals_reached']} | {r['mean_return']:.1f} "
                     f"| {share_text({k: v for k, v in r['deterministic_shares'].items() if v > 0})} "
                     f"| {r['final_eval_return']:.1f} | {r['train_seconds']:.0f} |")
    (out / "summary.md").write_text("\n".join(lines) + "\n")


def options(argv) -> tuple[Path, list[str], dict[str, int]]:
    """(out, algorithms, {total_steps, episodes, seed}) from the flags; ConfigError names a bad one."""
    flags = parse_flags(argv)
    out = Path(flags.pop("out", "runs/multigoal"))
    names = [a for a in flags.pop("algos", ",".join(ALGO_SETTINGS)).split(",") if a]
    numbers = {}
    for name, default, low in (("total_steps", COMMON["total_steps"], 1), ("episodes", DEFAULT_EPISODES, 1),
                               ("seed", 0, 0)):
        text = flags.pop(name, str(default))
        try:
            numbers[name] = int(text)
        except ValueError:
            raise ConfigError(f"--{name}={text!r} is not a valid int") from None
        if numbers[name] < low:
            raise ConfigError(f"--{name}={numbers[name]} is out of range; must be >= {low}")
    if flags:
        raise ConfigError(f"unknown flags {sorted(flags)}; valid: --out --algos --total_steps --episodes --seed")
    unknown = [a for a in names if a not in ALGO_SETTINGS]
    if unknown:
        raise ConfigError(f"unknown algos {unknown}; valid: {', '.join(ALGO_SETTINGS)}")
    if not names:
        raise ConfigError("--algos is empty; valid: " + ", ".join(ALGO_SETTINGS))
    return out, names, numbers


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return 0
    try:
        out, names, numbers = options(argv)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    total_steps, episodes, seed = numbers["total_steps"], numbers["episodes"], numbers["seed"]
    skipped = [a for a in names if a not in algos.ALGOS]
    names = [a for a in names if a in algos.ALGOS]
    if skipped:
        print(f"not registered, skipped: {', '.join(skipped)}")
    exit_on_signal("the agents train in this process without checkpoints and nothing was written; run the same command again")
    out.mkdir(parents=True, exist_ok=True)

    params = MultiGoalParams()
    env = envs.make("multigoal")
    results, all_records = {}, {}
    for algo in names:
        rc = run_config(algo, total_steps, seed)
        agent, state, records, seconds = train(rc)
        positions, alive, goal, ret = rollouts(agent, state, env, params, episodes, jax.random.PRNGKey(10_000 + seed))
        shares = goal_shares(goal)
        deterministic = agent._replace(act=lambda s, o, z, k: (agent.act_eval(s, o), z))
        det_goal = rollouts(deterministic, state, env, params, episodes, jax.random.PRNGKey(20_000 + seed))[2]
        results[algo] = {"preset": rc.preset, "positions": positions, "alive": alive, "goal": goal,
                         "shares": shares, "goals_reached": int(sum(shares[g] > 0 for g in GOAL_NAMES)),
                         "deterministic_shares": goal_shares(det_goal),
                         "mean_return": float(np.mean(ret)), "final_eval_return": records[-1]["eval_return"],
                         "train_seconds": seconds}
        all_records[algo] = records
        print(f"{algo:5s} {seconds:6.0f} s  goals {results[algo]['goals_reached']}/4  {share_text(shares)}"
              f"  stochastic return {np.mean(ret):8.1f}  final eval {records[-1]['eval_return']:8.1f}", flush=True)
        with open(out / f"{algo}_metrics.jsonl", "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in records)
        if algo == "sql":
            save_q_panels(out / "sql_q.png", rc, agent, state)

    from softrl_jax.io.plots import plot_curves

    paths = save_pngs(out, params, results)
    plot_curves(all_records, out / "curves.png", f"multigoal, deterministic evaluation ({total_steps} steps)")
    write_summary(out, results, total_steps, episodes)
    print(f"wrote {', '.join(str(p) for p in paths)}, {out / 'curves.png'}, {out / 'summary.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
