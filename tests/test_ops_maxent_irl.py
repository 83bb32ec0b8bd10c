"""softrl_jax.ops.maxent_irl against brute-force enumeration of every path of tiny MDPs in numpy.

Reference values never come from the module: paths s_0 a_0 s_1 ... are enumerated one by one, the
partition functions are the naive Z = sum exp(...) recursion (Ziebart et al. 2008, Algorithm 1
step 2, no logs), and gradients are central finite differences in float64 (`jax.enable_x64(True)`,
a context manager, so the other test files keep float32).
"""

import itertools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softrl_jax import ops
from softrl_jax.ops import maxent_irl as irl
from softrl_jax.ops import planning

# ---------------------------------------------------------------------------------------------
# numpy references


def _mdp(seed, num_states, num_actions, deterministic):
    """[S, A, S] transitions: one-hot rows, or random rows with some exact zeros (log P = -inf)."""
    rng = np.random.default_rng(seed)
    if deterministic:
        return np.eye(num_states)[rng.integers(num_states, size=(num_states, num_actions))]
    keep = rng.random((num_states, num_actions, num_states)) < 0.6
    keep[..., rng.integers(num_states)] = True
    p = rng.dirichlet(np.ones(num_states), size=(num_states, num_actions)) * keep
    return p / p.sum(-1, keepdims=True)


def _paths(p, s0, horizon, terminal=None):
    """Every path from s0 as (states, actions, prod_t P(s_{t+1}|s_t, a_t)); a path ends after
    `horizon` actions or when it enters a terminal state (then it is shorter)."""
    out = []

    def grow(states, actions, prob):
        s = states[-1]
        if len(actions) == horizon or (terminal is not None and terminal[s]):
            out.append((states, actions, prob))
            return
        for a in range(p.shape[1]):
            for nxt in np.flatnonzero(p[s, a]):
                grow(states + (int(nxt),), actions + (a,), prob * p[s, a, nxt])

    grow((int(s0),), (), 1.0)
    return out


def _enumerate(p, initial, horizon, weight, terminal=None, normalise=True):
    """[S] sum_{s0} initial(s0) sum_{paths from s0} w(path) * (visit counts of the path), with
    w = weight(states, actions, prob) normalised over the paths from s0 if `normalise`."""
    d = np.zeros(p.shape[0])
    for s0 in np.flatnonzero(initial):
        paths = _paths(p, s0, horizon, terminal)
        w = np.array([weight(*path) for path in paths])
        if normalise:
            w = w / w.sum()
        else:
            np.testing.assert_allclose(w.sum(), 1.0, rtol=1e-12)  # a proper distribution already
        counts = np.array([np.bincount(states, minlength=p.shape[0]) for states, _, _ in paths])
        d += initial[s0] * (w @ counts)
    return d


def _maxent_weight(reward):
    """Eq. 2 / eq. 4: exp(score) * prod P (prod P = 1 for deterministic transitions)."""
    return lambda states, actions, prob: np.exp(reward[list(states)].sum()) * prob


def _policy_weight(policy):
    """prod_t pi_t(a_t|s_t) P(s_{t+1}|s_t, a_t) for a [T, S, A] policy."""
    return lambda states, actions, prob: prob * np.prod(
        [policy[t, states[t], a] for t, a in enumerate(actions)])


def _naive_z(p, reward, horizon, dtype=np.float64):
    """Algorithm 1 step 2 without logs: Z_s[T] = exp(r), Z_a[t] = exp(r(s)) sum_s' P Z_s[t+1](s'),
    Z_s[t] = sum_a Z_a[t]. Returns (Z_a [T, S, A], Z_s [T+1, S])."""
    p, e_r = p.astype(dtype), np.exp(reward.astype(dtype))
    z_state, z_action = [e_r], []
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(horizon):
            z_a = e_r[:, None] * (p @ z_state[0])
            z_action.insert(0, z_a)
            z_state.insert(0, z_a.sum(-1))
    return np.stack(z_action), np.stack(z_state)


