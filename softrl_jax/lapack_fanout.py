"""How many CPU devices a run may use without jaxlib's LAPACK batch fan-out deadlocking XLA:CPU.

The cause (found with gdb on a hung `dspg --env=brax:ant --seeds=8` run, jax 0.10.2, 2 cores):
the runner splits the host into one XLA device per core, so each device's program runs on one of the
two threads of XLA:CPU's intra-op pool. MJX's constraint solver calls a batched Cholesky
(`lapack_spotrf_ffi`) and triangular solve. jaxlib up to 0.11.0 splits a LAPACK batch whose work is at
least 200,000 FLOP (`GetLapackBatchChunkSize`, jaxlib/cpu/lapack_kernels.cc) into tasks on that same
pool and blocks its thread until they finish (`ParallelBatchMap`, an `absl::BlockingCounter`). When
every pool thread is such a blocked device program, no thread is left to run the tasks: both wait
forever at 0% CPU. Ant (nv = 14, 914 FLOP per Cholesky) reaches the threshold in each chunk's one
batched reset: 4 runs per device x (64 pool starts + 7 evaluation starts) = 284 matrices = 260K FLOP.
With 4 seeds (142 matrices) the batch runs inline, which is why 2 or 4 seeds never hung.

jax fixed it upstream in commit 859992407d ("Don't try to parallelize LAPACK kernels in opensource
builds", after the 0.11.0 release). On an affected jaxlib the runner keeps at least one pool thread
free (at most `threads - 1` devices) whenever a program could reach the threshold; one free thread
drains every blocked fan-out, so the deadlock cannot happen. The cost is speed, and the float32
rounding that any other device count brings (docs/scale.md, "Same numbers on more devices?"); the choice is
deterministic, so the same command on the same machine and jaxlib always trains the same numbers.
"""

from __future__ import annotations

import math
import os
from typing import Any, Callable

import numpy as np

FANOUT_FLOPS = 200_000  # jaxlib's kMinWorkPerTask: a batch with at least this much work is split
FIXED_IN = (0, 11, 1)  # the first release after the upstream fix (0.11.2 measured: no hang)
# the primitives that jaxlib lowers to its batched LAPACK kernels on CPU
LAPACK_PRIMITIVES = frozenset({"cholesky", "triangular_solve", "lu", "geqrf", "geqp3", "householder_product",
                               "ormqr", "eigh", "eig", "svd", "schur", "hessenberg", "tridiagonal",
                               "tridiagonal_solve", "qr"})


def jaxlib_fans_out(version: str | None = None) -> bool:
    """Whether this jaxlib (or `version`) splits LAPACK batches over XLA's intra-op pool."""
    if version is None:
        import jaxlib

        version = jaxlib.__version__
    parts = tuple(int(p) for p in version.split(".")[:3] if p.isdigit())
    return parts < FIXED_IN


def pool_threads() -> int:
    """XLA:CPU's intra-op pool size: the CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def matrix_flops(name: str, shapes: list[tuple[int, ...]], complex_: bool = False) -> int:
    """jaxlib's cost estimate for one matrix of a LAPACK-backed primitive (an upper bound for the
    decompositions: 10 m n min(m, n), the SVD's)."""
    m, n = shapes[0][-2:] if len(shapes[0]) >= 2 else (1, 1)
    if name == "cholesky":
        cost = n * n * n // 3
    elif name == "triangular_solve":
        b = shapes[1][-2:] if len(shapes) > 1 and len(shapes[1]) >= 2 else (n, 1)
        cost = b[0] * b[1] * n
    else:
        cost = 10 * m * n * min(m, n)
    return cost * (3 if complex_ else 1)


def lapack_calls(fn: Callable, *args: Any) -> list[tuple[str, int, int]]:
    """(primitive, matrices per call, FLOP per matrix) of every LAPACK-backed call in `fn(*args)`'s
    jaxpr, nested jaxprs (loops, conditionals, calls) included. `args` may be ShapeDtypeStructs."""
    import jax

    found: list[tuple[str, int, int]] = []

    def walk(jaxpr) -> None:
        for eqn in jaxpr.eqns:
            if eqn.primitive.name in LAPACK_PRIMITIVES:
                shapes = [tuple(v.aval.shape) for v in eqn.invars if hasattr(v.aval, "shape")]
                if shapes and len(shapes[0]) >= 2:
                    complex_ = np.issubdtype(eqn.invars[0].aval.dtype, np.complexfloating)
                    found.append((eqn.primitive.name, math.prod(shapes[0][:-2]),
                                  matrix_flops(eqn.primitive.name, shapes, complex_)))
            for param in eqn.params.values():
                for sub in param if isinstance(param, (list, tuple)) else (param,):
                    inner = getattr(sub, "jaxpr", sub)
                    if hasattr(inner, "eqns"):
                        walk(inner)

    walk(jax.make_jaxpr(fn)(*args).jaxpr)
    return found


def env_lapack_calls(env) -> list[tuple[str, int, int]]:
    """The LAPACK-backed calls of one environment's reset and step (unbatched)."""
    import jax

    key = jax.ShapeDtypeStruct((2,), np.uint32)
    core, _ = jax.eval_shape(env.reset, key)
    action = jax.ShapeDtypeStruct((env.spec.action_size,), np.float32)
    return lapack_calls(env.reset, key) + lapack_calls(env.step, core, action, key)


def safe_cpu_devices(devices: list, runs: int, env, env_batch: int) -> tuple[list, str]:
    """`devices`, or fewer of them where every pool thread could block in a LAPACK fan-out, with a
    one-line reason ('' when unchanged). `env_batch`: the most environments one environment call of a
    run handles (a chunk's batched reset)."""
    import jax

    threads = pool_threads()
    # several processes (--distributed) each feed their own devices: the layout is theirs to choose
    if (len(devices) < 2 or devices[0].platform != "cpu" or len(devices) < threads or jax.process_count() > 1
            or not jaxlib_fans_out()):
        return devices, ""
    per_device = math.ceil(runs / len(devices)) * env_batch
    calls = [(name, per_device * batch, flops) for name, batch, flops in env_lapack_calls(env)]
    risky = [c for c in calls if c[1] * c[2] >= FANOUT_FLOPS]
    if not risky:
        return devices, ""
    name, matrices, flops = max(risky, key=lambda c: c[1] * c[2])
    keep = max(1, threads - 1)
    import jaxlib

    return devices[:keep], (f"note: training on {keep} of {len(devices)} CPU devices: jaxlib {jaxlib.__version__} "
                            f"splits the environment's batched {name} ({matrices} matrices x {flops} FLOP per "
                            f"device) over XLA's {threads}-thread pool, which deadlocks when every thread runs "
                            f"a device (jax fixed it after 0.11.0)")
