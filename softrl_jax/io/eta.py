"""A run's expected training time, said before training starts: from the rate this machine measured for
the same program before (kept in `rates.json` beside the compilation cache), or, for a program never
run here, from its first training chunk."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from softrl_jax.io.runstore import write_json

# fields that never change what a chunk computes or how fast (where the run writes, which seed, how long)
NOT_THE_PROGRAM = frozenset({"out", "seed", "total_steps", "resume", "progress", "compile_cache", "checkpoint",
                             "checkpoint_every", "on_hang", "hang_factor", "hang_floor_s", "wandb", "wandb_project",
                             "wandb_entity", "wandb_group", "wandb_tags", "distributed", "coordinator",
                             "num_processes", "process_id"})


def signature(config: dict, runs: int, device: str) -> str:
    """The program's identity for rates: its configuration without NOT_THE_PROGRAM, the run count and
    the device kind."""
    kept = {k: v for k, v in sorted(config.items()) if k not in NOT_THE_PROGRAM}
    text = json.dumps([kept, runs, device], sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def known(folder: Path | None, key: str) -> dict | None:
    """{'env_steps_per_s', 'measured'} of an earlier run of the same program on this machine, or None."""
    try:
        return json.loads((folder / "rates.json").read_text()).get(key) if folder else None
    except (OSError, ValueError):
        return None


def remember(folder: Path | None, key: str, env_steps_per_s: float) -> None:
    """Keep this run's steady rate for the next run of the same program (best effort: a failed write only
    loses the estimate)."""
    if not folder or not env_steps_per_s > 0:
        return
    try:
        path = folder / "rates.json"
        rates = json.loads(path.read_text()) if path.exists() else {}
        rates[key] = {"env_steps_per_s": round(env_steps_per_s, 1), "measured": time.strftime("%Y-%m-%d")}
        write_json(path, rates)
    except (OSError, ValueError):
        pass


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s" if m else f"{s}s"


def estimate(env_steps: int, rate: float, source: str) -> str:
    return (f"estimated training time: {duration(env_steps / rate)} ({env_steps:,} env steps at "
            f"{rate:,.0f} env steps/s, {source})")
