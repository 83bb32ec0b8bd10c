"""The one host-side driver of training, for `train` and `sweep`: compile once, step chunk by chunk, log.

A run is a list of points (a plain run is one point; a sweep group is several points that share
every static field) times `seeds` seeds. The runner flattens `[points, seeds]` into one axis of
`points * seeds` independent runs and lays it out over devices with `jax.sharding`: a 1-D `Mesh`
named `run` over the chosen devices and a `NamedSharding` that splits every leaf of the carry on
its leading axis. Nothing is communicated between runs, so each device trains its own slice.

    element i  <->  point i // seeds, seed i % seeds  (the seed keys of `loop.seed_keys`, the same at
                    every point, so a (point, seed) is the same run whatever else runs beside it)

Uneven counts are PADDED: with D devices the axis grows to a multiple of D by repeating real runs
(element i of the padding repeats element i mod N). Padded elements are computed and dropped on the
host; they never reach metrics.jsonl, summaries, the progress bar or W&B. With fewer runs than
devices, only as many devices as runs are used.

Multi-host (`--distributed`): `jax.distributed.initialize()` joins the processes first; the mesh
spans every process's devices, each process feeds its own shards, metrics are all-gathered after
each chunk, and only process 0 writes files, draws progress and logs to W&B.

The runner is the one place that touches devices, sharding and files between compiled chunks; later
features (checkpoints, NaN isolation) hook in here.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import os
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from softrl_jax.config import ConfigError, LoopConfig, RunConfig, check_devices

Logger = Callable[[list[dict]], None]
AXIS = "run"


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


# ---------------------------------------------------------------- process set-up


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "softrl-jax" / "jax"


def setup_compile_cache(setting: str) -> str | None:
    """JAX's persistent compilation cache: 'auto' (the user cache dir), a folder, or 'off'.

    Returns the folder in use or None. Every program is cached, however quick its compilation, so
    a second start of the same run skips XLA entirely."""
    import jax

    if setting == "off":
        jax.config.update("jax_enable_compilation_cache", False)
        return None
    folder = default_cache_dir() if setting == "auto" else Path(setting).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_enable_compilation_cache", True)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return str(folder)


_DISTRIBUTED = False


def setup_distributed(loop: LoopConfig) -> None:
    """`jax.distributed.initialize()` once per process, before any JAX computation.

    Flags win over the environment (JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID); what
    neither gives is left to JAX's cluster auto-detection (SLURM, Open MPI, Kubernetes, Cloud TPU)."""
    global _DISTRIBUTED
    if not loop.distributed or _DISTRIBUTED:
        return
    import jax

    num = loop.num_processes or int(os.environ.get("JAX_NUM_PROCESSES", "0")) or None
    pid = loop.process_id if loop.process_id >= 0 else os.environ.get("JAX_PROCESS_ID")
    jax.distributed.initialize(coordinator_address=loop.coordinator or None, num_processes=num,
                               process_id=None if pid is None else int(pid))
    _DISTRIBUTED = True


def compiler_options(loop: LoopConfig, platform: str) -> dict | None:
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


def setup_cpu_devices(setting: int, runs: int) -> None:
    """Split the host CPU into several XLA devices so that runs shard over cores (each core runs whole
    runs instead of every core splitting each small matrix product): `setting`, or with 0 one per
    available core but at most one per run. Only before JAX's backends start, and never against an
    explicit XLA_FLAGS=--xla_force_host_platform_device_count. Measured on 2 cores: SAC 2x256 with 4
    seeds trains 17% faster on 2 CPU devices than on one."""
    import jax

    if "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    count = setting or max(1, min(cores, runs))
    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:  # backends already started (a library caller, a test): keep their devices
        pass


def setup(loop: LoopConfig, runs: int = 1) -> None:
    """Process-wide settings a run needs before its first JAX computation."""
    setup_distributed(loop)
    setup_cpu_devices(loop.cpu_devices, runs)
    setup_compile_cache(loop.compile_cache)


