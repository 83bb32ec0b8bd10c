"""make bench / make bench-peers entry points: their fixed facts and their input errors (no timings)."""

import json

import pytest

from softrl_jax import bench, bench_peers


def test_replay_section_reports_bytes_per_transition(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert bench.main(["--sections=replay", f"--json={out}"]) == 0
    r = json.loads(out.read_text())
    # humanoid: obs 244 and actions 17 in float32, reward float32, kind int8; against 2 x obs + ...
    assert r["replay_bytes_per_transition"] == 244 * 4 + 17 * 4 + 4 + 1 == 1049
    assert r["replay"]["transition_buffer_bytes_per_transition"] == 4 * (2 * 244 + 17 + 2) == 2028
    assert r["replay"]["replay_ratio"] <= 0.55
    assert r["replay"]["replay_bytes_per_transition_bf16"] == 244 * 2 + 17 * 4 + 5
    assert "bytes per stored transition" in capsys.readouterr().out


def test_matmul_rate_matches_its_flop_count():
    """The roofline's peak: 2 n^3 FLOPs of an n x n matmul over its time, positive and finite."""
    rate = bench.matmul_flops_per_s(n=256, reps=2)
    assert 1e8 < rate < 1e14


@pytest.mark.parametrize("argv, needle", [
    (["--sections=loop,nope"], "valid choices: loop, roofline, replay, compile, autoreset, checkpoint"),
    (["--chunks=0"], "--chunks=0 is out of range"),
    (["--algo=ppo"], "unknown algo 'ppo'"),
])
def test_bench_bad_input(argv, needle, capsys):
    assert bench.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("error: ") and needle in err


@pytest.mark.parametrize("argv, needle", [
    (["--only=mujoco"], "valid choices: pendulum, idp"),
    (["--seeds=4"], "unknown flag --seeds"),
])
def test_bench_peers_bad_input(argv, needle, capsys, tmp_path):
    assert bench_peers.main(argv + [f"--out={tmp_path / 'p'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("error: ") and needle in err
    assert not (tmp_path / "p").exists()


def test_bench_peers_jobs_use_identical_settings(tmp_path):
    """Each peer job is paired with ours at the same seeds, steps, warm-up, replay and evaluation."""
    todo = bench_peers.jobs({"pendulum", "idp"}, 1.0, tmp_path)
    assert [(name, who) for name, who, _, _ in todo] == [
        (f"pendulum x{s}", w) for s in (1, 4, 16) for w in ("ours", "peer")] + [("idp x1", "ours"), ("idp x1", "peer")]
    for (name, _, ours, _), (_, _, peer, _) in zip(todo[::2], todo[1::2]):
        flag = lambda cmd, key: next(a.split("=", 1)[1] for a in cmd if a.startswith(f"--{key}="))  # noqa: E731
        assert flag(ours, "total_steps") == flag(peer, "total_steps")
        assert flag(ours, "buffer_size") == flag(peer, "buffer_size" if "pendulum" in name else "max_replay_size")
        if "pendulum" in name:
            assert flag(ours, "seeds") == flag(peer, "seeds")
            assert flag(ours, "eval_episodes") == flag(peer, "eval_episodes")
        else:
            assert flag(ours, "num_envs") == flag(peer, "num_envs") == "16"
            assert flag(ours, "eval_episodes") == flag(peer, "num_eval_envs") == "16"
            assert flag(ours, "batch_size") == flag(peer, "batch_size") == "256"
