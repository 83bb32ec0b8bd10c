r"""An algorithm of your own against softrl-jax's protocol: TD3 (Fujimoto, van Hoof & Meger 2018, "Addressing
Function Approximation Error in Actor-Critic Methods", arXiv 1802.09477) in one file.

What an algorithm provides (softrl_jax/agent.py, softrl_jax/algos/__init__.py):

1. a frozen `Config` whose fields carry their validation and cited source (`softrl_jax.config.fld`);
2. `check(cfg)` for cross-field values (raise ConfigError with one line);
3. `make(cfg, spec) -> Agent`: pure `init`, `act`, `act_eval` and `update` bound to the config and the
   task's EnvSpec (`softrl_jax.agent.bind_sized` adapts functions written for (obs_size, action_size));
4. `Presets` (softrl_jax/presets): named configurations, the source of every value, known differences;
5. an `AlgoSpec` registered with `softrl_jax.algos.register`: then `run_config`, `--explain`, the runner,
   sweeps and the benchmark treat it like the built-in algorithms.

Train it on gymnax Pendulum (a minute or two on a 2-core CPU; the runner writes config.json, metrics.jsonl,
checkpoints and a curve into --out):

    python examples/td3.py --env=gymnax:Pendulum-v1 --seeds=2 --total_steps=20000 --out=runs/td3
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

from softrl_jax import algos, ops
from softrl_jax.agent import Agent, bind_sized
from softrl_jax.algos import AlgoSpec
from softrl_jax.config import ConfigError, fld
from softrl_jax.envs import EnvSpec, Transition
from softrl_jax.networks import DeterministicPolicyNet, QNetwork
from softrl_jax.presets import Presets
from softrl_jax.presets.common import QUICK_LOOP, quick_source

PAPER = "TD3 (Fujimoto et al. 2018, arXiv 1802.09477)"


@dataclasses.dataclass(frozen=True)
class Config:
    hidden: tuple[int, ...] = fld((256, 256), ge=1, doc=f"hidden widths of actor and critics ({PAPER}, author code)")
    actor_lr: float = fld(3e-4, ge=0.0, doc="actor Adam learning rate (author code 3e-4)")
    critic_lr: float = fld(3e-4, ge=0.0, doc="critic Adam learning rate (author code 3e-4)")
    gamma: float = fld(0.99, ge=0.0, le=1.0, doc="discount (TD3 0.99)")
    tau: float = fld(0.005, ge=0.0, le=1.0, doc="Polyak rate of the targets (TD3 0.005)")
    noise_sigma: float = fld(0.1, ge=0.0, doc="std of the Gaussian exploration noise (TD3 0.1)")
    target_sigma: float = fld(0.2, ge=0.0, doc="std of the target policy smoothing noise (TD3 Sec. 5.3: 0.2)")
    target_clip: float = fld(0.5, ge=0.0, doc="clip of the target smoothing noise (TD3 Sec. 5.3: 0.5)")
    policy_delay: int = fld(2, ge=1, doc="critic updates per actor and target update (TD3 Sec. 5.2: d = 2)")
    batch_size: int = fld(256, ge=1, doc="minibatch (author code 256)")


def check(cfg: Config) -> None:
    """Cross-field checks: the smoothing clip must let the smoothing noise through."""
    if cfg.target_sigma > 0 and cfg.target_clip == 0:
        raise ConfigError(f"--target_clip=0 with --target_sigma={cfg.target_sigma:g} removes the target smoothing; "
                          "valid choices: --target_clip > 0, or --target_sigma=0")


class State(NamedTuple):
    actor: Any
    critic: Any  # twin Q networks stacked on a leading axis [2, ...]
    target_actor: Any
    target_critic: Any
    actor_opt: Any
    critic_opt: Any
    step: chex.Array  # [] int32 updates done (the actor moves every policy_delay-th)


def _nets(cfg: Config, action_size: int):
    return DeterministicPolicyNet(cfg.hidden, action_size), QNetwork(cfg.hidden)


def init(cfg: Config, key: chex.PRNGKey, obs_size: int, action_size: int) -> State:
    actor_net, q_net = _nets(cfg, action_size)
    k_actor, k_critic = jax.random.split(key)
    obs, act = jnp.zeros((obs_size,)), jnp.zeros((action_size,))
    actor = actor_net.init(k_actor, obs)
    critic = jax.vmap(lambda k: q_net.init(k, obs, act))(jax.random.split(k_critic, 2))
    return State(actor, critic, actor, critic, optax.adam(cfg.actor_lr).init(actor),
                 optax.adam(cfg.critic_lr).init(critic), jnp.zeros((), jnp.int32))


def twin_q(cfg: Config, critic, obs: chex.Array, action: chex.Array) -> chex.Array:
    """[2, ...]: both critics."""
    q_net = QNetwork(cfg.hidden)
    return jax.vmap(lambda p: q_net.apply(p, obs, action))(critic)


def target(cfg: Config, state: State, batch: Transition, key: chex.PRNGKey) -> chex.Array:
    """[B]: `r + discount * min_i Q'_i(s', clip(mu'(s') + clip(eps, -c, c), -1, 1))` (TD3 eq. 15,
    clipped double Q with target policy smoothing)."""
    actor_net = _nets(cfg, batch.action.shape[-1])[0]
    eps = jnp.clip(cfg.target_sigma * jax.random.normal(key, batch.action.shape), -cfg.target_clip, cfg.target_clip)
    next_action = jnp.clip(actor_net.apply(state.target_actor, batch.next_obs) + eps, -1.0, 1.0)
    q_next = jnp.min(twin_q(cfg, state.target_critic, batch.next_obs, next_action), axis=0)
    return jax.vmap(ops.ddpg_target)(batch.reward, cfg.gamma * (1.0 - batch.terminated), q_next)


def update(cfg: Config, state: State, batch: Transition, key: chex.PRNGKey) -> tuple[State, dict]:
    """Both critics toward the shared target; every `policy_delay`-th update also the actor (deterministic
    policy gradient through Q_1) and the Polyak targets."""
    y = jax.lax.stop_gradient(target(cfg, state, batch, key))

    def critic_loss(critic):
        q = twin_q(cfg, critic, batch.obs, batch.action)  # [2, B]
        return jnp.mean(jnp.sum((q - y) ** 2, axis=0))

    loss_c, grads_c = jax.value_and_grad(critic_loss)(state.critic)
    updates, critic_opt = optax.adam(cfg.critic_lr).update(grads_c, state.critic_opt)
    critic = optax.apply_updates(state.critic, updates)

    actor_net = _nets(cfg, batch.action.shape[-1])[0]

    def actor_loss(actor):
        q1 = twin_q(cfg, critic, batch.obs, actor_net.apply(actor, batch.obs))[0]
        return jnp.mean(jax.vmap(ops.ddpg_actor_loss)(q1))

    loss_a, grads_a = jax.value_and_grad(actor_loss)(state.actor)
    updates, new_actor_opt = optax.adam(cfg.actor_lr).update(grads_a, state.actor_opt)
    delayed = (state.step + 1) % cfg.policy_delay == 0
    keep = lambda new, old: jax.tree.map(lambda a, b: jnp.where(delayed, a, b), new, old)  # noqa: E731
    actor = keep(optax.apply_updates(state.actor, updates), state.actor)
    new = State(actor, critic, keep(optax.incremental_update(actor, state.target_actor, cfg.tau), state.target_actor),
                keep(optax.incremental_update(critic, state.target_critic, cfg.tau), state.target_critic),
                keep(new_actor_opt, state.actor_opt), critic_opt, state.step + 1)
    return new, {"critic_loss": loss_c, "actor_loss": loss_a, "q_mean": jnp.mean(y),
                 "actor_grad_norm": optax.global_norm(grads_a)}


def act(cfg: Config, state: State, obs: chex.Array, noise: chex.Array, key: chex.PRNGKey) -> tuple:
    eps = cfg.noise_sigma * jax.random.normal(key, noise.shape)
    return jnp.clip(_nets(cfg, noise.shape[-1])[0].apply(state.actor, obs) + eps, -1.0, 1.0), noise


def act_eval(cfg: Config, state: State, obs: chex.Array) -> chex.Array:
    action_size = jax.tree.leaves(state.actor)[-1].shape[-1]
    return _nets(cfg, action_size)[0].apply(state.actor, obs)


def make(cfg: Config, spec: EnvSpec) -> Agent:
    """TD3 bound to `cfg` and the task's sizes: the protocol (softrl_jax/agent.py)."""
    return bind_sized(cfg, spec, init, act, act_eval, update)


