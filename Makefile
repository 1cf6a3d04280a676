# Developer entry points. `make test` is what CI runs (.ci/run).
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: setup demo lint test unit e2e local-prepare local-up local-down crds manifests validate-samples clean

setup: $(VENV)/.installed

# The operator and, as its own distribution beside it, the local cluster (`raykopf local`).
$(VENV)/.installed: pyproject.toml localcluster/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' -e ./localcluster
	touch $@

# The first command to try: everything from scratch, then the sample RayJob on the local cluster.
demo: setup
	$(BIN)/raykopf local demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m raykopf.crdgen --check

# The e2e tests run on the local cluster; `local prepare` does the slow one-time work (building
# Kubernetes, the Ray runtime) before the tests start their clock.
test: lint local-prepare
	$(BIN)/python -m pytest

unit: lint
	$(BIN)/python -m pytest tests

local-prepare: setup
	$(BIN)/raykopf local prepare --with-kuberay --with-kueue

# The e2e suite against any cluster (kind, a cloud cluster) with the operator the chart installed
# there: `make e2e KUBECONFIG=~/.kube/config`. Tests that need the local cluster are skipped, each
# with its reason (docs/development.md).
e2e: setup
	@test -n "$(KUBECONFIG)" || { echo "usage: make e2e KUBECONFIG=<path to the cluster's kubeconfig>"; exit 2; }
	RAYKOPF_E2E_KUBECONFIG="$(KUBECONFIG)" $(BIN)/python -m pytest -rs e2e

local-up: setup
	$(BIN)/raykopf local up

local-down: setup
	$(BIN)/raykopf local down

crds: setup
	$(BIN)/python -m raykopf.crdgen --write

validate-samples: setup
	$(BIN)/raykopf validate -f manifests/samples

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache

# Regenerate manifests/install/ (CRDs and the operator rendered from helm/raykopf).
manifests: setup
	$(BIN)/python -m raykopf.crdgen --write
	$(BIN)/python -m raykopf_local.tools
