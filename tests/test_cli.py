"""Command line: one-line errors with exit code 2 and nothing written; a real run's files."""

import json
import subprocess
import sys

import pytest

from softrl_jax.train import main

BAD = [
    (["--algo=ppo"], "unknown algo 'ppo'; valid choices: dspg"),
    (["--env=brax:hoper"], "unknown env 'brax:hoper'; valid choices: brax:ant"),
    (["--lr=0.1"], "unknown flag --lr"),
    (["--seeds=two"], "--seeds='two' is not a valid int"),
    (["--seeds=0"], "--seeds=0 is out of range; must be >= 1"),
    (["--num_samples=0"], "--num_samples=0 is out of range; must be >= 1"),
    (["--clip_norm=0"], "--clip_norm=0.0 is out of range; must be > 0.0"),
    (["--actor_lr=-1e-3"], "--actor_lr=-0.001 is out of range; must be >= 0.0"),
    (["--total_steps=-5"], "--total_steps=-5 is out of range; must be > 0"),
    (["--baseline=mean"], "--baseline='mean' is not valid; valid choices: none, loo"),
    (["--preset=fastest"], "unknown preset 'fastest' for dspg; valid choices: paper, authors, quick, fast, fast-cpu"),
    (["--hidden=a,b"], "--hidden='a,b' is not a valid comma-separated ints"),
    (["--progress=maybe"], "--progress='maybe' is not a valid bool"),
    (["positional"], "unexpected argument 'positional'"),
    (["--preset=quick", "--warmup_steps=10"], "--warmup_steps=10 is out of range; must be >= --batch_size=128"),
    # the three cases of issue 8 (each used to train, write config.json, or end in a traceback)
    (["--preset=quick", "--num_samples=1", "--baseline=loo"], "--num_samples=1 is out of range for --baseline=loo"),
    (["--preset=quick", "--buffer_size=10"], "--buffer_size=10 is out of range; must be >= --batch_size=128"),
    (["--preset=quick", "--eval_every=100000", "--total_steps=2000"],
     "--total_steps=2000 is not a multiple of --eval_every=100000"),
    (["--preset=quick", "--total_steps=2500"], "choose --total_steps=2000 or 3000"),
]


@pytest.mark.parametrize("argv,message", BAD)
def test_bad_input_one_line_exit_2_nothing_written(argv, message, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(argv + [f"--out={out}"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("error: ") and message in err
    assert not out.exists()


def test_out_under_a_file_is_refused_before_anything(tmp_path, capsys):
    (tmp_path / "file.txt").write_text("x")
    assert main(["--preset=quick", f"--out={tmp_path / 'file.txt' / 'run'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "cannot be a folder" in err and "is a file" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_existing_run_folder_is_refused(tmp_path, capsys):
    (tmp_path / "metrics.jsonl").write_text("")
    assert main([f"--out={tmp_path}"]) == 2
    assert "already holds a run" in capsys.readouterr().err


def test_subprocess_run_writes_config_and_metrics(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "softrl_jax.train", "--algo=dspg", "--env=gymnax:Pendulum-v1",
           "--seeds=2", "--seed=5", "--total_steps=400", "--preset=quick", "--warmup_steps=200",
           "--batch_size=32", "--eval_every=100", "--eval_episodes=2", "--hidden=16,16",
           "--num_samples=4", f"--out={out}", "--progress=false"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    config = json.loads((out / "config.json").read_text())
    assert config["algo"] == "dspg" and config["seeds"] == 2 and config["hidden"] == [16, 16]
    assert config["num_samples"] == 4 and config["baseline"] == "loo"  # preset, then flags
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 2 * 2  # 2 seeds x 2 evaluations
    assert sorted({r["seed"] for r in records}) == [5, 6]
    assert sorted({r["step"] for r in records}) == [300, 400]
    for key in ("eval_return", "critic_loss", "actor_loss", "alpha", "entropy", "actor_grad_norm",
                "env_steps_per_s", "q_mean"):
        assert all(isinstance(r[key], float) for r in records), key
    assert (out / "curve.png").stat().st_size > 1000
    # a bad value through the real entry point: exit code 2
    bad = subprocess.run(cmd[:3] + ["--num_samples=0"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_help_lists_every_flag_of_the_algorithm(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "--num_samples=int" in out and "--clip_norm=float" in out and "--eval_every=int" in out
    assert "--baseline=str {none|loo}" in out and "(default paper)" in out
    assert main(["--algo=sac", "-h"]) == 0
    out = capsys.readouterr().out
    assert "--target_entropy_per_dim=float" in out and "--num_samples" not in out and "(default modern)" in out
    assert main(["--algo=ppo", "--help"]) == 2


def test_compile_cache_auto_follows_jax_compilation_cache_dir(tmp_path, monkeypatch):
    """--compile_cache=auto is JAX's own JAX_COMPILATION_CACHE_DIR where that is set (the test suite sets
    it, so no test writes to the user's cache), else <XDG_CACHE_HOME or ~/.cache>/softrl-jax/jax."""
    from pathlib import Path

    from softrl_jax.devices import cache_dir

    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "jax"))
    assert cache_dir("auto") == tmp_path / "jax"
    assert cache_dir(str(tmp_path / "mine")) == tmp_path / "mine" and cache_dir("off") is None
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir("auto") == Path(tmp_path / "xdg" / "softrl-jax" / "jax")
