"""Weights & Biases logging, host-side only: ONE W&B run per seed, logged between compiled chunks.

    runs = SeedRuns(rc, seeds=[0, 1], point="clip_norm=3")   # wandb.init per seed
    runs(records)      # a train.py logger: the list of per-seed records of one chunk
    runs.finish()

Mode "auto" logs online when W&B credentials are present (WANDB_API_KEY, an identity token file or
~/.netrc) and offline otherwise; WANDB_MODE=offline forces offline, WANDB_MODE=disabled turns W&B
off. Offline runs land in `<dir>/wandb/offline-run-*` and upload later with `wandb sync <that dir>`.

Under a `wandb agent` (WANDB_SWEEP_ID set) the agent's run id becomes the run of the FIRST seed, so
the sweep controller sees that run and its `eval_return`; the other seeds are ordinary runs in the
same group with the sweep id in their config and tags.

Reading offline runs back: softrl_jax/io/wandb_files.py. The comparison report on W&B:
softrl_jax/io/wandb_report.py.
"""

from __future__ import annotations

import math
import os
import zlib
from pathlib import Path
from typing import Any, Sequence

MODES = ("off", "online", "offline", "auto")
DEFAULT_PROJECT = "softrl-jax"


def has_credentials() -> bool:
    """True when W&B would find credentials: WANDB_API_KEY, an identity token file, or ~/.netrc."""
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    try:
        import wandb
        from wandb.sdk.lib import wbauth

        host = os.environ.get("WANDB_BASE_URL") or wandb.Settings().base_url
        return bool(wbauth.read_netrc_auth(host=host))
    except Exception:  # noqa: BLE001  (an unreadable or malformed netrc means: no credentials)
        return False


def resolve_mode(mode: str) -> str:
    """'auto' | 'online' | 'offline' | 'off' -> the mode W&B will run in: 'online', 'offline' or 'off'."""
    if mode not in MODES:
        raise ValueError(f"--wandb={mode!r} is not valid; valid choices: {', '.join(MODES)}")
    env_mode = os.environ.get("WANDB_MODE", "").lower()
    if mode == "off" or env_mode == "disabled" or os.environ.get("WANDB_DISABLED", "").lower() in ("1", "true"):
        return "off"
    if mode == "offline" or env_mode in ("offline", "dryrun"):
        return "offline"
    if mode == "online":
        return "online"
    return "online" if has_credentials() else "offline"


def point_label(params: dict[str, Any]) -> str:
    """{'clip_norm': 3.0, 'num_samples': 64} -> 'clip_norm=3,num_samples=64' (stable, sorted)."""
    def fmt(v):
        if isinstance(v, float):
            return f"{v:g}"
        if isinstance(v, (list, tuple)):
            return "x".join(map(str, v))
        return str(v)

    return ",".join(f"{k}={fmt(v)}" for k, v in sorted(params.items()))


def group_name(algo: str, env: str, preset: str, point: str = "") -> str:
    """W&B group: algorithm + environment + sweep point, so group-by panels compare algorithms.
    W&B caps group names at 128 characters; a longer point keeps a hash suffix to stay unique."""
    name = f"{algo}|{env}|{preset}" + (f"|{point}" if point else "")
    if len(name) > 128:
        name = name[:119] + "~" + format(zlib.crc32(name.encode()), "08x")
    return name


def _sweep_context() -> dict[str, str] | None:
    """Take the `wandb agent` variables out of the environment before W&B reads them, so that the
    agent's run id goes to one seed only (W&B otherwise forces it onto every run of the process)."""
    sweep_id = os.environ.pop("WANDB_SWEEP_ID", None)
    if not sweep_id:
        return None
    return {"sweep_id": sweep_id, "run_id": os.environ.pop("WANDB_RUN_ID", None) or "",
            "param_path": os.environ.pop("WANDB_SWEEP_PARAM_PATH", None) or ""}


_SWEEP: dict[str, str] | None = None
_SWEEP_READ = False


def sweep_context() -> dict[str, str] | None:
    global _SWEEP, _SWEEP_READ
    if not _SWEEP_READ:
        _SWEEP, _SWEEP_READ = _sweep_context(), True
    return _SWEEP


