"""Reading W&B offline runs back without W&B's servers: `read_offline_run(dir)` decodes a `.wandb` file
with W&B's own record format (leveldb-log framed `wandb_internal_pb2.Record` protobufs), for tests and
for inspecting runs that were never synced.
"""

from __future__ import annotations

import dataclasses
import json
import os
import struct
import zlib
from pathlib import Path
from typing import Any, Iterator


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
