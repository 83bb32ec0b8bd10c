"""Q-learning with discrete actions: DQN (eq. 81) and soft DQN (eqs. 45-46, 82-83) of Schulman, Chen &
Abbeel (2017), Sec. 6.2, which makes "a one-line change to a DQN implementation": only the backup
differs; both explore epsilon-greedily. `softrl_jax.algos.dqn` and `softrl_jax.algos.soft_dqn` are
thin modules over this one (their own presets); the backup follows the config's type (`SoftConfig`:
soft).

- Q-network: `networks.DiscreteHeads(hidden, (num_actions,), obs_shape)`, Q(s, .) for all actions
  (MinAtar's conv 16 + FC on images, an MLP on classic control).
- Target network: a hard copy of the online network after every `target_every`-th update (MinAtar
  examples/dqn.py: `policy_net_update_counter % TARGET_NETWORK_UPDATE_FREQ == 0`), selected with
  `jnp.where` (no Python branch on traced values).
- Targets (`target_q`), from the TARGET network, gradient stopped:
    dqn       y = r + gamma max_a' Q'(s', a')                                           (eq. 81)
    soft_dqn  y = r + gamma V'(s'),  V' = tau log sum_a' pi-bar(a') exp(Q'(s', a') / tau) (eq. 45)
              prior "uniform": pi-bar uniform, the KL penalty (eq. 82; V' = tau logsumexp(Q'/tau) - tau log|A|)
              prior "none": pi-bar = 1 (counting measure), the entropy bonus (eq. 83)
  With `n_step` = n > 1 the update takes n-step windows of the replay (`window`, replay.Window) and
  the target is the n-step return bootstrapped at the window's end or at the first episode end in it
  (`ops.entropy_regularised_returns`): for soft_dqn eq. 46 (`ops.n_step_soft_q_target`), whose
  per-step penalty is tau KL[pi'_B || pi-bar](s_{t+d}) of the target network's Boltzmann policy
  pi'_B (eq. 28); for dqn the plain n-step return with max_a' Q' at the end (n-step Q-learning).
  A truncated step bootstraps from its true final observation; a terminated step does not.
  (Eqs. 82-83 print log sum exp(Q / tau) without the factor tau; we keep eq. 29's tau, see
  ops.boltzmann_value.)
- Loss: Huber (`loss="huber"`, MinAtar's `smooth_l1_loss`, delta 1) or `0.5 (Q - y)^2` ("mse"),
  averaged over the batch.
- Acting: epsilon-greedy on the online Q, epsilon linear from `eps_start` to `eps_end` over the first
  `eps_decay` UPDATES (counted in the agent state, `State.updates`), then `eps_end`. With
  updates_per_step 1 and num_envs 1 (both presets) updates are the environment steps since learning
  started: MinAtar's schedule, which anneals over the FIRST_N_FRAMES after REPLAY_START_SIZE.
  Evaluation is greedy (argmax).

Actions are one index per step, stored as a float array [1] (envs.core.Env). `init` and `update` are
pure and importable:

    state = qlearn.init(cfg, spec, key)          # spec: envs.EnvSpec (num_actions, obs_shape)
    state, metrics = qlearn.update(cfg, spec, state, batch, key)   # batch: Transition [B] or Window [B]
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

from softrl_jax import ops
from softrl_jax.agent import Agent, bind_spec
from softrl_jax.algos.base import gradient_step
from softrl_jax.config import fld
from softrl_jax.envs import EnvSpec, Transition
from softrl_jax.networks import DiscreteHeads
from softrl_jax.replay import Window

LOSSES = ("huber", "mse")
OPTIMIZERS = ("rmsprop", "adam")
PRIORS = ("uniform", "none")


@dataclasses.dataclass(frozen=True)
class Config:
    """Defaults: MinAtar's DQN (examples/dqn.py), the paper's Atari DQN at MinAtar scale."""

    hidden: tuple[int, ...] = fld((128,), ge=1, doc="fully connected hidden widths after the conv on images "
                                                    "(MinAtar examples/dqn.py: one of 128)")
    lr: float = fld(2.5e-4, ge=0.0, doc="learning rate (MinAtar examples/dqn.py STEP_SIZE 0.00025)")
    optimizer: str = fld("rmsprop", choices=OPTIMIZERS, doc="rmsprop: centered RMSProp with momentum, eps added "
                                                           "outside the square root (torch's, MinAtar examples/"
                                                           "dqn.py); adam")
    rms_decay: float = fld(0.95, ge=0.0, lt=1.0, doc="RMSProp squared-gradient decay (MinAtar "
                                                     "SQUARED_GRAD_MOMENTUM 0.95)")
    rms_momentum: float = fld(0.95, ge=0.0, lt=1.0, doc="RMSProp momentum (MinAtar GRAD_MOMENTUM 0.95)")
    rms_eps: float = fld(0.01, gt=0.0, doc="RMSProp eps (MinAtar MIN_SQUARED_GRAD 0.01)")
    loss: str = fld("huber", choices=LOSSES, doc="TD loss: huber (MinAtar smooth_l1_loss) or mse, 0.5 (Q - y)^2")
    gamma: float = fld(0.99, ge=0.0, le=1.0, doc="discount (MinAtar GAMMA 0.99)")
    batch_size: int = fld(32, ge=1, doc="minibatch (MinAtar BATCH_SIZE 32)")
    target_every: int = fld(1000, ge=1, doc="updates between hard target-network copies (MinAtar "
                                            "TARGET_NETWORK_UPDATE_FREQ 1000)")
    eps_start: float = fld(1.0, ge=0.0, le=1.0, doc="initial exploration epsilon (MinAtar EPSILON 1.0)")
    eps_end: float = fld(0.1, ge=0.0, le=1.0, doc="final exploration epsilon (MinAtar END_EPSILON 0.1)")
    eps_decay: int = fld(100_000, ge=1, doc="updates over which epsilon falls linearly; = environment steps "
                                            "after learning starts with updates_per_step 1, num_envs 1 "
                                            "(MinAtar FIRST_N_FRAMES 100000)")
    n_step: int = fld(1, ge=1, doc="steps of the return before bootstrapping (paper Sec. 6.2: 1, and 5-step "
                                   "variants)")


@dataclasses.dataclass(frozen=True)
class SoftConfig(Config):
    """Config of soft DQN: DQN's plus the temperature and the reference policy."""

    tau: float = fld(0.1, gt=0.0, doc="temperature of the soft backup (paper Sec. 6.2: tau 0.1)")
    prior: str = fld("none", choices=PRIORS, doc="reference policy pi-bar: none = entropy bonus (eq. 83, the "
                                                 "better variant in Sec. 6.2); uniform = KL penalty (eq. 82)")


