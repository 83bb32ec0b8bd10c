"""DQN and soft DQN (softrl_jax.algos.qlearn): targets against hand values, the target network and
its copies, the stop-gradient, n-step soft targets over episode ends, the epsilon schedule, discrete
warm-up actions in the loop, and the command line's action-type check."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from softrl_jax import algos, envs, train
from softrl_jax.algos import dqn, qlearn, soft_dqn
from softrl_jax.envs import EnvSpec, Transition
from softrl_jax.replay import Window

A, OBS, GAMMA, TAU = 3, 4, 0.9, 0.5
SPEC = EnvSpec("test", OBS, 1, 10, num_actions=A)
CFG = dataclasses.replace(dqn.Config(), hidden=(8,), gamma=GAMMA, batch_size=4)
SOFT = dataclasses.replace(soft_dqn.Config(), hidden=(8,), gamma=GAMMA, batch_size=4, tau=TAU)


def constant_q(cfg, bias):
    """Parameters whose Q(s, .) is `bias` at every state (all kernels zero)."""
    params = jax.tree.map(jnp.zeros_like, qlearn.init(cfg, SPEC, jax.random.PRNGKey(0)).params)
    params["params"]["Dense_0"]["bias"] = jnp.asarray(bias, jnp.float32)
    return params


def batch(terminated=(0.0, 1.0)):
    b = len(terminated)
    return Transition(obs=jax.random.normal(jax.random.PRNGKey(1), (b, OBS)), action=jnp.array([[0.0], [2.0]])[:b],
                      reward=jnp.array([1.0, -2.0])[:b], terminated=jnp.asarray(terminated),
                      next_obs=jax.random.normal(jax.random.PRNGKey(2), (b, OBS)))


def test_dqn_target_hand_values():
    q_next = [1.0, 3.0, -2.0]
    y = qlearn.targets(CFG, SPEC, constant_q(CFG, q_next), batch())
    np.testing.assert_allclose(y, [1.0 + GAMMA * 3.0, -2.0], rtol=1e-6)  # eq. 81; terminated: r


@pytest.mark.parametrize("prior", ["none", "uniform"])
def test_soft_target_is_tau_logsumexp_with_the_prior_constant(prior):
    q_next = np.array([1.0, 3.0, -2.0])
    cfg = dataclasses.replace(SOFT, prior=prior)
    v = TAU * np.log(np.sum(np.exp(q_next / TAU)))  # eq. 83, entropy bonus
    if prior == "uniform":
        v -= TAU * np.log(A)  # eq. 82: the KL penalty's constant tau log|A|
    y = qlearn.targets(cfg, SPEC, constant_q(cfg, q_next), batch())
    np.testing.assert_allclose(y, [1.0 + GAMMA * v, -2.0], rtol=1e-6)
    # small tau: the soft value tends to the max (entropy bonus) and the DQN target
    cold = dataclasses.replace(cfg, tau=1e-3, prior="none")
    np.testing.assert_allclose(qlearn.targets(cold, SPEC, constant_q(cold, q_next), batch()), [1.0 + GAMMA * 3.0, -2.0],
                               rtol=1e-5)


@pytest.mark.parametrize("cfg", [CFG, SOFT], ids=["dqn", "soft_dqn"])
def test_target_network_is_used_and_gradient_stopped(cfg):
    online = constant_q(cfg, [0.0, 10.0, 0.0])
    target = constant_q(cfg, [1.0, 3.0, -2.0])
    b = batch(terminated=(0.0, 0.0))
    y_target = qlearn.targets(cfg, SPEC, target, b)
    y_online = qlearn.targets(cfg, SPEC, online, b)
    assert not np.allclose(y_target, y_online)
    _, metrics = qlearn.loss_fn(cfg, SPEC, online, target, b)
    np.testing.assert_allclose(metrics["target_mean"], np.mean(y_target), rtol=1e-6)
    # the same parameters as online and target: the gradient is the one with the target held fixed
    params = qlearn.init(cfg, SPEC, jax.random.PRNGKey(3)).params
    same = jax.grad(lambda p: qlearn.loss_fn(cfg, SPEC, p, p, b)[0])(params)
    fixed = jax.grad(lambda p: qlearn.loss_fn(cfg, SPEC, p, params, b)[0])(params)
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7), same, fixed)
    # and by hand for Q = bias: d/d bias of mean huber(Q(s, a) - y) is mean clip(Q - y, -1, 1) one-hot(a)
    grad_bias = jax.grad(lambda p: qlearn.loss_fn(dataclasses.replace(cfg, loss="huber"), SPEC, p, target, b)[0])(
        online)["params"]["Dense_0"]["bias"]
    q_sa = np.array([0.0, 0.0])  # actions 0 and 2
    expect = np.zeros(A)
    for a, g in zip([0, 2], np.clip(q_sa - np.asarray(y_target), -1, 1) / 2):
        expect[a] += g
    np.testing.assert_allclose(grad_bias, expect, rtol=1e-6)


def _hand_n_step(cfg, params, w: Window, b: int) -> float:
    """Eq. 46 written out: sum_{d<=k} gamma^d r_d - sum_{1<=d<=k} gamma^d tau KL_d + gamma^{k+1} (1 - term_k) V_{k+1},
    k the first cut; V and KL of the Boltzmann policy of Q at the window's states."""
    q = np.asarray(qlearn.q_values(cfg, SPEC, params, w.obs[b]), np.float64)  # [n + 1, A]
    log_prior = np.zeros(A) if cfg.prior == "none" else np.full(A, -np.log(A))
    v = cfg.tau * np.log(np.sum(np.exp(q / cfg.tau + log_prior), axis=-1))
    log_pi = log_prior + (q - v[:, None]) / cfg.tau
    kl = np.sum(np.exp(log_pi) * (log_pi - log_prior), axis=-1)
    cut = np.asarray(w.cut[b])
    k = int(np.argmax(cut > 0))
    y = 0.0
    for d in range(k + 1):
        y += cfg.gamma ** d * float(w.reward[b, d])
        if d >= 1:
            y -= cfg.gamma ** d * cfg.tau * kl[d]
    return y + cfg.gamma ** (k + 1) * (1.0 - float(w.terminated[b, k])) * v[k + 1]


