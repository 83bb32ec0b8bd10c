"""The one fused off-policy training loop shared by every algorithm.

`make_train(algorithm, env, config)` returns a `Trainer` whose pieces are pure functions of JAX
arrays, so the whole run is one program that `jax.jit(jax.vmap(...))` batches over seeds (and, for
sweeps, over hyperparameter points that keep shapes):

    init(key)     reset the environments, fill the buffer with `warmup_steps` random transitions
    chunk(carry)  `eval_every` transitions of act -> step -> store -> `updates_per_step` updates,
                  then evaluate the deterministic policy on separate environments. With
                  `autoreset=pool` a chunk first draws its pool of reset states (envs.ResetPool).
    train(key)    init, then `lax.scan` over all chunks: the whole run fused

The host takes control only between chunks (to log, draw progress, write files): see
`softrl_jax.train`. PRNG: the training stream and the evaluation stream are split once at the
start, so changing the evaluation schedule never changes training.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Mapping, NamedTuple

import chex
import jax
import jax.numpy as jnp

from softrl_jax import envs, replay
from softrl_jax.config import LoopConfig, RunConfig


class Agent(NamedTuple):
    """An algorithm bound to its config and sizes. All four are pure functions of arrays."""

    init: Callable[[chex.PRNGKey], Any]  # key -> agent state
    # (state, obs [O], noise [A], key) -> (action [A], noise [A]). `noise` is per-environment
    # exploration state carried in the scan (DDPG's Ornstein-Uhlenbeck process); it is reset to
    # zeros when an episode ends. Stochastic policies pass it through unchanged.
    act: Callable[[Any, chex.Array, chex.Array, chex.PRNGKey], tuple[chex.Array, chex.Array]]
    act_eval: Callable[[Any, chex.Array], chex.Array]  # (state, obs [O]) -> deterministic action [A]
    update: Callable[[Any, envs.Transition, chex.PRNGKey], tuple[Any, dict]]  # (state, batch [B], key)


class Carry(NamedTuple):
    """Everything that flows from one chunk to the next. Shapes and dtypes never change."""

    agent: Any
    env: envs.EnvState  # leaves [num_envs, ...]
    noise: chex.Array  # [num_envs, A] exploration state (see Agent.act)
    buffer: Any
    key: chex.PRNGKey  # training stream
    eval_key: chex.PRNGKey  # evaluation stream, folded with the chunk index
    chunk: chex.Array  # [] int32 chunks done
    steps: chex.Array  # [] int32 transitions collected per seed


def make_agent(algorithm, cfg, obs_size: int, action_size: int) -> Agent:
    """Bind an algorithm module's pure `init`, `act`, `act_eval`, `update` to its config and sizes."""
    return Agent(
        init=lambda key: algorithm.init(cfg, key, obs_size, action_size),
        act=lambda state, obs, noise, key: algorithm.act(cfg, state, obs, noise, key),
        act_eval=lambda state, obs: algorithm.act_eval(cfg, state, obs),
        update=lambda state, batch, key: algorithm.update(cfg, state, batch, key),
    )


Hparams = Mapping[str, chex.Array]  # traced overrides of algorithm config fields (sweep points)


class Trainer(NamedTuple):
    init: Callable[..., Carry]  # (key, hparams=None) -> Carry
    chunk: Callable[..., tuple[Carry, dict]]  # (carry, hparams=None) -> (carry, metrics)
    train: Callable[..., tuple[Carry, dict]]  # (key, hparams=None) -> (carry, metrics [n_chunks])
    n_chunks: int
    replay: replay.Replay
    loop: LoopConfig

    def __call__(self, key, hparams=None):
        return self.train(key, hparams)

    def steps_at(self, chunk_index: int) -> int:
        """Transitions collected per seed at the end of chunk `chunk_index` (0-based)."""
        return self.loop.warmup_steps + (chunk_index + 1) * self.loop.eval_every


