"""Statistics of learning results: bootstrap bands of curves, and rliable's aggregates across tasks
(Agarwal et al. 2021, "Deep Reinforcement Learning at the Edge of the Statistical Precipice", NeurIPS):
IQM, mean, optimality gap with stratified-bootstrap intervals, the probability of improvement, and
performance profiles. Score matrices are [runs, tasks]."""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Callable

import numpy as np



def bootstrap_mean_band(values: np.ndarray, reps: int = 2000, seed: int = 0, level: float = 0.95):
    """values [S, T] -> (mean [T], lo [T], hi [T]): percentile bootstrap of the mean over seeds."""
    values = np.asarray(values, float)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(values, axis=0)
            if values.shape[0] < 2:
                return mean, mean.copy(), mean.copy()
            rng = np.random.default_rng(seed)
            idx = rng.integers(0, values.shape[0], size=(reps, values.shape[0]))
            boots = np.nanmean(values[idx], axis=1)  # [reps, T]
            lo, hi = np.nanpercentile(boots, [100 * (1 - level) / 2, 100 * (1 + level) / 2], axis=0)
    return mean, lo, hi


def best_average_return(values: np.ndarray) -> float:
    """The paper's Table-1 statistic: max over evaluation steps of the mean over seeds. values [S, T]."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.nanmax(np.nanmean(values, axis=0)))


def iqm(x: np.ndarray) -> float:
    """Interquartile mean (rliable's definition: the mean of the middle 50%, 25% trimmed each side)."""
    from rliable import metrics

    return float(metrics.aggregate_iqm(np.asarray(x, float)))


@contextmanager
def _seeded(seed: int):
    """rliable 1.2's StratifiedBootstrap draws its indices from the GLOBAL numpy RNG (it ignores
    `random_state`): seed that for reproducible intervals and put its state back afterwards."""
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        with warnings.catch_warnings():  # arch deprecates `random_state`, which rliable passes on
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        np.random.set_state(saved)


def interval_estimates(scores: dict[str, np.ndarray], aggregate: Callable[[np.ndarray], np.ndarray],
                       reps: int = 2000, seed: int = 0, level: float = 0.95):
    """scores {label: [runs, tasks]} -> ({label: point [K]}, {label: (lo [K], hi [K])}) of an aggregate
    returning K numbers, with rliable's stratified bootstrap (runs resampled within each task)."""
    from rliable import library as rly

    with _seeded(seed):
        point, interval = rly.get_interval_estimates(scores, aggregate, reps=reps, confidence_interval_size=level,
                                                     random_state=np.random.RandomState(seed))
    return ({k: np.asarray(v, float) for k, v in point.items()},
            {k: (np.asarray(v[0], float), np.asarray(v[1], float)) for k, v in interval.items()})


def iqm_intervals(scores: dict[str, np.ndarray], reps: int = 2000, seed: int = 0):
    """scores {label: [runs, tasks]} -> ({label: IQM}, {label: (lo, hi)}): rliable's stratified bootstrap."""
    from rliable import metrics

    point, interval = interval_estimates(scores, lambda x: np.array([metrics.aggregate_iqm(x)]), reps, seed)
    return ({k: float(v[0]) for k, v in point.items()},
            {k: (float(lo[0]), float(hi[0])) for k, (lo, hi) in interval.items()})


AGGREGATES = ("IQM", "Mean", "Optimality gap")


def aggregates(scores: dict[str, np.ndarray], reps: int = 2000, seed: int = 0):
    """IQM, mean and optimality gap (the mean shortfall below a normalised score of 1) of normalised
    scores {label: [runs, tasks]}, with 95% stratified-bootstrap intervals:
    {label: {name: (point, lo, hi)}}."""
    from rliable import metrics

    def three(x: np.ndarray) -> np.ndarray:
        return np.array([metrics.aggregate_iqm(x), metrics.aggregate_mean(x),
                         metrics.aggregate_optimality_gap(x, gamma=1.0)])

    point, interval = interval_estimates(scores, three, reps, seed)
    return {k: {name: (float(point[k][i]), float(interval[k][0][i]), float(interval[k][1][i]))
                for i, name in enumerate(AGGREGATES)} for k in scores}


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y): over tasks, the mean of the Mann-Whitney probability that a run of X beats a run of Y on
    that task (ties count 1/2). x [runs_x, tasks], y [runs_y, tasks]."""
    from rliable import metrics

    return float(metrics.probability_of_improvement(np.asarray(x, float), np.asarray(y, float)))


def improvement_intervals(scores: dict[str, np.ndarray], pairs: list[tuple[str, str]], reps: int = 2000,
                          seed: int = 0) -> dict[tuple[str, str], tuple[float, float, float]]:
    """{(a, b): (P(a > b), lo, hi)} with rliable's stratified bootstrap of both run sets."""
    from rliable import library as rly
    from rliable import metrics

    pair_scores = {f"{a},{b}": (np.asarray(scores[a], float), np.asarray(scores[b], float)) for a, b in pairs}
    with _seeded(seed):
        point, interval = rly.get_interval_estimates(pair_scores, metrics.probability_of_improvement, reps=reps,
                                                     random_state=np.random.RandomState(seed))
    return {(a, b): (float(point[f"{a},{b}"]), float(np.ravel(interval[f"{a},{b}"])[0]),
                     float(np.ravel(interval[f"{a},{b}"])[1])) for a, b in pairs}


def performance_profiles(scores: dict[str, np.ndarray], taus: np.ndarray, reps: int = 2000, seed: int = 0):
    """Run-score distributions: for each tau, the fraction of runs (averaged over tasks) scoring above
    tau, with 95% stratified-bootstrap bands: ({label: [len(taus)]}, {label: [2, len(taus)]})."""
    from rliable import library as rly

    with _seeded(seed):
        return rly.create_performance_profile(scores, taus, reps=reps)
