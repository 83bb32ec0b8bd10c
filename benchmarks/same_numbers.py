"""Same numbers as another commit? Every algorithm's `quick` preset (a few thousand steps, 2 seeds) and a
2-point sweep, trained at this working tree and at GIT_REF (a `git worktree`), each in its own process
with the same Python; their metrics.jsonl must match byte for byte except the wall-clock fields
(`time_s`, `env_steps_per_s`). For refactors that must not change a number (issue 21).

    .venv/bin/python benchmarks/same_numbers.py --ref=GIT_REF [--algos=sac,dqn] [--out=/tmp/same-numbers]

Prints one line per run (identical, or the first differing row and field) and exits 0 only when every
run is identical.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLOCK = ("time_s", "env_steps_per_s")
ALGOS = ("sac", "dspg", "ddpg", "sql", "dqn", "soft_dqn", "a2c_soft", "soft_dqn_pg")
OFF_POLICY = ["--total_steps=3000", "--eval_every=500", "--warmup_steps=1000", "--buffer_size=3000"]
ON_POLICY = ["--total_steps=8192", "--eval_every=2048"]
SWEEP_SPEC = "method: grid\nparameters:\n  actor_lr:\n    values: [0.001, 0.0003]\n"


def rows(path: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if k not in CLOCK} for line in path.read_text().splitlines()]


def first_difference(got: list[dict], want: list[dict]) -> str:
    if len(got) != len(want):
        return f"{len(got)} rows against {len(want)}"
    for i, (a, b) in enumerate(zip(got, want)):
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                return f"row {i} (step {a.get('step')}, seed {a.get('seed')}): {k} = {a.get(k)!r} against {b.get(k)!r}"
    return ""


def train(tree: Path, out: Path, args: list[str]) -> None:
    env = dict(os.environ, PYTHONPATH=str(tree))
    env.pop("XLA_FLAGS", None)
    proc = subprocess.run([sys.executable, "-m", *args, f"--compile_cache={out.parent / 'cache'}"], cwd=tree,
                          env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"error: {' '.join(args)} at {tree} exited {proc.returncode}: {proc.stderr[-500:]}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", required=True, help="the git commit to compare with")
    ap.add_argument("--algos", default=",".join(ALGOS))
    ap.add_argument("--out", default="")
    a = ap.parse_args(argv)
    out = Path(a.out or tempfile.mkdtemp(prefix="same-numbers-"))
    ref_tree = out / "ref-tree"
    if not ref_tree.exists():
        subprocess.run(["git", "worktree", "add", "--detach", "--force", str(ref_tree), a.ref], cwd=ROOT, check=True,
                       capture_output=True)
    spec = out / "sweep.yaml"
    spec.write_text(SWEEP_SPEC)
    jobs = {algo: ["softrl_jax.train", f"--algo={algo}", "--preset=quick", "--seeds=2", "--checkpoint=false",
                   "--wandb=off", "--progress=false",
                   *(ON_POLICY if algo in ("a2c_soft", "soft_dqn_pg", "a2c_naive") else OFF_POLICY)]
            for algo in a.algos.split(",")}
    same = True
    for name, args in [*jobs.items(), ("sweep", None)]:
        results = {}
        for side, tree in (("here", ROOT), ("ref", ref_tree)):
            folder = out / side / name
            if name == "sweep":
                train(tree, folder, ["softrl_jax.sweep", "--algo=sac", "--env=gymnax:Pendulum-v1", "--seeds=2",
                                     f"--sweep_file={spec}", f"--sweep_dir={folder}", "--", *OFF_POLICY,
                                     "--wandb=off", "--progress=false", "--checkpoint=false"])
                files = sorted(folder.glob("*/metrics.jsonl"))
            else:
                train(tree, folder, [*args, f"--out={folder}"])
                files = [folder / "metrics.jsonl"]
            results[side] = [rows(f) for f in files]
        diff = "" if len(results["here"]) == len(results["ref"]) else "another number of points"
        for got, want in zip(results["here"], results["ref"]):
            diff = diff or first_difference(got, want)
        same &= not diff
        print(f"{name:12s} {'identical' if not diff else 'DIFFERS: ' + diff} "
              f"({sum(len(r) for r in results['here'])} rows)", flush=True)
    print(f"{'all identical' if same else 'NOT identical'} to {a.ref} (runs in {out})")
    # the reference checkout is registered with git: unregister it, or `git worktree list` keeps it
    subprocess.run(["git", "worktree", "remove", "--force", str(ref_tree)], cwd=ROOT, capture_output=True)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
