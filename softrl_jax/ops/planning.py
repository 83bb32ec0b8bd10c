"""Planning with a known reward on ONE tabular MDP, to evaluate a reward that MaxEnt IRL learned
(`softrl_jax.ops.maxent_irl`): the reward-maximising finite-horizon policy by backward induction and
the exact expected return of a policy (the forward pass of `maxent_irl`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from softrl_jax.ops.maxent_irl import Array, check_mdp, forward_pass


def optimal_policy(transitions: Array, reward: Array, horizon: int, terminal: Array | None = None) -> Array:
    """The reward-maximising finite-horizon policy by backward induction, [T, S, A] one-hot (ties go
    to the lowest action index): `Q[t](s, a) = reward(s) + sum_s' P(s'|s, a) V[t+1](s')`,
    `V[T] = reward`, `V[t] = max_a Q[t]`; a terminal state's value is its reward (the path ends)."""
    check_mdp(transitions, reward)
    if horizon < 1:
        raise ValueError(f"horizon={horizon}; must be >= 1")

    def step(v_next, _):
        q = reward[:, None] + jnp.einsum("sap,p->sa", transitions, v_next)
        v = jnp.max(q, axis=-1)
        if terminal is not None:
            v = jnp.where(terminal, reward, v)
        return v, jax.nn.one_hot(jnp.argmax(q, axis=-1), q.shape[-1], dtype=reward.dtype)

    _, policy = jax.lax.scan(step, reward, None, length=horizon, reverse=True)
    return policy


def expected_return(
    transitions: Array, reward: Array, policy: Array, initial: Array, terminal: Array | None = None
) -> Array:
    """E[sum_{t=0..T} reward(s_t)] for a [T, S, A] policy from `initial`, exactly (forward pass; with
    `terminal`, up to and including the goal)."""
    return jnp.sum(forward_pass(transitions, policy, initial, terminal), axis=0) @ reward
