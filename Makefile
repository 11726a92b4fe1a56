# hpkit developer commands. `make lab` and `make test` work on a fresh machine:
# they create .venv, install what is needed and build the extension in release mode.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: venv build peers lab test test-rust test-python bench lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# maturin builds the extension; everything else comes from pyproject.toml's extras
# (`lab`: plots, `dev`: test and lint tools, `peers`: the libraries the lab compares with).
venv: $(PY)
	$(PIP) install -q "maturin>=1.9,<2"

build: venv
	$(VENV)/bin/maturin develop --release -q -E lab,dev

# A peer that does not install here is skipped, with a note, by the lab.
peers: build
	$(VENV)/bin/maturin develop --release -q -E lab,dev,peers \
		|| echo "some peers did not install; hpkit lab will skip them"

lab: build peers
	$(VENV)/bin/hpkit lab all --quick --report lab-report

test-rust:
	cargo test --workspace --release

test-python: build
	$(PY) -m pytest -q

test: build test-rust test-python

bench: build peers
	$(VENV)/bin/hpkit lab all --report lab-report --json lab-report/results.json
	$(PY) benches/bloom_vs_rbloom.py

lint: build
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	$(VENV)/bin/ruff check python tests benches
	$(VENV)/bin/ruff format --check python tests benches
	$(VENV)/bin/mypy
	$(PY) -m mypy.stubtest hpkit._native --ignore-missing-stub

clean:
	rm -rf $(VENV) target lab-report