@pytest.mark.parametrize("prior", ["none", "uniform"])
def test_n_step_soft_target_over_a_termination_and_a_truncation(prior):
    cfg = dataclasses.replace(SOFT, prior=prior, n_step=4)
    params = qlearn.init(cfg, SPEC, jax.random.PRNGKey(4)).params
    n = 4
    obs = jax.random.normal(jax.random.PRNGKey(5), (3, n + 1, OBS))
    reward = jnp.array([[1.0, 2.0, 3.0, 4.0], [0.5, -1.0, 2.0, 7.0], [1.0, 1.0, 1.0, 1.0]])
    # window 0 runs its 4 steps; window 1 terminates at step 2; window 2 is truncated at step 1
    terminated = jnp.array([[0, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]], jnp.float32)
    cut = jnp.array([[0, 0, 0, 1], [0, 0, 1, 1], [0, 1, 0, 1]], jnp.float32)
    w = Window(obs, jnp.zeros((3, n, 1)), reward, terminated, cut)
    y = qlearn.targets(cfg, SPEC, params, w)
    np.testing.assert_allclose(y, [_hand_n_step(cfg, params, w, b) for b in range(3)], rtol=1e-5)
    # dqn's n-step return: the same windows, no penalty, max at the bootstrap
    q = np.asarray(qlearn.q_values(CFG, SPEC, params, obs))
    hand = [1 + .9 * 2 + .81 * 3 + .729 * 4 + .9 ** 4 * q[0, 4].max(), 0.5 - .9 + .81 * 2, 1 + .9 + .81 * q[2, 2].max()]
    np.testing.assert_allclose(qlearn.targets(dataclasses.replace(CFG, n_step=4), SPEC, params, w), hand, rtol=1e-5)


def test_one_step_window_target_is_the_transition_target():
    params = qlearn.init(SOFT, SPEC, jax.random.PRNGKey(6)).params
    b = batch()
    w = Window(jnp.stack([b.obs, b.next_obs], 1), b.action[:, None], b.reward[:, None], b.terminated[:, None],
               jnp.ones((2, 1)))
    for cfg in (SOFT, CFG):
        np.testing.assert_allclose(qlearn.targets(cfg, SPEC, params, w), qlearn.targets(cfg, SPEC, params, b), rtol=1e-6)


def test_epsilon_schedule():
    cfg = dataclasses.replace(CFG, eps_start=1.0, eps_end=0.1, eps_decay=100)
    got = [float(qlearn.epsilon(cfg, jnp.asarray(u))) for u in (0, 25, 50, 100, 1000)]
    np.testing.assert_allclose(got, [1.0, 0.775, 0.55, 0.1, 0.1], rtol=1e-6)


def test_acting_epsilon_greedy_and_greedy_eval():
    state = qlearn.init(CFG, SPEC, jax.random.PRNGKey(0))._replace(params=constant_q(CFG, [0.0, 1.0, 0.5]))
    keys = jax.random.split(jax.random.PRNGKey(1), 3000)
    obs = jnp.zeros(OBS)
    act = jax.jit(jax.vmap(lambda k, s: qlearn.act(CFG, SPEC, s, obs, jnp.zeros(1), k)[0], in_axes=(0, None)))
    start = np.asarray(act(keys, state))[:, 0]  # epsilon 1: uniform
    assert set(np.unique(start)) == {0.0, 1.0, 2.0}
    assert stats.chisquare(np.bincount(start.astype(int), minlength=A)).pvalue > 1e-3
    late = np.asarray(act(keys, state._replace(updates=jnp.asarray(10**6, jnp.int32))))[:, 0]  # epsilon 0.1
    np.testing.assert_allclose(np.mean(late == 1.0), 0.9 + 0.1 / 3, atol=0.03)
    assert float(qlearn.act_eval(CFG, SPEC, state, obs)[0]) == 1.0


