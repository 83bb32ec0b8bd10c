"""SAC: soft actor-critic (Haarnoja et al. 2018a "v1", 2018b "v2").

Three critics, selected by config fields rather than by separate code paths:

- `critic="twin"` (default, SAC v2 / softlearning / CleanRL): an ensemble of `num_critics` = 2 Q
  networks with Polyak target copies; target `r + discount * (min_k Q'_k(s', a') - alpha log pi(a'|s'))`
  with `a' ~ pi(.|s')` from the current policy; the minimum also enters the actor loss; a learned
  temperature (`learn_alpha=True`) drives the policy entropy towards `target_entropy_per_dim * A`.
- `critic="v_net"` (SAC v1, the DSPG paper's SAC baseline with `num_critics=1`, `learn_alpha=False`):
  Q networks trained towards `r + discount * V_psi'(s')`, a state-value network V_psi trained towards
  `min_k Q_k(s, a) - alpha log pi(a|s)` with `a ~ pi(.|s)`, and a Polyak target V_psi'.
- `critic="c51"` (distributional, as FastSAC / FastTD3's critic): an ensemble of `num_critics`
  categorical critics (C51, Bellemare et al. 2017) on the support `linspace(v_min, v_max, num_atoms)`
  with Polyak targets and the learned temperature of `twin`. With `a' ~ pi(.|s')`, every target
  critic's next distribution is shifted by the entropy term and projected onto the support,
  `Phi(r + discount * (Z'_k(s', a') - alpha log pi(a'|s')))` (`ops.categorical_td_target`); the
  clipped double-Q rule of FastTD3 then picks the projected distribution whose MEAN is lowest as the
  target of every member, and each member minimises its cross-entropy to it. The actor uses
  `min_k E[Z_k(s, a)]` in place of `min_k Q_k(s, a)`. The support must cover the scaled soft returns
  (about `reward_scale * r_max / (1 - gamma)` plus the entropy bonus); mass beyond it is clipped to
  the end atoms and biases Q toward the bounds.

Critic options shared by the three critics: `critic_layer_norm` (Dense -> LayerNorm -> ReLU in the
critics' hidden layers, Q and V) and `compute_dtype` (bfloat16 layer maths with float32 parameters,
for actor and critics; outputs and losses stay float32).

`init` and `update` are pure and importable:

    cfg = sac.Config()
    state = sac.init(cfg, key, obs_size, action_size)
    state, metrics = sac.update(cfg, state, batch, key)
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
from softrl_jax.config import fld
from softrl_jax.distributions import POLICY_KINDS, PolicyDist, make_policy_dist
from softrl_jax.envs import EnvSpec, Transition
from softrl_jax.networks import (MLP, STD_HEADS, GaussianPolicyNet, check_categorical_support, compute_dtype,
                                 output_width)
from softrl_jax.networks import c51_mean as _mean
from softrl_jax.networks import c51_support as support
from softrl_jax.networks import q_network as q_net

CRITICS = ("twin", "v_net", "c51")


@dataclasses.dataclass(frozen=True)
class Config(CriticConfig):
    """Defaults are "modern" SAC (SAC v2, softlearning and CleanRL): twin critics, learned alpha."""

    hidden: tuple[int, ...] = like(CriticConfig, "hidden", (256, 256),
                                   doc="hidden widths of actor and critics (SAC 2x256)")
    actor_lr: float = like(CriticConfig, "actor_lr", 3e-4, doc="actor Adam learning rate (SAC 3e-4)")
    critic_lr: float = like(CriticConfig, "critic_lr", 3e-4, doc="Q (and V) Adam learning rate (SAC 3e-4)")
    alpha_lr: float = fld(3e-4, ge=0.0, doc="temperature Adam learning rate (softlearning 3e-4)")
    alpha_loss: str = fld("log_alpha", choices=ops.ALPHA_LOSSES, doc="temperature loss multiplier: log_alpha "
                                                                   "(softlearning) or alpha (CleanRL)")
    gamma: float = like(CriticConfig, "gamma", 0.99, doc="discount (SAC 0.99)")
    tau: float = like(CriticConfig, "tau", 0.005, doc="Polyak rate of the target critics / target V (SAC 0.005)")
    critic: str = fld("twin", choices=CRITICS, doc="twin: target Q nets (SAC v2); v_net: target V net (SAC v1); "
                                                   "c51: ensemble of categorical critics (FastSAC/FastTD3)")
    num_critics: int = fld(2, ge=1, doc="Q networks, minimum taken (v2 and TD3: 2; DSPG paper's SAC: 1)")
    learn_alpha: bool = fld(True, doc="learn the temperature (SAC v2) or keep `alpha` fixed (SAC v1)")
    alpha: float = fld(1.0, gt=0.0, doc="temperature: fixed value, or the initial one if learned (softlearning 1)")
    target_entropy_per_dim: float = fld(-1.0, doc="target entropy = this * A (softlearning, CleanRL -1; Brax -0.5)")
    reward_scale: float = like(CriticConfig, "reward_scale", 1.0,
                               doc="reward multiplier (v2: 1; v1 folds alpha into it: 5)")
    policy: str = fld("tanh_gaussian", choices=POLICY_KINDS, doc="tanh_gaussian (SAC) or gaussian: a plain "
                                                                 "Gaussian, actions clipped by the environment "
                                                                 "(the DSPG paper's SAC baseline)")
    std_head: str = fld("log_std", choices=STD_HEADS, doc="policy scale head (SAC: clipped log std; the DSPG "
                                                           "paper's baseline: sigmoid std)")
    min_std: float = fld(1e-4, ge=0.0, doc="added to the sigmoid std (std_head=sigmoid only)")
    batch_size: int = like(CriticConfig, "batch_size", 256, doc="minibatch (SAC 256)")
    policy_reg: float = fld(0.0, ge=0.0, doc="L2 penalty on the policy's pre-squash mean and log std, reg * 0.5 * "
                                             "(mean(mu^2) + mean(log_std^2)) (SAC v1 code: 1e-3; v2: 0)")


def check(cfg: Config) -> None:
    """Cross-field checks (raise ConfigError): the c51 support, finite v_min < v_max, num_atoms >= 2."""
    check_categorical_support(cfg.v_min, cfg.v_max, cfg.num_atoms)


class State(NamedTuple):
    actor: Any
    critic: Any  # {"q": Q params stacked [K, ...]} plus {"v": V params} when critic == "v_net"
    target_critic: Any  # twin and c51: {"q": [K, ...]}; v_net: {"v": ...}
    log_alpha: chex.Array  # [] log temperature (constant when learn_alpha is False)
    actor_opt: Any
    critic_opt: Any
    alpha_opt: Any


# ---------------------------------------------------------------------------------------- networks


def policy_net(cfg: Config, action_size: int) -> GaussianPolicyNet:
    return GaussianPolicyNet(cfg.hidden, action_size, cfg.std_head, cfg.min_std,
                             dtype=compute_dtype(cfg.compute_dtype))


def v_net(cfg: Config) -> MLP:
    return MLP(cfg.hidden, 1, cfg.critic_layer_norm, compute_dtype(cfg.compute_dtype))


def q_logits(cfg: Config, q_params, obs: chex.Array, action: chex.Array) -> chex.Array:
    """c51 ensemble logits: params [K, ...], obs [..., O], action [..., A] -> [K, ..., N]."""
    return jax.vmap(lambda p: q_net(cfg).apply(p, obs, action))(q_params)


def q_values(cfg: Config, q_params, obs: chex.Array, action: chex.Array) -> chex.Array:
    """Ensemble Q: params [K, ...], obs [..., O], action [..., A] -> [K, ...]; for c51 the means
    `E[Z_k(s, a)]` of the categorical critics."""
    if cfg.critic == "c51":
        return _mean(cfg, q_logits(cfg, q_params, obs, action))
    return jax.vmap(lambda p: q_net(cfg).apply(p, obs, action))(q_params)


def v_value(cfg: Config, v_params, obs: chex.Array) -> chex.Array:
    """State value V_psi: obs [..., O] -> [...]."""
    return v_net(cfg).apply(v_params, obs)[..., 0]


def target_part(cfg: Config, critic) -> dict:
    """The part of the critic that has a Polyak target: the Q ensemble (twin, c51) or V (v_net)."""
    return {"v": critic["v"]} if cfg.critic == "v_net" else {"q": critic["q"]}


def policy(cfg: Config, actor_params, obs: chex.Array) -> PolicyDist:
    """obs [O] -> tanh-squashed Gaussian (or, with policy="gaussian", the plain Gaussian)."""
    loc, scale = policy_net(cfg, output_width(actor_params, cfg.hidden)).apply(actor_params, obs)
    return make_policy_dist(loc, scale, cfg.policy)


# -------------------------------------------------------------------------------------- optimisers


def actor_optimizer(cfg: Config) -> optax.GradientTransformation:
    return optax.adam(cfg.actor_lr)


def critic_optimizer(cfg: Config) -> optax.GradientTransformation:
    return optax.adam(cfg.critic_lr)


def alpha_optimizer(cfg: Config) -> optax.GradientTransformation:
    return optax.adam(cfg.alpha_lr)


def init(cfg: Config, key: chex.PRNGKey, obs_size: int, action_size: int) -> State:
    actor_key, q_key, v_key = jax.random.split(key, 3)
    obs, act = jnp.zeros((obs_size,)), jnp.zeros((action_size,))
    actor = policy_net(cfg, action_size).init(actor_key, obs)
    critic = {"q": jax.vmap(lambda k: q_net(cfg).init(k, obs, act))(jax.random.split(q_key, cfg.num_critics))}
    if cfg.critic == "v_net":
        critic["v"] = v_net(cfg).init(v_key, obs)
    log_alpha = jnp.log(jnp.asarray(cfg.alpha, jnp.float32))
    return State(actor, critic, target_part(cfg, critic), log_alpha, actor_optimizer(cfg).init(actor),
                 critic_optimizer(cfg).init(critic), alpha_optimizer(cfg).init(log_alpha))


def current_alpha(cfg: Config, state: State) -> chex.Array:
    """[] temperature used by this step's losses."""
    return jnp.exp(state.log_alpha) if cfg.learn_alpha else jnp.asarray(cfg.alpha, jnp.float32)


