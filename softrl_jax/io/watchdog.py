"""The watchdog: a chunk that runs far past its expected time has every thread's stack dumped.

A daemon thread watches the chunk in flight. The chunk is late once it has run longer than
`max(floor_s, factor x the median duration of the chunks before it)`. The first chunk of a process
is never judged, since it has no history and pays for first-run costs. A late chunk:

- has every thread's Python stack written by `faulthandler` to `<out>/hang-<time>.txt`;
- gets one line on stderr naming the chunk, its first step and the file;
- then, with `on_hang="exit"`, lets the checkpoint still being written finish (`settle`, at most
  `settle_s`) and ends the process with exit code 3 (`os._exit`: the chunk in flight cannot be
  interrupted, and the last complete checkpoint stays valid); with `"wait"` the run waits on and the
  dump is written once per late chunk.
"""

from __future__ import annotations

import faulthandler
import os
import statistics
import sys
import threading
import time
from pathlib import Path

EXIT_CODE = 3


class Watchdog:
    def __init__(self, out: str | Path, factor: float, floor_s: float, on_hang: str, poll_s: float = 0.5,
                 settle=None, settle_s: float = 60.0):
        """`settle`: called (at most `settle_s` seconds) before an exit, to let the checkpoint that is still
        being written finish: the previous chunk's save is asynchronous."""
        self.out, self.factor, self.floor_s, self.on_hang, self.poll_s = Path(out), factor, floor_s, on_hang, poll_s
        self.settle, self.settle_s = settle, settle_s
        self.durations: list[float] = []
        self._current: tuple[int, int, float] | None = None  # (chunk, first step, start time)
        self._reported: int | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="softrl-watchdog", daemon=True)
        self.dumps: list[Path] = []

    def __enter__(self) -> "Watchdog":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def expected_s(self) -> float | None:
        """Seconds after which the chunk in flight is late; None before the first chunk has finished."""
        if not self.durations:
            return None
        return max(self.floor_s, self.factor * statistics.median(self.durations))

    def start(self, chunk: int, step: int) -> None:
        with self._lock:
            self._current = (chunk, step, time.perf_counter())

    def done(self) -> None:
        with self._lock:
            if self._current is not None:
                self.durations.append(time.perf_counter() - self._current[2])
            self._current = None

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_s):
            with self._lock:
                current, limit = self._current, self.expected_s()
            if current is None or limit is None or current[0] == self._reported:
                continue
            chunk, step, started = current
            ran = time.perf_counter() - started
            if ran > limit:
                self._reported = chunk
                self._report(chunk, step, ran, limit)

    def _report(self, chunk: int, step: int, ran: float, limit: float) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / f"hang-{time.strftime('%Y%m%d-%H%M%S')}.txt"
        with path.open("w") as f:
            f.write(f"chunk {chunk} (from step {step}) has run {ran:.1f} s; expected at most {limit:.1f} s "
                    f"(max(--hang_floor_s={self.floor_s:g}, --hang_factor={self.factor:g} x median of "
                    f"{len(self.durations)} chunk(s))). Stacks of every thread, pid {os.getpid()}:\n\n")
            f.flush()
            faulthandler.dump_traceback(file=f, all_threads=True)
        self.dumps.append(path)
        action = ("exiting with code 3; the last checkpoint is intact, run the same command to resume"
                  if self.on_hang == "exit" else "waiting on (--on_hang=exit ends the run instead)")
        print(f"watchdog: the chunk from step {step} has run {ran:.0f} s, past {limit:.0f} s; stacks of every "
              f"thread in {path}; {action}", file=sys.stderr, flush=True)
        if self.on_hang == "exit":
            if self.settle is not None:  # in its own thread: a hang inside the save must not hold the exit
                waiter = threading.Thread(target=self._settle, name="softrl-watchdog-settle", daemon=True)
                waiter.start()
                waiter.join(self.settle_s)
            os._exit(EXIT_CODE)

    def _settle(self) -> None:
        try:
            self.settle()
        except Exception:  # a failed save leaves the checkpoint before it, which is what an exit keeps
            pass
