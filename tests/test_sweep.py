"""Sweeps: YAML expansion (grid, random), validation, and vmapped points == points one by one."""

import dataclasses
import json
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softrl_jax import algos, envs, sweep, sweep_spec
from softrl_jax.io.runstore import read_metrics
from softrl_jax.loop import make_train
from softrl_jax.training import seed_keys

# A tiny DSPG run: 3 chunks of 400 transitions, the first 200 warm-up.
TINY = {"env": "gymnax:Pendulum-v1", "hidden": (16, 16), "num_samples": 4, "batch_size": 32,
        "warmup_steps": 200, "eval_every": 400, "total_steps": 1200, "eval_episodes": 2,
        "episode_length": 100, "buffer_size": 2000, "num_envs": 2, "updates_per_step": 1,
        "seeds": 2, "progress": False, "wandb": "off", "preset": "quick"}
# Points that differ only in shape-keeping floats: one compiled program. The test takes the first and
# the last of this grid, which differ in both fields.
POINTS = {"method": "grid", "parameters": {"actor_lr": {"values": [3e-3, 3e-4]}, "clip_norm": {"values": [0.05, 5.0]},
                                           "critic_lr": {"values": [1e-3]}}}
SPEC_KEYS = ("eval_return", "critic_loss", "actor_loss", "q_mean", "entropy", "actor_grad_norm", "train_return")


def _batchable():
    return sweep.batchable_fields("dspg", algos.get("dspg").Config)


