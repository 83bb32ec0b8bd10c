"""Presets as data, apart from the maths (softrl_jax/algos): every algorithm's named configurations, the
source of every value they set, and what is known to differ from those sources (`--explain` prints
all three). One module per algorithm family; softrl_jax/algos' registry (`AlgoSpec.presets`) names
the `Presets` of each algorithm.

A run's configuration is built in layers (softrl_jax/algos `run_config`): the Config defaults (the
paper, cited in each field's doc) < `task_defaults[task]` < `values[preset]` <
`preset_task_defaults[preset][task]` < the command line's flags."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence


@dataclasses.dataclass(frozen=True)
class Presets:
    """values: {preset: {field: value}}, the first preset the algorithm's default; sources: {preset:
    {field: citation}}, "*" citing every field not named; differences: {preset: [known difference]};
    task_defaults: {task: {field: value}} below every preset (the paper's per-task values) and
    task_source their citation; preset_task_defaults / preset_task_sources: per-task values of one
    preset, above the preset itself."""

    values: Mapping[str, Mapping[str, Any]]
    sources: Mapping[str, Mapping[str, str]]
    differences: Mapping[str, Sequence[str]]
    task_defaults: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    task_source: str = ""
    preset_task_defaults: Mapping[str, Mapping[str, Mapping[str, Any]]] = dataclasses.field(default_factory=dict)
    preset_task_sources: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def default(self) -> str:
        return next(iter(self.values))

    def source(self, preset: str, field: str) -> str:
        """The citation of a value `preset` sets ("" when there is none)."""
        cited = self.sources.get(preset, {})
        return cited.get(field, cited.get("*", ""))
