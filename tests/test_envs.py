"""Environment adapters: auto-reset keeps the true final observation; truncation != termination."""

import importlib.util

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softrl_jax import envs


AUTORESETS = ["exact", "pool"]


def _pool(env, autoreset):
    # jitted: run op by op, an MJX reset dispatches hundreds of small programs (25 s for CartpoleBalance)
    return jax.jit(lambda k: envs.make_reset_pool(env, k, 8))(jax.random.PRNGKey(7)) if autoreset == "pool" else None


def _rollout(env, actions_fn, steps, key=jax.random.PRNGKey(0), pool=None):
    def body(state, k):
        act_key, step_key = jax.random.split(k)
        new_state, tr, info = envs.step(env, state, actions_fn(act_key), step_key, pool)
        return new_state, (state, tr, info, new_state)

    def rollout(key):  # the reset inside the one program, as in training
        return jax.lax.scan(body, envs.reset(env, key), jax.random.split(key, steps))[1]

    return jax.jit(rollout)(key)


@pytest.mark.parametrize("autoreset", AUTORESETS)
def test_pendulum_truncates_and_keeps_final_obs(autoreset):
    env = envs.make("gymnax:Pendulum-v1")
    assert env.spec.max_episode_steps == 200 and env.spec.action_size == 1
    pool = _pool(env, autoreset)
    prev, tr, info, new = _rollout(env, lambda k: jax.random.uniform(k, (1,), minval=-1, maxval=1), 450, pool=pool)
    done_idx = np.flatnonzero(np.asarray(info.done))
    np.testing.assert_array_equal(done_idx, [199, 399])
    assert np.asarray(info.truncated)[done_idx].all()
    assert not np.asarray(tr.terminated).any()  # a time limit is never a termination
    i = done_idx[0]
    # the stored next_obs is the true successor of the last step, not the next episode's first obs
    assert not np.allclose(tr.next_obs[i], new.obs[i])
    np.testing.assert_allclose(tr.obs[i + 1], new.obs[i])  # the episode restarted from the reset obs
    np.testing.assert_allclose(tr.next_obs[i - 1], tr.obs[i])  # within an episode, obs chain up
    assert int(new.t[i]) == 0 and float(new.episode_return[i]) == 0.0
    np.testing.assert_allclose(info.episode_return[i], np.sum(tr.reward[: i + 1]), rtol=1e-5)
    if pool is not None:  # the new episodes start from pool states
        for j in done_idx:
            assert np.any(np.all(np.asarray(pool.obs) == np.asarray(new.obs[j]), axis=-1))


def test_pool_restarts_are_diverse():
    """Each restart draws a pool state at random: restarts of one environment differ (Brax's
    AutoResetWrapper would restart every episode from the same state), and cover the pool."""
    env = envs.make("gymnax:Pendulum-v1", episode_length=5)
    pool = _pool(env, "pool")
    _, _, info, new = _rollout(env, lambda k: jnp.zeros(1), 400, pool=pool)
    starts = np.asarray(new.obs)[np.asarray(info.done)]
    assert len(starts) == 80
    index = [int(np.flatnonzero(np.all(np.asarray(pool.obs) == s, axis=-1))[0]) for s in starts]
    assert set(index) == set(range(8))  # all 8 pool states used
    assert np.max(np.bincount(index)) < 25  # none dominates (uniform: 10 each on average)


def test_evaluation_step_never_resets():
    env = envs.make("gymnax:Pendulum-v1", episode_length=5)
    state = envs.reset(env, jax.random.PRNGKey(0))
    for t in range(7):
        new, tr, info = envs.step(env, state, jnp.zeros(1), jax.random.PRNGKey(t), autoreset=False)
        np.testing.assert_array_equal(new.obs, tr.next_obs)  # the episode goes on past its end
        assert bool(info.done) == (t >= 4) and int(new.t) == t + 1
        state = new


