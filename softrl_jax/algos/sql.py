"""Soft Q-learning with an amortized SVGD sampler (Haarnoja, Tang, Abbeel & Levine 2017).

As the authors built it (github haarnoja/softqlearning, `algorithms/sql.py`; REFERENCE.md):

- Critic: one soft Q-network trained on `y = reward_scale * r + discount * V'(s')` (eq. 11), with the
  soft value `V'` importance-sampled from the TARGET Q at `num_value_samples` uniform actions on
  [-1, 1]^A (eq. 10). The target is HARD-copied every `target_update_period` gradient steps.
- Sampler: `a = tanh(f_phi(s, xi))`, `xi ~ N(0, I_A)`. Each update draws K particles per state, split
  into `num_fixed_particles` (stop-gradient, the SVGD expectation) and `num_updated_particles` (moved);
  the SVGD direction (eq. 13) with `log p(a) = Q(s, a) / alpha + sum log(1 - a^2 + eps)` is pushed
  through the network by the chain rule (eq. 14).
- The authors have no separate alpha (reward scale acts as 1/alpha); both are fields here.

`init` and `update` are pure and importable:

    cfg = sql.Config()
    state = sql.init(cfg, key, obs_size, action_size)
    state, metrics = sql.update(cfg, state, batch, key)
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
from softrl_jax.algos.base import OffPolicyConfig, gradient_step, like
from softrl_jax.config import fld
from softrl_jax.distributions import tanh_log_det_jacobian
from softrl_jax.envs import EnvSpec, Transition
from softrl_jax.networks import MLP, QNetwork, output_width


@dataclasses.dataclass(frozen=True)
class Config(OffPolicyConfig):
    """Defaults are the authors' code (examples/mujoco_all_sql.py SHARED_PARAMS, algorithms/sql.py).

    The paper's Appendix D.1 differs (lr 1e-3 / 1e-4, 2x200, batch 64, K = 32, 50 value samples,
    OU noise sigma 0.3): preset "appendix".
    """

    hidden: tuple[int, ...] = like(OffPolicyConfig, "hidden", (128, 128),
                                   doc="hidden widths of Q and sampler (authors 2x128)")
    actor_lr: float = like(OffPolicyConfig, "actor_lr", 3e-4, doc="sampler Adam learning rate (authors 3e-4)")
    critic_lr: float = like(OffPolicyConfig, "critic_lr", 3e-4, doc="Q Adam learning rate (authors 3e-4)")
    gamma: float = like(OffPolicyConfig, "gamma", 0.99, doc="discount (authors 0.99)")
    alpha: float = fld(1.0, gt=0.0, doc="temperature (authors: none, i.e. 1; the reward scale acts as 1/alpha)")
    reward_scale: float = like(OffPolicyConfig, "reward_scale", 1.0,
                               doc="reward multiplier (authors: per task, 10 to 300)")
    target_update_period: int = fld(1000, ge=1, doc="gradient steps between hard target copies (authors 1000)")
    num_value_samples: int = fld(16, ge=1, doc="K_V, uniform actions for the soft value, eq. 10 (authors 16)")
    num_fixed_particles: int = fld(8, ge=2, doc="stop-gradient SVGD particles per state (authors 16 * 0.5)")
    num_updated_particles: int = fld(8, ge=1, doc="SVGD particles moved per state (authors 16 * 0.5)")
    squash_eps: float = fld(1e-6, ge=0.0, doc="eps in the squash term sum log(1 - a^2 + eps) (authors 1e-6)")
    min_bandwidth: float = fld(1e-3, gt=0.0, doc="floor of the median kernel bandwidth (authors 1e-3)")
    ou_sigma: float = fld(0.0, ge=0.0, doc="OU exploration noise scale (authors' code 0; paper D.1 0.3)")
    ou_theta: float = fld(0.15, ge=0.0, doc="OU mean reversion (paper D.1 0.15)")
    ou_dt: float = fld(1.0, gt=0.0, doc="OU time step (rllab OUStrategy: 1)")
    batch_size: int = like(OffPolicyConfig, "batch_size", 128, doc="minibatch (authors 128; paper D.1 64)")


def check(cfg: Config) -> None:
    """Cross-field checks of the config: none beyond each field's own range."""


class State(NamedTuple):
    actor: Any  # sampler f_phi
    critic: Any  # Q_theta
    target_critic: Any  # Q_theta', hard copy
    actor_opt: Any
    critic_opt: Any
    step: chex.Array  # [] int32 gradient steps taken (drives the hard target copy)


# ---------------------------------------------------------------------------------------- networks


def sampler_net(cfg: Config, action_size: int) -> MLP:
    """f_phi: concat(obs [N, O], xi [N, A]) -> pre-tanh action [N, A] (authors: ReLU MLP)."""
    return MLP(cfg.hidden, action_size)


def _flat_apply(fn, *xs: chex.Array) -> chex.Array:
    """Apply `fn` to inputs [..., D_i] as one [N, D_i] matrix batch (faster on CPU than vmap)."""
    lead = xs[0].shape[:-1]
    out = fn(*[x.reshape((-1, x.shape[-1])) for x in xs])
    return out.reshape(lead + out.shape[1:])


