"""softrl_jax.irl (tabular tasks, fitting loops, evaluation) and experiments/maxent_irl.py."""

import itertools
import json
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from softrl_jax import irl
from softrl_jax.irl import experiment
from softrl_jax.ops import maxent_irl

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "experiments" / "maxent_irl.py"


# ----------------------------------------------------------------------------------------- tasks


def test_gridworld_transitions_by_hand():
    # 3 x 3, state = x + 3 y; actions stay, right, left, up, down; slip 0.2 spreads 0.05 per compass move
    p = np.asarray(irl.tasks.grid_transitions(3, 0.2))
    assert p.shape == (9, 5, 9)
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-6)
    centre, right, left, up, down = 4, 5, 3, 7, 1
    expected = np.zeros(9)
    expected[[right, left, up, down]] = 0.05
    expected[right] += 0.8
    np.testing.assert_allclose(p[centre, 1], expected, atol=1e-7)
    # corner (0, 0): left and down hit walls and stay; "stay" keeps 0.8 plus the two walled slips
    corner = np.zeros(9)
    corner[0] = 0.8 + 0.05 + 0.05
    corner[1] = 0.05  # slip right
    corner[3] = 0.05  # slip up
    np.testing.assert_allclose(p[0, 0], corner, atol=1e-7)


def test_macrocell_features_and_goal():
    f = np.asarray(irl.tasks.macrocell_features(4, 2))
    assert f.shape == (16, 4)
    np.testing.assert_array_equal(f.sum(1), 1.0)
    # state x + 4 y -> cell x // 2 + 2 (y // 2)
    for x, y in itertools.product(range(4), range(4)):
        assert f[x + 4 * y].argmax() == x // 2 + 2 * (y // 2)
    mdp = irl.gridworld(4, 2, 0.0, goal=True)
    assert mdp.features.shape == (16, 5) and bool(mdp.terminal[15]) and int(mdp.terminal.sum()) == 1
    np.testing.assert_array_equal(np.asarray(mdp.features[:, 4]), np.eye(16)[15])
    assert float(mdp.initial[15]) == 0.0
    np.testing.assert_allclose(float(mdp.initial.sum()), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="block=3 must divide size=4"):
        irl.tasks.macrocell_features(4, 3)


