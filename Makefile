# hpkit developer commands. `make lab` and `make test` work on a fresh machine:
# they create .venv, install what is needed and build the extension in release mode.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: venv build lab test test-rust test-python bench lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Tools and the package's own dependencies (idempotent, quick when satisfied).
venv: $(PY)
	$(PIP) install -q "maturin>=1.9,<2" "numpy>=1.26" "rich>=13" "click>=8.1" \
		"matplotlib>=3.8" "pytest>=8" "hypothesis>=6.100"

build: venv
	$(VENV)/bin/maturin develop --release -q

# Peers the lab compares against; a peer that does not install is skipped by the lab.
peers: venv
	-$(PIP) install -q numba cython numexpr scipy cffi

lab: build peers
	$(VENV)/bin/hpkit lab all --quick --report lab-report

test-rust:
	cargo test --workspace --release

test-python: build
	$(PY) -m pytest -q

test: build test-rust test-python

bench: build peers
	$(VENV)/bin/hpkit lab all --report lab-report --json lab-report/results.json

lint: build
	-$(PIP) install -q ruff mypy
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	$(VENV)/bin/ruff check python tests
	$(VENV)/bin/ruff format --check python tests
	$(VENV)/bin/mypy
	$(PY) -m mypy.stubtest hpkit._native --ignore-missing-stub

clean:
	rm -rf $(VENV) target lab-report