# ------------------------------------------------------------------------------------------ losses


def twin_target(cfg: Config, actor, target_critic, transition: Transition, alpha, key) -> chex.Array:
    """Scalar SAC v2 target for ONE transition, `a' ~ pi(.|s')` drawn with `key`."""
    dist = policy(cfg, actor, transition.next_obs)
    _, next_action, log_pi = dist.sample_and_log_prob(key, 1)
    q_next = q_values(cfg, target_critic["q"], transition.next_obs, next_action[0])  # [K]
    discount = cfg.gamma * (1.0 - transition.terminated)
    return ops.sac_critic_target(cfg.reward_scale * transition.reward, discount, q_next, log_pi[0], alpha)


def c51_target(cfg: Config, actor, target_critic, transition: Transition, alpha, key) -> chex.Array:
    """[N] soft distributional target for ONE transition, `a' ~ pi(.|s')` drawn with `key`.

    Each target critic's next distribution is projected with the soft shift `alpha log pi(a'|s')`
    (`ops.categorical_td_target`); the projection with the lowest mean is the target of every
    member. This is FastTD3's clipped double Q for distributional critics (github younggyoseo/FastTD3,
    fast_td3/train.py, `update_main`: `torch.where(qf1_next_target_value < qf2_next_target_value,
    qf1_next_target_projected, qf2_next_target_projected)`, the values being the means of the
    PROJECTED distributions), generalised from 2 to K members by argmin (ties: the first member).
    """
    dist = policy(cfg, actor, transition.next_obs)
    _, next_action, log_pi = dist.sample_and_log_prob(key, 1)
    logits = q_logits(cfg, target_critic["q"], transition.next_obs, next_action[0])  # [K, N]
    discount = cfg.gamma * (1.0 - transition.terminated)
    projected = jax.vmap(lambda p: ops.categorical_td_target(
        cfg.reward_scale * transition.reward, discount, p, support(cfg), alpha * log_pi[0],
        uniform_support=True))(jax.nn.softmax(logits, axis=-1))  # [K, N]
    return projected[jnp.argmin(projected @ support(cfg))]


