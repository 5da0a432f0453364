# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PACKAGES := bench cxrbench leaderboards readerstudy
# No hub calls, ever: without these an accidental one retries for tens of seconds before failing.
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export HF_EVALUATE_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: test demo lint system-deps bytecode benchmarks clean

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

# An editable install leaves the sources uncompiled, and where PYTHONDONTWRITEBYTECODE is set Python never caches
# them: every `cxrbench` start then compiled ~150 modules again (0.2 s). Only changed files are recompiled.
bytecode:
	@$(PY) -m compileall -q -j 0 $(PACKAGES)

test: $(VENV)/.installed-dev system-deps bytecode
	$(PY) -m pytest -q -p no:cacheprovider

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check $(PACKAGES) scripts tests benchmarks
	$(VENV)/bin/ruff format --check $(PACKAGES) scripts tests benchmarks
	$(PY) -m mypy
	$(PY) scripts/check_imports.py

demo: $(VENV)/.installed-demo bytecode
	@bash scripts/ensure-system-deps.sh java
	$(PY) -m cxrbench.demo --out demo_out

benchmarks: $(VENV)/.installed-dev system-deps bytecode
	for script in benchmarks/bench_*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf demo_out .pytest_cache
