"""The comparison online: a W&B report kept as code (needs `pip install wandb-workspaces`), the twin of
`make report` (python -m softrl_jax.report --wandb_report=ENTITY/PROJECT)."""

from __future__ import annotations

from typing import Sequence


REPORT_METRICS = ("eval_return", "train_return", "critic_loss", "actor_loss", "entropy", "env_steps_per_s")


def comparison_report(entity: str, project: str, envs: Sequence[str], metric: str = "eval_return",
                      algos: Sequence[str] = ()):
    """A W&B report comparing algorithms per environment, the online twin of `make report`.

    One section per environment: a run set filtered to that `env` (and `algos`, if given), grouped by
    the W&B group (algo|env|preset|point), so every line is the mean over that group's seeds with a
    standard-error band; then a bar chart of the final `metric` per group and a parallel-coordinates
    view of the hyperparameters. Building it needs no network; `.save()` does (W&B credentials)."""
    import wandb_workspaces.expr as ex
    import wandb_workspaces.reports.v2 as wr

    blocks = [wr.P(f"Deterministic evaluation return (`{metric}`) of every algorithm, grouped by W&B group = "
                   "algorithm | environment | preset | sweep point: each line is the mean over that group's seeds "
                   "(one W&B run per seed), the band its standard error. Logged by softrl-jax "
                   "(`make sweep`, `python -m softrl_jax.train --wandb=auto`).")]
    for env in envs:
        filters = [ex.Config("env") == env]
        if algos:
            filters.append(ex.Config("algo").isin(list(algos)))
        runset = wr.Runset(entity=entity, project=project, name=env, filters=filters, groupby=["group"])
        panels = [wr.LinePlot(title=f"{env}: {m}", x="Step", y=[m], groupby_aggfunc="mean",
                              groupby_rangefunc="stderr", smoothing_type="none",
                              layout=wr.Layout(x=(i % 2) * 12, y=(i // 2) * 8, w=12, h=8))
                  for i, m in enumerate([metric, *[m for m in REPORT_METRICS if m != metric]])]
        panels.append(wr.BarPlot(title=f"{env}: final {metric} per group", metrics=[metric],
                                 groupby_aggfunc="mean", groupby_rangefunc="stderr",
                                 layout=wr.Layout(x=0, y=24, w=12, h=8)))
        panels.append(wr.ParallelCoordinatesPlot(
            title=f"{env}: hyperparameters -> {metric}",
            columns=[wr.ParallelCoordinatesPlotColumn(metric=wr.Config(c)) for c in
                     ("algo", "preset", "actor_lr", "critic_lr", "tau", "alpha", "reward_scale", "clip_norm",
                      "num_samples")] + [wr.ParallelCoordinatesPlotColumn(metric=wr.SummaryMetric(metric))],
            layout=wr.Layout(x=12, y=24, w=12, h=8)))
        blocks += [wr.H2(env), wr.PanelGrid(runsets=[runset], panels=panels)]
    return wr.Report(project=project, entity=entity, title="softrl-jax: algorithm comparison",
                     description="DSPG, SAC, DDPG and SQL side by side, one W&B run per seed", blocks=blocks)
