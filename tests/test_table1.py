"""experiments/dspg_table1.py: option validation through real processes (exit 2, one line, nothing
written), the plan of pieces and their commands, the cost estimate's arithmetic from a rates.json, a
finished piece skipped and the report's Table-1 section printed with the paper's numbers beside ours,
an unfinished piece stopped by SIGTERM and resumed by the same command, and a real calibration. Real
training uses gymnax Pendulum through the script's test-only --test_env (tiny networks), never Brax."""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "experiments" / "dspg_table1.py"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
ENV.pop("XLA_FLAGS", None)  # the script's train processes choose their own CPU devices
# a real but cheap piece: Pendulum with tiny networks (flags after -- reach every train command)
PENDULUM = ["--test_env=gymnax:Pendulum-v1", "--tasks=hopper", "--algos=dspg", "--seeds=2", "--eval_episodes=2",
            "--progress=false", "--", "--hidden=16,16", "--batch_size=32", "--buffer_size=4000",
            "--updates_per_step=1"]


def _script():
    spec = importlib.util.spec_from_file_location("dspg_table1", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


T1 = _script()


def start(*args, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(SCRIPT), *args], cwd=ROOT, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def finish(*args, timeout=300) -> subprocess.CompletedProcess:
    p = start(*args)
    out, err = p.communicate(timeout=timeout)
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def fake_run(piece, last_step: int, returns=lambda seed, step: 100.0 * seed + step / 1000) -> None:
    """A run folder as train writes it: config.json (the piece's own configuration) and metrics.jsonl
    rows of every seed at every evaluation up to `last_step`."""
    piece.out.mkdir(parents=True)
    (piece.out / "config.json").write_text(json.dumps(piece.rc.flat(), default=list))
    every, rows = piece.rc.loop.eval_every, []
    for step in range(every, last_step + 1, every):
        rows += [{"seed": s, "step": step, "eval_return": returns(s, step), "env_steps_per_s": 1.0, "time_s": 1.0}
                 for s in range(piece.rc.loop.seeds)]
    (piece.out / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if last_step >= piece.total_steps:  # the runner's last write: what makes a run folder finished
        (piece.out / "summary.json").write_text(json.dumps({"total_steps": last_step}))


def pieces_for(*argv):
    o, extra = T1.options(list(argv))
    return T1.plan(o, extra), extra


BAD = [
    (["--foo=1"], "unknown flag --foo; valid flags: --out --tasks"),
    (["--tasks=hoper"], "unknown task 'hoper' in --tasks; valid choices: ant, halfcheetah, hopper, walker2d"),
    (["--algos=dspg,sql"], "unknown algo 'sql' in --algos; valid choices: dspg, sac, ddpg"),
    (["--seeds=two"], "--seeds='two' is not a valid int"),
    (["--eval_every=0"], "--eval_every=0 is out of range; must be >= 1"),
    (["--total_steps=15000"], "--total_steps=15000 is not a multiple of --eval_every=10000"),
    (["--calibrate=sometimes"], "--calibrate='sometimes' is not valid; valid choices: auto, always, never"),
    (["--tasks=hopper", "--", "--seeds=3"], "--seeds after -- is set by this pipeline; use its own flag --seeds"),
    (["--tasks=hopper", "--", "--num_samplez=3"], "unknown flag --num_samplez (did you mean --num_samples?)"),
    (["--reduced", "--", "--learning_starts=50"], "--learning_starts=50 is out of range; must be >= --batch_size=100"),
]


def test_bad_input_one_line_exit_2_nothing_written(tmp_path):
    procs = [(argv, msg, start(f"--out={tmp_path / str(i)}", *argv)) for i, (argv, msg) in enumerate(BAD)]
    for argv, message, p in procs:
        stdout, stderr = p.communicate(timeout=120)
        assert p.returncode == 2, (argv, stderr)
        assert stderr.count("\n") == 1 and stderr.startswith("error: ") and message in stderr, (argv, stderr)
        assert stdout == "", argv
    assert list(tmp_path.iterdir()) == []  # no run folder, no rates.json


def test_a_folder_with_another_configuration_is_refused_before_anything(tmp_path):
    (piece,), _ = pieces_for(f"--out={tmp_path}", "--tasks=hopper", "--algos=sac", "--seeds=3")
    fake_run(piece, 10_000)
    p = finish(f"--out={tmp_path}", "--tasks=hopper", "--algos=sac")  # 7 seeds now
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "seeds" in p.stderr and "sac on brax:hopper" in p.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == ["sac-hopper"]


def test_plan_pieces_and_commands(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # --reduced's default --out is relative
    pieces, _ = pieces_for(f"--out={tmp_path}", "--tasks=hopper,walker2d", "--algos=dspg,sac", "--",
                           "--buffer_size=100000")
    assert [p.name for p in pieces] == ["dspg-hopper", "sac-hopper", "dspg-walker2d", "sac-walker2d"]
    for p in pieces:
        cmd = p.command()
        assert cmd[:3] == [sys.executable, "-m", "softrl_jax.train"]
        assert cmd[3:] == [f"--algo={p.algo}", "--preset=paper", f"--env=brax:{p.task}", "--seeds=7",
                           "--total_steps=3000000", "--eval_every=10000", "--eval_episodes=7", "--progress=true",
                           "--buffer_size=100000", f"--out={tmp_path / p.name}"]  # the preset's warm-up: not passed
        assert p.rc.preset == "paper" and p.rc.loop.buffer_size == 100_000 and not p.existing
    assert pieces[0].rc.algo_cfg.clip_norm == 1.0 and pieces[2].rc.algo_cfg.clip_norm == 5.0  # paper's N per task
    reduced, _ = pieces_for("--reduced", "--algos=ddpg")
    assert [p.name for p in reduced] == ["ddpg-hopper"]
    assert reduced[0].command()[4:] == ["--preset=paper", "--env=brax:hopper", "--seeds=2", "--total_steps=1024",
                                        "--eval_every=128", "--eval_episodes=7", "--progress=true",
                                        "--out=runs/table1-reduced/ddpg-hopper"]


def test_plan_sees_finished_and_unfinished_pieces(tmp_path):
    args = (f"--out={tmp_path}", "--tasks=hopper", "--total_steps=50000")
    dspg, sac, ddpg = pieces_for(*args)[0]
    fake_run(dspg, 50_000)
    fake_run(sac, 40_000)
    (sac.out / "checkpoints" / "3").mkdir(parents=True)  # the newest checkpoint: after chunk 3 of 10000 steps
    (sac.out / "checkpoints" / "2").mkdir()
    dspg, sac, ddpg = pieces_for(*args)[0]
    assert (dspg.finished, dspg.existing, dspg.status()) == (True, True, "finished: skipped")
    assert (sac.finished, sac.done_steps, sac.status()) == (False, 30_000, "resumes at step 30,000")
    assert (ddpg.finished, ddpg.existing, ddpg.done_steps, ddpg.status()) == (False, False, 0, "new")
    assert sac.command() == pieces_for(f"--out={tmp_path}", "--tasks=hopper", "--algos=sac",
                                       "--total_steps=50000")[0][0].command()  # resuming = the same command


def test_estimate_arithmetic_from_rates(tmp_path):
    args = (f"--out={tmp_path}", "--tasks=hopper", "--algos=dspg,sac,ddpg")
    dspg, sac, ddpg = pieces_for(*args)[0]
    fake_run(ddpg, 3_000_000)
    fake_run(sac, 20_000)
    (sac.out / "checkpoints" / "2").mkdir(parents=True)
    pieces, extra = pieces_for(*args)
    cpu, gpu = "cpu: Some CPU x 2 cores", "gpu: NVIDIA H100 80GB HBM3 x 1"
    rates = {cpu: {pieces[0].rate_key(): {"steps_per_s": 0.5, "startup_s": 60.0},
                   pieces[1].rate_key(): {"steps_per_s": 12.5, "startup_s": 90.0}}}
    path = tmp_path / "rates.json"
    path.write_text(json.dumps(rates))
    rates = T1.read_rates(path)
    assert T1.piece_hours(pieces[0], rates[cpu][pieces[0].rate_key()]) == (60 + 3_000_000 / 0.5) / 3600
    assert T1.piece_hours(pieces[1], rates[cpu][pieces[1].rate_key()]) == (90 + 2_980_000 / 12.5) / 3600
    assert T1.piece_hours(pieces[2], None) == 0.0  # finished
    assert T1.piece_hours(pieces[0], None) is None
    lines = T1.estimate_lines(pieces, rates, cpu)
    assert lines[1] == f"| piece | seeds | steps left | {cpu} |"
    assert lines[3] == "| dspg-hopper | 7 | 3,000,000 | 0.5/s, 1,667 h (69 days) |"  # 6000060 s
    assert lines[4] == "| sac-hopper | 7 | 2,980,000 | 12.5/s, 66.25 h |"  # 238490 s
    assert lines[5] == "| ddpg-hopper | 7 | 0 | 0.00 h (0 min) |"
    assert lines[6] == "| total | | | 1,733 h (72 days) |"
    assert lines[-1] == "GPU: not measured (run with --estimate_only on a GPU machine)"
    del rates[cpu][pieces[1].rate_key()]
    assert T1.estimate_lines(pieces, rates, cpu)[6] == "| total | | | 1,667 h (69 days) + 1 not measured |"
    rates[gpu] = {p.rate_key(): {"steps_per_s": 100.0, "startup_s": 0.0} for p in pieces}
    lines = T1.estimate_lines(pieces, rates, cpu)
    assert lines[1].endswith(f"| {cpu} | {gpu} |") and lines[3].endswith("| 100/s, 8.33 h |")
    assert not any(line.startswith("GPU: not measured") for line in lines)
    # the rate of a calibration run: its evaluated chunks' own rates (all seeds), compilation excluded
    rows = [{"seed": s, "step": step, "env_steps_per_s": sps, "time_s": t}
            for step, sps, t in ((288, 7.0, 100.0), (320, 3.5, 164.0)) for s in range(7)]
    m = T1.measure(rows, every=32, seeds=7)
    assert m["steps_per_s"] == 64 / (32 + 64) and m["startup_s"] == 100.0 - 32 and m["chunks"] == 2


@pytest.mark.system
def test_finished_pieces_are_skipped_and_table1_shows_the_paper(tmp_path):
    pieces, _ = pieces_for(f"--out={tmp_path}", "--tasks=hopper,walker2d", "--algos=dspg,sac,ddpg")
    for i, p in enumerate(pieces):
        fake_run(p, 3_000_000, lambda seed, step, i=i: 1000.0 * (i + 1) + seed + (step == 1_500_000) * 50)
    p = finish(f"--out={tmp_path}", "--tasks=hopper,walker2d", "--algos=dspg,sac,ddpg", "--calibrate=always")
    assert p.returncode == 0, p.stderr[-3000:]
    assert "calibrating" not in p.stdout  # nothing to run: nothing to measure
    assert p.stdout.count("finished (3,000,000 steps): skipped") == 6
    section = p.stdout[p.stdout.index("## Best average return over training"):]
    # best average = max over steps of the mean over 7 seeds (seeds 0..6: mean 3, +50 at one step)
    paper = {("hopper", "dspg"): "3674.0", ("hopper", "sac"): "3652.9", ("hopper", "ddpg"): "3097.1",
             ("walker2d", "dspg"): "6060.9", ("walker2d", "sac"): "5520.4", ("walker2d", "ddpg"): "2507.2"}
    for i, piece in enumerate(pieces):
        row = (f"| brax:{piece.task} | {piece.algo} | 7 | 0 | 3000000 | {1000 * (i + 1) + 53:.1f} | {1000 * (i + 1) + 3:.1f} "
               f"| {paper[piece.task, piece.algo]} |")
        assert row in section.splitlines(), row
    assert "not the paper's MuJoCo gym v2" in p.stdout
    assert (tmp_path / "report" / "report.md").is_file()


@pytest.mark.system
def test_sigterm_stops_the_piece_and_the_same_command_resumes_it(tmp_path):
    args = [f"--out={tmp_path}", "--total_steps=4000", "--eval_every=250", "--warmup_steps=250",
            "--calibrate=never", *PENDULUM]
    p = start(*args)
    metrics = tmp_path / "dspg-hopper" / "metrics.jsonl"
    deadline = time.time() + 240
    while not (metrics.is_file() and metrics.read_text()) and p.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    p.send_signal(signal.SIGTERM)
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 143, stderr[-3000:]
    assert "stopped by SIGTERM: the same command continues" in stderr
    steps = [json.loads(line)["step"] for line in metrics.read_text().splitlines()]
    assert 0 < max(steps) < 4000
    again = finish(*args)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "dspg-hopper: resumes at step" in again.stdout and "resumes at step 0" not in again.stdout
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert sorted((r["seed"], r["step"]) for r in rows) == [(s, t) for s in (0, 1) for t in range(250, 4001, 250)]
    assert "| gymnax:Pendulum-v1 | dspg | 2 | 0 | 4000 |" in again.stdout  # the report's Table-1 section


@pytest.mark.system
def test_calibration_measures_and_stores_the_rate(tmp_path):
    p = finish(f"--out={tmp_path}", "--total_steps=2000", "--eval_every=500", "--warmup_steps=500", "--estimate_only",
               "--calibrate_s=1", *PENDULUM)
    assert p.returncode == 0, p.stderr[-3000:]
    (device, measured), = json.loads((tmp_path / "rates.json").read_text()).items()
    (key, record), = measured.items()
    assert device.startswith("cpu: ") and key == ("dspg gymnax:Pendulum-v1 preset=paper seeds=2 batch_size=32 "
                                                  "buffer_size=4000 hidden=16,16 updates_per_step=1")
    assert record["steps_per_s"] > 0 and record["chunks"] >= 1 and record["measured_s"] >= 1
    assert record["calibrate_every"] == 32 and record["startup_s"] > 0
    assert f"| dspg-hopper | 2 | 2,000 | {record['steps_per_s']:.3g}/s, " in p.stdout
    assert "--eval_every=32 " in p.stdout and "--warmup_steps=256 " in p.stdout and "--episode_length=1 " in p.stdout
    assert sorted(x.name for x in tmp_path.iterdir()) == ["rates.json"]  # the calibration run left nothing
