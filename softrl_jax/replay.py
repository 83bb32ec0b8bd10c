"""On-device uniform replay: a ring buffer of transitions (flashbax item buffer), pure functions.

Sized in transitions. `init`, `add` and `sample` are pure and live inside the compiled loop.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import chex
import flashbax
import jax
import jax.numpy as jnp


class Replay(NamedTuple):
    init: Any  # (example_item) -> state
    add: Any  # (state, items with leading [N]) -> state
    sample: Any  # (state, key) -> batch with leading [batch_size]
    capacity: int
    batch_size: int


def make_replay(capacity: int, batch_size: int) -> Replay:
    """Uniform replay of `capacity` transitions; `sample` draws `batch_size` with replacement."""
    buf = flashbax.make_item_buffer(max_length=capacity, min_length=1, sample_batch_size=batch_size,
                                    add_sequences=False, add_batches=True)
    return Replay(buf.init, buf.add, lambda state, key: buf.sample(state, key).experience,
                  capacity, batch_size)


def size(state) -> chex.Array:
    """Number of valid transitions stored."""
    capacity = jax.tree.leaves(state.experience)[0].shape[1]
    return jnp.where(state.is_full, capacity, state.current_index)


def nbytes(state) -> int:
    """Device memory held by the buffer's storage, in bytes."""
    return int(sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(state)))
