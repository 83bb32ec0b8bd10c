"""The four compiled programs of a run: init, the chunk's resets, the training chunk and the evaluation.

Each environment function compiles once and on its own. `compile_programs` lowers them for a
`devices.Layout` and compiles them on worker threads, the longest (the chunk) first, while the main
thread traces the next (XLA releases the GIL).
"""

from __future__ import annotations

import concurrent.futures
import os
import time
from typing import Any, NamedTuple


def compiler_options(loop, platform: str) -> dict | None:
    """XLA options for every compiled program of a run. On CPU, YNNPACK's dot fusions are off unless
    --cpu_ynn_fusion: measured with `make bench` on a 2-core CPU they made updates of 2x64 to 2x256
    networks up to 40% slower than XLA's own dot emitter (and never more than 5% faster)."""
    if platform == "cpu" and not loop.cpu_ynn_fusion:
        return {"xla_cpu_experimental_ynn_fusion_type": ""}
    return None


def compile_lowered(lowered, options: dict | None):
    """`lowered.compile(compiler_options=options)`; an XLA without one of the options (another jax
    version) compiles with its defaults instead of failing."""
    try:
        return lowered.compile(compiler_options=options)
    except Exception as e:  # jax.errors.JaxRuntimeError: INVALID_ARGUMENT: No such compile option
        if not options or "No such compile option" not in str(e):
            raise
        return lowered.compile()


class Programs(NamedTuple):
    """A run's compiled programs over the padded run axis, and what compiling them took."""

    init: Any  # (keys, hparams) -> carry
    resets: Any  # carry -> starts (the chunk's one batched environment reset)
    chunk: Any  # (carry, hparams, starts) -> (carry, metrics); the carry is donated
    evaluate: Any  # (carry, hparams, starts) -> eval_return [runs]
    carry_shape: Any  # jax.ShapeDtypeStruct tree of the carry
    compile_s: float  # lowering + XLA compilation of all four (persistent cache hits included)
    by_program: dict  # seconds from tracing to a compiled program: chunk, eval, resets, init


def compile_programs(trainer, layout, keys, hparams, options: dict | None) -> Programs:
    """Lower and compile `trainer.vmap_split()` for `layout`. Lowering traces everything: a traced
    field used in Python control flow fails here, before any file is written."""
    import jax

    t0 = time.perf_counter()
    shard, carry_shard = layout.shard, layout.shardings(trainer.carry_axes)
    init_fn, resets_fn, chunk_fn, eval_fn = trainer.vmap_split()
    vinit = jax.jit(init_fn, in_shardings=(shard, shard), out_shardings=carry_shard)
    vresets = jax.jit(resets_fn, in_shardings=(carry_shard,), out_shardings=shard)
    vchunk = jax.jit(chunk_fn, in_shardings=(carry_shard, shard, shard), out_shardings=(carry_shard, shard),
                     donate_argnums=0)
    veval = jax.jit(eval_fn, in_shardings=(carry_shard, shard, shard), out_shardings=shard)
    # Two worker threads on a CPU. Measured on 2 cores for MJX IDP: 26.6 s with two workers, 27.9 s
    # with one, 30.7 s with four (they thrash). A GPU's host compiles all four at once when it has the cores.
    workers = 2 if layout.devices[0].platform == "cpu" else max(2, min(4, os.cpu_count() or 1))
    by_program: dict[str, float] = {}

    def timed_compile(name: str, lowered, started: float):
        compiled = compile_lowered(lowered, options)
        by_program[name] = time.perf_counter() - started  # from the start of its tracing
        return compiled

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        carry_shape = jax.eval_shape(vinit, keys, hparams)
        starts_shape = jax.eval_shape(vresets, carry_shape)
        futures = []
        for name, f, args in (("chunk", vchunk, (carry_shape, hparams, starts_shape)),
                              ("eval", veval, (carry_shape, hparams, starts_shape)),
                              ("resets", vresets, (carry_shape,)), ("init", vinit, (keys, hparams))):
            started = time.perf_counter()
            futures.append(pool.submit(timed_compile, name, f.lower(*args), started))
        chunk_c, eval_c, resets_c, init_c = (f.result() for f in futures)
    return Programs(init_c, resets_c, chunk_c, eval_c, carry_shape, time.perf_counter() - t0, by_program)
