"""Entropy-regularised A2C and soft Q-learning run as A2C (Schulman, Chen & Abbeel 2017, Sec. 6.1, 6.3).

Shared by the on-policy modules `a2c_naive`, `a2c_soft` and `soft_dqn_pg`, which differ only in the
loss (`update(..., variant)`); everything else is one A2C: a shared-torso actor-critic
(`networks.DiscreteHeads(hidden, (num_actions, 1), obs_shape)`: logits and V), synchronous rollouts of
`n_steps` x `num_envs` (softrl_jax/onpolicy.py), one RMSProp step per rollout on the mean loss with
the global gradient norm clipped. Every step k of a rollout looks n_steps - k steps ahead (A3C), and
returns stop at episode ends inside the rollout (`ops.entropy_regularised_returns`: the true final
observation bootstraps a truncation, a termination bootstraps nothing).

Variants, with KL_t = D_KL[pi_theta || pi-bar](s_t) (pi-bar uniform by default, `reference`):

- `naive` (eq. 79): G_t = sum_d gamma^d r_{t+d} + gamma^n V(s_{t+n}), loss eq. 84 + c eq. 85:
  -log pi(a_t|s_t) sg(G_t - V(s_t)) + tau KL_t + c/2 (V(s_t) - sg(G_t))^2.
- `proper` (eq. 80): the same loss, with the entropy-regularised return
  G_t = sum_d gamma^d (r_{t+d} - tau sg(KL_{t+d})) + gamma^n V(s_{t+n}); V regresses onto it, so V is
  the entropy-regularised value (the KL of the policy's own states, under stop-gradient).
- `soft_q` (Sec. 6.3): Q_theta(s, a) = V_theta(s) + tau (log pi_theta(a|s) - log pi-bar(a|s)), the
  dueling form of the paper (V + tau log pi) plus the constant tau log |A| for the uniform pi-bar (zero
  for `reference=entropy`), so that V_Q = V and pi_Q^B = pi exactly (eqs. 28-30). Loss
  1/2 (Q(s_t, a_t) - sg(y_t))^2 with the n-step soft target of eq. 46, y_t = tau KL_t + G_t (G_t the
  proper return above, bootstrapped with V_Q(s_{t+n}) = V(s_{t+n}) of the current network: no target
  network, pi as the behaviour policy, no epsilon). Gradients into the advantage stream
  tau (log pi - log pi-bar) are scaled by 1/tau and into the V stream by c (`scale_grad`), forward
  values unchanged.

  Gradient identity (tests/test_a2c.py): with G = y - tau KL_t, e(a) = tau (log pi(a)/pi-bar(a) - KL_t)
  (E_{a~pi} e = 0), the sampled gradient of one action is
      grad L_softq(a) = grad L_a2c(a) + e(a) (c grad V + grad log pi(a)) - tau grad KL_t,
  L_a2c = eq. 84 with Delta = G - V, + c eq. 85 with V-hat = G. Averaged over a ~ sg(pi) at one state
  with any per-action targets y(a), the extra terms cancel (E[e grad log pi] = tau grad KL_t): soft
  Q-learning's expected gradient IS the proper A2C gradient with value weight c.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

from softrl_jax import ops
from softrl_jax.agent import Agent, bind_on_policy
from softrl_jax.algos.base import gradient_step
from softrl_jax.config import fld
from softrl_jax.envs import EnvSpec
from softrl_jax.networks import DiscreteHeads
from softrl_jax.onpolicy import Rollout
from softrl_jax.onpolicy import check_loop as _check_onpolicy_loop

VARIANTS = ("naive", "proper", "soft_q")
OPTIMIZERS = ("rmsprop", "adam")
REFERENCES = ("uniform", "entropy")

BASELINES = "OpenAI baselines A2C defaults (baselines/a2c/a2c.py learn()), which the paper's Sec. 6.1 'well-tuned A2C' refers to"


@dataclasses.dataclass(frozen=True)
class Config:
    """Defaults: OpenAI baselines' A2C (the paper's Sec. 6.1 "well-tuned A2C"), tau 0.01 (Sec. 6.1)."""

    hidden: tuple[int, ...] = fld((128,), ge=1, doc="fully connected widths after the torso (MinAtar's network, "
                                                    "Young & Tian 2019: conv 16 then one FC 128; MLP for vectors)")
    n_steps: int = fld(5, ge=1, doc="rollout length per update (baselines A2C nsteps 5; paper Sec. 6.3 "
                                    "'updating parameters every 5 steps')")
    tau: float = fld(0.01, gt=0.0, doc="temperature / KL coefficient tau (paper Sec. 6.1: 0.01; baselines "
                                       "ent_coef 0.01)")
    gamma: float = fld(0.99, ge=0.0, le=1.0, doc="discount (baselines A2C 0.99)")
    value_coef: float = fld(0.5, ge=0.0, doc="c, the value loss weight, eq. 86 (paper Sec. 6.3 and baselines "
                                             "vf_coef: 0.5)")
    optimizer: str = fld("rmsprop", choices=OPTIMIZERS, doc="rmsprop (baselines A2C) or adam (ours, quick)")
    lr: float = fld(7e-4, gt=0.0, doc="learning rate, constant (baselines A2C lr 7e-4, with a linear decay)")
    rms_decay: float = fld(0.99, ge=0.0, lt=1.0, doc="RMSProp decay (baselines A2C alpha 0.99)")
    rms_eps: float = fld(1e-5, gt=0.0, doc="RMSProp epsilon (baselines A2C 1e-5)")
    clip_norm: float = fld(0.5, ge=0.0, doc="global gradient norm clip, 0: none (baselines A2C max_grad_norm 0.5)")
    reference: str = fld("uniform", choices=REFERENCES, doc="pi-bar: uniform (KL penalty, the paper's Atari "
                                                            "choice, Sec. 6.1) or entropy (counting measure: "
                                                            "the plain entropy bonus, eqs. 82-83)")


def check(cfg: Config) -> None:
    """Cross-field checks of the config: none beyond each field's own range."""


