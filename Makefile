# softrl-jax. Every target sets itself up: the first run creates .venv and installs the package.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

ALGO   ?= dspg
ENV    ?= gymnax:Pendulum-v1
SEEDS  ?= 2
COUNT  ?= 4
PRESET ?= quick
ARGS   ?=

.PHONY: install demo test test-system test-slow bench bench-peers bench-gpu sweep report irl pg-soft-q benchmark results-page docs docs-serve clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing softrl-jax and its pinned dependencies into $(VENV) (about a minute; log: $(VENV)/install.log)"
	@($(BIN)/python -m pip install --upgrade pip && $(BIN)/python -m pip install -e ".[dev]") \
		> $(VENV)/install.log 2>&1 || (tail -n 40 $(VENV)/install.log; exit 1)
	@touch $(STAMP)

install: $(STAMP)

# The main job on a small default: DSPG (quick preset) on gymnax Pendulum, 4 vmapped seeds,
# 30000 steps each; a few minutes on a 2-core CPU. Ends with a table and runs/.../curve.png.
demo: $(STAMP)
	$(BIN)/python -m softrl_jax.train --algo=dspg --env=gymnax:Pendulum-v1 --seeds=4 --seed=0 \
		--total_steps=30000 --preset=quick $(ARGS)

# pytest with the given arguments; its exit code 5 means no test ran: that is a failure too.
pytest = @$(BIN)/python -m pytest $(1); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests"; exit 1; fi; exit $$rc

# Fast suite plus two short learning tests, DSPG and MaxEnt IRL (slow learning tests excluded, see
# test-slow; the wider matrix of real-process tests excluded, see test-system), on TEST_WORKERS
# pytest-xdist workers, one test module per worker (its module fixtures built once): most tests wait
# on one-threaded XLA compiles, so 2 workers on 2 cores took 14 min against 23-27.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(call pytest,-m "not slow and not system" -q -n $(TEST_WORKERS) --dist loadscope)

# The wider matrix of real-process tests (device sharding and two processes, the benchmark and
# Table-1 campaigns, a killed sweep, on-policy resume, more SIGKILL moments, the experiments'
# commands): each starts real training processes and compiles their programs. CI runs it after test.
test-system: $(STAMP)
	$(call pytest,-m "system and not slow" -q -n $(TEST_WORKERS) --dist loadscope)

test-slow: $(STAMP)
	$(call pytest,-m slow -q)

# MaxEnt IRL (Ziebart et al. 2008) on the 10 x 10 gridworld: 8 seeds x 11 demonstration-set sizes,
# under a minute on a 2-core CPU; writes runs/maxent_irl/{summary.json,summary.md,curve.png,rewards.png}.
irl: $(STAMP)
	$(BIN)/python experiments/maxent_irl.py --out=runs/maxent_irl $(ARGS)

pg-soft-q: $(STAMP)
	$(BIN)/python experiments/pg_soft_q.py --out=runs/pg_soft_q $(ARGS)

bench: $(STAMP)
	$(BIN)/python -m softrl_jax.bench $(ARGS)

# Our SAC beside rejax (gymnax Pendulum, 4 seeds) and Brax's SAC trainer (MJX inverted double
# pendulum), equal work, repeats and the spread; installs both peers into .venv-peers/ first
# (docs/benchmarks.md gives the time it takes).
bench-peers: $(STAMP)
	$(BIN)/python -m softrl_jax.bench_peers $(ARGS)

# The GPU suite (needs a CUDA jax and a GPU; refuses otherwise): at most about 9 minutes on one GPU (--budget_s).
bench-gpu: $(STAMP)
	$(BIN)/python -m softrl_jax.bench_gpu --json=reports/gpu/bench-gpu.json $(ARGS)

sweep: $(STAMP)
	$(BIN)/python -m softrl_jax.sweep --algo=$(ALGO) --env=$(ENV) --seeds=$(SEEDS) --count=$(COUNT) \
		--preset=$(PRESET) -- $(ARGS)

report: $(STAMP)
	$(BIN)/python -m softrl_jax.report $(ARGS)

# A benchmark suite (benchmarks/suites/$(SUITE).toml): every (task, algorithm) piece, resumable, one
# results file per piece under results/$(SUITE)/; then its results page docs/results/$(SUITE).md.
SUITE ?= dmc100k
benchmark: $(STAMP)
	$(BIN)/python -m softrl_jax.benchmark --suite=$(SUITE) $(ARGS)
	$(BIN)/python -m softrl_jax.report --results=results/$(SUITE)

results-page: $(STAMP)
	$(BIN)/python -m softrl_jax.report --results=results/$(SUITE)

# The documentation site (mkdocs.yml, pages in docs/): built into site/, strict (a broken link fails it).
docs: $(STAMP)
	$(BIN)/mkdocs build --strict

docs-serve: $(STAMP)
	$(BIN)/mkdocs serve

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
