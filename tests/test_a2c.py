"""The on-policy loop (softrl_jax/onpolicy.py) and the A2C family (algos/a2c.py: a2c_naive, a2c_soft,
soft_dqn_pg): rollout storage against a hand-driven environment, the naive and proper returns by hand,
the A2C gradient against an independent reference, soft Q-learning's scaled gradient against A2C's (the
exact sampled identity and the expectation form), the configuration checks, and learning CartPole-v1.

Learning, measured on the 2-core CPU shared with other jobs (quick preset: 512000 transitions, 16
environments x 8 steps, Adam 1e-3, hidden 64,64; 4 vmapped seeds 0-3, final greedy returns): a2c_soft
[500, 500, 500, 500] (train 3.1 s after 1.0 s compile from a warm cache; 15 s cold in this test),
a2c_naive [500, 500, 500, 500] (3.8 s + 4.8 s compile), soft_dqn_pg [500, 500, 500, 500] (3.8 s + 4.9 s);
a2c_soft seeds 4-7 and 8-11 also all 500. The runner's steady rate: 5.4e5-6.5e5 transitions per second
over the 4 seeds. All three reach a mean above 400 by about 300k transitions.
"""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers import final_returns
from softrl_jax import algos, envs, onpolicy, train
from softrl_jax.agent import bind_on_policy
from softrl_jax.algos import a2c
from softrl_jax.checkpoint import read_carry
from softrl_jax.config import ConfigError, LoopConfig, RunConfig
from softrl_jax.envs import EnvSpec

T, N, LIMIT = 8, 4, 3  # rollout length, environments, the hand environment's time limit


def hand_env() -> envs.Env:
    """core = obs = [pos, t]; action a in {0, 1}: pos += a, t += 1; reward 10 pos' + t'; terminated when
    pos' >= 2; the wrapper truncates at t = 3. Resets to [0, 0]."""

    def reset(key):
        return jnp.zeros(2), jnp.zeros(2)

    def step(core, action, key):
        nxt = core + jnp.stack([action[0], 1.0])
        return nxt, nxt, 10 * nxt[0] + nxt[1], nxt[0] >= 2

    return envs.Env(EnvSpec("hand", 2, 1, LIMIT, 2), reset, step)


@dataclasses.dataclass(frozen=True)
class StubConfig:
    n_steps: int = T


def recorder():
    """An on-policy 'algorithm' whose state is the last rollout it was given; it acts at random."""
    zeros = onpolicy.Rollout(jnp.zeros((T, N, 2)), jnp.zeros((T, N, 1)), *(jnp.zeros((T, N)),) * 3, jnp.zeros((T, N, 2)))
    init = lambda cfg, spec, key: zeros  # noqa: E731
    act = lambda cfg, spec, state, obs, key: jax.random.bernoulli(key, 0.5, (1,)).astype(jnp.float32)  # noqa: E731
    act_eval = lambda cfg, spec, state, obs: jnp.zeros(1)  # noqa: E731
    update = lambda cfg, spec, state, rollout, key: (rollout, {"x": jnp.sum(rollout.reward)})  # noqa: E731
    return types.SimpleNamespace(make=lambda cfg, spec: bind_on_policy(cfg, spec, init, act, act_eval, update))


