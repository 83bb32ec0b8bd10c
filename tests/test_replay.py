"""Replay that stores each observation once == a reference buffer of whole transitions.

The reference is today's layout: a flashbax item buffer of (obs, action, reward, terminated,
next_obs). Both are fed the same real stream (Brax inverted pendulum under pushes: it falls,
terminating, or hits a short time limit, truncating), and must hold the same transitions, sample
only those, uniformly, and keep the TRUE final observation at every episode end.
"""

import flashbax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from softrl_jax import envs, replay

N_ENVS, STEPS = 3, 120


@pytest.fixture(scope="module")
def stream():
    """STEPS vector steps of N_ENVS environments: (transitions [T, E], done [T, E], obs_after [T, E, O])."""
    env = envs.make("brax:inverted_pendulum:spring", episode_length=9)
    key = jax.random.PRNGKey(0)
    # jitted: run op by op, a Brax reset dispatches hundreds of small programs
    state = jax.jit(jax.vmap(lambda k: envs.reset(env, k)))(jax.random.split(key, N_ENVS))
    pool = jax.jit(lambda k: envs.make_reset_pool(env, k, 16))(jax.random.PRNGKey(1))

    def body(s, k):
        act_key, step_key = jax.random.split(k)
        # env 0 is pushed over (terminations), env 1 is nudged (time-limit truncations), env 2 a mix
        noise = jax.random.uniform(act_key, (N_ENVS, env.spec.action_size), minval=-0.2, maxval=0.2)
        actions = jnp.clip(jnp.array([[1.0], [0.0], [-0.6]]) + noise, -1, 1)
        new, tr, info = jax.vmap(lambda a, b, c: envs.step(env, a, b, c, pool))(
            s, actions, jax.random.split(step_key, N_ENVS))
        return new, (tr, info.done, info.truncated, new.obs)

    _, (tr, done, truncated, obs_after) = jax.jit(lambda s: jax.lax.scan(body, s, jax.random.split(key, STEPS)))(state)
    assert 5 < int(jnp.sum(tr.terminated)) and 5 < int(jnp.sum(truncated))  # both kinds of episode end
    return state.obs, tr, done, obs_after


def _fill(buf, first_obs, tr, done, obs_after):
    state = buf.init(first_obs.shape[-1], tr.action.shape[-1])
    add = jax.jit(buf.add)
    for t in range(STEPS):
        state = add(state, jax.tree.map(lambda x: x[t], tr), done[t], obs_after[t])
    return state


def _reference(tr):
    ref = flashbax.make_item_buffer(max_length=STEPS * N_ENVS, min_length=1, sample_batch_size=1,
                                    add_sequences=False, add_batches=True)
    state = ref.init(jax.tree.map(lambda x: x[0, 0], tr))
    for t in range(STEPS):
        state = ref.add(state, jax.tree.map(lambda x: x[t], tr))
    return state


def _rows(tr_flat) -> list[tuple]:
    """Transitions as hashable tuples of their exact float32 values."""
    leaves = [np.asarray(x, np.float32).reshape(x.shape[0], -1) for x in tr_flat]
    return [tuple(np.concatenate([leaf[i] for leaf in leaves]).tolist()) for i in range(leaves[0].shape[0])]


def _stored(buf, state) -> list[tuple]:
    """Every transition the buffer holds, read row by row."""
    kind = np.asarray(state.kind)
    env, row = np.nonzero((kind == replay.STEP) | (kind == replay.TERMINATED))
    obs = np.asarray(state.obs, np.float32)
    nxt = (row + 1) % kind.shape[1]
    return _rows((obs[env, row], np.asarray(state.action)[env, row], np.asarray(state.reward)[env, row],
                  (kind[env, row] == replay.TERMINATED).astype(np.float32), obs[env, nxt]))


def test_holds_exactly_the_reference_transitions(stream):
    first_obs, tr, done, obs_after = stream
    buf = replay.make_replay(STEPS * N_ENVS * 2, 8, N_ENVS)  # big enough not to wrap
    ours = _stored(buf, _fill(buf, first_obs, tr, done, obs_after))
    ref = _reference(tr).experience
    reference = _rows(jax.tree.map(lambda x: x[0, : STEPS * N_ENVS], ref))
    assert len(ours) == len(reference) == STEPS * N_ENVS
    assert sorted(ours) == sorted(reference)