class SeedRuns:
    """One W&B run per seed of one (algorithm, env, point); a logger for `softrl_jax.train.run`.

    Config: the flat run config (algo, env, preset and every hyperparameter) with `seed` set to
    THIS run's seed, plus `base_seed`, `sweep_point` and `extra_config`."""

    def __init__(self, rc, seeds: Sequence[int], *, mode: str, point: str = "", job_type: str = "train",
                 extra_config: dict | None = None, extra_tags: Sequence[str] = (), directory: str | None = None,
                 announce: bool = True, resume_ids: dict | None = None):
        import wandb

        loop = rc.loop
        self.mode, self.announce = mode, announce
        self.runs: dict[int, Any] = {}
        self.warned = False
        sweep = sweep_context() if mode == "online" else None
        group = loop.wandb_group or group_name(rc.algo, loop.env, rc.preset, point)
        tags = [rc.algo, loop.env, rc.preset, *extra_tags,
                *[t for t in loop.wandb_tags.split(",") if t]]
        if sweep:
            tags.append(f"sweep:{sweep['sweep_id']}")
        directory = directory or os.environ.get("WANDB_DIR") or loop.out or "."
        Path(directory).mkdir(parents=True, exist_ok=True)
        base = rc.flat()
        project, entity = loop.wandb_project or DEFAULT_PROJECT, loop.wandb_entity or None
        if sweep:  # the sweep's project and entity, which `wandb agent` puts in the environment
            project = os.environ.get("WANDB_PROJECT") or project
            entity = os.environ.get("WANDB_ENTITY") or entity
        for i, seed in enumerate(seeds):
            config = {**base, **(extra_config or {}), "seed": int(seed), "base_seed": loop.seed,
                      "sweep_point": point or rc.preset}
            # Console capture off (several runs share one process); system metrics on the first
            # seed's run only (the seeds share one process and one device).
            # Offline: quiet (the caller prints where the runs are and how to sync them).
            settings: dict[str, Any] = {"console": "off", "x_disable_stats": i > 0, "quiet": mode == "offline"}
            kwargs: dict[str, Any] = {}
            if sweep:
                config["sweep_id"] = sweep["sweep_id"]
            if sweep and i == 0:  # the agent's run: this seed reports to the sweep controller
                kwargs["id"] = sweep["run_id"] or None
                settings["sweep_id"] = sweep["sweep_id"]
            if resume_ids and resume_ids.get(str(seed)):  # a resumed run continues its W&B runs
                kwargs.update(id=resume_ids[str(seed)], resume="allow")
            kwargs["settings"] = wandb.Settings(**settings)
            self.runs[int(seed)] = wandb.init(
                project=project, entity=entity,
                group=group, job_type=job_type, tags=sorted(set(tags)),
                name=f"{rc.algo}-{loop.env}-{point or rc.preset}-seed{seed}"[:128],
                config=_jsonable(config), dir=directory, mode=mode, reinit="create_new", **kwargs)

    def __call__(self, records: list[dict]) -> None:
        for r in records:
            run = self.runs.get(int(r["seed"]))
            if run is None:
                continue
            data = {k: v for k, v in r.items()
                    if k not in ("seed", "step") and isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v))}
            data["env_step"] = int(r["step"])
            try:
                run.log(data, step=int(r["step"]))
            except Exception as e:  # network, quota, a dead W&B service: local files stay complete
                if not self.warned:
                    import sys

                    print(f"warning: W&B logging failed ({type(e).__name__}: {e}); training goes on, local files "
                          "stay complete", file=sys.stderr)
                    self.warned = True

    @property
    def ids(self) -> dict[str, str]:
        """W&B run id per seed (saved in checkpoints, so a resumed run continues them)."""
        return {str(seed): run.id for seed, run in self.runs.items()}

    def finish(self, exit_code: int = 0, preempted: bool = False) -> None:
        dirs = [str(Path(run.dir).parent) for run in self.runs.values()]
        for run in self.runs.values():
            try:
                if preempted:
                    run.mark_preempting()
                run.finish(exit_code=exit_code)
            except Exception as e:
                import sys

                print(f"warning: W&B run {run.id} did not finish cleanly ({type(e).__name__}: {e})", file=sys.stderr)
        self.runs = {}
        if self.announce and self.mode == "offline" and dirs:
            import sys

            print(f"W&B offline runs (one per seed): {' '.join(dirs)}\n  upload later: wandb sync {' '.join(dirs)}",
                  file=sys.stderr)

    @property
    def dirs(self) -> list[str]:
        return [run.dir for run in self.runs.values()]


def _jsonable(d: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def seed_runs_for(rc, point: str = "", **kwargs) -> SeedRuns | None:
    """The per-seed W&B runs `rc.loop.wandb` asks for, or None when W&B is off."""
    mode = resolve_mode(rc.loop.wandb)
    if mode == "off":
        return None
    seeds = [rc.loop.seed + s for s in range(rc.loop.seeds)]
    return SeedRuns(rc, seeds, mode=mode, point=point, **kwargs)
