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
    """Writes one run folder. Refuses a folder that already holds a run."""

    def __init__(self, out: str | os.PathLike):
        self.dir = Path(out)
        if (self.dir / "metrics.jsonl").exists() or (self.dir / "config.json").exists():
            raise FileExistsError(f"--out={str(out)!r} already holds a run; choose another --out or delete it")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.metrics_path = self.dir / "metrics.jsonl"

    def write_config(self, config: dict) -> None:
        (self.dir / "config.json").write_text(json.dumps(config, indent=2, default=list) + "\n")

    def append(self, records: Iterable[dict]) -> None:
        with self.metrics_path.open("a") as f:
            for r in records:
                f.write(json.dumps({k: _clean(v) for k, v in r.items()}) + "\n")


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write `obj` as indented JSON to `path`, creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, default=list) + "\n")
    return path


def read_metrics(run_dir: str | os.PathLike) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def read_config(run_dir: str | os.PathLike) -> dict:
    return json.loads((Path(run_dir) / "config.json").read_text())
