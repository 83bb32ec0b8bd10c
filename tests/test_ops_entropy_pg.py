"""softrl_jax.ops.entropy_pg: hand values, limits, a hand trajectory, sampling, and the paper's
soft-Q-learning = policy-gradient identity (Schulman, Chen & Abbeel 2017, Sec. 4) on a random network."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from softrl_jax.ops import entropy_pg as E


class TestBoltzmann(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_soft_value_hand_values(self):
        q = jnp.array([1.0, 2.0, 4.0])
        # uniform prior: tau log mean exp(q / tau), tau = 0.5
        expected = 0.5 * np.log(np.mean(np.exp(np.array([1.0, 2.0, 4.0]) / 0.5)))
        np.testing.assert_allclose(self.variant(E.boltzmann_value)(q, 0.5), expected, rtol=1e-6)
        # entropy-bonus form (counting measure): tau log sum exp(q / tau) = the uniform form + tau log 3
        np.testing.assert_allclose(self.variant(E.boltzmann_value)(q, 0.5, jnp.zeros(3)),
                                   expected + 0.5 * np.log(3), rtol=1e-6)

    def test_small_tau_tends_to_the_max(self):
        q = jnp.array([0.3, -1.0, 2.5, 2.4])
        for tau, tol in ((1e-1, 0.2), (1e-2, 0.02), (1e-3, 0.002)):
            v = float(E.boltzmann_value(q, tau))
            assert 2.5 - tol < v <= 2.5  # uniform prior: max - tau log 4 <= V <= max
        assert np.isfinite(float(E.boltzmann_value(q * 1e4, 1e-3)))  # no overflow: logsumexp

    def test_policy_normalised_and_eq31(self):
        key = jax.random.PRNGKey(0)
        q = jax.random.normal(key, (5,)) * 3
        prior = jax.nn.log_softmax(jax.random.normal(jax.random.PRNGKey(1), (5,)))
        tau = 0.7
        log_pi = E.boltzmann_log_policy(q, tau, prior)
        np.testing.assert_allclose(float(jnp.sum(jnp.exp(log_pi))), 1.0, rtol=1e-6)
        # eq. 28: pi proportional to pi-bar exp(Q / tau)
        w = np.exp(np.asarray(prior)) * np.exp(np.asarray(q) / tau)
        np.testing.assert_allclose(np.exp(log_pi), w / w.sum(), rtol=1e-5)
        # eq. 31: V = E_pi[Q] - tau KL[pi || pi-bar]
        pi = np.exp(np.asarray(log_pi))
        kl = float(np.sum(pi * (np.asarray(log_pi) - np.asarray(prior))))
        np.testing.assert_allclose(float(E.kl_to_prior(log_pi, prior)), kl, rtol=1e-5)
        np.testing.assert_allclose(float(E.boltzmann_value(q, tau, prior)), pi @ np.asarray(q) - tau * kl,
                                   rtol=1e-5, atol=1e-6)


def test_sampling_frequencies_match_boltzmann_probabilities():
    q = jnp.array([1.0, 0.0, -0.5, 2.0])
    log_pi = E.boltzmann_log_policy(q, 0.8)
    n = 200_000
    a = jax.random.categorical(jax.random.PRNGKey(3), log_pi, shape=(n,))
    freq = np.bincount(np.asarray(a), minlength=4) / n
    p = np.exp(np.asarray(log_pi))
    np.testing.assert_allclose(freq, p, atol=4 * np.sqrt(p * (1 - p) / n).max())


class TestReturns(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_hand_trajectory_with_termination_and_truncation(self):
        """Window of 6 steps, gamma 0.9. Step 1 terminates (episode A), step 3 is truncated (episode
        B, bootstrap V(s'_3) = 10), steps 4-5 run on and bootstrap V(s'_5) = 20 at the window's end."""
        g = 0.9
        r = jnp.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
        discount = jnp.array([g, 0.0, g, g, g, g])
        v_next = jnp.array([99.0, 99.0, 99.0, 10.0, 99.0, 20.0])  # 99: must never be read
        cut = jnp.array([0.0, 1.0, 0.0, 1.0, 0.0, 0.0])
        pen = jnp.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
        out = self.variant(E.entropy_regularised_returns)(r, discount, v_next, cut, pen)
        g5 = (6 - 0.6) + g * 20
        g4 = (5 - 0.5) + g * g5
        g3 = (4 - 0.4) + g * 10
        g2 = (3 - 0.3) + g * g3
        g1 = (2 - 0.2)
        g0 = (1 - 0.1) + g * g1
        np.testing.assert_allclose(out, [g0, g1, g2, g3, g4, g5], rtol=1e-6)
        # eq. 46 at the window's start: tau KL_0 + G_0 (the first penalty put back)
        y = self.variant(E.n_step_soft_q_target)(r, discount, v_next, cut, pen)
        np.testing.assert_allclose(y, 0.1 + g0, rtol=1e-6)

    def test_no_cut_equals_eq46_sum(self):
        g, tau = 0.99, 0.1
        rng = np.random.default_rng(0)
        r, kl = rng.normal(size=5), rng.uniform(size=5)
        v_end = 3.0
        y = E.n_step_soft_q_target(jnp.array(r), jnp.full(5, g), jnp.array([0, 0, 0, 0, v_end]),
                                   jnp.zeros(5), jnp.array(tau * kl))
        expected = tau * kl[0] + sum(g**d * (r[d] - tau * kl[d]) for d in range(5)) + g**5 * v_end
        np.testing.assert_allclose(float(y), expected, rtol=1e-5)
        # n = 1: eq. 45, r + gamma V(s')
        np.testing.assert_allclose(float(E.n_step_soft_q_target(jnp.array([2.0]), jnp.array([g]), jnp.array([5.0]),
                                                                jnp.zeros(1), jnp.array([0.3]))), 2.0 + g * 5.0,
                                   rtol=1e-6)

    def test_dqn_targets(self):
        q = jnp.array([1.0, 3.0, 2.0])
        np.testing.assert_allclose(float(E.dqn_target(1.0, 0.9, q)), 1.0 + 0.9 * 3.0, rtol=1e-6)
        soft = float(E.soft_dqn_target(1.0, 0.9, q, 1.0))
        np.testing.assert_allclose(soft, 1.0 + 0.9 * (np.log(np.exp([1.0, 3.0, 2.0]).sum()) - np.log(3)), rtol=1e-6)
        bonus = float(E.soft_dqn_target(1.0, 0.9, q, 1.0, jnp.zeros(3)))
        np.testing.assert_allclose(bonus - soft, 0.9 * np.log(3), rtol=1e-5)  # eqs. 82 vs 83: a constant


def test_policy_loss_gradient_is_eq79_eq80():
    """grad of L_policy = -grad log pi(a) Delta + tau grad KL, with Delta's gradient stopped."""
    logits = jnp.array([0.2, -0.4, 1.0])
    tau, a, delta = 0.05, 2, 1.7

    def loss(z):
        # the advantage's value is delta but it depends on z: unless stopped, it adds -log pi(a) * 5 per logit
        advantage = delta + 5.0 * (jnp.sum(z) - jax.lax.stop_gradient(jnp.sum(z)))
        return E.a2c_policy_loss(jax.nn.log_softmax(z), a, advantage, tau)

    grad = jax.grad(loss)(logits)
    p = np.exp(np.asarray(jax.nn.log_softmax(logits)))
    dlogp = np.eye(3)[a] - p  # grad of log softmax at a
    log_ratio = np.log(p) - np.log(1 / 3)
    dkl = p * (log_ratio - p @ log_ratio)  # grad of KL[softmax(z) || uniform]
    np.testing.assert_allclose(grad, -dlogp * delta + tau * dkl, rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------------------ the equivalence


def _q_net(params, s):
    w1, b1, w2, b2 = params
    return jnp.tanh(s @ w1 + b1) @ w2 + b2  # [B, A]


def _params(key, obs=3, hidden=8, actions=4):
    k = jax.random.split(key, 4)
    return (jax.random.normal(k[0], (obs, hidden)), jax.random.normal(k[1], (hidden,)) * 0.1,
            jax.random.normal(k[2], (hidden, actions)), jax.random.normal(k[3], (actions,)) * 0.1)


@pytest.mark.parametrize("seed, tau, prior", [(0, 0.1, "uniform"), (1, 1.0, "uniform"), (2, 0.5, "random")])
def test_soft_q_gradient_equals_policy_gradient_plus_value_gradient(seed, tau, prior):
    """The identity tested (Sec. 4, eqs. 58-65), exactly, for every batch of states:

        grad sum_s sum_a sg(pi(a|s)) 1/2 (Q(s, a) - y(s, a))^2
          = tau * grad sum_s [ sum_a sg(pi(a|s)) (-log pi(a|s) sg(Delta(s, a))) + tau KL[pi || pi-bar](s) ]
            + grad sum_s sum_a sg(pi(a|s)) 1/2 (V(s) - sg(V(s) + Delta(s, a)))^2

    where V, pi are the soft value and Boltzmann policy OF Q (eqs. 55-56), y = sg(tau KL(s) + V(s) +
    Delta(s, a)) is eq. 47 with the target network equal to the online one, and Delta(s, a) are any
    fixed n-step TD sums. Conditions: the expectation over actions is taken under the current
    Boltzmann policy with its weights held fixed (eq. 59, "treating the state-action distribution as
    fixed"), and the target's value and KL are not differentiated. With ONE sampled action per
    state the two estimators differ (the paper's Sec. 6.3 question); checked below too.
    So soft Q-learning is A2C with value-loss weight c = 1/tau (after dividing by tau).
    """
    with jax.enable_x64(True):
        key = jax.random.PRNGKey(seed)
        k_p, k_s, k_d, k_prior, k_a = jax.random.split(key, 5)
        params = jax.tree.map(lambda x: x.astype(jnp.float64), _params(k_p))
        states = jax.random.normal(k_s, (6, 3), jnp.float64)
        delta = jax.random.normal(k_d, (6, 4), jnp.float64)
        log_prior = (None if prior == "uniform"
                     else jax.nn.log_softmax(jax.random.normal(k_prior, (4,), jnp.float64)))
        sg = jax.lax.stop_gradient

        def pieces(p):
            q = _q_net(p, states)
            v = jax.vmap(lambda x: E.boltzmann_value(x, tau, log_prior))(q)
            log_pi = jax.vmap(lambda x: E.boltzmann_log_policy(x, tau, log_prior))(q)
            kl = jax.vmap(lambda lp: E.kl_to_prior(lp, log_prior))(log_pi)
            return q, v, log_pi, kl

        q0, v0, log_pi0, kl0 = pieces(params)
        weights = jnp.exp(log_pi0)  # sg(pi), current policy
        target = tau * kl0[:, None] + v0[:, None] + delta  # eq. 47, not differentiated

        def soft_q_loss(p):
            q = pieces(p)[0]
            return jnp.sum(weights * 0.5 * (q - target) ** 2)

        def pg_plus_value(p):
            _, v, log_pi, kl = pieces(p)
            policy = jnp.sum(weights * (-log_pi * sg(delta))) + tau * jnp.sum(kl)
            value = jnp.sum(weights * 0.5 * (v[:, None] - sg(v[:, None] + delta)) ** 2)
            return tau * policy + value

        g_q = jax.grad(soft_q_loss)(params)
        g_pg = jax.grad(pg_plus_value)(params)
        for a, b in zip(jax.tree.leaves(g_q), jax.tree.leaves(g_pg)):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
        assert max(float(jnp.abs(a).max()) for a in jax.tree.leaves(g_q)) > 1e-3  # not a 0 == 0 check

        # the same pieces through the public per-example losses (eqs. 84, 85)
        def via_ops(p):
            _, v, log_pi, _ = pieces(p)
            total = 0.0
            for i in range(states.shape[0]):
                for a in range(4):
                    total += weights[i, a] * (tau * E.a2c_policy_loss(log_pi[i], a, delta[i, a], tau, log_prior)
                                              + E.value_loss(v[i], v[i] + delta[i, a]))
            return total

        for a, b in zip(jax.tree.leaves(jax.grad(via_ops)(params)), jax.tree.leaves(g_pg)):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)

        # one sampled action per state: the estimators differ (equal only in expectation)
        actions = jax.random.categorical(k_a, log_pi0)
        one_hot = jax.nn.one_hot(actions, 4, dtype=jnp.float64)

        def sampled(loss_weights, f):
            return lambda p: f(p, loss_weights)

        def soft_q_sampled(p, w):
            return jnp.sum(w * 0.5 * (pieces(p)[0] - target) ** 2)

        def pg_sampled(p, w):
            _, v, log_pi, kl = pieces(p)
            return (tau * (jnp.sum(w * (-log_pi * sg(delta))) + tau * jnp.sum(kl))
                    + jnp.sum(w * 0.5 * (v[:, None] - sg(v[:, None] + delta)) ** 2))

        ga = jax.tree.leaves(jax.grad(sampled(one_hot, soft_q_sampled))(params))
        gb = jax.tree.leaves(jax.grad(sampled(one_hot, pg_sampled))(params))
        assert max(float(jnp.abs(a - b).max()) for a, b in zip(ga, gb)) > 1e-6
