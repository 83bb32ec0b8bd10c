"""Maximum-entropy IRL (Ziebart et al. 2008) recovers a gridworld reward from demonstrations.

For each of --seeds seeds: a random true reward (linear in the task's features), demonstrations
sampled from its maximum-entropy policy, then MaxEnt IRL and two baselines fitted on the first n
demonstrations for every n in --demos, all as ONE jitted program (vmapped over seeds and set sizes):

    maxent      MaxEnt IRL, eq. 6's gradient with optax Adam (or --optimizer=eg, the paper's
                exponentiated gradient)
    projection  Abbeel & Ng (2004)'s projection method: feature matching without entropy
    frequency   the demonstrations' state frequencies, projected on the features

Each learned reward is scored by its Pearson correlation with the true reward over states and by
the value gap (optimal - value) / (optimal - uniform) of the policy that is optimal for it, under the
true reward (0: optimal; 1: no better than random actions). Writes:

    <out>/summary.json   reward_correlation and value_gap (MaxEnt, mean over seeds, largest set),
                         every method's curve, the flags, the wall time
    <out>/summary.md     the same as a table
    <out>/curve.png      value gap and reward correlation against the number of demonstrations
    <out>/rewards.png    true and learned reward maps of seed 0 (z-scored)

    .venv/bin/python experiments/maxent_irl.py --out=runs/maxent_irl [--task=objectworld] [--seeds=8]
"""

from __future__ import annotations

import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

import jax
import numpy as np

from softrl_jax.config import ConfigError, field_meta, field_types, parse_value
from softrl_jax.io.signals import exit_on_signal
from softrl_jax.irl.experiment import METHODS, METRICS, IRLConfig, run
from softrl_jax.train import parse_flags

LABELS = {"maxent": "MaxEnt IRL", "projection": "projection (Abbeel & Ng)", "frequency": "demo state frequency"}


def parse_args(argv) -> tuple[Path, IRLConfig]:
    flags = parse_flags(argv)
    out = Path(flags.pop("out", "runs/maxent_irl"))
    valid = ["out", *field_meta(IRLConfig)]
    unknown = sorted(set(flags) - set(valid))
    if unknown:
        raise ConfigError(f"unknown flag --{unknown[0]}; valid flags: {' '.join('--' + v for v in valid)}")
    types = field_types(IRLConfig)
    return out, IRLConfig(**{k: parse_value(k, v, types[k]) for k, v in flags.items()})


def summarise(cfg, result, seconds: float) -> dict:
    curves = {m: {k: {"mean": result[k][i].mean(0).tolist(), "std": result[k][i].std(0).tolist()}
                  for k in METRICS} for i, m in enumerate(METHODS)}
    last = {m: {k: float(result[k][i, :, -1].mean()) for k in ("reward_correlation", "value_gap")}
            for i, m in enumerate(METHODS)}
    opt, val = result["optimal_value"][0, :, -1], result["value"][0, :, -1]
    return {
        "reward_correlation": last["maxent"]["reward_correlation"],
        "value_gap": last["maxent"]["value_gap"],
        "value_gap_of_optimum": float(np.mean((opt - val) / np.abs(opt))),
        "demos": max(cfg.demos),
        "seeds": cfg.seeds,
        "baselines": {m: last[m] for m in METHODS[1:]},
        "demo_sizes": list(cfg.demos),
        "curves": curves,
        "flags": dataclasses.asdict(cfg),
        "seconds": round(seconds, 1),
        "machine": f"{platform.machine()}, {jax.devices()[0].platform}, {jax.device_count()} device(s)",
    }