def test_pendulum_action_rescaling():
    """Normalised action 1.0 is the maximum torque 2.0: the stored gymnax state shows it."""
    env = envs.make("gymnax:Pendulum-v1")
    core, _ = env.reset(jax.random.PRNGKey(0))
    core, *_ = env.step(core, jnp.array([1.0]), jax.random.PRNGKey(1))
    np.testing.assert_allclose(core.last_u, 2.0)
    core, *_ = env.step(core, jnp.array([-5.0]), jax.random.PRNGKey(1))
    np.testing.assert_allclose(core.last_u, -2.0)  # clipped to the bound


def test_episode_length_override():
    env = envs.make("gymnax:Pendulum-v1", episode_length=50)
    _, _, info, _ = _rollout(env, lambda k: jnp.zeros(1), 120)
    np.testing.assert_array_equal(np.flatnonzero(np.asarray(info.done)), [49, 99])


@pytest.mark.parametrize("autoreset", AUTORESETS)
def test_brax_termination_does_not_bootstrap(autoreset):
    """Inverted pendulum falls under a constant push: terminated, not truncated; obs is the fall."""
    env = envs.make("brax:inverted_pendulum:spring")
    prev, tr, info, new = _rollout(env, lambda k: jnp.ones(env.spec.action_size), 300, pool=_pool(env, autoreset))
    done_idx = np.flatnonzero(np.asarray(info.done))
    assert len(done_idx) >= 1 and done_idx[0] < 1000
    i = done_idx[0]
    assert float(tr.terminated[i]) == 1.0 and not bool(info.truncated[i])
    assert not np.allclose(tr.next_obs[i], new.obs[i])
    assert int(new.t[i]) == 0


@pytest.mark.parametrize("name", ["brax:hoper", "gymnax:MountainCar-v0", "brax:hopper:physx", "mujoco:hopper",
                                  "playground:Cartpole", "playground:CheetahRun:mjx"])
def test_unknown_env_names(name):
    with pytest.raises(ValueError, match="valid choices: .*playground:CheetahRun.*gymnax:Pendulum-v1"):
        envs.make(name)


# ------------------------------------------------------------------------------- MuJoCo Playground


@pytest.fixture(scope="module")
def cartpole():
    return envs.make("playground:CartpoleBalance", episode_length=5)


