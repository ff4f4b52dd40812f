# The user-facing verbs. Every target creates the virtualenv and installs what it needs, so a
# fresh clone works with nothing but python3.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS := infra,services,dev

.PHONY: help venv up down standalone test test-cluster render bench lint clean

help:
	@echo "make up           deploy the platform (kind when docker, kind and pulumi are present, else standalone)"
	@echo "make standalone   run the platform as local processes (no Docker)"
	@echo "make down         tear it down"
	@echo "make test         the fast test suite: no cluster, no Docker, no Pulumi CLI"
	@echo "make test-cluster smoke test against a running kind deployment"
	@echo "make render       write the manifests the Pulumi program would create to build/manifests/"
	@echo "make bench        serving and batch benchmarks against named peers"
	@echo "make lint         ruff"

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[$(EXTRAS)]'
	touch $@

venv: $(STAMP)

up: venv
	$(BIN)/mlplat up

down: venv
	$(BIN)/mlplat down

test: venv
	$(BIN)/python -m pytest tests --ignore=tests/cluster

# The smoke test against a running kind deployment (after `make up` on a machine with Docker).
test-cluster: venv
	$(BIN)/python -m pytest tests/cluster -rs

render: venv
	$(BIN)/mlplat render --all --out build/manifests

# Serving benchmark against mlflow models serve and MLServer (needs wrk: apt-get install wrk), then
# batch scoring against mlflow models predict (1 and 10 million rows, generated in a temporary folder).
bench: venv
	$(BIN)/python benchmarks/serving.py
	$(BIN)/python benchmarks/batch.py

standalone: venv
	$(BIN)/mlplat standalone

lint: venv
	$(BIN)/ruff check blueprints infra services policies tests benchmarks
	$(BIN)/ruff format --check blueprints infra services policies tests benchmarks

clean:
	rm -rf build .pytest_cache
