"""One writer per run folder: an OS file lock on `<folder>/.lock`.

`hold(folder)` takes an exclusive, non-blocking `fcntl.flock` on `<folder>/.lock` and writes the
holder's PID into it; a second process asking for the same folder gets a ConfigError naming that PID
(the command line turns it into one line and exit 2) and writes nothing. The kernel drops the lock
when its process ends, however it ends (SIGKILL included), so a stale lock file never blocks: the
PID in it is only what the error names. The lock is held until the process exits or `release()`.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from softrl_jax.config import ConfigError

LOCK_NAME = ".lock"
_held: dict[Path, int] = {}  # folder -> open file descriptor, for this process's locks


def hold(folder: str | Path, what: str = "run") -> Path:
    """Lock `folder` (created if missing) for this process; idempotent within one process. Raises
    ConfigError if another process holds it; the loser writes nothing (the folder and the lock file
    are already there). Returns the lock file's path."""
    folder = Path(folder).absolute()
    path = folder / LOCK_NAME
    if folder in _held:
        return path
    _check_free(folder.parent, what)  # a run inside a sweep's folder that another process sweeps
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise ConfigError(f"{str(folder)!r} cannot be locked ({e.strerror}); choose another folder") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_pid(fd)
        os.close(fd)
        raise ConfigError(f"{str(folder)!r} is in use by process {holder or '(unknown)'}: another {what} is writing "
                          f"there (lock {path}); wait for it to end, or choose another folder") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _held[folder] = fd
    return path


def release(folder: str | Path) -> None:
    """Drop this process's lock on `folder` (the lock file stays; it is harmless)."""
    fd = _held.pop(Path(folder).absolute(), None)
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _check_free(folder: Path, what: str) -> None:
    """ConfigError if another process holds `folder`'s lock (this process's own locks are free)."""
    path = folder / LOCK_NAME
    if folder in _held or not path.exists():
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_pid(fd)
        raise ConfigError(f"{str(folder)!r} is in use by process {holder or '(unknown)'} (lock {path}): a {what} "
                          "cannot write inside it; wait for it to end, or choose another folder") from None
    finally:
        os.close(fd)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