def sample_raw(cfg: Config, actor_params, obs: chex.Array, xi: chex.Array) -> chex.Array:
    """obs [..., O], xi [..., K, A] -> pre-tanh `u = f_phi(s, xi)` [..., K, A]."""
    chex.assert_equal_rank([obs[..., None, :], xi])
    obs_k = jnp.broadcast_to(obs[..., None, :], xi.shape[:-1] + obs.shape[-1:])
    net = sampler_net(cfg, xi.shape[-1])
    return _flat_apply(lambda o, x: net.apply(actor_params, jnp.concatenate([o, x], -1)), obs_k, xi)


def sample_actions(cfg: Config, actor_params, obs: chex.Array, xi: chex.Array) -> chex.Array:
    """obs [..., O], xi [..., K, A] -> actions `tanh(f_phi(s, xi))` [..., K, A] in (-1, 1)."""
    return jnp.tanh(sample_raw(cfg, actor_params, obs, xi))


def q_value(cfg: Config, critic_params, obs: chex.Array, actions: chex.Array) -> chex.Array:
    """obs [..., O], actions [..., K, A] -> Q [..., K]."""
    chex.assert_equal_rank([obs[..., None, :], actions])
    obs_k = jnp.broadcast_to(obs[..., None, :], actions.shape[:-1] + obs.shape[-1:])
    return _flat_apply(lambda o, a: QNetwork(cfg.hidden).apply(critic_params, o, a), obs_k, actions)


def actor_optimizer(cfg: Config) -> optax.GradientTransformation:
    return optax.adam(cfg.actor_lr)


def critic_optimizer(cfg: Config) -> optax.GradientTransformation:
    return optax.adam(cfg.critic_lr)


def init(cfg: Config, key: chex.PRNGKey, obs_size: int, action_size: int) -> State:
    actor_key, critic_key = jax.random.split(key)
    obs, act = jnp.zeros((1, obs_size)), jnp.zeros((1, action_size))
    actor = sampler_net(cfg, action_size).init(actor_key, jnp.zeros((1, obs_size + action_size)))
    critic = QNetwork(cfg.hidden).init(critic_key, obs, act)
    return State(actor, critic, critic, actor_optimizer(cfg).init(actor), critic_optimizer(cfg).init(critic),
                 jnp.zeros((), jnp.int32))


# ------------------------------------------------------------------------------------------ losses


def soft_value_uniform(cfg: Config, critic_params, obs: chex.Array, action_size: int,
                       key: chex.PRNGKey) -> chex.Array:
    """Eq. 10 with the authors' proposal, uniform on [-1, 1]^A, `num_value_samples` fresh actions per
    state (the authors share one draw across the batch). obs [B, O] -> V [B]."""
    chex.assert_rank(obs, 2)
    actions = jax.random.uniform(key, (obs.shape[0], cfg.num_value_samples, action_size), minval=-1.0, maxval=1.0)
    q = q_value(cfg, critic_params, obs, actions)
    log_proposal = jax.vmap(ops.uniform_log_density)(actions)
    return jax.vmap(lambda q_, lp: ops.soft_value(q_, lp, cfg.alpha))(q, log_proposal)


def critic_loss(cfg: Config, critic_params, target_critic, batch: Transition, key: chex.PRNGKey) -> tuple:
    """Eq. 11: `mean_i (Q(s_i, a_i) - y_i)^2`, `y = reward_scale r + discount V'(s')`. batch: [B, ...]."""
    chex.assert_rank([batch.reward, batch.obs, batch.action], [1, 2, 2])
    next_v = soft_value_uniform(cfg, target_critic, batch.next_obs, batch.action.shape[-1], key)
    y = cfg.reward_scale * batch.reward + cfg.gamma * (1.0 - batch.terminated) * next_v
    q = QNetwork(cfg.hidden).apply(critic_params, batch.obs, batch.action)
    loss = jnp.mean(jax.vmap(ops.soft_q_critic_loss)(q, y))
    return loss, {"critic_loss": loss, "q_mean": jnp.mean(q), "target_mean": jnp.mean(y)}


def svgd_target_grad(cfg: Config, critic_params, obs: chex.Array, actions: chex.Array) -> chex.Array:
    """`grad_a log p(a)`, `log p(a) = Q(s, a) / alpha + sum_d log(1 - a_d^2 + eps)` (authors' squash term).

    obs [B, O], actions [B, K, A] -> [B, K, A].
    """

    def log_p(a):
        q = q_value(cfg, critic_params, obs, a)  # [B, K]
        barrier = jax.vmap(lambda x: ops.tanh_log_barrier(x, cfg.squash_eps))(a)  # [B, K]
        return jnp.sum(q / cfg.alpha + barrier)

    return jax.grad(log_p)(actions)  # each particle enters one term: grad of the sum is per particle


