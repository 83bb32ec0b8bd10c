"""Checkpoints of a run (orbax), resume checks, and graceful stops. Used by `softrl_jax.runner` only.

A checkpoint is the WHOLE scan carry of every run of a program (agent parameters, optimiser states,
target networks, environment states, the replay buffer, exploration noise, PRNG keys, chunk
counters) plus what the host needs to continue: the next chunk, the byte length of each
metrics.jsonl at that moment, the last step and elapsed time, and the W&B run ids. Checkpoints live
in `<out>/checkpoints/<next chunk>/` (a sweep group: in its first point's folder), are written by
orbax's CheckpointManager asynchronously (the device-to-host copy blocks, the file writing does not)
and atomically (a step folder appears only once complete; orbax leaves unfinished ones under a
temporary name and removes them on the next start), and the newest two are kept.

Resuming restores the carry bit for bit, truncates metrics.jsonl back to the checkpoint's length
and runs the remaining chunks with the same compiled programs, so a run resumed after SIGKILL at any
moment writes the same rows (wall-clock fields aside) and ends with the same parameters as a run
never interrupted.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Sequence

from softrl_jax.config import ConfigError

# Fields a resumed run may change: where and how it runs, never what it computes (devices can change
# float rounding; see docs/scale.md "Same numbers on more devices?").
MAY_CHANGE = frozenset({
    "progress", "compile_cache", "checkpoint", "checkpoint_every", "devices", "cpu_devices", "distributed",
    "on_hang", "hang_factor", "hang_floor_s",
    "coordinator", "num_processes", "process_id", "cpu_ynn_fusion", "wandb", "wandb_project", "wandb_entity",
    "wandb_group", "wandb_tags"})
KEEP = 2  # newest checkpoints kept


def _json(v: Any) -> Any:
    return json.loads(json.dumps(v, default=list))


def existing_config(out: str | Path) -> dict | None:
    """The config.json of a run folder, None when there is none; ConfigError when the folder holds
    metrics without a config (not a run this suite can continue)."""
    out = Path(out)
    if (out / "config.json").exists():
        try:
            return json.loads((out / "config.json").read_text())
        except (OSError, ValueError) as e:
            raise ConfigError(f"--out={str(out)!r} holds an unreadable config.json ({e}); choose another --out "
                              "or delete it") from None
    if (out / "metrics.jsonl").exists():
        raise ConfigError(f"--out={str(out)!r} already holds a run without config.json; choose another --out or "
                          "delete it")
    return None


def check_writable(out: str | Path) -> None:
    """ConfigError unless `out` is, or can be created as, a writable folder (nothing is created here)."""
    import os

    path = Path(out).absolute()
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"--out={str(out)!r} cannot be a folder: {str(probe)!r} is a file; choose another --out")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"--out={str(out)!r} is not writable ({str(probe)!r} denies writing); choose another --out")


def check_same_config(out: str | Path, config: dict) -> bool:
    """True when `out` holds a run of the same configuration (it will be resumed), False when it holds
    none; ConfigError naming the differing fields otherwise."""
    check_writable(out)
    old = existing_config(out)
    if old is None:
        return False
    new = _json(config)
    # `out` is this folder (its config.json was read from it), however the path is written: absolute, or
    # relative to another working directory
    old["out"] = new.get("out")
    diff = sorted(k for k in set(old) | set(new) if k not in MAY_CHANGE and old.get(k) != new.get(k))
    if diff:
        shown = ", ".join(f"--{k}={_flag(new.get(k))} (the run has {_flag(old.get(k))})" for k in diff[:6])
        more = f" and {len(diff) - 6} more" if len(diff) > 6 else ""
        raise ConfigError(f"--out={str(out)!r} holds a run with another configuration: {shown}{more}; resume with "
                          "the run's own flags (--resume=PATH), or choose another --out")
    return True


def _flag(v: Any) -> str:
    if isinstance(v, list):
        return ",".join(map(str, v))
    return "(unset)" if v is None else str(v)


def checkpoint_dir(out: str | Path) -> Path:
    return Path(out).absolute() / "checkpoints"


@contextlib.contextmanager
def _drained_stderr(grace_s: float = 1.0):
    """Run a restore attempt with file descriptor 2 captured. On success what it printed is passed on;
    on failure the reads still in flight get `grace_s` to finish and their noise is dropped:
    tensorstore's reader threads complete them after orbax has closed its event loop, and each
    completion prints `RuntimeError: Event loop is closed` from a thread with no Python frame to catch
    it in; the coroutines they belonged to report their read error again at exit (silenced through
    sys.unraisablehook)."""
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        except Exception:
            time.sleep(grace_s)
            _quiet_failed_io()
            raise
        else:
            capture.seek(0)
            os.write(saved, capture.read())
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def _quiet_failed_io() -> None:
    """After a failed checkpoint read or write, drop what its abandoned reads and background save
    threads report later, when they are garbage collected or at exit: the 'Exception ignored in
    <coroutine ...>' reports (sys.unraisablehook), the 'coroutine ... was never awaited' warnings, and
    asyncio's and absl's error log records. The failure itself is reported once by the caller (the
    fallback line of a resume, or the OSError of a write). Reports of anything else pass as before."""
    import logging
    import warnings

    previous = sys.unraisablehook
    if getattr(previous, "_softrl_quiet", False):
        return

    def hook(unraisable):
        if not _from_failed_io(f"{unraisable.exc_value!r} {unraisable.object!r}"):
            previous(unraisable)

    hook._softrl_quiet = True
    sys.unraisablehook = hook
    warnings.filterwarnings("ignore", message="coroutine '_read_array_index_and_device_put' was never awaited")
    for logger in ("asyncio", "absl"):  # asyncio's 'never retrieved'; orbax's save threads log through absl
        logging.getLogger(logger).addFilter(lambda record: not _from_failed_io(
            f"{record.getMessage()} {record.exc_info[1] if record.exc_info else ''}"))


def _from_failed_io(text: str) -> bool:
    return any(m in text for m in ("_read_array_index_and_device_put", "Encountered error while reading array",
                                   "is not compatible with the stored shape", "Event loop is closed",
                                   "os_error_code=", "async_serialize_from_host"))


@contextlib.contextmanager
def _write_errors_as_oserror():
    """A checkpoint write that failed in the file system (a full disk, a file-size limit) as the OSError
    it is (errno, message, file), so the caller reports it in one line; tensorstore reports it as a
    ValueError naming `os_error_code`. Its background threads' error logs are silenced (see
    `_quiet_failed_io`): the OSError says it once."""
    try:
        yield
    except Exception as e:
        text = str(e)
        code = re.search(r"os_error_code=\\?'?(\d+)", text)
        if code is None:
            raise
        name = re.search(r'Failed writing: \\?"([^"\\]+)', text)
        errno_ = int(code.group(1))
        raise OSError(errno_, os.strerror(errno_), name.group(1) if name else None) from None


class Manager:
    """The newest `KEEP` checkpoints of one program's carry, saved asynchronously and atomically."""

    def __init__(self, directory: str | Path):
        import orbax.checkpoint as ocp

        self._ocp = ocp
        options = ocp.CheckpointManagerOptions(max_to_keep=KEEP, create=True, enable_async_checkpointing=True,
                                               cleanup_tmp_directories=True)
        self.mgr = ocp.CheckpointManager(Path(directory).absolute(), options=options)
        _quiet_failed_io()  # failed reads and writes: they surface once (a fallback line, or an OSError)

    def latest(self) -> int | None:
        return self.mgr.latest_step()

    def save(self, step: int, carry, host: dict) -> bool:
        """Start saving; returns once the carry is copied off the device (False: `step` exists)."""
        if step in self.mgr.all_steps():
            return False
        ocp = self._ocp
        with _write_errors_as_oserror():  # also the previous save's failure, which orbax raises here
            return self.mgr.save(step, args=ocp.args.Composite(carry=ocp.args.StandardSave(_drop_empty(carry)),
                                                                host=ocp.args.JsonSave(host)), force=True)

    def restore(self, target, step: int | None = None) -> tuple[Any, dict]:
        """(carry laid out like `target`, host dict) of `step` (default the newest)."""
        ocp = self._ocp
        step = self.latest() if step is None else step
        with _drained_stderr():
            r = self.mgr.restore(step, args=ocp.args.Composite(carry=ocp.args.StandardRestore(_drop_empty(target)),
                                                                host=ocp.args.JsonRestore()))
        return _restore_empty(target, r["carry"]), dict(r["host"])

    def wait(self) -> None:
        with _write_errors_as_oserror():
            self.mgr.wait_until_finished()

    def close(self) -> None:
        with _write_errors_as_oserror():
            self.mgr.close()


