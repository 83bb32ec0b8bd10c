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

`read_offline_run(dir)` reads a `.wandb` file back with W&B's own record format (leveldb-log framed
`wandb_internal_pb2.Record` protobufs), for tests and for inspecting runs that were never synced.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import struct
import zlib
from pathlib import Path
from typing import Any, Iterator, Sequence

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


# ---- reading offline runs back (W&B's transaction log: leveldb log format + protobuf records) ----

_BLOCK, _HEADER = 32768, 7
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4
_FILE_HEADER = struct.Struct("<4sHB")  # ident ':W&B', magic 0xBEE1, version 0
_RECORD_HEADER = struct.Struct("<IHB")  # crc32 of (type byte + data), length, type


def iter_records(path: str | os.PathLike) -> Iterator[Any]:
    """Yield every `wandb_internal_pb2.Record` of a `.wandb` file; checksums verified."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = Path(path).read_bytes()
    ident, magic, version = _FILE_HEADER.unpack_from(data, 0)
    if ident != b":W&B" or magic != 0xBEE1 or version != 0:
        raise ValueError(f"{path}: not a W&B transaction log (header {ident!r} {magic:#x} {version})")
    pos, pending = _FILE_HEADER.size, b""
    while pos + _HEADER <= len(data):
        left_in_block = _BLOCK - pos % _BLOCK
        if left_in_block < _HEADER:  # block trailer: zero padding
            pos += left_in_block
            continue
        crc, length, kind = _RECORD_HEADER.unpack_from(data, pos)
        if length == 0 and kind == 0:  # zero padding up to the block end
            pos += left_in_block
            continue
        chunk = data[pos + _HEADER: pos + _HEADER + length]
        if len(chunk) < length:
            break  # a run that is still being written
        if zlib.crc32(chunk, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF != crc:
            raise ValueError(f"{path}: checksum mismatch at byte {pos}")
        pos += _HEADER + length
        if kind == _FULL:
            pending, payload = b"", chunk
        elif kind == _FIRST:
            pending = chunk
            continue
        elif kind == _MIDDLE:
            pending += chunk
            continue
        elif kind == _LAST:
            payload, pending = pending + chunk, b""
        else:
            raise ValueError(f"{path}: unknown record type {kind} at byte {pos}")
        record = pb.Record()
        record.ParseFromString(payload)
        yield record


@dataclasses.dataclass
class OfflineRun:
    """What a `.wandb` file holds, decoded: the run record, its config and its history rows."""

    run_id: str
    project: str
    group: str
    job_type: str
    name: str
    tags: list[str]
    sweep_id: str
    config: dict[str, Any]
    history: list[dict[str, Any]]
    summary: dict[str, Any]
    complete: bool = False  # the run's `exit` record is in the file


def _item_key(item) -> str:
    return item.key or "/".join(item.nested_key)


def _item_value(item) -> Any:
    return json.loads(item.value_json) if item.value_json else None


def _config_value(v: Any) -> Any:
    # wandb stores each config entry as {"value": ..., "desc": ...}
    return v.get("value") if isinstance(v, dict) and "value" in v else v


def read_offline_run(run_dir: str | os.PathLike, wait_s: float = 0.0) -> OfflineRun:
    """Decode `<run_dir>/run-<id>.wandb` (an `offline-run-*` folder) into an OfflineRun.

    W&B's service writes the file in 32 KiB blocks and may still be flushing the last one after
    `run.finish()` returns; `wait_s` > 0 re-reads until the run's `exit` record is there."""
    import time

    deadline = time.monotonic() + wait_s
    while True:
        out = _read_offline_run(run_dir)
        if out.complete or time.monotonic() >= deadline:
            return out
        time.sleep(0.2)