def _causal_policy(p, reward, horizon):
    """[T, S, A] pi_t = exp(Q_t - V_t), Q_t = r(s) + sum_s' P V_{t+1}(s'), V_T = r, V_t = log sum exp Q_t."""
    v, policy = reward, []
    for _ in range(horizon):
        q = reward[:, None] + p @ v
        v = np.log(np.exp(q).sum(-1))
        policy.insert(0, np.exp(q - v[:, None]))
    return np.stack(policy)


def _marginals(p, policy, initial):
    """[T+1, S] P(s_t = s) under a [T, S, A] policy, step by step."""
    d = [initial]
    for pi_t in policy:
        d.append(np.einsum("s,sa,sap->p", d[-1], pi_t, p))
    return np.stack(d)


def _sample_demos(p, horizon, n, seed, terminal=None):
    """[N, T+1] random-action paths from uniform starts; after absorption the row is padded with
    random states (which must be ignored)."""
    rng = np.random.default_rng(seed)
    num_states, num_actions = p.shape[:2]
    demos = rng.integers(num_states, size=(n, horizon + 1))
    for row in demos:
        for t in range(horizon):
            if terminal is not None and terminal[row[t]]:
                break
            row[t + 1] = rng.choice(num_states, p=p[row[t], rng.integers(num_actions)])
    return demos


def _demo_counts(demos, num_states, terminal=None):
    """[N, S] counted visits of each demonstration (up to and including its first goal)."""
    out = np.zeros((len(demos), num_states))
    for i, row in enumerate(demos):
        for s in row:
            out[i, s] += 1
            if terminal is not None and terminal[s]:
                break
    return out


def _central_differences(f, theta, eps=1e-5):
    grad = np.zeros_like(theta)
    for k in range(theta.size):
        step = np.zeros_like(theta)
        step[k] = eps
        grad[k] = (float(f(theta + step)) - float(f(theta - step))) / (2 * eps)
    return grad


# ---------------------------------------------------------------------------------------------
# 1-2. expected state visitation against enumeration