def _drop_empty(tree):
    """`tree` with its zero-size leaves as None: orbax refuses to save empty arrays, and MJX states
    hold some (`mjx.Data.act` of a model without actuator states, e.g. Playground's DM Control tasks)."""
    import jax

    return jax.tree.map(lambda x: None if x.size == 0 else x, tree)


def _restore_empty(target, restored):
    """Put `target`'s zero-size leaves back where `_drop_empty` left None."""
    import jax
    import jax.numpy as jnp

    def fill(t, r):
        if t.size == 0:
            return jnp.zeros(t.shape, t.dtype, device=getattr(t, "sharding", None))
        return r

    return jax.tree.map(fill, target, restored, is_leaf=lambda x: x is None)


def read_carry(out: str | Path, step: int | None = None) -> tuple[dict, dict]:
    """(carry as a dict of numpy arrays, host dict) of a run's checkpoint (default the newest), read
    without its program and on any device count (e.g. to compare final parameters)."""
    import jax
    import numpy as np
    import orbax.checkpoint as ocp

    handlers = {"carry": ocp.StandardCheckpointHandler(), "host": ocp.JsonCheckpointHandler()}
    with ocp.CheckpointManager(checkpoint_dir(out), item_handlers=handlers) as mgr:
        step = mgr.latest_step() if step is None else step
        one = jax.sharding.SingleDeviceSharding(jax.devices()[0])
        target = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=one),
                              mgr.item_metadata(step)["carry"])
        r = mgr.restore(step, args=ocp.args.Composite(carry=ocp.args.StandardRestore(target),
                                                       host=ocp.args.JsonRestore()))
    return jax.tree.map(np.asarray, r["carry"]), dict(r["host"])


