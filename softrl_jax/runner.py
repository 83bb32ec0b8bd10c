"""The one host-side driver of training, for `train` and `sweep`: compile once, step chunk by chunk, log.

A run is a list of points (a plain run is one point; a sweep group is several points that share
every static field) times `seeds` seeds, flattened into one axis of `points * seeds` independent runs:

    element i  <->  point i // seeds, seed i % seeds  (the seed keys of `training.seed_keys`, the same at
                    every point, so a (point, seed) is the same run whatever else runs beside it)

`run` reads top to bottom in four parts, each in its own module:
- devices (softrl_jax/devices.py): process set-up, the devices chosen, the runs' layout on them
  (padding included: padded runs are computed and dropped on the host, never reaching a file);
- programs (softrl_jax/compiled.py): init, resets, training chunk and evaluation, compiled once;
- the run session (softrl_jax/session.py): locks, files, loggers, checkpoints and resume, signals,
  the watchdog and the progress bar;
- the chunk loop (`train_chunks`, here): run each chunk, time it, log its rows, checkpoint.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from softrl_jax import checkpoint, devices
from softrl_jax.compiled import Programs, compile_programs, compiler_options
from softrl_jax.config import LoopConfig, RunConfig
from softrl_jax.session import RunSession


@dataclasses.dataclass(frozen=True)
class Point:
    """One configuration to train with `rc.loop.seeds` seeds; its files go to `rc.loop.out`."""

    rc: RunConfig
    config_extra: dict = dataclasses.field(default_factory=dict)  # written into config.json too


@dataclasses.dataclass
class Result:
    records: list[list[dict]]  # per point: the metrics.jsonl rows (process 0; empty elsewhere)
    compile_s: float  # lowering + XLA compilation of init and chunk (persistent cache hits included)
    init_s: float  # running init: environment resets and the warm-up transitions
    train_s: float  # running every chunk
    steady_env_steps_per_s: float  # all runs together, over the training chunks after the first
    # the same chunks without their evaluations (each chunk's resets and training timed on their own)
    steady_train_env_steps_per_s: float
    eval_s: float  # running the evaluations (the steady chunks' and the first logged one's)
    evaluations: int  # evaluations run (chunks logged)
    compile_s_by_program: dict  # seconds from tracing to a compiled program: chunk, eval, resets, init
    ready_unix: float  # time.time() when the first chunk could start (compiled, initialised)
    devices: int  # devices the runs were laid out on
    padded: int  # padding elements added to fill the devices
    buffer_bytes_per_run: int  # replay storage of one (point, seed)
    writer: bool  # this process writes files (process 0)


@dataclasses.dataclass
class Timing:
    """What the chunk loop measured. Steady: the training chunks after the first (warm-up chunks do no
    update, the first one's time holds caches warming)."""

    train_s: float = 0.0  # every chunk run by this process
    steady_steps: int = 0  # env steps of all runs in the steady chunks
    steady_s: float = 0.0  # their wall time
    steady_train_s: float = 0.0  # the same without their evaluations
    eval_s: float = 0.0
    evaluations: int = 0
    last_rate: float = 0.0  # env steps/s of the last chunk


def run(points: Sequence[Point], *, hparam_fields: Sequence[str] = (),
        loggers_for: Callable | None = None, progress: bool = True, description: str = "") -> Result:
    """Train every point x seed as ONE compiled program; write each point's config.json,
    metrics.jsonl and summary.json. `hparam_fields`: algorithm fields that differ between the points
    (traced, so the points share the program); every other field must agree. `loggers_for(i)`: the
    loggers of point i, called once on process 0 after its config.json is written."""
    import jax

    from softrl_jax import algos, envs, lapack_fanout
    from softrl_jax.io import eta
    from softrl_jax.io.progress import StepProgress
    from softrl_jax.training import env_batch, seed_keys
    from softrl_jax.programs import make_train

    rc0 = points[0].rc
    loop = rc0.loop
    n_points, seeds = len(points), loop.seeds
    n = n_points * seeds
    configs = [{**p.rc.flat(), **p.config_extra} for p in points]
    # a folder that holds a run: the same configuration resumes, another one is refused (before any work)
    resuming = [checkpoint.check_same_config(p.rc.loop.out, c) for p, c in zip(points, configs)]
    devices.setup(loop, n)
    writer = jax.process_index() == 0
    chosen = devices.choose_devices(loop.devices, n)
    session = RunSession(points, configs, writer)
    try:
        env = envs.make(loop.env, loop.episode_length or None)
        # an affected jaxlib's batched LAPACK calls (MJX's solver) deadlock when every CPU thread runs a device
        chosen, why = lapack_fanout.safe_cpu_devices(chosen, n, env, env_batch(loop))
        if why and writer:
            print(why, file=sys.stderr, flush=True)
        layout = devices.lay_out(chosen, n)
        trainer = make_train(algos.get(rc0.algo), env, rc0)
        keys = layout.to_global(np.asarray(seed_keys(loop.seed, seeds))[layout.source % seeds])
        hparams = {f: layout.to_global(np.asarray([getattr(points[i // seeds].rc.algo_cfg, f) for i in layout.source],
                                                  np.float32)) for f in hparam_fields}
        desc = description or f"{rc0.algo} {loop.env} " + (f"{n_points} points x " if n_points > 1 else "") + \
            f"{seeds} seeds"
        session.start(StepProgress(trainer.steps_at(trainer.n_chunks - 1), desc,
                                   enabled=writer and progress and loop.progress))
        programs = compile_programs(trainer, layout, keys, hparams, compiler_options(loop, chosen[0].platform))

        t = time.perf_counter()
        carry, host = session.restore(programs.init(keys, hparams), any(resuming))
        carry = jax.block_until_ready(carry)
        init_s, ready_unix = time.perf_counter() - t, time.time()
        rates_dir, rate_key, before = expected_time(session, trainer, configs[0], n, chosen, host)
        session.open_files(host, loggers_for)
        carry, timing = train_chunks(session, trainer, programs, carry, hparams, host, (n_points, seeds),
                                     known_rate=before is not None)
        session.ok = True
    finally:
        session.close()

    result = make_result(session, programs, timing, init_s, ready_unix, len(chosen), layout.padded, writer)
    if writer:
        for i, p in enumerate(points):
            write_summary(p.rc, session.records[i], result)
        if timing.steady_s:
            eta.remember(rates_dir, rate_key, result.steady_env_steps_per_s)
    session.release()
    return result


def make_result(session: RunSession, programs: Programs, timing: Timing, init_s: float, ready_unix: float,
                devices_used: int, padded: int, writer: bool) -> Result:
    """The run's Result: its records and what it measured, rates from the steady chunks (the last
    chunk's rate when no chunk was steady)."""
    return Result(session.records, programs.compile_s, init_s, timing.train_s,
                  steady_env_steps_per_s=timing.steady_steps / timing.steady_s if timing.steady_s else timing.last_rate,
                  steady_train_env_steps_per_s=(timing.steady_steps / timing.steady_train_s if timing.steady_train_s
                                                else float("nan")),
                  eval_s=timing.eval_s, evaluations=timing.evaluations, compile_s_by_program=programs.by_program,
                  ready_unix=ready_unix, devices=devices_used, padded=padded,
                  buffer_bytes_per_run=replay_bytes_per_run(programs), writer=writer)


def expected_time(session: RunSession, trainer, config: dict, n: int, chosen: list, host: dict) -> tuple:
    """(rates folder, this program's rate key, its rate measured here before or None), with the expected
    training time noted on the progress bar before training."""
    from softrl_jax.io import eta

    rates_dir = devices.cache_dir(session.loop.compile_cache)
    rate_key = eta.signature(config, n, f"{len(chosen)} x {chosen[0].device_kind}")
    before = eta.known(rates_dir, rate_key)
    left_env_steps = (trainer.steps_at(trainer.n_chunks - 1) - host.get("prev_step", 0)) * n
    session.bar.note(eta.estimate(left_env_steps, before["env_steps_per_s"], f"this program's rate here on "
                                  f"{before['measured']}") if before else
                     "estimated training time: after the first training chunk (this program has not run here before)")
    return rates_dir, rate_key, before


def train_chunks(session: RunSession, trainer, programs: Programs, carry, hparams, host: dict,
                 shape: tuple[int, int], known_rate: bool) -> tuple:
    """Run the chunks from the checkpoint's next one (or the first) to the end: (final carry, Timing).
    Each logged chunk is evaluated and its rows written before the checkpoint that follows it, so a
    checkpoint never lags metrics.jsonl. A stop signal checkpoints and raises `checkpoint.Stopped`
    between chunks. `shape`: (points, seeds); `known_rate`: the progress bar already has an estimate."""
    import jax

    from softrl_jax.io import eta

    n_points, seeds = shape
    n, loop, bar = n_points * seeds, session.loop, session.bar
    total_steps = trainer.steps_at(trainer.n_chunks - 1)
    start = host.get("next_chunk", 0)
    # the first evaluated chunk this process runs (a resumed run's too): the estimate comes after it, and
    # the steady rate counts the chunks after it (its time holds the programs' first executions)
    first_logged = next((c for c in range(start, trainer.n_chunks) if trainer.logged(c)), trainer.n_chunks)
    prev_step, t_train, timing = host.get("prev_step", 0), time.perf_counter(), Timing()
    session.watchdog.__enter__()
    for c in range(start, trainer.n_chunks):
        if session.stop.signum is not None:
            raise session.stopped(c, carry, prev_step, total_steps)
        session.watchdog.start(c, prev_step)
        t = time.perf_counter()
        starts = programs.resets(carry)
        carry, metrics = programs.chunk(carry, hparams, starts)
        if trainer.logged(c):  # warm-up-only chunks are not evaluated
            jax.block_until_ready(metrics)  # the evaluation needs the chunk's carry: no overlap is lost
            dt_train = time.perf_counter() - t
            metrics["eval_return"] = jax.block_until_ready(programs.evaluate(carry, hparams, starts))
            timing.eval_s, timing.evaluations = timing.eval_s + time.perf_counter() - t - dt_train, timing.evaluations + 1
        metrics = devices.to_host(metrics)
        session.watchdog.done()
        dt = time.perf_counter() - t
        metrics = {k: v[:n].reshape(n_points, seeds) for k, v in metrics.items()}
        step = int(metrics["step"][0, 0])
        timing.last_rate = sps = (step - prev_step) * n / dt
        if c > first_logged:
            timing.steady_steps, timing.steady_s = timing.steady_steps + (step - prev_step) * n, timing.steady_s + dt
            timing.steady_train_s += dt_train
        elif c == first_logged and not known_rate and c < trainer.n_chunks - 1:
            bar.note(eta.estimate((total_steps - step) * n, sps, "the rate of the first training chunk"))
        prev_step = step
        if not trainer.logged(c):
            bar.update(step, f"warm-up  {sps:8.0f} steps/s")
        elif session.writer:
            elapsed = session.elapsed()
            session.log([seed_records({k: v[i] for k, v in metrics.items()}, loop, step, sps, elapsed)
                         for i in range(n_points)])
            bar.update(step, f"eval {float(np.nanmean(metrics['eval_return'])):9.1f}  {sps:8.0f} steps/s")
        if c == trainer.n_chunks - 1 or session.save_due():
            session.save(c + 1, carry, prev_step)  # after the chunk's rows are in metrics.jsonl
    if session.stop.signum is not None:  # the signal came during the last chunk, already checkpointed
        raise session.stopped(trainer.n_chunks, carry, prev_step, total_steps)
    timing.train_s = time.perf_counter() - t_train
    return carry, timing


def replay_bytes_per_run(programs: Programs) -> int:
    """Replay storage of one (point, seed) in the compiled carry."""
    import math

    import jax

    buffer = getattr(programs.carry_shape, "buffer", None)  # the on-policy loop has no replay
    return sum(math.prod(x.shape[1:]) * x.dtype.itemsize for x in jax.tree.leaves(buffer))


def seed_records(metrics: dict, loop: LoopConfig, step: int, env_steps_per_s: float, time_s: float) -> list[dict]:
    """One metrics.jsonl record per seed from a chunk's metrics (leaves [seeds])."""
    records = []
    for s in range(loop.seeds):
        r = {"seed": loop.seed + s, "step": step}
        r.update({k: float(np.asarray(v)[s]) for k, v in metrics.items() if k not in ("step", "diverged_at")})
        if "diverged_at" in metrics:  # frozen at its last finite state since that step (softrl_jax.loop)
            at = int(np.asarray(metrics["diverged_at"])[s])
            r.update(diverged=at >= 0, diverged_at=at if at >= 0 else None)
        r.update(env_steps_per_s=env_steps_per_s, time_s=time_s)
        records.append(r)
    return records


def diverged_seeds(records: Sequence[dict]) -> dict[int, int]:
    """{seed: step it diverged at} of the seeds that metrics.jsonl rows flag as diverged."""
    return {r["seed"]: r["diverged_at"] for r in records if r.get("diverged")}


def write_summary(rc: RunConfig, records: list[dict], result: Result) -> None:
    """`<out>/summary.json`: timings and final returns of one point (read by make bench-peers)."""
    last = max((r["step"] for r in records), default=None)
    final = [r["eval_return"] for r in records if r["step"] == last]
    summary = {
        "algo": rc.algo, "env": rc.loop.env, "preset": rc.preset, "seeds": rc.loop.seeds,
        "total_steps": last, "final_eval_return": final,
        "compile_s": result.compile_s, "init_s": result.init_s, "train_s": result.train_s,
        "steady_env_steps_per_s": result.steady_env_steps_per_s,
        "steady_train_env_steps_per_s": result.steady_train_env_steps_per_s,
        "eval_s": result.eval_s, "evaluations": result.evaluations,
        "compile_s_by_program": result.compile_s_by_program, "devices": result.devices,
        "padded": result.padded, "replay_mib_per_seed": result.buffer_bytes_per_run / 2**20,
        "ready_unix": result.ready_unix,
    }
    from softrl_jax.io.runstore import write_json

    write_json(Path(rc.loop.out) / "summary.json", summary)
