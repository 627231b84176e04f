# The two commands that matter: `make demo` and `make test`. Everything they
# need is installed by the targets below from PyPI and the Go module proxy.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: demo test lint unit integration bench binaries venv clean

venv: $(STAMP)
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

binaries:
	tests/testenv/build.sh >/dev/null

demo: venv binaries
	$(BIN)/gitopsd demo

lint: venv
	$(BIN)/ruff check daemon tests
	$(BIN)/mypy
	$(BIN)/lint-imports

test: venv binaries lint
	$(BIN)/pytest

unit: venv
	$(BIN)/pytest tests/unit tests/engine

bench: venv binaries
	$(BIN)/python -m tests.bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