def test_rollout_stores_true_next_obs_cut_flags_and_restarts():
    rc = RunConfig("stub", "x", LoopConfig(env="hand", num_envs=N, eval_every=T * N, total_steps=T * N,
                                           warmup_steps=0, eval_episodes=2, autoreset="exact"), StubConfig())
    trainer = onpolicy.make_train(recorder(), hand_env(), rc)
    assert trainer.n_chunks == 1 and trainer.logged(0)
    carry, metrics = jax.jit(trainer.chunk)(trainer.init(jax.random.PRNGKey(3)))
    r = jax.tree.map(np.asarray, carry.agent)
    a = r.action[..., 0]
    np.testing.assert_array_equal(r.obs[0], 0.0)  # chunk 0 starts every environment from its reset
    np.testing.assert_array_equal(r.next_obs, r.obs + np.stack([a, np.ones_like(a)], -1))
    np.testing.assert_array_equal(r.reward, 10 * r.next_obs[..., 0] + r.next_obs[..., 1])
    np.testing.assert_array_equal(r.terminated, r.next_obs[..., 0] >= 2)
    np.testing.assert_array_equal(r.cut, (r.next_obs[..., 0] >= 2) | (r.next_obs[..., 1] >= LIMIT))
    # the next step acts on the restart where the episode ended, else on the stored next observation
    np.testing.assert_array_equal(r.obs[1:], np.where(r.cut[:-1, :, None] > 0, 0.0, r.next_obs[:-1]))
    truncated = (r.cut > 0) & (r.terminated == 0)
    assert truncated.any() and (r.terminated > 0).any()  # both kinds of episode end occur
    np.testing.assert_array_equal(r.next_obs[truncated][:, 1], LIMIT)  # the TRUE final observation
    assert int(carry.steps) == T * N and int(metrics["step"]) == T * N and int(metrics["diverged_at"]) == -1
    # greedy evaluation acts 0: rewards 1 + 2 + 3 until the time limit
    assert float(metrics["eval_return"]) == 6.0
    # train_return: the mean return of the episodes that ended in the chunk
    ends = np.asarray(r.cut > 0)
    returns, acc = [], np.zeros(N)
    for k in range(T):
        acc = acc + r.reward[k]
        returns += list(acc[ends[k]])
        acc = np.where(ends[k], 0.0, acc)
    np.testing.assert_allclose(float(metrics["train_return"]), np.mean(returns), rtol=1e-6)


# ------------------------------------------------------------------------------- returns and losses

SPEC = EnvSpec("cartpole-like", 4, 1, 500, 3)
CFG = a2c.Config(hidden=(16,), gamma=0.9, tau=0.3, value_coef=0.5)


def random_rollout(key, t=4, n=2) -> onpolicy.Rollout:
    k = jax.random.split(key, 5)
    terminated = jnp.zeros((t, n)).at[1, 0].set(1.0)
    cut = terminated.at[2, 1].set(1.0)  # a termination in env 0 and a truncation in env 1
    return onpolicy.Rollout(jax.random.normal(k[0], (t, n, 4)),
                            jax.random.randint(k[1], (t, n, 1), 0, 3).astype(jnp.float32),
                            jax.random.normal(k[2], (t, n)), terminated, cut, jax.random.normal(k[3], (t, n, 4)))


def hand_returns(r, terminated, cut, v_next, penalty, gamma):
    """A plain Python loop over one environment's steps."""
    g, out = v_next[-1], []
    for k in reversed(range(len(r))):
        g = r[k] - penalty[k] + gamma * (1 - terminated[k]) * (v_next[k] if cut[k] else g)
        out.append(g)
    return np.array(out[::-1])


def test_naive_and_proper_returns_by_hand():
    one = lambda x: jnp.asarray(x, jnp.float32)[:, None]  # noqa: E731  [T, 1]
    rollout = onpolicy.Rollout(None, None, one([1, 2, 3]), one([0, 1, 0]), one([0, 1, 0]), None)
    v_next, tau_kl = one([5, 6, 7]), one([0.1, 0.2, 0.3])
    naive = a2c.returns(CFG, rollout, v_next, jnp.zeros_like(tau_kl))[:, 0]
    proper = a2c.returns(CFG, rollout, v_next, tau_kl)[:, 0]
    # naive: G2 = 3 + .9 * 7; G1 = 2 (terminated); G0 = 1 + .9 * 2. proper: every reward less tau KL
    np.testing.assert_allclose(naive, [2.8, 2.0, 9.3], rtol=1e-6)
    np.testing.assert_allclose(proper, [0.9 + 0.9 * 1.8, 1.8, 2.7 + 0.9 * 7], rtol=1e-6)
    # a truncation at step 1 bootstraps the true final observation's value: G1 = 2 + .9 * 6
    truncated = rollout._replace(terminated=one([0, 0, 0]))
    np.testing.assert_allclose(a2c.returns(CFG, truncated, v_next, tau_kl)[:, 0],
                               [0.9 + 0.9 * (1.8 + 0.9 * 6), 1.8 + 0.9 * 6, 2.7 + 0.9 * 7], rtol=1e-6)


