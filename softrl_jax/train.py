r"""Command line: train one algorithm on one environment with several vmapped seeds.

    python -m softrl_jax.train --algo=dspg --env=gymnax:Pendulum-v1 --seeds=4 --seed=0 \
        --total_steps=30000 --preset=quick --out=runs/x

Every config field is a `--name=value` flag (the form W&B sweep agents pass). Bad input prints one
line naming the value and the valid choices and exits with code 2 before anything is written.

`--explain` prints the resolved configuration instead of training: every field's value, the layer it
came from (default / per-task / preset / preset per-task / flag) and the source cited for it (paper
section or the authors' code), then what is known to differ from the paper or code the preset follows.

Long runs: the same command with the same --out continues from the newest checkpoint in
<out>/checkpoints (written every --checkpoint_every seconds, at the end and on SIGTERM/SIGINT);
`--resume=PATH` does the same with the flags of PATH/config.json. SIGTERM/SIGINT stop after the chunk
in flight with exit code 143/130.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from softrl_jax.config import ConfigError, RunConfig

Logger = Callable[[list[dict]], None]


def wants_help(argv: Sequence[str]) -> bool:
    return any(a in ("-h", "--help") for a in argv)


def show_help(argv: Sequence[str], doc: str) -> bool:
    """Print `doc` and return True when argv asks for help (the entry points' `--help`)."""
    if wants_help(argv):
        print(doc.strip())
        return True
    return False


def parse_flags(argv: Sequence[str]) -> dict[str, str]:
    """`--name=value` (or `--name value`) pairs; anything else is a ConfigError."""
    flags: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("--") or arg == "--":
            raise ConfigError(f"unexpected argument {arg!r}; flags take the form --name=value")
        name, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(argv) or argv[i + 1].startswith("--"):
                raise ConfigError(f"flag --{name} needs a value: --{name}=VALUE")
            value = argv[i + 1]
            i += 1
        if name in flags:
            raise ConfigError(f"flag --{name} given twice")
        flags[name.replace("-", "_")] = value
        i += 1
    return flags


def resume_flags(flags: dict[str, str]) -> dict[str, str]:
    """`--resume=PATH`: the flags of the run in PATH (its config.json), then the other flags given,
    with `--out=PATH`. A flag that changes what the run computes is refused when the run resumes."""
    import json

    path = flags.pop("resume")
    config_path = Path(path) / "config.json"
    if not config_path.is_file():
        raise ConfigError(f"--resume={path!r} holds no run (no config.json); pass the --out folder of a run")
    try:
        config = json.loads(config_path.read_text())
    except ValueError as e:
        raise ConfigError(f"--resume={path!r}: config.json is unreadable ({e})") from None
    if "out" in flags and flags["out"] != path:
        raise ConfigError(f"--resume={path!r} and --out={flags['out']!r} disagree; give one of them")
    base = {k: ",".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in config.items()}
    return {**base, **flags, "out": path}


def run_args(argv: Sequence[str]) -> tuple[str, str | None, dict[str, str]]:
    """(algo, preset, the other flags) of a command line, `--resume` applied; preset None: the
    algorithm's default preset."""
    flags = parse_flags(argv)
    if "resume" in flags:
        flags = resume_flags(flags)
    return flags.pop("algo", "dspg"), flags.pop("preset", None), flags


def config_from_flags(argv: Sequence[str]) -> RunConfig:
    from softrl_jax import algos

    return algos.run_config(*run_args(argv))


def default_out(rc: RunConfig) -> str:
    tag = rc.loop.env.replace(":", "_").replace("/", "_")
    return f"runs/{rc.algo}-{tag}-{rc.preset}-{time.strftime('%Y%m%d-%H%M%S')}"


def run(rc: RunConfig, loggers: Sequence[Logger] = (), quiet: bool = False) -> tuple[Path, list[dict]]:
    """Train `rc.loop.seeds` seeds as one compiled program (softrl_jax.runner); write config.json,
    metrics.jsonl and summary.json; print the table and save curve.png unless `quiet`."""
    from softrl_jax import runner

    if not rc.loop.out:
        rc = dataclasses.replace(rc, loop=dataclasses.replace(rc.loop, out=default_out(rc)))

    def loggers_for(_, resume_ids=None):
        from softrl_jax.io.wandb_log import seed_runs_for

        wandb_runs = seed_runs_for(rc, resume_ids=resume_ids)  # one W&B run per seed, or None (--wandb=off)
        return (*loggers, wandb_runs) if wandb_runs else tuple(loggers)

    t0 = time.perf_counter()
    result = runner.run([runner.Point(rc)], loggers_for=loggers_for, progress=not quiet)
    records = result.records[0]
    if not quiet and result.writer:
        report(rc, records, result.buffer_bytes_per_run / 2**20, time.perf_counter() - t0)
    return Path(rc.loop.out), records


def report(rc: RunConfig, records: list[dict], buffer_mb: float, seconds: float) -> None:
    """Print the per-seed table and save `<out>/curve.png`."""
    from rich.console import Console
    from rich.table import Table

    from softrl_jax.io.plots import plot_curves, summary_rows

    out = Path(rc.loop.out)
    png = plot_curves({rc.algo: records}, out / "curve.png",
                      f"{rc.algo} ({rc.preset}) on {rc.loop.env}")
    rows = summary_rows(records)
    from softrl_jax.runner import diverged_seeds

    diverged = diverged_seeds(records)
    table = Table()
    for col in ("seed", "final", "best", "diverged"):
        table.add_column(col, justify="right")
    for seed, final, best in rows:
        at = diverged.get(seed)
        table.add_row(str(seed), f"{final:.1f}", f"{best:.1f}", "" if at is None else f"at step {at}",
                      style="red" if at is not None else None)
    kept = [r for r in rows if r[0] not in diverged]  # a diverged seed is counted, never averaged in
    label = "mean" if not diverged else f"mean of {len(kept)}"
    table.add_row(label, f"{np.mean([r[1] for r in kept]):.1f}" if kept else "-",
                  f"{np.mean([r[2] for r in kept]):.1f}" if kept else "-", f"{len(diverged)} of {len(rows)}",
                  style="bold")
    console = Console()
    console.print(f"[bold]{rc.algo} ({rc.preset}) on {rc.loop.env}[/bold]: deterministic evaluation return")
    console.print(table)
    if diverged:
        console.print(f"[red]{len(diverged)} of {len(rows)} seeds diverged[/red] (a loss or parameter went non-finite): "
                      "each is frozen at its last finite state from that step on, flagged diverged in metrics.jsonl, "
                      "and left out of the mean")
    console.print(f"{len(rows)} seeds x {rc.loop.total_steps} steps in {seconds:.0f} s; "
                  f"replay {buffer_mb:.1f} MiB per seed; curve: {png}; metrics: {out / 'metrics.jsonl'}")


def usage(algo: str) -> str:
    """The module docstring plus every flag of `algo` with its type, default and meaning."""
    import dataclasses as dc

    from softrl_jax import algos
    from softrl_jax.config import LoopConfig, field_meta, field_types

    module = algos.get(algo)
    lines = [__doc__.strip(), "", f"--algo: {', '.join(algos.ALGOS)} (default dspg)",
             f"--preset: {', '.join(algos.presets(algo).values)} (default {algos.default_preset(algo)})"]
    for title, cls in (("loop flags (all algorithms)", LoopConfig), (f"{algo} flags", module.Config)):
        lines += ["", title + ":"]
        types = field_types(cls)
        for name, f in field_meta(cls).items():
            kind = {int: "int", float: "float", str: "str", bool: "bool"}.get(types[name], "ints")
            choices = f" {{{'|'.join(map(str, f.metadata['choices']))}}}" if "choices" in f.metadata else ""
            default = f.default if f.default is not dc.MISSING else ""
            lines.append(f"  --{name}={kind}{choices}  default {default!r}: {f.metadata.get('doc', '')}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if wants_help(argv):
        algo = next((a.split("=", 1)[1] for a in argv if a.startswith("--algo=")), "dspg")
        try:
            print(usage(algo))
        except ConfigError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        return 0
    from softrl_jax.checkpoint import Stopped

    explaining = [a for a in argv if a == "--explain" or a.startswith("--explain=")]
    argv = [a for a in argv if a not in explaining]
    try:
        if any(a.partition("=")[2].lower() not in ("", "1", "true", "yes", "on") for a in explaining):
            raise ConfigError(f"{explaining[0]!r} is not valid; --explain takes no value (or true)")
        if explaining:  # print the resolved configuration with its sources, run nothing
            from softrl_jax.explain import explain

            print(explain(*run_args(argv)))
            return 0
        rc = config_from_flags(argv)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        run(rc)
    except ConfigError as e:  # found by the runner before any file (a changed config on resume, --devices=8 on 4)
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a write failed mid-run (disk full, folder removed): the last checkpoint is intact
        kept = (f"the newest complete checkpoint in {rc.loop.out or 'the run folder'}/checkpoints is intact: free "
                "the space and run the same command again" if rc.loop.checkpoint else
                "metrics.jsonl holds whole rows only; nothing was checkpointed (--checkpoint=false)")
        print(f"error: {e.strerror or e} ({e.filename or rc.loop.out}); {kept}", file=sys.stderr)
        return 1
    except Stopped as e:
        print(f"{e}; checkpoint written. Resume with: python -m softrl_jax.train --resume={e.outs[0]}", file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
