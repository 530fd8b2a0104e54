# One command each: `make demo` runs the seed's example on the local stack, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install --disable-pip-version-check -q -c constraints.txt

.PHONY: demo up test lint typecheck unit clean openapi layer sam-build

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

up: $(VENV)/.installed-local
	$(BIN)/orch up

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy
	@# Every function is a module named `app`: check them one at a time.
	@for f in functions/*/app.py; do $(BIN)/mypy --no-error-summary $$f || exit 1; done

# aws-sam-cli lives in its own venv: its pins never meet the project's.
SAM_VENV := .venv-sam
$(SAM_VENV)/.installed: sam-requirements.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --disable-pip-version-check -q -r sam-requirements.txt
	@touch $@

# `sam build` into build/sam (tests/integration/test_sam_build.py checks what it built).
sam-build: $(SAM_VENV)/.installed
	SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam build --build-dir build/sam --cache-dir build/sam-cache

test: lint typecheck sam-build
	$(BIN)/pytest -q

# Regenerate the OpenAPI document from the handlers (a test fails when it is stale).
openapi: $(VENV)/.installed-local
	$(BIN)/python -m devstack.openapi

# Build the CommonLayer for python3.12/arm64 as `sam build` does (sam build needs a python3.12 binary).
layer: $(VENV)/.installed-local
	$(BIN)/python -m devstack.layer

clean:
	rm -rf .local build .aws-sam $(VENV) $(SAM_VENV) .pytest_cache .mypy_cache .ruff_cache
