"""What the bench sections share: their settings, timing, the matmul peak and an update program."""

from __future__ import annotations

import time

SECTIONS = ("loop", "roofline", "replay", "compile", "autoreset", "checkpoint")
HUMANOID = (244, 17)  # Brax humanoid: observation and action sizes
DEMO_FLAGS = ["--algo=dspg", "--env=gymnax:Pendulum-v1", "--seeds=4", "--seed=0", "--preset=quick"]
AUTORESET_ENVS = ("brax:hopper", "brax:inverted_double_pendulum")
# (label, algo, preset, overrides, seeds, obs size, action size) of the update-only roofline rows
UPDATE_SIZES = [("SAC 2x256, batch 256", "sac", "modern", {}, 4, 11, 3),
                ("DSPG paper: 2x512, batch 100, M = 64", "dspg", "paper", {}, 1, 11, 3),
                ("DSPG quick: 2x64, batch 128, M = 32", "dspg", "quick", {}, 4, 3, 1),
                ("SQL quick (SVGD, 16 particles)", "sql", "quick", {}, 4, 3, 1)]


def _best_time(fn, reps: int = 3) -> float:
    """Best wall time of `reps` calls of fn (which blocks until its result is ready)."""
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def matmul_program(n: int):
    """(compiled n x n float32 matmul, its two operands) on the default device."""
    import jax

    a = jax.random.normal(jax.random.PRNGKey(0), (n, n))
    b = jax.random.normal(jax.random.PRNGKey(1), (n, n))
    return jax.jit(lambda a, b: a @ b).lower(a, b).compile(), (a, b)


def matmul_flops_per_s(n: int = 1024, reps: int = 10) -> float:
    """Dense float32 matmul FLOP/s of the default device: the machine's practical peak for our dots.
    The FLOPs are XLA's own count of the compiled program (2 n^3, tests/test_bench.py)."""
    import jax

    compiled, args = matmul_program(n)
    jax.block_until_ready(compiled(*args))
    return _flops(compiled) / _best_time(lambda: jax.block_until_ready(compiled(*args)), reps)


def _flops(compiled) -> float:
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return float(cost.get("flops", 0.0))


def update_program(algorithm, cfg, seeds: int, obs_size: int, action_size: int, n_updates: int, options):
    """(one vmapped update compiled, n_updates scanned compiled, states, batches, keys) on random batches."""
    import jax
    import jax.numpy as jnp

    from softrl_jax.envs import Transition
    from softrl_jax.compiled import compile_lowered

    keys = jax.random.split(jax.random.PRNGKey(0), seeds)
    states = jax.vmap(lambda k: algorithm.init(cfg, k, obs_size, action_size))(keys)

    def batch(k):
        k1, k2, k3, k4 = jax.random.split(k, 4)
        b = cfg.batch_size
        return Transition(jax.random.normal(k1, (b, obs_size)),
                          jax.random.uniform(k2, (b, action_size), minval=-1, maxval=1),
                          jax.random.normal(k3, (b,)), jnp.zeros((b,)), jax.random.normal(k4, (b, obs_size)))

    batches = jax.vmap(batch)(keys)
    update = lambda s, b, k: algorithm.update(cfg, s, b, k)  # noqa: E731
    one = compile_lowered(jax.jit(jax.vmap(update)).lower(states, batches, keys), options)

    def many(s, b, k):
        return jax.lax.scan(lambda s, kk: (update(s, b, kk)[0], None), s, jax.random.split(k, n_updates))[0]

    scan = compile_lowered(jax.jit(jax.vmap(many)).lower(states, batches, keys), options)
    return one, scan, states, batches, keys
