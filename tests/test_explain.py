"""`--explain`: every field's value, layer and cited source; known differences; nothing run or written."""

import subprocess
import sys

import pytest

import jax
import jax.numpy as jnp

from softrl_jax import algos, envs
from softrl_jax.agent import Agent
from softrl_jax.config import ConfigError, LoopConfig, field_meta
from softrl_jax.explain import explain, field_source, provenance


def _row(text: str, name: str) -> list[str]:
    """The table row of field `name`, split into (field, value, layer, source)."""
    line = next(l for l in text.splitlines() if l.split()[:1] == [name])
    parts = line.split(None, 2)
    value, rest = parts[1], parts[2]
    layer = next(lay for lay in sorted(algos.LAYERS, key=len, reverse=True) if rest.startswith(lay))
    return [name, value, layer, rest[len(layer):].strip()]


def test_cli_explain_names_layers_and_sources_and_writes_nothing(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "softrl_jax.train", "--algo=dspg", "--preset=authors",
                           "--env=brax:walker2d", "--actor_lr=1e-4", "--explain"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert list(tmp_path.iterdir()) == []  # nothing written, nothing trained
    # preset per-task beats the paper's per-task N = 5 on Walker2d: the authors' default global_norm 3
    assert _row(out, "clip_norm")[1:3] == ["3", "preset per-task"] and "run_Walker2d.sh" in _row(out, "clip_norm")[3]
    assert _row(out, "buffer_size")[1:3] == ["5000000", "preset per-task"]
    assert _row(out, "num_samples")[1:] == ["100", "preset", "github shiwj16/dspg main.py flag num_samples 100"]
    assert _row(out, "critic_lr")[1:3] == ["0.0005", "default"] and "paper 5e-4" in _row(out, "critic_lr")[3]
    assert _row(out, "actor_lr")[1:] == ["0.0001", "flag", "command line"]
    assert _row(out, "warmup")[1:3] == ["policy", "preset"] and "buffer.size() >= batch_size" in _row(out, "warmup")[3]
    diffs = out.split("Known differences from the sources:")[1]
    assert "--actor_lr=0.0001 (flag) replaces the default value 5e-05 (actor Adam learning rate (paper 5e-5))" in diffs
    assert "Brax's MJX port" in diffs and "5e6 steps" in diffs


def test_per_task_layer_and_paper_clip_norm():
    text = explain("dspg", "paper", {"env": "brax:hopper"})
    assert _row(text, "clip_norm")[1:] == ["1", "per-task", algos.presets("dspg").task_source]
    assert "Sec. 6.1" in _row(text, "clip_norm")[3]
    assert _row(text, "learning_starts")[1:3] == ["100", "preset"]
    assert "enough samples for a minibatch" in _row(text, "learning_starts")[3]


def test_sac_paper_cites_the_dspg_paper_for_the_plain_gaussian_and_v1_for_the_rest():
    text = explain("sac", "paper", {"env": "brax:hopper"})
    assert _row(text, "policy")[1:3] == ["gaussian", "preset"] and "DSPG paper" in _row(text, "policy")[3]
    assert _row(text, "reward_scale")[1:3] == ["5", "preset"] and "SAC v1" in _row(text, "reward_scale")[3]
    assert _row(text, "learning_starts")[1:3] == ["1000", "preset"] and "min_pool_size" in _row(text, "learning_starts")[3]


def test_a_flag_equal_to_the_preset_value_is_not_a_difference():
    text = explain("sac", "v1", {"env": "gymnax:Pendulum-v1", "reward_scale": "5", "seeds": "7"})
    diffs = text.split("Known differences from the sources:")[1]
    assert "--reward_scale" not in diffs and "--seeds" not in diffs
    assert _row(text, "reward_scale")[2] == "flag"
    assert "gymnax's JAX port" in diffs


def test_every_value_a_layer_sets_has_a_citation():
    """No preset, per-task or default value without a source: a new preset field must say where it
    comes from."""
    missing = []
    for algo in algos.ALGOS:
        ps = algos.presets(algo)
        for preset, values in ps.values.items():
            for name in values:
                if not field_source(algo, preset, "preset", name):
                    missing.append(f"{algo} {preset} {name}")
        if ps.task_defaults and not field_source(algo, "", "per-task", ""):
            missing.append(f"{algo} task_source")
        for preset in ps.preset_task_defaults:
            if not field_source(algo, preset, "preset per-task", ""):
                missing.append(f"{algo} {preset} preset_task_sources")
        for cls in (LoopConfig, algos.get(algo).Config):
            missing += [f"{algo} default {n}" for n, f in field_meta(cls).items() if not f.metadata.get("doc")]
        for preset in ps.values:
            assert preset in ps.differences, f"{algo} {preset}: differences"
    assert not missing, missing


def test_provenance_follows_the_layers():
    rc, history = provenance("sql", "appendix", {"env": "brax:ant", "batch_size": "32"})
    assert [layer for layer, _ in history["reward_scale"]] == ["default", "per-task"]  # authors' ant scale 300
    assert rc.algo_cfg.reward_scale == 300.0
    assert [layer for layer, _ in history["batch_size"]] == ["default", "preset", "flag"]
    assert [layer for layer, _ in history["gamma"]] == ["default"]


def test_explain_refuses_what_run_config_refuses():
    with pytest.raises(ConfigError):
        explain("dspg", "paper", {"batch_size": "256"})  # learning_starts 100 < a minibatch of 256
    proc = subprocess.run([sys.executable, "-m", "softrl_jax.train", "--algo=dspg", "--explain=maybe"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "--explain" in proc.stderr


def test_registry_matches_the_modules():
    """Every registered algorithm: its presets load, its first preset is the default, its module
    builds the one Agent protocol, and the maths modules carry no presets."""
    for algo in algos.ALGOS:
        spec, module, ps = algos.spec(algo), algos.get(algo), algos.presets(algo)
        assert callable(module.check) and (spec.loop == "off_policy" or callable(module.check_loop)), algo
        rc = algos.run_config(algo)
        env_spec = envs.make(rc.loop.env).spec
        agent = module.make(rc.algo_cfg, env_spec)  # the one protocol: make(cfg, spec) -> Agent
        assert isinstance(agent, Agent) and isinstance(agent.window, int) and agent.window >= 1, algo
        state = agent.init(jax.random.PRNGKey(0))
        obs = jnp.zeros(env_spec.obs_size)
        action, noise = agent.act(state, obs, jnp.zeros(env_spec.action_size), jax.random.PRNGKey(1))
        assert action.shape == (env_spec.action_size,) and noise.shape == (env_spec.action_size,), algo
        assert agent.act_eval(state, obs).shape == (env_spec.action_size,), algo
        assert algos.default_preset(algo) == next(iter(ps.values)) and ps.values, algo
        for moved in ("PRESETS", "PRESET_SOURCES", "KNOWN_DIFFERENCES", "TASK_DEFAULTS", "BATCHABLE"):
            assert not hasattr(module, moved), f"{algo}: {moved} belongs in softrl_jax/presets or the registry"