def check_loop(loop, cfg: Config) -> None:
    """The on-policy loop checks (softrl_jax/onpolicy.py): no warm-up, whole rollouts per chunk."""
    _check_onpolicy_loop(loop, cfg.n_steps)


class State(NamedTuple):
    params: Any
    opt: Any


# ---------------------------------------------------------------------------------------- network


def network(cfg: Config, spec: EnvSpec) -> DiscreteHeads:
    return DiscreteHeads(tuple(cfg.hidden), (spec.num_actions, 1), tuple(spec.obs_shape))


def forward(cfg: Config, spec: EnvSpec, params, obs: chex.Array) -> tuple[chex.Array, chex.Array]:
    """obs [..., O] -> (log pi [..., A], V [...])."""
    logits, v = network(cfg, spec).apply(params, obs)
    return jax.nn.log_softmax(logits), v


def log_prior(cfg: Config, num_actions: int) -> chex.Array | None:
    """log pi-bar [A] for the ops (None: uniform)."""
    return None if cfg.reference == "uniform" else jnp.zeros((num_actions,), jnp.float32)


def optimizer(cfg: Config) -> optax.GradientTransformation:
    opt = (optax.rmsprop(cfg.lr, decay=cfg.rms_decay, eps=cfg.rms_eps) if cfg.optimizer == "rmsprop"
           else optax.adam(cfg.lr))
    return optax.chain(optax.clip_by_global_norm(cfg.clip_norm), opt) if cfg.clip_norm > 0 else opt


def init(cfg: Config, spec: EnvSpec, key: chex.PRNGKey) -> State:
    params = network(cfg, spec).init(key, jnp.zeros((spec.obs_size,)))
    return State(params, optimizer(cfg).init(params))


def act(cfg: Config, spec: EnvSpec, state: State, obs: chex.Array, key: chex.PRNGKey) -> chex.Array:
    """a ~ pi(.|s): the index as a float array [1]."""
    log_pi, _ = forward(cfg, spec, state.params, obs)
    return jax.random.categorical(key, log_pi).astype(jnp.float32)[None]


