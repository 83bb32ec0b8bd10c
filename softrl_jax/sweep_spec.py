"""W&B sweep files (the same YAML `wandb sweep` reads): load and check one, and expand it into points.

`load_spec` checks every key and value with one-line ConfigErrors; `expand` turns a spec into the list
of parameter points of its method (grid: every combination; random and bayes: `count` draws of W&B's
distributions, seeded).
"""

from __future__ import annotations

import itertools
import json
import math
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from softrl_jax.config import ConfigError

TOP_KEYS = ("program", "method", "metric", "parameters", "command", "name", "description", "project",
            "entity", "early_terminate", "run_cap", "controller")
METHODS = ("grid", "random", "bayes")
DISTRIBUTIONS = ("constant", "categorical", "int_uniform", "uniform", "q_uniform", "log_uniform",
                 "log_uniform_values", "q_log_uniform_values", "inv_log_uniform_values", "normal",
                 "q_normal", "log_normal", "q_log_normal")
SPEC_KEYS = ("value", "values", "probabilities", "distribution", "min", "max", "q", "mu", "sigma")


def load_spec(path: str | os.PathLike) -> dict:
    """Read and check a W&B sweep YAML: top-level keys, method and every parameter's form."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"sweep file {str(path)!r} does not exist; valid choices: "
                          + ", ".join(str(x) for x in sorted(Path("sweeps").glob("*.yaml"))))
    try:
        spec = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"sweep file {str(path)!r} is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(spec, dict):
        raise ConfigError(f"sweep file {str(path)!r} must hold a mapping with 'method' and 'parameters'")
    for key in spec:
        if key not in TOP_KEYS:
            raise ConfigError(f"sweep file {str(path)!r}: unknown key {key!r}; valid keys: {', '.join(TOP_KEYS)}")
    if spec.get("method") not in METHODS:
        raise ConfigError(f"sweep file {str(path)!r}: method={spec.get('method')!r} is not valid; "
                          f"valid choices: {', '.join(METHODS)}")
    params = spec.get("parameters")
    if not isinstance(params, dict) or not params:
        raise ConfigError(f"sweep file {str(path)!r}: 'parameters' must map names to value specs")
    for name, ps in params.items():
        _check_param(name, ps, spec["method"])
    return spec


def _check_param(name: str, ps: Any, method: str) -> None:
    where = f"parameter {name!r}"
    if not isinstance(ps, dict):
        raise ConfigError(f"{where} must be a mapping such as {{values: [...]}} or {{value: x}}")
    if "parameters" in ps:
        raise ConfigError(f"{where}: nested parameters are not supported; use flat --name=value fields")
    for key in ps:
        if key not in SPEC_KEYS:
            raise ConfigError(f"{where}: unknown key {key!r}; valid keys: {', '.join(SPEC_KEYS)}")
    dist = _distribution(name, ps)
    if dist not in DISTRIBUTIONS:
        raise ConfigError(f"{where}: distribution={dist!r} is not valid; valid choices: {', '.join(DISTRIBUTIONS)}")
    if dist == "constant" and "value" not in ps:
        raise ConfigError(f"{where}: distribution 'constant' needs 'value'")
    if dist == "categorical":
        if not isinstance(ps.get("values"), list) or not ps["values"]:
            raise ConfigError(f"{where}: 'values' must be a non-empty list")
        probs = ps.get("probabilities")
        if probs is not None and (len(probs) != len(ps["values"]) or abs(sum(probs) - 1.0) > 1e-6
                                  or min(probs) < 0):
            raise ConfigError(f"{where}: 'probabilities' must be {len(ps['values'])} non-negative numbers summing to 1")
    if dist in ("normal", "q_normal", "log_normal", "q_log_normal"):
        pass  # mu and sigma default to 0 and 1 as in W&B
    elif dist not in ("constant", "categorical"):
        for key in ("min", "max"):
            if not isinstance(ps.get(key), (int, float)) or isinstance(ps.get(key), bool):
                raise ConfigError(f"{where}: distribution {dist!r} needs numeric 'min' and 'max'")
        if not ps["min"] <= ps["max"]:
            raise ConfigError(f"{where}: min={ps['min']} must be <= max={ps['max']}")
        if dist in ("log_uniform_values", "q_log_uniform_values", "inv_log_uniform_values") and ps["min"] <= 0:
            raise ConfigError(f"{where}: distribution {dist!r} needs min > 0")
    if method == "grid" and dist not in ("constant", "categorical", "int_uniform", "q_uniform"):
        raise ConfigError(f"{where}: grid search needs 'values' (or int_uniform / q_uniform); got distribution {dist!r}")


def _distribution(name: str, ps: dict) -> str:
    """W&B's inference: value -> constant, values -> categorical, int min/max -> int_uniform, else uniform."""
    if "distribution" in ps:
        return ps["distribution"]
    if "value" in ps:
        return "constant"
    if "values" in ps:
        return "categorical"
    if "min" in ps and "max" in ps:
        ints = all(isinstance(ps[k], int) and not isinstance(ps[k], bool) for k in ("min", "max"))
        return "int_uniform" if ints else "uniform"
    raise ConfigError(f"parameter {name!r} needs 'value', 'values', or 'min' and 'max'")


