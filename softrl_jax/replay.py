"""On-device uniform replay that stores each observation ONCE; pure `init`, `add`, `sample`.

A transition buffer that keeps `obs` and `next_obs` side by side stores every observation twice.
Here each of the `num_envs` environments writes one stream of rows, in time order, into its own
ring of `rows` slots:

    row i of env e:  obs [O]   action [A]   reward []   kind [] int8

and the transition starting at row i is `(obs[i], action[i], reward[i], terminated, obs[i + 1])`.
Within an episode the successor of row i's observation is row i + 1's. At an episode's end the
environment writes TWO rows: the true final observation (kind FINAL: no transition starts there)
and then the first observation of the next episode. So `next_obs` is the true final observation at
an episode's end, as before, while every observation is stored once.

kind: EMPTY (no transition starts here: unwritten, or the newest row whose action is not taken
yet), STEP (a transition, not terminated), TERMINATED (a transition whose MDP ended: no bootstrap),
FINAL (an episode's final observation). A truncated transition (time limit) is a STEP: it
bootstraps from its true final observation.

`sample` draws `batch_size` transitions uniformly, with replacement, from every row that starts a
transition, over all environments (exactly: uniform over written rows, rejecting the rows that
start none, which are at most about two thirds of them; see MAX_DRAWS).

`sample_windows(state, key, n)` draws its start rows exactly as `sample` does (the same key gives the
same rows) and returns the `n` steps from each (`Window`), for n-step returns. Step d of a window is
the transition at row start + d; the window is `cut` at step d where it ends there: the step
terminated, or row start + d + 1 starts no transition (FINAL: the episode ended, by termination or
truncation, and that row holds the true final observation; EMPTY: the head, whose action is not
taken yet), or d = n - 1. Following a stream from a transition row never passes its head (always
EMPTY), so a window never reads rows older than the ring's wrap. Steps after the first cut are
don't-care: a return recursion that stops at cuts (`ops.entropy_regularised_returns`) never reads
them.

Capacity: `capacity` rows in all (`ceil(capacity / num_envs)` per environment), so the buffer
holds `capacity` transitions minus one per episode end and environment in its window (99.9% of
them with 1000-step episodes). Bytes per row: `O * obs_bytes + 4 * A + 4 + 1` against
`8 * O + 4 * A + 8` for a buffer of (obs, action, reward, terminated, next_obs) in float32.
`obs_dtype=jnp.bfloat16` halves the observations again (rounded to 8 bits of mantissa; batches
come back in float32).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp

from softrl_jax.envs.core import Transition

EMPTY, STEP, TERMINATED, FINAL = 0, 1, 2, 3
# Rejection rounds at most. At least a third of the written rows start a transition (a one-step
# episode writes STEP, FINAL, then the next EMPTY head), so a draw still rejected after this many
# rounds has probability below (2/3)^100 ~ 2e-18; the loop is bounded so it can never hang.
MAX_DRAWS = 100


class ReplayState(NamedTuple):
    obs: chex.Array  # [E, R, O] obs_dtype
    action: chex.Array  # [E, R, A] float32
    reward: chex.Array  # [E, R] float32
    kind: chex.Array  # [E, R] int8: EMPTY | STEP | TERMINATED | FINAL
    head: chex.Array  # [E] int32: row of each environment's current observation (its next transition)
    written: chex.Array  # [E] int32: rows written so far, capped at R


class Window(NamedTuple):
    """`n` consecutive steps of one stream from a sampled start row (leading [batch_size] in a batch).
    Step d's transition is (obs[d], action[d], reward[d], terminated[d], obs[d + 1])."""

    obs: chex.Array  # [n + 1, O] float32: obs[d + 1] is step d's true successor (final obs at an end)
    action: chex.Array  # [n, A]
    reward: chex.Array  # [n]
    terminated: chex.Array  # [n] float32 1: step d ended the MDP (no bootstrap)
    cut: chex.Array  # [n] float32 1: the window ends at step d (terminated, episode end or head, or d = n - 1)


class Replay(NamedTuple):
    init: Any  # (obs_size, action_size) -> empty ReplayState
    add: Any  # (state, transition [E], done [E], obs_after [E, O]) -> state
    sample: Any  # (state, key) -> Transition with leading [batch_size]
    capacity: int
    batch_size: int
    sample_windows: Any = None  # (state, key, n) -> Window with leading [batch_size] (n static)


def draw_starts(state: ReplayState, key: chex.PRNGKey, batch_size: int) -> tuple[chex.Array, chex.Array]:
    """(env [B], row [B]) of `batch_size` rows drawn uniformly with replacement over the rows that
    start a transition."""
    ends = jnp.cumsum(state.written)  # [E]: written rows of envs 0..e

    def draw(k):
        u = jax.random.randint(k, (batch_size,), 0, ends[-1])
        env = jnp.searchsorted(ends, u, side="right")
        row = u - (ends[env] - state.written[env])
        return env, row

    def starts_transition(env, row):
        kind = state.kind[env, row]
        return (kind == STEP) | (kind == TERMINATED)

    def redraw(c):
        env, row, key, i = c
        key, k = jax.random.split(key)
        new_env, new_row = draw(k)
        keep = starts_transition(env, row)
        return jnp.where(keep, env, new_env), jnp.where(keep, row, new_row), key, i + 1

    def pending(c):
        env, row, _, i = c
        return ~jnp.all(starts_transition(env, row)) & (i < MAX_DRAWS)

    key, k = jax.random.split(key)
    env, row = draw(k)
    env, row, _, _ = jax.lax.while_loop(pending, redraw, (env, row, key, jnp.zeros((), jnp.int32)))
    return env, row


