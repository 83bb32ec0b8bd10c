"""A rich progress bar over environment steps, updated between compiled chunks."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class StepProgress:
    def __init__(self, total: int, description: str, enabled: bool = True):
        self.enabled = enabled
        if not enabled:
            return
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn(),
            console=Console(file=sys.stderr), transient=False)
        self.task = self.progress.add_task(description, total=total, status="compiling...")
        self.progress.start()

    def update(self, completed: int, status: str) -> None:
        if self.enabled:
            self.progress.update(self.task, completed=completed, status=status)

    def close(self) -> None:
        if self.enabled:
            self.progress.stop()
