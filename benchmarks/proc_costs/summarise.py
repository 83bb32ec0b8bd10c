"""Summarise a PROC_COSTS_LOG (see sitecustomize.py beside this file): per test module and per test,
the processes started, their CPU seconds and their XLA compile seconds, the costliest first.

    .venv/bin/python benchmarks/proc_costs/summarise.py /tmp/procs.jsonl [--top=30]
"""

import collections
import json
import sys


def main(argv: list[str]) -> int:
    paths = [a for a in argv if not a.startswith("--")]
    tops = [a.split("=", 1)[1] for a in argv if a.startswith("--top=")]
    flags = [a for a in argv if a.startswith("--") and not a.startswith("--top=")]
    if len(paths) != 1 or flags or len(tops) > 1 or not all(t.isdigit() and int(t) > 0 for t in tops):
        print(f"error: {' '.join(argv)!r} is not valid; usage: summarise.py LOG.jsonl [--top=N], N >= 1", file=sys.stderr)
        return 2
    top = int(tops[0]) if tops else 30
    try:
        recs = [json.loads(line) for line in open(paths[0])]
    except (OSError, ValueError) as e:
        print(f"error: {paths[0]!r} is not a readable PROC_COSTS_LOG ({e})", file=sys.stderr)
        return 2
    recs = [r for r in recs if not r.get("pytest")]  # the pytest processes themselves
    by_test, by_module = collections.defaultdict(list), collections.defaultdict(list)
    for r in recs:
        test = r["test"].rsplit(" (", 1)[0] or "(no test)"
        by_test[test].append(r)
        by_module[test.split("::", 1)[0]].append(r)

    def row(name, rs):
        cpu, comp = sum(r["cpu_s"] for r in rs), sum(r["compile_s"] for r in rs)
        return (f"{cpu:8.1f} {comp:8.1f} {sum(r['compiles'] for r in rs):6d} {sum(r['cache_hits'] for r in rs):6d} "
                f"{len(rs):4d}  {name}")

    head = f"{'cpu_s':>8} {'comp_s':>8} {'comps':>6} {'hits':>6} {'proc':>4}"
    print(f"{len(recs)} processes, {sum(r['cpu_s'] for r in recs):.0f} s of CPU, "
          f"{sum(r['compile_s'] for r in recs):.0f} s compiling\n\nby module\n{head}")
    for name, rs in sorted(by_module.items(), key=lambda kv: -sum(r["cpu_s"] for r in kv[1])):
        print(row(name, rs))
    print(f"\nby test (top {top})\n{head}")
    for name, rs in sorted(by_test.items(), key=lambda kv: -sum(r["cpu_s"] for r in kv[1]))[:top]:
        print(row(name, rs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
