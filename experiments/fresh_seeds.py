"""Every `quick` preset on seeds that no test and no tuning run used (issue 22, item 6).

Each algorithm trains its `quick` preset, as `make demo` / `make sweep` run it, with 8 vmapped seeds
starting at --seed (default 100; the tests use 0-3, the preset tuning runs 0-7). The final greedy
evaluation of each seed is compared with the preset's promise:

- Pendulum-v1 (dspg, sac, ddpg, sql): mean > -400 and most seeds (at least 6 of 8) > -400;
- CartPole-v1 (dqn, soft_dqn and the on-policy a2c_naive, a2c_soft, soft_dqn_pg): mean >= 450 and at
  least 6 of 8 seeds >= 400.

    python experiments/fresh_seeds.py [--algos=dqn,soft_dqn] [--seed=100] [--seeds=8] [--out=reports/fresh-seeds]

Finished algorithms are skipped (their run folder's summary.json), so the script resumes where it
stopped. Writes <out>/fresh_seeds.json and fresh_seeds.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from softrl_jax.config import ConfigError
from softrl_jax.io.signals import Children, Interrupted
from softrl_jax.train import parse_flags, show_help

PROMISES = {  # env -> (mean must reach, each seed's bar, seeds that must clear it out of 8)
    "gymnax:Pendulum-v1": (-400.0, -400.0, 6),
    "gymnax:CartPole-v1": (450.0, 400.0, 6),
}
ALGOS = ("dqn", "soft_dqn", "a2c_soft", "soft_dqn_pg", "a2c_naive", "sac", "ddpg", "dspg", "sql")


def finals(out: Path) -> tuple[int, list[float]]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    last = max(r["step"] for r in rows)
    by_seed = {r["seed"]: r["eval_return"] for r in rows if r["step"] == last}
    return last, [by_seed[s] for s in sorted(by_seed)]


def options(argv) -> argparse.Namespace:
    """The flags as attributes; ConfigError names a bad one (exit 2 in main)."""
    flags = parse_flags(argv)
    o = argparse.Namespace(algos=",".join(ALGOS), seed="100", seeds="8", out="reports/fresh-seeds")
    unknown = sorted(set(flags) - set(vars(o)))
    if unknown:
        raise ConfigError(f"unknown flags {unknown}; valid: --algos --seed --seeds --out")
    vars(o).update(flags)
    bad = [a for a in o.algos.split(",") if a not in ALGOS]
    if bad or not o.algos:
        raise ConfigError(f"--algos={o.algos!r} is not valid; valid choices: {', '.join(ALGOS)} (comma-separated)")
    for name, low in (("seed", 0), ("seeds", 1)):
        text = getattr(o, name)
        try:
            setattr(o, name, int(text))
        except ValueError:
            raise ConfigError(f"--{name}={text!r} is not a valid int") from None
        if getattr(o, name) < low:
            raise ConfigError(f"--{name}={getattr(o, name)} is out of range; must be >= {low}")
    if not o.out:
        raise ConfigError("--out is empty; give a folder")
    return o


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if show_help(argv, __doc__):
        return 0
    try:
        a = options(argv)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    root = Path(a.out)
    results = json.loads((root / "fresh_seeds.json").read_text()) if (root / "fresh_seeds.json").exists() else {}
    for algo in a.algos.split(","):
        out = root / algo
        if not (out / "summary.json").exists():
            cmd = [sys.executable, "-m", "softrl_jax.train", f"--algo={algo}", "--preset=quick",
                   f"--seeds={a.seeds}", f"--seed={a.seed}", f"--out={out}", "--progress=false", "--wandb=off"]
            print(" ".join(cmd[1:]), flush=True)
            try:
                with Children() as children:
                    rc = children.run(cmd)
            except Interrupted as e:
                print(e, file=sys.stderr)
                return e.exit_code
            if rc != 0:
                return rc
        config = json.loads((out / "config.json").read_text())
        step, ret = finals(out)
        mean_bar, each_bar, need = PROMISES[config["env"]]
        ok_seeds = int(sum(r >= each_bar for r in ret))
        results[algo] = {"env": config["env"], "steps": step, "seeds": list(range(a.seed, a.seed + a.seeds)),
                         "final_returns": [round(r, 1) for r in ret], "mean": round(float(np.mean(ret)), 1),
                         "min": round(float(np.min(ret)), 1), "max": round(float(np.max(ret)), 1),
                         "seeds_at_bar": ok_seeds, "mean_bar": mean_bar, "each_bar": each_bar,
                         "holds": bool(np.mean(ret) >= mean_bar and ok_seeds >= need)}
        root.mkdir(parents=True, exist_ok=True)
        (root / "fresh_seeds.json").write_text(json.dumps(results, indent=1))
        print(algo, results[algo], flush=True)
    lines = ["| algo | env | steps | mean | min-max | seeds at the bar | holds |", "|---|---|---|---|---|---|---|"]
    for algo, r in results.items():
        lines.append(f"| {algo} | {r['env']} | {r['steps']} | {r['mean']} (bar {r['mean_bar']}) | {r['min']} to "
                     f"{r['max']} | {r['seeds_at_bar']}/{len(r['final_returns'])} >= {r['each_bar']} | "
                     f"{'yes' if r['holds'] else '**no**'} |")
    (root / "fresh_seeds.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
