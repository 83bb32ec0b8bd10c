"""DSPG: deep soft policy gradient (Shi, Song & Wu 2019).

One soft Q critic trained on the sampled soft Bellman target (eqs. 15-16) with M actions from the
TARGET policy at each next state; a stochastic actor trained by the double-sampled soft policy
gradient (eq. 17) with M fresh actions from the CURRENT policy per state, clipped by global norm
(eq. 18). Both targets follow Polyak averaging. `init` and `update` are pure and importable:

    cfg = dspg.Config()
    state = dspg.init(cfg, key, obs_size, action_size)
    state, metrics = dspg.update(cfg, state, batch, key)

Critic options (off by default): `critic_layer_norm` (Dense -> LayerNorm -> ReLU in the critic's
hidden layers), `compute_dtype="bfloat16"` (actor and critic layers in bfloat16, float32 parameters
and losses), and `critic="c51"`, a categorical critic (C51, Bellemare et al. 2017) on the support
`z = linspace(v_min, v_max, num_atoms)`. Its target for a transition is the average over the M
target-policy actions `a'_j` of the projected soft distributional targets

    Y = 1/M sum_j Phi( r + discount * (Z'(s', a'_j) - alpha log pi'(a'_j|s')) )

(`ops.sampled_categorical_td_target`), its loss the cross-entropy to Y (in place of eq. 16), and the
soft policy gradient (eq. 17) uses the critic's MEAN `Q(s, a) = E[Z(s, a)]`. When is this sound: the
projection `Phi` preserves the mean exactly when every shifted atom `r + discount * (z_i - alpha
log pi'(a'_j|s'))` lies inside `[v_min, v_max]`; then `E[Y]` is the paper's sampled soft Bellman
target (eq. 15) computed with `Q' = E[Z']`, and the critic's mean follows the same fixed point as the
scalar critic. Atoms outside the support are clipped to `v_min` or `v_max`, so whenever the soft
returns (reward scale, 1 / (1 - gamma) horizon and the entropy bonus `-alpha log pi`, which grows
as the policy narrows) reach the bounds, the critic's mean is biased toward the bounds and the
policy gradient sees a compressed Q. Choose the support to cover the scaled soft returns.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

from softrl_jax import ops
from softrl_jax.agent import Agent, bind_sized
from softrl_jax.algos.base import CriticConfig, gradient_step, like, sampling_actor
from softrl_jax.config import ConfigError, fld
from softrl_jax.distributions import POLICY_KINDS, PolicyDist, make_policy_dist
from softrl_jax.envs import EnvSpec, Transition
from softrl_jax.networks import (STD_HEADS, GaussianPolicyNet, QNetwork, check_categorical_support,
                                 compute_dtype, output_width, q_network)
from softrl_jax.networks import c51_mean as _mean
from softrl_jax.networks import c51_support as support

CRITICS = ("scalar", "c51")


@dataclasses.dataclass(frozen=True)
class Config(CriticConfig):
    """Defaults are the DSPG paper's Appendix A (MuJoCo, 3e6 steps)."""

    hidden: tuple[int, ...] = like(CriticConfig, "hidden", (512, 512),
                                   doc="hidden layer widths of actor and critic (paper 2x512)")
    actor_lr: float = like(CriticConfig, "actor_lr", 5e-5, doc="actor Adam learning rate (paper 5e-5)")
    critic_lr: float = like(CriticConfig, "critic_lr", 5e-4, doc="critic Adam learning rate (paper 5e-4)")
    gamma: float = like(CriticConfig, "gamma", 0.99, doc="discount (paper Appendix A 0.99)")
    tau: float = like(CriticConfig, "tau", 0.01, doc="Polyak rate of both targets (paper 0.01)")
    num_samples: int = fld(64, ge=1, doc="M, actions sampled per state for target and gradient (paper 64)")
    clip_norm: float = fld(1.0, gt=0.0, doc="N, global-norm bound of the actor gradient (paper: per task)")
    alpha: float = fld(1.0, ge=0.0, doc="temperature (paper folds it into the reward: 1)")
    reward_scale: float = like(CriticConfig, "reward_scale", 5.0, doc="reward multiplier (paper 5)")
    baseline: str = fld("none", choices=ops.BASELINES, doc="per-state baseline of the score estimator (paper eq. "
                                                           "17: none)")
    policy: str = fld("gaussian", choices=POLICY_KINDS, doc="paper: plain gaussian; authors: tanh_gaussian")
    std_head: str = fld("sigmoid", choices=STD_HEADS, doc="paper: sigmoid std")
    min_std: float = fld(1e-4, ge=0.0, doc="added to the sigmoid std (authors' code 1e-4)")
    grad_reduction: str = fld("mean", choices=("mean", "sum"), doc="paper: mean over B*M; authors: sum")
    batch_size: int = like(CriticConfig, "batch_size", 100, doc="minibatch (paper 100)")
    critic: str = fld("scalar", choices=CRITICS, doc="scalar: Q network (paper); c51: categorical critic whose "
                                                     "mean is Q (module docstring)")


