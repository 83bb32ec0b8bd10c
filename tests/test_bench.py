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


def test_matmul_rate_counts_the_flops_of_its_program():
    """The roofline's peak divides XLA's FLOP count of the compiled matmul by its time: that count is the
    closed form 2 n^3 (n^2 outputs, n multiply-adds each)."""
    for n in (64, 256):
        compiled, (a, b) = bench.matmul_program(n)
        assert bench._flops(compiled) == 2 * n**3
        assert compiled(a, b).shape == (n, n)


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
    (["--only=mujoco"], "valid choices: idp, pendulum"),
    (["--only=idp,idp"], "valid choices: idp, pendulum"),
    (["--seeds=4"], "unknown flag --seeds"),
    (["--repeats=0"], "--repeats=0 is out of range"),
    (["--repeats=two"], "--repeats='two' is not valid"),
    (["--quick=maybe"], "--quick='maybe' is not valid"),
    (["--baseline=no-such-ref"], "--baseline='no-such-ref' is not a commit"),
])
def test_bench_peers_bad_input(argv, needle, capsys, tmp_path):
    assert bench_peers.main(argv + [f"--out={tmp_path / 'p'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("error: ") and needle in err
    assert not (tmp_path / "p").exists()


def _flag(cmd, key):
    return next(a.split("=", 1)[1] for a in cmd if a.startswith(f"--{key}="))


def test_bench_peers_jobs_use_identical_settings(tmp_path):
    """Each peer job runs at our seeds, steps, envs, batch, replay and evaluation episodes; the sides
    take turns and the order rotates with the repeat (with a baseline: three sides)."""
    todo = bench_peers.jobs(["idp", "pendulum"], False, 3, tmp_path, baseline=True)
    order = [(bench, rep, who) for bench, rep, who, _, _ in todo]
    assert order[:3] == [("idp", 0, "ours"), ("idp", 0, "baseline"), ("idp", 0, "peer")]
    assert order[6:9] == [("idp", 1, "baseline"), ("idp", 1, "peer"), ("idp", 1, "ours")]
    assert order[12:15] == [("idp", 2, "peer"), ("idp", 2, "ours"), ("idp", 2, "baseline")]
    assert len(todo) == 18 and len({str(path) for *_, path in todo}) == 18  # no two jobs share a result
    by = {(bench, rep, who): cmd for bench, rep, who, cmd, _ in todo}
    for rep in range(3):
        ours, base, peer = (by[("idp", rep, w)] for w in ("ours", "baseline", "peer"))
        assert ours[3:-1] == base[3:-1]  # the baseline runs the same command (its own --out)
        assert _flag(ours, "total_steps") == _flag(peer, "total_steps") == "40000"
        assert _flag(ours, "num_envs") == _flag(peer, "num_envs") == "16"
        assert _flag(ours, "eval_episodes") == _flag(peer, "num_eval_envs") == "16"
        assert _flag(ours, "batch_size") == _flag(peer, "batch_size") == "256"
        assert _flag(ours, "buffer_size") == _flag(peer, "max_replay_size")
        ours, peer = by[("pendulum", rep, "ours")], by[("pendulum", rep, "peer")]
        for key in ("seeds", "total_steps", "warmup_steps", "buffer_size", "eval_every", "eval_episodes"):
            assert _flag(ours, key) == _flag(peer, key), key
        assert _flag(peer, "steady") == "1"


def test_bench_peers_settings_table_marks_every_difference():
    rows, unmatched = bench_peers.settings("idp", 40000)
    table = bench_peers.settings_table(rows, "Brax SAC trainer").splitlines()
    marked = {line[3:].split("  ")[0] for line in table[1:] if line.startswith("!=")}
    assert {"target entropy", "warm-up", "evaluation unroll", "software"} <= marked
    assert not {"batch", "hidden (actor, critics)", "critics", "gamma, tau", "replay capacity",
                "seeds x envs per seed", "environment"} & marked
    assert any("-0.5 * action_size" in u for u in unmatched)  # the peer script's own list
    rows, unmatched = bench_peers.settings("pendulum", 6000)
    rows = dict((r[0], r[1:]) for r in rows)
    assert rows["target entropy"] == ("-1 * A", "-1 * A")
    assert rows["env steps per seed (warm-up included)"] == ("6000", "6000 and 3000 (two runs)")
    assert any("time limit as terminal" in u for u in unmatched)


def test_bench_peers_summary_medians_and_ratios():
    def row(rate, compile_s):
        return {"train_env_steps_per_s": rate, "train_compile_s": compile_s, "all_compile_s": compile_s + 1,
                "eval_s_each": 0.5}

    results = {"idp": {"ours": [row(300, 10), row(330, 12), row(270, 11)],
                       "peer": [row(200, 20), row(100, 22), row(300, 24)], "baseline": []}}
    s = bench_peers.summarise(results)["idp"]
    assert s["ours"]["train_env_steps_per_s"] == {"median": 300, "min": 270, "max": 330, "n": 3}
    assert s["ratio_of_medians"] == 1.5
    assert s["ratio_per_repeat"] == [1.5, 3.3, 0.9]
    assert s["compile_ratio_train_program"] == 0.5
    assert "ratio_of_medians_baseline" not in s


@pytest.mark.parametrize("argv, needle", [
    (["--budget_s=0"], "--budget_s=0 is out of range"),
    (["--budget_s=soon"], "--budget_s='soon' is not valid"),
    (["--envs=8"], "unknown flag --envs"),
])
def test_bench_gpu_bad_input(argv, needle, capsys, tmp_path):
    from softrl_jax import bench_gpu

    assert bench_gpu.main(argv + [f"--json={tmp_path / 'g.json'}", f"--out={tmp_path / 'o'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("error: ") and needle in err
    assert not (tmp_path / "g.json").exists() and not (tmp_path / "o").exists()


def test_bench_gpu_refuses_a_cpu_with_one_line(capsys, tmp_path):
    from softrl_jax import bench_gpu

    assert bench_gpu.main([f"--json={tmp_path / 'g.json'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "needs a CUDA build of jax and a GPU" in err
