"""Benchmark: speed, FLOP efficiency, memory and compile times, measured side by side in one run.

    python -m softrl_jax.bench [--sections=loop,roofline,replay,compile,autoreset] [--chunks=3]
                               [--json=PATH] [any train flag, e.g. --algo=sac --preset=quick]

Sections (all by default):
  loop       env steps/s of the fused loop (act, step, store, updates, evaluation) against the bare
             jitted update step on batches drawn beforehand (same seeds, same update count): the
             loop's cost over its updates; compile time of the chunk; replay and program memory
  roofline   FLOPs per update from XLA's own cost analysis (`compiled.cost_analysis()`), the FLOP/s
             the loop achieves, the machine's dense-matmul FLOP/s (a jitted 1024x1024 float32
             matmul, measured in this run) and their ratio; the same for the update alone of
             standard sizes (SAC 2x256 / batch 256, DSPG paper size with M = 64, DSPG quick, SQL's
             SVGD update)
  replay     bytes per stored transition for Brax humanoid-sized observations (244) and actions
             (17): this buffer (each observation once), float32 and bfloat16 observations, against a
             buffer of whole (obs, action, reward, terminated, next_obs) transitions
  compile    cold and warm compile of `make demo`'s program, each in a fresh process (the warm one
             reads the persistent compilation cache the cold one wrote), and the warm start: seconds
             from process launch until the first chunk can run
  autoreset  env steps/s of MJX hopper and inverted double pendulum, 64 environments under random
             actions, with each auto-reset mode (exact: a fresh reset every step; pool: reset states
             drawn once per chunk)

Defaults: DSPG quick on gymnax Pendulum, 4 seeds (the demo's program). Absolute figures hold for
the machine named in the output; the ratios are what carries over.
"""

from __future__ import annotations

import resource
import sys
from typing import Sequence

# the helpers are re-exported: bench_gpu and the tests use them as bench.<name>
from softrl_jax.bench.common import SECTIONS, _best_time, _flops, matmul_flops_per_s, matmul_program, update_program  # noqa: F401
from softrl_jax.bench.memory import bench_checkpoint, bench_replay
from softrl_jax.bench.startup import bench_autoreset, bench_compile
from softrl_jax.bench.tables import machine, print_tables
from softrl_jax.bench.updates import bench_loop, bench_roofline
from softrl_jax.config import ConfigError
from softrl_jax.io import runstore
from softrl_jax.train import config_from_flags, parse_flags, show_help


def _parse(argv: Sequence[str]):
    flags = parse_flags(argv)
    try:
        chunks = int(flags.pop("chunks", "3"))
    except ValueError:
        raise ConfigError("--chunks must be an int >= 1") from None
    if chunks < 1:
        raise ConfigError(f"--chunks={chunks} is out of range; must be >= 1")
    json_path = flags.pop("json", "")
    sections = flags.pop("sections", ",".join(SECTIONS)).split(",")
    bad = [s for s in sections if s not in SECTIONS]
    if bad or not sections:
        raise ConfigError(f"--sections={','.join(sections)!r} is not valid; valid choices: {', '.join(SECTIONS)} "
                          "(comma-separated)")
    defaults = {"algo": "dspg", "preset": "quick", "env": "gymnax:Pendulum-v1", "seeds": "4"}
    argv = [f"--{k}={v}" for k, v in {**defaults, **flags}.items()]
    return config_from_flags(argv), chunks, json_path, sections


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if show_help(argv, __doc__):
        return 0
    try:
        rc, chunks, json_path, sections = _parse(argv)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from softrl_jax import devices

    devices.setup_compile_cache("off")  # every figure here is a cold compile unless stated
    r: dict = {"machine": machine(), "algo": rc.algo, "preset": rc.preset, "env": rc.loop.env,
               "seeds": rc.loop.seeds}
    peak = matmul_flops_per_s() if {"loop", "roofline"} & set(sections) else None
    if "loop" in sections:
        r["loop"] = bench_loop(rc, chunks)
    if "roofline" in sections:
        r["roofline"] = bench_roofline(r.get("loop"), peak)
    if "replay" in sections:
        r["replay"] = bench_replay(rc)
        r["replay_bytes_per_transition"] = r["replay"]["replay_bytes_per_transition"]
    if "compile" in sections:
        r["compile"] = bench_compile()
    if "autoreset" in sections:
        r["autoreset"] = bench_autoreset()
    if "checkpoint" in sections:
        r["checkpoint"] = bench_checkpoint(rc)
    r["host_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"bench on {r['machine']}")
    print_tables(r, rc)
    if json_path:
        runstore.write_json(json_path, r)
    return 0
