r"""The DSPG paper's Table 1 (Shi, Song & Wu 2019) as one command: DSPG, SAC and DDPG on Ant,
HalfCheetah, Hopper and Walker2d, then the report with the paper's numbers beside ours.

    python experiments/dspg_table1.py --out=runs/table1

Protocol (the paper's): every algorithm with `--preset=paper` (SAC: v1 with a V network and a fixed
temperature; DDPG: Lillicrap et al.), 7 seeds vmapped in ONE `python -m softrl_jax.train` process per
(algorithm, task), 3e6 environment steps, evaluation every 1e4 steps over 7 deterministic episodes;
Table-1 statistic: the best over evaluations of the mean over seeds. The tasks are Brax's MJX versions
(`brax:ant`, `brax:halfcheetah`, `brax:hopper`, `brax:walker2d`), NOT the paper's MuJoCo gym v2 tasks:
the paper column is a reference point, not a target. Writes:

    <out>/<algo>-<task>/     one train run folder per piece (config, metrics, checkpoints: resumable)
    <out>/rates.json         measured env steps/s per piece, keyed by device (see Cost estimate)
    <out>/report/            `python -m softrl_jax.report --runs=<out> --out=<out>/report`; its Table-1
                             section (every run under <out>) is printed at the end

Pieces (checked first, for every piece, by the train command's own validation; a bad value prints
one line naming it and the valid choices, exits 2 and writes nothing):

    --tasks=ant,halfcheetah,hopper,walker2d   --algos=dspg,sac,ddpg
    --seeds=7  --total_steps=3000000  --eval_every=10000  --eval_episodes=7
    --warmup_steps=N   (default: not passed, the preset's)    --progress=true
    python experiments/dspg_table1.py --out=runs/table1 -- --buffer_size=1000000
                       (flags after `--` go to every train command, after the protocol's)

Resume: a piece whose metrics.jsonl reaches total_steps is skipped; an unfinished one runs the same
command again, which continues from <out>/<algo>-<task>/checkpoints. SIGTERM/SIGINT go to the running
train process (started in its own process group, so a terminal's Ctrl-C reaches it once): it stops
after the chunk in flight, writes a checkpoint and exits 143/130, and so does this pipeline; the same
command continues. A second signal stops the train process at once (its last checkpoint stays).

Cost estimate, printed before anything trains: hours = (startup_s + steps left / rate) / 3600 per
piece, from rates MEASURED on this machine by a calibration run of each piece: the piece's own command
(the real seeds, preset and flags) in a temporary folder, with a warm-up of 256 steps, evaluation
every `--calibrate_every` steps and `--episode_length=1`. The rate is env steps per second per seed
over the evaluated chunks (compilation excluded), stopped once `--calibrate_s` seconds of chunks are
measured (at least one chunk); `startup_s` is compilation, initialisation and the warm-up. One-step
episodes make the calibration's frequent evaluations one step long, so the rate is the training
rate (acting, stepping, updating; every step of any run selects its pool reset where an episode
ended, so one-step episodes cost no more). The real run's evaluations are not in the estimate: on
the 2-core CPU one evaluation of DSPG on Ant (7 seeds x 7 episodes x 1000 steps) took about 4 s, so
its 300 evaluations add about 20 minutes.

    --calibrate=auto     (default) measure the pieces about to run that have no rate for this device
    --calibrate          (=always) measure them again;   --calibrate=never: no measurement
    --calibrate_every=N  evaluation interval of a calibration run (default 32 on a CPU, 1000 elsewhere)
    --calibrate_s=30     seconds of evaluated chunks measured per piece
    --estimate_only      print the plan and the estimate (calibrating as above), then exit
    --rates=PATH         another machine's rates.json (e.g. a GPU's), estimated beside this one

Reduced CPU version (the README's; about 15 minutes on a 2-core CPU, compilation and calibration
included): `--reduced` stands for the flag set below (explicit flags win):

    python experiments/dspg_table1.py --reduced
    = --out=runs/table1-reduced --tasks=hopper --seeds=2 --total_steps=1024 --eval_every=128 --calibrate_s=10
      (each preset's own warm-up: DSPG and DDPG learn from transition 100 and 64, SAC v1 from 1000)

Testing only: `--test_env=gymnax:Pendulum-v1` trains every task on that environment instead (the
folders keep the task names), so that tests/test_table1.py can run real train processes cheaply.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from softrl_jax import campaign
from softrl_jax.campaign import Piece, estimate_lines, measure, piece_hours, read_rates  # noqa: F401 (tests)
from softrl_jax.config import ConfigError, parse_value
from softrl_jax.io.signals import Children, Interrupted
from softrl_jax.train import parse_flags, show_help

TASKS = ("ant", "halfcheetah", "hopper", "walker2d")
ALGOS = ("dspg", "sac", "ddpg")
PRESET = "paper"
DEFAULTS = {"out": "runs/table1", "tasks": ",".join(TASKS), "algos": ",".join(ALGOS), "seeds": "7",
            "total_steps": "3000000", "eval_every": "10000", "eval_episodes": "7", "warmup_steps": "",
            "progress": "true", "calibrate": "auto", "calibrate_every": "", "calibrate_s": "30",
            "estimate_only": "false", "reduced": "false", "rates": "", "test_env": ""}
REDUCED = {"out": "runs/table1-reduced", "tasks": "hopper", "seeds": "2", "total_steps": "1024",
           "eval_every": "128", "calibrate_s": "10"}
SWITCHES = {"--estimate_only": "true", "--reduced": "true", "--calibrate": "always"}  # bare flag = this value
CALIBRATE = ("auto", "always", "never")
# train flags the pipeline sets itself: not accepted after `--`
OWN = ("algo", "preset", "env", "seeds", "total_steps", "eval_every", "eval_episodes", "warmup_steps", "progress",
       "out", "resume")
TABLE1_HEADING = "## Best average return over training"
BRAX_NOTE = ("Tasks: Brax's MJX versions (brax:<task>), not the paper's MuJoCo gym v2: read the paper column "
             "as a reference point, not a target.")


# ---------------------------------------------------------------- options and plan


def options(argv) -> tuple[dict, dict[str, str]]:
    """(pipeline options, train flags given after `--`); ConfigError on any bad value."""
    argv = [SWITCHES.get(a) and f"{a}={SWITCHES[a]}" or a for a in argv]
    own, extra = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    flags = parse_flags(own)
    for name in flags:
        if name not in DEFAULTS:
            raise ConfigError(f"unknown flag --{name}; valid flags: {' '.join('--' + k for k in DEFAULTS)} "
                              "(train flags go after --)")
    o = dict(DEFAULTS)
    if parse_value("reduced", flags.get("reduced", "false"), bool):
        o.update(REDUCED)
    o.update(flags)
    for name in ("reduced", "estimate_only", "progress"):
        o[name] = parse_value(name, o[name], bool)
    for name in ("seeds", "total_steps", "eval_every", "eval_episodes", "warmup_steps", "calibrate_every"):
        if o[name] == "" and name in ("warmup_steps", "calibrate_every"):
            o[name] = None  # the preset's warm-up; the calibration interval of the device
            continue
        o[name] = parse_value(name, o[name], int)
        if o[name] < 1:
            raise ConfigError(f"--{name}={o[name]} is out of range; must be >= 1")
    o["calibrate_s"] = parse_value("calibrate_s", o["calibrate_s"], float)
    if not o["calibrate_s"] > 0:
        raise ConfigError(f"--calibrate_s={o['calibrate_s']} is out of range; must be > 0")
    for name, valid in (("tasks", TASKS), ("algos", ALGOS)):
        o[name] = [x for x in o[name].split(",") if x]
        if not o[name]:
            raise ConfigError(f"--{name} is empty; valid choices: {', '.join(valid)}")
        for x in o[name]:
            if x not in valid:
                raise ConfigError(f"unknown {name[:-1]} {x!r} in --{name}; valid choices: {', '.join(valid)}")
            if o[name].count(x) > 1:
                raise ConfigError(f"{name[:-1]} {x!r} is listed twice in --{name}")
    if o["calibrate"] not in CALIBRATE:
        raise ConfigError(f"--calibrate={o['calibrate']!r} is not valid; valid choices: {', '.join(CALIBRATE)}")
    if o["rates"]:
        read_rates(o["rates"], must_exist=True)
    extra = parse_flags(extra)
    for name in extra:
        if name in OWN:
            raise ConfigError(f"--{name} after -- is set by this pipeline; use its own flag"
                              + ("" if name in ("algo", "preset", "env", "out", "resume") else f" --{name}")
                              + f" (train flags it leaves to you: anything but {', '.join('--' + n for n in OWN)})")
    return o, extra


def plan(o: dict, extra: dict[str, str]) -> list[Piece]:
    """Every selected (task, algorithm), validated by the train command's own run_config, with what its
    run folder already holds (a different configuration there is a ConfigError). Writes nothing."""
    pieces = []
    for task in o["tasks"]:
        for algo in o["algos"]:
            flags = {"algo": algo, "preset": PRESET, "env": o["test_env"] or f"brax:{task}", "seeds": o["seeds"],
                     "total_steps": o["total_steps"], "eval_every": o["eval_every"],
                     "eval_episodes": o["eval_episodes"]}
            if o["warmup_steps"] is not None:
                flags["warmup_steps"] = o["warmup_steps"]
            flags = {**flags, "progress": str(o["progress"]).lower(), **extra,
                     "out": str(Path(o["out"]) / f"{algo}-{task}")}
            try:
                pieces.append(campaign.plan_piece(f"{algo}-{task}", flags,
                                                  rate_extra=[f"{k}={v}" for k, v in sorted(extra.items())],
                                                  task=task))
            except ConfigError as e:  # name the piece as the paper does: algorithm on environment
                raise ConfigError(str(e).replace(f" ({algo}-{task})", f" ({algo} on {flags['env']})")) from None
    return pieces


# ---------------------------------------------------------------- running


def table1_section(report_md: str) -> str:
    """The Table-1 section of report.md, up to the next section."""
    lines = report_md.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(TABLE1_HEADING))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(lines[start:end]).rstrip()


def pipeline(o: dict, extra: dict, pieces: list[Piece], children: Children) -> int:
    out = Path(o["out"])
    print(f"DSPG paper Table 1: {len(pieces)} piece(s) into {out}. {BRAX_NOTE}")
    for p in pieces:
        print(f"  {p.name}: {p.status()}\n    {campaign.shown(p.command())}")
    device = campaign.device_description()
    rates = campaign.calibrate_missing(pieces, out / "rates.json", device, children, o["calibrate"],
                                       o["calibrate_s"], o["calibrate_every"])
    known = {d: dict(r) for d, r in rates.items()}
    if o["rates"]:
        for d, r in read_rates(o["rates"]).items():
            known.setdefault(d, {}).update(r)
    print("\n".join(estimate_lines(pieces, known, device)), flush=True)
    if o["estimate_only"]:
        return 0
    t0 = time.perf_counter()
    code = campaign.run_pieces(pieces, children)
    if code:
        return code
    code = children.run([sys.executable, "-m", "softrl_jax.report", f"--runs={out}", f"--out={out / 'report'}"])
    if code:
        return code
    print(f"\n{BRAX_NOTE}\n\n" + table1_section((out / "report" / "report.md").read_text()))
    print(f"\n{len(pieces)} piece(s) in {time.perf_counter() - t0:.0f} s of training and report; report: "
          f"{out / 'report' / 'report.md'}")
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if show_help(argv, __doc__):
        return 0
    try:
        o, extra = options(argv)
        pieces = plan(o, extra)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    with Children() as children:
        try:
            return pipeline(o, extra, pieces, children)
        except Interrupted as e:
            print(e, file=sys.stderr)
            return e.exit_code
        except RuntimeError as e:  # a calibration run failed, or JAX could not name the device
            print(f"error: {e}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