def _read_offline_run(run_dir: str | os.PathLike) -> OfflineRun:
    files = sorted(Path(run_dir).glob("*.wandb"))
    if not files:
        raise FileNotFoundError(f"no .wandb file in {run_dir}")
    out = OfflineRun("", "", "", "", "", [], "", {}, [], {})
    for record in iter_records(files[0]):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            r = record.run
            out.run_id, out.project, out.group, out.job_type = r.run_id, r.project, r.run_group, r.job_type
            out.name, out.tags, out.sweep_id = r.display_name, list(r.tags), r.sweep_id
            for item in r.config.update:
                out.config[_item_key(item)] = _config_value(_item_value(item))
        elif kind == "config":
            for item in record.config.update:
                out.config[_item_key(item)] = _config_value(_item_value(item))
        elif kind == "history":
            out.history.append({_item_key(i): _item_value(i) for i in record.history.item})
        elif kind == "summary":
            for item in record.summary.update:
                out.summary[_item_key(item)] = _item_value(item)
        elif kind == "exit":
            out.complete = True
    return out


def offline_run_dirs(root: str | os.PathLike) -> list[Path]:
    """Every `offline-run-*` folder under `root` (for example a sweep folder), sorted."""
    return sorted(p for p in Path(root).rglob("offline-run-*") if p.is_dir())


# ---- the comparison online: a W&B report kept as code (needs `pip install wandb-workspaces`) ----

REPORT_METRICS = ("eval_return", "train_return", "critic_loss", "actor_loss", "entropy", "env_steps_per_s")


def comparison_report(entity: str, project: str, envs: Sequence[str], metric: str = "eval_return",
                      algos: Sequence[str] = ()):
    """A W&B report comparing algorithms per environment, the online twin of `make report`.

    One section per environment: a run set filtered to that `env` (and `algos`, if given), grouped by
    the W&B group (algo|env|preset|point), so every line is the mean over that group's seeds with a
    standard-error band; then a bar chart of the final `metric` per group and a parallel-coordinates
    view of the hyperparameters. Building it needs no network; `.save()` does (W&B credentials)."""
    import wandb_workspaces.expr as ex
    import wandb_workspaces.reports.v2 as wr

    blocks = [wr.P(f"Deterministic evaluation return (`{metric}`) of every algorithm, grouped by W&B group = "
                   "algorithm | environment | preset | sweep point: each line is the mean over that group's seeds "
                   "(one W&B run per seed), the band its standard error. Logged by softrl-jax "
                   "(`make sweep`, `python -m softrl_jax.train --wandb=auto`).")]
    for env in envs:
        filters = [ex.Config("env") == env]
        if algos:
            filters.append(ex.Config("algo").isin(list(algos)))
        runset = wr.Runset(entity=entity, project=project, name=env, filters=filters, groupby=["group"])
        panels = [wr.LinePlot(title=f"{env}: {m}", x="Step", y=[m], groupby_aggfunc="mean",
                              groupby_rangefunc="stderr", smoothing_type="none",
                              layout=wr.Layout(x=(i % 2) * 12, y=(i // 2) * 8, w=12, h=8))
                  for i, m in enumerate([metric, *[m for m in REPORT_METRICS if m != metric]])]
        panels.append(wr.BarPlot(title=f"{env}: final {metric} per group", metrics=[metric],
                                 groupby_aggfunc="mean", groupby_rangefunc="stderr",
                                 layout=wr.Layout(x=0, y=24, w=12, h=8)))
        panels.append(wr.ParallelCoordinatesPlot(
            title=f"{env}: hyperparameters -> {metric}",
            columns=[wr.ParallelCoordinatesPlotColumn(metric=wr.Config(c)) for c in
                     ("algo", "preset", "actor_lr", "critic_lr", "tau", "alpha", "reward_scale", "clip_norm",
                      "num_samples")] + [wr.ParallelCoordinatesPlotColumn(metric=wr.SummaryMetric(metric))],
            layout=wr.Layout(x=12, y=24, w=12, h=8)))
        blocks += [wr.H2(env), wr.PanelGrid(runsets=[runset], panels=panels)]
    return wr.Report(project=project, entity=entity, title="softrl-jax: algorithm comparison",
                     description="DSPG, SAC, DDPG and SQL side by side, one W&B run per seed", blocks=blocks)