def act_eval(cfg: Config, spec: EnvSpec, state: State, obs: chex.Array) -> chex.Array:
    """Greedy action argmax_a pi(a|s), [1]."""
    log_pi, _ = forward(cfg, spec, state.params, obs)
    return jnp.argmax(log_pi).astype(jnp.float32)[None]


# ------------------------------------------------------------------------------------------ losses


def scale_grad(x: chex.Array, s) -> chex.Array:
    """x forward; s * grad backward (= s x + (1 - s) sg(x), with the forward value exact)."""
    return jax.lax.stop_gradient(x) + s * (x - jax.lax.stop_gradient(x))


def returns(cfg: Config, rollout: Rollout, v_next: chex.Array, penalty: chex.Array) -> chex.Array:
    """[T, N] n-step returns of every step (ops.entropy_regularised_returns per environment)."""
    discount = cfg.gamma * (1.0 - rollout.terminated)
    per_env = jax.vmap(ops.entropy_regularised_returns, in_axes=1, out_axes=1)
    return per_env(rollout.reward, discount, v_next, rollout.cut, penalty)


def loss(cfg: Config, spec: EnvSpec, params, rollout: Rollout, variant: str) -> tuple[chex.Array, dict]:
    """The mean loss over the rollout [T, N] of `variant` (module docstring), and metrics."""
    log_pi, v = forward(cfg, spec, params, rollout.obs)  # [T, N, A], [T, N]
    _, v_next = forward(cfg, spec, params, rollout.next_obs)
    v_next = jax.lax.stop_gradient(v_next)
    prior = log_prior(cfg, spec.num_actions)
    per_step = lambda f: jax.vmap(jax.vmap(f))  # noqa: E731  [T, N]
    kl = per_step(lambda lp: ops.kl_to_prior(lp, prior))(log_pi)
    tau_kl = cfg.tau * jax.lax.stop_gradient(kl)
    g = returns(cfg, rollout, v_next, jnp.zeros_like(tau_kl) if variant == "naive" else tau_kl)
    action = rollout.action[..., 0].astype(jnp.int32)
    metrics = {"v_mean": jnp.mean(v), "return_mean": jnp.mean(g), "entropy": -jnp.mean(jnp.sum(jnp.exp(log_pi) * log_pi, -1)),
               "kl": jnp.mean(kl)}
    if variant == "soft_q":
        y = jax.lax.stop_gradient(tau_kl + g)  # eq. 46
        log_ratio = jnp.take_along_axis(log_pi, action[..., None], -1)[..., 0]
        if prior is not None:
            log_ratio = log_ratio - prior[action]
        else:
            log_ratio = log_ratio + jnp.log(spec.num_actions)
        q = scale_grad(v, cfg.value_coef) + scale_grad(cfg.tau * log_ratio, 1.0 / cfg.tau)
        total = jnp.mean(0.5 * jnp.square(q - y))
        return total, {**metrics, "loss": total, "q_loss": total, "q_mean": jnp.mean(q)}
    policy = jnp.mean(per_step(lambda lp, a, adv: ops.a2c_policy_loss(lp, a, adv, cfg.tau, prior))(
        log_pi, action, g - v))
    value = jnp.mean(per_step(ops.value_loss)(v, g))
    total = policy + cfg.value_coef * value
    return total, {**metrics, "loss": total, "policy_loss": policy, "value_loss": value}


def update(cfg: Config, spec: EnvSpec, state: State, rollout: Rollout, key: chex.PRNGKey,
           variant: str = "proper") -> tuple[State, dict]:
    """One optimiser step on the rollout's mean loss of `variant`."""
    del key
    params, opt, metrics, grads = gradient_step(lambda p: loss(cfg, spec, p, rollout, variant), optimizer(cfg),
                                                state.params, state.opt)
    return State(params, opt), {**metrics, "grad_norm": optax.global_norm(grads)}


def make_variant(variant: str):
    """`make(cfg, spec) -> Agent` of the A2C family member with this loss (`update`'s `variant`)."""
    def make(cfg: Config, spec: EnvSpec) -> Agent:
        return bind_on_policy(cfg, spec, init, act, act_eval, functools.partial(update, variant=variant))

    return make
