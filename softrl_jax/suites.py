"""Benchmark suites as data: `benchmarks/suites/<name>.toml`, read and validated into a `Suite` (tasks,
algorithms with their presets, seeds, step budget, evaluation cadence and episodes, reference scores with
their citations, the declared cost). Run by `python -m softrl_jax.benchmark`; docs/benchmark-suites.md."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

from softrl_jax.config import ConfigError

SUITES_DIR = Path(__file__).resolve().parent.parent / "benchmarks" / "suites"
ROOT = SUITES_DIR.parent.parent


@dataclasses.dataclass(frozen=True)
class Reference:
    name: str
    citation: str
    algo: str
    notes: str
    scores: dict[str, tuple[float, float]]  # task -> (mean, std)


@dataclasses.dataclass(frozen=True)
class Suite:
    name: str
    description: str
    tasks: tuple[str, ...]
    algos: dict[str, str]  # algorithm -> preset
    seeds: int
    seed: int
    total_steps: int
    eval_every: int
    eval_episodes: int
    score_max: float
    hardware: str
    cost: str
    task_notes: str
    references: tuple[Reference, ...]
    path: Path

    def task_name(self, env: str) -> str:
        return task_name(env)


def task_name(env: str) -> str:
    """The results folder of a task: the environment name without its backend (playground:CheetahRun ->
    CheetahRun, brax:hopper -> hopper)."""
    return env.split(":", 1)[1].replace(":", "-") if ":" in env else env


SUITE_KEYS = {"name": str, "description": str, "tasks": list, "algos": dict, "seeds": int, "seed": int,
              "total_steps": int, "eval_every": int, "eval_episodes": int, "score_max": (int, float),
              "hardware": str, "cost": str, "task_notes": str, "references": list}
REQUIRED = ("name", "tasks", "algos", "seeds", "total_steps", "eval_every", "eval_episodes")
REFERENCE_KEYS = {"name": str, "citation": str, "algo": str, "notes": str, "scores": dict}
HARDWARE = ("any", "cpu", "gpu")


def suite_choices() -> list[str]:
    return sorted(p.stem for p in SUITES_DIR.glob("*.toml"))


def _type_name(tp) -> str:
    return " or ".join(t.__name__ for t in tp) if isinstance(tp, tuple) else tp.__name__


def _check_type(where: str, key: str, value: Any, tp) -> None:
    if isinstance(value, bool) or not isinstance(value, tp):
        raise ConfigError(f"{where}: {key} = {value!r} is a {type(value).__name__}; must be a {_type_name(tp)}")


def load_suite(name_or_path: str) -> Suite:
    """Read and validate a suite file (ConfigError, one line, naming the value and the valid choices)."""
    path = _suite_path(name_or_path)
    where = str(path)
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{where} is not valid TOML ({e})") from None
    _check_fields(where, data, path.stem)
    _check_tasks(where, data["tasks"])
    _check_algos(where, data["algos"])
    refs = tuple(_reference(f"{where}: references[{i}]", ref, data["tasks"])
                 for i, ref in enumerate(data.get("references", [])))
    return Suite(data["name"], data.get("description", ""), tuple(data["tasks"]), dict(data["algos"]), data["seeds"],
                 data.get("seed", 0), data["total_steps"], data["eval_every"], data["eval_episodes"],
                 float(data.get("score_max", 1000)), data.get("hardware", "any"), data.get("cost", ""),
                 data.get("task_notes", ""), refs, path)


def _suite_path(name_or_path: str) -> Path:
    """A suite name in benchmarks/suites/, or a path to a .toml file."""
    path = Path(name_or_path)
    if not (name_or_path.endswith(".toml") or path.is_file()):
        path = SUITES_DIR / f"{name_or_path}.toml"
        if not path.is_file():
            raise ConfigError(f"unknown suite {name_or_path!r}; valid suites: {', '.join(suite_choices())} "
                              f"(files in {SUITES_DIR.relative_to(ROOT)}/), or a path to a .toml suite file")
    elif not path.is_file():
        raise ConfigError(f"--suite={name_or_path!r} is not a file")
    return path


def _check_fields(where: str, data: dict, stem: str) -> None:
    """Keys known and present, types, ranges, and the name matching the file's."""
    for key in data:
        if key not in SUITE_KEYS:
            raise ConfigError(f"{where}: unknown key {key!r}; valid keys: {', '.join(SUITE_KEYS)}")
    for key in REQUIRED:
        if key not in data:
            raise ConfigError(f"{where}: missing key {key!r} (required: {', '.join(REQUIRED)})")
    for key, value in data.items():
        _check_type(where, key, value, SUITE_KEYS[key])
    for key, low in (("seeds", 1), ("seed", 0), ("total_steps", 1), ("eval_every", 1), ("eval_episodes", 1)):
        if key in data and data[key] < low:
            raise ConfigError(f"{where}: {key} = {data[key]} is out of range; must be >= {low}")
    if data["total_steps"] % data["eval_every"]:
        raise ConfigError(f"{where}: total_steps = {data['total_steps']} is not a multiple of eval_every = "
                          f"{data['eval_every']}")
    if not data.get("score_max", 1) > 0:
        raise ConfigError(f"{where}: score_max = {data['score_max']} is out of range; must be > 0")
    if data.get("hardware", "any") not in HARDWARE:
        raise ConfigError(f"{where}: hardware = {data['hardware']!r} is not valid; valid choices: {', '.join(HARDWARE)}")
    if data["name"] != stem:
        raise ConfigError(f"{where}: name = {data['name']!r} differs from the file's name {stem!r}")