def make_train(algorithm, env: envs.Env, config: RunConfig) -> Trainer:
    """Build the fused loop for `algorithm` (a module of softrl_jax.algos) on `env`."""
    loop = config.loop
    spec = env.spec
    n = loop.num_envs
    batch_size = config.algo_cfg.batch_size
    buf = replay.make_replay(loop.buffer_size, batch_size, n, jnp.dtype(loop.replay_obs_dtype))
    pool_size = loop.reset_pool or max(64, n)
    n_chunks = math.ceil((loop.total_steps - loop.warmup_steps) / loop.eval_every)

    def agent_for(hparams: Hparams | None) -> Agent:
        cfg = config.algo_cfg if not hparams else dataclasses.replace(config.algo_cfg, **hparams)
        return make_agent(algorithm, cfg, spec.obs_size, spec.action_size)

    def new_pool(key) -> envs.ResetPool | None:
        """The reset states of one chunk (autoreset=pool), or None (autoreset=exact)."""
        return envs.make_reset_pool(env, key, pool_size) if loop.autoreset == "pool" else None

    def env_step(env_state, actions, key, pool):
        return jax.vmap(lambda s, a, k: envs.step(env, s, a, k, pool))(env_state, actions, jax.random.split(key, n))

    def init(key, hparams=None):
        agent = agent_for(hparams)
        train_key, eval_key = jax.random.split(key)
        train_key, agent_key, reset_key, warm_key, pool_key = jax.random.split(train_key, 5)
        env_state = jax.vmap(lambda k: envs.reset(env, k))(jax.random.split(reset_key, n))
        buffer = buf.init(env_state.obs, spec.action_size)
        pool = new_pool(pool_key)

        def warm(c, k):
            env_state, buffer = c
            act_key, step_key = jax.random.split(k)
            actions = jax.random.uniform(act_key, (n, spec.action_size), minval=-1.0, maxval=1.0)
            new_state, transition, info = env_step(env_state, actions, step_key, pool)
            return (new_state, buf.add(buffer, transition, info.done, new_state.obs)), None

        (env_state, buffer), _ = jax.lax.scan(
            warm, (env_state, buffer), jax.random.split(warm_key, loop.warmup_steps // n))
        noise = jnp.zeros((n, spec.action_size), jnp.float32)
        return Carry(agent.init(agent_key), env_state, noise, buffer, train_key, eval_key,
                     jnp.zeros((), jnp.int32), jnp.asarray(loop.warmup_steps, jnp.int32))

    def collect_and_update(agent: Agent, pool):
        def body(c: Carry, _):
            key, act_key, step_key, update_key = jax.random.split(c.key, 4)
            actions, noise = jax.vmap(agent.act, in_axes=(None, 0, 0, 0))(
                c.agent, c.env.obs, c.noise, jax.random.split(act_key, n))
            env_state, transition, info = env_step(c.env, actions, step_key, pool)
            noise = jnp.where(info.done[:, None], 0.0, noise)
            buffer = buf.add(c.buffer, transition, info.done, env_state.obs)

            def one_update(agent_state, k):
                sample_key, grad_key = jax.random.split(k)
                return agent.update(agent_state, buf.sample(buffer, sample_key), grad_key)

            agent_state, metrics = jax.lax.scan(
                one_update, c.agent, jax.random.split(update_key, loop.updates_per_step))
            out = {k: jnp.mean(v) for k, v in metrics.items()}
            out["episodes"] = jnp.sum(info.done)
            out["episode_return_sum"] = jnp.sum(jnp.where(info.done, info.episode_return, 0.0))
            carry = c._replace(agent=agent_state, env=env_state, noise=noise, buffer=buffer, key=key,
                               steps=c.steps + n)
            return carry, out

        return body

    def evaluate(agent: Agent, agent_state, key) -> chex.Array:
        """Mean undiscounted return of `eval_episodes` deterministic episodes."""
        reset_key, run_key = jax.random.split(key)
        e = loop.eval_episodes
        state = jax.vmap(lambda k: envs.reset(env, k))(jax.random.split(reset_key, e))

        def body(c, k):
            state, ret, alive = c
            actions = jax.vmap(agent.act_eval, in_axes=(None, 0))(agent_state, state.obs)
            state, transition, info = jax.vmap(lambda s, a, kk: envs.step(env, s, a, kk, autoreset=False))(
                state, actions, jax.random.split(k, e))
            return (state, ret + jnp.where(alive, transition.reward, 0.0), alive & ~info.done), None

        init_c = (state, jnp.zeros(e), jnp.ones(e, bool))
        (_, ret, _), _ = jax.lax.scan(body, init_c, jax.random.split(run_key, spec.max_episode_steps))
        return jnp.mean(ret)

    def chunk(carry: Carry, hparams=None):
        agent = agent_for(hparams)
        pool = None
        if loop.autoreset == "pool":
            key, pool_key = jax.random.split(carry.key)
            carry, pool = carry._replace(key=key), new_pool(pool_key)
        carry, per_step = jax.lax.scan(collect_and_update(agent, pool), carry, None, length=loop.eval_every // n)
        episodes = jnp.sum(per_step.pop("episodes"))
        return_sum = jnp.sum(per_step.pop("episode_return_sum"))
        metrics = {k: jnp.mean(v) for k, v in per_step.items()}
        metrics["train_return"] = jnp.where(episodes > 0, return_sum / jnp.maximum(episodes, 1), jnp.nan)
        metrics["eval_return"] = evaluate(agent, carry.agent, jax.random.fold_in(carry.eval_key, carry.chunk))
        metrics["step"] = carry.steps
        return carry._replace(chunk=carry.chunk + 1), metrics

    def train(key, hparams=None):
        carry = init(key, hparams)
        return jax.lax.scan(lambda c, _: chunk(c, hparams), carry, None, length=n_chunks)

    return Trainer(init, chunk, train, n_chunks, buf, loop)


def seed_keys(seed: int, seeds: int) -> chex.Array:
    """[seeds, 2]: seed i of a run is PRNGKey(seed + i), so a seed's result never depends on how
    many seeds run beside it."""
    return jnp.stack([jax.random.PRNGKey(seed + i) for i in range(seeds)])
