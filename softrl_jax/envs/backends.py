"""Backend adapters: Brax (any physics backend) and gymnax continuous-control tasks."""

from __future__ import annotations

import jax.numpy as jnp

from softrl_jax.envs.core import Env, EnvSpec

BRAX_BACKENDS = ("mjx", "spring", "positional", "generalized")
BRAX_EPISODE_LENGTH = 1000  # Brax / Gym MuJoCo time limit
GYMNAX_TASKS = ("Pendulum-v1", "MountainCarContinuous-v0")


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


def make_gymnax(task: str, episode_length: int | None) -> Env:
    import gymnax

    env, params = gymnax.make(task)
    if episode_length is not None:
        params = params.replace(max_steps_in_episode=episode_length)
    space = env.action_space(params)
    low, high = jnp.asarray(space.low, jnp.float32), jnp.asarray(space.high, jnp.float32)
    action_size = int(space.shape[0]) if space.shape else 1
    obs_size = int(env.observation_space(params).shape[0])
    spec = EnvSpec(f"gymnax:{task}", obs_size, action_size, int(params.max_steps_in_episode))

    def reset(key):
        obs, state = env.reset_env(key, params)
        return state, obs

    def step(state, action, key):
        scaled = low + 0.5 * (jnp.clip(action, -1.0, 1.0) + 1.0) * (high - low)
        if not space.shape:
            scaled = scaled[0]
        obs, state, reward, done, _ = env.step_env(key, state, scaled, params)
        # gymnax's `done` includes the time limit; our wrapper counts that as truncation.
        terminated = done & (state.time < params.max_steps_in_episode)
        return state, obs, reward, terminated

    return Env(spec, reset, step)


__all__ = ["BRAX_BACKENDS", "GYMNAX_TASKS", "brax_task_names", "make_brax", "make_gymnax"]
