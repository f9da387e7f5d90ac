# Lockgate: `make run` serves the embedded default, `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?=
PORT   ?=

.PHONY: run test lint format migrate clean redis

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Lockgate needs Python >= 3.11"'
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "python venv module missing: installing python3-venv"; \
	  apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed-run: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[postgres,redis]'
	@touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[postgres,redis,test]'
	@touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/lockgate migrate
	$(BIN)/lockgate serve $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

migrate: $(VENV)/.installed-run
	$(BIN)/lockgate migrate

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

# Real Redis for the shared-limit tests: installed from Debian when missing and we may (root).
redis:
	@command -v redis-server >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get update -qq && apt-get install -y -qq redis-server >/dev/null) || \
	  echo "redis-server missing: Redis tests will be skipped (CI fails them)"; }

test: $(VENV)/.installed-test lint redis
	$(BIN)/pytest

format: $(VENV)/.installed-test
	$(BIN)/ruff check --fix src tests
	$(BIN)/ruff format src tests

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
