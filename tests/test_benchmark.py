"""The benchmark layer (softrl_jax/benchmark.py over softrl_jax/campaign.py) through real processes: suite
validation, bad input (exit 2, one line, nothing written), a tiny suite trained end to end with its results
files, re-running it (nothing trains, on a fresh clone too), a real SIGKILL mid-piece and the resume,
SIGTERM forwarding, bit-identical re-training (--verify), submitit's local executor, one definition of
finished shared by the benchmark, experiments/dspg_table1.py, experiments/pg_soft_q.py and the sweeps,
and the results page."""

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from softrl_jax import benchmark, campaign, results_page, stats, suites
from softrl_jax.config import ConfigError

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
ENV.pop("XLA_FLAGS", None)  # the pieces choose their own CPU devices

# a real suite at CPU-test size: two algorithms' quick presets on gymnax Pendulum
TINY = """name = "tiny"
description = "a test suite"
tasks = ["gymnax:Pendulum-v1"]
seed = 7
seeds = 2
total_steps = {steps}
eval_every = 500
eval_episodes = 2
score_max = 1000
[algos]
sac = "quick"
dspg = "quick"
[[references]]
name = "made-up SAC"
algo = "sac"
citation = "nobody (2026)"
[references.scores]
"gymnax:Pendulum-v1" = [-1200.0, 600.0]
"""


def tiny(tmp_path: Path, steps: int = 1500) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY.format(steps=steps))
    return path


def start(*args, cwd=ROOT) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "softrl_jax.benchmark", *args], cwd=cwd, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(*args, timeout=600, cwd=ROOT) -> subprocess.CompletedProcess:
    p = start(*args, cwd=cwd)
    out, err = p.communicate(timeout=timeout)
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def folders(tmp_path: Path, suite: Path) -> list[str]:
    return [f"--suite={suite}", f"--out={tmp_path / 'results'}", f"--work={tmp_path / 'work'}", "--progress=false"]


# ---------------------------------------------------------------- suite files


def test_the_shipped_suites_load():
    dmc = suites.load_suite("dmc100k")
    assert [suites.task_name(t) for t in dmc.tasks] == ["CheetahRun", "WalkerWalk", "CartpoleSwingup",
                                                           "ReacherEasy", "FingerSpin", "BallInCup"]
    assert dmc.algos == {"sac": "dmc100k", "dspg": "dmc100k", "ddpg": "dmc100k", "sql": "dmc100k"}
    assert (dmc.seeds, dmc.total_steps, dmc.eval_every, dmc.eval_episodes) == (5, 100_000, 10_000, 10)
    curl = dmc.references[0]
    assert curl.scores["playground:CheetahRun"] == (616.0, 18.0) and curl.scores["playground:BallInCup"] == (746.0, 91.0)
    assert "2004.04136" in curl.citation
    assert suites.load_suite("dmc500k").references[0].scores["playground:WalkerWalk"] == (948.0, 54.0)
    paper = suites.load_suite("paper")
    assert paper.total_steps == 3_000_000 and paper.references[0].scores["brax:hopper"][0] == 3674.0
    for suite in (dmc, paper):
        assert suite.cost  # declared with its cost estimate


@pytest.mark.parametrize("change, message", [
    (lambda s: 'colour = "red"\n' + s, "unknown key 'colour'; valid keys: name, description"),
    (lambda s: s.replace('seeds = 2\n', ''), "missing key 'seeds'"),
    (lambda s: s.replace('seeds = 2', 'seeds = "two"'), "seeds = 'two' is a str; must be a int"),
    (lambda s: s.replace('seeds = 2', 'seeds = 0'), "seeds = 0 is out of range; must be >= 1"),
    (lambda s: s.replace('eval_every = 500', 'eval_every = 400'), "total_steps = 1500 is not a multiple of "
                                                                  "eval_every = 400"),
    (lambda s: s.replace('sac = "quick"', 'sacc = "quick"'), "unknown algorithm 'sacc' in algos; valid choices: dspg"),
    (lambda s: s.replace('sac = "quick"', 'sac = "quik"'), "algos.sac = 'quik' is not a preset of sac; valid "
                                                           "choices: modern"),
    (lambda s: s.replace('"gymnax:Pendulum-v1"]', '"gymnax:Pendulum-v2"]'), "unknown env 'gymnax:Pendulum-v2'; "
                                                                             "valid choices:"),
    (lambda s: s.replace('tasks = ["gymnax:Pendulum-v1"]', 'tasks = ["gymnax:Pendulum-v1", "gymnax:Pendulum-v1"]'),
     "task 'gymnax:Pendulum-v1' is listed twice"),
    (lambda s: s.replace('"gymnax:Pendulum-v1" = [', '"gymnax:CartPole-v1" = ['), "scores for 'gymnax:CartPole-v1', "
                                                                                  "which is not one of the suite's tasks"),
    (lambda s: s.replace('[-1200.0, 600.0]', '[-1200.0]'), "must be [mean, std]"),
    (lambda s: s.replace('name = "tiny"', 'name = "other"'), "name = 'other' differs from the file's name 'tiny'"),
    (lambda s: s.replace('tasks = [', 'tasks = '), "is not valid TOML"),
])
def test_suite_validation_names_the_value(tmp_path, change, message):
    path = tmp_path / "tiny.toml"
    path.write_text(change(TINY.format(steps=1500)))
    with pytest.raises(ConfigError) as e:
        suites.load_suite(str(path))
    assert message in str(e.value) and "\n" not in str(e.value)


