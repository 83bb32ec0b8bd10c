"""Local run files: `<out>/config.json` and `<out>/metrics.jsonl` (one JSON object per seed and
evaluation). Host-side only."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Iterable


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None  # JSON has no NaN; an evaluation chunk with no finished episode logs null
    return v


class RunStore:
    """Writes one run folder: config.json atomically, metrics.jsonl appended and flushed per chunk.
    A resumed run keeps the first `keep_bytes` bytes of metrics.jsonl (its length at the checkpoint)."""

    def __init__(self, out: str | os.PathLike, keep_bytes: int = 0):
        self.dir = Path(out)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.metrics_path = self.dir / "metrics.jsonl"
        if self.metrics_path.exists():
            os.truncate(self.metrics_path, keep_bytes)
        else:
            self.metrics_path.touch()

    def write_config(self, config: dict) -> None:
        write_json(self.dir / "config.json", config)

    def append(self, records: Iterable[dict]) -> None:
        """Append whole rows or none: a write that fails (a full disk, a file-size limit) is cut back, so
        the file never ends in half a row, and the OSError goes on to the caller."""
        text = "".join(json.dumps({k: _clean(v) for k, v in r.items()}) + "\n" for r in records)
        before = self.size()
        try:
            with self.metrics_path.open("a") as f:
                f.write(text)
        except OSError as e:
            os.truncate(self.metrics_path, before)  # shrinking needs no space
            raise OSError(e.errno, e.strerror, str(self.metrics_path)) from None

    def size(self) -> int:
        return self.metrics_path.stat().st_size


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write `obj` as indented JSON to `path`, creating its folder; atomically (a temporary file renamed
    over it), so a reader or a kill never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(json.dumps(obj, indent=2, default=list) + "\n")
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return path


def read_metrics(run_dir: str | os.PathLike) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def read_config(run_dir: str | os.PathLike) -> dict:
    return json.loads((Path(run_dir) / "config.json").read_text())
