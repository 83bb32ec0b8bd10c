"""Maximum-entropy inverse RL on ONE tabular MDP (Ziebart, Maas, Bagnell & Dey 2008).

Equation and step numbers refer to that paper (the first part of
shared/papers/maxent-irl_soft-q-learning-svgd_pg-equals-soft-q.txt). Every function acts on one MDP
given as dense arrays; callers vmap over seeds, reward weights or demonstration sets.

    transitions: [S, A, S]  P(s'|s, a), rows sum to 1
    reward:      [S]        reward(s) = theta . f_s (the caller forms it from features [S, K])
    initial:     [S]        distribution of the first state s_0
    demo_states: [N, T+1]   int state sequences s_0 ... s_T of N demonstrations
    horizon T:   the number of actions in a path s_0 a_0 s_1 ... a_{T-1} s_T (a static int)

A path's score is the sum of its states' rewards, sum_{t=0..T} reward(s_t) (eq. 2: theta . f_zeta with
f_zeta the sum of the path's state features). For deterministic transitions the distribution over the
paths from a given s_0 is exactly P(path) proportional to exp(score) (eq. 2). For stochastic ones the
backward pass below is Algorithm 1 as written, which is the paper's approximation (eq. 4) and NOT the
exact eq. 3: see `backward_pass`. `backup="causal"` is the maximum causal entropy variant (Ziebart 2010):
the soft Bellman backup Q(s, a) = r(s) + E_{s'}[V(s')] of soft Q-learning, exact for stochastic MDPs.

Everything is computed in log space (logsumexp), so horizons and reward scales for which the naive
Z = sum exp(...) overflows float32 (exp(x) for x > 88) stay finite.

Three variants share these functions:
  * finite horizon (the paper): every path has exactly T actions; `terminal=None`.
  * absorbing goal (the paper's route planning: "the destination ... an absorbing state where no
    additional costs are incurred"): `terminal` [S] bool; a path ends when it enters a terminal state,
    which is counted once; paths not absorbed by then end after T actions.
  * discounted infinite horizon: `soft_value_iteration` + `discounted_state_visitation`.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

Array = chex.Array
Numeric = chex.Numeric

BACKUPS = ("path", "causal")


def check_mdp(transitions: Array, reward: Array) -> None:
    """Raise unless `transitions` is [S, A, S] and `reward` is [S] (chex assertions)."""
    chex.assert_rank([transitions, reward], [3, 1])
    s = reward.shape[0]
    chex.assert_shape(transitions, (s, None, s))


def _check_backup(backup: str) -> None:
    if backup not in BACKUPS:
        raise ValueError(f"backup={backup!r}; valid choices: {', '.join(BACKUPS)}")


def _successor_value(transitions: Array, log_z_next: Array, backup: str) -> Array:
    """[S, A]: log E_{s'}[Z(s')] ("path", Algorithm 1 step 2) or E_{s'}[log Z(s')] ("causal")."""
    if backup == "path":
        log_p = jnp.log(transitions)  # -inf where P(s'|s, a) = 0; logsumexp ignores those terms
        return jax.nn.logsumexp(log_p + log_z_next[None, None, :], axis=-1)
    return jnp.einsum("sap,p->sa", transitions, log_z_next)


def backward_pass(
    transitions: Array,
    reward: Array,
    horizon: int,
    terminal: Array | None = None,
    backup: str = "path",
) -> tuple[Array, Array]:
    """Algorithm 1 steps 1-2 in log space: the action and state partition functions per time step.

    ```
    log Z_s[T]    = reward(s)                                   (step 1; see below)
    log Z_a[t](s) = reward(s) + log sum_s' P(s'|s, a) Z_s[t+1](s')   (step 2)
    log Z_s[t](s) = logsumexp_a log Z_a[t](s)
    ```

    `Z_s[t](s)` sums exp(score) over the paths from s at time t to the end (T - t actions left); for
    deterministic transitions that is exact, for stochastic ones step 2 averages exp(future score)
    over the outcomes, the paper's eq. 4 approximation of eq. 3 (transition randomness assumed to
    have a limited effect on behaviour). Algorithm 1 initialises Z_s = 1; we start from
    exp(reward(s)) so that the states whose rewards enter a path's score are exactly the states whose
    visits the forward pass counts, as eq. 6 needs.

    `backup="causal"` replaces step 2's log E[exp] by E[log] (maximum causal entropy, Ziebart 2010):
    log Z_a = reward(s) + E_{s'}[log Z_s(s')], the soft Bellman backup with log Z = soft value.
    Identical to "path" for deterministic transitions.

    `terminal` [S] bool (absorbing goal): entering a terminal state ends the path, so
    `log Z_s[t](goal) = reward(goal)` at every t (its A "actions" get log Z_a = reward - log A, so the
    local action probabilities stay normalised there); a path not absorbed within T actions ends at T (the
    paper approximates the infinite horizon "using a large fixed time horizon"; with costs, paths
    still running at T carry little mass when T is long enough).

    Args:
      transitions: [S, A, S] P(s'|s, a).
      reward: [S] state rewards.
      horizon: T, the number of actions (static).
      terminal: optional [S] bool mask of absorbing goal states.
      backup: "path" (Algorithm 1) or "causal".

    Returns:
      (log_z_action [T, S, A] for the decision at time t = 0..T-1, log_z_state [T+1, S] for t = 0..T).
    """
    check_mdp(transitions, reward)
    _check_backup(backup)
    if horizon < 1:
        raise ValueError(f"horizon={horizon}; must be >= 1")
    if terminal is not None:
        chex.assert_shape(terminal, reward.shape)

    def step(log_z_next, _):
        log_z_action = reward[:, None] + _successor_value(transitions, log_z_next, backup)
        if terminal is not None:
            # the path ends at a goal: no choice left; uniform "actions" keep Z_s = exp(reward)
            num_actions = log_z_action.shape[-1]
            log_z_action = jnp.where(terminal[:, None], reward[:, None] - jnp.log(num_actions), log_z_action)
        log_z_state = jax.nn.logsumexp(log_z_action, axis=-1)
        return log_z_state, (log_z_action, log_z_state)

    _, (log_z_action, log_z_state) = jax.lax.scan(step, reward, None, length=horizon, reverse=True)
    return log_z_action, jnp.concatenate([log_z_state, reward[None]], axis=0)


def local_action_probabilities(log_z_action: Array, log_z_state: Array) -> Array:
    """Algorithm 1 step 3: P(a|s) = Z_a / Z_s at each time step, [T, S, A].
    (At a terminal state the row is uniform: the path has ended there and the forward pass moves no
    mass out of it.)
    """
    chex.assert_rank([log_z_action, log_z_state], [3, 2])
    return jnp.exp(log_z_action - log_z_state[:-1, :, None])


def forward_pass(
    transitions: Array,
    policy: Array,
    initial: Array,
    terminal: Array | None = None,
) -> Array:
    """Algorithm 1 steps 4-5: the state distribution at each time step under the true dynamics.

    ```
    D[0](s)   = initial(s)                                                  (step 4)
    D[t+1](s') = sum_{s, a} D[t](s) P(a|s)[t] P(s'|s, a)                     (step 5)
    ```

    With `terminal`, the mass that enters a terminal state is counted there once and then leaves.

    Args:
      transitions: [S, A, S]; policy: [T, S, A] local action probabilities; initial: [S].

    Returns:
      [T+1, S]: `D[t](s) = P(s_t = s)`: the mass still moving plus, with `terminal`, the mass that
      enters a goal at step t (counted there once, at that step only).
    """
    chex.assert_rank([transitions, policy, initial], [3, 3, 1])
    chex.assert_shape(policy, (None, *transitions.shape[:2]))
    chex.assert_shape(initial, transitions.shape[:1])

    initial = initial.astype(jnp.result_type(transitions, policy, initial))

    def step(d, pi_t):
        moving = d if terminal is None else jnp.where(terminal, 0.0, d)
        d_next = jnp.einsum("s,sa,sap->p", moving, pi_t, transitions)
        return d_next, d_next

    _, d = jax.lax.scan(step, initial, policy)
    return jnp.concatenate([initial[None], d], axis=0)


def maxent_policy(
    transitions: Array,
    reward: Array,
    horizon: int,
    terminal: Array | None = None,
    backup: str = "path",
) -> Array:
    """Algorithm 1 steps 1-3: the maximum-entropy policy of `reward`, [T, S, A] local action
    probabilities per time step (see `backward_pass` for the arguments)."""
    return local_action_probabilities(*backward_pass(transitions, reward, horizon, terminal, backup))


def expected_state_visitation(
    transitions: Array,
    reward: Array,
    initial: Array,
    horizon: int,
    terminal: Array | None = None,
    backup: str = "path",
) -> Array:
    """Algorithm 1 (steps 1-6): expected state visitation frequencies D_s = sum_{t=0..T} P(s_t = s).

    For paths s_0 a_0 ... a_{T-1} s_T with s_0 ~ `initial`: with deterministic transitions the paths
    from each s_0 have probability proportional to exp(sum_{t=0..T} reward(s_t)) (eq. 2, exact) and
    the result sums to T + 1. With stochastic transitions it is Algorithm 1 as written: local action
    probabilities from the eq. 4 backward pass, then the forward pass under the true dynamics, the
    paper's approximation of the eq. 3 path distribution. With `terminal` it counts each path's
    states up to and including the goal it is absorbed in.

    Args:
      transitions: [S, A, S] P(s'|s, a); reward: [S]; initial: [S]; horizon: T (static int).
      terminal: optional [S] bool absorbing goals; backup: "path" or "causal" (see `backward_pass`).

    Returns:
      [S] expected visit counts.
    """
    chex.assert_rank(initial, 1)
    policy = maxent_policy(transitions, reward, horizon, terminal, backup)
    return jnp.sum(forward_pass(transitions, policy, initial, terminal), axis=0)


def _counted(demo_states: Array, terminal: Array | None) -> Array:
    """[N, T+1] 1.0 where a demonstration's state counts: all of them, or up to its first goal."""
    if terminal is None:
        return jnp.ones(demo_states.shape, jnp.result_type(float))
    at_goal = terminal[demo_states].astype(jnp.result_type(float))
    before = jnp.cumsum(at_goal, axis=1) - at_goal  # goals strictly before t
    return (before == 0).astype(jnp.result_type(float))


def _demo_weights(demo_states: Array, demo_weights: Array | None) -> Array:
    """[N] weights normalised to sum to one (they must not all be zero)."""
    n = demo_states.shape[0]
    w = jnp.ones((n,), jnp.result_type(float)) if demo_weights is None else demo_weights
    chex.assert_shape(w, (n,))
    return w / jnp.sum(w)


def state_visit_counts(
    demo_states: Array,
    num_states: int,
    terminal: Array | None = None,
    demo_weights: Array | None = None,
    discount: Numeric = 1.0,
) -> Array:
    """[S] the demonstrations' mean (weighted) visit count of each state, sum_t discount^t 1[s_t = s]
    over each path's counted states (up to its first goal with `terminal`). Weights: [N], e.g. a 0/1
    mask selecting a subset."""
    chex.assert_rank(demo_states, 2)
    w = _demo_weights(demo_states, demo_weights)
    steps = demo_states.shape[1]
    scale = _counted(demo_states, terminal) * discount ** jnp.arange(steps, dtype=jnp.result_type(float))
    counts = jnp.zeros((num_states,), jnp.result_type(float))
    return counts.at[demo_states.reshape(-1)].add((w[:, None] * scale).reshape(-1))


def start_distribution(demo_states: Array, num_states: int, demo_weights: Array | None = None) -> Array:
    """[S] empirical distribution of the demonstrations' first states (weights: [N])."""
    return state_visit_counts(demo_states[:, :1], num_states, None, demo_weights)


def feature_expectations(
    features: Array,
    demo_states: Array,
    terminal: Array | None = None,
    demo_weights: Array | None = None,
    discount: Numeric = 1.0,
) -> Array:
    """f~ = (1/m) sum_i f_zeta_i, the empirical feature counts (eq. 1's right side), [K].

    f_zeta = sum_t discount^t f_{s_t} over the path's counted states (up to its first goal with
    `terminal`); `discount` 1 is the paper, < 1 the discounted variant.
    """
    chex.assert_rank(features, 2)
    return state_visit_counts(demo_states, features.shape[0], terminal, demo_weights, discount) @ features


def log_likelihood(
    transitions: Array,
    reward: Array,
    demo_states: Array,
    terminal: Array | None = None,
    backup: str = "path",
    demo_weights: Array | None = None,
) -> Array:
    """L(theta) / m: the mean log-probability of the demonstrated paths given their first states,

    ```
    (1/m) sum_i [ sum_t reward(s_t^i) - log Z_s[0](s_0^i) ]
    ```

    For deterministic transitions this is exactly log P(zeta | theta, s_0) of eq. 2 (convex in theta).
    For stochastic ones with `backup="path"` it is eq. 4's log-likelihood without the term
    sum_t log P(s_{t+1}|s_t, a_t), which does not depend on theta; with "causal" it is the maximum
    causal entropy dual, whose gradient is exactly `likelihood_gradient`. The horizon is
    demo_states.shape[1] - 1.

    Returns:
      scalar.
    """
    check_mdp(transitions, reward)
    chex.assert_rank(demo_states, 2)
    _, log_z_state = backward_pass(transitions, reward, demo_states.shape[1] - 1, terminal, backup)
    return _log_likelihood(reward, log_z_state, demo_states, terminal, demo_weights)


def _log_likelihood(reward, log_z_state, demo_states, terminal, demo_weights) -> Array:
    """sum_i w_i [score_i - log Z_s[0](s_0^i)] = counts . reward - starts . log Z_s[0]."""
    s = reward.shape[0]
    counts = state_visit_counts(demo_states, s, terminal, demo_weights)
    return counts @ reward - start_distribution(demo_states, s, demo_weights) @ log_z_state[0]


def likelihood_gradient(
    transitions: Array,
    features: Array,
    theta: Array,
    demo_states: Array,
    terminal: Array | None = None,
    backup: str = "path",
    demo_weights: Array | None = None,
) -> tuple[Array, Array]:
    """Eq. 6: grad L(theta) = f~ - sum_s D_s f_s, with D from Algorithm 1 started at the
    demonstrations' empirical start distribution (the likelihood conditions on s_0).

    Exactly the gradient of `log_likelihood` for deterministic transitions and for
    `backup="causal"`; for stochastic transitions with "path" it is the paper's approximation (D from
    the forward pass under the true dynamics, not under eq. 4's path distribution).

    Args:
      features: [S, K]; theta: [K] reward weights, reward = features @ theta.

    Returns:
      (gradient [K], D [S]).
    """
    _, grad, d = log_likelihood_and_gradient(transitions, features, theta, demo_states, terminal, backup,
                                             demo_weights)
    return grad, d


def log_likelihood_and_gradient(
    transitions: Array,
    features: Array,
    theta: Array,
    demo_states: Array,
    terminal: Array | None = None,
    backup: str = "path",
    demo_weights: Array | None = None,
) -> tuple[Array, Array, Array]:
    """`log_likelihood` and `likelihood_gradient` from ONE backward pass: (L [], gradient [K], D [S])."""
    chex.assert_rank([features, theta, demo_states], [2, 1, 2])
    reward = features @ theta
    check_mdp(transitions, reward)
    log_z_action, log_z_state = backward_pass(transitions, reward, demo_states.shape[1] - 1, terminal, backup)
    policy = local_action_probabilities(log_z_action, log_z_state)
    initial = start_distribution(demo_states, features.shape[0], demo_weights)
    d = jnp.sum(forward_pass(transitions, policy, initial, terminal), axis=0)
    f_demo = feature_expectations(features, demo_states, terminal, demo_weights)
    ll = _log_likelihood(reward, log_z_state, demo_states, terminal, demo_weights)
    return ll, f_demo - d @ features, d


# ---------------------------------------------------------------------------------------------
# Discounted infinite horizon (maximum causal entropy; Ziebart 2010, Bloem & Bambos 2014).


def soft_value_iteration(
    transitions: Array, reward: Array, discount: Numeric, iterations: int
) -> tuple[Array, Array]:
    """Soft value iteration, the discounted soft Bellman equation (soft Q-learning, Haarnoja et al.
    2017 eq. 5 with alpha = 1):

        Q(s, a) = reward(s) + discount * sum_s' P(s'|s, a) V(s'),   V(s) = logsumexp_a Q(s, a)

    from V = 0 for `iterations` sweeps (a contraction: the error shrinks by `discount` per sweep).
    The soft-optimal policy is exp(Q - V).

    Returns:
      (q [S, A], v [S]).
    """
    check_mdp(transitions, reward)

    def sweep(v, _):
        q = reward[:, None] + discount * jnp.einsum("sap,p->sa", transitions, v)
        return jax.nn.logsumexp(q, axis=-1), None

    v, _ = jax.lax.scan(sweep, jnp.zeros_like(reward), None, length=iterations)
    q = reward[:, None] + discount * jnp.einsum("sap,p->sa", transitions, v)
    return q, jax.nn.logsumexp(q, axis=-1)


def discounted_state_visitation(transitions: Array, policy: Array, initial: Array, discount: Numeric) -> Array:
    """D_s = sum_{t>=0} discount^t P(s_t = s) under a stationary policy [S, A], exactly:
    D = (I - discount P_pi^T)^{-1} initial, with P_pi(s, s') = sum_a pi(a|s) P(s'|s, a). Sums to
    1 / (1 - discount)."""
    chex.assert_rank([transitions, policy, initial], [3, 2, 1])
    p_pi = jnp.einsum("sa,sap->sp", policy, transitions)
    eye = jnp.eye(initial.shape[0], dtype=p_pi.dtype)
    return jnp.linalg.solve(eye - discount * p_pi.T, initial)


def discounted_objective(
    transitions: Array,
    reward: Array,
    demo_states: Array,
    discount: Numeric,
    iterations: int,
    demo_weights: Array | None = None,
) -> Array:
    """The discounted maximum causal entropy dual, (1/m) sum_i [sum_t discount^t reward(s_t^i) - V(s_0^i)]
    with V from `soft_value_iteration`. Its gradient in theta (reward = features @ theta) is
    f~_discount - sum_s D_s f_s with D = `discounted_state_visitation` of the soft-optimal policy
    from the demonstrations' start distribution (`discounted_gradient`)."""
    chex.assert_rank(demo_states, 2)
    _, v = soft_value_iteration(transitions, reward, discount, iterations)
    s = reward.shape[0]
    returns = state_visit_counts(demo_states, s, None, demo_weights, discount) @ reward
    return returns - start_distribution(demo_states, s, demo_weights) @ v


def discounted_gradient(
    transitions: Array,
    features: Array,
    theta: Array,
    demo_states: Array,
    discount: Numeric,
    iterations: int,
    demo_weights: Array | None = None,
) -> tuple[Array, Array]:
    """Eq. 6 for the discounted variant: f~_discount - sum_s D_s f_s. Returns (gradient [K], D [S])."""
    chex.assert_rank([features, theta, demo_states], [2, 1, 2])
    q, v = soft_value_iteration(transitions, features @ theta, discount, iterations)
    initial = start_distribution(demo_states, features.shape[0], demo_weights)
    d = discounted_state_visitation(transitions, jnp.exp(q - v[:, None]), initial, discount)
    f_demo = feature_expectations(features, demo_states, None, demo_weights, discount)
    return f_demo - d @ features, d