# The presets: `paper` is the authors' code (github sfujim/TD3 main.py); `quick` the suite's CPU loop.
TD3 = Presets(
    values={"paper": {"updates_per_step": 1, "buffer_size": 1_000_000, "warmup_steps": 25_000},
            "quick": {"hidden": (64, 64), "actor_lr": 1e-3, "critic_lr": 1e-3, "batch_size": 128, **QUICK_LOOP}},
    sources={"paper": {"*": "github sfujim/TD3 main.py: start_timesteps 25e3 uniform steps, replay 1e6, one update "
                            "per environment step"},
             "quick": {"*": quick_source("test_example_algorithm.py")}},
    differences={"paper": ["evaluation: the suite's protocol; the authors evaluate 10 episodes every 5e3 steps"],
                 "quick": ["not a paper configuration: sized for a CPU"]})

SPEC = AlgoSpec("td3", "__main__" if __name__ == "__main__" else __name__,
                f"{'__main__' if __name__ == '__main__' else __name__}:TD3", "continuous", "off_policy")


def main(argv=None) -> int:
    """`python examples/td3.py [train flags]`: registers td3 and trains it like `python -m softrl_jax.train`."""
    from softrl_jax import train

    algos.register(SPEC)
    argv = sys.argv[1:] if argv is None else list(argv)
    return train.main(["--algo=td3", "--preset=quick", *argv])


if __name__ == "__main__":
    sys.exit(main())
