"""n-step windows of the replay (`sample_windows`) against hand-built streams: a termination, a
truncation and the head inside windows, with and without the ring's wrap; n = 1 is `sample`."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softrl_jax import replay
from softrl_jax.envs import Transition

# One environment's stream, (obs id, reward, how the step ends): "" goes on, "term" terminates,
# "trunc" is a time-limit end. At an end the true final observation (id + 1) is written, then the
# next episode starts at the next block of ten.
EPISODES = [[(10, 1.0, ""), (11, 2.0, ""), (12, 3.0, ""), (13, 4.0, "term")],   # final obs 14
            [(20, 5.0, ""), (21, 6.0, "trunc")],                                 # final obs 22
            [(30, 7.0, ""), (31, 8.0, ""), (32, 9.0, "")]]                       # head obs 33


def _fill(capacity: int, batch: int):
    buf = replay.make_replay(capacity, batch, 1)
    state = buf.init(1, 1)
    rows = []  # the reference stream: (obs, reward, kind) in time order
    for e, episode in enumerate(EPISODES):
        for i, (o, r, how) in enumerate(episode):
            last = i == len(episode) - 1 and e < len(EPISODES) - 1
            nxt = o + 1
            after = EPISODES[e + 1][0][0] if last else nxt
            tr = Transition(jnp.array([[o]], jnp.float32), jnp.array([[o % 10]], jnp.float32), jnp.array([r]),
                            jnp.array([1.0 if how == "term" else 0.0]), jnp.array([[nxt]], jnp.float32))
            state = buf.add(state, tr, jnp.array([last]), jnp.array([[after]], jnp.float32))
            rows.append((o, r, replay.TERMINATED if how == "term" else replay.STEP))
            if last:
                rows.append((nxt, 0.0, replay.FINAL))
    rows.append((EPISODES[-1][-1][0] + 1, 0.0, replay.EMPTY))
    return buf, state, rows


def _expected(rows, start: int, n: int):
    """(obs ids [k + 2], rewards [k + 1], terminated [k + 1]) up to and including the first cut k."""
    obs, rew, term = [rows[start][0]], [], []
    for d in range(n):
        o, r, kind = rows[start + d]
        rew.append(r)
        term.append(kind == replay.TERMINATED)
        obs.append(rows[start + d + 1][0])
        if kind == replay.TERMINATED or rows[start + d + 1][2] not in (replay.STEP, replay.TERMINATED) or d == n - 1:
            break
    return obs, rew, term


@pytest.mark.parametrize("capacity", [64, 8])  # 8 rows: the stream (12 rows) wraps the ring
@pytest.mark.parametrize("n", [1, 3])
def test_windows_match_hand_built_stream(capacity, n):
    buf, state, rows = _fill(capacity, 256)
    held = rows[-min(capacity, len(rows)):]  # the ring keeps the newest rows
    starts = {r[0]: i for i, r in enumerate(held) if r[2] in (replay.STEP, replay.TERMINATED)}
    w = jax.jit(buf.sample_windows, static_argnums=2)(state, jax.random.PRNGKey(0), n)
    assert w.obs.shape == (256, n + 1, 1) and w.reward.shape == w.cut.shape == w.terminated.shape == (256, n)
    seen = set()
    for b in range(256):
        first = int(w.obs[b, 0, 0])
        assert first in starts, first  # only stored transitions start a window
        seen.add(first)
        obs, rew, term = _expected(held, starts[first], n)
        k = len(rew) - 1  # the first cut
        assert list(np.asarray(w.cut[b, :k + 1])) == [0.0] * k + [1.0]
        np.testing.assert_array_equal(w.obs[b, :k + 2, 0], obs)
        np.testing.assert_array_equal(w.reward[b, :k + 1], rew)
        np.testing.assert_array_equal(w.terminated[b, :k + 1], term)
        np.testing.assert_array_equal(w.action[b, :k + 1, 0], [o % 10 for o in obs[:k + 1]])
    assert seen == set(starts)


def test_window_cuts_by_hand():
    """Every window of 3 steps in the unwrapped stream, written out."""
    buf, state, _ = _fill(64, 512)
    w = jax.jit(buf.sample_windows, static_argnums=2)(state, jax.random.PRNGKey(1), 3)
    by_start = {int(w.obs[b, 0, 0]): b for b in range(512)}
    cut = {10: [0, 0, 1],   # 10 -> 11 -> 12 -> 13: the window's end
           11: [0, 0, 1],   # 11 -> 12 -> 13 terminates at step 2 (and the window ends)
           12: [0, 1],      # 13 terminates at step 1
           13: [1],         # terminates
           20: [0, 1],      # 21 is truncated: row 22 is FINAL
           21: [1],
           30: [0, 0, 1],   # 32's successor is the head
           31: [0, 1],
           32: [1]}
    assert set(by_start) == set(cut)
    for start, c in cut.items():
        np.testing.assert_array_equal(w.cut[by_start[start], :len(c)], c)
    b = by_start[11]
    np.testing.assert_array_equal(w.terminated[b], [0, 0, 1])
    np.testing.assert_array_equal(w.obs[b, :, 0], [11, 12, 13, 14])  # 14: the true final observation
    np.testing.assert_array_equal(w.obs[by_start[21], :2, 0], [21, 22])  # truncation: final obs 22, not 30


@pytest.mark.parametrize("capacity", [64, 8])
def test_one_step_window_is_sample(capacity):
    buf, state, _ = _fill(capacity, 128)
    key = jax.random.PRNGKey(7)
    tr = buf.sample(state, key)
    w = buf.sample_windows(state, key, 1)
    np.testing.assert_array_equal(w.obs[:, 0], tr.obs)
    np.testing.assert_array_equal(w.obs[:, 1], tr.next_obs)
    np.testing.assert_array_equal(w.action[:, 0], tr.action)
    np.testing.assert_array_equal(w.reward[:, 0], tr.reward)
    np.testing.assert_array_equal(w.terminated[:, 0], tr.terminated)
    np.testing.assert_array_equal(w.cut, 1.0)
