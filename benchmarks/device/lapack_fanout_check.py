"""Does this jaxlib still deadlock XLA:CPU with its LAPACK batch fan-out? (see softrl_jax/lapack_fanout.py)

One CPU device per intra-op pool thread, each factorising a batch of 1024 14x14 matrices (936K FLOP,
far over jaxlib's 200K split threshold) with `jnp.linalg.cholesky`. An affected jaxlib blocks every pool
thread in `ParallelBatchMap` and never returns; the caller runs this under a timeout.

    timeout 40 python benchmarks/device/lapack_fanout_check.py 10  # tries for 10 s: prints 'ok', or hangs
"""

import os
import sys
import time

os.environ["JAX_PLATFORMS"] = "cpu"
import jax  # noqa: E402

threads = len(os.sched_getaffinity(0))
jax.config.update("jax_num_cpu_devices", threads)
import jax.numpy as jnp  # noqa: E402
import jaxlib  # noqa: E402
import numpy as np  # noqa: E402
from jax.sharding import Mesh, NamedSharding, PartitionSpec  # noqa: E402

mesh = Mesh(np.asarray(jax.devices()), ("d",))
shard = NamedSharding(mesh, PartitionSpec("d"))
a = np.random.default_rng(0).normal(size=(threads, 1024, 14, 14)).astype(np.float32)
a = a @ a.transpose(0, 1, 3, 2) + 14 * np.eye(14, dtype=np.float32)
x = jax.device_put(a, shard)
f = jax.jit(jax.vmap(jnp.linalg.cholesky), in_shardings=shard, out_shardings=shard)
t, calls = time.time(), 0
while time.time() - t < float(sys.argv[1]) if len(sys.argv) > 1 else 10.0:  # the deadlock is a race: try often
    f(x).block_until_ready()
    calls += 1
print(f"ok: jaxlib {jaxlib.__version__}, {threads} CPU devices on a {threads}-thread pool, {calls} calls in "
      f"{time.time() - t:.1f} s", flush=True)
sys.exit(0)