def entropy_estimate(u: chex.Array) -> chex.Array:
    """Entropy of the squashed actions from pre-tanh particles u [K, A]: the nearest-neighbour estimate
    in u-space plus the mean tanh log-Jacobian (change of variables; exact in expectation). -> []."""
    return ops.knn_entropy(u) + jnp.mean(tanh_log_det_jacobian(u))


def actor_loss(cfg: Config, actor_params, critic_params, obs: chex.Array, key: chex.PRNGKey) -> tuple:
    """Amortized SVGD surrogate (eqs. 13-14), averaged over the B states (the authors sum; Adam is
    invariant to the factor). obs [B, O] -> (loss [], metrics)."""
    chex.assert_rank(obs, 2)
    k_fixed = cfg.num_fixed_particles
    xi = jax.random.normal(key, (obs.shape[0], k_fixed + cfg.num_updated_particles, output_width(actor_params, cfg.hidden)))
    u = sample_raw(cfg, actor_params, obs, xi)  # [B, K, A]
    actions = jnp.tanh(u)
    fixed, updated = jax.lax.stop_gradient(actions[:, :k_fixed]), actions[:, k_fixed:]
    grad_log_p = svgd_target_grad(cfg, critic_params, obs, fixed)
    phi = jax.vmap(lambda x, g, y: ops.svgd_direction(x, g, y, None, cfg.min_bandwidth))(
        fixed, grad_log_p, jax.lax.stop_gradient(updated))  # [B, K_updated, A]
    loss = jnp.mean(jax.vmap(ops.amortized_svgd_loss)(updated, phi))
    return loss, {"actor_loss": loss, "entropy": mean_finite(jax.vmap(entropy_estimate)(jax.lax.stop_gradient(u)))}


def mean_finite(x: chex.Array) -> chex.Array:
    """Mean of the finite entries of x [B] (NaN if none). A ReLU sampler can map a whole interval of
    xi to one action (an atom): coinciding particles make that state's estimate -inf, which would
    otherwise swamp the batch mean."""
    finite = jnp.isfinite(x)
    return jnp.sum(jnp.where(finite, x, 0.0)) / jnp.sum(finite)


# ------------------------------------------------------------------------------------------ update


def hard_target_update(cfg: Config, target, online, step: chex.Array):
    """Copy `online` into `target` when `step` (gradient steps taken, after this one) is a multiple
    of `target_update_period`; otherwise keep `target`."""
    copy = (step % cfg.target_update_period) == 0
    return jax.tree.map(lambda t, o: jnp.where(copy, o, t), target, online)


def update(cfg: Config, state: State, batch: Transition, key: chex.PRNGKey) -> tuple[State, dict]:
    """One SQL gradient step: Q (eq. 11), then the sampler (eqs. 13-14), then the hard target copy."""
    critic_key, actor_key = jax.random.split(key)
    critic, critic_opt, critic_metrics, _ = gradient_step(
        lambda p: critic_loss(cfg, p, state.target_critic, batch, critic_key), critic_optimizer(cfg), state.critic,
        state.critic_opt)
    actor, actor_opt, actor_metrics, actor_grads = gradient_step(
        lambda p: actor_loss(cfg, p, critic, batch.obs, actor_key), actor_optimizer(cfg), state.actor, state.actor_opt)

    step = state.step + 1
    new_state = State(actor, critic, hard_target_update(cfg, state.target_critic, critic, step),
                      actor_opt, critic_opt, step)
    metrics = {**critic_metrics, **actor_metrics, "alpha": jnp.asarray(cfg.alpha, jnp.float32),
               "actor_grad_norm": optax.global_norm(actor_grads)}
    return new_state, metrics


# ------------------------------------------------------------------------------------------ acting


def act(cfg: Config, state: State, obs: chex.Array, noise: chex.Array, key: chex.PRNGKey) -> tuple:
    """Exploration action [A]: `tanh(f_phi(s, xi))`, `xi ~ N(0, I)`, plus OU noise [A] (zero when
    `ou_sigma` is 0, the authors' code), clipped to [-1, 1]."""
    xi_key, noise_key = jax.random.split(key)
    xi = jax.random.normal(xi_key, (1,) + noise.shape)
    action = sample_actions(cfg, state.actor, obs, xi)[0]
    noise = ops.ornstein_uhlenbeck_step(noise, jax.random.normal(noise_key, noise.shape),
                                        cfg.ou_theta, cfg.ou_sigma, cfg.ou_dt)
    return jnp.clip(action + noise, -1.0, 1.0), noise


def act_eval(cfg: Config, state: State, obs: chex.Array) -> chex.Array:
    """Deterministic action [A]: the sampler at xi = 0 (REFERENCE "Evaluation protocol")."""
    return sample_actions(cfg, state.actor, obs, jnp.zeros((1, output_width(state.actor, cfg.hidden))))[0]


def make(cfg: Config, spec: EnvSpec) -> Agent:
    """Soft Q-learning bound to `cfg` and the task's sizes: the loops' protocol (softrl_jax/agent.py)."""
    return bind_sized(cfg, spec, init, act, act_eval, update)