def write_markdown(path: Path, cfg, summary: dict) -> None:
    lines = [f"# MaxEnt IRL on {cfg.task} {cfg.size}x{cfg.size}, horizon {cfg.horizon}, slip {cfg.slip}, "
             f"{cfg.seeds} seeds ({summary['seconds']} s)", "",
             "value gap = (optimal - value) / (optimal - uniform) of the learned reward's optimal policy "
             "under the true reward; mean +- std over seeds", "",
             "| demos | " + " | ".join(f"{LABELS[m]} corr | {LABELS[m]} gap" for m in METHODS) + " |",
             "|---|" + "---|---|" * len(METHODS)]
    for j, n in enumerate(cfg.demos):
        cells = []
        for m in METHODS:
            c, g = summary["curves"][m]["reward_correlation"], summary["curves"][m]["value_gap"]
            cells.append(f"{c['mean'][j]:.3f} +- {c['std'][j]:.3f} | {g['mean'][j]:.3f} +- {g['std'][j]:.3f}")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    path.write_text("\n".join(lines) + "\n")


def plot_curves(path: Path, cfg, summary: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), dpi=120)
    x = np.asarray(cfg.demos)
    for key, ax, label in (("value_gap", axes[0], "value gap (0 = optimal, 1 = random)"),
                           ("reward_correlation", axes[1], "Pearson correlation with the true reward")):
        for m in METHODS:
            mean, std = np.asarray(summary["curves"][m][key]["mean"]), np.asarray(summary["curves"][m][key]["std"])
            ax.plot(x, mean, marker="o", ms=3, label=LABELS[m])
            ax.fill_between(x, mean - std, mean + std, alpha=0.2)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("demonstrations (line: mean over seeds; band: +- std)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].axhline(0.05, color="grey", ls=":", lw=1)
    axes[1].axhline(0.9, color="grey", ls=":", lw=1)
    axes[0].legend(fontsize="small")
    fig.suptitle(f"{cfg.task} {cfg.size}x{cfg.size}, horizon {cfg.horizon}, slip {cfg.slip}, {cfg.seeds} seeds")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_rewards(path: Path, cfg, result) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    maps = [("true reward", result["true_reward"][0])]
    maps += [(f"{LABELS[m]}\ncorr {result['reward_correlation'][i, 0, -1]:.2f}", result["learned_rewards"][0, i])
             for i, m in enumerate(METHODS)]
    fig, axes = plt.subplots(1, len(maps), figsize=(2.6 * len(maps) + 1.0, 3.0), dpi=120, layout="constrained")
    for ax, (title, r) in zip(axes, maps):
        z = (r - r.mean()) / (r.std() + 1e-12)
        im = ax.imshow(z.reshape(cfg.size, cfg.size), origin="lower", cmap="viridis")
        ax.set_title(title, fontsize="small")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=axes, shrink=0.9, label="reward, z-scored")
    fig.suptitle(f"{cfg.task} seed 0, {max(cfg.demos)} demonstrations", fontsize="small")
    fig.savefig(path)
    plt.close(fig)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return 0
    try:
        out, cfg = parse_args(argv)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    exit_on_signal("one compiled program, nothing written; run the same command again")
    print(f"MaxEnt IRL: {cfg.task} {cfg.size}x{cfg.size}, {cfg.seeds} seeds x {len(cfg.demos)} demonstration-set "
          f"sizes (up to {max(cfg.demos)}), {cfg.iterations} iterations each: compiling and running one program",
          flush=True)
    t0 = time.perf_counter()
    result = run(cfg)
    seconds = time.perf_counter() - t0
    summary = summarise(cfg, result, seconds)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    write_markdown(out / "summary.md", cfg, summary)
    plot_curves(out / "curve.png", cfg, summary)
    plot_rewards(out / "rewards.png", cfg, result)
    print((out / "summary.md").read_text())
    print(f"MaxEnt IRL, {summary['demos']} demonstrations: reward correlation {summary['reward_correlation']:.3f}, "
          f"value gap {summary['value_gap']:.3f} (mean over {cfg.seeds} seeds; {seconds:.0f} s)")
    print(f"wrote {out / 'summary.json'}, {out / 'summary.md'}, {out / 'curve.png'}, {out / 'rewards.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