def v_net_target(cfg: Config, target_critic, transition: Transition) -> chex.Array:
    """Scalar SAC v1 Q target for ONE transition: `r + discount * V_psi'(s')`."""
    v_next = v_value(cfg, target_critic["v"], transition.next_obs)
    discount = cfg.gamma * (1.0 - transition.terminated)
    return ops.value_bootstrap_target(cfg.reward_scale * transition.reward, discount, v_next)


def critic_loss(cfg: Config, critic, actor, target_critic, batch: Transition, alpha, key) -> tuple:
    """Q loss summed over the ensemble (each member its own squared error), plus for v_net the V loss
    (SAC v1 eq. 5); for c51 the cross-entropy loss of `c51_critic_loss`. batch leaves: [B, ...].
    Targets carry no gradient."""
    chex.assert_rank(batch.reward, 1)
    target_key, value_key = jax.random.split(key)
    if cfg.critic == "c51":
        return c51_critic_loss(cfg, critic, actor, target_critic, batch, alpha, target_key)
    if cfg.critic == "twin":
        keys = jax.random.split(target_key, batch.reward.shape[0])
        y = jax.vmap(lambda t, k: twin_target(cfg, actor, target_critic, t, alpha, k))(batch, keys)
    else:
        y = jax.vmap(lambda t: v_net_target(cfg, target_critic, t))(batch)
    q = q_values(cfg, critic["q"], batch.obs, batch.action)  # [K, B]
    q_loss = jnp.sum(jnp.mean(jax.vmap(jax.vmap(ops.soft_q_critic_loss), (0, None))(q, y), axis=1))
    loss = q_loss
    if cfg.critic == "v_net":
        loss = loss + value_loss(cfg, critic, actor, batch.obs, alpha, value_key)
    return loss, {"critic_loss": loss, "q_mean": jnp.mean(q), "target_mean": jnp.mean(y)}


