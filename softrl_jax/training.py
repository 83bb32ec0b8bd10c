"""What both training loops share (the off-policy loop, softrl_jax/loop.py, and the on-policy rollout
loop, softrl_jax/onpolicy.py): the `Trainer` they return, each chunk's PRNG keys and its one batched
environment reset, the deterministic evaluation, observation normalisation, divergence isolation and
the seed keys.

Each loop has its own carry (a NamedTuple that flows from one chunk to the next) with at least the
fields `agent`, `env`, `obs_stats`, `key`, `eval_key`, `diverged_at`, `chunk` and `steps`, and its
vmap axes over seeds (`Trainer.carry_axes`): the chunk and step counters are shared (None), so the
warm-up and evaluation conditions stay real branches under `vmap`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, NamedTuple

import chex
import jax
import jax.numpy as jnp

from softrl_jax import envs, normalize
from softrl_jax.config import LoopConfig, learning_start

Hparams = Mapping[str, chex.Array]  # traced overrides of algorithm config fields (sweep points)


class Trainer(NamedTuple):
    init: Callable[..., Any]  # (key, hparams=None) -> carry
    # (carry, hparams=None, starts=None, evaluate=True) -> (carry, metrics); `starts`: resets(carry),
    # computed inside if None; evaluate=False leaves evaluation to `evaluation` (eval_return NaN)
    chunk: Callable[..., tuple[Any, dict]]
    train: Callable[..., tuple[Any, dict]]  # (key, hparams=None) -> (carry, metrics [n_chunks])
    resets: Callable[[Any], tuple[envs.ResetPool, envs.ResetPool]]  # the next chunk's reset states
    # (carry after a chunk, hparams, that chunk's starts) -> [] eval_return, as the chunk computes it
    evaluation: Callable[..., chex.Array]
    n_chunks: int
    replay: Any  # replay.Replay of the off-policy loop; None on-policy
    loop: LoopConfig
    carry_axes: Any  # the carry's vmap axes over seeds: 0 per seed, None for the shared counters

    def __call__(self, key, hparams=None):
        return self.train(key, hparams)

    def steps_at(self, chunk_index: int) -> int:
        """Transitions collected per seed at the end of chunk `chunk_index` (0-based)."""
        return (chunk_index + 1) * self.loop.eval_every

    def logged(self, chunk_index: int) -> bool:
        """Chunk `chunk_index` makes updates and is evaluated (learning has started by its end)."""
        return self.steps_at(chunk_index) >= learning_start(self.loop)

    def vmap(self) -> tuple[Callable, Callable]:
        """(init, chunk) over a leading seed axis of keys, hparams and carry; counters unbatched."""
        return (jax.vmap(self.init, in_axes=(0, 0), out_axes=self.carry_axes),
                jax.vmap(self.chunk, in_axes=(self.carry_axes, 0), out_axes=(self.carry_axes, 0)))

    def vmap_split(self) -> tuple[Callable, Callable, Callable, Callable]:
        """(init, resets, chunk(carry, hparams, starts) without evaluation, evaluation(carry, hparams,
        starts)) over a leading seed axis: the environment resets and the evaluation as programs of
        their own, so each environment function sits in its own program and the programs compile
        side by side (an MJX reset or step costs about 5 s of XLA compilation on a 2-core CPU). The
        same numbers as `vmap()`."""
        def train_chunk(carry, hparams, starts):
            return self.chunk(carry, hparams, starts, evaluate=False)

        return (jax.vmap(self.init, in_axes=(0, 0), out_axes=self.carry_axes),
                jax.vmap(self.resets, in_axes=(self.carry_axes,), out_axes=0),
                jax.vmap(train_chunk, in_axes=(self.carry_axes, 0, 0), out_axes=(self.carry_axes, 0)),
                jax.vmap(self.evaluation, in_axes=(self.carry_axes, 0, 0), out_axes=0))


def agent_factory(algorithm, config, spec: envs.EnvSpec) -> Callable:
    """`agent_for(hparams=None) -> Agent`: the algorithm bound to the run's config, with a sweep point's
    traced fields (`hparams`) in place of the config's."""
    def agent_for(hparams: Hparams | None = None):
        cfg = config.algo_cfg if not hparams else dataclasses.replace(config.algo_cfg, **hparams)
        return algorithm.make(cfg, spec)

    return agent_for


def env_placeholder(env: envs.Env, n: int) -> Callable:
    """`() -> env state`: zeros shaped like `n` environments' states, what a carry holds until chunk 0
    starts the environments (its shape read by `eval_shape`, no reset runs)."""
    shape = jax.eval_shape(lambda: jax.vmap(lambda k: envs.reset(env, k))(jax.random.split(jax.random.PRNGKey(0), n)))
    return lambda: jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), shape)


def first_keys(key) -> tuple:
    """(training key, evaluation key, agent init key) of a seed's key: the evaluation stream is split off
    first, so the evaluation schedule never changes training."""
    train_key, eval_key = jax.random.split(key)
    train_key, agent_key = jax.random.split(train_key)
    return train_key, eval_key, agent_key


def chunk_keys(carry):
    """(training key, reset key, evaluation reset key, evaluation run key) of the chunk `carry` starts."""
    key, reset_key = jax.random.split(carry.key)
    return (key, reset_key, *eval_keys(carry.eval_key, carry.chunk))