def _grid_values(ps: dict) -> list:
    dist = _distribution("", ps)
    if dist == "constant":
        return [ps["value"]]
    if dist == "categorical":
        return list(ps["values"])
    if dist == "int_uniform":
        return list(range(int(ps["min"]), int(ps["max"]) + 1))
    q = ps.get("q", 1.0)  # q_uniform: multiples of q inside [min, max]
    return [float(v) for v in np.arange(math.ceil(ps["min"] / q), math.floor(ps["max"] / q) + 1) * q]


def _round_q(x: float, q: float) -> float:
    return float(np.round(x / q) * q)


def sample_value(ps: dict, rng: np.random.Generator) -> Any:
    """One draw from a parameter spec with W&B's semantics (log_uniform: min/max are natural-log exponents)."""
    dist = _distribution("", ps)
    lo, hi, q = ps.get("min"), ps.get("max"), ps.get("q", 1.0)
    mu, sigma = ps.get("mu", 0.0), ps.get("sigma", 1.0)
    if dist == "constant":
        return ps["value"]
    if dist == "categorical":
        return ps["values"][int(rng.choice(len(ps["values"]), p=ps.get("probabilities")))]
    if dist == "int_uniform":
        return int(rng.integers(int(lo), int(hi) + 1))
    if dist == "uniform":
        return float(rng.uniform(lo, hi))
    if dist == "q_uniform":
        return float(np.clip(_round_q(rng.uniform(lo, hi), q), lo, hi))
    if dist == "log_uniform":
        return float(math.exp(rng.uniform(lo, hi)))
    if dist == "log_uniform_values":
        return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    if dist == "q_log_uniform_values":
        return float(_round_q(math.exp(rng.uniform(math.log(lo), math.log(hi))), q))
    if dist == "inv_log_uniform_values":
        return float(1.0 / math.exp(rng.uniform(math.log(1.0 / hi), math.log(1.0 / lo))))
    if dist == "normal":
        return float(rng.normal(mu, sigma))
    if dist == "q_normal":
        return _round_q(rng.normal(mu, sigma), q)
    if dist == "log_normal":
        return float(math.exp(rng.normal(mu, sigma)))
    return _round_q(math.exp(rng.normal(mu, sigma)), q)  # q_log_normal


def split_params(spec: dict) -> tuple[dict[str, Any], dict[str, dict]]:
    """(fixed values, swept parameter specs) of a spec's parameters."""
    fixed, swept = {}, {}
    for name, ps in spec["parameters"].items():
        if _distribution(name, ps) == "constant":
            fixed[name] = ps["value"]
        elif _distribution(name, ps) == "categorical" and len(ps["values"]) == 1:
            fixed[name] = ps["values"][0]
        else:
            swept[name] = ps
    return fixed, swept


def expand(spec: dict, count: int | None = None, seed: int = 0, exclude: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Swept points of a spec, each a dict name -> value (fixed values not included).

    grid: the cartesian product in YAML order, the LAST parameter varying fastest (put shape-keeping
    parameters last so the first COUNT points share one compiled program); `count` keeps the first
    points. random (and bayes, which needs W&B's server): `count` draws (default 1) from a numpy RNG
    seeded with `seed`; duplicate draws are kept only once. Names in `exclude` are not swept."""
    _, swept = split_params(spec)
    swept = {k: v for k, v in swept.items() if k not in exclude}
    if not swept:
        return [{}]
    if spec["method"] == "grid":
        names = list(swept)
        points = [dict(zip(names, combo)) for combo in itertools.product(*(_grid_values(swept[n]) for n in names))]
        return points[:count] if count else points
    rng = np.random.default_rng(seed)
    points, seen = [], set()
    for _ in range(count or 1):
        point = {name: sample_value(ps, rng) for name, ps in swept.items()}
        key = json.dumps(point, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            points.append(point)
    return points