@pytest.fixture(scope="module")
def vmapped(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    grid = sweep.build_points("dspg", POINTS, TINY, 0, 0, str(out))
    assert len(grid) == 4 and len(sweep.group_points(grid, _batchable())) == 1  # one program for all
    points = [grid[0], grid[3]]
    assert sweep.varying_fields(points, _batchable()) == ["actor_lr", "clip_norm"]
    return points, sweep.train_group(points, batchable=_batchable())


def _values(records, key):
    return np.array([[r[key] for r in records if r["seed"] == s] for s in sorted({r["seed"] for r in records})])


@pytest.fixture(scope="module")
def swapped(tmp_path_factory):
    """The same two points in the other order: each in the other slot, beside the other neighbour."""
    grid = sweep.build_points("dspg", POINTS, TINY, 0, 0, str(tmp_path_factory.mktemp("swapped")))
    return sweep.train_group([grid[3], grid[0]], batchable=_batchable())


def test_a_points_run_does_not_depend_on_its_slot_or_neighbour(vmapped, swapped):
    """Bit for bit, every evaluation of the run: the same [P x S] program with the points in the other
    order gives each point the same numbers. A point's hyperparameters reaching another slot, or
    anything that mixes the points (a reduction over the point axis), would show here at once."""
    (points, results), results_swapped = vmapped, swapped
    for p in points:
        for key in SPEC_KEYS:
            np.testing.assert_array_equal(_values(results[p.index], key), _values(results_swapped[p.index], key),
                                          err_msg=f"point {p.index} {key}")
    assert not np.array_equal(_values(results[0], "entropy"), _values(results[3], "entropy"))


def test_vmapped_points_equal_each_point_alone(vmapped):
    """[P x S] vmapped program == each point alone (same traced hyperparameters, vmapped over its S
    seeds) at the first evaluation, after 100 updates, to 1e-4. The two programs sum over the minibatch
    in another order (see tests/test_runner.py), about 1e-7 relative per update, and training amplifies
    such differences like any chaotic system; the first evaluation is where the comparison is well
    conditioned for every point of the grid (measured on jax 0.10.2 and 0.12.0.1: at most 5.5e-6, in
    point 0's evaluation return, where a run started one ulp away moves by 1.8e-6). Later the
    amplification depends on the point: in point 0's third chunk (actor_lr 3e-3), a run started one
    ulp away moves its evaluation return by 0.9% (benchmarks/sweep_vs_alone.py), so a comparison there
    says which side of the instability each program's rounding lands on (it held on jax 0.10.2 and
    failed on 0.12.0.1), not whether the sweep computes each point's run. That the whole run of each
    point is its own, whatever else the program holds, the slot test above checks bit for bit."""
    points, results = vmapped
    rc = points[0].rc
    env = envs.make(rc.loop.env, rc.loop.episode_length)
    trainer = make_train(algos.get("dspg"), env, rc)
    keys = seed_keys(rc.loop.seed, rc.loop.seeds)
    init, chunk = (jax.jit(f) for f in trainer.vmap())
    first = next(c for c in range(trainer.n_chunks) if trainer.logged(c))
    for p in points:
        hp = {f: jnp.full((rc.loop.seeds,), getattr(p.rc.algo_cfg, f), jnp.float32) for f in ("actor_lr", "clip_norm")}
        carry = init(keys, hp)
        for _ in range(first + 1):
            carry, m = chunk(carry, hp)
        for key in SPEC_KEYS:
            got = _values(results[p.index], key)[:, 0]
            np.testing.assert_allclose(got, np.asarray(m[key]), rtol=1e-4, atol=1e-6, err_msg=f"point {p.index} {key}")


def test_vmapped_points_match_train_py_runs(vmapped, tmp_path):
    """A point == the same config run by `softrl_jax.train` (its S seeds alone, hyperparameters compiled
    in as constants): the same runner programs at another batch size. On the CPU, every evaluation of
    the whole run is bit for bit the same (measured on jax 0.10.2 and 0.12.0.1: XLA:CPU computes each
    row of these batches independently of the batch size, and folds the constants as it computes the
    traced values). Elsewhere (a GPU may pick its kernels by batch size) the first evaluation is
    compared to 1e-4, for the reason given above. And the hyperparameters take effect: the points'
    policies drift apart."""
    from softrl_jax.train import run

    points, results = vmapped
    p = points[0]  # clip_norm=0.05: the clip is active at every step
    rc = dataclasses.replace(p.rc, loop=dataclasses.replace(p.rc.loop, out=str(tmp_path / "alone")))
    _, alone = run(rc, quiet=True)
    for key in SPEC_KEYS:
        got, want = _values(results[p.index], key), _values(alone, key)
        if jax.default_backend() == "cpu":
            np.testing.assert_array_equal(got, want, err_msg=key)
        else:
            np.testing.assert_allclose(got[:, 0], want[:, 0], rtol=1e-4, atol=1e-6, err_msg=key)
    e0, e1 = (_values(results[q.index], "entropy") for q in points)
    assert np.max(np.abs(e0 - e1)) > 0.15


def test_sweep_folders_hold_train_py_format(vmapped):
    points, results = vmapped
    for p in points:
        records = read_metrics(p.folder)
        assert {r["seed"] for r in records} == {0, 1}
        assert [r["step"] for r in records if r["seed"] == 0] == [400, 800, 1200]
        config = json.loads((__import__("pathlib").Path(p.folder) / "config.json").read_text())
        assert config["algo"] == "dspg" and config["clip_norm"] == p.rc.algo_cfg.clip_norm
        assert config["sweep_params"] == p.params and config["preset"] == "quick"


def test_grid_expansion_order_and_count():
    spec = {"method": "grid", "parameters": {"num_samples": {"values": [8, 16]},
                                             "clip_norm": {"values": [1.0, 3.0, 5.0]},
                                             "alpha": {"value": 0.2}}}
    pts = sweep_spec.expand(spec)
    assert len(pts) == 6
    assert pts[:3] == [{"num_samples": 8, "clip_norm": c} for c in (1.0, 3.0, 5.0)]  # last varies fastest
    assert sweep_spec.expand(spec, count=4) == pts[:4]
    assert sweep_spec.expand(spec, count=100) == pts
    assert sweep_spec.expand(spec, exclude=["clip_norm"]) == [{"num_samples": 8}, {"num_samples": 16}]
    q = {"method": "grid", "parameters": {"batch_size": {"distribution": "int_uniform", "min": 30, "max": 32},
                                          "tau": {"distribution": "q_uniform", "min": 0.0, "max": 0.03, "q": 0.01}}}
    got = sweep_spec.expand(q)
    assert [p["batch_size"] for p in got[::4]] == [30, 31, 32]
    np.testing.assert_allclose([p["tau"] for p in got[:4]], [0.0, 0.01, 0.02, 0.03])


def test_random_expansion_bounds_count_and_validity(tmp_path):
    spec = {"method": "random", "parameters": {
        "actor_lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-2},
        "critic_lr": {"min": 1e-4, "max": 2e-4},  # W&B infers uniform
        "num_samples": {"min": 2, "max": 9},  # W&B infers int_uniform
        "tau": {"distribution": "q_uniform", "min": 0.005, "max": 0.05, "q": 0.005},
        "alpha": {"distribution": "log_uniform", "min": math.log(0.01), "max": math.log(1.0)},
        "baseline": {"values": ["none", "loo"], "probabilities": [0.25, 0.75]}}}
    pts = sweep_spec.expand(spec, count=200, seed=3)
    assert len(pts) == 200
    lr = np.array([p["actor_lr"] for p in pts])
    assert lr.min() >= 1e-5 and lr.max() <= 1e-2
    # log-uniform: about as many draws below the geometric midpoint 3.16e-4 as above it
    assert 0.35 < np.mean(lr < math.sqrt(1e-5 * 1e-2)) < 0.65
    assert all(1e-4 <= p["critic_lr"] <= 2e-4 for p in pts)
    assert {p["num_samples"] for p in pts} == set(range(2, 10))
    assert all(isinstance(p["num_samples"], int) for p in pts)
    assert all(abs(p["tau"] / 0.005 - round(p["tau"] / 0.005)) < 1e-9 and 0.005 <= p["tau"] <= 0.05 for p in pts)
    assert all(0.01 <= p["alpha"] <= 1.0 for p in pts)
    assert 0.65 < np.mean([p["baseline"] == "loo" for p in pts]) < 0.85
    assert sweep_spec.expand(spec, count=5, seed=3) == pts[:5]  # seeded: reproducible
    assert sweep_spec.expand(spec, count=5, seed=4) != pts[:5]
    # every point is a valid DSPG config
    points = sweep.build_points("dspg", spec, {"preset": "quick"}, 20, 3, str(tmp_path))
    assert len(points) == 20
    for p in points:
        assert p.rc.algo_cfg.actor_lr == p.params["actor_lr"] and p.rc.preset == "quick"


def test_precedence_yaml_then_cli_then_args(tmp_path):
    spec = sweep_spec.load_spec("sweeps/dspg.yaml")
    opts, overrides = sweep.parse_args(["--algo=dspg", "--env=gymnax:Pendulum-v1", "--seeds=2", "--count=2",
                                        "--preset=paper", "--", "--preset=quick", "--clip_norm=3"])
    assert opts == {"algo": "dspg", "count": "2"}
    assert overrides["preset"] == "quick" and overrides["seeds"] == "2"
    points = sweep.build_points("dspg", spec, overrides, 2, 0, str(tmp_path))
    # clip_norm fixed by ARGS: only M is swept; preset from ARGS beats --preset; env, seeds beat the YAML
    assert [p.params for p in points] == [{"num_samples": 64}, {"num_samples": 100}]
    assert all(p.rc.preset == "quick" and p.rc.algo_cfg.clip_norm == 3.0 for p in points)
    assert all(p.rc.loop.env == "gymnax:Pendulum-v1" and p.rc.loop.seeds == 2 for p in points)
    # an empty --env keeps the YAML's value
    _, overrides = sweep.parse_args(["--env=", "--preset="])
    assert "env" not in overrides and "preset" not in overrides


def test_shipped_yamls_are_valid_for_their_algorithms(tmp_path):
    for algo in ("dspg", "sac", "ddpg", "sql"):
        if algo not in algos.ALGOS:
            continue
        spec = sweep_spec.load_spec(f"sweeps/{algo}.yaml")
        assert spec["command"] == ["${env}", "${interpreter}", "-m", "softrl_jax.train", "${args}"]
        assert spec["metric"] == {"name": "eval_return", "goal": "maximize"}
        points = sweep.build_points(algo, spec, {"env": "gymnax:Pendulum-v1", "preset": "quick"}, 4, 0,
                                    str(tmp_path / algo))
        assert len(points) == 4 and all(p.rc.algo == algo for p in points)
    dspg = sweep_spec.load_spec("sweeps/dspg.yaml")["parameters"]
    assert dspg["clip_norm"]["values"] == [1.0, 3.0, 5.0] and "num_samples" in dspg


def test_grouping_by_static_fields(tmp_path):
    spec = {"method": "grid", "parameters": {"hidden": {"values": [[16, 16], [32, 32]]},
                                             "actor_lr": {"values": [1e-3, 3e-3]}}}
    points = sweep.build_points("dspg", spec, {"preset": "quick"}, 0, 0, str(tmp_path))
    groups = sweep.group_points(points, _batchable())
    assert [[p.params["hidden"] for p in g] for g in groups] == [[[16, 16]] * 2, [[32, 32]] * 2]
    assert all(sweep.varying_fields(g, _batchable()) == ["actor_lr"] for g in groups)


@pytest.mark.parametrize("argv, needle", [
    (["--algo=dspg", "--", "--clip_nrom=3"], "clip_nrom"),
    (["--algo=dspgg"], "dspgg"),
    (["--algo=dspg", "--count=0"], "--count=0"),
    (["--algo=dspg", "--env=gymnax:Nope-v0"], "Nope"),
    (["--algo=dspg", "--sweep_file=nope.yaml"], "nope.yaml"),
    (["--algo=dspg", "--", "--wandb=maybe"], "maybe"),
])
def test_bad_input_exits_2_and_writes_nothing(argv, needle, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sweeps").symlink_to(__import__("pathlib").Path(__file__).parents[1] / "sweeps")
    assert sweep.main(["--sweep_dir=out"] + argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0]
    assert not (tmp_path / "out").exists()


def test_bad_yaml_parameter_name_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text("method: grid\nparameters:\n  clip_nrom:\n    values: [1, 3]\n")
    assert sweep.main(["--algo=dspg", "--sweep_file=bad.yaml", "--sweep_dir=out"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "clip_nrom" in err and "clip_norm" in err and "\n" not in err
    assert not (tmp_path / "out").exists()
    for bad, needle in (("method: grid\nparameters:\n  actor_lr:\n    min: 0.1\n    max: 0.2\n", "grid search"),
                        ("method: annealing\nparameters:\n  actor_lr:\n    value: 0.1\n", "annealing"),
                        ("method: random\nparameters:\n  actor_lr:\n    distribution: beta\n", "beta"),
                        ("method: random\nparameters:\n  actor_lr:\n    values: [-1.0]\n", "actor_lr")):
        (tmp_path / "bad.yaml").write_text(bad)
        assert sweep.main(["--algo=dspg", "--sweep_file=bad.yaml", "--sweep_dir=out"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and needle in err and "\n" not in err, err


def test_online_command_line_parses_with_wandb_agent_expansion(tmp_path):
    """The agent turns `${args}` into `--name=value` flags (W&B's own code); train.py must accept them
    and build the same config as the offline expansion."""
    from wandb.sdk.launch.sweeps import utils as sweep_utils

    from softrl_jax.train import config_from_flags

    for algo in ("dspg", "sac", "ddpg", "sql"):
        if algo not in algos.ALGOS:
            continue
        _, overrides = sweep.parse_args(["--env=gymnax:Pendulum-v1", "--seeds=3", "--preset=quick", "--",
                                         "--total_steps=5000"])
        full = sweep.online_spec(algo, sweep_spec.load_spec(f"sweeps/{algo}.yaml"), overrides)
        assert full["command"] == ["${env}", "${interpreter}", "-m", "softrl_jax.train", "${args}"]
        fixed, swept = sweep_spec.split_params(full)
        assert fixed["algo"] == algo and fixed["seeds"] == "3" and fixed["total_steps"] == "5000"
        points = sweep.build_points(algo, sweep_spec.load_spec(f"sweeps/{algo}.yaml"), overrides, 3, 0, str(tmp_path / algo))
        for p in points:
            # what the server sends for this point: every parameter with one value (YAML loads it typed)
            import yaml

            args = {k: {"value": v} for k, v in yaml.safe_load(yaml.safe_dump({**fixed, **p.params})).items()}
            argv = sweep_utils.create_sweep_command_args({"args": args})["args"]
            assert all(a.startswith("--") and "=" in a for a in argv)
            rc = config_from_flags(argv)
            assert rc.algo_cfg == p.rc.algo_cfg and rc.preset == "quick"
            assert dataclasses.replace(rc.loop, out="") == dataclasses.replace(p.rc.loop, out="")


def test_online_path_creates_the_sweep_and_runs_the_agent(tmp_path, monkeypatch):
    """With credentials: `wandb.sweep(spec)` then `wandb agent --count COUNT entity/project/id`. The
    server calls are replaced here (no network); the spec and the agent's command line are checked."""
    import subprocess
    import sys

    import wandb
    import yaml

    monkeypatch.setenv("WANDB_API_KEY", "a" * 40)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    created, called = [], []
    monkeypatch.setattr(wandb, "sweep", lambda spec, entity=None, project=None: created.append(
        (spec, entity, project)) or "abc123")
    monkeypatch.setattr(subprocess, "call", lambda cmd, env: called.append((cmd, env)) or 0)
    monkeypatch.chdir(__import__("pathlib").Path(__file__).parents[1])
    argv = ["--algo=dspg", "--env=gymnax:Pendulum-v1", "--seeds=2", "--count=2", "--preset=quick",
            f"--sweep_dir={tmp_path / 's'}", "--", "--total_steps=3000", "--wandb_entity=team"]
    assert sweep.main(argv) == 0
    (spec, entity, project), = created
    assert (entity, project) == ("team", "softrl-jax")
    params = spec["parameters"]
    assert params["env"] == {"value": "gymnax:Pendulum-v1"} and params["seeds"] == {"value": "2"}
    assert params["preset"] == {"value": "quick"} and params["wandb"] == {"value": "auto"}
    assert params["clip_norm"] == {"values": [1.0, 3.0, 5.0]}  # still swept by W&B's engine
    assert yaml.safe_load((tmp_path / "s" / "sweep.yaml").read_text()) == spec
    (cmd, env), = called
    assert cmd[1:] == ["agent", "--count", "2", "team/softrl-jax/abc123"]
    assert env["PATH"].split(os.pathsep)[0] == os.path.dirname(sys.executable)
