"""The run session: everything a run holds on the host between its compiled chunks.

One writer per run folder (`io.runlock`), the folders' files (config.json, metrics.jsonl through
`io.runstore`), the loggers (W&B), the orbax checkpoint manager and the resume from its newest
readable checkpoint, SIGTERM/SIGINT (`checkpoint.StopSignals`), the hang watchdog and the progress
bar. Only process 0 writes files, draws progress and logs; every process saves into process 0's
checkpoint folder (orbax writes one checkpoint from all processes; on several hosts that folder must
be on a file system they share).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable, Sequence

from softrl_jax import checkpoint
from softrl_jax.config import ConfigError
from softrl_jax.devices import from_process_0
from softrl_jax.io import runlock
from softrl_jax.io.runstore import RunStore, read_metrics
from softrl_jax.io.watchdog import Watchdog

Logger = Callable[[list[dict]], None]


class RunSession:
    """The host side of one run of `points` (each with its `configs` entry). Construction takes the run
    folders' locks (process 0); `start` the signals, checkpoints and watchdog; `close` gives back what
    `start` took, and releases the locks unless the run finished (then `release`, after its summaries)."""

    def __init__(self, points: Sequence, configs: list[dict], writer: bool):
        self.points, self.configs, self.writer = points, configs, writer
        self.outs = [p.rc.loop.out for p in points]
        self.loop = points[0].rc.loop
        self.stores: list[RunStore] = []
        self.records: list[list[dict]] = [[] for _ in points]
        self.loggers: list[list[Logger]] = [[] for _ in points]
        self.ok = self.preempted = False
        self.manager = None
        self.time_before = 0.0  # time_s of the rows continues across resumes
        self._started = False
        if writer:  # one writer per run folder: a second process is refused here, before it writes anything
            for out in self.outs:
                runlock.hold(out)

    def start(self, bar) -> None:
        """Signals, checkpoint manager and watchdog; `bar` is the progress bar the run draws."""
        self.bar = bar
        self.ckpt_dir = from_process_0(str(checkpoint.checkpoint_dir(self.outs[0])))
        self.manager = checkpoint.Manager(self.ckpt_dir) if self.loop.checkpoint else None
        self.stop = checkpoint.StopSignals()
        self.stop.__enter__()
        # a chunk far past its expected time gets every thread's stack dumped (process 0's folder)
        self.watchdog = Watchdog(self.outs[0], self.loop.hang_factor, self.loop.hang_floor_s, self.loop.on_hang,
                                 settle=self.manager.wait if self.manager is not None else None)
        self.started = time.perf_counter()
        self.last_save = self.started
        self._started = True

    def restore(self, carry, resuming: bool) -> tuple:
        """(carry, host data) of the newest readable checkpoint when the folders hold this run, else
        (carry, {})."""
        if self.manager is None or from_process_0(str(resuming)) != "True" or self.manager.latest() is None:
            return carry, {}
        carry, host = restore_newest_readable(self.manager, carry, self.ckpt_dir)
        # the same point folders, however their paths are written (absolute, or relative to another
        # working directory): the checkpoints live in the first, the others are its siblings
        if self.writer and [Path(o).name for o in host.get("outs") or []] != [Path(o).name for o in self.outs]:
            raise ConfigError(f"the checkpoints in {self.ckpt_dir} belong to the points {host.get('outs')}, not "
                              f"{self.outs}; delete them to start over")
        self.time_before = host.get("time_s", 0.0)
        return carry, host

    def open_files(self, host: dict, loggers_for: Callable | None) -> None:
        """config.json, metrics.jsonl (cut back to the checkpoint's length on a resume) and the loggers
        (`loggers_for(i[, wandb ids])`, resuming the checkpoint's W&B runs)."""
        if not self.writer:
            return
        for i, p in enumerate(self.points):
            self.stores.append(RunStore(p.rc.loop.out, keep_bytes=host["metrics_bytes"][i] if host else 0))
            self.stores[-1].write_config(self.configs[i])
            if host:
                self.records[i] = read_metrics(p.rc.loop.out)
            ids = host.get("wandb_ids", [None] * len(self.points))[i] if host else None
            self.loggers[i] = list(loggers_for(i, ids) if ids else loggers_for(i)) if loggers_for else []

    def elapsed(self) -> float:
        """time_s of a row written now: seconds since this run started, plus those before its resume."""
        return self.time_before + time.perf_counter() - self.started

    def log(self, rows_by_point: list[list[dict]]) -> None:
        """Append each point's rows to its metrics.jsonl and loggers (process 0)."""
        if not self.writer:
            return
        for i, rows in enumerate(rows_by_point):
            self.stores[i].append(rows)
            for log in self.loggers[i]:
                log(rows)
            self.records[i].extend(rows)

    def save(self, next_chunk: int, carry, prev_step: int) -> None:
        """Checkpoint `carry` (the state before chunk `next_chunk`) with the host data a resume needs."""
        if self.manager is None:
            return
        meta = {"next_chunk": next_chunk, "prev_step": prev_step, "time_s": self.elapsed(), "outs": self.outs,
                "metrics_bytes": [st.size() for st in self.stores] if self.writer else [],
                "wandb_ids": [next((lg.ids for lg in lgs if hasattr(lg, "ids")), None) for lgs in self.loggers]}
        self.manager.save(next_chunk, carry, meta)
        self.last_save = time.perf_counter()

    def save_due(self) -> bool:
        return time.perf_counter() - self.last_save >= self.loop.checkpoint_every

    def stopped(self, next_chunk: int, carry, prev_step: int, total_steps: int) -> checkpoint.Stopped:
        """SIGTERM / SIGINT: checkpoint what is done; the exception that stops the run."""
        self.save(next_chunk, carry, prev_step)
        self.preempted = True
        return checkpoint.Stopped(self.stop.signum, prev_step, total_steps, self.outs)

    def close(self) -> None:
        """Give back the signals, watchdog, progress bar and checkpoint manager (the last checkpoint is
        complete before the process goes on or exits) and finish the loggers. After an error or a stop
        the locks go too: its checkpoint is complete and nothing more is written."""
        if self._started:
            self.watchdog.__exit__()
            self.stop.__exit__(None, None, None)
            self.bar.close()
        if self.manager is not None:
            self.manager.wait()
            self.manager.close()
        if not self.ok:
            self.release()
        for point_loggers in self.loggers:
            for log in point_loggers:
                if hasattr(log, "finish"):
                    log.finish(exit_code=0 if self.ok else (143 if self.preempted else 1), preempted=self.preempted)

    def release(self) -> None:
        for out in self.outs:
            runlock.release(out)


def restore_newest_readable(manager, carry, ckpt_dir: str) -> tuple:
    """(carry, host) of the newest checkpoint that restores, newest first. A checkpoint that fails
    (truncated or unreadable files: a kill or a full disk while it was written) is passed over with one
    warning line, and the previous one is used: its host data (metrics.jsonl's length, the next chunk)
    belong to it, so the run continues exactly from there. ConfigError when none restores: a layout
    that does not fit this program (written on another number of devices), or nothing readable."""
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
    stored, fields = checkpoint.stored_fields(ckpt_dir, steps[0]) if steps else None, getattr(carry, "_fields", None)
    if stored is not None and fields is not None and set(stored) != set(fields):
        raise ConfigError(f"the checkpoints in {ckpt_dir} were written by another version of softrl-jax: their carry "
                          f"holds {', '.join(stored)}; this program's holds {', '.join(fields)}; resume with the "
                          "version that wrote them, or delete the folder to start over")
    if all(SHAPE_MISMATCH in e for e in errors):
        raise ConfigError(f"the checkpoints in {ckpt_dir} do not fit this program ({errors[0]}); resume on as many "
                          "devices as they were written on (--devices, --cpu_devices), or delete the folder to "
                          "start over")
    raise ConfigError(f"no checkpoint in {ckpt_dir} is readable ({'; '.join(errors)}); delete the folder to start over")


SHAPE_MISMATCH = "ValueError"  # what orbax raises for a checkpoint laid out for another number of devices