class TestExpectedStateVisitation(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_deterministic_is_eq2_path_distribution(self):
        rng = np.random.default_rng(0)
        p, reward, initial, horizon = _mdp(1, 4, 3, True), rng.normal(size=4), rng.dirichlet(np.ones(4)), 3
        expected = _enumerate(p, initial, horizon, _maxent_weight(reward))
        with jax.enable_x64(True):
            for backup in ("path", "causal"):  # identical for deterministic transitions
                d = self.variant(lambda r, i, b=backup: ops.expected_state_visitation(
                    jnp.asarray(p), r, i, horizon, backup=b))(jnp.asarray(reward), jnp.asarray(initial))
                np.testing.assert_allclose(d, expected, rtol=1e-10, atol=1e-12)
                np.testing.assert_allclose(np.sum(d), horizon + 1, rtol=1e-12)

    @chex.variants(with_jit=True, without_jit=True)
    def test_absorbing_goals_count_once_and_end_the_path(self):
        rng = np.random.default_rng(1)
        p = _mdp(2, 5, 2, True)
        p[0, 1], p[1, 0] = np.eye(5)[3], np.eye(5)[4]  # goals 3 and 4 are reachable
        terminal = np.array([False, False, False, True, True])
        reward, initial, horizon = rng.normal(size=5), rng.dirichlet(np.ones(5)), 4  # some s_0 is a goal
        expected = _enumerate(p, initial, horizon, _maxent_weight(reward), terminal)
        assert np.sum(expected) < horizon + 1 - 0.3  # paths really are absorbed early
        with jax.enable_x64(True):
            d = self.variant(lambda r, i: ops.expected_state_visitation(
                jnp.asarray(p), r, i, horizon, terminal=jnp.asarray(terminal)))(
                    jnp.asarray(reward), jnp.asarray(initial))
        np.testing.assert_allclose(d, expected, rtol=1e-10, atol=1e-12)

    @chex.variants(with_jit=True, without_jit=True)
    def test_stochastic_path_backup_is_algorithm_1(self):
        """pi_t = Z_a / Z_s from the naive eq. 4 recursion, then paths under the true dynamics."""
        rng = np.random.default_rng(2)
        p, reward, initial, horizon = _mdp(3, 3, 2, False), rng.normal(size=3), rng.dirichlet(np.ones(3)), 3
        z_action, z_state = _naive_z(p, reward, horizon)
        policy = z_action / z_state[:-1, :, None]
        expected = _enumerate(p, initial, horizon, _policy_weight(policy), normalise=False)
        with jax.enable_x64(True):
            d = self.variant(lambda r, i: ops.expected_state_visitation(
                jnp.asarray(p), r, i, horizon, backup="path"))(jnp.asarray(reward), jnp.asarray(initial))
        np.testing.assert_allclose(d, expected, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(np.sum(d), horizon + 1, rtol=1e-12)

    @chex.variants(with_jit=True, without_jit=True)
    def test_stochastic_causal_backup(self):
        rng = np.random.default_rng(3)
        p, reward, initial, horizon = _mdp(4, 3, 2, False), rng.normal(size=3), rng.dirichlet(np.ones(3)), 3
        expected = _enumerate(p, initial, horizon, _policy_weight(_causal_policy(p, reward, horizon)),
                              normalise=False)
        z_action, z_state = _naive_z(p, reward, horizon)
        path_d = _enumerate(p, initial, horizon, _policy_weight(z_action / z_state[:-1, :, None]), normalise=False)
        assert np.max(np.abs(expected - path_d)) > 1e-3  # the two backups really differ here
        with jax.enable_x64(True):
            d = self.variant(lambda r, i: ops.expected_state_visitation(
                jnp.asarray(p), r, i, horizon, backup="causal"))(jnp.asarray(reward), jnp.asarray(initial))
        np.testing.assert_allclose(d, expected, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# 3. the likelihood and its gradient


_GRADIENT_CASES = {  # name: (deterministic, terminal, backup, mask)
    "deterministic": (True, None, "path", False),
    "stochastic_causal": (False, None, "causal", False),
    "terminal": (True, np.array([False, False, False, True]), "path", False),
    "stochastic_causal_terminal": (False, np.array([False, False, False, True]), "causal", False),
    "demo_weights_mask": (True, None, "path", True),
}


@pytest.mark.parametrize("case", list(_GRADIENT_CASES))
def test_likelihood_gradient_is_finite_difference_gradient(case):
    deterministic, terminal, backup, mask = _GRADIENT_CASES[case]
    horizon, num_features = 3, 3
    p = _mdp(10, 4, 2, deterministic)
    if terminal is not None:
        p[0, 0], p[1, 1] = np.eye(4)[3], np.eye(4)[3]
    rng = np.random.default_rng(11)
    features, theta = rng.normal(size=(4, num_features)), rng.normal(size=num_features)
    demos = _sample_demos(p, horizon, 13, seed=12, terminal=terminal)
    if terminal is not None:
        assert np.any(terminal[demos[:, :-1]])  # some demonstrations are absorbed before T
    weights = (rng.random(13) < 0.5).astype(float) if mask else None
    with jax.enable_x64(True):
        term = None if terminal is None else jnp.asarray(terminal)
        w = None if weights is None else jnp.asarray(weights)
        ll = jax.jit(lambda th: irl.log_likelihood(
            jnp.asarray(p), jnp.asarray(features) @ th, jnp.asarray(demos), term, backup, w))
        grad, d = irl.likelihood_gradient(jnp.asarray(p), jnp.asarray(features), jnp.asarray(theta),
                                          jnp.asarray(demos), term, backup, w)
        fd = _central_differences(ll, theta)
        if mask:  # the 0/1 weights select exactly that subset
            sub, _ = irl.likelihood_gradient(jnp.asarray(p), jnp.asarray(features), jnp.asarray(theta),
                                             jnp.asarray(demos[weights == 1]))
            np.testing.assert_allclose(grad, sub, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad, fd, atol=1e-7)
    assert np.max(np.abs(fd)) > 1e-2  # a non-trivial gradient
    # f~ = grad + D f: the demos' counted features (up to their first goal), weighted
    f_demo = np.average(_demo_counts(demos, 4, terminal), axis=0, weights=weights) @ features
    np.testing.assert_allclose(np.asarray(grad) + np.asarray(d) @ features, f_demo, rtol=1e-10)
    if terminal is None:
        np.testing.assert_allclose(np.sum(d), horizon + 1, rtol=1e-12)


def test_log_likelihood_with_goals_is_enumerated_eq2():
    """log P(zeta | s_0) = score(zeta) - log Z(s_0) over variable-length paths; padding after the
    goal is ignored."""
    p = _mdp(20, 4, 2, True)
    p[0, 0], p[2, 1] = np.eye(4)[3], np.eye(4)[3]
    terminal = np.array([False, False, False, True])
    reward, horizon = np.random.default_rng(21).normal(size=4), 3
    demos = _sample_demos(p, horizon, 10, seed=22, terminal=terminal)
    assert np.any(terminal[demos[:, :-1]])
    log_z = [np.log(sum(_maxent_weight(reward)(*path) for path in _paths(p, s0, horizon, terminal)))
             for s0 in range(4)]
    expected = np.mean(_demo_counts(demos, 4, terminal) @ reward - np.array(log_z)[demos[:, 0]])
    with jax.enable_x64(True):
        got = irl.log_likelihood(jnp.asarray(p), jnp.asarray(reward), jnp.asarray(demos), jnp.asarray(terminal))
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_path_backup_gradient_is_the_papers_approximation():
    """Stochastic, backup="path": jax.grad of log_likelihood is f~ - E_eq4[f_zeta] (paths weighted
    exp(score) prod P, normalised per start state), while eq. 6 with Algorithm 1's D differs."""
    horizon = 3
    p = _mdp(30, 4, 2, False)
    rng = np.random.default_rng(31)
    features, theta = rng.normal(size=(4, 3)), rng.normal(size=3)
    demos = _sample_demos(p, horizon, 10, seed=32)
    start = np.bincount(demos[:, 0], minlength=4) / len(demos)
    eq4_d = _enumerate(p, start, horizon, _maxent_weight(features @ theta))
    expected = _demo_counts(demos, 4).mean(0) @ features - eq4_d @ features
    with jax.enable_x64(True):
        args = jnp.asarray(p), jnp.asarray(features), jnp.asarray(theta), jnp.asarray(demos)
        exact = jax.grad(lambda th: irl.log_likelihood(args[0], args[1] @ th, args[3]))(args[2])
        approx, _ = irl.likelihood_gradient(*args)
    np.testing.assert_allclose(exact, expected, rtol=1e-10, atol=1e-12)
    assert np.max(np.abs(np.asarray(approx) - np.asarray(exact))) > 1e-2


# ---------------------------------------------------------------------------------------------
# 4. log space


def test_log_z_state_is_log_of_naive_z_float32():
    p, horizon = _mdp(40, 4, 3, False), 5
    reward = np.random.default_rng(41).normal(size=4).astype(np.float32)
    _, z_state = _naive_z(p, reward, horizon, np.float32)
    assert np.all(np.isfinite(z_state))
    log_z_action, log_z_state = irl.backward_pass(jnp.asarray(p, jnp.float32), jnp.asarray(reward), horizon)
    assert log_z_state.dtype == jnp.float32
    np.testing.assert_allclose(log_z_state, np.log(z_state), rtol=1e-5, atol=1e-5)


def test_large_rewards_stay_finite_in_float32():
    """Reward ~10 per state over a path's 13 states: the naive float32 Z overflows (exp(x) > 3.4e38 for
    x > 88), the module's log-space float32 outputs do not and agree with naive float64."""
    horizon = 12
    p = _mdp(42, 4, 3, False)
    rng = np.random.default_rng(43)
    features = np.stack([np.ones(4), rng.random(4)], axis=1)
    theta = np.array([10.0, 1.0])
    reward = features @ theta
    _, z32 = _naive_z(p, reward, horizon, np.float32)
    assert not np.any(np.isfinite(z32[0]))  # inf (nan where a zero P meets inf)
    z_action, z_state = _naive_z(p, reward, horizon, np.float64)
    assert np.all(np.isfinite(z_state))
    demos = _sample_demos(p, horizon, 8, seed=44)
    start = np.bincount(demos[:, 0], minlength=4) / len(demos)
    d64 = _marginals(p, z_action / z_state[:-1, :, None], start).sum(0)
    grad64 = _demo_counts(demos, 4).mean(0) @ features - d64 @ features

    p32 = jnp.asarray(p, jnp.float32)
    _, log_z_state = irl.backward_pass(p32, jnp.asarray(reward, jnp.float32), horizon)
    d = irl.expected_state_visitation(p32, jnp.asarray(reward, jnp.float32), jnp.asarray(start, jnp.float32),
                                      horizon)
    grad, d_grad = irl.likelihood_gradient(p32, jnp.asarray(features, jnp.float32),
                                           jnp.asarray(theta, jnp.float32), jnp.asarray(demos))
    for x in (log_z_state, d, grad, d_grad):
        assert x.dtype == jnp.float32 and np.all(np.isfinite(x))
    np.testing.assert_allclose(log_z_state, np.log(z_state), rtol=1e-5)
    np.testing.assert_allclose(np.sum(d), horizon + 1, rtol=1e-5)
    np.testing.assert_allclose(d, d64, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(d_grad, d64, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(grad, grad64, atol=1e-3)


# ---------------------------------------------------------------------------------------------
# 5. zero gradient at the true weights with infinitely many demonstrations


def test_gradient_vanishes_at_true_weights_with_exact_demo_distribution():
    """Every path of a deterministic MDP as a demonstration, weighted by initial(s_0) P(path|s_0)."""
    p, horizon = _mdp(50, 3, 2, True), 3
    rng = np.random.default_rng(51)
    features, theta_true, initial = rng.normal(size=(3, 2)), rng.normal(size=2), rng.dirichlet(np.ones(3))
    demos, weights = [], []
    for s0 in range(3):
        paths = _paths(p, s0, horizon)
        w = np.array([_maxent_weight(features @ theta_true)(*path) for path in paths])
        demos += [states for states, _, _ in paths]
        weights += list(initial[s0] * w / w.sum())
    with jax.enable_x64(True):
        args = jnp.asarray(p), jnp.asarray(features)
        demos, weights = jnp.asarray(demos), jnp.asarray(weights)
        at_true, _ = irl.likelihood_gradient(*args, jnp.asarray(theta_true), demos, demo_weights=weights)
        elsewhere, _ = irl.likelihood_gradient(*args, jnp.asarray(theta_true + [0.5, -0.5]), demos,
                                               demo_weights=weights)
    np.testing.assert_allclose(at_true, 0.0, atol=1e-12)
    assert np.max(np.abs(elsewhere)) > 1e-2


def _soft_optimal_policy(p, reward, discount):
    """Soft value iteration in numpy until converged; [S, A] exp(Q - V)."""
    v = np.zeros(p.shape[0])
    for _ in range(2000):
        q = reward[:, None] + discount * p @ v
        v_new = np.log(np.exp(q).sum(-1))
        if np.max(np.abs(v_new - v)) < 1e-15:
            break
        v = v_new
    return np.exp(q - v_new[:, None])


def _coupled_rows(marginals):
    """Weighted rows [N, L] whose weighted per-column state frequencies are exactly `marginals`
    [L, S] (quantile coupling: one row per interval between the columns' cumulative breakpoints)."""
    cums = np.cumsum(marginals, axis=1)
    breaks = np.unique(np.clip(np.concatenate([[0.0, 1.0], cums.ravel()]), 0.0, 1.0))
    mids, widths = (breaks[:-1] + breaks[1:]) / 2, np.diff(breaks)
    keep = widths > 0
    rows = np.stack([np.searchsorted(c, mids[keep], side="right") for c in cums], axis=1)
    return np.minimum(rows, marginals.shape[1] - 1), widths[keep]


def test_discounted_gradient_vanishes_at_true_weights():
    """The demos' discounted counts replaced by their exact expectation under the soft-optimal policy
    at theta_true: weighted rows of length L with discount^L ~ 1e-15 reproducing P(s_t = s)."""
    p, discount, length = _mdp(52, 3, 2, False), 0.8, 160
    rng = np.random.default_rng(53)
    features, theta_true, initial = rng.normal(size=(3, 2)), rng.normal(size=2), rng.dirichlet(np.ones(3))
    policy = _soft_optimal_policy(p, features @ theta_true, discount)
    marginals = _marginals(p, np.broadcast_to(policy, (length - 1, *policy.shape)), initial)
    demos, weights = _coupled_rows(marginals)
    np.testing.assert_allclose(np.bincount(demos[:, 5], weights, minlength=3), marginals[5], atol=1e-14)
    with jax.enable_x64(True):
        args = jnp.asarray(p), jnp.asarray(features)
        demos, weights = jnp.asarray(demos), jnp.asarray(weights)
        at_true, d = irl.discounted_gradient(*args, jnp.asarray(theta_true), demos, discount, 300, weights)
        elsewhere, _ = irl.discounted_gradient(*args, jnp.asarray(theta_true + [0.5, -0.5]), demos, discount,
                                               300, weights)
    np.testing.assert_allclose(np.sum(d), 1 / (1 - discount), rtol=1e-12)
    np.testing.assert_allclose(at_true, 0.0, atol=1e-10)
    assert np.max(np.abs(elsewhere)) > 1e-2


# ---------------------------------------------------------------------------------------------
# 6. discounted variant


def test_discounted_state_visitation_is_the_discounted_series():
    p, discount = _mdp(60, 4, 3, False), 0.9
    rng = np.random.default_rng(61)
    policy, initial = rng.dirichlet(np.ones(3), size=4), rng.dirichlet(np.ones(4))
    series = (discount ** np.arange(400)) @ _marginals(p, np.broadcast_to(policy, (399, 4, 3)), initial)
    with jax.enable_x64(True):
        d = ops.discounted_state_visitation(jnp.asarray(p), jnp.asarray(policy), jnp.asarray(initial), discount)
    np.testing.assert_allclose(np.sum(d), 1 / (1 - discount), rtol=1e-12)
    np.testing.assert_allclose(d, series, rtol=1e-12)


def test_soft_value_iteration_solves_soft_bellman():
    p, discount = _mdp(62, 4, 3, False), 0.9
    reward = np.random.default_rng(63).normal(size=4)
    with jax.enable_x64(True):
        q, v = ops.soft_value_iteration(jnp.asarray(p), jnp.asarray(reward), discount, 400)
    q, v = np.asarray(q), np.asarray(v)
    np.testing.assert_allclose(q, reward[:, None] + discount * p @ v, atol=1e-12)
    np.testing.assert_allclose(v, np.log(np.exp(q).sum(-1)), atol=1e-12)
    with jax.enable_x64(True):  # and not after too few sweeps
        q5, v5 = ops.soft_value_iteration(jnp.asarray(p), jnp.asarray(reward), discount, 5)
    assert np.max(np.abs(np.asarray(q5) - reward[:, None] - discount * p @ np.asarray(v5))) > 1e-2


@pytest.mark.parametrize("masked", [False, True])
def test_discounted_gradient_is_finite_difference_gradient(masked):
    p, discount = _mdp(64, 4, 2, False), 0.8
    rng = np.random.default_rng(65)
    features, theta = rng.normal(size=(4, 3)), rng.normal(size=3)
    demos = _sample_demos(p, 9, 12, seed=66)
    weights = (rng.random(12) < 0.5).astype(float) if masked else None
    with jax.enable_x64(True):
        w = None if weights is None else jnp.asarray(weights)
        objective = jax.jit(lambda th: irl.discounted_objective(
            jnp.asarray(p), jnp.asarray(features) @ th, jnp.asarray(demos), discount, 200, w))
        grad, _ = irl.discounted_gradient(jnp.asarray(p), jnp.asarray(features), jnp.asarray(theta),
                                          jnp.asarray(demos), discount, 200, w)
        fd = _central_differences(objective, theta)
    np.testing.assert_allclose(grad, fd, atol=1e-7)
    assert np.max(np.abs(fd)) > 1e-2


# ---------------------------------------------------------------------------------------------
# 7. planning helpers


def test_optimal_policy_beats_every_deterministic_policy():
    p, horizon = _mdp(70, 3, 2, False), 3
    rng = np.random.default_rng(71)
    reward, initial = rng.normal(size=3), rng.dirichlet(np.ones(3))
    best = -np.inf
    for choice in itertools.product(range(2), repeat=3 * horizon):  # all 2^9 time-varying policies
        policy = np.eye(2)[np.reshape(choice, (horizon, 3))]
        best = max(best, _marginals(p, policy, initial).sum(0) @ reward)
    with jax.enable_x64(True):
        args = jnp.asarray(p), jnp.asarray(reward)
        policy = planning.optimal_policy(*args, horizon)
        value = planning.expected_return(*args, policy, jnp.asarray(initial))
        uniform = planning.expected_return(*args, jnp.full((horizon, 3, 2), 0.5), jnp.asarray(initial))
    assert policy.shape == (horizon, 3, 2)
    np.testing.assert_array_equal(np.sort(np.asarray(policy), axis=-1), np.broadcast_to([0.0, 1.0], policy.shape))
    np.testing.assert_allclose(value, best, rtol=1e-12)
    expected_uniform = _enumerate(p, initial, horizon, _policy_weight(np.full((horizon, 3, 2), 0.5)),
                                  normalise=False) @ reward
    np.testing.assert_allclose(uniform, expected_uniform, rtol=1e-12)
    assert uniform < value - 1e-3


def test_optimal_policy_ties_go_to_lowest_action():
    p = _mdp(72, 3, 3, False)
    p[:, 2] = p[:, 0]  # actions 0 and 2 identical: equal Q
    p[:, 1] = np.eye(3)[[0, 0, 0]]
    reward = np.array([-5.0, 1.0, 2.0])  # action 1 (to state 0) is the worst
    policy = np.asarray(planning.optimal_policy(jnp.asarray(p, jnp.float32), jnp.asarray(reward, jnp.float32), 2))
    np.testing.assert_array_equal(policy, np.broadcast_to([1.0, 0.0, 0.0], (2, 3, 3)))


# ---------------------------------------------------------------------------------------------
# 8. shapes and contracts


class TestContracts(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_backward_pass_shapes_and_values(self):
        p, horizon = _mdp(80, 4, 3, False), 4
        reward = np.random.default_rng(81).normal(size=4)
        z_action, z_state = _naive_z(p, reward, horizon)
        backward = self.variant(lambda r: irl.backward_pass(jnp.asarray(p, jnp.float32), r, horizon))
        log_z_action, log_z_state = backward(jnp.asarray(reward, jnp.float32))
        chex.assert_shape([log_z_action, log_z_state], [(horizon, 4, 3), (horizon + 1, 4)])
        np.testing.assert_allclose(log_z_action, np.log(z_action), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(log_z_state, np.log(z_state), rtol=1e-5, atol=1e-5)

    @chex.variants(with_jit=True, without_jit=True)
    def test_vmap_over_rewards_equals_loop(self):
        p, horizon = jnp.asarray(_mdp(82, 4, 2, False), jnp.float32), 3
        rewards = jnp.asarray(np.random.default_rng(83).normal(size=(5, 4)), jnp.float32)
        initial = jnp.full((4,), 0.25)
        visit = lambda r: ops.expected_state_visitation(p, r, initial, horizon)  # noqa: E731
        batched = self.variant(jax.vmap(visit))(rewards)
        chex.assert_shape(batched, (5, 4))
        np.testing.assert_allclose(batched, np.stack([visit(r) for r in rewards]), rtol=1e-5, atol=1e-6)


def test_public_entry_point_shape():
    assert ops.expected_state_visitation is irl.expected_state_visitation
    p = jnp.asarray(_mdp(84, 5, 2, True), jnp.float32)
    d = ops.expected_state_visitation(p, jnp.zeros(5), jnp.full((5,), 0.2), 2)
    chex.assert_shape(d, (5,))
    np.testing.assert_allclose(jnp.sum(d), 3.0, rtol=1e-6)


def test_bad_backup_and_horizon_rejected():
    p, reward, initial = jnp.full((2, 2, 2), 0.5), jnp.zeros(2), jnp.full((2,), 0.5)
    with pytest.raises(ValueError, match="path, causal"):
        irl.backward_pass(p, reward, 3, backup="soft")
    with pytest.raises(ValueError, match="path, causal"):
        ops.expected_state_visitation(p, reward, initial, 3, backup="exact")
    for horizon in (0, -1):
        with pytest.raises(ValueError, match="horizon"):
            ops.expected_state_visitation(p, reward, initial, horizon)
