"""`make report`: statistics checked against hand computations on synthetic run folders."""

import json
from pathlib import Path

import numpy as np
import pytest

from softrl_jax import report, stats

STEPS = (1000, 2000, 3000)
# eval_return per seed at STEPS. dspg on hopper: the mean over seeds is [2, 3, 4] -> best average 4
# (NOT the mean of per-seed bests, (5 + 5 + 4) / 3 = 4.67).
DATA = {
    ("dspg", "brax:hopper"): [[1, 5, 3], [3, 1, 5], [2, 3, 4], [2, 3, 4]],
    ("sac", "brax:hopper"): [[0, 10, 20], [0, 20, 30], [0, 30, 1000], [0, 0, 40]],
    ("dspg", "gymnax:Pendulum-v1"): [[-900, -300, -150], [-800, -200, -250], [-1000, -400, -350], [-900, -300, -200]],
    ("sac", "gymnax:Pendulum-v1"): [[-1000, -500, -300], [-1100, -600, -100], [-900, -700, -200], [-1200, -100, -400]],
}


def write_run(folder: Path, algo: str, env: str, rows, preset="quick", seed0=0, extra=None):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"algo": algo, "env": env, "preset": preset, **(extra or {})}))
    with (folder / "metrics.jsonl").open("w") as f:
        for t_i, step in enumerate(STEPS):
            for s, row in enumerate(rows):
                f.write(json.dumps({"seed": seed0 + s, "step": step, "eval_return": row[t_i], "critic_loss": 1.0}) + "\n")


@pytest.fixture()
def runs(tmp_path):
    root = tmp_path / "runs"
    for (algo, env), rows in DATA.items():
        write_run(root / f"{algo}-{env.replace(':', '_')}", algo, env, rows)
    return root


def test_best_average_return_is_max_over_steps_of_seed_mean():
    assert stats.best_average_return(np.array(DATA[("dspg", "brax:hopper")], float)) == 4.0
    with_nan = np.array([[1.0, np.nan, 9.0], [3.0, 7.0, np.nan]])
    assert stats.best_average_return(with_nan) == 9.0  # mean over the seeds that have the step


def test_iqm_of_known_numbers():
    assert stats.iqm(np.arange(1.0, 9.0)) == pytest.approx(4.5)  # middle half: 3, 4, 5, 6
    assert stats.iqm(np.array([0, 0, 1, 2, 3, 100, 100, 100.0])) == pytest.approx(26.5)  # 1, 2, 3, 100
    assert stats.iqm(np.array([10, 20, 30, 1000.0])) == pytest.approx(25.0)


def test_bootstrap_band():
    mean, lo, hi = stats.bootstrap_mean_band(np.array([[0.0, 4.0], [10.0, 4.0]]), reps=4000)
    np.testing.assert_allclose(mean, [5.0, 4.0])
    # resampled means of {0, 10} are 0, 5 or 10 with probabilities 1/4, 1/2, 1/4
    np.testing.assert_allclose(lo, [0.0, 4.0])
    np.testing.assert_allclose(hi, [10.0, 4.0])
    one = stats.bootstrap_mean_band(np.array([[1.0, 2.0]]))
    np.testing.assert_allclose(one, [[1.0, 2.0]] * 3)


