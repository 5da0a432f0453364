# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# No hub calls, ever: without these an accidental one retries for tens of seconds before failing.
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export HF_EVALUATE_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: test demo lint system-deps benchmarks clean

$(VENV)/.installed-dev: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

$(VENV)/.installed-demo: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[demo]'
	@touch $@

system-deps:
	@bash scripts/ensure-system-deps.sh

test: $(VENV)/.installed-dev system-deps
	$(PY) -m pytest -q -p no:cacheprovider

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check bench readerstudy leaderboards cxrbench scripts tests benchmarks
	$(VENV)/bin/ruff format --check bench readerstudy leaderboards cxrbench scripts tests benchmarks
	$(PY) -m mypy
	$(PY) scripts/check_imports.py

demo: $(VENV)/.installed-demo
	@bash scripts/ensure-system-deps.sh java
	$(PY) -m cxrbench.demo --out demo_out

benchmarks: $(VENV)/.installed-dev system-deps
	for script in benchmarks/bench_*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf demo_out .pytest_cache
