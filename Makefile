# The user-facing verbs. Every target creates the virtualenv and installs what it needs, so a
# fresh clone works with nothing but python3.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS := infra,services,features,dev
# Federated learning runs Flower in an environment of its own (ADR 0023: Flower and Pulumi pin
# `packaging` on opposite sides of 26); the platform starts it as a subprocess.
FED_VENV := .venv-federated
FED_STAMP := $(FED_VENV)/.installed

.PHONY: help venv venv-federated up down standalone test test-engine test-cluster toolchain render bench lint clean

help:
	@echo "make up           deploy the platform (kind when docker, kind and pulumi are present, else standalone)"
	@echo "make standalone   run the platform as local processes (no Docker)"
	@echo "make down         tear it down"
	@echo "make test         the fast test suite: no cluster, no Docker, no Pulumi CLI"
	@echo "make test-engine  the real pulumi up/preview/refresh/destroy on a container-less control plane"
	@echo "make toolchain    build the pinned Pulumi CLI, Kubernetes provider and control plane from source (cached)"
	@echo "make test-cluster smoke test against a running kind deployment"
	@echo "make render       write the manifests the Pulumi program would create to build/manifests/"
	@echo "make bench        serving, batch, feature and federated-learning benchmarks against named peers"
	@echo "make lint         ruff"

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[$(EXTRAS)]'
	touch $@

venv: $(STAMP)

$(FED_STAMP): pyproject.toml constraints-federated.txt
	test -x $(FED_VENV)/bin/python || $(PYTHON) -m venv $(FED_VENV)
	$(FED_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(FED_VENV)/bin/python -m pip install --quiet -c constraints-federated.txt -e '.[federated]' pytest
	touch $@

venv-federated: $(FED_STAMP)

up: venv
	$(BIN)/mlplat up

down: venv
	$(BIN)/mlplat down

test: venv venv-federated
	$(BIN)/python -m pytest tests --ignore=tests/cluster

# The second test layer: builds the pinned toolchain once (Go, from the module proxy, cached under
# ~/.cache/mlops-platform/toolchain), then runs the real Pulumi engine against the sim control plane.
test-engine: toolchain
	MLPLAT_ENGINE_TESTS=1 $(BIN)/python -m pytest tests/engine -rs

toolchain: venv
	$(BIN)/mlplat toolchain

# The smoke test against a running kind deployment (after `make up` on a machine with Docker).
test-cluster: venv
	$(BIN)/python -m pytest tests/cluster -rs

render: venv
	$(BIN)/mlplat render --all --out build/manifests

# Serving benchmark against mlflow models serve and MLServer (needs wrk: apt-get install wrk), then
# batch scoring against mlflow models predict (1 and 10 million rows, generated in a temporary folder),
# then feature serving: a prediction from an entity key against Feast's own feature server (needs
# PostgreSQL 15 too), then federated learning: 1,000 and 10,000 simulated devices against centralised
# training, FedAvg against FedProx, SecAgg+ against plain aggregation (8 to 17 minutes here).
bench: venv venv-federated
	$(BIN)/python benchmarks/serving.py
	$(BIN)/python benchmarks/batch.py
	$(BIN)/python benchmarks/features.py
	$(FED_VENV)/bin/python benchmarks/federated.py

standalone: venv
	$(BIN)/mlplat standalone

lint: venv
	$(BIN)/ruff check blueprints infra services policies tests benchmarks
	$(BIN)/ruff format --check blueprints infra services policies tests benchmarks

clean:
	rm -rf build .pytest_cache
