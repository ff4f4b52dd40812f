# The user-facing verbs. Every target creates the virtualenv and installs what it needs, so a
# fresh clone works with nothing but python3.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS := infra,services,features,dev

.PHONY: help venv system-packages-test system-packages-up up down standalone test test-engine test-kind test-cluster \
	toolchain render bench lint clean

help:
	@echo "make up           deploy the platform (kind when docker, kind and pulumi are present, else standalone)"
	@echo "make standalone   run the platform as local processes (no Docker)"
	@echo "make down         tear it down"
	@echo "make test         the fast test suite: no cluster, no Docker, no Pulumi CLI"
	@echo "make test-engine  the real pulumi up/preview/refresh/destroy on a container-less control plane"
	@echo "make test-kind    the kind layer: node tests, make up (foundation), tests/cluster, the demo, make down"
	@echo "make toolchain    build the pinned Pulumi CLI, Kubernetes provider and control plane from source (cached)"
	@echo "make test-cluster tests/cluster against a platform make up already deployed on kind"
	@echo "make render       write the manifests the Pulumi program would create to build/manifests/"
	@echo "make bench        serving and batch benchmarks against named peers"
	@echo "make lint         ruff"

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[$(EXTRAS)]'
	touch $@

venv: $(STAMP)

# The system packages each target needs, declared once in packaging/system-packages.txt; installed with
# apt-get (as root, or through sudo) when missing, otherwise the target stops saying what to install.
system-packages-test:
	@PYTHON=$(PYTHON) bash packaging/system-packages.sh test

system-packages-up:
	@PYTHON=$(PYTHON) bash packaging/system-packages.sh up

up: venv system-packages-up
	$(BIN)/mlplat up

down: venv
	$(BIN)/mlplat down

test: system-packages-test venv
	$(BIN)/python -m pytest tests --ignore=tests/cluster

# The second test layer: builds the pinned toolchain once (Go, from the module proxy, cached under
# ~/.cache/mlops-platform/toolchain), then runs the real Pulumi engine against the sim control plane.
test-engine: toolchain
	MLPLAT_ENGINE_TESTS=1 $(BIN)/python -m pytest tests/engine -rs

toolchain: venv
	$(BIN)/mlplat toolchain

# The kind layer, end to end (tests/kind/run.py): Docker installed and started when missing (as root), the
# toolchain (cached under ~/.cache/mlops-platform), the node tests (tests/kind_node: the node image built
# here boots a cluster of its own), then `mlplat up --target kind` with the foundation blueprint from no
# cluster, tests/cluster (a missing cluster fails, never skips), the whole demo lifecycle, and `mlplat down`,
# after which no cluster, node container or registry may be left. Phase times, the node's memory and the
# disk taken are printed and written to build/kind-run.json. KIND_RUN_ARGS passes options (e.g. --skip node).
test-kind: venv
	$(BIN)/python -m tests.kind.run $(KIND_RUN_ARGS)

# tests/cluster against a platform already running (after `make up` with the foundation blueprint);
# skips, saying why, when none runs.
test-cluster: venv
	$(BIN)/python -m pytest tests/cluster -rs

render: venv
	$(BIN)/mlplat render --all --out build/manifests

# Serving benchmark against mlflow models serve and MLServer (needs wrk: apt-get install wrk), then
# batch scoring against mlflow models predict (1 and 10 million rows, generated in a temporary folder),
# then feature serving: a prediction from an entity key against Feast's own feature server (needs
# PostgreSQL 15 too).
bench: venv
	$(BIN)/python benchmarks/serving.py
	$(BIN)/python benchmarks/batch.py
	$(BIN)/python benchmarks/features.py

standalone: venv system-packages-up
	$(BIN)/mlplat standalone

lint: venv
	$(BIN)/ruff check blueprints infra services policies tests benchmarks
	$(BIN)/ruff format --check blueprints infra services policies tests benchmarks

clean:
	rm -rf build .pytest_cache