# pool is the default (make test); exact costs another 17 s of MJX compilation (make test-slow)
@pytest.mark.parametrize("autoreset", ["pool", pytest.param("exact", marks=pytest.mark.slow)])
def test_playground_truncation_keeps_true_final_obs(cartpole, autoreset):
    """At the time limit the stored transition holds the TRUE final observation, the one Playground's
    own step returns (its training wrapper overwrites it with the reset observation,
    mujoco_playground#305), with terminated = 0; the environment restarts from a reset state."""
    from mujoco_playground import registry

    raw = registry.load("CartpoleBalance", config_overrides={"impl": "jax"})
    env = cartpole
    pool = _pool(env, autoreset)
    push = lambda k: jax.random.uniform(k, (1,), minval=-1, maxval=1)  # noqa: E731
    prev, tr, info, new = _rollout(env, push, 12, pool=pool)
    done_idx = np.flatnonzero(np.asarray(info.done))
    np.testing.assert_array_equal(done_idx, [4, 9])
    assert np.asarray(info.truncated)[done_idx].all()
    np.testing.assert_array_equal(np.asarray(tr.terminated), 0.0)  # a time limit is never a termination
    raw_step = jax.jit(raw.step)  # one program for both checks (each `raw.step` is a new bound method)
    for i in done_idx:
        core_i = jax.tree.map(lambda x: np.asarray(x)[i], prev.core)  # numpy: no program per leaf
        truth = raw_step(core_i, tr.action[i])  # Playground's own step from the same state
        np.testing.assert_allclose(tr.next_obs[i], truth.obs, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(tr.reward[i], truth.reward, rtol=1e-5)
        assert not np.allclose(tr.next_obs[i], new.obs[i])  # not the next episode's first observation
        np.testing.assert_allclose(tr.obs[i + 1], new.obs[i])  # which is where the next step starts
        assert int(new.t[i]) == 0
    np.testing.assert_allclose(tr.next_obs[2], tr.obs[3])  # within an episode, observations chain up


def test_playground_specs_come_from_the_task_config():
    """Sizes from the task, the time limit from its config (1000 control steps, action repeat 1)."""
    for name, obs, act in [("CheetahRun", 17, 6), ("WalkerRun", 24, 6), ("HumanoidWalk", 67, 21)]:
        spec = envs.make(f"playground:{name}").spec
        assert spec == envs.EnvSpec(f"playground:{name}", obs, act, 1000)
    assert "playground:CartpoleBalance" in envs.env_choices()


@pytest.mark.slow
def test_playground_locomotion_loads_offline_and_keeps_the_true_final_obs(tmp_path, monkeypatch):
    """Go1 from the Menagerie robots of the `locomotion` extra (no git clone), and at its time limit the
    stored transition holds Playground's own final observation (the `state` entry), terminated = 0."""
    from softrl_jax.envs import backends

    if not any(importlib.util.find_spec(p) for p in backends.MENAGERIE_PACKAGES):
        pytest.skip("needs pip install -e '.[locomotion]'")
    from mujoco_playground import registry
    from mujoco_playground._src import mjx_env

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(mjx_env, "MENAGERIE_PATH", tmp_path / "no-clone" / "mujoco_menagerie")
    env = envs.make("playground:Go1JoystickFlatTerrain", episode_length=3)
    assert mjx_env.MENAGERIE_PATH == tmp_path / "softrl-jax" / "mujoco_menagerie"  # the packages' robots
    assert (mjx_env.MENAGERIE_PATH / "unitree_go1").is_symlink()
    assert env.spec.action_size == 12
    raw = registry.load("Go1JoystickFlatTerrain", config_overrides={"impl": "jax"})
    prev, tr, info, new = _rollout(env, lambda k: jax.random.uniform(k, (12,), minval=-0.2, maxval=0.2), 7)
    done_idx = np.flatnonzero(np.asarray(info.done))
    np.testing.assert_array_equal(done_idx, [2, 5])
    assert np.asarray(info.truncated)[done_idx].all() and not np.asarray(tr.terminated).any()
    i = int(done_idx[0])
    truth = jax.jit(raw.step)(jax.tree.map(lambda x: np.asarray(x)[i], prev.core), tr.action[i])
    np.testing.assert_allclose(tr.next_obs[i], truth.obs["state"], rtol=1e-5, atol=1e-6)
    assert not np.allclose(tr.next_obs[i], new.obs[i])  # not the next episode's first observation


def test_gymnax_starts_without_seaborn_and_seaborn_still_works(tmp_path):
    """gymnax's Pong imports seaborn (with pandas and scipy.stats) and five tasks import pyplot for their
    renderers: making a gymnax task leaves both unimported, a train run's curve is drawn without
    pyplot, and anything that then uses them, through gymnax's modules or its own import, gets the
    real modules."""
    import subprocess
    import sys

    code = ("import sys; from softrl_jax import envs; envs.make('gymnax:Pendulum-v1'); "
            "loaded = sorted(m for m in sys.modules if m.startswith('seaborn.')); assert not loaded, loaded; "
            "from gymnax.environments.misc import pong; import seaborn; "
            "assert pong.sns.color_palette('cubehelix', 3) == seaborn.color_palette('cubehelix', 3); "
            "assert type(sys.modules['seaborn']).__name__ == 'module' and 'seaborn.palettes' in sys.modules; "
            "print(len(seaborn.color_palette('cubehelix', 3)), seaborn.__version__)")
    pyplot = ("import sys; from softrl_jax import envs; from softrl_jax.io import plots; "
              "envs.make('gymnax:Pendulum-v1'); "
              "plots.plot_curves({'a': [{'seed': 0, 'step': 1, 'eval_return': 2.0}]}, sys.argv[1], 't'); "
              "assert 'matplotlib.pyplot' not in sys.modules; "
              "from gymnax.environments.bsuite import catch; import matplotlib.pyplot as plt; "
              "assert type(plt).__name__ == 'module' and catch.plt.subplots is plt.subplots; "
              "print(plt.imread(sys.argv[1]).shape)")
    p = subprocess.run([sys.executable, "-c", pyplot, str(tmp_path / "curve.png")], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.split()[0] == "(480,"  # 6.4 x 4.0 inches at 120 dpi
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.split()[0] == "3"