def grads(f, params):
    return jax.flatten_util.ravel_pytree(jax.grad(f)(params))[0]


@pytest.mark.parametrize("variant", ["naive", "proper"])
@pytest.mark.parametrize("reference", ["uniform", "entropy"])
def test_a2c_gradient_matches_an_independent_reference(variant, reference):
    """Returns and advantages enter as constants (numpy, computed by hand from the network's own
    values and KLs); only log pi, the KL bonus and V(s_t) are differentiated."""
    cfg = dataclasses.replace(CFG, reference=reference)
    state = a2c.init(cfg, SPEC, jax.random.PRNGKey(0))
    rollout = random_rollout(jax.random.PRNGKey(1))
    log_pi, v = map(np.asarray, a2c.forward(cfg, SPEC, state.params, rollout.obs))
    _, v_next = map(np.asarray, a2c.forward(cfg, SPEC, state.params, rollout.next_obs))
    log_prior = -np.log(3) if reference == "uniform" else 0.0
    kl = np.sum(np.exp(log_pi) * (log_pi - log_prior), -1)
    penalty = cfg.tau * kl if variant == "proper" else 0 * kl
    g = np.stack([hand_returns(*(np.asarray(x)[:, i] for x in (rollout.reward, rollout.terminated, rollout.cut,
                                                                v_next, penalty)), cfg.gamma) for i in range(2)], 1)
    a = np.asarray(rollout.action[..., 0], int)

    def reference_loss(params):
        lp, val = a2c.forward(cfg, SPEC, params, rollout.obs)
        taken = jnp.take_along_axis(lp, a[..., None], -1)[..., 0]
        bonus = cfg.tau * jnp.sum(jnp.exp(lp) * (lp - log_prior), -1)
        return jnp.mean(-taken * (g - v) + bonus) + cfg.value_coef * jnp.mean(0.5 * (val - g) ** 2)

    loss, metrics = a2c.loss(cfg, SPEC, state.params, rollout, variant)
    np.testing.assert_allclose(float(loss), float(reference_loss(state.params)), rtol=1e-5)
    np.testing.assert_allclose(float(metrics["return_mean"]), g.mean(), rtol=1e-5)
    ours = grads(lambda p: a2c.loss(cfg, SPEC, p, rollout, variant)[0], state.params)
    np.testing.assert_allclose(ours, grads(reference_loss, state.params), rtol=1e-4, atol=1e-6)


def test_soft_q_sampled_gradient_identity():
    """For the sampled actions, with G the proper return, y = tau KL_t + G (eq. 46), e = tau (log pi(a)/pi-bar(a)
    - KL_t): grad L_softq = grad L_a2c_proper + grad mean[sg(e) (c V + log pi(a))] - tau grad mean KL_t
    exactly (the module docstring of algos/a2c.py); and the forward loss is 1/2 (V + tau log(pi/pi-bar) - y)^2."""
    cfg = CFG
    state = a2c.init(cfg, SPEC, jax.random.PRNGKey(4))
    rollout = random_rollout(jax.random.PRNGKey(5))
    a = np.asarray(rollout.action[..., 0], int)
    log_pi0, v0 = a2c.forward(cfg, SPEC, state.params, rollout.obs)
    kl0 = jnp.sum(jnp.exp(log_pi0) * (log_pi0 + jnp.log(3.0)), -1)
    e = cfg.tau * (jnp.take_along_axis(log_pi0, a[..., None], -1)[..., 0] + jnp.log(3.0) - kl0)

    def extra(params):
        lp, val = a2c.forward(cfg, SPEC, params, rollout.obs)
        taken = jnp.take_along_axis(lp, a[..., None], -1)[..., 0]
        kl = jnp.sum(jnp.exp(lp) * (lp + jnp.log(3.0)), -1)
        return jnp.mean(e * (cfg.value_coef * val + taken)) - cfg.tau * jnp.mean(kl)

    soft_q = grads(lambda p: a2c.loss(cfg, SPEC, p, rollout, "soft_q")[0], state.params)
    proper = grads(lambda p: a2c.loss(cfg, SPEC, p, rollout, "proper")[0], state.params)
    np.testing.assert_allclose(soft_q, proper + grads(extra, state.params), rtol=1e-4, atol=1e-5)
    assert not np.allclose(soft_q, proper, atol=1e-3)  # the sampled estimators do differ
    # the forward value: no scaling, Q = V + tau log(pi/pi-bar), y = tau KL + G
    _, m = a2c.loss(cfg, SPEC, state.params, rollout, "proper")
    loss, _ = a2c.loss(cfg, SPEC, state.params, rollout, "soft_q")
    _, v_next = a2c.forward(cfg, SPEC, state.params, rollout.next_obs)
    g = a2c.returns(cfg, rollout, v_next, cfg.tau * kl0)
    q = v0 + e + cfg.tau * kl0
    np.testing.assert_allclose(float(loss), float(jnp.mean(0.5 * (q - cfg.tau * kl0 - g) ** 2)), rtol=1e-5)


