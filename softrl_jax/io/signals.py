"""Graceful stops for commands that are not one `train` run (experiments, multi-piece pipelines).

- `Children`: SIGTERM/SIGINT go to the running child process (a `train` that checkpoints and exits
  143/130) and are remembered; no new child starts, and `Interrupted` carries the child's exit code.
- `exit_on_signal`: for a process that runs ONE compiled program and writes its files only at the end
  (nothing to checkpoint): the signal ends it at once, even inside a long XLA call, with one line and
  exit 143 (SIGTERM) or 130 (SIGINT).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading


class Interrupted(Exception):
    """SIGTERM/SIGINT stopped the pipeline; `exit_code`: the stopped child's (143/130 after a checkpoint)."""

    def __init__(self, signum: int, exit_code: int | None = None, then: str = "the stopped piece resumes from its "
                 "checkpoint"):
        self.signum, self.exit_code = signum, exit_code or 128 + signum
        super().__init__(f"stopped by {signal.Signals(signum).name}: the same command continues (finished pieces "
                         f"are skipped, {then})")


class Children:
    """SIGTERM/SIGINT, while active, go to the running child process and are remembered (no new child
    starts). Children start in their own process group, so a terminal's Ctrl-C reaches them once."""

    def __init__(self):
        self.proc: subprocess.Popen | None = None
        self.signum: int | None = None
        self._old: dict = {}

    def __enter__(self):
        self._old = {s: signal.signal(s, self._handle) for s in (signal.SIGTERM, signal.SIGINT)}
        return self

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)
        return False

    def _handle(self, signum, frame):
        self.signum = signum
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signum)

    def start(self, cmd: list[str], **kw) -> subprocess.Popen:
        if self.signum is not None:
            raise Interrupted(self.signum)
        self.proc = subprocess.Popen(cmd, process_group=0, **kw)
        return self.proc

    def run(self, cmd: list[str]) -> int:
        code = self.start(cmd).wait()
        if self.signum is not None:  # the child stopped on our signal: 143/130 after its checkpoint
            raise Interrupted(self.signum, code if code > 0 else 128 + (-code or self.signum))
        return code


def exit_on_signal(what: str) -> None:
    """From now on SIGTERM/SIGINT print `stopped by SIGNAL: <what>` and end the process with 128 + signal,
    at once, even while the main thread is inside a compiled program (where a Python signal handler
    waits for it to return): Python's C-level handler writes the signal number to a wakeup pipe in
    whichever thread the kernel picked, and a waiting thread acts on it. Call from the main thread."""
    read, write = os.pipe()
    os.set_blocking(write, False)
    signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda signum, frame: None)  # a Python handler, so that the C handler writes the pipe

    def wait() -> None:
        signum = os.read(read, 1)[0]
        print(f"stopped by {signal.Signals(signum).name}: {what}", file=sys.stderr, flush=True)
        os._exit(128 + signum)

    threading.Thread(target=wait, name="softrl-signals", daemon=True).start()
