"""Flax MLPs: soft Q critics (scalar and categorical), Gaussian policy heads, deterministic policies.

Two critic options, both off by default (the default modules and parameter trees are unchanged):

- `layer_norm=True`: each hidden layer is Dense -> LayerNorm -> ReLU (Brax's `q_network_layer_norm`,
  FastTD3's critic option; Ball et al. 2023, "Efficient Online RL with Offline Data", Sec. 4.2).
  LayerNorm's parameters sit beside the Dense ones in the same MLP (`LayerNorm_0`, `LayerNorm_1`, ...);
  the Dense layers keep their names.
- `dtype=jnp.bfloat16` (mixed precision): the Dense (and LayerNorm) layers compute in that dtype
  while their parameters stay float32 (flax `param_dtype`); every module casts its outputs back to
  float32, so log-probabilities, softmaxes and losses are float32 maths. `dtype=None` (the default)
  is flax's own default: computation in the dtype of the inputs and parameters (float32).

Options of DDPG's networks after Lillicrap et al. 2015 (all off by default; the default trees and
numbers are unchanged):

- `batch_norm=True` (MLP, DeterministicPolicyNet, and a critic's layers before the action): BatchNorm on
  the network's input and in every hidden layer as Dense (no bias) -> BatchNorm -> ReLU, the layout of
  rllab's DDPG networks (`rllab/core/lasagne_layers.py` `batch_norm`: the Dense loses its bias, which
  the normalisation's mean subtraction makes redundant). Call with `train=True` and
  `mutable=["batch_stats"]` for minibatch statistics (running averages updated by `batch_norm_momentum`); the
  default `train=False` normalises by the running averages. Variances use the two-pass formula
  (flax `use_fast_variance=False`): unnormalised states can have means far larger than their spread.
- `action_layer=k` (critics): the action joins the critic after its k-th hidden layer instead of at the
  input; the layers before it sit in a submodule named `state_layers` and the rest keep the name `MLP_0`.
- `fan_in_init=True`: hidden-layer weights and biases ~ U[-1/sqrt(f), 1/sqrt(f)], f the layer's fan-in;
  `final_init=x > 0`: the output layer's weights and biases ~ U[-x, x] (Lillicrap et al. 2015, Sec. 7).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from softrl_jax import ops
from softrl_jax.config import ConfigError, fld

STD_HEADS = ("sigmoid", "log_std")
COMPUTE_DTYPES = ("float32", "bfloat16")


def compute_dtype(name: str) -> Any:
    """Config value -> flax `dtype=`: "float32" -> None (flax's default, bit-identical to no dtype),
    "bfloat16" -> jnp.bfloat16."""
    if name not in COMPUTE_DTYPES:
        raise ValueError(f"compute_dtype={name!r}; valid choices: {', '.join(COMPUTE_DTYPES)}")
    return None if name == "float32" else jnp.bfloat16


def categorical_support(v_min: float, v_max: float, num_atoms: int) -> jax.Array:
    """[num_atoms] evenly spaced atoms from v_min to v_max (C51's support, float32)."""
    return jnp.linspace(v_min, v_max, num_atoms, dtype=jnp.float32)


def check_categorical_support(v_min: float, v_max: float, num_atoms: int) -> None:
    """Raise ConfigError unless v_min < v_max are finite and num_atoms >= 2 (every algorithm's check)."""
    if not (math.isfinite(v_min) and math.isfinite(v_max) and v_min < v_max):
        raise ConfigError(f"--v_min={v_min} and --v_max={v_max} are not valid; the c51 support needs finite "
                          "--v_min < --v_max")
    if num_atoms < 2:
        raise ConfigError(f"--num_atoms={num_atoms} is out of range; must be >= 2")


# The critic options that SAC, DDPG and DSPG share, as config fields (`field: type = critic_option(name)`
# in each Config), so their defaults and docs are written once.
_CRITIC_OPTIONS = {
    "critic_layer_norm": dict(default=False, doc="Dense -> LayerNorm -> ReLU in the critic's hidden layers "
                                                 "(Brax q_network_layer_norm, FastTD3)"),
    "num_atoms": dict(default=101, ge=2, doc="atoms of the c51 support (FastTD3 101)"),
    "v_min": dict(default=-250.0, doc="lowest atom of the c51 support (FastTD3's default -250)"),
    "v_max": dict(default=250.0, doc="highest atom of the c51 support (FastTD3's default 250)"),
    "compute_dtype": dict(default="float32", choices=COMPUTE_DTYPES,
                          doc="dtype of the networks' layer maths; parameters and losses stay float32"),
}


def critic_option(name: str):
    """A fresh dataclass field for the shared critic option `name` (see _CRITIC_OPTIONS)."""
    kwargs = dict(_CRITIC_OPTIONS[name])
    return fld(kwargs.pop("default"), **kwargs)


def q_network(cfg, **options) -> "QNetwork":
    """The critic an algorithm config asks for (fields hidden, critic, num_atoms, critic_layer_norm,
    compute_dtype): categorical when critic == "c51", else scalar. `options`: the critics' further
    fields (action_layer, batch_norm, batch_norm_momentum, fan_in_init, final_init)."""
    num_atoms = cfg.num_atoms if cfg.critic == "c51" else 0
    return QNetwork(cfg.hidden, cfg.critic_layer_norm, compute_dtype(cfg.compute_dtype), num_atoms=num_atoms, **options)


def output_width(params, hidden: Sequence[int]) -> int:
    """The width of a network's first layer after its `hidden` ones (`Dense_{len(hidden)}`: the
    output layer of an MLP, the loc head of `GaussianPolicyNet`), looked up inside a single wrapping
    module such as `DeterministicPolicyNet`'s MLP. The pure maths functions keep only arrays in their
    state, so this is how they recover the action size A from an actor's parameters."""
    layer = f"Dense_{len(hidden)}"
    p = params["params"]
    while layer not in p:
        (p,) = p.values()
    return p[layer]["kernel"].shape[-1]


def c51_support(cfg) -> jax.Array:
    """[N] the c51 atoms `linspace(v_min, v_max, num_atoms)` of an algorithm config."""
    return categorical_support(cfg.v_min, cfg.v_max, cfg.num_atoms)


def c51_mean(cfg, logits: jax.Array) -> jax.Array:
    """c51 logits `[..., N]` -> `Q = E[Z]` `[...]` on the config's support."""
    return jnp.vectorize(ops.categorical_mean, signature="(n),(n)->()")(logits, c51_support(cfg))


def _to_float32(x, dtype):
    """Cast a network output back to float32 under mixed precision (a no-op when dtype is None)."""
    return x if dtype is None else x.astype(jnp.float32)


def uniform_init(bound: float) -> Callable:
    """Initializer drawing U[-bound, bound] (Lillicrap et al. 2015, Sec. 7)."""

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


def _dense_init(fan_in: int, final: bool, fan_in_init: bool, final_init: float) -> dict:
    """Dense kernel_init/bias_init keywords: U[-final_init, final_init] for an output layer when
    final_init > 0, U[-1/sqrt(fan_in), 1/sqrt(fan_in)] when fan_in_init, else {} (flax's defaults)."""
    if final and final_init > 0:
        bound = final_init
    elif fan_in_init:
        bound = 1.0 / math.sqrt(fan_in)
    else:
        return {}
    return {"kernel_init": uniform_init(bound), "bias_init": uniform_init(bound)}


class MLP(nn.Module):
    """ReLU MLP with a linear output layer of `out` units (out=0: none; the MLP ends with its last
    hidden layer's ReLU). x [..., I] -> [..., out].

    layer_norm: Dense -> LayerNorm -> ReLU in every hidden layer (not after the output layer).
    dtype: computation dtype of the layers (None: float32 as the inputs); outputs are float32.
    batch_norm: BatchNorm on the input, and Dense (no bias) -> BatchNorm -> ReLU in every hidden layer
        (module docstring); `train` picks minibatch statistics (True) or the running averages (False).
    fan_in_init, final_init: initialisation of the hidden and output layers (module docstring).
    """

    hidden: Sequence[int]
    out: int
    layer_norm: bool = False
    dtype: Any = None
    batch_norm: bool = False
    batch_norm_momentum: float = 0.99
    fan_in_init: bool = False
    final_init: float = 0.0

    def _batch_norm(self, x, train: bool):
        return nn.BatchNorm(use_running_average=not train, momentum=self.batch_norm_momentum, dtype=self.dtype,
                            use_fast_variance=False)(x)

    @nn.compact
    def __call__(self, x, train: bool = False):
        if self.batch_norm:
            x = self._batch_norm(x, train)
        for width in self.hidden:
            init = _dense_init(x.shape[-1], False, self.fan_in_init, self.final_init)
            x = nn.Dense(width, use_bias=not self.batch_norm, dtype=self.dtype, **init)(x)
            if self.batch_norm:
                x = self._batch_norm(x, train)
            if self.layer_norm:
                x = nn.LayerNorm(dtype=self.dtype)(x)
            x = nn.relu(x)
        if self.out:
            init = _dense_init(x.shape[-1], True, self.fan_in_init, self.final_init)
            x = nn.Dense(self.out, dtype=self.dtype, **init)(x)
        return _to_float32(x, self.dtype)


def _critic(module, obs, action, out: int, train: bool):
    """The body of QNetwork (called inside its compact __call__):
    obs [..., O], action [..., A] -> [..., out]. The layers before the action (`state_layers`: the
    first `action_layer` hidden layers, batch-normalised with the state input when `batch_norm`)
    see the state only; `MLP_0` takes their output joined with the action."""
    k = module.action_layer
    if k > 0 or module.batch_norm:
        obs = MLP(module.hidden[:k], 0, module.layer_norm, module.dtype, module.batch_norm,
                  module.batch_norm_momentum, module.fan_in_init, name="state_layers")(obs, train)
    x = jnp.concatenate([obs, action], axis=-1)
    return MLP(module.hidden[k:], out, module.layer_norm, module.dtype, fan_in_init=module.fan_in_init,
               final_init=module.final_init)(x)


class QNetwork(nn.Module):
    """The one critic. Scalar (num_atoms 0): Q(s, a), obs [..., O], action [..., A] -> [...].
    Distributional (num_atoms N > 0, the C51 critic of Bellemare, Dabney & Munos 2017 and FastTD3's
    DistributionalQNetwork): the same inputs -> logits [..., N] of `Z(s, a)` on a fixed support, which
    lives outside the network (`softrl_jax.ops.categorical_mean` maps logits to Q).
    Options: module docstring."""

    hidden: Sequence[int]
    layer_norm: bool = False
    dtype: Any = None
    action_layer: int = 0
    batch_norm: bool = False
    batch_norm_momentum: float = 0.99
    fan_in_init: bool = False
    final_init: float = 0.0
    num_atoms: int = 0

    @nn.compact
    def __call__(self, obs, action, train: bool = False):
        if self.num_atoms:
            return _critic(self, obs, action, self.num_atoms, train)
        return _critic(self, obs, action, 1, train)[..., 0]


class GaussianPolicyNet(nn.Module):
    """obs [..., O] -> (loc [..., A], scale [..., A]).

    std_head "sigmoid": scale = sigmoid(x) + min_std (DSPG paper: identity mean, sigmoid std; the
    authors' code adds 1e-4). std_head "log_std": log_std squashed into [log_std_min, log_std_max]
    by tanh, scale = exp(log_std) (SAC, CleanRL: -5 and 2). Under mixed precision (`dtype`) the two
    heads' outputs are cast to float32 before the scale is formed.
    """

    hidden: Sequence[int]
    action_size: int
    std_head: str = "sigmoid"
    min_std: float = 1e-4
    log_std_min: float = -5.0
    log_std_max: float = 2.0
    dtype: Any = None

    @nn.compact
    def __call__(self, obs):
        h = obs
        for width in self.hidden:
            h = nn.relu(nn.Dense(width, dtype=self.dtype)(h))
        loc = _to_float32(nn.Dense(self.action_size, dtype=self.dtype)(h), self.dtype)
        raw = _to_float32(nn.Dense(self.action_size, dtype=self.dtype)(h), self.dtype)
        if self.std_head == "sigmoid":
            scale = jax.nn.sigmoid(raw) + self.min_std
        elif self.std_head == "log_std":
            span = self.log_std_max - self.log_std_min
            scale = jnp.exp(self.log_std_min + 0.5 * span * (jnp.tanh(raw) + 1.0))
        else:
            raise ValueError(f"std_head={self.std_head!r}; valid choices: {', '.join(STD_HEADS)}")
        return loc, scale


class DeterministicPolicyNet(nn.Module):
    """obs [..., O] -> action [..., A] in [-1, 1] (tanh output, taken in float32). Options (batch_norm,
    fan_in_init, final_init): module docstring."""

    hidden: Sequence[int]
    action_size: int
    dtype: Any = None
    batch_norm: bool = False
    batch_norm_momentum: float = 0.99
    fan_in_init: bool = False
    final_init: float = 0.0

    @nn.compact
    def __call__(self, obs, train: bool = False):
        return jnp.tanh(MLP(self.hidden, self.action_size, dtype=self.dtype, batch_norm=self.batch_norm,
                            batch_norm_momentum=self.batch_norm_momentum, fan_in_init=self.fan_in_init,
                            final_init=self.final_init)(obs, train))


# ------------------------------------------------------------------------- discrete-action networks

class DiscreteTorso(nn.Module):
    """The shared body of the discrete-action networks (Q-networks, actor-critics).

    `obs_shape` empty (classic control): an MLP of `hidden` with ReLU. `obs_shape` (H, W, C)
    (MinAtar): the flat observation is reshaped to the image and passed through MinAtar's network
    (Young & Tian 2019, github.com/kenjyoung/MinAtar examples/dqn.py): one 3x3 convolution of 16
    filters, stride 1, VALID padding, ReLU, then the `hidden` fully connected layers with ReLU
    (MinAtar: one of 128).
    """

    hidden: Sequence[int]
    obs_shape: tuple = ()
    conv_features: int = 16

    @nn.compact
    def __call__(self, obs):
        x = obs
        if self.obs_shape:
            x = x.reshape(x.shape[:-1] + tuple(self.obs_shape))
            x = nn.relu(nn.Conv(self.conv_features, (3, 3), strides=1, padding="VALID")(x))
            x = x.reshape(x.shape[:-3] + (-1,))
        for h in self.hidden:
            x = nn.relu(nn.Dense(h)(x))
        return x


class DiscreteHeads(nn.Module):
    """`DiscreteTorso` then linear heads: `outputs` is a tuple of head sizes, e.g. (A,) for a
    Q-network's Q(s, .), (A, 1) for an actor-critic's logits and value (the torso shared, as in A2C).
    Returns one array per head, the value head squeezed to []."""

    hidden: Sequence[int]
    outputs: tuple
    obs_shape: tuple = ()

    @nn.compact
    def __call__(self, obs):
        x = DiscreteTorso(tuple(self.hidden), tuple(self.obs_shape))(obs)
        outs = tuple(nn.Dense(k)(x) for k in self.outputs)
        return tuple(o[..., 0] if k == 1 else o for o, k in zip(outs, self.outputs))
