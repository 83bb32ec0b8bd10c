"""examples/td3.py, an algorithm written against the protocol (softrl_jax/agent.py) and registered with
softrl_jax.algos.register: its maths (the clipped double-Q target by hand, the delayed actor), the registry
and layered configuration it joins, and its command line as a real process."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softrl_jax import algos, envs
from softrl_jax.agent import Agent
from softrl_jax.config import ConfigError
from softrl_jax.envs import Transition
from softrl_jax.explain import explain

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "td3.py"


def _load():
    spec = importlib.util.spec_from_file_location("td3_example", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # the registry imports it by this name
    spec.loader.exec_module(module)
    return module


td3 = _load()


@pytest.fixture(autouse=True, scope="module")
def registered():
    algos.register(td3.SPEC)
    yield
    algos.unregister("td3")  # other test modules in this process see the built-in algorithms only


def _batch(b=4, obs=3, act=1, seed=0):
    k = jax.random.split(jax.random.PRNGKey(seed), 4)
    return Transition(obs=jax.random.normal(k[0], (b, obs)), action=jnp.tanh(jax.random.normal(k[1], (b, act))),
                      reward=jax.random.normal(k[2], (b,)), next_obs=jax.random.normal(k[3], (b, obs)),
                      terminated=jnp.array([0.0, 1.0, 0.0, 1.0][:b]))


def test_registered_like_a_built_in():
    rc = algos.run_config("td3", "quick", {"env": "gymnax:Pendulum-v1", "policy_delay": "3"})
    assert rc.algo_cfg.policy_delay == 3 and rc.algo_cfg.hidden == (64, 64) and rc.loop.total_steps == 30_000
    text = explain("td3", "quick", {"env": "gymnax:Pendulum-v1"})
    assert "TD3 Sec. 5.2: d = 2" in text and "test_example_algorithm.py" in text
    with pytest.raises(ConfigError, match="registered already"):
        algos.register(td3.SPEC)
    with pytest.raises(ConfigError, match="--target_clip=0 with --target_sigma=0.2"):
        algos.run_config("td3", "quick", {"target_clip": "0"})


def test_clipped_double_q_target_by_hand():
    """target_sigma = 0: y = r + gamma (1 - terminated) min(Q'_1, Q'_2)(s', mu'(s')), each network applied
    on its own."""
    cfg = td3.Config(hidden=(8, 8), target_sigma=0.0)
    state = td3.init(cfg, jax.random.PRNGKey(1), 3, 1)
    state = state._replace(target_critic=jax.tree.map(lambda x: x * 1.5, state.target_critic))  # != critic
    batch = _batch()
    actor_net, q_net = td3._nets(cfg, 1)
    a_next = actor_net.apply(state.target_actor, batch.next_obs)
    q = [q_net.apply(jax.tree.map(lambda x: x[i], state.target_critic), batch.next_obs, a_next) for i in (0, 1)]
    hand = batch.reward + 0.99 * (1 - batch.terminated) * np.minimum(q[0], q[1])
    np.testing.assert_allclose(td3.target(cfg, state, batch, jax.random.PRNGKey(2)), hand, rtol=1e-6, atol=1e-6)
    assert not np.allclose(q[0], q[1])  # the min picks between two different critics


def test_actor_and_targets_move_every_policy_delay_updates():
    cfg = td3.Config(hidden=(8, 8), policy_delay=2)
    agent = td3.make(cfg, envs.EnvSpec("x", 3, 1, 10))
    assert isinstance(agent, Agent) and agent.window == 1
    s0 = agent.init(jax.random.PRNGKey(0))
    s1, m1 = agent.update(s0, _batch(), jax.random.PRNGKey(1))
    s2, _ = agent.update(s1, _batch(seed=1), jax.random.PRNGKey(2))
    same = lambda a, b: all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))  # noqa: E731
    assert same(s1.actor, s0.actor) and same(s1.target_actor, s0.target_actor)  # update 1 of 2: critics only
    assert not same(s1.critic, s0.critic) and same(s1.target_critic, s0.target_critic)
    assert not same(s2.actor, s1.actor) and not same(s2.target_critic, s1.target_critic)  # update 2: all move
    assert all(np.isfinite(float(v)) for v in m1.values())


@pytest.mark.system
def test_the_example_trains_as_a_command(tmp_path):
    out = tmp_path / "td3"
    p = subprocess.run([sys.executable, str(SCRIPT), "--env=gymnax:Pendulum-v1", "--seeds=2", "--total_steps=2000",
                        "--eval_every=1000", "--progress=false", f"--out={out}"], cwd=ROOT, capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert sorted({r["seed"] for r in rows}) == [0, 1] and max(r["step"] for r in rows) == 2000
    assert json.loads((out / "config.json").read_text())["algo"] == "td3"
    bad = subprocess.run([sys.executable, str(SCRIPT), "--policy_delay=0", f"--out={tmp_path / 'bad'}"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--policy_delay=0 is out of range" in bad.stderr
