"""Hypothesis fuzzing of every command line's flag layer: train (through `--explain`, which resolves and
validates every flag and runs nothing), sweep, report, bench, bench-gpu, bench-peers and the experiments.
Any draw of flag names and values must end in exit 0, or in exit 2 with ONE line starting `error: `
and nothing written; never a traceback. The experiments' parsers are called directly (a valid draw of
their full command trains for minutes): they must return or raise ConfigError, nothing else.
tests/test_fuzz_flags.py runs the valid draws of train, sweep, report and bench for real."""

import importlib.util
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from softrl_jax import bench, bench_gpu, bench_peers, report, sweep, train
from softrl_jax.algos import sac
from softrl_jax.config import ConfigError, LoopConfig, field_meta

ROOT = Path(__file__).resolve().parent.parent
VALUES = ["", "-1", "0", "1", "2", "3.5", "1e99", "99999999999999999999", "nan", "inf", "-inf", "abc", "true",
          "false", "1,2", "[8, 8]", "brax:nope", "gymnax:Nope-v0", "gymnax:Pendulum-v1", "pool", "all", "1e-3",
          "--", "x=y", "\u00e9", "400", "sac", "dspg", "quick", "paper", "loop,replay", "CheetahRun"]
TRAIN_NAMES = sorted(set(field_meta(LoopConfig)) | set(field_meta(sac.Config)) | {"algo", "preset", "nonsense"})
FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def flags_from(names: list[str]):
    """Lists of --name=value flags: known names (and junk), listed values or any text."""
    name = st.sampled_from(names + ["nonsense", "seed s", ""])
    value = st.one_of(st.sampled_from(VALUES), st.text(max_size=12))
    return st.lists(st.tuples(name, value), min_size=1, max_size=3)


def argv_of(pairs) -> list[str]:
    return [f"--{k}={v}" for k, v in pairs]


def check(code: int, capsys, folder: Path) -> None:
    err = capsys.readouterr().err.strip()
    assert code in (0, 2), (code, err)
    if code == 2:
        assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
        assert not folder.exists() or not any(folder.iterdir()), f"exit 2 but {folder} was written"


@FUZZ
@given(pairs=flags_from(TRAIN_NAMES))
def test_train_explain(pairs, tmp_path, capsys):
    out = tmp_path / "explain-run"
    check(train.main(argv_of(pairs) + [f"--out={out}", "--explain"]), capsys, out)


@FUZZ
@given(pairs=flags_from(["sweep_file", "sweep_dir", "count", "max_points", "sampler_seed", "algo", "seeds", "wandb"]))
def test_sweep(pairs, tmp_path, capsys):
    """Every draw has an unknown train flag after `--`: only the sweep's own validation can pass, so
    nothing trains (the valid runs are in test_fuzz_flags)."""
    out = tmp_path / "fuzz-sweep"
    argv = argv_of([(k, v) for k, v in pairs if k != "sweep_dir"]) + [f"--sweep_dir={out}", "--", "--nonsense=1"]
    code = sweep.main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ") and "\n" not in err, (code, err)
    assert not out.exists() or not any(out.iterdir())


@FUZZ
@given(pairs=flags_from(["runs", "metric", "reps", "seed", "envs", "algos", "out"]))
def test_report(pairs, tmp_path, capsys):
    out = tmp_path / "fuzz-report"
    argv = argv_of([(k, v) for k, v in pairs if k != "out"]) + [f"--out={out}", f"--runs={tmp_path / 'none'}"]
    check(report.main(argv), capsys, out)


@pytest.mark.parametrize("parse,names", [
    (lambda argv: bench._parse(argv), ["sections", "algo", "preset", "chunks", "env", "seeds", "json"]),
    (lambda argv: bench_gpu.parse(argv), ["budget_s", "allow_cpu", "json", "out", "seeds"]),
    (lambda argv: bench_peers.parse(argv), ["repeats", "only", "quick", "baseline", "out"]),
])
def test_bench_parsers_accept_or_refuse_in_one_line(parse, names, tmp_path):
    """The benches' flag layers, called directly (a valid bench runs for minutes; test_fuzz_flags runs
    bench's replay section for real): every draw parses or raises ONE-line ConfigError, writes nothing, and
    the draws reach both outcomes (a fuzz that could only hit one would test little)."""
    outcomes = set()
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        @FUZZ
        @given(pairs=st.one_of(flags_from(names),  # junk, or known names with listed values (often valid)
                               st.lists(st.tuples(st.sampled_from(names), st.sampled_from(VALUES)), max_size=2)))
        def draw(pairs):
            try:
                parse(argv_of(pairs))
                outcomes.add("parsed")
            except ConfigError as e:
                assert "\n" not in str(e), str(e)
                outcomes.add("refused")

        draw()
        assert list(tmp_path.iterdir()) == []
    finally:
        os.chdir(cwd)
    assert outcomes == {"parsed", "refused"}


def experiment(name: str):
    spec = importlib.util.spec_from_file_location(f"fuzz_{name}", ROOT / "experiments" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name,parser,names", [
    ("maxent_irl", "parse_args", ["task", "seeds", "demos", "iterations", "size", "optimizer", "lr", "out"]),
    ("multigoal", "options", ["algos", "total_steps", "episodes", "seed", "out"]),
    ("playground_fast", "options", ["budget_s", "algos", "envs", "seeds", "preset", "eval_every", "out"]),
    ("dspg_table1", "options", ["algos", "envs", "seeds", "budget", "only", "out", "dry_run"]),
    ("pg_soft_q", "plan", ["algos", "tasks", "seeds", "total_steps", "out"]),
    ("fresh_seeds", "options", ["algos", "seed", "seeds", "out"]),
])
def test_experiment_parsers_raise_only_config_errors(name, parser, names, tmp_path):
    parse = getattr(experiment(name), parser)
    cwd = os.getcwd()
    os.chdir(tmp_path)  # a parser that wrote a file would leave it here
    try:
        @FUZZ
        @given(pairs=flags_from(names))
        def draw(pairs):
            try:
                parse(argv_of(pairs))
            except ConfigError as e:
                assert "\n" not in str(e), str(e)

        draw()
        assert list(tmp_path.iterdir()) == []
    finally:
        os.chdir(cwd)