def test_report_numbers_and_files(runs, tmp_path):
    out = tmp_path / "report"
    result = report.build([str(runs)], out, reps=500)
    t1 = {(r["env"], r["label"]): r for r in result["table1"]}
    assert t1[("brax:hopper", "dspg")]["best_average"] == pytest.approx(4.0)
    assert t1[("brax:hopper", "sac")]["best_average"] == pytest.approx((20 + 30 + 1000 + 40) / 4)
    assert t1[("gymnax:Pendulum-v1", "dspg")]["best_average"] == pytest.approx(-237.5)
    # the paper's Table 1 beside ours where the task matches
    assert t1[("brax:hopper", "dspg")]["paper"] == 3674.0 and t1[("brax:hopper", "sac")]["paper"] == 3652.9
    assert t1[("gymnax:Pendulum-v1", "dspg")]["paper"] is None
    assert t1[("brax:hopper", "dspg")]["seeds"] == 4 and t1[("brax:hopper", "dspg")]["last_step"] == 3000

    per_task = {(r["env"], r["label"]): r for r in result["iqm_per_task"]}
    # finals of sac on hopper: 20, 30, 1000, 40 -> IQM = mean(30, 40) = 35, robust to the 1000
    assert per_task[("brax:hopper", "sac")]["iqm"] == pytest.approx(35.0)
    assert per_task[("brax:hopper", "sac")]["lo"] <= 35.0 <= per_task[("brax:hopper", "sac")]["hi"]
    assert per_task[("gymnax:Pendulum-v1", "dspg")]["iqm"] == pytest.approx(-225.0)  # mean(-200, -250)

    # across tasks: min-max normalised per task. hopper finals span [3, 1000], Pendulum [-400, -100].
    across = {r["label"]: r for r in result["iqm_across_tasks"]}
    norm_dspg = np.concatenate([(np.array([3, 5, 4, 4.0]) - 3) / 997,
                                (np.array([-150, -250, -350, -200.0]) + 400) / 300])
    assert across["dspg"]["iqm"] == pytest.approx(stats.iqm(norm_dspg.reshape(2, 4).T))
    assert across["dspg"]["runs"] == 4 and across["dspg"]["tasks"] == 2

    for name in ("curves-brax_hopper.png", "curves-gymnax_Pendulum-v1.png", "iqm.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    md = (out / "report.md").read_text()
    assert "| brax:hopper | dspg | 4 | 0 | 3000 | 4 | 4 | 3674.0 |" in md
    assert "![brax:hopper](curves-brax_hopper.png)" in md
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and "<table>" in page
    assert json.loads((out / "summary.json").read_text())["table1"] == result["table1"]


def test_variants_pool_seeds_and_separate_configurations(tmp_path):
    root = tmp_path / "runs"
    write_run(root / "a", "dspg", "brax:ant", [[1, 2, 3]], seed0=0)
    write_run(root / "b", "dspg", "brax:ant", [[3, 4, 5]], seed0=1)  # more seeds of the same variant
    write_run(root / "sweep" / "p00", "dspg", "brax:ant", [[0, 0, 0]], preset="paper",
              extra={"sweep_point": "clip_norm=3"})
    variants = report.load_variants(report.find_runs([root]))
    labels = {v.label: v for v in variants}
    assert set(labels) == {"dspg [quick]", "dspg [paper, clip_norm=3]"}
    assert len(labels["dspg [quick]"].seeds) == 2
    assert stats.best_average_return(labels["dspg [quick]"].matrix()[1]) == 4.0


@pytest.mark.parametrize("argv, needle", [
    (["--runs=does/not/exist"], "does/not/exist"),
    (["--runz=runs"], "--runz"),
    (["--runs=empty"], "no run folders"),
    (["--wandb_report=justentity", "--envs=brax:ant"], "ENTITY/PROJECT"),
    (["--runs=empty", "--envs=brax:ant"], "--envs"),
])
def test_bad_input_exits_2_and_writes_nothing(argv, needle, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    assert report.main(argv + ["--out=rep"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and needle in err and "\n" not in err
    assert not (tmp_path / "rep").exists()


def test_cli_writes_report(runs, tmp_path, capsys):
    assert report.main([f"--runs={runs}", f"--out={tmp_path / 'r'}", "--reps=200"]) == 0
    assert (tmp_path / "r" / "report.md").is_file() and (tmp_path / "r" / "iqm.png").is_file()


def test_wandb_report_definition_builds_offline():
    from softrl_jax.io.wandb_report import comparison_report  # wandb-workspaces is in the dev extra: never skipped

    rep = comparison_report("me", "softrl-jax", ["brax:hopper", "brax:ant"], algos=["dspg", "sac", "ddpg"])
    grids = [b for b in rep.blocks if type(b).__name__ == "PanelGrid"]
    assert len(grids) == 2 and all(g.runsets[0].groupby == ["group"] for g in grids)
    assert grids[0].panels[0].y == ["eval_return"] and grids[0].panels[0].groupby_aggfunc == "mean"


def test_diverged_seeds_are_counted_and_left_out_of_every_average(tmp_path):
    root = tmp_path / "runs"
    write_run(root / "a", "sac", "brax:ant", [[1, 2, 3], [5, 6, 7]])
    # seed 1 diverged: its rows carry the flag; its (frozen) returns must not enter any average
    lines = (root / "a" / "metrics.jsonl").read_text().splitlines()
    flagged = [json.dumps({**json.loads(x), "diverged": json.loads(x)["seed"] == 1,
                           "diverged_at": 2 if json.loads(x)["seed"] == 1 else None}) for x in lines]
    (root / "a" / "metrics.jsonl").write_text("\n".join(flagged) + "\n")
    write_run(root / "b", "sac", "brax:ant", [[9, 9, 9]], preset="paper")
    (root / "b" / "metrics.jsonl").write_text("\n".join(
        json.dumps({**json.loads(x), "diverged": True, "diverged_at": 1})
        for x in (root / "b" / "metrics.jsonl").read_text().splitlines()) + "\n")
    result = report.build([str(root)], tmp_path / "out", reps=200)
    rows = {r["label"]: r for r in result["table1"]}
    assert rows["sac [quick]"]["seeds"] == 1 and rows["sac [quick]"]["diverged"] == 1
    assert rows["sac [quick]"]["best_average"] == 3.0 and rows["sac [quick]"]["final_mean"] == 3.0  # seed 0 alone
    assert rows["sac [paper]"]["seeds"] == 0 and rows["sac [paper]"]["diverged"] == 1
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| brax:ant | sac [paper] | 0 | all 1 |" in md and "1 more diverged, left out" in md


def test_playground_tasks_are_reported_without_a_paper_number(tmp_path):
    """A Playground task (DM Control's hopper, not Gym's Hopper) gets curves, IQM and a Table-1 row
    with no paper number; Brax hopper beside it keeps the paper's."""
    root = tmp_path / "runs"
    write_run(root / "a", "dspg", "playground:HopperHop", DATA[("dspg", "brax:hopper")])
    write_run(root / "b", "dspg", "brax:hopper", DATA[("dspg", "brax:hopper")])
    out = tmp_path / "report"
    result = report.build([str(root)], out, reps=200)
    t1 = {r["env"]: r for r in result["table1"]}
    assert t1["playground:HopperHop"]["paper"] is None and t1["brax:hopper"]["paper"] == 3674.0
    assert t1["playground:HopperHop"]["best_average"] == pytest.approx(4.0)
    md = (out / "report.md").read_text()
    assert "| playground:HopperHop | dspg | 4 | 0 | 3000 | 4 | 4 | — |" in md
    assert (out / "curves-playground_HopperHop.png").read_bytes()[:4] == b"\x89PNG"
