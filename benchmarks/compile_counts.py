"""Where the test suite's time goes: a pytest plugin that counts XLA compilations per test.

Every compilation in the pytest process (training programs and the one-op programs that eager code
compiles) is timed by jax's own monitoring event; at the end the plugin prints the tests and modules
that compiled the most and writes every test's (count, seconds) to a JSON file. Compilations inside
subprocesses that a test starts are not seen (they are their own processes).

    PYTHONPATH=benchmarks .venv/bin/python -m pytest -p compile_counts -m "not slow" tests/test_critics.py
    COMPILE_COUNTS_JSON=/tmp/counts.json ...   # where the per-test JSON goes (default: compile_counts.json)

Run it on one worker (no -n): the counts are per process. A program the suite's persistent cache
(tests/conftest.py) already holds is loaded, not compiled, and not counted: empty the cache first
(rm -rf /tmp/softrl-jax-tests-$UID) to see what a clean clone pays. docs/testing.md gives what it found.
"""

from __future__ import annotations

import collections
import json
import os

import jax
import pytest

EVENT = "/jax/core/compile/backend_compile_duration"
STATS: dict[str, list] = collections.defaultdict(lambda: [0, 0.0])  # test id -> [compilations, seconds]
_current: list[str | None] = [None]


def _listener(event: str, duration: float, **_) -> None:
    if event == EVENT and _current[0]:
        STATS[_current[0]][0] += 1
        STATS[_current[0]][1] += duration


jax.monitoring.register_event_duration_secs_listener(_listener)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _current[0] = item.nodeid
    yield
    _current[0] = None


def pytest_terminal_summary(terminalreporter) -> None:
    if not STATS:
        return
    path = os.environ.get("COMPILE_COUNTS_JSON", "compile_counts.json")
    with open(path, "w") as f:
        json.dump({k: {"compilations": c, "seconds": round(s, 3)} for k, (c, s) in STATS.items()}, f, indent=1)
    by_module: dict[str, list] = collections.defaultdict(lambda: [0, 0.0])
    for test, (count, secs) in STATS.items():
        by_module[test.split("::")[0]][0] += count
        by_module[test.split("::")[0]][1] += secs
    write = terminalreporter.write_line
    total_c, total_s = sum(c for c, _ in STATS.values()), sum(s for _, s in STATS.values())
    write(f"XLA compilations in this process: {total_c} in {total_s:.1f} s (per test: {path})")
    write("  seconds  count  module")
    for module, (count, secs) in sorted(by_module.items(), key=lambda kv: -kv[1][1])[:15]:
        write(f"  {secs:7.1f}  {count:5d}  {module}")
    write("  seconds  count  test (most compilations)")
    for test, (count, secs) in sorted(STATS.items(), key=lambda kv: -kv[1][0])[:15]:
        write(f"  {secs:7.1f}  {count:5d}  {test}")