def choose_devices(setting: str, runs: int) -> list:
    """The devices to lay `runs` runs out on: all of them (every process's), or the first N; never
    more than `runs`. Raises ConfigError when more are asked for than exist."""
    import jax

    available = jax.devices()
    check_devices(setting)
    want = len(available) if setting == "all" else int(setting)
    if want > len(available):
        raise ConfigError(f"--devices={setting} is out of range; this run sees {len(available)} "
                          f"{available[0].platform} device(s): choose all or a count <= {len(available)}")
    return available[:max(1, min(want, runs))]


# ---------------------------------------------------------------- the runner


def run(points: Sequence[Point], *, hparam_fields: Sequence[str] = (),
        loggers_for: Callable[[int], Sequence[Logger]] | None = None, progress: bool = True,
        description: str = "") -> Result:
    """Train every point x seed as ONE compiled program; write each point's config.json,
    metrics.jsonl and summary.json. `hparam_fields`: algorithm fields that differ between the points
    (traced, so the points share the program); every other field must agree. `loggers_for(i)`: the
    loggers of point i, called once on process 0 after its config.json is written."""
    import jax
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    from softrl_jax import algos, checkpoint, envs, lapack_fanout
    from softrl_jax.io import eta, runlock
    from softrl_jax.io.progress import StepProgress
    from softrl_jax.io.runstore import RunStore
    from softrl_jax.io.watchdog import Watchdog
    from softrl_jax.loop import CARRY_AXES, env_batch, seed_keys
    from softrl_jax.programs import make_train

    rc0 = points[0].rc
    loop = rc0.loop
    n_points, seeds = len(points), loop.seeds
    n = n_points * seeds
    outs = [p.rc.loop.out for p in points]
    configs = [{**p.rc.flat(), **p.config_extra} for p in points]
    # a folder that holds a run: the same configuration resumes, another one is refused (before any work)
    resuming = [checkpoint.check_same_config(p.rc.loop.out, c) for p, c in zip(points, configs)]
    setup(loop, n)
    writer = jax.process_index() == 0
    devices = choose_devices(loop.devices, n)
    if writer:  # one writer per run folder: a second process is refused here, before it writes anything
        for out in outs:
            runlock.hold(out)
    env = envs.make(loop.env, loop.episode_length or None)
    # an affected jaxlib's batched LAPACK calls (MJX's solver) deadlock when every CPU thread runs a device
    devices, why = lapack_fanout.safe_cpu_devices(devices, n, env, env_batch(loop))
    if why and writer:
        print(why, file=sys.stderr, flush=True)
    total = math.ceil(n / len(devices)) * len(devices)
    source = np.arange(total) % n  # element i of the padded axis repeats real run i mod n

    trainer = make_train(algos.get(rc0.algo), env, rc0)
    keys = np.asarray(seed_keys(loop.seed, seeds))[source % seeds]
    hparams = {f: np.asarray([getattr(points[i // seeds].rc.algo_cfg, f) for i in source], np.float32)
               for f in hparam_fields}

    mesh = Mesh(np.asarray(devices), (AXIS,))
    shard = NamedSharding(mesh, PartitionSpec(AXIS))
    # every carry leaf is split on its leading run axis, but the counters, which all runs share
    carry_shard = jax.tree.map(lambda axis: shard if axis == 0 else NamedSharding(mesh, PartitionSpec()),
                               CARRY_AXES, is_leaf=lambda x: x is None)
    keys, hparams = _global(keys, shard), {f: _global(v, shard) for f, v in hparams.items()}
    init_fn, resets_fn, chunk_fn, eval_fn = trainer.vmap_split()
    vinit = jax.jit(init_fn, in_shardings=(shard, shard), out_shardings=carry_shard)
    vresets = jax.jit(resets_fn, in_shardings=(carry_shard,), out_shardings=shard)
    vchunk = jax.jit(chunk_fn, in_shardings=(carry_shard, shard, shard), out_shardings=(carry_shard, shard),
                     donate_argnums=0)
    veval = jax.jit(eval_fn, in_shardings=(carry_shard, shard, shard), out_shardings=shard)

    desc = description or f"{rc0.algo} {loop.env} " + (f"{n_points} points x " if n_points > 1 else "") + \
        f"{seeds} seeds"
    bar = StepProgress(trainer.steps_at(trainer.n_chunks - 1), desc, enabled=writer and progress and loop.progress)
    ok, preempted = False, False
    loggers: list[list[Logger]] = [[] for _ in points]
    # every process saves into process 0's folder (orbax writes one checkpoint from all processes; on
    # several hosts that folder must be on a file system they share)
    ckpt_dir = _from_process_0(str(checkpoint.checkpoint_dir(rc0.loop.out)))
    manager = checkpoint.Manager(ckpt_dir) if loop.checkpoint else None
    stop = checkpoint.StopSignals()
    stop.__enter__()
    # a chunk far past its expected time gets every thread's stack dumped (process 0's folder)
    watchdog = Watchdog(outs[0], loop.hang_factor, loop.hang_floor_s, loop.on_hang,
                        settle=manager.wait if manager is not None else None)
    try:
        t0 = time.perf_counter()
        # Lowering traces everything: a traced field used in Python control flow fails here, before any file.
        options = compiler_options(loop, devices[0].platform)
        # Four programs (init, resets, training chunk, evaluation), so that each environment function
        # compiles once and on its own. Two worker threads compile them, the longest (the chunk)
        # first, while this thread traces the next (XLA releases the GIL). Measured on 2 cores for MJX
        # IDP: 26.6 s with two workers, 27.9 s with one, 30.7 s with four (they thrash). A GPU's host
        # compiles all four at once when it has the cores.
        workers = 2 if devices[0].platform == "cpu" else max(2, min(4, os.cpu_count() or 1))
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
        compile_s = time.perf_counter() - t0

        t = time.perf_counter()
        carry = init_c(keys, hparams)
        host: dict = {}
        if manager is not None and _from_process_0(str(any(resuming))) == "True" and manager.latest() is not None:
            carry, host = restore_newest_readable(manager, carry, ckpt_dir)
            # the same point folders, however their paths are written (absolute, or relative to another
            # working directory): the checkpoints live in the first, the others are its siblings
            if writer and [Path(o).name for o in host.get("outs") or []] != [Path(o).name for o in outs]:
                raise ConfigError(f"the checkpoints in {ckpt_dir} belong to the points {host.get('outs')}, not "
                                  f"{outs}; delete them to start over")
        carry = jax.block_until_ready(carry)
        init_s, ready_unix = time.perf_counter() - t, time.time()
        start = host.get("next_chunk", 0)
        # the expected training time, before training: this program's rate measured here before, if any
        rates_dir = None if loop.compile_cache == "off" else (
            default_cache_dir() if loop.compile_cache == "auto" else Path(loop.compile_cache).expanduser())
        rate_key = eta.signature(configs[0], n, f"{len(devices)} x {devices[0].device_kind}")
        left_env_steps = (trainer.steps_at(trainer.n_chunks - 1) - host.get("prev_step", 0)) * n
        before = eta.known(rates_dir, rate_key)
        bar.note(eta.estimate(left_env_steps, before["env_steps_per_s"], f"this program's rate here on "
                              f"{before['measured']}") if before else
                 "estimated training time: after the first training chunk (this program has not run here before)")
        time_before = host.get("time_s", 0.0)  # time_s of the rows continues across resumes

        stores = []
        records: list[list[dict]] = [[] for _ in points]
        if writer:
            from softrl_jax.io.runstore import read_metrics

            for i, p in enumerate(points):
                stores.append(RunStore(p.rc.loop.out, keep_bytes=host["metrics_bytes"][i] if host else 0))
                stores[-1].write_config(configs[i])
                if host:
                    records[i] = read_metrics(p.rc.loop.out)
                ids = host.get("wandb_ids", [None] * n_points)[i] if host else None
                loggers[i] = list(loggers_for(i, ids) if ids else loggers_for(i)) if loggers_for else []

        def save(next_chunk: int) -> None:
            nonlocal last_save
            if manager is None:
                return
            meta = {"next_chunk": next_chunk, "prev_step": prev_step, "time_s": time_before + time.perf_counter() - t0,
                    "outs": outs,
                    "metrics_bytes": [st.size() for st in stores] if writer else [],
                    "wandb_ids": [next((lg.ids for lg in lgs if hasattr(lg, "ids")), None) for lgs in loggers]}
            manager.save(next_chunk, carry, meta)
            last_save = time.perf_counter()

        def stopped(next_chunk: int) -> checkpoint.Stopped:
            """SIGTERM / SIGINT: checkpoint what is done; the exception that stops the run."""
            nonlocal preempted
            save(next_chunk)
            preempted = True
            return checkpoint.Stopped(stop.signum, prev_step, trainer.steps_at(trainer.n_chunks - 1), outs)

        first_logged = next(c for c in range(trainer.n_chunks) if trainer.logged(c))
        prev_step, t_train, steady_steps, steady_s = host.get("prev_step", 0), time.perf_counter(), 0, 0.0
        steady_train_s, eval_s, evaluations = 0.0, 0.0, 0
        last_save, sps = time.perf_counter(), 0.0
        watchdog.__enter__()
        for c in range(start, trainer.n_chunks):
            if stop.signum is not None:
                raise stopped(c)
            watchdog.start(c, prev_step)
            t = time.perf_counter()
            starts = resets_c(carry)
            carry, metrics = chunk_c(carry, hparams, starts)
            if trainer.logged(c):  # warm-up-only chunks are not evaluated
                jax.block_until_ready(metrics)  # the evaluation needs the chunk's carry: no overlap is lost
                dt_train = time.perf_counter() - t
                metrics["eval_return"] = jax.block_until_ready(eval_c(carry, hparams, starts))
                eval_s, evaluations = eval_s + time.perf_counter() - t - dt_train, evaluations + 1
            metrics = _to_host(metrics)
            watchdog.done()
            dt = time.perf_counter() - t
            metrics = {k: v[:n].reshape(n_points, seeds) for k, v in metrics.items()}
            step = int(metrics["step"][0, 0])
            sps = (step - prev_step) * n / dt
            if c > first_logged:  # steady: training chunks after the first (warm-up chunks do no update)
                steady_steps, steady_s = steady_steps + (step - prev_step) * n, steady_s + dt
                steady_train_s += dt_train
            elif c == first_logged and before is None and c < trainer.n_chunks - 1:
                bar.note(eta.estimate((trainer.steps_at(trainer.n_chunks - 1) - step) * n, sps,
                                      "the rate of the first training chunk"))
            prev_step = step
            if not trainer.logged(c):
                bar.update(step, f"warm-up  {sps:8.0f} steps/s")
            elif writer:
                elapsed = time_before + time.perf_counter() - t0
                for i in range(n_points):
                    rows = seed_records({k: v[i] for k, v in metrics.items()}, loop, step, sps, elapsed)
                    stores[i].append(rows)
                    for log in loggers[i]:
                        log(rows)
                    records[i].extend(rows)
                bar.update(step, f"eval {float(np.nanmean(metrics['eval_return'])):9.1f}  {sps:8.0f} steps/s")
            if c == trainer.n_chunks - 1 or time.perf_counter() - last_save >= loop.checkpoint_every:
                save(c + 1)  # after the chunk's rows are in metrics.jsonl, so the checkpoint never lags them
        if stop.signum is not None:  # the signal came during the last chunk, already checkpointed
            raise stopped(trainer.n_chunks)
        train_s = time.perf_counter() - t_train
        ok = True
    finally:
        watchdog.__exit__()
        stop.__exit__(None, None, None)
        bar.close()
        if manager is not None:
            manager.wait()  # the last checkpoint is complete before the process goes on or exits
            manager.close()
        if not ok:  # an error or a stop: its checkpoint is complete, nothing more is written (a finished run
            for out in outs:  # releases after its summary)
                runlock.release(out)
        for point_loggers in loggers:
            for log in point_loggers:
                if hasattr(log, "finish"):
                    log.finish(exit_code=0 if ok else (143 if preempted else 1), preempted=preempted)

    buffer_bytes = sum(math.prod(x.shape[1:]) * x.dtype.itemsize for x in jax.tree.leaves(carry_shape.buffer))
    result = Result(records, compile_s, init_s, train_s,
                    steady_env_steps_per_s=steady_steps / steady_s if steady_s else sps,
                    steady_train_env_steps_per_s=steady_steps / steady_train_s if steady_train_s else float("nan"),
                    eval_s=eval_s, evaluations=evaluations, compile_s_by_program=by_program, ready_unix=ready_unix,
                    devices=len(devices), padded=total - n, buffer_bytes_per_run=buffer_bytes, writer=writer)
    if writer:
        for i, p in enumerate(points):
            write_summary(p.rc, records[i], result)
        if steady_s:
            eta.remember(rates_dir, rate_key, result.steady_env_steps_per_s)
    for out in outs:
        runlock.release(out)
    return result


def restore_newest_readable(manager, carry, ckpt_dir: str) -> tuple:
    """(carry, host) of the newest checkpoint that restores, newest first. A checkpoint that fails
    (truncated or unreadable files: a kill or a full disk while it was written) is passed over with one
    warning line, and the previous one is used: its host data (metrics.jsonl's length, the next chunk)
    belong to it, so the run continues exactly from there. ConfigError when none restores: a layout
    that does not fit this program (written on another number of devices), or nothing readable."""
    import sys

    steps = sorted(manager.mgr.all_steps(), reverse=True)
    errors = []
    for step in steps:
        try:
            restored = manager.restore(carry, step)  # laid out like the fresh carry: this run's devices
        except Exception as e:
            errors.append(f"{step}: {type(e).__name__}")
            continue
        if errors:
            print(f"warning: checkpoint {', '.join(errors)} in {ckpt_dir} is unreadable; resuming from checkpoint "
                  f"{step}, the newest that restores", file=sys.stderr, flush=True)
        return restored
    if all(SHAPE_MISMATCH in e for e in errors):
        raise ConfigError(f"the checkpoints in {ckpt_dir} do not fit this program ({errors[0]}); resume on as many "
                          "devices as they were written on (--devices, --cpu_devices), or delete the folder to "
                          "start over")
    raise ConfigError(f"no checkpoint in {ckpt_dir} is readable ({'; '.join(errors)}); delete the folder to start over")


SHAPE_MISMATCH = "ValueError"  # what orbax raises for a checkpoint laid out for another number of devices


def _from_process_0(text: str) -> str:
    """Process 0's value of `text` on every process (itself when there is one process)."""
    import jax

    if jax.process_count() == 1:
        return text
    from jax.experimental import multihost_utils

    data = np.frombuffer(text.encode().ljust(4096, b"\0")[:4096], np.uint8)
    return bytes(np.asarray(multihost_utils.broadcast_one_to_all(data))).rstrip(b"\0").decode()


def _global(x: np.ndarray, sharding):
    """A global array from host data every process holds in full (each process places its own shards)."""
    import jax

    return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])


def _to_host(tree) -> dict[str, np.ndarray]:
    """Every leaf of a `run`-sharded pytree as one numpy array, on every process."""
    import jax

    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return jax.tree.map(np.asarray, multihost_utils.process_allgather(tree, tiled=True))
    return jax.tree.map(np.asarray, jax.device_get(tree))


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
