"""Progress over environment steps, updated between compiled chunks: a rich bar on a terminal; elsewhere
(a log file, a pipe, a batch job) one plain line at most every `every_s` seconds and at the end, each
with the elapsed time and the ETA."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from softrl_jax.io.eta import duration


class StepProgress:
    def __init__(self, total: int, description: str, enabled: bool = True, every_s: float = 30.0):
        self.enabled = enabled
        if not enabled:
            return
        console = Console(file=sys.stderr)
        self.live = console.is_terminal
        self.total, self.description, self.every_s = total, description, every_s
        self.started = time.perf_counter()
        self.first: tuple[int, float] | None = None  # (step, time) of the first update: rates exclude compile
        self.printed = float("-inf")
        if self.live:
            self.progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                console=console, transient=False)
            self.task = self.progress.add_task(description, total=total, status="compiling...")
            self.progress.start()

    def update(self, completed: int, status: str) -> None:
        if not self.enabled:
            return
        if self.live:
            self.progress.update(self.task, completed=completed, status=status)
            return
        now = time.perf_counter()
        if self.first is None:
            self.first = (completed, now)
        if now - self.printed < self.every_s and completed < self.total:
            return
        self.printed = now
        step0, t0 = self.first
        rate = (completed - step0) / (now - t0) if now > t0 and completed > step0 else 0.0
        eta = duration((self.total - completed) / rate) if rate > 0 else "?"
        print(f"{self.description}: {completed:,}/{self.total:,} ({100 * completed / max(1, self.total):.0f}%) "
              f"{' '.join(status.split())}  elapsed {duration(now - self.started)}  ETA {eta}",
              file=sys.stderr, flush=True)

    def note(self, text: str) -> None:
        """One line beside the bar (above it on a terminal)."""
        if not self.enabled:
            return
        if self.live:
            self.progress.console.print(text, highlight=False, markup=False)
        else:
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.enabled and self.live:
            self.progress.stop()
