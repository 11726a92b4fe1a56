# hpkit developer commands. `make lab` and `make test` work on a fresh machine:
# they create .venv, install what is needed and build the extension in release mode.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(abspath $(VENV))/bin:$(PATH)
# apt-get needs root: sudo when we are not root and sudo exists
SUDO := $(shell [ "$$(id -u)" = 0 ] || command -v sudo >/dev/null 2>&1 && [ "$$(id -u)" != 0 ] && echo sudo)

.PHONY: venv build peers browser lab test test-rust test-python bench lint clean

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

# The profiler's HTML page is opened in headless Chromium by the tests (Debian's package).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
		|| { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium >/dev/null; } \
		|| echo "chromium did not install: the HTML tests will be skipped"

test-python: build browser
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
