"""One environment interface for Brax, gymnax and our own JAX tasks, with auto-reset.

A backend supplies a single-environment `Env` (pure `reset` and `step`, actions in [-1, 1]^A).
`reset`/`step` below add the bookkeeping every off-policy learner needs:

- auto-reset on `terminated | truncated`, while the stored transition keeps the TRUE final
  observation in `next_obs` (not the first observation of the next episode). Two ways to reset:
  `exact` computes a fresh `env.reset` at every step of every environment and selects it where an
  episode ended (for MJX a second physics pipeline call per step); `pool` draws a start state from a
  `ResetPool` of reset states made once per chunk (`make_reset_pool`), uniformly at random, so starts
  stay diverse (unlike Brax's AutoResetWrapper, which reuses each environment's first start);
- `terminated` (the MDP ended: no bootstrap) kept apart from `truncated` (the time limit hit:
  bootstrap), so `discount_t = gamma * (1 - terminated)`;
- episode return and length, for logging.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import chex
import jax
import jax.numpy as jnp


class EnvSpec(NamedTuple):
    name: str
    obs_size: int  # observations are flat vectors [obs_size] (images are flattened, see obs_shape)
    action_size: int  # continuous: A; discrete: 1 (the action index, stored as a float)
    max_episode_steps: int
    num_actions: int = 0  # discrete tasks: the number of actions; 0: continuous actions in [-1, 1]^A
    obs_shape: tuple = ()  # the observation's own shape where it is not flat (MinAtar: (10, 10, C))


class Env(NamedTuple):
    """A single environment. Continuous actions are normalised to [-1, 1]^A; the backend rescales and
    clips. Discrete actions (spec.num_actions > 0) are one index per step, passed as a float array [1]
    (so transitions and replay keep one layout); the backend rounds and clips it to an int in
    [0, num_actions).

    reset(key) -> (core_state, obs [O])
    step(core_state, action [A], key) -> (core_state, next_obs [O], reward [], terminated [] bool)
    """

    spec: EnvSpec
    reset: Callable[[chex.PRNGKey], tuple[Any, chex.Array]]
    step: Callable[[Any, chex.Array, chex.PRNGKey], tuple[Any, chex.Array, chex.Array, chex.Array]]


class EnvState(NamedTuple):
    core: Any
    obs: chex.Array  # [O] observation the agent acts on
    t: chex.Array  # [] int32 steps taken in the current episode
    episode_return: chex.Array  # [] float32 return so far in the current episode


class Transition(NamedTuple):
    """One stored transition. `next_obs` is the true successor, also at an episode's end."""

    obs: chex.Array  # [O]
    action: chex.Array  # [A]
    reward: chex.Array  # []
    terminated: chex.Array  # [] float32, 1.0 only when the MDP ended (no bootstrap)
    next_obs: chex.Array  # [O]


class StepInfo(NamedTuple):
    done: chex.Array  # [] bool, terminated or truncated
    truncated: chex.Array  # [] bool, time limit only
    episode_return: chex.Array  # [] return of the episode that ended here (valid where done)
    episode_length: chex.Array  # [] its length (valid where done)


AUTORESETS = ("pool", "exact")


class ResetPool(NamedTuple):
    """Reset states to restart episodes from (see module doc): leaves [P, ...]."""

    core: Any
    obs: chex.Array  # [P, O]


def reset(env: Env, key: chex.PRNGKey) -> EnvState:
    core, obs = env.reset(key)
    return EnvState(core, obs, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.float32))


def make_reset_pool(env: Env, key: chex.PRNGKey, size: int) -> ResetPool:
    """`size` independent reset states."""
    core, obs = jax.vmap(env.reset)(jax.random.split(key, size))
    return ResetPool(core, obs)


def step(env: Env, state: EnvState, action: chex.Array, key: chex.PRNGKey,
         pool: ResetPool | None = None, *, autoreset: bool = True) -> tuple[EnvState, Transition, StepInfo]:
    """Step one environment; on `done`, reset it and keep the true final observation.

    pool None: the exact reset (a fresh `env.reset` every step, selected where done); a ResetPool: the
    start state of a new episode is `pool[i]` with i uniform. `autoreset=False` never resets (for
    evaluation, which stops counting at the first `done`)."""
    step_key, reset_key = jax.random.split(key)
    core, next_obs, reward, terminated = env.step(state.core, action, step_key)
    reward = jnp.asarray(reward, jnp.float32)
    terminated = jnp.asarray(terminated, bool)
    t = state.t + 1
    truncated = (t >= env.spec.max_episode_steps) & ~terminated
    done = terminated | truncated
    episode_return = state.episode_return + reward
    transition = Transition(state.obs, action, reward, terminated.astype(jnp.float32), next_obs)
    info = StepInfo(done, truncated, episode_return, t)
    if not autoreset:
        return EnvState(core, next_obs, t, episode_return), transition, info

    if pool is None:
        reset_core, reset_obs = env.reset(reset_key)
    else:
        i = jax.random.randint(reset_key, (), 0, pool.obs.shape[0])
        reset_core, reset_obs = jax.tree.map(lambda x: x[i], (pool.core, pool.obs))
    pick = lambda fresh, old: jnp.where(done, fresh, old)  # noqa: E731
    new_state = EnvState(
        core=jax.tree.map(pick, reset_core, core),
        obs=pick(reset_obs, next_obs),
        t=jnp.where(done, 0, t),
        episode_return=jnp.where(done, 0.0, episode_return),
    )
    return new_state, transition, info
