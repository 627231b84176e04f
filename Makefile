# The two commands that matter: `make demo` and `make test`. Everything they
# need is installed by the targets below: Python packages from the committed,
# hashed requirements.lock (PyPI), binaries from the Go module proxy.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LOCK   := requirements.lock
STAMP  := $(VENV)/.installed-$(shell cat $(LOCK) pyproject.toml | sha1sum | cut -c1-12)

.PHONY: demo test lint unit integration bench chaos drill binaries venv lock clean gpg prometheus chromium redis peers bench-peers

venv: $(STAMP)
$(STAMP): $(LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --require-hashes --no-deps -r $(LOCK)
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.installed-* && touch $@

# Refreshes the lock on purpose: pins stay where pyproject allows them unless
# UPGRADE=1 (then every package moves to its newest allowed release).
lock: venv
	$(BIN)/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' \
	  | $(BIN)/uv pip compile pyproject.toml - --extra test --extra dev --generate-hashes --universal \
	      --python-version 3.11 --custom-compile-command 'make lock' -q -o $(LOCK) $(if $(UPGRADE),--upgrade)

binaries:
	tests/testenv/build.sh >/dev/null

# gpg checks OpenPGP commit signatures (repositories with a verify block) and
# makes the signed commits of the tests; installed from Debian only when missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
gpg:
	@command -v gpg >/dev/null 2>&1 || $(SUDO) apt-get install -y gpg \
	  || { $(SUDO) apt-get update && $(SUDO) apt-get install -y gpg; }

# Chromium runs the browser tests of the status pages (test_ui_browser.py), headless
# and driven by Playwright; installed from Debian only when missing, so that
# Playwright never downloads a browser of its own.
chromium:
	@command -v chromium >/dev/null 2>&1 || $(SUDO) apt-get install -y chromium \
	  || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }

# Prometheus and promtool check the alert rules and run the dashboard's queries
# against a real daemon's metrics; installed from Debian only when missing
# (without recommends: no node exporter comes along).
prometheus:
	@command -v promtool >/dev/null 2>&1 || $(SUDO) apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends prometheus \
	  || { $(SUDO) apt-get update && $(SUDO) apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends prometheus; }

# Redis backs Argo CD's repo-server and controller in the peer benchmark;
# installed from Debian only when missing.
redis:
	@command -v redis-server >/dev/null 2>&1 || $(SUDO) apt-get install -y redis-server \
	  || { $(SUDO) apt-get update && $(SUDO) apt-get install -y redis-server; }

# The peers of the side-by-side benchmark, one heavy build at a time under the
# shared lock (a no-op once built). A peer that fails to build is reported by
# the benchmark with its build log; the other peers still run.
HEAVY_LOCK ?= /tmp/gitopsd-heavy.lock
peers:
	flock $(HEAVY_LOCK) tests/peers/build.sh flux >/dev/null || true
	flock $(HEAVY_LOCK) tests/peers/build.sh argocd >/dev/null || true

# gitopsd, Flux and Argo CD side by side on one local control plane; on demand only.
bench-peers: venv binaries redis peers
	$(BIN)/python -m tests.peers $(PEERS_ARGS)

demo: venv binaries
	$(BIN)/gitopsd demo

lint: venv
	$(BIN)/ruff check daemon tests
	$(BIN)/mypy
	$(BIN)/lint-imports

test: venv binaries gpg chromium prometheus lint
	$(BIN)/pytest

unit: venv
	$(BIN)/pytest tests/unit tests/engine

bench: venv binaries
	$(BIN)/python -m tests.bench $(BENCH_ARGS)

# The fault matrix: 200 seeded trials by default; CHAOS_ARGS="--seed N --trials 1" replays one.
chaos: venv binaries
	$(BIN)/python -m tests.chaos $(CHAOS_ARGS)

# The disaster-recovery drill: 8,000 objects, etcd wiped, timed back to Synced and Healthy.
drill: venv binaries
	$(BIN)/python -m tests.chaos.drill $(DRILL_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