def test_the_base_of_the_bad_suites_is_valid(tmp_path):
    suite = suites.load_suite(str(tiny(tmp_path)))
    assert suite.name == "tiny" and suite.references[0].scores == {"gymnax:Pendulum-v1": (-1200.0, 600.0)}


def test_bad_command_lines_one_line_exit_2_nothing_written(tmp_path):
    suite = tiny(tmp_path)
    bad = [
        (["--suite=nope"], "unknown suite 'nope'; valid suites: dmc100k, dmc500k, paper"),
        ([f"--suite={suite}", "--only=Pendulum-v1/ddpg"], "unknown piece 'Pendulum-v1/ddpg' in --only; valid pieces "
                                                           "of tiny: Pendulum-v1/sac, Pendulum-v1/dspg"),
        ([f"--suite={suite}", "--launcher=pbs"], "--launcher='pbs' is not valid; valid choices: local, slurm"),
        ([f"--suite={suite}", "--launcher=slurm"], "--launcher=slurm needs --slurm_partition=NAME"),
        ([f"--suite={suite}", "--seeds=0"], "--seeds=0 is out of range; must be >= 1"),
        ([f"--suite={suite}", "--seeds=two"], "--seeds='two' is not a valid int"),
        ([f"--suite={suite}", "--calibrate_every=0"], "--calibrate_every=0 is out of range; must be >= 1"),
        ([f"--suite={suite}", "--colour=red"], "unknown flag --colour; valid flags: --suite --only"),
        (["--only=x"], "--suite is required; valid suites: dmc100k, dmc500k, paper"),
    ]
    procs = [(argv, msg, start(*argv, f"--out={tmp_path / 'r'}", f"--work={tmp_path / 'w'}")) for argv, msg in bad]
    for argv, message, p in procs:
        stdout, stderr = p.communicate(timeout=120)
        assert p.returncode == 2, (argv, stderr)
        assert stderr.count("\n") == 1 and stderr.startswith("error: ") and message in stderr, (argv, stderr)
        assert stdout == "", argv
    assert sorted(x.name for x in tmp_path.iterdir()) == ["tiny.toml"]


# ---------------------------------------------------------------- a tiny suite end to end


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """The tiny suite trained once: (tmp folder, suite path, first run's stdout)."""
    tmp = tmp_path_factory.mktemp("bench")
    suite = tiny(tmp)
    p = finish(*folders(tmp, suite))
    assert p.returncode == 0, p.stderr[-3000:]
    return tmp, suite, p.stdout


@pytest.mark.system
def test_results_files_hold_the_runs(ran):
    tmp, suite_path, stdout = ran
    suite = suites.load_suite(str(suite_path))
    for algo in ("sac", "dspg"):
        path = tmp / "results" / "tiny" / "Pendulum-v1" / f"{algo}.json"
        r = json.loads(path.read_text())
        run = tmp / "work" / "tiny" / "Pendulum-v1" / algo
        rows = campaign.read_rows(run)
        assert r["format"] == benchmark.RESULTS_FORMAT and (r["suite"], r["task"], r["algo"]) == (
            "tiny", "gymnax:Pendulum-v1", algo)
        assert r["seeds"] == [7, 8] and r["steps"] == [1500]  # the first evaluation once learning has started (warm-up 1000)
        for i, seed in enumerate(r["seeds"]):  # the curves are the run's own rows, value for value
            assert r["eval_return"][i] == [next(x["eval_return"] for x in rows if x["seed"] == seed and x["step"] == s)
                                           for s in r["steps"]]
            assert r["final_return"][i] == r["eval_return"][i][-1]
        summary = json.loads((run / "summary.json").read_text())
        assert r["env_steps_per_s"] == summary["steady_env_steps_per_s"] and r["compile_s"] == summary["compile_s"]
        assert r["wall_s"] > 0 and r["machine"].startswith("cpu: ") and r["device_count"] >= 1
        assert r["jax_version"] and len(r["git_commit"].split("+")[0]) in (40, 7) or r["git_commit"] == "unknown"
        piece = campaign.plan_piece(f"Pendulum-v1/{algo}", {
            "algo": algo, "preset": "quick", "env": "gymnax:Pendulum-v1", "seeds": 2, "seed": 7, "total_steps": 1500,
            "eval_every": 500, "eval_episodes": 2, "out": run})
        assert r["config"] == benchmark.result_config(piece.rc)  # the resolved configuration, round trip
        assert r["config"]["hidden"] == [64, 64] and r["config"]["seeds"] == 2
    assert "Pendulum-v1/sac: results in" in stdout and suite.name == "tiny"