def test_wrapped_buffer_holds_the_newest_transitions_of_each_env(stream):
    first_obs, tr, done, obs_after = stream
    rows = 40
    buf = replay.make_replay(rows * N_ENVS, 8, N_ENVS)
    state = _fill(buf, first_obs, tr, done, obs_after)
    ours = _stored(buf, state)
    kind = np.asarray(state.kind)
    for e in range(N_ENVS):
        env_tr = jax.tree.map(lambda x: x[:, e], tr)
        held = [r for r in _rows(env_tr) if r in set(ours)]
        all_e = _rows(env_tr)
        # a suffix: the newest transitions of this environment, none missing in between
        assert held == all_e[len(all_e) - len(held):]
        # every row but the head and the episodes' final observations holds one
        finals = int(np.sum(kind[e] == replay.FINAL))
        assert len(held) == rows - 1 - finals and finals >= 1


def test_samples_are_reference_transitions_uniformly_with_true_final_obs(stream):
    first_obs, tr, done, obs_after = stream
    rows = 40  # wrapped, with episode ends inside the window
    buf = replay.make_replay(rows * N_ENVS, 256, N_ENVS)
    state = _fill(buf, first_obs, tr, done, obs_after)
    stored = _stored(buf, state)
    reference = set(_rows(jax.tree.map(lambda x: x.reshape(STEPS * N_ENVS, *x.shape[2:]), tr)))
    sample = jax.jit(jax.vmap(buf.sample, in_axes=(None, 0)))
    batches = sample(state, jax.random.split(jax.random.PRNGKey(3), 100))  # 25 600 draws
    drawn = _rows(jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), batches))
    assert set(drawn) <= set(stored) <= reference  # every draw is a real, stored transition
    assert set(drawn) == set(stored)  # and every stored one is drawn
    counts = np.array([drawn.count(r) for r in stored])
    assert stats.chisquare(counts).pvalue > 1e-3  # uniform over stored transitions
    # the episodes' ends: terminated ones do not bootstrap, and next_obs is the true final observation
    ends = np.asarray(done).reshape(-1)
    end_rows = [r for r, d in zip(_rows(jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), tr)), ends) if d]
    assert any(r in set(drawn) for r in end_rows)
    after = np.asarray(obs_after).reshape(ends.size, -1)[ends]
    obs_size = first_obs.shape[-1]
    for r, reset_obs in zip(end_rows, after):
        assert not np.allclose(r[-obs_size:], reset_obs)  # next_obs is not the next episode's start


def test_bfloat16_observations(stream):
    first_obs, tr, done, obs_after = stream
    buf = replay.make_replay(STEPS * N_ENVS * 2, 64, N_ENVS, obs_dtype=jnp.bfloat16)
    state = _fill(buf, first_obs, tr, done, obs_after)
    assert state.obs.dtype == jnp.bfloat16
    batch = jax.jit(buf.sample)(state, jax.random.PRNGKey(0))
    assert batch.obs.dtype == jnp.float32
    flat = jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), tr)
    rounded = lambda x: jnp.asarray(x).astype(jnp.bfloat16).astype(jnp.float32)  # noqa: E731
    reference = set(_rows(flat._replace(obs=rounded(flat.obs), next_obs=rounded(flat.next_obs))))
    drawn = _rows(batch)
    assert set(drawn) <= reference  # observations rounded to bfloat16, everything else exact
    assert not set(drawn) <= set(_rows(flat))  # (the rounding is real: float32 values do not match)


def test_bytes_per_transition_for_humanoid_sized_observations():
    """Brax humanoid: 244 observations, 17 actions. The target is at most 0.55x the reference."""
    obs_size, action_size, capacity = 244, 17, 1000
    ours = replay.make_replay(capacity, 256, 4).init(obs_size, action_size)
    ref = flashbax.make_item_buffer(max_length=capacity, min_length=1, sample_batch_size=256,
                                    add_sequences=False, add_batches=True)
    example = envs.Transition(jnp.zeros(obs_size), jnp.zeros(action_size), jnp.zeros(()), jnp.zeros(()),
                              jnp.zeros(obs_size))
    ref_state = ref.init(example)
    ref_bytes = sum(x.nbytes for x in jax.tree.leaves(ref_state.experience)) / capacity
    assert ref_bytes == replay.transition_buffer_bytes_per_row(obs_size, action_size) == 2028
    ours_bytes = sum(x.nbytes for x in (ours.obs, ours.action, ours.reward, ours.kind)) / capacity
    assert ours_bytes == replay.bytes_per_row(obs_size, action_size) == 1049
    assert ours_bytes / ref_bytes <= 0.55
    bf16 = replay.make_replay(capacity, 256, 4, obs_dtype=jnp.bfloat16).init(obs_size, action_size)
    assert bf16.obs.nbytes / capacity == 2 * obs_size