def test_target_copied_exactly_every_target_every_updates():
    cfg = dataclasses.replace(CFG, target_every=3, optimizer="adam", lr=1e-2)
    state = qlearn.init(cfg, SPEC, jax.random.PRNGKey(0))
    b = batch()
    step = jax.jit(lambda s: qlearn.update(cfg, SPEC, s, b, jax.random.PRNGKey(0))[0])
    same = lambda x, y: all(bool(jnp.all(u == v)) for u, v in zip(jax.tree.leaves(x), jax.tree.leaves(y)))  # noqa: E731
    for u in range(1, 8):
        prev = state
        state = step(state)
        assert int(state.updates) == u and not same(state.params, prev.params)
        if u % 3 == 0:
            assert same(state.target_params, state.params), u
        else:
            assert same(state.target_params, prev.target_params) and not same(state.target_params, state.params), u


def test_minatar_network_from_spec():
    spec = EnvSpec("minatar", 10 * 10 * 4, 1, 10, num_actions=6, obs_shape=(10, 10, 4))
    state = qlearn.init(CFG, spec, jax.random.PRNGKey(0))
    kernel = state.params["params"]["DiscreteTorso_0"]["Conv_0"]["kernel"]
    assert kernel.shape == (3, 3, 4, 16)
    assert qlearn.q_values(CFG, spec, state.params, jnp.zeros((5, 400))).shape == (5, 6)


@pytest.mark.parametrize("env_name,k", [("gymnax:CartPole-v1", 2), ("gymnax:Acrobot-v1", 3)])
def test_discrete_uniform_warmup_actions_are_valid_indices(env_name, k):
    from softrl_jax.loop import make_train

    rc = algos.run_config("dqn", "quick", {"env": env_name, "warmup_steps": 3000, "eval_every": 3000,
                                           "total_steps": 6000, "batch_size": 32, "hidden": "8"})
    trainer = make_train(algos.get("dqn"), envs.make(env_name), rc)
    carry = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    carry, metrics = jax.jit(trainer.chunk)(carry)
    buf = carry.buffer
    started = np.asarray((buf.kind[0] == 1) | (buf.kind[0] == 2))
    actions = np.asarray(buf.action[0, :, 0])[started]
    assert actions.size > 2900 and set(np.unique(actions)) == set(map(float, range(k)))
    assert stats.chisquare(np.bincount(actions.astype(int), minlength=k)).pvalue > 1e-3


@pytest.mark.parametrize("algo,extra", [("soft_dqn", {"n_step": "3"}), ("dqn", {"n_step": "2", "prior": None}),
                                        ("soft_dqn", {"env": "gymnax:Breakout-MinAtar", "prior": "uniform"})])
def test_tiny_runs_train_finite(algo, extra, tmp_path):
    flags = {"preset": "quick", "total_steps": "600", "warmup_steps": "200", "eval_every": "300", "batch_size": "16",
             "hidden": "8", "eval_episodes": "1", "progress": "false", "checkpoint": "false", "seeds": "2",
             "episode_length": "50", **{k: v for k, v in extra.items() if v is not None}}
    out = tmp_path / "run"
    argv = [f"--algo={algo}"] + [f"--{k}={v}" for k, v in flags.items()] + [f"--out={out}"]
    assert train.main(argv) == 0
    import json
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    last = [r for r in records if r["step"] == 600]
    assert len(last) == 2 and all(np.isfinite(r["eval_return"]) and np.isfinite(r["q_loss"]) and not r["diverged"]
                                  for r in last)


def test_cli_refuses_a_continuous_env_for_dqn(capsys, tmp_path):
    out = tmp_path / "run"
    assert train.main(["--algo=dqn", "--env=gymnax:Pendulum-v1", f"--out={out}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "discrete" in err and "CartPole-v1" in err
    assert not out.exists()


def test_presets_name_their_env():
    for algo in ("dqn", "soft_dqn"):
        assert algos.run_config(algo).loop.env == "gymnax:Breakout-MinAtar"
        assert algos.run_config(algo, "quick").loop.env == "gymnax:CartPole-v1"
        assert algos.run_config(algo, "quick", {"env": "gymnax:Acrobot-v1"}).loop.env == "gymnax:Acrobot-v1"
    assert algos.run_config("sac").loop.env == "gymnax:Pendulum-v1"  # the others keep the loop default