@pytest.mark.system
def test_a_finished_suite_trains_nothing_even_on_a_fresh_clone(ran, tmp_path):
    tmp, suite, _ = ran
    results = tmp / "results" / "tiny" / "Pendulum-v1"
    before = {p.name: p.read_bytes() for p in results.iterdir()}
    p = finish(*folders(tmp, suite))
    assert p.returncode == 0 and "nothing to train" in p.stdout and "softrl_jax.train" not in p.stdout
    # a fresh clone: the results files are committed, the run folders are not
    clone = tmp_path / "clone"
    (clone / "results" / "tiny").mkdir(parents=True)
    import shutil

    shutil.copytree(results, clone / "results" / "tiny" / "Pendulum-v1")
    p = finish(f"--suite={suite}", f"--out={clone / 'results'}", f"--work={clone / 'work'}", "--progress=false")
    assert p.returncode == 0 and p.stdout.count("finished: skipped") == 2 and "nothing to train" in p.stdout
    assert not (clone / "work").exists()
    assert {p.name: p.read_bytes() for p in results.iterdir()} == before


@pytest.mark.system
def test_results_of_another_budget_are_refused_not_mixed(ran):
    tmp, suite, _ = ran
    p = finish(*folders(tmp, suite), "--seeds=3")
    assert p.returncode == 2 and p.stderr.count("\n") == 1
    assert "holds Pendulum-v1/sac of another configuration (seeds: 2 there, 3 here)" in p.stderr
    assert "never mix" in p.stderr


@pytest.mark.system
def test_verify_retrains_a_piece_bit_for_bit(ran):
    tmp, suite, _ = ran
    p = finish(*folders(tmp, suite), "--only=Pendulum-v1/sac", "--verify")
    assert p.returncode == 0, p.stderr[-2000:]
    assert "Pendulum-v1/sac: bit-identical to" in p.stdout


@pytest.mark.system
def test_results_page_from_the_results_files(ran, tmp_path):
    tmp, suite, _ = ran
    page = results_page.build(tmp / "results" / "tiny", tmp_path / "docs", reps=200, seed=0, suite_name=str(suite))
    text = page.read_text()
    finals = {a: np.array(json.loads((tmp / "results" / "tiny" / "Pendulum-v1" / f"{a}.json").read_text())
                          ["final_return"]) for a in ("sac", "dspg")}
    row = next(line for line in text.splitlines() if line.startswith("| Pendulum-v1 |"))
    assert row.startswith(f"| Pendulum-v1 | {finals['sac'].mean():,.0f} [") and "| -1,200 ± 600 |" in row
    within = abs(finals["sac"].mean() + 1200) <= 600
    assert f"sac lies within made-up SAC's mean ± std on {int(within)} of 1 task(s)" in text
    iqm_row = next(line for line in text.splitlines() if line.startswith("| sac | ") and "[" in line)
    assert iqm_row.startswith(f"| sac | {stats.iqm(finals['sac'] / 1000):.3f} [")
    for figure in ("curves.png", "aggregates.png", "profiles.png"):
        assert (tmp_path / "docs" / "tiny" / figure).stat().st_size > 1000
    assert "| Pendulum-v1/sac | cpu: " in text


# ---------------------------------------------------------------- kills and signals


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while not path.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    assert path.exists(), proc.communicate(timeout=60)


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