class State(NamedTuple):
    actor: Any
    critic: Any
    target_actor: Any
    target_critic: Any
    actor_opt: Any
    critic_opt: Any


def check(cfg: Config) -> None:
    """Cross-field checks (raise ConfigError): the leave-one-out baseline needs other samples; the c51
    support needs finite v_min < v_max and num_atoms >= 2."""
    if cfg.baseline == "loo" and cfg.num_samples < 2:
        raise ConfigError(f"--num_samples={cfg.num_samples} is out of range for --baseline=loo; must be >= 2 (each "
                          "sample's baseline is the mean of the other M - 1), or use --baseline=none")
    check_categorical_support(cfg.v_min, cfg.v_max, cfg.num_atoms)


def networks(cfg: Config, action_size: int) -> tuple[GaussianPolicyNet, QNetwork]:
    policy_net = GaussianPolicyNet(cfg.hidden, action_size, cfg.std_head, cfg.min_std,
                                   dtype=compute_dtype(cfg.compute_dtype))
    return policy_net, q_network(cfg)


def actor_optimizer(cfg: Config) -> optax.GradientTransformation:
    return ops.dspg_actor_optimizer(cfg.actor_lr, cfg.clip_norm)


def critic_optimizer(cfg: Config) -> optax.GradientTransformation:
    return optax.adam(cfg.critic_lr)  # the critic is not clipped (paper Sec. 5.2)


def init(cfg: Config, key: chex.PRNGKey, obs_size: int, action_size: int) -> State:
    policy_net, q_net = networks(cfg, action_size)
    actor_key, critic_key = jax.random.split(key)
    obs, act = jnp.zeros((obs_size,)), jnp.zeros((action_size,))
    actor = policy_net.init(actor_key, obs)
    critic = q_net.init(critic_key, obs, act)
    return State(actor, critic, actor, critic, actor_optimizer(cfg).init(actor),
                 critic_optimizer(cfg).init(critic))


def policy(cfg: Config, actor_params, obs: chex.Array):
    """obs [..., O] -> PolicyDist with loc, scale [..., A]."""
    policy_net, _ = networks(cfg, output_width(actor_params, cfg.hidden))
    loc, scale = policy_net.apply(actor_params, obs)
    return make_policy_dist(loc, scale, cfg.policy)


def _critic_out(cfg: Config, critic_params, obs: chex.Array, actions: chex.Array) -> chex.Array:
    """obs [B, O], actions [B, M, A] -> [B, M] (scalar) or logits [B, M, N] (c51), as ONE flat
    network apply over the B*M pairs."""
    _, q_net = networks(cfg, actions.shape[-1])
    obs = jnp.broadcast_to(obs[:, None, :], actions.shape[:-1] + obs.shape[-1:])
    return q_net.apply(critic_params, obs, actions)


def _q(cfg: Config, critic_params, obs: chex.Array, actions: chex.Array) -> chex.Array:
    """obs [B, O], actions [B, M, A] -> Q [B, M]; for c51 the critic's mean E[Z]."""
    out = _critic_out(cfg, critic_params, obs, actions)
    return _mean(cfg, out) if cfg.critic == "c51" else out


def _per_state(fn, dist, *args):
    """vmap `fn(PolicyDist for one state, *args)` over the leading [B] axis of a batched dist."""
    return jax.vmap(lambda loc, scale, *a: fn(PolicyDist(loc, scale, dist.squash), *a))(
        dist.loc, dist.scale, *args)


def critic_loss(cfg: Config, critic_params, target_actor, target_critic, batch: Transition, key) -> tuple:
    """Eq. 16 with the sampled soft Bellman target of eq. 15. batch leaves: [B, ...]."""
    chex.assert_rank(batch.reward, 1)
    keys = jax.random.split(key, batch.reward.shape[0])  # one key per next state
    dist = policy(cfg, target_actor, batch.next_obs)
    _, actions, log_pi = _per_state(lambda d, k: d.sample_and_log_prob(k, cfg.num_samples), dist, keys)
    discount = cfg.gamma * (1.0 - batch.terminated)
    if cfg.critic == "c51":
        return _c51_critic_loss(cfg, critic_params, target_critic, batch, actions, log_pi, discount)
    q_next = _q(cfg, target_critic, batch.next_obs, actions)  # [B, M]
    y = jax.vmap(ops.soft_bellman_target, in_axes=(0, 0, 0, 0, None))(
        cfg.reward_scale * batch.reward, discount, q_next, log_pi, cfg.alpha)
    _, q_net = networks(cfg, batch.action.shape[-1])
    q = q_net.apply(critic_params, batch.obs, batch.action)
    loss = jnp.mean(jax.vmap(ops.soft_q_critic_loss)(q, y))
    return loss, {"critic_loss": loss, "q_mean": jnp.mean(q), "target_mean": jnp.mean(y)}