class State(NamedTuple):
    params: Any  # online Q-network
    target_params: Any  # target Q-network (hard copy every target_every updates)
    opt_state: Any
    updates: chex.Array  # [] int32 updates made so far (epsilon schedule, target copies)


def is_soft(cfg: Config) -> bool:
    return isinstance(cfg, SoftConfig)


def window(cfg: Config) -> int:
    """Steps per replay sample the update needs: `n_step` (1: ordinary transitions)."""
    return cfg.n_step


def check(cfg: Config) -> None:
    """Cross-field checks (none beyond the fields' own)."""


# ---------------------------------------------------------------------------------------- network


def q_network(cfg: Config, num_actions: int, obs_shape: tuple = ()) -> DiscreteHeads:
    return DiscreteHeads(tuple(cfg.hidden), (num_actions,), tuple(obs_shape))


def q_values(cfg: Config, spec: EnvSpec, params, obs: chex.Array) -> chex.Array:
    """Q(s, .): obs [..., O] -> [..., num_actions]."""
    return q_network(cfg, spec.num_actions, spec.obs_shape).apply(params, obs)[0]


def optimizer(cfg: Config) -> optax.GradientTransformation:
    if cfg.optimizer == "adam":
        return optax.adam(cfg.lr)
    # torch.optim.RMSprop(centered=True, eps=..., momentum=...): eps outside the square root
    return optax.rmsprop(cfg.lr, decay=cfg.rms_decay, eps=cfg.rms_eps, eps_in_sqrt=False, centered=True,
                         momentum=cfg.rms_momentum or None)


def init(cfg: Config, spec: EnvSpec, key: chex.PRNGKey) -> State:
    if spec.num_actions < 1:
        raise ValueError(f"{spec.name} has continuous actions; Q-learning needs discrete ones")
    params = q_network(cfg, spec.num_actions, spec.obs_shape).init(key, jnp.zeros((spec.obs_size,)))
    return State(params, params, optimizer(cfg).init(params), jnp.zeros((), jnp.int32))


# ----------------------------------------------------------------------------------------- targets


def _log_prior(cfg: SoftConfig, num_actions: int) -> chex.Array | None:
    """None (uniform pi-bar, eq. 82) or zeros (the entropy bonus, eq. 83)."""
    return None if cfg.prior == "uniform" else jnp.zeros((num_actions,))


def state_value(cfg: Config, q: chex.Array) -> chex.Array:
    """The bootstrap value of Q'(s, .) [A]: max (eq. 81) or the soft value V' (eq. 45)."""
    if is_soft(cfg):
        return ops.boltzmann_value(q, cfg.tau, _log_prior(cfg, q.shape[-1]))
    return jnp.max(q)


def step_penalty(cfg: Config, q: chex.Array) -> chex.Array:
    """Per-step penalty of the n-step return at a state with Q'(s, .) [A]: tau KL[pi'_B || pi-bar](s)
    (soft, eq. 46), 0 for dqn."""
    if not is_soft(cfg):
        return jnp.zeros(())
    log_prior = _log_prior(cfg, q.shape[-1])
    return cfg.tau * ops.kl_to_prior(ops.boltzmann_log_policy(q, cfg.tau, log_prior), log_prior)