@pytest.mark.system
def test_sigkill_mid_piece_then_the_same_command_resumes_it(tmp_path):
    suite = tiny(tmp_path, steps=4000)
    args = [*folders(tmp_path, suite), "--only=Pendulum-v1/sac", "--checkpoint_every=0"]
    p = start(*args)
    _wait_for(tmp_path / "work" / "tiny" / "Pendulum-v1" / "sac" / "checkpoints" / "3", p)
    for pid in _children(p.pid) + [p.pid]:  # the train process runs in its own process group
        os.kill(pid, signal.SIGKILL)
    p.communicate(timeout=60)
    assert not (tmp_path / "results" / "tiny" / "Pendulum-v1" / "sac.json").exists()
    # resumed with the same folders named relative to another working directory: the same run
    again = finish(f"--suite={suite}", "--out=results", "--work=work", "--progress=false", "--only=Pendulum-v1/sac",
                   "--checkpoint_every=0", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Pendulum-v1/sac: resumes at step" in again.stdout
    r = json.loads((tmp_path / "results" / "tiny" / "Pendulum-v1" / "sac.json").read_text())
    assert r["steps"] == [1500, 2000, 2500, 3000, 3500, 4000]
    rows = campaign.read_rows(tmp_path / "work" / "tiny" / "Pendulum-v1" / "sac")
    assert r["wall_s"] == round(max(x["time_s"] for x in rows), 1) > 0  # the run's clock, over both processes
    # the resumed piece's curve is the uninterrupted one, bit for bit
    check = finish(*args, "--verify")
    assert check.returncode == 0 and "bit-identical" in check.stdout, check.stdout + check.stderr[-2000:]


def test_sigterm_reaches_the_piece_and_stops_the_suite(tmp_path):
    suite = tiny(tmp_path, steps=30_000)
    p = start(*folders(tmp_path, suite))
    _wait_for(tmp_path / "work" / "tiny" / "Pendulum-v1" / "sac" / "metrics.jsonl", p)
    time.sleep(1.0)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=240)
    assert p.returncode == 143, err[-2000:]
    assert "stopped by SIGTERM: the same command continues" in err and "Traceback" not in err
    assert (tmp_path / "work" / "tiny" / "Pendulum-v1" / "sac" / "checkpoints").is_dir()
    assert not (tmp_path / "work" / "tiny" / "Pendulum-v1" / "dspg").exists()  # no new piece started


@pytest.mark.system
def test_submitit_local_executor_runs_a_piece_as_a_job(tmp_path):
    pytest.importorskip("submitit")
    suite = tiny(tmp_path, steps=1500)
    p = finish(*folders(tmp_path, suite), "--only=Pendulum-v1/sac", "--launcher=submitit-local")
    assert p.returncode == 0, p.stdout + p.stderr[-3000:]
    assert "Pendulum-v1/sac: submitted as job" in p.stdout and "finished;" in p.stdout
    r = json.loads((tmp_path / "results" / "tiny" / "Pendulum-v1" / "sac.json").read_text())
    assert r["steps"] == [1500] and len(r["final_return"]) == 2
    assert "nothing to train" in finish(*folders(tmp_path, suite), "--only=Pendulum-v1/sac").stdout


# ---------------------------------------------------------------- one definition of finished


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_for_finished", ROOT / "experiments" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_one_definition_of_finished_for_all_callers(tmp_path):
    """A run folder whose metrics reach total_steps but whose summary.json was never written (killed in
    between) is unfinished for the benchmark, dspg_table1, pg_soft_q and the sweeps; with summary.json it is
    finished for all of them."""
    from softrl_jax import algos, sweep

    table1, pg = _script("dspg_table1"), _script("pg_soft_q")
    o, extra = table1.options([f"--out={tmp_path / 't1'}", "--tasks=hopper", "--algos=sac", "--seeds=2",
                               "--total_steps=2000", "--eval_every=1000"])
    (piece,) = table1.plan(o, extra)
    rc = algos.run_config("sac", "quick", {"total_steps": "2000", "eval_every": "1000", "seeds": "2",
                                           "out": str(tmp_path / "point")})
    point = sweep.Point(index=0, params={}, rc=rc, label="p0", folder=str(tmp_path / "point"))

    def callers():
        (again,) = table1.plan(o, extra)
        return [campaign.run_finished(piece.out, 2000), again.finished, pg.finished(rc), sweep.finished(point)]

    for out, r in ((piece.out, piece.rc), (tmp_path / "point", rc)):
        out.mkdir(parents=True)
        (out / "config.json").write_text(json.dumps(r.flat(), default=list))
        (out / "metrics.jsonl").write_text("".join(json.dumps({"seed": s, "step": t, "eval_return": 1.0})
                                                   + "\n" for t in (1000, 2000) for s in (0, 1)))
    assert callers() == [False] * 4
    for out in (piece.out, tmp_path / "point"):
        (out / "summary.json").write_text(json.dumps({"total_steps": 2000}))
    assert callers() == [True] * 4
    for out in (piece.out, tmp_path / "point"):  # a summary of fewer steps than asked: not finished
        (out / "summary.json").write_text(json.dumps({"total_steps": 1000}))
    assert callers() == [False] * 4