def test_soft_q_expected_gradient_equals_a2c_with_value_weight_c():
    """With every action weighted by sg(pi(a|s)) and ANY per-action targets y(a): the scaled soft
    Q-learning gradient (advantage stream x 1/tau, V stream x c) equals the gradient of eq. 84 with
    Delta(a) = G(a) - V plus c eq. 85 with V-hat = G(a), G(a) = y(a) - tau sg(KL)."""
    cfg = CFG
    state = a2c.init(cfg, SPEC, jax.random.PRNGKey(6))
    obs = jax.random.normal(jax.random.PRNGKey(7), (5, 4))
    y = 3.0 * jax.random.normal(jax.random.PRNGKey(8), (5, 3))
    log_prior = -jnp.log(3.0)

    def soft_q(params):
        lp, v = a2c.forward(cfg, SPEC, params, obs)
        q = a2c.scale_grad(v, cfg.value_coef)[:, None] + a2c.scale_grad(cfg.tau * (lp - log_prior), 1 / cfg.tau)
        return jnp.mean(jnp.sum(jax.lax.stop_gradient(jnp.exp(lp)) * 0.5 * (q - y) ** 2, -1))

    def a2c_expected(params):
        lp, v = a2c.forward(cfg, SPEC, params, obs)
        pi = jax.lax.stop_gradient(jnp.exp(lp))
        kl = jnp.sum(jnp.exp(lp) * (lp - log_prior), -1)
        g = y - cfg.tau * jax.lax.stop_gradient(kl)[:, None]
        policy = jnp.sum(pi * -lp * jax.lax.stop_gradient(g - v[:, None]), -1) + cfg.tau * kl
        value = jnp.sum(pi * 0.5 * (v[:, None] - g) ** 2, -1)
        return jnp.mean(policy + cfg.value_coef * value)

    np.testing.assert_allclose(grads(soft_q, state.params), grads(a2c_expected, state.params), rtol=1e-4, atol=1e-5)


def test_scale_grad_keeps_the_value_and_scales_the_gradient():
    x = jnp.asarray(0.37)
    assert float(a2c.scale_grad(x, 100.0)) == float(x)
    assert float(jax.grad(lambda z: a2c.scale_grad(z ** 2, 100.0))(x)) == pytest.approx(200 * 0.37)


# ----------------------------------------------------------------------------------- configuration


def test_config_checks_are_one_line_and_name_the_value():
    with pytest.raises(ConfigError, match=r"--eval_every=1000 is not a multiple of --num_envs x --n_steps = 16 x 8 "
                                          r"= 128 .*choose --eval_every=896 or 1024"):
        algos.run_config("a2c_soft", "quick", {"eval_every": 1000, "total_steps": 2000})
    with pytest.raises(ConfigError, match=r"--warmup_steps=100 is out of range.*must be 0"):
        algos.run_config("a2c_naive", "quick", {"warmup_steps": 100})
    with pytest.raises(ConfigError, match=r"--learning_starts=5 is out of range"):
        algos.run_config("soft_dqn_pg", "quick", {"learning_starts": 5})
    with pytest.raises(ConfigError, match=r"--total_steps=20000 is not a multiple of --eval_every=12800"):
        algos.run_config("a2c_soft", "quick", {"total_steps": 20000})
    with pytest.raises(ConfigError, match=r"--eval_every=1000 is not a multiple"):  # library use, too
        onpolicy.check_rollouts(LoopConfig(num_envs=16, eval_every=1000), 8)