def stored_fields(directory: str | Path, step: int) -> list[str] | None:
    """The top-level fields of the carry saved at `step` in `directory`, read from orbax's metadata
    without restoring anything; None when unreadable."""
    import orbax.checkpoint as ocp

    handlers = {"carry": ocp.StandardCheckpointHandler(), "host": ocp.JsonCheckpointHandler()}
    try:
        with _drained_stderr(), ocp.CheckpointManager(Path(directory).absolute(), item_handlers=handlers) as mgr:
            return list(mgr.item_metadata(step)["carry"].keys())
    except Exception:
        return None


class Stopped(Exception):
    """SIGTERM or SIGINT stopped a run after a checkpoint was written."""

    def __init__(self, signum: int, step: int, total: int, outs: Sequence[str]):
        self.signum, self.step, self.total, self.outs = signum, step, total, list(outs)
        super().__init__(f"stopped by {signal.Signals(signum).name} at step {step} of {total}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # 143 for SIGTERM, 130 for SIGINT


class StopSignals:
    """While active, the first SIGTERM/SIGINT asks the run to stop after the chunk in flight (the
    runner then writes a checkpoint and raises Stopped); a second one stops at once, leaving the
    last complete checkpoint. Only in the main thread (elsewhere signals cannot be caught)."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, enabled: bool = True):
        self.signum: int | None = None
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self._old: dict = {}

    def _handle(self, signum, frame):
        if self.signum is not None:  # second signal: stop now
            import os

            os._exit(128 + signum)
        self.signum = signum
        import sys

        print(f"\n{signal.Signals(signum).name}: stopping after the chunk in flight and writing a checkpoint "
              "(send it again to stop at once)", file=sys.stderr, flush=True)

    def __enter__(self):
        if self.enabled:
            self._old = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)
        return False
