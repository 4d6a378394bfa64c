# Two commands on a fresh machine: `make run` and `make test`. Everything else is set up on demand.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CONFIG ?= examples/default.alloy

.PHONY: install run test bench fuzz clean system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/collector run $(CONFIG)

system-deps:
	bash scripts/install-system-deps.sh

# The Debian packages the tests use (browser, Prometheus, systemd-analyze) are installed first when
# this user can (root or passwordless sudo); otherwise the script says which tests will skip.
test: $(STAMP)
	@bash scripts/install-system-deps.sh --best-effort
	$(PY) -m pytest -q

# `make bench` (all scenarios, ~25 min) or `make bench SCENARIO=traces-grpc`; BENCH_ARGS="--runs 1 --duration 3".
# Idle and fixed-rate (10,000 items/s) scenarios only, 3 runs of 20 s: BENCH_ARGS="--light --duration 20 --no-micro".
# The bench tools come with the `bench` extra; the guard covers an environment installed before they were added.
bench: $(STAMP)
	@$(PY) -c "import matplotlib, tqdm, pytest_benchmark, rotel" 2>/dev/null || \
		$(PY) -m pip install --quiet matplotlib tqdm pytest-benchmark rotel
	$(PY) -m bench.run $(if $(SCENARIO),--scenario $(SCENARIO),) $(BENCH_ARGS)

# `make fuzz` runs every target of fuzz/targets.py with atheris for FUZZ_SECONDS each (FUZZ_TARGETS to pick
# some), growing fuzz/corpus/ (committed; `make test` replays it) with the inputs that reached new coverage
# and FUZZ_KEEP others sampled over the run. Crashing inputs land in fuzz/crashes/.
FUZZ_SECONDS ?= 60
FUZZ_KEEP ?= 200
FUZZ_TARGETS ?= $(shell $(PY) -c "from fuzz.targets import TARGETS; print(' '.join(TARGETS))" 2>/dev/null)
fuzz: $(STAMP)
	@$(PY) -c "import atheris" 2>/dev/null || $(PY) -m pip install --quiet -e '.[fuzz]'
	@for target in $(FUZZ_TARGETS); do \
		echo "== $$target ($(FUZZ_SECONDS)s)"; \
		$(PY) -m fuzz.run $$target --seconds $(FUZZ_SECONDS) --keep $(FUZZ_KEEP) -use_value_profile=1 || exit 1; \
	done

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