def make_replay(capacity: int, batch_size: int, num_envs: int = 1, obs_dtype=jnp.float32) -> Replay:
    """Uniform replay over `capacity` rows shared by `num_envs` environment streams."""
    rows = max(3, math.ceil(capacity / num_envs))  # an episode end writes two rows past the head

    def init(obs_size: int, action_size: int) -> ReplayState:
        """An empty buffer; each environment's stream starts at row 0 with its first `add`."""
        return ReplayState(jnp.zeros((num_envs, rows, obs_size), obs_dtype),
                           jnp.zeros((num_envs, rows, action_size), jnp.float32),
                           jnp.zeros((num_envs, rows), jnp.float32), jnp.zeros((num_envs, rows), jnp.int8),
                           jnp.zeros((num_envs,), jnp.int32), jnp.ones((num_envs,), jnp.int32))

    def add(state: ReplayState, tr: Transition, done: chex.Array, obs_after: chex.Array) -> ReplayState:
        """Store one vector step. tr leaves [E, ...]; `done` [E]: the episode ended (terminated or
        truncated); `obs_after` [E, O]: the observation the environment acts on next (the reset
        observation where done). `tr.obs` goes to each head row (it is already there but for an
        environment's first step: rewriting one row is cheaper than a branch)."""
        return jax.vmap(add_one)(state, tr, done, obs_after)

    def add_one(s: ReplayState, tr: Transition, done, obs_after) -> ReplayState:
        h, h1, h2 = s.head, (s.head + 1) % rows, (s.head + 2) % rows
        kind_h = jnp.where(tr.terminated > 0.5, TERMINATED, STEP).astype(jnp.int8)
        obs = s.obs.at[h].set(tr.obs.astype(obs_dtype)).at[h1].set(tr.next_obs.astype(obs_dtype))
        # Where done, a third row holds the next episode's first observation; elsewhere row h + 2 is
        # old data and stays as it is.
        obs = obs.at[h2].set(jnp.where(done, obs_after.astype(obs_dtype), obs[h2]))
        kind = s.kind.at[h].set(kind_h).at[h1].set(jnp.where(done, FINAL, EMPTY).astype(jnp.int8))
        kind = kind.at[h2].set(jnp.where(done, EMPTY, kind[h2]).astype(jnp.int8))
        advance = jnp.where(done, 2, 1)
        return ReplayState(obs, s.action.at[h].set(tr.action), s.reward.at[h].set(tr.reward), kind,
                           (h + advance) % rows, jnp.minimum(s.written + advance, rows))

    def gather(state: ReplayState, env: chex.Array, row: chex.Array) -> Transition:
        nxt = (row + 1) % rows
        return Transition(
            obs=state.obs[env, row].astype(jnp.float32), action=state.action[env, row],
            reward=state.reward[env, row],
            terminated=(state.kind[env, row] == TERMINATED).astype(jnp.float32),
            next_obs=state.obs[env, nxt].astype(jnp.float32))

    def sample(state: ReplayState, key: chex.PRNGKey) -> Transition:
        """[batch_size] transitions, uniform with replacement over stored transitions."""
        return gather(state, *draw_starts(state, key, batch_size))

    def sample_windows(state: ReplayState, key: chex.PRNGKey, n: int) -> Window:
        """[batch_size] windows of `n` steps (module docstring), their start rows drawn as `sample`
        draws its rows."""
        env, row = draw_starts(state, key, batch_size)
        d = jnp.arange(n + 1)
        at = (row[:, None] + d) % rows  # [B, n + 1]
        e = env[:, None]
        kind = state.kind[e, at]  # [B, n + 1]
        terminated = kind[:, :n] == TERMINATED
        next_starts = (kind[:, 1:] == STEP) | (kind[:, 1:] == TERMINATED)
        cut = terminated | ~next_starts | (d[:n] == n - 1)
        return Window(obs=state.obs[e, at].astype(jnp.float32), action=state.action[e, at[:, :n]],
                      reward=state.reward[e, at[:, :n]], terminated=terminated.astype(jnp.float32),
                      cut=cut.astype(jnp.float32))

    return Replay(init, add, sample, rows * num_envs, batch_size, sample_windows)


def size(state: ReplayState) -> chex.Array:
    """Number of stored transitions (rows that start one)."""
    return jnp.sum((state.kind == STEP) | (state.kind == TERMINATED))


def nbytes(state) -> int:
    """Device memory held by the buffer's storage, in bytes."""
    return int(sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(state)))


def bytes_per_row(obs_size: int, action_size: int, obs_dtype=jnp.float32) -> int:
    """Bytes of one stored row: obs, action, reward and kind."""
    return obs_size * jnp.dtype(obs_dtype).itemsize + 4 * action_size + 4 + 1


def transition_buffer_bytes_per_row(obs_size: int, action_size: int) -> int:
    """Bytes per transition of a buffer of (obs, action, reward, terminated, next_obs) in float32: the
    layout this module replaces (a flashbax item buffer of `Transition`s)."""
    return 4 * (2 * obs_size + action_size + 2)
