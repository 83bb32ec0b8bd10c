"""`python -m softrl_jax.train --algo=X --preset=Y [flags] --explain`: the resolved configuration, and
for every field its value, the layer it came from (default / per-task / preset / preset per-task /
flag, `algos.LAYERS`) and the source cited for that value; then what is known to differ from the
paper or code the preset reproduces.

Sources come from the algorithm's Config and its presets (`algos.presets(algo)`, softrl_jax/presets):

- default: the field's own doc (`LoopConfig` or the algorithm's `Config`), which names its source;
- per-task: `presets.task_source`;
- preset: `presets.sources[preset][field]`, else `[preset]["*"]` (one citation for the rest);
- preset per-task: `presets.preset_task_sources[preset]`;
- flag: the command line.

Known differences: `presets.differences[preset]`, the environment (Brax and Playground tasks
are not the papers' gym MuJoCo tasks), and every flag that replaces a value the preset, the
per-task table or a paper default set.
"""

from __future__ import annotations

from typing import Any, Mapping

from softrl_jax import algos
from softrl_jax.checkpoint import MAY_CHANGE
from softrl_jax.config import LoopConfig, RunConfig, coerce, field_meta, field_types

# Brax's and Playground's versions of the MuJoCo tasks are not gym v2's: say so wherever a preset
# reproduces a paper on them.
ENV_NOTES = {
    "brax": "environment {env}: Brax's MJX port of the task, not gym v2 MuJoCo (MuJoCo 1.50) as in the papers: "
            "dynamics, observations, reset noise and reward terms differ, so published numbers are a guide, "
            "not a target",
    "playground": "environment {env}: MuJoCo Playground's DM Control task (action repeat and episode length from "
                  "its config), not a task of the papers",
    "gymnax": "environment {env}: gymnax's JAX port of the classic-control or MinAtar task, not a task of the papers",
}


# Flags that never make a run differ from its source: where and how it runs (checkpoint.MAY_CHANGE),
# where it writes, how many seeds, and the environment (its own note above).
NOT_A_DIFFERENCE = MAY_CHANGE | {"out", "seed", "seeds", "env"}


def _value(v: Any) -> str:
    if isinstance(v, tuple):
        return ",".join(map(str, v))
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def field_source(algo: str, preset: str, layer: str, name: str) -> str:
    """The citation of field `name`'s value set by `layer` (module docstring)."""
    ps = algos.presets(algo)
    if layer == "default":
        meta = field_meta(LoopConfig).get(name) or field_meta(algos.get(algo).Config)[name]
        return meta.metadata.get("doc", "")
    if layer == "per-task":
        return ps.task_source
    if layer == "preset":
        return ps.source(preset, name)
    if layer == "preset per-task":
        return ps.preset_task_sources.get(preset, "")
    return "command line"


def provenance(algo: str, preset: str | None, overrides: Mapping[str, Any] | None):
    """(RunConfig, {field: [(layer, value set there), ...] lowest first}) for a run."""
    rc = algos.run_config(algo, preset, overrides)
    module, _, _, layers = algos.config_layers(algo, rc.preset, overrides)
    history: dict[str, list[tuple[str, Any]]] = {}
    for name, value in rc.flat().items():
        if name not in ("algo", "preset"):
            history[name] = [("default", getattr(LoopConfig(), name, None) if name in field_meta(LoopConfig)
                              else getattr(module.Config(), name))]
    for layer, values in layers:
        for name, value in values.items():
            history[name].append((layer, value))
    return rc, history


def differences(rc: RunConfig, history: Mapping[str, list]) -> list[str]:
    """What this configuration is known to do differently from what its preset reproduces."""
    out = list(algos.presets(rc.algo).differences.get(rc.preset, []))
    backend = rc.loop.env.split(":")[0]
    if backend in ENV_NOTES:
        out.append(ENV_NOTES[backend].format(env=rc.loop.env))
    final = rc.flat()
    types = {**field_types(LoopConfig), **field_types(algos.get(rc.algo).Config)}
    for name, steps in history.items():
        if name in NOT_A_DIFFERENCE:
            continue
        if steps[-1][0] == "flag" and len(steps) > 1:
            below_layer, below = steps[-2]
            if final[name] != coerce(name, below, types[name]):
                out.append(f"--{name}={_value(final[name])} (flag) replaces the {below_layer} value "
                           f"{_value(below)} ({field_source(rc.algo, rc.preset, below_layer, name)})")
    return out


def explain(algo: str, preset: str | None = None, overrides: Mapping[str, Any] | None = None) -> str:
    """The text `--explain` prints. Raises ConfigError for a configuration `run_config` refuses."""
    rc, history = provenance(algo, preset, overrides)
    flat = rc.flat()
    rows = [(name, _value(flat[name]), steps[-1][0], field_source(algo, rc.preset, steps[-1][0], name))
            for name, steps in history.items()]
    w_name = max(len(r[0]) for r in rows)
    w_value = min(24, max(len(r[1]) for r in rows))
    w_layer = max(len(layer) for layer in algos.LAYERS)
    lines = [f"{algo} --preset={rc.preset} --env={rc.loop.env}: the resolved configuration",
             f"layers, lowest first: {' < '.join(algos.LAYERS)}", "",
             f"{'field':<{w_name}}  {'value':<{w_value}}  {'from':<{w_layer}}  source"]
    for name, value, layer, source in rows:
        lines.append(f"{name:<{w_name}}  {value:<{w_value}}  {layer:<{w_layer}}  {source}")
    diffs = differences(rc, history)
    lines += ["", "Known differences from the sources:" if diffs else "Known differences from the sources: none recorded"]
    lines += [f"- {d}" for d in diffs]
    return "\n".join(lines)
