"""What the off-policy continuous-control learners (DSPG, SAC, DDPG, SQL) share: their config fields and
the gradient step.

Each algorithm's `Config` derives from `OffPolicyConfig` (SQL) or `CriticConfig` (DSPG, SAC, DDPG: Polyak
targets and the critic options) and re-declares a shared field only to give its own default and source,
with `like`, which keeps the shared field's bounds:

    @dataclasses.dataclass(frozen=True)
    class Config(CriticConfig):
        hidden: tuple[int, ...] = like(CriticConfig, "hidden", (512, 512), "paper 2x512")
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import optax

from softrl_jax.config import fld
from softrl_jax.networks import critic_option


@dataclasses.dataclass(frozen=True)
class OffPolicyConfig:
    """The fields of every off-policy continuous-control learner."""

    hidden: tuple[int, ...] = fld((256, 256), ge=1, doc="hidden widths of the actor (or sampler) and critics")
    actor_lr: float = fld(3e-4, ge=0.0, doc="actor (or sampler) Adam learning rate")
    critic_lr: float = fld(3e-4, ge=0.0, doc="critic Adam learning rate")
    gamma: float = fld(0.99, ge=0.0, le=1.0, doc="discount")
    reward_scale: float = fld(1.0, gt=0.0, doc="reward multiplier")
    batch_size: int = fld(256, ge=1, doc="minibatch")


@dataclasses.dataclass(frozen=True)
class CriticConfig(OffPolicyConfig):
    """An off-policy learner with Polyak-averaged targets and the critic options of
    `networks.q_network` (scalar or c51 critics, layer norm, mixed precision)."""

    tau: float = fld(0.005, ge=0.0, le=1.0, doc="Polyak rate of the targets")
    critic_layer_norm: bool = critic_option("critic_layer_norm")
    num_atoms: int = critic_option("num_atoms")
    v_min: float = critic_option("v_min")
    v_max: float = critic_option("v_max")
    compute_dtype: str = critic_option("compute_dtype")


def like(base: type, name: str, default: Any, source: str = "", doc: str = "") -> Any:
    """A field of `base` re-declared with an algorithm's own `default`: the same bounds and choices,
    its doc followed by `(source)`, or replaced by `doc`."""
    shared = base.__dataclass_fields__[name]
    meta = dict(shared.metadata)
    meta["doc"] = doc or (f"{meta.get('doc', '')} ({source})" if source else meta.get("doc", ""))
    return fld(default, **meta)


def gradient_step(loss: Callable, optimizer: optax.GradientTransformation, params, opt_state) -> tuple:
    """One optimiser step on `loss(params) -> (value, aux)`: (new params, new optimiser state, aux, grads)."""
    (_, aux), grads = jax.value_and_grad(loss, has_aux=True)(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, aux, grads


def sampling_actor(policy: Callable) -> tuple[Callable, Callable]:
    """`act` and `act_eval` of a stochastic actor (SAC, DSPG) from its `policy(cfg, actor_params, obs)`,
    which returns a `PolicyDist`. `act(cfg, state, obs, noise, key)` samples an action [A] (the
    exploration state `noise` passes through); `act_eval(cfg, state, obs)` takes the policy's mode [A]
    (the mean, squashed for tanh_gaussian)."""

    def act(cfg, state, obs, noise, key) -> tuple:
        """Exploration action [A] sampled from the current policy; `noise` passes through."""
        return policy(cfg, state.actor, obs).sample_action(key), noise

    def act_eval(cfg, state, obs):
        """Deterministic action [A]: the policy's mode (the mean, squashed for tanh_gaussian)."""
        return policy(cfg, state.actor, obs).mode()

    return act, act_eval
