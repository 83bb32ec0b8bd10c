"""softrl-jax: a JAX-compiled benchmarking suite for maximum-entropy reinforcement learning."""

__version__ = "0.1.0"