def _check_tasks(where: str, tasks: list) -> None:
    """Known environment names, each once, with distinct results folder names."""
    from softrl_jax import envs

    if not tasks:
        raise ConfigError(f"{where}: tasks is empty")
    for t in tasks:
        if not isinstance(t, str):
            raise ConfigError(f"{where}: task {t!r} is not a string")
        try:
            envs.check_env_name(t)
        except ValueError as e:
            raise ConfigError(f"{where}: {e}") from None
        if tasks.count(t) > 1:
            raise ConfigError(f"{where}: task {t!r} is listed twice")
    names = [task_name(t) for t in tasks]
    if len(set(names)) < len(names):
        raise ConfigError(f"{where}: two tasks share a results folder name: {', '.join(names)}")


def _check_algos(where: str, chosen: dict) -> None:
    """Registered algorithms, each with one of its presets."""
    from softrl_jax import algos

    if not chosen:
        raise ConfigError(f"{where}: algos is empty; give algorithm = \"preset\" pairs")
    for algo, preset in chosen.items():
        if algo not in algos.ALGOS:
            raise ConfigError(f"{where}: unknown algorithm {algo!r} in algos; valid choices: {', '.join(algos.ALGOS)}")
        presets = algos.presets(algo).values
        if not isinstance(preset, str) or preset not in presets:
            raise ConfigError(f"{where}: algos.{algo} = {preset!r} is not a preset of {algo}; valid choices: "
                              f"{', '.join(presets)}")


def _reference(at: str, ref: Any, tasks: list) -> Reference:
    """One [[references]] table: published scores [mean, std] for some of the suite's tasks."""
    if not isinstance(ref, dict):
        raise ConfigError(f"{at} is not a table")
    for key in ref:
        if key not in REFERENCE_KEYS:
            raise ConfigError(f"{at}: unknown key {key!r}; valid keys: {', '.join(REFERENCE_KEYS)}")
    for key in ("name", "citation", "algo", "scores"):
        if key not in ref:
            raise ConfigError(f"{at}: missing key {key!r}")
    for key, value in ref.items():
        _check_type(at, key, value, REFERENCE_KEYS[key])
    scores = {}
    for task, value in ref["scores"].items():
        if task not in tasks:
            raise ConfigError(f"{at}: scores for {task!r}, which is not one of the suite's tasks: {', '.join(tasks)}")
        if (not isinstance(value, list) or len(value) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
            raise ConfigError(f"{at}: scores.{task!r} = {value!r}; must be [mean, std]")
        scores[task] = (float(value[0]), float(value[1]))
    return Reference(ref["name"], ref["citation"], ref["algo"], ref.get("notes", ""), scores)
