"""Flax MLPs: soft Q critics, Gaussian policy heads, deterministic policies."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

STD_HEADS = ("sigmoid", "log_std")


class MLP(nn.Module):
    """ReLU MLP with a linear output layer of `out` units."""

    hidden: Sequence[int]
    out: int

    @nn.compact
    def __call__(self, x):
        for width in self.hidden:
            x = nn.relu(nn.Dense(width)(x))
        return nn.Dense(self.out)(x)


class QNetwork(nn.Module):
    """Q(s, a): obs [..., O], action [..., A] -> [...]."""

    hidden: Sequence[int]

    @nn.compact
    def __call__(self, obs, action):
        x = jnp.concatenate([obs, action], axis=-1)
        return MLP(self.hidden, 1)(x)[..., 0]


class GaussianPolicyNet(nn.Module):
    """obs [..., O] -> (loc [..., A], scale [..., A]).

    std_head "sigmoid": scale = sigmoid(x) + min_std (DSPG paper: identity mean, sigmoid std; the
    authors' code adds 1e-4). std_head "log_std": log_std squashed into [log_std_min, log_std_max]
    by tanh, scale = exp(log_std) (SAC, CleanRL: -5 and 2).
    """

    hidden: Sequence[int]
    action_size: int
    std_head: str = "sigmoid"
    min_std: float = 1e-4
    log_std_min: float = -5.0
    log_std_max: float = 2.0

    @nn.compact
    def __call__(self, obs):
        h = obs
        for width in self.hidden:
            h = nn.relu(nn.Dense(width)(h))
        loc = nn.Dense(self.action_size)(h)
        raw = nn.Dense(self.action_size)(h)
        if self.std_head == "sigmoid":
            scale = jax.nn.sigmoid(raw) + self.min_std
        elif self.std_head == "log_std":
            span = self.log_std_max - self.log_std_min
            scale = jnp.exp(self.log_std_min + 0.5 * span * (jnp.tanh(raw) + 1.0))
        else:
            raise ValueError(f"std_head={self.std_head!r}; valid choices: {', '.join(STD_HEADS)}")
        return loc, scale


class DeterministicPolicyNet(nn.Module):
    """obs [..., O] -> action [..., A] in [-1, 1] (tanh output)."""

    hidden: Sequence[int]
    action_size: int

    @nn.compact
    def __call__(self, obs):
        return jnp.tanh(MLP(self.hidden, self.action_size)(obs))
