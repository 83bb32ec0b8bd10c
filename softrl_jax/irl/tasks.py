"""Tabular tasks for maximum-entropy IRL, built on device as dense arrays.

`gridworld`: the N x N gridworld of Abbeel & Ng (2004, Sec. 5.1): five actions (stay and the four
compass moves), a move "slips" to a uniformly random compass direction with probability `slip`
(walls keep the agent in place), and the state features are one-hot "macrocells", the b x b blocks
tiling the grid, so the reward is linear in them. `goal=True` adds an absorbing goal in the far
corner with its own indicator feature (the paper's route-planning setting: a path ends there).

`objectworld`: the objectworld of Levine, Popovic & Koltun (2011, Sec. 6) with its binary distance
features: objects of C colours placed at random cells; feature (c, d) is 1 when the nearest object
of colour c is within distance d (d = 1..max_distance). The reward stays linear in the features.
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp

Array = chex.Array

# (dx, dy) of the actions: stay, right, left, up, down (Abbeel & Ng 2004; Levine et al. 2011)
MOVES = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))
TASKS = ("gridworld", "objectworld")


class TabularMDP(NamedTuple):
    """One tabular MDP: transitions [S, A, S], features [S, K], initial [S], terminal [S] bool."""

    transitions: Array
    features: Array
    initial: Array
    terminal: Array


def grid_transitions(size: int, slip: float) -> Array:
    """[S, A, S] for an N x N grid (state = x + N y): the chosen move with probability 1 - slip, a
    uniformly random compass move with probability slip; a move off the grid stays put."""
    xs, ys = jnp.meshgrid(jnp.arange(size), jnp.arange(size), indexing="xy")
    x, y = xs.reshape(-1), ys.reshape(-1)  # state s = x + size * y

    def target(dx, dy):
        nx = jnp.clip(x + dx, 0, size - 1)
        ny = jnp.clip(y + dy, 0, size - 1)
        return jax.nn.one_hot(nx + size * ny, size * size)  # [S, S]

    moves = jnp.stack([target(dx, dy) for dx, dy in MOVES], axis=1)  # [S, A, S]
    compass = jnp.mean(moves[:, 1:], axis=1, keepdims=True)  # [S, 1, S] a random compass move
    return (1.0 - slip) * moves + slip * compass


def macrocell_features(size: int, block: int) -> Array:
    """[S, (N/b)^2] one-hot index of the b x b macrocell holding each state."""
    if size % block:
        raise ValueError(f"block={block} must divide size={size}")
    cells = size // block
    xs, ys = jnp.meshgrid(jnp.arange(size), jnp.arange(size), indexing="xy")
    index = (xs // block + cells * (ys // block)).reshape(-1)
    return jax.nn.one_hot(index, cells * cells)


def gridworld(size: int = 8, block: int = 2, slip: float = 0.1, goal: bool = False) -> TabularMDP:
    """The macrocell gridworld; the start state is uniform over the grid (over non-goal cells)."""
    transitions = grid_transitions(size, slip)
    features = macrocell_features(size, block)
    s = size * size
    terminal = jnp.zeros((s,), bool)
    if goal:
        terminal = terminal.at[s - 1].set(True)
        features = jnp.concatenate([features, terminal[:, None].astype(features.dtype)], axis=1)
    initial = jnp.where(terminal, 0.0, 1.0)
    return TabularMDP(transitions, features, initial / jnp.sum(initial), terminal)


def objectworld(key: Array, size: int = 10, colours: int = 2, objects: int = 10, max_distance: int = 5,
                slip: float = 0.1) -> TabularMDP:
    """Levine et al. (2011)'s objectworld with binary features [S, colours * max_distance]: feature
    (c, d) = 1 when the nearest object of colour c is within Chebyshev distance d. Objects sit on
    distinct random cells with random colours (each colour appears at least once)."""
    k_cells, k_colours = jax.random.split(key)
    s = size * size
    cells = jax.random.choice(k_cells, s, (objects,), replace=False)
    colour = jnp.concatenate([jnp.arange(colours), jax.random.randint(k_colours, (objects - colours,), 0, colours)])
    xs, ys = jnp.meshgrid(jnp.arange(size), jnp.arange(size), indexing="xy")
    x, y = xs.reshape(-1), ys.reshape(-1)
    dist = jnp.maximum(jnp.abs(x[:, None] - x[cells][None]), jnp.abs(y[:, None] - y[cells][None]))  # [S, O]
    big = 2 * size
    nearest = jnp.stack([jnp.min(jnp.where(colour == c, dist, big), axis=1) for c in range(colours)], axis=1)
    thresholds = jnp.arange(1, max_distance + 1)
    features = (nearest[:, :, None] <= thresholds[None, None, :]).reshape(s, colours * max_distance)
    return TabularMDP(grid_transitions(size, slip), features.astype(jnp.result_type(float)),
                      jnp.full((s,), 1.0 / s), jnp.zeros((s,), bool))
