"""Count what one vector step of the training loop launches, from the compiled chunk program's HLO.

    python benchmarks/hlo_stats.py [--env=brax:hopper] [--num_envs=4096] [--json=PATH] [train flags...]

Compiles the training chunk (`Trainer.vmap_split()`'s chunk, evaluation excluded) on the default device
and reads the optimised HLO: the chunk is a `while` over vector steps, and everything inside its body
runs once per step. Per step it reports the kernels (fusions and library calls: cuBLAS/cuDNN custom
calls on a GPU, YNNPACK fusions and dots on a CPU), the copies, and the control flow that needs the
host on a GPU: every `conditional` reads its predicate back to the host, and every `while` without a
known trip count reads its condition back each iteration (XLA:GPU's classic thunks), so each is a
host synchronisation per step. Nested computations (fusion bodies) are not counted as kernels.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter


def computations(hlo: str) -> dict[str, list[str]]:
    """name -> instruction lines of every computation in an HLO module's text."""
    comps, name = {}, None
    for line in hlo.splitlines():
        m = re.match(r"^(?:ENTRY )?%?([\w.\-]+) .*\{$", line)
        if m and not line.startswith(" "):
            name = m.group(1)
            comps[name] = []
        elif name and line.startswith("  ") and "=" in line:
            comps[name].append(line.strip())
    return comps


def kind(line: str) -> str | None:
    """The launch kind of one instruction, or None for what launches nothing (parameters, tuples,
    bitcasts, constants...)."""
    m = re.search(r"= \S+ (\S+?)\(", line) or re.search(r"= \([^)]*\) (\S+?)\(", line)
    if not m:
        return None
    op = m.group(1)
    if op in ("parameter", "tuple", "get-tuple-element", "bitcast", "constant", "after-all", "partition-id",
              "replica-id"):
        return None
    if op == "while":
        return "while (known trip count)" if "known_trip_count" in line else "while (host sync per iteration)"
    if op == "conditional":
        return "conditional (host sync)"
    if op == "custom-call":
        target = re.search(r'custom_call_target="([^"]+)"', line)
        return f"custom-call {target.group(1) if target else '?'}"
    return op


def called(line: str) -> list[str]:
    """Computations a control-flow instruction runs (while bodies and conditions, branches, calls)."""
    names = re.findall(r"(?:body|condition|to_apply)=%?([\w.\-]+)", line)
    m = re.search(r"branch_computations=\{([^}]*)\}", line)
    if m:
        names += [n.strip().lstrip("%") for n in m.group(1).split(",")]
    names += re.findall(r"(?:true_computation|false_computation)=%?([\w.\-]+)", line)
    return names


def step_counts(hlo: str) -> Counter:
    """Launch kinds inside the body of the entry computation's outermost `while` (the vector steps),
    following nested control flow (both branches of a conditional, as either may run)."""
    comps = computations(hlo)
    entry = next(n for n, lines in comps.items() if any("ROOT" in x for x in lines) and n.startswith("main"))
    loops = [x for x in comps[entry] if kind(x) and kind(x).startswith("while")]
    bodies = [re.search(r"body=%?([\w.\-]+)", x).group(1) for x in loops]
    body = max(bodies, key=lambda name: len(comps.get(name, [])))
    counts: Counter = Counter()

    def walk(name: str, seen: set) -> None:
        for line in comps.get(name, []):
            k = kind(line)
            if k is None:
                continue
            if k == "fusion" and "kCustom" in line:
                k = "fusion (library)"
            counts[k] += 1
            if k.startswith(("while", "conditional", "call")):
                for sub in called(line):
                    if sub not in seen:
                        walk(sub, seen | {sub})

    walk(body, {body})
    return counts


def main(argv: list[str]) -> int:
    import jax

    from softrl_jax import algos, envs
    from softrl_jax.compiled import compile_lowered, compiler_options
    from softrl_jax.training import seed_keys
    from softrl_jax.programs import make_train
    from softrl_jax.train import config_from_flags

    json_path = next((a.split("=", 1)[1] for a in argv if a.startswith("--json=")), "")
    argv = [a for a in argv if not a.startswith("--json=")]
    defaults = {"algo": "sac", "preset": "modern", "env": "brax:hopper", "num_envs": "4096", "seeds": "1",
                "batch_size": "256", "updates_per_step": "1", "eval_every": str(4096 * 50), "warmup_steps": "4096",
                "total_steps": str(4096 * 200), "buffer_size": "1000000", "checkpoint": "false"}
    given = {a[2:].split("=", 1)[0] for a in argv}
    rc = config_from_flags([f"--{k}={v}" for k, v in defaults.items() if k not in given] + argv)
    env = envs.make(rc.loop.env, rc.loop.episode_length or None)
    trainer = make_train(algos.get(rc.algo), env, rc)
    init, resets, chunk, _ = trainer.vmap_split()
    keys = seed_keys(0, rc.loop.seeds)
    carry = jax.eval_shape(jax.jit(init), keys, {})
    starts = jax.eval_shape(jax.jit(resets), carry)
    options = compiler_options(rc.loop, jax.devices()[0].platform)
    program = compile_lowered(jax.jit(chunk).lower(carry, {}, starts), options)
    counts = step_counts(program.as_text())
    device = f"{jax.devices()[0].platform}:{jax.devices()[0].device_kind}"
    kernels = sum(v for k, v in counts.items() if not k.startswith(("while", "conditional", "call", "copy")))
    syncs = sum(v for k, v in counts.items() if "host sync" in k)
    print(f"one vector step of {rc.algo} on {rc.loop.env}, {rc.loop.num_envs} envs, on {device} (jax {jax.__version__}):")
    for k, v in counts.most_common():
        print(f"  {v:6d}  {k}")
    print(f"  kernels (fusions, library calls, other ops): {kernels}; copies: {counts.get('copy', 0)}; "
          f"host synchronisations on a GPU: {syncs}")
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"device": device, "jax": jax.__version__, "config": {k: str(v) for k, v in rc.flat().items()},
                       "per_step": dict(counts), "kernels": kernels, "host_syncs": syncs}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