def test_presets_name_their_env_and_other_algos_keep_pendulum():
    assert algos.run_config("a2c_soft", "quick").loop.env == "gymnax:CartPole-v1"
    assert algos.run_config("soft_dqn_pg").loop.env == "gymnax:Breakout-MinAtar"  # paper: the default preset
    assert algos.run_config("sac", "quick").loop.env == "gymnax:Pendulum-v1"
    assert algos.run_config("a2c_naive", "quick", {"env": "gymnax:Acrobot-v1"}).loop.env == "gymnax:Acrobot-v1"


@pytest.mark.parametrize("argv", [["--algo=a2c_soft", "--env=brax:hopper"], ["--algo=a2c_soft", "--eval_every=1000"]])
def test_cli_refuses_with_exit_2_and_one_line(argv, tmp_path, capsys):
    out = tmp_path / "run"
    assert train.main(argv + ["--preset=quick", f"--out={out}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and not out.exists(), err


def test_paper_preset_builds_the_minatar_network():
    rc = algos.run_config("a2c_soft")
    env = envs.make(rc.loop.env)
    state = a2c.init(rc.algo_cfg, env.spec, jax.random.PRNGKey(0))
    conv = state.params["params"]["DiscreteTorso_0"]["Conv_0"]["kernel"]
    assert conv.shape[-1] == 16 and rc.algo_cfg.hidden == (128,)
    action = a2c.act(rc.algo_cfg, env.spec, state, jnp.zeros(env.spec.obs_size), jax.random.PRNGKey(1))
    assert action.shape == (1,) and 0 <= int(action[0]) < env.spec.num_actions


# --------------------------------------------------------------------------- runner, checkpoints, resume

RUN = ["--algo=a2c_soft", "--preset=quick", "--seeds=2", "--total_steps=6400", "--eval_every=256",
       "--eval_episodes=2", "--progress=false", "--checkpoint_every=0"]


@pytest.mark.system
def test_sigterm_then_resume_is_bit_identical(tmp_path):
    """The on-policy Trainer through the runner: metrics.jsonl (wall-clock fields aside) and the final
    carry of a run stopped by SIGTERM and resumed equal those of an uninterrupted run, bit for bit."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ref, out = str(tmp_path / "ref"), str(tmp_path / "run")
    cmd = [sys.executable, "-m", "softrl_jax.train", *RUN, f"--compile_cache={tmp_path / 'cache'}"]

    def rows(path):
        with open(os.path.join(path, "metrics.jsonl")) as f:
            return [{k: v for k, v in json.loads(line).items() if k not in ("time_s", "env_steps_per_s")} for line in f]

    subprocess.run(cmd + [f"--out={ref}"], cwd=root, check=True, capture_output=True, timeout=300)
    p = subprocess.Popen(cmd + [f"--out={out}"], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = os.path.join(out, "metrics.jsonl")
    deadline = time.time() + 240
    while p.poll() is None and time.time() < deadline and not (os.path.exists(metrics) and len(rows(out)) >= 10):
        time.sleep(0.01)
    p.send_signal(signal.SIGTERM)
    _, stderr = p.communicate(timeout=120)
    assert p.returncode == 143, stderr[-2000:]  # stopped mid-run (25 chunks), not finished
    subprocess.run([sys.executable, "-m", "softrl_jax.train", f"--resume={out}", f"--compile_cache={tmp_path / 'cache'}"],
                   cwd=root, check=True, capture_output=True, timeout=300)
    assert rows(out) == rows(ref) and len(rows(ref)) == 2 * 25
    (got, _), (want, _) = read_carry(out), read_carry(ref)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# ------------------------------------------------------------------------------------------ learning


@pytest.mark.slow
def test_a2c_soft_quick_learns_cartpole_4_seeds(tmp_path):
    """Mean final deterministic evaluation return >= 400 (of 500) on CartPole-v1, 4 seeds, quick preset."""
    steps = algos.run_config("a2c_soft", "quick").loop.total_steps
    finals = final_returns(tmp_path, "a2c_soft", "quick", "gymnax:CartPole-v1", 4, steps)
    assert finals.mean() >= 400, finals
