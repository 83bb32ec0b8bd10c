"""The fused off-policy training loop of every off-policy algorithm (replay, warm-up, updates per step).
What it shares with the on-policy loop (softrl_jax/onpolicy.py) is in softrl_jax/training.py.

`make_train(algorithm, env, config)` returns a `Trainer` whose pieces are pure functions of JAX
arrays, so the whole run is one program that `jax.jit(jax.vmap(...))` batches over seeds (and, for
sweeps, over hyperparameter points that keep shapes):

    init(key)     the agent's parameters, an empty replay buffer and the PRNG streams; no
                  environment code (chunk 0 starts the environments)
    chunk(carry)  `eval_every` transitions of act -> step -> store -> `updates_per_step` updates,
                  then the deterministic policy is evaluated on separate environments. The first
                  `warmup_steps` transitions take uniform random actions (`warmup=uniform`; discrete
                  tasks: uniform random action indices) or the
                  agent's own actions (`warmup=policy`); updates begin in the step that stores
                  transition `config.learning_start(loop)` (both real `lax.cond`s); a chunk that
                  makes no update is not evaluated (`Trainer.logged`).
                  An update whose losses or new agent state are not all finite is dropped and the
                  seed stays frozen from then on (`Carry.diverged_at`, metric `diverged_at`).
                  With `obs_norm`, running observation statistics (`Carry.obs_stats`) take in each
                  step's observations and normalise what acting, updates and evaluation see.
    train(key)    init, then `lax.scan` over all chunks: the whole run fused

Chunk i ends at `(i + 1) * eval_every` transitions per seed, counted from the start, warm-up
included. Each chunk makes ONE batched `env.reset`: the reset pool of `autoreset=pool` (or, with
`autoreset=exact`, a start per environment), the evaluation episodes' starts, and in chunk 0 the
environments' first states. So the compiled chunk holds one reset and two steps (training and
evaluation) of the environment, which keeps MJX compile times down.

`Trainer.vmap()` batches over seeds with the chunk and step counters left unbatched (`CARRY_AXES`),
so the warm-up and evaluation conditions stay real branches under `vmap`; a plain `jax.vmap` gives
the same results, computing both branches.

The host takes control only between chunks (to log, draw progress, write files): see
`softrl_jax.runner`. PRNG: the training stream and the evaluation stream are split once at the
start, so changing the evaluation schedule never changes training.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import chex
import jax
import jax.numpy as jnp

from softrl_jax import envs, normalize, replay
from softrl_jax.agent import Agent
from softrl_jax.config import LoopConfig, RunConfig, learning_start, random_steps
from softrl_jax.training import (Trainer, agent_factory, chunk_keys, chunk_resets, env_placeholder, eval_keys,
                                 evaluate_policy, first_env_state, first_keys, isolate_divergence, normalise,
                                 reset_starts)


class Carry(NamedTuple):
    """Everything that flows from one chunk to the next. Shapes and dtypes never change."""

    agent: Any
    env: envs.EnvState  # leaves [num_envs, ...]
    noise: chex.Array  # [num_envs, A] exploration state (see Agent.act)
    buffer: Any
    obs_stats: normalize.RunningStats  # running observation statistics (applied with loop.obs_norm only)
    key: chex.PRNGKey  # training stream
    eval_key: chex.PRNGKey  # evaluation stream, folded with the chunk index
    diverged_at: chex.Array  # [] int32 step at which this seed's update first went non-finite; -1: never
    chunk: chex.Array  # [] int32 chunks done (the same for every seed: unbatched, see CARRY_AXES)
    steps: chex.Array  # [] int32 transitions collected per seed (likewise)


# vmap axes of a Carry over seeds: the counters are shared, everything else is per seed.
CARRY_AXES = Carry(0, 0, 0, 0, 0, 0, 0, 0, None, None)


def make_train(algorithm, env: envs.Env, config: RunConfig) -> Trainer:
    """Build the fused off-policy loop for `algorithm` (a module of softrl_jax.algos) on `env`.
    On-policy algorithms have their own loop: `softrl_jax.programs.make_train` picks the one that fits."""
    loop = config.loop
    spec = env.spec
    n = loop.num_envs
    buf = replay.make_replay(loop.buffer_size, config.algo_cfg.batch_size, n, jnp.dtype(loop.replay_obs_dtype))
    n_chunks = math.ceil(loop.total_steps / loop.eval_every)
    first_update = learning_start(loop)  # the step storing this transition makes the first update
    pool = loop.autoreset == "pool"
    starts = reset_starts(loop)
    # n-step algorithms (an Agent's window > 1) learn from windows of n steps (replay.Window); the rest
    # from single transitions. A shape: fixed by the run's config, not by sweep points.
    window = algorithm.make(config.algo_cfg, spec).window
    agent_for, env_placeholder_state = agent_factory(algorithm, config, spec), env_placeholder(env, n)

    def init(key, hparams=None):
        agent = agent_for(hparams)
        train_key, eval_key, agent_key = first_keys(key)
        noise = jnp.zeros((n, spec.action_size), jnp.float32)
        return Carry(agent.init(agent_key), env_placeholder_state(), noise, buf.init(spec.obs_size, spec.action_size),
                     normalize.init(spec.obs_size), train_key, eval_key, jnp.asarray(-1, jnp.int32),
                     jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))

    def resets(carry: Carry) -> tuple[envs.ResetPool, envs.ResetPool]:
        return chunk_resets(env, loop, starts, carry)

    def run_evaluation(agent: Agent, agent_state, stats, start: envs.ResetPool, key) -> chex.Array:
        return evaluate_policy(env, loop, agent.act_eval, agent_state, stats, start, key)

    collect_and_update = make_collect_and_update(env, loop, buf, window)

    def chunk(carry: Carry, hparams=None, starts=None, evaluate=True):
        agent = agent_for(hparams)
        key, _, _, eval_run_key = chunk_keys(carry)
        train_starts, eval_starts = resets(carry) if starts is None else starts
        env_state = first_env_state(carry, train_starts, n)
        carry = carry._replace(env=env_state, key=key)
        carry, per_step = jax.lax.scan(collect_and_update(agent, train_starts if pool else None), carry, None,
                                       length=loop.eval_every // n)
        metrics = chunk_metrics(per_step)
        if evaluate:
            metrics["eval_return"] = jax.lax.cond(
                carry.steps >= first_update,
                lambda: run_evaluation(agent, carry.agent, carry.obs_stats, eval_starts, eval_run_key),
                lambda: jnp.asarray(jnp.nan, jnp.float32))
        else:
            metrics["eval_return"] = jnp.asarray(jnp.nan, jnp.float32)
        metrics["step"] = carry.steps
        metrics["diverged_at"] = carry.diverged_at
        return carry._replace(chunk=carry.chunk + 1), metrics

    def evaluation(carry: Carry, hparams, starts):
        """eval_return of the chunk that ended with `carry`, whose starts were `starts`, exactly as
        `chunk(..., evaluate=True)` computes it."""
        _, eval_run_key = eval_keys(carry.eval_key, carry.chunk - 1)
        return run_evaluation(agent_for(hparams), carry.agent, carry.obs_stats, starts[1], eval_run_key)

    def train(key, hparams=None):
        carry = init(key, hparams)
        return jax.lax.scan(lambda c, _: chunk(c, hparams), carry, None, length=n_chunks)

    return Trainer(init, chunk, train, resets, evaluation, n_chunks, buf, loop, CARRY_AXES)


def chunk_metrics(per_step: dict) -> dict:
    """A chunk's training metrics from its per-step outputs [steps]: each loss or statistic averaged over
    the steps that trained (NaN when none did), and the mean return of the episodes that ended then."""
    trained = per_step.pop("trained")
    steps_trained = jnp.sum(trained)
    episodes = jnp.sum(per_step.pop("episodes"))
    return_sum = jnp.sum(per_step.pop("episode_return_sum"))
    metrics = {k: jnp.where(steps_trained > 0, jnp.sum(v * trained) / jnp.maximum(steps_trained, 1), jnp.nan)
               for k, v in per_step.items()}
    metrics["train_return"] = jnp.where(episodes > 0, return_sum / jnp.maximum(episodes, 1), jnp.nan)
    return metrics


def make_collect_and_update(env: envs.Env, loop: LoopConfig, buf: replay.Replay, window: int) -> Callable:
    """`collect_and_update(agent, reset_pool) -> body`: one vector step of the off-policy loop as a scan
    body over the Carry: act (uniformly at random during the first `n_random` transitions), step the
    environments, store the transitions, then `loop.updates_per_step` updates once the transition
    numbered `first_update` is stored (divergence isolated per seed). `window` > 1: updates learn from
    windows of that many steps (replay.Window)."""
    spec, n = env.spec, loop.num_envs
    n_random = random_steps(loop)  # transitions acting uniformly at random
    first_update = learning_start(loop)  # the step storing this transition makes the first update

    def norm(stats: normalize.RunningStats, obs: chex.Array) -> chex.Array:
        return normalise(loop, stats, obs)

    def collect_and_update(agent: Agent, reset_pool):
        def updates(agent_state, buffer, stats, key):
            def one_update(s, k):
                sample_key, grad_key = jax.random.split(k)
                if window > 1:
                    batch = buf.sample_windows(buffer, sample_key, window)
                    batch = batch._replace(obs=norm(stats, batch.obs))  # [B, n + 1, O]: every step's
                else:
                    batch = buf.sample(buffer, sample_key)
                    # both sides of the transition, with the same statistics
                    batch = batch._replace(obs=norm(stats, batch.obs), next_obs=norm(stats, batch.next_obs))
                return agent.update(s, batch, grad_key)

            state, metrics = jax.lax.scan(one_update, agent_state, jax.random.split(key, loop.updates_per_step))
            return state, {k: jnp.mean(v) for k, v in metrics.items()}

        def random_actions(key):
            """[n, A] warm-up actions: uniform in [-1, 1]^A, or (discrete) a uniform index in
            [0, num_actions) as a float [n, 1]."""
            if spec.num_actions:
                return jax.random.randint(key, (n, spec.action_size), 0, spec.num_actions).astype(jnp.float32)
            return jax.random.uniform(key, (n, spec.action_size), minval=-1.0, maxval=1.0)

        def body(c: Carry, _):
            key, act_key, step_key, update_key = jax.random.split(c.key, 4)
            # unbatched counters: real branches. `random`: uniform random actions; `warm`: no update yet
            random = c.steps < n_random
            warm = c.steps + n < first_update
            # the statistics take in the observations this step acts on (training environments only)
            stats = normalize.update(c.obs_stats, c.env.obs) if loop.obs_norm else c.obs_stats
            actions, noise = jax.lax.cond(
                random,
                lambda: (random_actions(act_key), c.noise),
                lambda: jax.vmap(agent.act, in_axes=(None, 0, 0, 0))(c.agent, norm(stats, c.env.obs), c.noise,
                                                                    jax.random.split(act_key, n)))
            env_state, transition, info = jax.vmap(lambda s, a, k: envs.step(env, s, a, k, reset_pool))(
                c.env, actions, jax.random.split(step_key, n))
            noise = jnp.where(info.done[:, None], 0.0, noise)
            buffer = buf.add(c.buffer, transition, info.done, env_state.obs)
            agent_state, out = jax.lax.cond(warm, *skip_or_update(updates, c.agent, buffer, stats, update_key))
            # Divergence isolation: an update whose losses or new state are not all finite is dropped,
            # and the seed stays frozen at its last finite agent state from then on (a select per seed
            # under vmap: the other seeds' numbers are untouched).
            agent_state, diverged_at = isolate_divergence(c.agent, agent_state, out, c.diverged_at, c.steps + n)
            trained = ~warm
            out["trained"] = trained.astype(jnp.float32)
            out["episodes"] = jnp.where(trained, jnp.sum(info.done), 0)
            out["episode_return_sum"] = jnp.where(trained, jnp.sum(jnp.where(info.done, info.episode_return, 0.0)), 0.0)
            carry = c._replace(agent=agent_state, env=env_state, noise=noise, buffer=buffer, obs_stats=stats, key=key,
                               diverged_at=diverged_at, steps=c.steps + n)
            return carry, out

        return body

    return collect_and_update


def skip_or_update(updates: Callable, *args) -> tuple:
    """(skip, update, *args) for `lax.cond(warm, ...)`: `updates(*args) -> (state, metrics)` traced
    ONCE, its jaxpr serving as the update branch and its output shapes for the skip branch's zero
    metrics (an `eval_shape` would trace the whole update a second time)."""
    from jax.extend.core import jaxpr_as_fun

    closed, out_shape = jax.make_jaxpr(updates, return_shape=True)(*args)
    out_tree = jax.tree.structure(out_shape)

    def update(*a):
        return jax.tree.unflatten(out_tree, jaxpr_as_fun(closed)(*jax.tree.leaves(a)))

    def skip(state, *_):
        return state, jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), out_shape[1])

    return (skip, update, *args)
