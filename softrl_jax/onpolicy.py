"""The fused on-policy n-step loop (A2C-style: synchronous parallel rollouts, one update per rollout).

`make_train(algorithm, env, config)` serves the algorithms registered with `loop="on_policy"`
(`softrl_jax.programs.make_train` dispatches here) and returns a `training.Trainer` like the off-policy
loop, with its own `Carry` (no replay, no exploration noise), so the runner, checkpoints and resume, W&B,
progress bars and reports work unchanged:

    iteration     `n_steps` vector steps of `num_envs` environments, actions sampled from the current
                  policy (envs.step with auto-reset, the chunk's reset pool as off-policy), storing per
                  step obs, action, reward, terminated, cut (= done: terminated or truncated) and the
                  TRUE next observation (`Rollout`, leaves [n_steps, num_envs, ...]); then ONE update
                  `algorithm.update(cfg, spec, state, rollout, key)` on the whole rollout.
    chunk(carry)  `eval_every` transitions = eval_every / (num_envs * n_steps) iterations (checked by
                  `check_loop`), then the deterministic evaluation (`training.evaluate_policy`) with
                  the module's `act_eval`. Divergence isolation as off-policy: a non-finite update is
                  dropped and the seed frozen (`Carry.diverged_at`).

Learning starts with the first rollout: no warm-up (`--warmup_steps` must be 0, `--learning_starts` -1),
and the replay fields (`buffer_size`, `replay_obs_dtype`) and `updates_per_step` are unused. `--obs_norm`
works as off-policy: the
statistics take in each step's observations; the update normalises the stored raw observations with the
statistics at the end of the rollout.

The module's pure functions take the environment's spec (the network's action count and image shape):

    init(cfg, spec, key) -> state
    act(cfg, spec, state, obs [O], key) -> action [A]           (sampled)
    act_eval(cfg, spec, state, obs [O]) -> action [A]           (deterministic)
    update(cfg, spec, state, rollout: Rollout, key) -> (state, metrics)
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import chex
import jax
import jax.numpy as jnp

from softrl_jax import envs, normalize
from softrl_jax.agent import Agent
from softrl_jax.config import ConfigError, LoopConfig, RunConfig, check_devices, check_whole_chunks, validate
from softrl_jax.training import (Trainer, agent_factory, chunk_keys, chunk_resets, env_placeholder, eval_keys,
                                 evaluate_policy, first_env_state, first_keys, isolate_divergence, normalise,
                                 reset_starts)


class Carry(NamedTuple):
    """Everything that flows from one chunk to the next of the on-policy loop."""

    agent: Any
    env: envs.EnvState  # leaves [num_envs, ...]
    obs_stats: normalize.RunningStats  # running observation statistics (applied with loop.obs_norm only)
    key: chex.PRNGKey  # training stream
    eval_key: chex.PRNGKey  # evaluation stream, folded with the chunk index
    diverged_at: chex.Array  # [] int32 step at which this seed's update first went non-finite; -1: never
    chunk: chex.Array  # [] int32 chunks done (the same for every seed: unbatched)
    steps: chex.Array  # [] int32 transitions collected per seed (likewise)


CARRY_AXES = Carry(0, 0, 0, 0, 0, 0, None, None)  # vmap axes over seeds: the counters are shared


class Rollout(NamedTuple):
    """One rollout: leaves [n_steps, num_envs, ...] (one env step per row)."""

    obs: chex.Array  # [T, N, O] the observation acted on
    action: chex.Array  # [T, N, A] (discrete: the index as a float, A = 1)
    reward: chex.Array  # [T, N]
    terminated: chex.Array  # [T, N] float32, 1 where the MDP ended (no bootstrap)
    cut: chex.Array  # [T, N] float32, 1 where the episode ended (terminated or truncated)
    next_obs: chex.Array  # [T, N, O] the TRUE next observation (the final one where the episode ended)


def check_loop(loop: LoopConfig, n_steps: int) -> None:
    """Cross-field checks of the loop config for an on-policy algorithm (one-line ConfigErrors)."""
    validate(loop)
    check_devices(loop.devices)
    if loop.warmup_steps:
        raise ConfigError(f"--warmup_steps={loop.warmup_steps} is out of range; on-policy algorithms learn from "
                          "the first rollout: must be 0")
    if loop.learning_starts != -1:
        raise ConfigError(f"--learning_starts={loop.learning_starts} is out of range; on-policy algorithms learn "
                          "from the first rollout: must be -1")
    check_rollouts(loop, n_steps)
    check_whole_chunks(loop)


def check_rollouts(loop: LoopConfig, n_steps: int) -> None:
    """A chunk (eval_every transitions) is whole rollouts of num_envs x n_steps transitions."""
    per = loop.num_envs * n_steps
    if loop.eval_every % per:
        lo = loop.eval_every // per * per
        choose = f"--eval_every={lo} or {lo + per}" if lo else f"--eval_every={per}"
        raise ConfigError(f"--eval_every={loop.eval_every} is not a multiple of --num_envs x --n_steps = "
                          f"{loop.num_envs} x {n_steps} = {per} (a chunk is whole rollouts); choose {choose}")


def make_iteration(env: envs.Env, loop: LoopConfig, t_steps: int) -> Callable:
    """`iteration(agent, reset_pool) -> body`: one on-policy iteration as a scan body over the carry: a
    rollout of `t_steps` vector steps of `loop.num_envs` environments, then one update on it (divergence
    isolated)."""
    spec, n = env.spec, loop.num_envs
    per_update = n * t_steps

    def norm(stats, obs):
        return normalise(loop, stats, obs)

    def iteration(agent: Agent, reset_pool):
        def env_step(c, _):
            agent_state, env_state, stats, key = c
            key, act_key, step_key = jax.random.split(key, 3)
            stats = normalize.update(stats, env_state.obs) if loop.obs_norm else stats
            actions, _ = jax.vmap(agent.act, in_axes=(None, 0, 0, 0))(
                agent_state, norm(stats, env_state.obs), jnp.zeros((n, spec.action_size)), jax.random.split(act_key, n))
            env_state, tr, info = jax.vmap(lambda s, a, k: envs.step(env, s, a, k, reset_pool))(
                env_state, actions, jax.random.split(step_key, n))
            step = Rollout(tr.obs, actions, tr.reward, tr.terminated, info.done.astype(jnp.float32), tr.next_obs)
            ended = (jnp.sum(info.done), jnp.sum(jnp.where(info.done, info.episode_return, 0.0)))
            return (agent_state, env_state, stats, key), (step, ended)

        def body(c: Carry, _):
            key, roll_key, update_key = jax.random.split(c.key, 3)
            (_, env_state, stats, _), (rollout, (episodes, return_sum)) = jax.lax.scan(
                env_step, (c.agent, c.env, c.obs_stats, roll_key), None, length=t_steps)
            rollout = rollout._replace(obs=norm(stats, rollout.obs), next_obs=norm(stats, rollout.next_obs))
            agent_state, out = agent.update(c.agent, rollout, update_key)
            agent_state, diverged_at = isolate_divergence(c.agent, agent_state, out, c.diverged_at,
                                                          c.steps + per_update)
            out = {**out, "episodes": jnp.sum(episodes), "episode_return_sum": jnp.sum(return_sum)}
            return c._replace(agent=agent_state, env=env_state, obs_stats=stats, key=key, diverged_at=diverged_at,
                              steps=c.steps + per_update), out

        return body

    return iteration


def make_train(algorithm, env: envs.Env, config: RunConfig) -> Trainer:
    """Build the fused on-policy loop for `algorithm` (registered with loop="on_policy") on `env`."""
    loop = config.loop
    spec = env.spec
    n, t_steps = loop.num_envs, config.algo_cfg.n_steps
    check_rollouts(loop, t_steps)
    per_update = n * t_steps
    n_chunks = math.ceil(loop.total_steps / loop.eval_every)
    pool = loop.autoreset == "pool"
    starts = reset_starts(loop)
    agent_for, env_placeholder_state = agent_factory(algorithm, config, spec), env_placeholder(env, n)

    def init(key, hparams=None):
        agent = agent_for(hparams)
        train_key, eval_key, agent_key = first_keys(key)
        return Carry(agent.init(agent_key), env_placeholder_state(), normalize.init(spec.obs_size), train_key, eval_key,
                     jnp.asarray(-1, jnp.int32), jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))

    def resets(carry):
        return chunk_resets(env, loop, starts, carry)

    def run_evaluation(agent, carry, starts, key):
        return evaluate_policy(env, loop, agent.act_eval, carry.agent, carry.obs_stats, starts, key)

    iteration = make_iteration(env, loop, t_steps)

    def chunk(carry, hparams=None, starts=None, evaluate=True):
        agent = agent_for(hparams)
        key, _, _, eval_run_key = chunk_keys(carry)
        train_starts, eval_starts = resets(carry) if starts is None else starts
        carry = carry._replace(env=first_env_state(carry, train_starts, n), key=key)
        carry, per_update_metrics = jax.lax.scan(iteration(agent, train_starts if pool else None), carry, None,
                                                 length=loop.eval_every // per_update)
        episodes = jnp.sum(per_update_metrics.pop("episodes"))
        return_sum = jnp.sum(per_update_metrics.pop("episode_return_sum"))
        metrics = {k: jnp.mean(v) for k, v in per_update_metrics.items()}
        metrics["train_return"] = jnp.where(episodes > 0, return_sum / jnp.maximum(episodes, 1), jnp.nan)
        metrics["eval_return"] = (run_evaluation(agent, carry, eval_starts, eval_run_key) if evaluate
                                  else jnp.asarray(jnp.nan, jnp.float32))
        metrics["step"] = carry.steps
        metrics["diverged_at"] = carry.diverged_at
        return carry._replace(chunk=carry.chunk + 1), metrics

    def evaluation(carry, hparams, starts):
        """eval_return of the chunk that ended with `carry`, exactly as `chunk(..., evaluate=True)`."""
        _, eval_run_key = eval_keys(carry.eval_key, carry.chunk - 1)
        return run_evaluation(agent_for(hparams), carry, starts[1], eval_run_key)

    def train(key, hparams=None):
        carry = init(key, hparams)
        return jax.lax.scan(lambda c, _: chunk(c, hparams), carry, None, length=n_chunks)

    return Trainer(init, chunk, train, resets, evaluation, n_chunks, None, loop, CARRY_AXES)
