"""A SIGKILL-and-resume round trip with real processes on whatever device JAX picks (a GPU on the lent
machine): one uninterrupted run, then the same command killed with SIGKILL twice (once mid-run, once
later) and started again until it finishes. Passes when metrics.jsonl (wall-clock fields aside) and the
final carry are bit-identical. Writes a JSON verdict.

    python benchmarks/device/kill_resume.py --json=OUT.json [--env=brax:hopper] [--seeds=4] [--num_envs=64]
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLOCK = ("time_s", "env_steps_per_s")


def rows(out: Path) -> list[dict]:
    path = out / "metrics.jsonl"
    if not path.exists():
        return []
    return [{k: v for k, v in json.loads(line).items() if k not in CLOCK} for line in path.read_text().splitlines()]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", required=True)
    ap.add_argument("--env", default="brax:hopper")
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--num_envs", type=int, default=64)
    ap.add_argument("--chunks", type=int, default=12)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kill-resume-"))
    every = 8 * a.num_envs  # env steps per seed and chunk
    run = ["--algo=sac", f"--env={a.env}", "--preset=quick", f"--seeds={a.seeds}", f"--num_envs={a.num_envs}",
           f"--total_steps={every * a.chunks}", f"--eval_every={every}", f"--warmup_steps={2 * every}",
           "--eval_episodes=4", "--progress=false", "--checkpoint_every=0", "--wandb=off",
           f"--compile_cache={work / 'cache'}"]
    result: dict = {"argv": run, "device": None}

    def start(out: Path) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "softrl_jax.train", *run, f"--out={out}"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def save() -> None:
        Path(a.json).write_text(json.dumps(result, indent=1))

    t = time.time()
    ref = work / "ref"
    p = start(ref)
    _, err = p.communicate(timeout=400)
    result["reference"] = {"rc": p.returncode, "s": round(time.time() - t, 1), "rows": len(rows(ref)),
                           "stderr_tail": err[-600:] if p.returncode else ""}
    save()
    if p.returncode != 0:
        return 1
    per_chunk = a.seeds
    out, kills = work / "killed", []
    for target in (3, 7):  # evaluated chunks in metrics.jsonl before each SIGKILL
        p = start(out)
        deadline = time.time() + 300
        while len(rows(out)) < per_chunk * target and p.poll() is None and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)
        p.send_signal(signal.SIGKILL)
        p.wait()
        kills.append({"after_rows": len(rows(out)), "rc": p.returncode})
    p = start(out)
    _, err = p.communicate(timeout=400)
    got, want = rows(out), rows(ref)
    from softrl_jax.checkpoint import read_carry

    import jax
    import numpy as np

    carry_same = None
    try:
        c1, _ = read_carry(out)
        c2, _ = read_carry(ref)
        carry_same = all(x.dtype == y.dtype and x.shape == y.shape and np.asarray(x).tobytes() == np.asarray(y).tobytes()
                         for x, y in zip(jax.tree.leaves(c1), jax.tree.leaves(c2), strict=True))
    except Exception as e:  # reported, not raised: the verdict says what failed
        result["carry_error"] = repr(e)[:300]
    result.update(device=str(jax.devices()[0]), kills=kills, resumed_rc=p.returncode,
                  resumed_stderr_tail=err[-600:] if p.returncode else "",
                  rows=len(got), metrics_identical=got == want, carry_identical=carry_same,
                  killed_as_planned=all(k["rc"] == -signal.SIGKILL for k in kills),
                  total_s=round(time.time() - t, 1))
    result["pass"] = bool(result["metrics_identical"] and carry_same and result["killed_as_planned"])
    save()
    print(json.dumps({k: result[k] for k in ("device", "kills", "rows", "metrics_identical", "carry_identical",
                                             "pass", "total_s")}))
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
