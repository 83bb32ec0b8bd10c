"""DDPG: deep deterministic policy gradient (Lillicrap et al. 2015).

A deterministic actor `mu(s)` (tanh output), one critic, and Polyak target copies of both. The critic
regresses on `r + discount * Q'(s', mu'(s'))` (target actor, no noise); the actor ascends
`Q(s, mu(s))`. Exploration adds Gaussian noise (default, as in TD3's "our DDPG" and CleanRL) or
Ornstein-Uhlenbeck noise (the paper) to `mu(s)` and clips to [-1, 1]; the OU state is the per-env
`noise` carried by the loop and zeroed at episode ends. `init` and `update` are pure and importable:

    cfg = ddpg.Config()
    state = ddpg.init(cfg, key, obs_size, action_size)
    state, metrics = ddpg.update(cfg, state, batch, key)

Critic options: `critic="c51"` replaces the scalar critic by a categorical one (C51, Bellemare et
al. 2017; FastTD3's critic with one member) on `linspace(v_min, v_max, num_atoms)`: its target is
the projection `Phi(r + discount * Z'(s', mu'(s')))` of the target critic's distribution
(`ops.categorical_td_target` with no shift), its loss the cross-entropy to it, and the actor ascends
the mean `E[Z(s, mu(s))]`. `critic_layer_norm` puts LayerNorm after each hidden Dense of the critic;
`compute_dtype="bfloat16"` runs the layers of actor and critic in bfloat16 with float32 parameters.

Network options of the paper (Lillicrap et al. 2015; all off by default, which keeps the default
networks, parameter trees and numbers unchanged): `critic_action_layer=1` joins the action to the
critic after its first hidden layer; `final_init` and `fan_in_init` set the initialisation;
`batch_norm` normalises the state input and every hidden layer of the actor, and the state input and
the critic's layers before the action (Dense -> BatchNorm -> ReLU, softrl_jax/networks.py). With
`batch_norm` each network's variables are flax's `{"params", "batch_stats"}`; the optimisers see
`params` only, and the running averages move by `batch_norm_momentum` when a network runs in
training mode (minibatch statistics over the batch axis):

- critic loss: Q(s, a) in training mode (its running averages updated);
- target `r + gamma Q'(s', mu'(s'))`: both target networks in inference mode (their running averages);
- actor loss: mu(s) in training mode (its running averages updated), and Q(s, mu(s)) in training mode
  on the same batch with the critic's statistics update discarded. The critic normalises the states
  only (the action enters after its batch-normalised layers), so these are the statistics the critic
  loss just used, and the batch is not counted twice in the critic's averages. rllab's DDPG
  (`rllab/algos/ddpg.py`) instead evaluates this Q with its running averages (`deterministic=True`);
  the paper does not say;
- `act` and `act_eval`: inference mode, so an action does not depend on the rest of a batch;
- Polyak targets average the running means and variances with the weights (as rllab's
  `get_param_values`, which includes them).

The paper gives no momentum; the default 0.99 is flax's (rllab/Lasagne use 0.9, `alpha=0.1`), and
epsilon is flax's 1e-5.

Metrics carry the same keys as the soft algorithms: `alpha` is 0 (no entropy bonus) and `entropy`
is logged as 0.0, a placeholder (a deterministic policy has no finite differential entropy) that
keeps metrics.jsonl free of NaN and -inf.
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
from softrl_jax.algos.base import CriticConfig, gradient_step, like
from softrl_jax.config import ConfigError, fld
from softrl_jax.envs import EnvSpec, Transition
from softrl_jax.networks import (DeterministicPolicyNet, QNetwork, c51_mean,
                                 check_categorical_support, compute_dtype, output_width, q_network)
from softrl_jax.networks import c51_support as support

NOISES = ("gaussian", "ou")
CRITICS = ("scalar", "c51")


@dataclasses.dataclass(frozen=True)
class Config(CriticConfig):
    """Defaults are "modern" DDPG (TD3 paper's "our DDPG", CleanRL): 256-256, lr 3e-4, Gaussian noise."""

    hidden: tuple[int, ...] = like(CriticConfig, "hidden", (256, 256),
                                   doc="hidden widths of actor and critic (modern 256-256)")
    actor_lr: float = like(CriticConfig, "actor_lr", 3e-4, doc="actor Adam learning rate (modern 3e-4; paper 1e-4)")
    critic_lr: float = like(CriticConfig, "critic_lr", 3e-4, doc="critic Adam learning rate (modern 3e-4; paper 1e-3)")
    critic_weight_decay: float = fld(0.0, ge=0.0, doc="L2 penalty on critic weights (modern 0; paper 1e-2)")
    gamma: float = like(CriticConfig, "gamma", 0.99, doc="discount (DDPG 0.99)")
    tau: float = like(CriticConfig, "tau", 0.005, doc="Polyak rate of both targets (modern 0.005; paper 0.001)")
    noise: str = fld("gaussian", choices=NOISES, doc="exploration noise (modern: gaussian; paper: ou)")
    noise_sigma: float = fld(0.1, ge=0.0, doc="std of the Gaussian exploration noise (TD3, CleanRL 0.1)")
    ou_theta: float = fld(0.15, ge=0.0, doc="OU mean-reversion rate (paper 0.15)")
    ou_sigma: float = fld(0.2, ge=0.0, doc="OU diffusion scale (paper 0.2)")
    ou_dt: float = fld(1.0, gt=0.0, doc="OU time step (1: one step per environment step)")
    reward_scale: float = like(CriticConfig, "reward_scale", 1.0, doc="reward multiplier (DDPG 1)")
    batch_size: int = like(CriticConfig, "batch_size", 256, doc="minibatch (modern 256; paper 64)")
    critic: str = fld("scalar", choices=CRITICS, doc="scalar: Q network (DDPG); c51: categorical critic (C51, "
                                                     "FastTD3)")
    # Lillicrap et al. 2015's network details (module docstring); defaults: off
    batch_norm: bool = fld(False, doc="BatchNorm on the state input and hidden layers of the actor and the critic's "
                                      "layers before the action (paper: on, Sec. 3)")
    batch_norm_momentum: float = fld(0.99, ge=0.0, le=1.0, doc="running-average momentum of batch_norm (paper: not "
                                                                "given; flax 0.99; rllab 0.9)")
    critic_action_layer: int = fld(0, ge=0, doc="the action joins the critic after this many hidden layers (0: with "
                                                "the state input; paper: 1, Sec. 7)")
    final_init: float = fld(0.0, ge=0.0, doc="output layers' weights and biases ~ U[-x, x] (0: flax's default; paper: "
                                             "3e-3, Sec. 7)")
    fan_in_init: bool = fld(False, doc="hidden layers' weights and biases ~ U[-1/sqrt(fan_in), 1/sqrt(fan_in)] "
                                       "(off: flax's default; paper: on, Sec. 7)")


def check(cfg: Config) -> None:
    """Cross-field checks (raise ConfigError): the c51 support, finite v_min < v_max, num_atoms >= 2;
    critic_action_layer at most the number of hidden layers; batch_norm without critic_layer_norm."""
    check_categorical_support(cfg.v_min, cfg.v_max, cfg.num_atoms)
    if cfg.critic_action_layer > len(cfg.hidden):
        raise ConfigError(f"--critic_action_layer={cfg.critic_action_layer} is out of range; must be <= "
                          f"{len(cfg.hidden)}, the number of hidden layers (--hidden={','.join(map(str, cfg.hidden))})")
    if cfg.batch_norm and cfg.critic_layer_norm:
        raise ConfigError("--batch_norm=true with --critic_layer_norm=true is not supported (two normalisations of "
                          "one layer); valid choices: one of them")


class State(NamedTuple):
    """Networks as flax variables: {"params"}, plus "batch_stats" with batch_norm; the optimiser states
    cover `trainable(...)`, i.e. {"params"}."""

    actor: Any
    critic: Any
    target_actor: Any
    target_critic: Any
    actor_opt: Any
    critic_opt: Any


def networks(cfg: Config, action_size: int) -> tuple[DeterministicPolicyNet, QNetwork]:
    norm = dict(batch_norm=cfg.batch_norm, batch_norm_momentum=cfg.batch_norm_momentum)
    init = dict(fan_in_init=cfg.fan_in_init, final_init=cfg.final_init)
    actor = DeterministicPolicyNet(cfg.hidden, action_size, compute_dtype(cfg.compute_dtype), **norm, **init)
    return actor, q_network(cfg, action_layer=cfg.critic_action_layer, **norm, **init)


def trainable(variables) -> dict:
    """The collection the optimisers update: {"params": ...} of a flax variables dict (batch_stats,
    when present, move by their running averages, not by gradients)."""
    return {"params": variables["params"]}


def train_apply(cfg: Config, net, variables, *inputs) -> tuple:
    """`net` in training mode on batched inputs [B, ...]: (output, variables whose batch_stats moved
    toward this minibatch's statistics by batch_norm_momentum). Without batch_norm: the plain forward
    and `variables` unchanged."""
    if not cfg.batch_norm:
        return net.apply(variables, *inputs), variables
    out, stats = net.apply(variables, *inputs, train=True, mutable=["batch_stats"])
    return out, {**variables, **stats}


def _is_kernel(params):
    """Mask of the weight matrices (biases and BatchNorm scales are not decayed, as in the paper's L2 on
    weights and rllab's BatchNormLayer, whose scale and shift are not `regularizable`)."""
    return jax.tree.map(lambda x: x.ndim >= 2, params)


def actor_optimizer(cfg: Config) -> optax.GradientTransformation:
    return optax.adam(cfg.actor_lr)


def critic_optimizer(cfg: Config) -> optax.GradientTransformation:
    """Adam on the critic loss plus `critic_weight_decay/2 * ||W||^2` (an L2 penalty, coupled to
    Adam as in the paper, unlike AdamW)."""
    return optax.chain(optax.add_decayed_weights(cfg.critic_weight_decay, mask=_is_kernel),
                       optax.adam(cfg.critic_lr))


def init(cfg: Config, key: chex.PRNGKey, obs_size: int, action_size: int) -> State:
    actor_net, q_net = networks(cfg, action_size)
    actor_key, critic_key = jax.random.split(key)
    obs, act = jnp.zeros((obs_size,)), jnp.zeros((action_size,))
    actor = actor_net.init(actor_key, obs)
    critic = q_net.init(critic_key, obs, act)
    return State(actor, critic, actor, critic, actor_optimizer(cfg).init(trainable(actor)),
                 critic_optimizer(cfg).init(trainable(critic)))


def mu(cfg: Config, actor_params, obs: chex.Array) -> chex.Array:
    """Deterministic action: obs [..., O] -> [..., A] in [-1, 1] (batch norm: running averages)."""
    return networks(cfg, output_width(actor_params, cfg.hidden))[0].apply(actor_params, obs)


def q_logits(cfg: Config, critic_params, obs: chex.Array, action: chex.Array) -> chex.Array:
    """c51 critic: obs [..., O], action [..., A] -> logits [..., N] (batch norm: running averages)."""
    return networks(cfg, action.shape[-1])[1].apply(critic_params, obs, action)


def q_value(cfg: Config, critic_params, obs: chex.Array, action: chex.Array) -> chex.Array:
    """obs [..., O], action [..., A] -> [...]; for c51 the mean `E[Z(s, a)]` (batch norm: running averages)."""
    if cfg.critic == "c51":
        logits = q_logits(cfg, critic_params, obs, action)
        return c51_mean(cfg, logits)
    return networks(cfg, action.shape[-1])[1].apply(critic_params, obs, action)


def mu_train(cfg: Config, actor, obs: chex.Array) -> tuple:
    """Training mode: obs [B, O] -> (actions [B, A], actor with updated batch_stats)."""
    return train_apply(cfg, networks(cfg, output_width(actor, cfg.hidden))[0], actor, obs)


def q_train(cfg: Config, critic, obs: chex.Array, action: chex.Array) -> tuple:
    """Training mode: obs [B, O], action [B, A] -> (Q [B] or c51 logits [B, N], critic with updated
    batch_stats)."""
    return train_apply(cfg, networks(cfg, action.shape[-1])[1], critic, obs, action)


def target(cfg: Config, target_actor, target_critic, transition: Transition) -> chex.Array:
    """Scalar `r + discount * Q'(s', mu'(s'))` for ONE transition: target networks, no noise."""
    q_next = q_value(cfg, target_critic, transition.next_obs, mu(cfg, target_actor, transition.next_obs))
    discount = cfg.gamma * (1.0 - transition.terminated)
    return ops.ddpg_target(cfg.reward_scale * transition.reward, discount, q_next)


def c51_target(cfg: Config, target_actor, target_critic, transition: Transition) -> chex.Array:
    """[N] projected `r + discount * Z'(s', mu'(s'))` for ONE transition: target networks, no noise."""
    next_obs = transition.next_obs
    logits = q_logits(cfg, target_critic, next_obs, mu(cfg, target_actor, next_obs))
    discount = cfg.gamma * (1.0 - transition.terminated)
    return ops.categorical_td_target(cfg.reward_scale * transition.reward, discount, jax.nn.softmax(logits),
                                     support(cfg), uniform_support=True)


def critic_loss_and_stats(cfg: Config, critic, target_actor, target_critic, batch: Transition) -> tuple:
    """(loss, (metrics, critic')): `mean_i (Q(s_i, a_i) - stop_gradient(y_i))^2`; for c51 the mean
    cross-entropy to the projected target distributions (q_mean, target_mean: their means). Q runs in
    training mode; critic' carries its updated batch_stats (`critic` itself without batch_norm).
    batch leaves: [B, ...]."""
    chex.assert_rank(batch.reward, 1)
    if cfg.critic == "c51":
        y = jax.vmap(lambda t: c51_target(cfg, target_actor, target_critic, t))(batch)  # [B, N]
        logits, critic = q_train(cfg, critic, batch.obs, batch.action)  # [B, N]
        loss = jnp.mean(jax.vmap(ops.categorical_loss)(logits, y))
        q = jax.vmap(ops.categorical_mean, (0, None))(logits, support(cfg))
        metrics = {"critic_loss": loss, "q_mean": jnp.mean(q), "target_mean": jnp.mean(y @ support(cfg))}
        return loss, (metrics, critic)
    y = jax.vmap(lambda t: target(cfg, target_actor, target_critic, t))(batch)
    q, critic = q_train(cfg, critic, batch.obs, batch.action)
    loss = jnp.mean(jax.vmap(ops.soft_q_critic_loss)(q, y))
    return loss, ({"critic_loss": loss, "q_mean": jnp.mean(q), "target_mean": jnp.mean(y)}, critic)


def critic_loss(cfg: Config, critic, target_actor, target_critic, batch: Transition) -> tuple:
    """(loss, metrics) of `critic_loss_and_stats`."""
    loss, (metrics, _) = critic_loss_and_stats(cfg, critic, target_actor, target_critic, batch)
    return loss, metrics


def actor_loss_and_stats(cfg: Config, actor, critic, obs: chex.Array) -> tuple:
    """(loss, (metrics, actor')): `mean_s -Q(s, mu(s))` (deterministic policy gradient), mu and Q in
    training mode; actor' carries mu's updated batch_stats, the critic's update is discarded (module
    docstring). obs: [B, O]."""
    action, actor = mu_train(cfg, actor, obs)
    q, _ = q_train(cfg, critic, obs, action)
    if cfg.critic == "c51":
        q = c51_mean(cfg, q)
    loss = jnp.mean(jax.vmap(ops.ddpg_actor_loss)(q))
    return loss, ({"actor_loss": loss}, actor)


def actor_loss(cfg: Config, actor, critic, obs: chex.Array) -> tuple:
    """(loss, metrics) of `actor_loss_and_stats`."""
    loss, (metrics, _) = actor_loss_and_stats(cfg, actor, critic, obs)
    return loss, metrics


def update(cfg: Config, state: State, batch: Transition, key: chex.PRNGKey) -> tuple[State, dict]:
    """One DDPG step: critic, then actor against the updated critic, then Polyak targets (of the
    weights and, with batch_norm, the running averages). Gradients reach `params` only; batch_stats
    come from the training-mode passes. Deterministic: `key` is unused (kept for the common `update`
    signature)."""
    del key
    params, critic_opt, (critic_metrics, critic), _ = gradient_step(
        lambda p: critic_loss_and_stats(cfg, {**state.critic, **p}, state.target_actor, state.target_critic, batch),
        critic_optimizer(cfg), trainable(state.critic), state.critic_opt)
    critic = {**critic, **params}
    params, actor_opt, (actor_metrics, actor), actor_grads = gradient_step(
        lambda p: actor_loss_and_stats(cfg, {**state.actor, **p}, critic, batch.obs), actor_optimizer(cfg),
        trainable(state.actor), state.actor_opt)
    actor = {**actor, **params}

    new_state = State(
        actor=actor,
        critic=critic,
        target_actor=optax.incremental_update(actor, state.target_actor, cfg.tau),
        target_critic=optax.incremental_update(critic, state.target_critic, cfg.tau),
        actor_opt=actor_opt,
        critic_opt=critic_opt,
    )
    metrics = {**critic_metrics, **actor_metrics,
               "alpha": jnp.zeros((), jnp.float32),  # no entropy bonus
               "entropy": jnp.zeros((), jnp.float32),  # placeholder: see the module docstring
               "actor_grad_norm": optax.global_norm(actor_grads)}
    return new_state, metrics


def exploration_noise(cfg: Config, noise: chex.Array, key: chex.PRNGKey) -> chex.Array:
    """Next noise [A]: a fresh N(0, noise_sigma^2) draw, or one OU step from `noise`."""
    eps = jax.random.normal(key, noise.shape, noise.dtype)
    if cfg.noise == "ou":
        return ops.ornstein_uhlenbeck_step(noise, eps, cfg.ou_theta, cfg.ou_sigma, cfg.ou_dt)
    return cfg.noise_sigma * eps


def act(cfg: Config, state: State, obs: chex.Array, noise: chex.Array, key: chex.PRNGKey) -> tuple:
    """(clip(mu(s) + noise', -1, 1) [A], noise' [A]); `noise` is the carried OU state."""
    new_noise = exploration_noise(cfg, noise, key)
    return jnp.clip(mu(cfg, state.actor, obs) + new_noise, -1.0, 1.0), new_noise


def act_eval(cfg: Config, state: State, obs: chex.Array) -> chex.Array:
    """Deterministic action [A]: mu(s), no noise (batch norm: running averages)."""
    return mu(cfg, state.actor, obs)


def make(cfg: Config, spec: EnvSpec) -> Agent:
    """DDPG bound to `cfg` and the task's sizes: the loops' protocol (softrl_jax/agent.py)."""
    return bind_sized(cfg, spec, init, act, act_eval, update)
