"""Property test of the command line: random flag names and values (a seeded generator) fed to
`train` and `report` end in exit 0, or in exit 2 with ONE line on stderr and nothing written; never
a traceback. Valid draws really train (a tiny run) or really build a report."""

import random

import pytest

from softrl_jax import report, train
from softrl_jax.config import LoopConfig, field_meta
from softrl_jax.algos import sac

# A tiny valid run; each case changes one or two flags of it.
BASE = {"algo": "sac", "preset": "quick", "env": "gymnax:Pendulum-v1", "seeds": "1", "total_steps": "400",
        "warmup_steps": "200", "eval_every": "200", "batch_size": "32", "hidden": "8,8", "buffer_size": "1000",
        "eval_episodes": "1", "progress": "false", "checkpoint": "false"}
VALUES = ["", "-1", "0", "1", "2", "7", "3.5", "1e99", "99999999999999999999", "nan", "inf", "-inf", "abc",
          "true", "false", "1,2", "[8, 8]", "brax:nope", "gymnax:Nope-v0", "pool", "exact", "bfloat16", "all",
          "0.001", "1e-3", "--", "x=y", "\u00e9", "200", "400", "16,16"]
NAMES = sorted(set(field_meta(LoopConfig)) | set(field_meta(sac.Config)) | {"algo", "preset", "nonsense", "seed s"}
               - {"out", "compile_cache", "wandb", "distributed", "coordinator", "num_processes", "process_id",
                  "devices", "cpu_devices", "progress"})  # where and how it runs: other tests cover those


def check(code, capsys, out, expect=(0, 2)):
    err = capsys.readouterr().err.strip()
    assert code in expect, (code, err)
    if code == 2:
        assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
        assert not out.exists(), f"exit 2 but {out} was written"


@pytest.mark.parametrize("case", range(-1, 24))
def test_train_random_flags_exit_0_or_one_line_2(case, tmp_path, capsys):
    """Case -1 is BASE unchanged: it must train (exit 0), so the draws start from a valid run."""
    rng = random.Random(1000 + case)
    flags = dict(BASE)
    for name in rng.sample(NAMES, rng.choice((1, 2))) if case >= 0 else ():
        flags[name] = rng.choice(VALUES)
    out = tmp_path / "run"
    argv = [f"--{k}={v}" for k, v in flags.items()] + [f"--out={out}", f"--compile_cache={tmp_path.parent / 'cache'}"]
    check(train.main(argv), capsys, out, (0, 2) if case >= 0 else (0,))


@pytest.mark.parametrize("case", range(12))
def test_report_random_flags_exit_0_or_one_line_2(case, tmp_path, capsys):
    rng = random.Random(2000 + case)
    out = tmp_path / "report"
    flags = {"out": str(out), "runs": str(tmp_path)}
    for name in rng.sample(["runs", "metric", "reps", "seed", "envs", "algos", "nonsense"], rng.choice((1, 2))):
        flags[name] = rng.choice(VALUES + [str(tmp_path / "none")])
    check(report.main([f"--{k}={v}" for k, v in flags.items()]), capsys, out)


TINY_SPEC = "method: grid\nparameters:\n  actor_lr:\n    values: [0.001, 0.0003]\n"


@pytest.mark.parametrize("case", range(-1, 8))
def test_sweep_random_flags_exit_0_or_one_line_2(case, tmp_path, capsys):
    """Case -1: the unchanged flags run a real two-point sweep (exit 0)."""
    from softrl_jax import sweep

    rng = random.Random(3000 + case)
    spec = tmp_path / "spec.yaml"
    spec.write_text(TINY_SPEC)
    out = tmp_path / "sweep"
    opts = {"algo": "sac", "env": "gymnax:Pendulum-v1", "seeds": "1", "preset": "quick", "sweep_file": str(spec),
            "sweep_dir": str(out), "count": "", "max_points": "0", "sampler_seed": "0"}
    after = {k: v for k, v in BASE.items() if k not in ("algo", "preset", "env", "seeds")}
    after.update(wandb="off", compile_cache=str(tmp_path.parent / "cache"))
    name = rng.choice(["count", "max_points", "sampler_seed", "sweep_file", "algo", "seeds", "nonsense", "after"])
    if case < 0:
        pass
    elif name == "after":
        after[rng.choice(NAMES)] = rng.choice(VALUES)
    else:
        opts[name] = rng.choice(VALUES)
    argv = [f"--{k}={v}" for k, v in opts.items() if v != ""] + ["--"] + [f"--{k}={v}" for k, v in after.items()]
    check(sweep.main(argv), capsys, out, (0, 2) if case >= 0 else (0,))


@pytest.mark.parametrize("case", range(-1, 8))
def test_bench_random_flags_exit_0_or_one_line_2(case, tmp_path, capsys):
    """Case -1: the unchanged flags run the real replay section (exit 0)."""
    from softrl_jax import bench

    rng = random.Random(4000 + case)
    out = tmp_path / "bench.json"
    flags = {"sections": "replay", "json": str(out), "algo": "dspg", "preset": "quick", "chunks": "1"}
    names = ["sections", "algo", "preset", "chunks", "env", "seeds", "nonsense"]
    for name in rng.sample(names, rng.choice((1, 2))) if case >= 0 else ():
        flags[name] = rng.choice(VALUES + ["loop,nope", "replay"])
    if flags["sections"] not in ("replay",):  # the other sections take minutes: only their input is checked
        flags["sections"] = flags["sections"] + ",nope"
    check(bench.main([f"--{k}={v}" for k, v in flags.items()]), capsys, out, (0, 2) if case >= 0 else (0,))