def c51_critic_loss(cfg: Config, critic, actor, target_critic, batch: Transition, alpha, key) -> tuple:
    """Cross-entropy of every categorical critic to the shared projected target (`c51_target`),
    averaged over the batch and summed over the ensemble. q_mean and target_mean are means of the
    distributions. batch leaves: [B, ...]."""
    keys = jax.random.split(key, batch.reward.shape[0])
    y = jax.vmap(lambda t, k: c51_target(cfg, actor, target_critic, t, alpha, k))(batch, keys)  # [B, N]
    logits = q_logits(cfg, critic["q"], batch.obs, batch.action)  # [K, B, N]
    losses = jnp.vectorize(ops.categorical_loss, signature="(n),(n)->()")(logits, y[None])  # [K, B]
    loss = jnp.sum(jnp.mean(losses, axis=1))
    return loss, {"critic_loss": loss, "q_mean": jnp.mean(_mean(cfg, logits)),
                  "target_mean": jnp.mean(y @ support(cfg))}


def value_loss(cfg: Config, critic, actor, obs: chex.Array, alpha, key) -> chex.Array:
    """SAC v1 eq. 5: `mean_s (V(s) - stop_gradient(min_k Q_k(s, a) - alpha log pi(a|s)))^2`, `a ~ pi`.
    obs: [B, O]."""

    def per_state(o, k):
        dist = policy(cfg, actor, o)
        _, a, log_pi = dist.sample_and_log_prob(k, 1)
        v_target = ops.sac_value_target(q_values(cfg, critic["q"], o, a[0]), log_pi[0], alpha)
        return ops.soft_q_critic_loss(v_value(cfg, critic["v"], o), v_target)

    return jnp.mean(jax.vmap(per_state)(obs, jax.random.split(key, obs.shape[0])))