def eval_keys(eval_key, chunk_index):
    """(evaluation reset key, evaluation run key) of chunk `chunk_index`."""
    return tuple(jax.random.split(jax.random.fold_in(eval_key, chunk_index)))


def reset_starts(loop: LoopConfig) -> int:
    """Training reset states per chunk: the pool, or one start per environment (used in chunk 0 only)."""
    return max(loop.reset_pool or 64, loop.num_envs) if loop.autoreset == "pool" else loop.num_envs


def env_batch(loop: LoopConfig) -> int:
    """The most environments one environment call of a run handles: a chunk's one batched reset."""
    return reset_starts(loop) + loop.eval_episodes


def chunk_resets(env: envs.Env, loop: LoopConfig, starts: int, carry) -> tuple[envs.ResetPool, envs.ResetPool]:
    """ONE batched reset for the chunk that `carry` starts: (training starts [starts], evaluation
    starts [eval_episodes])."""
    _, train_key, eval_key, _ = chunk_keys(carry)
    keys = jnp.concatenate([jax.random.split(train_key, starts), jax.random.split(eval_key, loop.eval_episodes)])
    states = envs.ResetPool(*jax.vmap(env.reset)(keys))
    return jax.tree.map(lambda x: x[:starts], states), jax.tree.map(lambda x: x[starts:], states)


def first_env_state(carry, train_starts: envs.ResetPool, n: int) -> envs.EnvState:
    """The training environments a chunk steps: the first `n` starts in chunk 0, else the carried ones."""
    first = envs.EnvState(*jax.tree.map(lambda x: x[:n], train_starts), jnp.zeros((n,), jnp.int32),
                          jnp.zeros((n,), jnp.float32))
    return jax.tree.map(lambda fresh, old: jnp.where(carry.steps == 0, fresh, old), first, carry.env)


def evaluate_policy(env: envs.Env, loop: LoopConfig, act_eval: Callable, agent_state, stats: normalize.RunningStats,
                    start: envs.ResetPool, key) -> chex.Array:
    """Mean undiscounted return of `eval_episodes` deterministic episodes from `start`.

    Runs until every episode has ended (a `while_loop`, at most the time limit), so an early
    policy whose episodes end after a few steps is evaluated in a few steps. An environment whose
    episode has ended restarts from its start state and its rewards are no longer counted:
    stepping a fallen MJX body on under the policy can cost the physics 30x more per step.
    `act_eval(agent_state, obs [O]) -> action [A]`; `stats` normalise observations with `loop.obs_norm`."""
    e = loop.eval_episodes
    first = envs.EnvState(start.core, start.obs, jnp.zeros((e,), jnp.int32), jnp.zeros((e,), jnp.float32))

    def body(c):
        state, ret, alive, t = c
        actions = jax.vmap(act_eval, in_axes=(None, 0))(agent_state, normalise(loop, stats, state.obs))
        step_keys = jax.random.split(jax.random.fold_in(key, t), e)
        nxt, transition, info = jax.vmap(lambda s, a, kk: envs.step(env, s, a, kk, autoreset=False))(
            state, actions, step_keys)
        ret = ret + jnp.where(alive, transition.reward, 0.0)
        alive = alive & ~info.done
        state = jax.tree.map(lambda n, f: jnp.where(_expand(alive, n), n, f), nxt, first)
        return state, ret, alive, t + 1

    def running(c):
        return jnp.any(c[2]) & (c[3] < env.spec.max_episode_steps)

    _, ret, _, _ = jax.lax.while_loop(running, body, (first, jnp.zeros(e), jnp.ones(e, bool), jnp.zeros((), jnp.int32)))
    return jnp.mean(ret)


def normalise(loop: LoopConfig, stats: normalize.RunningStats, obs: chex.Array) -> chex.Array:
    """What the networks see of raw observations `obs` (identity without --obs_norm)."""
    return normalize.apply(stats, obs) if loop.obs_norm else obs


def isolate_divergence(old_state, new_state, metrics, diverged_at, step) -> tuple[Any, chex.Array]:
    """(agent state, diverged_at) after an update: the update is dropped if its losses or new state are not
    all finite, and the seed stays frozen at `old_state` once `diverged_at >= 0`; `step` is recorded."""
    finite = all_finite((new_state, metrics))
    frozen = (diverged_at >= 0) | ~finite
    state = jax.tree.map(lambda old, new: jnp.where(frozen, old, new), old_state, new_state)
    return state, jnp.where((diverged_at < 0) & ~finite, step, diverged_at)


def all_finite(tree) -> chex.Array:
    """[] bool: every floating-point leaf of `tree` is finite."""
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree) if jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)


def _expand(mask: chex.Array, x: chex.Array) -> chex.Array:
    """mask [E] broadcast against x [E, ...]."""
    return mask.reshape(mask.shape + (1,) * (x.ndim - 1))


def seed_keys(seed: int, seeds: int) -> chex.Array:
    """[seeds, 2]: seed i of a run is PRNGKey(seed + i), so a seed's result never depends on how
    many seeds run beside it."""
    return jnp.stack([jax.random.PRNGKey(seed + i) for i in range(seeds)])