def transition_target(cfg: Config, spec: EnvSpec, target_params, tr: Transition) -> chex.Array:
    """One-step target for ONE transition (eq. 81 / eqs. 82-83)."""
    q_next = q_values(cfg, spec, target_params, tr.next_obs)
    discount = cfg.gamma * (1.0 - tr.terminated)
    if is_soft(cfg):
        return ops.soft_dqn_target(tr.reward, discount, q_next, cfg.tau, _log_prior(cfg, q_next.shape[-1]))
    return ops.dqn_target(tr.reward, discount, q_next)


def window_target(cfg: Config, spec: EnvSpec, target_params, w: Window) -> chex.Array:
    """n-step target for ONE window (obs [n + 1, O]): eq. 46 (soft) or the n-step Q-learning return."""
    q = q_values(cfg, spec, target_params, w.obs)  # [n + 1, A]
    v = jax.vmap(lambda x: state_value(cfg, x))(q)  # [n + 1]
    penalty = jax.vmap(lambda x: step_penalty(cfg, x))(q[:-1])  # [n]
    discount = cfg.gamma * (1.0 - w.terminated)
    if is_soft(cfg):
        return ops.n_step_soft_q_target(w.reward, discount, v[1:], w.cut, penalty)
    return ops.entropy_regularised_returns(w.reward, discount, v[1:], w.cut, penalty)[0]


def targets(cfg: Config, spec: EnvSpec, target_params, batch) -> chex.Array:
    """[B] targets of a Transition or Window batch, without gradient."""
    one = window_target if isinstance(batch, Window) else transition_target
    return jax.lax.stop_gradient(jax.vmap(lambda b: one(cfg, spec, target_params, b))(batch))


def first_step(batch) -> tuple[chex.Array, chex.Array]:
    """(obs [B, O], action index [B]) of the transitions whose Q the update moves."""
    obs = batch.obs[:, 0] if isinstance(batch, Window) else batch.obs
    action = batch.action[:, 0] if isinstance(batch, Window) else batch.action
    return obs, jnp.round(action[..., 0]).astype(jnp.int32)


def loss_fn(cfg: Config, spec: EnvSpec, params, target_params, batch) -> tuple:
    """Mean TD loss of Q(s_t, a_t) against the target network's `targets`."""
    y = targets(cfg, spec, target_params, batch)
    obs, action = first_step(batch)
    q_sa = jnp.take_along_axis(q_values(cfg, spec, params, obs), action[:, None], axis=-1)[:, 0]
    td = q_sa - y
    per = optax.huber_loss(td, delta=1.0) if cfg.loss == "huber" else 0.5 * jnp.square(td)
    loss = jnp.mean(per)
    return loss, {"q_loss": loss, "q_mean": jnp.mean(q_sa), "target_mean": jnp.mean(y)}


# ------------------------------------------------------------------------------------------- update


def epsilon(cfg: Config, updates: chex.Array) -> chex.Array:
    """eps_start -> eps_end linearly over the first eps_decay updates, then eps_end."""
    frac = jnp.minimum(updates.astype(jnp.float32) / cfg.eps_decay, 1.0)
    return cfg.eps_start + frac * (cfg.eps_end - cfg.eps_start)


def update(cfg: Config, spec: EnvSpec, state: State, batch, key: chex.PRNGKey) -> tuple[State, dict]:
    """One gradient step on the TD loss; the target network becomes a copy of the updated online
    network when this is update number k * target_every."""
    del key
    params, opt_state, metrics, grads = gradient_step(lambda p: loss_fn(cfg, spec, p, state.target_params, batch),
                                                     optimizer(cfg), state.params, state.opt_state)
    updates = state.updates + 1
    copy = updates % cfg.target_every == 0
    target = jax.tree.map(lambda new, old: jnp.where(copy, new, old), params, state.target_params)
    metrics = {**metrics, "epsilon": epsilon(cfg, state.updates), "grad_norm": optax.global_norm(grads)}
    return State(params, target, opt_state, updates), metrics


def act(cfg: Config, spec: EnvSpec, state: State, obs: chex.Array, noise: chex.Array, key: chex.PRNGKey) -> tuple:
    """Epsilon-greedy action index as a float [1]; `noise` passes through."""
    explore_key, action_key = jax.random.split(key)
    q = q_values(cfg, spec, state.params, obs)
    random = jax.random.randint(action_key, (), 0, q.shape[-1])
    explore = jax.random.uniform(explore_key) < epsilon(cfg, state.updates)
    return jnp.where(explore, random, jnp.argmax(q)).astype(jnp.float32)[None], noise


def act_eval(cfg: Config, spec: EnvSpec, state: State, obs: chex.Array) -> chex.Array:
    """Greedy action index as a float [1]."""
    return jnp.argmax(q_values(cfg, spec, state.params, obs)).astype(jnp.float32)[None]


def make(cfg: Config, spec: EnvSpec) -> Agent:
    """The Q-learner bound to `cfg` and the task's spec, learning from windows of `window(cfg)` steps:
    the loops' protocol (softrl_jax/agent.py)."""
    return bind_spec(cfg, spec, init, act, act_eval, update, window(cfg))