def actor_loss(cfg: Config, actor, critic, obs: chex.Array, alpha, key) -> tuple:
    """Reparameterised SAC actor loss `mean_s[alpha log pi(a|s) - min_k Q_k(s, a)]`, plus with
    `policy_reg` SAC v1's penalty `policy_reg * 0.5 * (mean(mu^2) + mean(log_std^2))` on the pre-squash
    Gaussian. obs: [B, O]. Returns (loss, (metrics, log_pi [B]))."""

    def per_state(o, k):
        dist = policy(cfg, actor, o)
        _, a, log_pi = dist.sample_and_log_prob(k, 1)  # gradient flows through the sample
        reg = 0.5 * (jnp.mean(jnp.square(dist.loc)) + jnp.mean(jnp.square(jnp.log(dist.scale))))
        return ops.sac_actor_loss(q_values(cfg, critic["q"], o, a[0]), log_pi[0], alpha), log_pi[0], reg

    losses, log_pi, reg = jax.vmap(per_state)(obs, jax.random.split(key, obs.shape[0]))
    loss = jnp.mean(losses)
    if cfg.policy_reg > 0:  # SAC v1: reg * 0.5 * (mean mu^2 + mean log_std^2) over the batch
        loss = loss + cfg.policy_reg * jnp.mean(reg)
    return loss, ({"actor_loss": loss, "entropy": -jnp.mean(log_pi)}, log_pi)


def temperature_loss(cfg: Config, log_alpha, log_pi: chex.Array, action_size: int) -> chex.Array:
    """Mean of SAC v2 eq. 18 over the actor step's actions. log_pi: [B] (gradient stopped)."""
    target_entropy = jnp.asarray(cfg.target_entropy_per_dim * action_size, jnp.float32)
    return jnp.mean(jax.vmap(lambda lp: ops.sac_temperature_loss(log_alpha, lp, target_entropy, cfg.alpha_loss))(log_pi))


# ------------------------------------------------------------------------------------------ update


def update(cfg: Config, state: State, batch: Transition, key: chex.PRNGKey) -> tuple[State, dict]:
    """One SAC step: critic(s), then actor against the updated critic, then temperature, then targets.
    Every loss of the step uses the temperature from before the step."""
    critic_key, actor_key = jax.random.split(key)
    alpha = current_alpha(cfg, state)

    critic, critic_opt, critic_metrics, _ = gradient_step(
        lambda p: critic_loss(cfg, p, state.actor, state.target_critic, batch, alpha, critic_key),
        critic_optimizer(cfg), state.critic, state.critic_opt)
    actor, actor_opt, (actor_metrics, log_pi), actor_grads = gradient_step(
        lambda p: actor_loss(cfg, p, critic, batch.obs, alpha, actor_key), actor_optimizer(cfg), state.actor,
        state.actor_opt)

    log_alpha, alpha_opt = state.log_alpha, state.alpha_opt
    if cfg.learn_alpha:
        alpha_grad = jax.grad(lambda la: temperature_loss(cfg, la, log_pi, batch.action.shape[-1]))(log_alpha)
        updates, alpha_opt = alpha_optimizer(cfg).update(alpha_grad, alpha_opt, log_alpha)
        log_alpha = optax.apply_updates(log_alpha, updates)

    new_state = State(
        actor=actor,
        critic=critic,
        target_critic=optax.incremental_update(target_part(cfg, critic), state.target_critic, cfg.tau),
        log_alpha=log_alpha,
        actor_opt=actor_opt,
        critic_opt=critic_opt,
        alpha_opt=alpha_opt,
    )
    metrics = {**critic_metrics, **actor_metrics, "alpha": alpha, "actor_grad_norm": optax.global_norm(actor_grads)}
    return new_state, metrics


act, act_eval = sampling_actor(policy)  # sample to explore, the mode to evaluate


def make(cfg: Config, spec: EnvSpec) -> Agent:
    """SAC bound to `cfg` and the task's sizes: the loops' protocol (softrl_jax/agent.py)."""
    return bind_sized(cfg, spec, init, act, act_eval, update)
