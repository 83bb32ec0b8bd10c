"""Where the real-process tests' time goes: every Python process started with this folder on
PYTHONPATH appends one JSON line to $PROC_COSTS_LOG when it exits (normally or by a signal that
Python handles; a SIGKILL leaves no line): the test that started it (pytest's PYTEST_CURRENT_TEST,
inherited by subprocesses), its command line, wall and CPU seconds, and the seconds and count of its
XLA compilations and persistent-cache hits (jax's own monitoring events).

    PROC_COSTS_LOG=/tmp/procs.jsonl PYTHONPATH=$PWD/benchmarks/proc_costs \\
        .venv/bin/python -m pytest -m "not slow" -n 2 --dist loadscope tests/test_resume.py
    .venv/bin/python benchmarks/proc_costs/summarise.py /tmp/procs.jsonl

The pytest processes themselves log too, marked "pytest": true; the summary leaves them out.
"""

import atexit
import json
import os
import resource
import sys
import time

_LOG = os.environ.get("PROC_COSTS_LOG")
if _LOG:
    _T0 = time.time()
    _COMPILE = [0, 0.0]
    _HITS = [0]

    def _hook() -> None:
        m = sys.modules["jax.monitoring"]

        def duration(event: str, secs: float, **_) -> None:
            if event == "/jax/core/compile/backend_compile_duration":
                _COMPILE[0] += 1
                _COMPILE[1] += secs

        def count(event: str, **_) -> None:
            if event == "/jax/compilation_cache/cache_hits":
                _HITS[0] += 1

        m.register_event_duration_secs_listener(duration)
        m.register_event_listener(count)

    class _Finder:
        """Register the listeners right after jax.monitoring is first imported (then step aside)."""

        def find_spec(self, name, path=None, target=None):
            if name == "jax.monitoring":
                import importlib.util
                sys.meta_path.remove(self)
                spec = importlib.util.find_spec(name)
                loader = spec.loader
                exec_module = loader.exec_module

                def run(module):
                    exec_module(module)
                    _hook()
                loader.exec_module = run
                return spec
            return None

    sys.meta_path.insert(0, _Finder())

    def _write() -> None:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        rc = resource.getrusage(resource.RUSAGE_CHILDREN)
        rec = {"test": os.environ.get("PYTEST_CURRENT_TEST", ""), "argv": sys.argv, "pid": os.getpid(),
               "wall_s": round(time.time() - _T0, 3), "cpu_s": round(ru.ru_utime + ru.ru_stime, 3),
               "children_cpu_s": round(rc.ru_utime + rc.ru_stime, 3),
               "compiles": _COMPILE[0], "compile_s": round(_COMPILE[1], 3), "cache_hits": _HITS[0],
               "pytest": "pytest" in sys.modules}  # a pytest process (controller or xdist worker), not a test's
        try:
            with open(_LOG, "a") as f:
                f.write(json.dumps(rec) + "\n")
        except OSError:  # e.g. a test's own file-size limit (RLIMIT_FSIZE) on this process: no line then
            pass

    atexit.register(_write)
