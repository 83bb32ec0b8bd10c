"""The compile and autoreset sections: cold and warm starts in fresh processes, and MJX auto-reset modes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from softrl_jax.bench.common import AUTORESET_ENVS, DEMO_FLAGS, _best_time


def bench_compile() -> dict:
    """Cold and warm compile of the demo's program, each in a fresh process, and the warm start."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("cold", "warm"):
            run_dir = os.path.join(tmp, name)
            cmd = [sys.executable, "-m", "softrl_jax.train", *DEMO_FLAGS, "--total_steps=2000",
                   f"--compile_cache={os.path.join(tmp, 'cache')}", "--progress=false", f"--out={run_dir}"]
            launched = time.time()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"compile benchmark run failed: {proc.stderr[-2000:]}")
            summary = json.loads(open(os.path.join(run_dir, "summary.json")).read())
            out[f"{name}_compile_s"] = summary["compile_s"]
            out[f"{name}_start_s"] = summary["ready_unix"] - launched
    return out


def bench_autoreset(num_envs: int = 64, steps: int = 500) -> dict:
    """env steps/s of each auto-reset mode: random actions, `num_envs` MJX environments."""
    import jax
    import jax.numpy as jnp

    from softrl_jax import envs

    rows = []
    for name in AUTORESET_ENVS:
        env = envs.make(name)
        for mode in ("exact", "pool"):
            def run(key, env=env, mode=mode):
                k0, k1, k2 = jax.random.split(key, 3)
                state = jax.vmap(lambda k: envs.reset(env, k))(jax.random.split(k0, num_envs))
                pool = envs.make_reset_pool(env, k1, max(64, num_envs)) if mode == "pool" else None

                def body(s, k):
                    ka, ks = jax.random.split(k)
                    a = jax.random.uniform(ka, (num_envs, env.spec.action_size), minval=-1, maxval=1)
                    s, _, info = jax.vmap(lambda x, y, z: envs.step(env, x, y, z, pool))(
                        s, a, jax.random.split(ks, num_envs))
                    return s, jnp.sum(info.done)

                return jax.lax.scan(body, state, jax.random.split(k2, steps))[1]

            f = jax.jit(run).lower(jax.random.PRNGKey(0)).compile()
            jax.block_until_ready(f(jax.random.PRNGKey(1)))
            seconds = _best_time(lambda: jax.block_until_ready(f(jax.random.PRNGKey(2))))
            rows.append({"env": name, "autoreset": mode, "num_envs": num_envs,
                         "env_steps_per_s": num_envs * steps / seconds,
                         "episode_ends": int(jnp.sum(f(jax.random.PRNGKey(2))))})
    return {"autoreset": rows}
