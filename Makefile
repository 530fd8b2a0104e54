# One command each: `make demo` runs the seed's example on the local stack, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install --disable-pip-version-check -q -c constraints.txt

.PHONY: demo up test unit integration e2e test-prerequisites lint typecheck hooks pre-commit clean openapi layer sam-build frontend frontend-test browser sdk-agents

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall whenever the dependency pins change.
$(VENV)/.installed-local: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e ".[local]"
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-local
	$(PIP) -e ".[local,dev]"
	@touch $@

demo: $(VENV)/.installed-local
	$(BIN)/orch demo

up: $(VENV)/.installed-local frontend
	$(BIN)/orch up

# The web pages (frontend/, Vite): `npm ci` when the lock changes, a build when a source changes.
# `orch up` serves frontend/dist on the API's port (http://127.0.0.1:3000/orchestrator).
FRONTEND_SOURCES := $(shell find frontend/src frontend/public -type f 2>/dev/null) \
	frontend/index.html frontend/vite.config.ts frontend/tsconfig.json
frontend/node_modules/.installed: frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	@touch $@

frontend/dist/index.html: frontend/node_modules/.installed $(FRONTEND_SOURCES)
	cd frontend && npm run build
	@touch $@

frontend: frontend/dist/index.html

frontend-test: frontend/node_modules/.installed
	cd frontend && npm test

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy
	@# Every function is a module named `app`: check them one at a time.
	@for f in functions/*/app.py; do $(BIN)/mypy --no-error-summary $$f || exit 1; done

# pre-commit (.pre-commit-config.yaml): `make hooks` installs the git hook that runs ruff, ruff format
# and mypy from .venv before each commit; `make pre-commit` runs the same hooks on every file.
hooks: $(VENV)/.installed-dev
	$(BIN)/pre-commit install

pre-commit: $(VENV)/.installed-dev
	$(BIN)/pre-commit run --all-files

# aws-sam-cli lives in its own venv: its pins never meet the project's.
SAM_VENV := .venv-sam
$(SAM_VENV)/.installed: sam-requirements.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --disable-pip-version-check -q -r sam-requirements.txt
	@touch $@

# `sam build` into build/sam (tests/integration/test_sam_build.py checks what it built).
sam-build: $(SAM_VENV)/.installed
	SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam build --build-dir build/sam --cache-dir build/sam-cache

# Agents built with the marketplace's SDK (orca-agent-sdk, unmodified) run in their own venv, pinned in
# devstack/sdk_agents/requirements.txt; tests/integration/test_sdk_agents.py and
# tests/e2e/test_sdk_agents_hire.py start them with devstack/sdk_agents/run_agent.py.
AGENTS_VENV := .venv-agents
AGENTS_REQUIREMENTS := devstack/sdk_agents/requirements.txt
$(AGENTS_VENV)/.installed: $(AGENTS_REQUIREMENTS)
	$(PYTHON) -m venv $(AGENTS_VENV)
	$(AGENTS_VENV)/bin/pip install --disable-pip-version-check -q -r $(AGENTS_REQUIREMENTS)
	@touch $@

sdk-agents: $(AGENTS_VENV)/.installed

# Debian's chromium for the browser tests (tests/browser); they skip loudly where it cannot be had.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		{ apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && \
		  apt-get install -y -q chromium >/dev/null 2>&1; }; }; } || true
	@command -v chromium >/dev/null 2>&1 || echo "!!! chromium is not installed: the browser tests will be skipped !!!"

# --- tests -------------------------------------------------------------------------------------
# `make unit` takes well under a minute (tests/unit: fakes only, no socket: tests/unit/conftest.py),
# `make integration` runs the local stack's parts on loopback (tests/integration), `make e2e` the
# whole stack through its HTTP API and the web pages in chromium (tests/e2e, tests/browser). `make
# test` runs every check and build, then all of tests/ at once. Each prints the branch coverage of
# the `orchestrator` package (pyproject.toml's [tool.coverage]: threads and `orch` subprocesses too).
#
# pytest-xdist: PYTEST_WORKERS processes, each test file whole on one of them (--dist loadfile: a
# module's stack, ledger or agents start once). Most tests wait on sockets and sleeps, so one worker
# more than the 2 cores pays. Measured on this 2-core machine, all of tests/ took 8.8 min in one
# process without coverage; 3.9 min with 3 workers, 4.5-5.3 min with coverage; with 4 workers and
# coverage 5-5.7 min (contention only, and tests with real deadlines ran late).
PYTEST_WORKERS ?= 3
PYTEST := $(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadfile
COVERAGE := --cov --cov-report=term:skip-covered
# Only the whole suite must reach pyproject.toml's fail_under; a part of it reports its figure.
# Coverage costs time (`make unit`: about 50 s here, 30 s with `make unit COVERAGE=`, no figure).
PART := --cov-fail-under=0

unit: $(VENV)/.installed-dev
	$(BIN)/pytest -q -n 2 $(COVERAGE) $(PART) tests/unit

integration: $(VENV)/.installed-dev sam-build sdk-agents frontend
	$(PYTEST) $(COVERAGE) $(PART) tests/integration

e2e: $(VENV)/.installed-dev sdk-agents frontend browser
	$(PYTEST) $(COVERAGE) $(PART) tests/e2e tests/browser

# The checks and builds before pytest are independent (three venvs, npm, sam build): two at a time.
test:
	$(MAKE) -j2 --output-sync=target test-prerequisites
	$(PYTEST) $(COVERAGE) tests

test-prerequisites: lint typecheck sam-build frontend-test frontend browser sdk-agents

# Regenerate the OpenAPI document from the handlers (a test fails when it is stale).
openapi: $(VENV)/.installed-local
	$(BIN)/python -m devstack.openapi

# Build the CommonLayer for python3.12/arm64 as `sam build` does (sam build needs a python3.12 binary).
layer: $(VENV)/.installed-local
	$(BIN)/python -m devstack.layer

clean:
	rm -rf .local build .aws-sam .coverage .coverage.* $(VENV) $(SAM_VENV) $(AGENTS_VENV) .pytest_cache .mypy_cache .ruff_cache frontend/dist frontend/node_modules
