"""The MaxEnt IRL experiment as ONE compiled program: seeds x demonstration-set sizes, vmapped.

For each seed: draw true reward weights (and, for objectworld, the objects), sample the largest
demonstration set from the true reward's maximum-entropy policy, then for every set size n fit
MaxEnt IRL and the baselines on the first n demonstrations and evaluate each learned reward
(`fit.evaluate`). `run(cfg)` returns numpy arrays [method, seed, size] per metric.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from softrl_jax.config import ConfigError, fld, validate
from softrl_jax.irl import fit, tasks
from softrl_jax.ops.maxent_irl import BACKUPS

BASELINES = ("projection", "frequency")
METHODS = ("maxent", *BASELINES)
METRICS = ("reward_correlation", "value_gap", "value", "optimal_value", "uniform_value")


@dataclasses.dataclass(frozen=True)
class IRLConfig:
    """Flags of experiments/maxent_irl.py (`--name=value`)."""

    task: str = fld("gridworld", choices=tasks.TASKS, doc="tabular task (softrl_jax/irl/tasks.py)")
    size: int = fld(10, ge=2, le=64, doc="grid side N (N x N states)")
    block: int = fld(2, ge=1, doc="gridworld macrocell side b (must divide size): (N/b)^2 features")
    goal: bool = fld(False, doc="gridworld: an absorbing goal in the far corner with its own feature")
    objects: int = fld(10, ge=2, doc="objectworld: objects on the grid")
    colours: int = fld(2, ge=1, doc="objectworld: object colours")
    slip: float = fld(0.1, ge=0.0, le=1.0, doc="probability that a move goes in a random compass direction")
    horizon: int = fld(32, ge=1, le=1000, doc="actions per demonstration, T")
    reward_scale: float = fld(1.0, gt=0.0, doc="true reward = scale * features @ w*; larger = demonstrations "
                                                "closer to optimal")
    demos: tuple = fld((1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024), ge=1, le=100_000,
                       doc="demonstration-set sizes (the curve); the summary reports the largest")
    seeds: int = fld(8, ge=1, le=1024, doc="independent seeds (true reward, demonstrations), vmapped")
    seed: int = fld(0, ge=0, doc="base PRNG seed")
    optimizer: str = fld("adam", choices=fit.OPTIMIZERS, doc="adam (optax) or eg, the paper's exponentiated "
                                                             "gradient")
    learning_rate: float = fld(0.0, ge=0.0, doc="optimiser step size; 0: the optimiser's default (adam 0.1, "
                                                 "eg 0.03)")
    iterations: int = fld(200, ge=1, le=100_000, doc="MaxEnt optimiser steps")
    l2: float = fld(0.0, ge=0.0, doc="Gaussian prior strength on the weights (0: plain maximum likelihood)")
    backup: str = fld("path", choices=BACKUPS, doc="path = Algorithm 1 (Ziebart 2008); causal = maximum causal "
                                                  "entropy (Ziebart 2010); demonstrations come from the same model")
    projection_iterations: int = fld(30, ge=1, doc="iterations of the projection-method baseline")

    def __post_init__(self):
        validate(self)
        if self.task == "gridworld" and self.size % self.block:
            raise ConfigError(f"--block={self.block} must divide --size={self.size}")
        if self.task == "objectworld" and self.objects > self.size * self.size:
            raise ConfigError(f"--objects={self.objects} is out of range; must be <= size^2 = {self.size ** 2}")
        if self.task == "objectworld" and self.colours > self.objects:
            raise ConfigError(f"--colours={self.colours} is out of range; must be <= --objects={self.objects}")
        if self.optimizer == "eg" and self.task != "gridworld":
            raise ConfigError("--optimizer=eg needs positive weights to suffice: only --task=gridworld (one-hot "
                              "macrocells); valid optimizers here: adam")
        if self.goal and self.task != "gridworld":
            raise ConfigError("--goal=true is a gridworld option; valid with --task=gridworld")


def make_task(cfg: IRLConfig, key) -> tuple[tasks.TabularMDP, jax.Array]:
    """(mdp, true weights w* [K]) for one seed."""
    k_task, k_weights = jax.random.split(key)
    if cfg.task == "gridworld":
        mdp = tasks.gridworld(cfg.size, cfg.block, cfg.slip, cfg.goal)
        cells = (cfg.size // cfg.block) ** 2
        # dense macrocell rewards in [0, 1] (Abbeel & Ng 2004 drew theirs at random too); the goal's
        # own weight 1 makes it worth reaching
        w = jax.random.uniform(k_weights, (cells,))
        if cfg.goal:
            w = jnp.concatenate([w - 1.0, jnp.ones((1,))])  # costs elsewhere, so paths head for the goal
        return mdp, cfg.reward_scale * w
    mdp = tasks.objectworld(k_task, cfg.size, cfg.colours, cfg.objects, max_distance=5, slip=cfg.slip)
    # linear analogue of Levine et al. (2011)'s reward: +1 within 3 of colour 0, -1 within 1 of colour 1
    w = jnp.zeros((cfg.colours, 5)).at[0, 2].set(1.0)
    if cfg.colours > 1:
        w = w.at[1, 0].set(-1.0)
    return mdp, cfg.reward_scale * w.reshape(-1)


def one_seed(cfg: IRLConfig, key) -> dict[str, jax.Array]:
    """Every metric [method, size] for one seed; methods = ("maxent", *BASELINES)."""
    k_task, k_demos = jax.random.split(key)
    mdp, w_true = make_task(cfg, k_task)
    r_true = mdp.features @ w_true
    sizes = jnp.asarray(cfg.demos)
    largest = max(cfg.demos)
    demos = fit.sample_demos(k_demos, mdp, fit.soft_optimal_policy(mdp, r_true, cfg.horizon, cfg.backup), largest)

    def per_size(n):
        mask = (jnp.arange(largest) < n).astype(jnp.result_type(float))
        lr = cfg.learning_rate or fit.DEFAULT_LEARNING_RATES[cfg.optimizer]
        maxent = fit.fit_maxent(mdp, demos, mask, optimizer=cfg.optimizer, learning_rate=lr,
                                iterations=cfg.iterations, l2=cfg.l2, backup=cfg.backup)
        weights = [maxent.theta, fit.fit_projection(mdp, demos, mask, cfg.projection_iterations),
                   fit.fit_frequency(mdp, demos, mask)]
        metrics = [fit.evaluate(mdp, r_true, mdp.features @ w, cfg.horizon) for w in weights]
        out = {k: jnp.stack([m[k] for m in metrics]) for k in METRICS}
        out["rewards"] = jnp.stack([mdp.features @ w for w in weights])  # [method, S]
        return out

    out = jax.vmap(per_size)(sizes)  # [size, method, ...]
    result = {k: jnp.swapaxes(v, 0, 1) for k, v in out.items() if k in METRICS}  # [method, size]
    result["learned_rewards"] = out["rewards"][-1]  # [method, S] at the largest set
    result["true_reward"] = r_true
    return result


def run(cfg: IRLConfig) -> dict[str, np.ndarray]:
    """All seeds at once: metrics [method, seed, size]; rewards [seed, ...]."""
    keys = jax.random.split(jax.random.PRNGKey(cfg.seed), cfg.seeds)
    out = jax.block_until_ready(jax.jit(jax.vmap(lambda k: one_seed(cfg, k)))(keys))
    out = {k: np.asarray(v) for k, v in out.items()}
    for k in METRICS:
        out[k] = np.swapaxes(out[k], 0, 1)  # [seed, method, size] -> [method, seed, size]
    return out