def _c51_critic_loss(cfg: Config, critic_params, target_critic, batch: Transition, actions, log_pi,
                     discount) -> tuple:
    """Cross-entropy to the averaged projected soft targets (module docstring). actions [B, M, A],
    log_pi [B, M] of the target policy; q_mean and target_mean are means of the distributions."""
    next_probs = jax.nn.softmax(_critic_out(cfg, target_critic, batch.next_obs, actions), axis=-1)  # [B, M, N]
    y = jax.vmap(lambda r, d, p, sh: ops.sampled_categorical_td_target(r, d, p, support(cfg), sh, uniform_support=True))(
        cfg.reward_scale * batch.reward, discount, next_probs, cfg.alpha * log_pi)  # [B, N]
    _, q_net = networks(cfg, batch.action.shape[-1])
    logits = q_net.apply(critic_params, batch.obs, batch.action)  # [B, N]
    loss = jnp.mean(jax.vmap(ops.categorical_loss)(logits, y))
    return loss, {"critic_loss": loss, "q_mean": jnp.mean(_mean(cfg, logits)),
                  "target_mean": jnp.mean(y @ support(cfg))}


def actor_loss(cfg: Config, actor_params, critic_params, obs: chex.Array, key) -> tuple:
    """Double-sampled soft policy gradient surrogate (eq. 17). obs: [B, O]."""
    keys = jax.random.split(key, obs.shape[0])  # one key per state
    dist = policy(cfg, actor_params, obs)
    # M fresh actions per state from the CURRENT policy, held constant (score-function estimator)
    u = jax.lax.stop_gradient(_per_state(lambda d, k: d.sample_raw(k, cfg.num_samples), dist, keys))
    log_pi = _per_state(lambda d, uu: d.log_prob_raw(uu), dist, u)  # [B, M], differentiable
    q = jax.lax.stop_gradient(_q(cfg, critic_params, obs, dist.action(u)))
    losses = jax.vmap(ops.soft_policy_gradient_loss, in_axes=(0, 0, None, None))(
        log_pi, q, cfg.alpha, cfg.baseline)
    loss = jnp.mean(losses)
    if cfg.grad_reduction == "sum":  # authors' code: sum over all B*M terms
        loss = loss * losses.shape[0] * cfg.num_samples
    return loss, {"actor_loss": loss, "entropy": -jnp.mean(log_pi)}


def update(cfg: Config, state: State, batch: Transition, key: chex.PRNGKey) -> tuple[State, dict]:
    """One DSPG gradient step: critic (eq. 16), then actor (eqs. 17-18), then Polyak targets."""
    critic_key, actor_key = jax.random.split(key)
    critic, critic_opt, critic_metrics, _ = gradient_step(
        lambda p: critic_loss(cfg, p, state.target_actor, state.target_critic, batch, critic_key),
        critic_optimizer(cfg), state.critic, state.critic_opt)
    actor, actor_opt, actor_metrics, actor_grads = gradient_step(
        lambda p: actor_loss(cfg, p, critic, batch.obs, actor_key), actor_optimizer(cfg), state.actor, state.actor_opt)

    new_state = State(
        actor=actor,
        critic=critic,
        target_actor=optax.incremental_update(actor, state.target_actor, cfg.tau),
        target_critic=optax.incremental_update(critic, state.target_critic, cfg.tau),
        actor_opt=actor_opt,
        critic_opt=critic_opt,
    )
    metrics = {**critic_metrics, **actor_metrics, "alpha": jnp.asarray(cfg.alpha, jnp.float32),
               "actor_grad_norm": optax.global_norm(actor_grads)}
    return new_state, metrics


act, act_eval = sampling_actor(policy)  # sample to explore, the mode to evaluate


def make(cfg: Config, spec: EnvSpec) -> Agent:
    """DSPG bound to `cfg` and the task's sizes: the loops' protocol (softrl_jax/agent.py)."""
    return bind_sized(cfg, spec, init, act, act_eval, update)
