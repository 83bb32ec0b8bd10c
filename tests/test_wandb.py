"""W&B logging: offline run files read back with W&B's own record format (no mock)."""

import dataclasses
import json
import os
from pathlib import Path

import pytest

from softrl_jax import algos, sweep
from softrl_jax.config import LoopConfig
from softrl_jax.io import wandb_files, wandb_log
from softrl_jax.io.runstore import read_metrics

TINY = ["--env=gymnax:Pendulum-v1", "--seeds=2", "--preset=quick", "--", "--hidden=16,16", "--num_samples=4",
        "--batch_size=32", "--warmup_steps=200", "--eval_every=200", "--total_steps=600", "--eval_episodes=2",
        "--episode_length=50", "--buffer_size=1000", "--num_envs=2", "--updates_per_step=1", "--progress=false"]


@pytest.fixture()
def offline(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wb"))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    (tmp_path / "wb").mkdir()
    return tmp_path


@pytest.mark.system
def test_offline_sweep_one_wandb_run_per_seed_per_point(offline, tmp_path, monkeypatch):
    monkeypatch.chdir(Path(__file__).parents[1])  # sweeps/dspg.yaml
    sweep_dir = tmp_path / "sweep"
    assert sweep.main(["--algo=dspg", "--count=2", f"--sweep_dir={sweep_dir}", *TINY]) == 0
    runs = [wandb_files.read_offline_run(d, wait_s=60) for d in wandb_files.offline_run_dirs(tmp_path / "wb")]
    assert len(runs) == 4 and all(r.complete for r in runs)  # 2 points x 2 seeds
    manifest = json.loads((sweep_dir / "sweep.json").read_text())
    assert [g["vmapped_fields"] for g in manifest["groups"]] == [["clip_norm"]]  # one compiled program
    groups = {r.group for r in runs}
    # --num_samples in ARGS fixes M, so only the clip norm is swept
    assert groups == {"dspg|gymnax:Pendulum-v1|quick|clip_norm=1", "dspg|gymnax:Pendulum-v1|quick|clip_norm=3"}
    fields = {f.name for f in dataclasses.fields(LoopConfig)} | {f.name for f in dataclasses.fields(algos.get("dspg").Config)}
    seen = set()
    for run in runs:
        cfg = run.config
        assert fields <= set(cfg) and cfg["algo"] == "dspg" and cfg["env"] == "gymnax:Pendulum-v1"
        assert cfg["preset"] == "quick" and cfg["hidden"] == [16, 16] and cfg["num_samples"] == 4
        assert run.job_type == "sweep" and "dspg" in run.tags and run.project == "softrl-jax"
        seen.add((cfg["clip_norm"], cfg["seed"]))
        # the history holds this seed's eval_return at every evaluation, equal to the local metrics.jsonl
        point = next(p for p in manifest["points"] if p["params"]["clip_norm"] == cfg["clip_norm"])
        local = [r for r in read_metrics(sweep_dir / point["folder"]) if r["seed"] == cfg["seed"]]
        assert [h["_step"] for h in run.history] == [400, 600] == [r["step"] for r in local]
        assert [h["eval_return"] for h in run.history] == [r["eval_return"] for r in local]
        assert [h["critic_loss"] for h in run.history] == [r["critic_loss"] for r in local]
        assert run.summary["eval_return"] == local[-1]["eval_return"]
    assert seen == {(1.0, 0), (1.0, 1), (3.0, 0), (3.0, 1)}  # never one run mixing seeds


def test_train_cli_logs_one_run_per_seed(offline, tmp_path):
    from softrl_jax.train import main

    out = tmp_path / "run"
    flags = [a for a in TINY if a != "--"] + ["--algo=dspg", "--wandb=auto", f"--out={out}", "--seed=5"]
    assert main(flags) == 0
    runs = sorted((wandb_files.read_offline_run(d, wait_s=60) for d in wandb_files.offline_run_dirs(tmp_path / "wb")),
                  key=lambda r: r.config["seed"])
    assert [r.config["seed"] for r in runs] == [5, 6] and all(r.complete for r in runs)
    assert all(r.group == "dspg|gymnax:Pendulum-v1|quick" and r.job_type == "train" for r in runs)
    local = read_metrics(out)
    for r in runs:
        mine = [m["eval_return"] for m in local if m["seed"] == r.config["seed"]]
        assert [h["eval_return"] for h in r.history] == mine and len(mine) == 2
        assert r.config["base_seed"] == 5 and r.config["seeds"] == 2


def test_reader_handles_records_across_blocks(offline, tmp_path):
    """A config bigger than a 32 KiB block forces FIRST/MIDDLE/LAST records; checksums are verified."""
    import wandb

    blob = "".join(chr(97 + i % 26) for i in range(100_000))
    run = wandb.init(project="reader-test", config={"blob": blob, "x": 1.5}, dir=str(tmp_path / "wb"),
                     mode="offline", reinit="create_new")
    for i in range(300):
        run.log({"v": i * 0.5, "w": i}, step=i)
    run.finish()
    (d,) = wandb_files.offline_run_dirs(tmp_path / "wb")
    r = wandb_files.read_offline_run(d, wait_s=60)
    assert r.complete and r.config["blob"] == blob and r.config["x"] == 1.5
    assert [h["v"] for h in r.history] == [i * 0.5 for i in range(300)]
    assert os.path.getsize(next(d.glob("*.wandb"))) > 3 * 32768
    # a corrupted byte is caught by the checksum
    f = next(d.glob("*.wandb"))
    data = bytearray(f.read_bytes())
    data[50_000] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum"):
        wandb_files.read_offline_run(d)


def test_resolve_mode(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    assert wandb_log.resolve_mode("auto") == "offline"  # no key anywhere
    assert wandb_log.resolve_mode("off") == "off"
    (tmp_path / "netrc").write_text("machine api.wandb.ai\n  login user\n  password " + "a" * 40 + "\n")
    os.chmod(tmp_path / "netrc", 0o600)
    assert wandb_log.has_credentials() and wandb_log.resolve_mode("auto") == "online"
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert wandb_log.resolve_mode("auto") == "offline" and wandb_log.resolve_mode("online") == "offline"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert wandb_log.resolve_mode("auto") == "off"
    with pytest.raises(ValueError, match="maybe"):
        wandb_log.resolve_mode("maybe")


def test_agent_variables_go_to_one_seed(monkeypatch):
    monkeypatch.setenv("WANDB_SWEEP_ID", "abc123")
    monkeypatch.setenv("WANDB_RUN_ID", "run42")
    monkeypatch.setenv("WANDB_SWEEP_PARAM_PATH", "/tmp/p.yaml")
    ctx = wandb_log._sweep_context()
    assert ctx == {"sweep_id": "abc123", "run_id": "run42", "param_path": "/tmp/p.yaml"}
    assert "WANDB_SWEEP_ID" not in os.environ and "WANDB_RUN_ID" not in os.environ


def test_group_names():
    assert wandb_log.point_label({"clip_norm": 3.0, "hidden": (64, 64), "num_samples": 64}) == \
        "clip_norm=3,hidden=64x64,num_samples=64"
    long = wandb_log.group_name("dspg", "brax:hopper", "paper", "x" * 300)
    assert len(long) == 128 and long != wandb_log.group_name("dspg", "brax:hopper", "paper", "x" * 299 + "y")