# ---------------------------------------------------------------- statistics against hand values


def test_statistics_hand_values():
    assert stats.iqm(np.arange(1.0, 9.0)) == pytest.approx(4.5)  # middle half of 1..8: 3, 4, 5, 6
    x = np.array([[0.9, 0.8], [0.95, 0.85], [1.0, 0.9]])  # [runs, tasks]
    assert stats.probability_of_improvement(x, x - 0.5) == 1.0  # every run beats every run
    assert stats.probability_of_improvement(x, x) == 0.5  # ties and mirror images: one half
    assert stats.probability_of_improvement(x - 0.5, x) == 0.0
    # task 1: a = [0, 1] vs b = [0.5, 0.5]: P = (0 + 1) / 2 = 0.5; task 2: a > b always: 1 -> mean 0.75
    a, b = np.array([[0.0, 0.9], [1.0, 0.8]]), np.array([[0.5, 0.1], [0.5, 0.2]])
    assert stats.probability_of_improvement(a, b) == pytest.approx(0.75)
    agg = stats.aggregates({"a": x}, reps=200, seed=0)["a"]
    assert agg["Mean"][0] == pytest.approx(0.9) and agg["Optimality gap"][0] == pytest.approx(0.1)
    assert agg["IQM"][1] <= agg["IQM"][0] <= agg["IQM"][2]
    taus = np.array([0.0, 0.825, 0.95])
    profile, band = stats.performance_profiles({"a": x}, taus, reps=50, seed=0)
    # tau 0.825: task 1 all 3 runs above, task 2 two of 3 -> (1 + 2/3) / 2; tau 0.95: 1 of 3 and 0 -> 1/6
    assert profile["a"] == pytest.approx([1.0, (1 + 2 / 3) / 2, 1 / 6])


def test_a_run_folder_named_by_an_absolute_or_a_relative_path_is_the_same_run(tmp_path, monkeypatch):
    """A piece started with an absolute --work and continued with a relative one (or the reverse) resumes,
    and a finished piece stays finished; another folder's config is still refused."""
    from softrl_jax import algos
    from softrl_jax.checkpoint import check_same_config

    monkeypatch.chdir(tmp_path)
    rc = algos.run_config("sac", "quick", {"out": str(tmp_path / "w" / "sac")})
    (tmp_path / "w" / "sac").mkdir(parents=True)
    (tmp_path / "w" / "sac" / "config.json").write_text(json.dumps(rc.flat(), default=list))
    relative = algos.run_config("sac", "quick", {"out": "w/sac"})
    assert check_same_config("w/sac", relative.flat()) is True
    other = algos.run_config("sac", "quick", {"out": "w/sac", "seeds": "3"})
    with pytest.raises(ConfigError, match="--seeds=3 \\(the run has 1\\)"):
        check_same_config("w/sac", other.flat())


@pytest.mark.system
def test_a_results_file_names_the_commit_its_piece_started_at(tmp_path):
    """A piece trains with the code its process imported when it started; HEAD may move while it runs (a
    piece takes an hour on a CPU). Run from a clone, a commit made in the clone mid-piece must not be
    the one its results file names."""
    clone = tmp_path / "clone"
    git = lambda *a: subprocess.run(["git", "-C", str(clone), *a], capture_output=True, text=True,  # noqa: E731
                                    check=True).stdout.strip()
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    git("config", "user.email", "t@example.com"), git("config", "user.name", "test")
    # the package as it is here, uncommitted changes included, committed in the clone: the code under test
    shutil.copytree(ROOT / "softrl_jax", clone / "softrl_jax", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    git("add", "-A"), git("commit", "-q", "--allow-empty", "-m", "the code under test")
    started = git("rev-parse", "HEAD")
    suite = tiny(tmp_path, steps=3000)
    p = subprocess.Popen([sys.executable, "-m", "softrl_jax.benchmark", *folders(tmp_path, suite),
                          "--only=Pendulum-v1/sac", "--checkpoint_every=0"], cwd=clone,
                         env={**ENV, "PYTHONPATH": str(clone)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(tmp_path / "work" / "tiny" / "Pendulum-v1" / "sac" / "metrics.jsonl", p)
    git("commit", "-q", "--allow-empty", "-m", "a commit made while the piece trains")
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, err[-3000:]
    assert git("rev-parse", "HEAD") != started
    r = json.loads((tmp_path / "results" / "tiny" / "Pendulum-v1" / "sac.json").read_text())
    assert r["git_commit"] == started