def test_objectworld_features_brute_force():
    mdp = irl.objectworld(jax.random.PRNGKey(3), size=6, colours=2, objects=5, max_distance=3, slip=0.0)
    f = np.asarray(mdp.features).reshape(36, 2, 3)
    assert np.all(np.diff(f, axis=2) >= 0)  # within d implies within d + 1
    assert f.sum() > 0 and (f == 0).sum() > 0
    np.testing.assert_allclose(np.asarray(mdp.transitions).sum(-1), 1.0, rtol=1e-6)
    # recompute from the objects the task placed (same key, same draws)
    k_cells, k_colours = jax.random.split(jax.random.PRNGKey(3))
    cells = np.asarray(jax.random.choice(k_cells, 36, (5,), replace=False))
    colour = np.concatenate([[0, 1], np.asarray(jax.random.randint(k_colours, (3,), 0, 2))])
    for s in range(36):
        x, y = s % 6, s // 6
        for c in range(2):
            d = min(max(abs(x - o % 6), abs(y - o // 6)) for o, oc in zip(cells, colour) if oc == c)
            np.testing.assert_array_equal(f[s, c], [d <= 1, d <= 2, d <= 3])


# ------------------------------------------------------------------------------------ demos, fits


def test_demo_visitation_matches_expected_state_visitation():
    """Sampled paths of the soft-optimal policy visit states as Algorithm 1's forward pass says."""
    mdp = irl.gridworld(4, 2, 0.2)
    reward = mdp.features @ jnp.array([0.0, 1.0, -1.0, 0.5])
    horizon, n = 6, 20_000
    demos = irl.sample_demos(jax.random.PRNGKey(0), mdp, irl.soft_optimal_policy(mdp, reward, horizon), n)
    assert demos.shape == (n, horizon + 1)
    counts = np.bincount(np.asarray(demos).reshape(-1), minlength=16) / n
    d = np.asarray(maxent_irl.expected_state_visitation(mdp.transitions, reward, mdp.initial, horizon))
    # each count is a sum of 7 indicator means over 20000 paths: standard error < sqrt(7 * 7 / 4 / n) ~ 0.025
    np.testing.assert_allclose(counts, d, atol=0.03)
    assert np.abs(counts - d).max() > 0  # sampled, not copied


def test_demos_stay_in_an_absorbing_goal():
    mdp = irl.gridworld(3, 1, 0.0, goal=True)
    reward = mdp.features @ jnp.concatenate([-jnp.ones(9), jnp.array([5.0])])
    demos = np.asarray(irl.sample_demos(jax.random.PRNGKey(1), mdp, irl.soft_optimal_policy(mdp, reward, 8), 200))
    for path in demos:
        hits = np.flatnonzero(path == 8)
        if len(hits):
            assert np.all(path[hits[0]:] == 8)
    assert np.mean([8 in p for p in demos]) > 0.9


def test_exponentiated_gradient_step_by_hand():
    opt = irl.exponentiated_gradient(0.5)
    theta = jnp.array([1.0, 2.0, 0.5])
    grad_loss = jnp.array([0.2, -1.0, 0.0])
    updates, _ = opt.update(grad_loss, opt.init(theta), theta)
    np.testing.assert_allclose(optax.apply_updates(theta, updates), theta * np.exp(-0.5 * np.asarray(grad_loss)),
                               rtol=1e-6)


def _all_paths(mdp, reward, horizon):
    """Every path of a deterministic tiny MDP with its probability initial(s0) P(path|s0) (eq. 2)."""
    nxt = np.asarray(mdp.transitions).argmax(-1)
    s, a = nxt.shape
    r = np.asarray(reward, np.float64)
    paths, probs = [], []
    for s0 in range(s):
        group = []
        for acts in itertools.product(range(a), repeat=horizon):
            path = [s0]
            for act in acts:
                path.append(nxt[path[-1], act])
            group.append(path)
        w = np.exp([r[p].sum() for p in group])
        paths += group
        probs += list(float(mdp.initial[s0]) * w / w.sum())
    return jnp.asarray(paths), jnp.asarray(probs)


def test_fit_maxent_recovers_the_reward_from_infinite_demonstrations():
    """Demonstrations = every path weighted by its model probability: the MLE is the true reward (up to
    the constant shift the finite horizon cannot see), with Adam and with the exponentiated gradient."""
    mdp = irl.gridworld(2, 1, 0.0)  # 4 states, one-hot features
    w_true = jnp.array([0.0, 1.0, 0.3, -0.5])
    paths, probs = _all_paths(mdp, mdp.features @ w_true, 3)
    for optimizer, lr in (("adam", 0.05), ("eg", 0.05)):
        res = irl.fit_maxent(mdp, paths, probs, optimizer=optimizer, learning_rate=lr, iterations=1500)
        learned = np.asarray(mdp.features @ res.theta)
        np.testing.assert_allclose(learned - learned.mean(), w_true - w_true.mean(), atol=0.02)
        assert np.all(np.diff(np.asarray(res.log_likelihood)[-100:]) > -1e-4)  # ascending at the end
        if optimizer == "eg":
            assert np.all(np.asarray(res.theta) > 0)


def test_l2_prior_shrinks_weights():
    mdp = irl.gridworld(2, 1, 0.0)
    paths, probs = _all_paths(mdp, mdp.features @ jnp.array([0.0, 2.0, 0.0, -2.0]), 3)
    plain = irl.fit_maxent(mdp, paths, probs, iterations=800, learning_rate=0.05).theta
    shrunk = irl.fit_maxent(mdp, paths, probs, iterations=800, learning_rate=0.05, l2=1.0).theta
    assert np.ptp(np.asarray(shrunk)) < 0.8 * np.ptp(np.asarray(plain))


def test_frequency_baseline_is_mean_count_per_macrocell():
    mdp = irl.gridworld(4, 2, 0.0)
    demos = jnp.array([[0, 1, 5], [5, 5, 15]])
    w = np.asarray(irl.fit_frequency(mdp, demos, jnp.ones(2)))
    # per-state frequencies (weight 1/2 per path): 0: .5, 1: .5, 5: 1.5, 15: .5; cells of 4 states
    np.testing.assert_allclose(w, [(0.5 + 0.5 + 1.5) / 4, 0.0, 0.0, 0.5 / 4], atol=1e-6)


def test_projection_method_matches_feature_expectations():
    """The projection method drives its mixture's feature counts toward the expert's (Abbeel & Ng's
    termination test ||mu_E - mubar|| <= eps): far closer after 30 iterations than the uniform policy."""
    mdp = irl.gridworld(4, 2, 0.0)
    reward = mdp.features @ jnp.array([0.0, 1.0, 0.2, 0.6])
    demos = irl.sample_demos(jax.random.PRNGKey(2), mdp, irl.soft_optimal_policy(mdp, reward, 6), 500)
    weights = jnp.ones(500)
    mu_e = maxent_irl.feature_expectations(mdp.features, demos, None, weights)
    initial = maxent_irl.start_distribution(demos, 16, weights)
    uniform = jnp.full((6, 16, 5), 0.2)
    gap0 = float(jnp.linalg.norm(mu_e - irl.fit.feature_counts(mdp, uniform, initial)))
    w = irl.fit_projection(mdp, demos, weights, iterations=30)
    # the last w is mu_E - mubar_29: its norm is the remaining feature-matching error
    assert float(jnp.linalg.norm(w)) < 0.2 * gap0


def test_evaluate_true_and_negated_rewards():
    mdp = irl.gridworld(4, 2, 0.1)
    r = mdp.features @ jnp.array([0.0, 1.0, 0.2, 0.6])
    m = irl.evaluate(mdp, r, r, 6)
    np.testing.assert_allclose(float(m["reward_correlation"]), 1.0, rtol=1e-5)
    np.testing.assert_allclose(float(m["value_gap"]), 0.0, atol=1e-6)
    assert float(m["optimal_value"]) > float(m["uniform_value"])
    worst = irl.evaluate(mdp, r, -r, 6)
    np.testing.assert_allclose(float(worst["reward_correlation"]), -1.0, rtol=1e-5)
    assert float(worst["value_gap"]) > 1.0  # worse than random actions
    # the value of the learned reward's optimal policy, by an independent numpy backward induction
    p, rr = np.asarray(mdp.transitions, np.float64), np.asarray(r, np.float64)
    v = rr.copy()
    for _ in range(6):
        v = np.max(rr[:, None] + p @ v, axis=1)
    np.testing.assert_allclose(float(m["optimal_value"]), np.asarray(mdp.initial) @ v, rtol=1e-5)


# ---------------------------------------------------------------------------------- the experiment


TINY = dict(size=4, block=2, horizon=5, seeds=2, demos=(4, 64), iterations=30, projection_iterations=5)


def test_experiment_vmap_over_seeds_equals_one_seed_at_a_time():
    cfg = experiment.IRLConfig(**TINY)
    batched = experiment.run(cfg)
    keys = jax.random.split(jax.random.PRNGKey(cfg.seed), cfg.seeds)
    one = jax.jit(lambda k: experiment.one_seed(cfg, k))
    for i in range(cfg.seeds):
        single = one(keys[i])
        for k in experiment.METRICS:
            np.testing.assert_allclose(batched[k][:, i], np.asarray(single[k]), rtol=1e-4, atol=1e-5)
    assert batched["value_gap"].shape == (3, 2, 2)


def test_experiment_subset_weights_equal_a_smaller_sample():
    """The 0/1 mask that vmaps set sizes equals fitting on the first n demonstrations alone."""
    mdp = irl.gridworld(4, 2, 0.1)
    reward = mdp.features @ jnp.array([0.0, 1.0, 0.2, 0.6])
    demos = irl.sample_demos(jax.random.PRNGKey(4), mdp, irl.soft_optimal_policy(mdp, reward, 5), 20)
    mask = (jnp.arange(20) < 7).astype(jnp.float32)
    a = irl.fit_maxent(mdp, demos, mask, iterations=20).theta
    b = irl.fit_maxent(mdp, demos[:7], jnp.ones(7), iterations=20).theta
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def _script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("maxent_irl_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(tmp_path, *flags):
    return subprocess.run([sys.executable, str(SCRIPT), *flags], capture_output=True, text=True, cwd=ROOT)


def test_cli_writes_summary_and_figures(tmp_path):
    out = tmp_path / "irl"
    proc = _run(tmp_path, f"--out={out}", "--size=4", "--block=2", "--horizon=5", "--seeds=2", "--demos=4,64",
                "--iterations=30", "--projection_iterations=5", "--task=gridworld")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert {"reward_correlation", "value_gap", "baselines", "curves", "flags"} <= set(summary)
    assert -1.0 <= summary["reward_correlation"] <= 1.0 and summary["demo_sizes"] == [4, 64]
    assert len(summary["curves"]["maxent"]["value_gap"]["mean"]) == 2
    for name in ("summary.md", "curve.png", "rewards.png"):
        assert (out / name).stat().st_size > 0
    assert "reward correlation" in proc.stdout


@pytest.mark.parametrize("flag, message", [
    ("--task=mazeworld", "--task='mazeworld' is not valid; valid choices: gridworld, objectworld"),
    ("--block=3", "--block=3 must divide --size=10"),
    ("--demos=0,4", "--demos=(0, 4) is out of range; must be >= 1"),
    ("--seeds=two", "--seeds='two' is not a valid int"),
    ("--slip=1.5", "--slip=1.5 is out of range; must be <= 1.0"),
    ("--learning_rate=-0.1", "--learning_rate=-0.1 is out of range; must be >= 0.0"),
    ("--backup=soft", "--backup='soft' is not valid; valid choices: path, causal"),
    ("--algo=sac", "unknown flag --algo; valid flags: --out --task"),
    ("--optimizer=eg --task=objectworld", "--optimizer=eg needs positive weights"),
])
def test_cli_bad_input_exit_2_one_line_nothing_written(tmp_path, capsys, flag, message):
    out = tmp_path / "never"
    assert _script().main([f"--out={out}", *flag.split()]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    assert not out.exists()


def test_cli_bad_input_in_a_real_process(tmp_path):
    out = tmp_path / "never"
    proc = _run(tmp_path, f"--out={out}", "--horizon=-3")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == "error: --horizon=-3 is out of range; must be >= 1" and not out.exists()


@pytest.mark.learning
def test_short_learning_maxent_recovers_the_gridworld_reward(tmp_path):
    """The acceptance thresholds at the default task and set size, on 4 seeds and one set size."""
    cfg = experiment.IRLConfig(seeds=4, demos=(1024,))
    result = experiment.run(cfg)
    corr, gap = result["reward_correlation"][:, :, -1].mean(1), result["value_gap"][:, :, -1].mean(1)
    assert corr[0] >= 0.9 and gap[0] <= 0.05, (corr, gap)
    # MaxEnt beats both baselines on the reward (what the entropy buys)
    assert corr[0] > corr[1] + 0.1 and corr[0] > corr[2] + 0.1, corr


@pytest.mark.slow
def test_default_experiment_meets_the_acceptance(tmp_path):
    out = tmp_path / "irl"
    proc = _run(tmp_path, f"--out={out}")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reward_correlation"] >= 0.9 and summary["value_gap"] <= 0.05, summary
