# The user-facing verbs. Every target creates the virtualenv and installs what it needs, so a
# fresh clone works with nothing but python3 (and, for `make test-engine`, go).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS := infra,services,dev

.PHONY: help venv up down standalone test test-engine render bench lint toolchain clean

help:
	@echo "make up           deploy the platform (kind when docker, kind and pulumi are present)"
	@echo "make down         tear it down"
	@echo "make test         the fast test suite: no cluster, no Docker, no Pulumi CLI"
	@echo "make test-engine  real 'pulumi up' against a local control plane (builds the toolchain once)"
	@echo "make render       write the manifests the Pulumi program would create to build/manifests/"
	@echo "make bench        serving benchmarks against named peers"
	@echo "make lint         ruff"
	@echo "make toolchain    build the pinned Pulumi CLI, provider and control plane from source"

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
	$(BIN)/python -m pytest tests

render: venv
	$(BIN)/mlplat render --all --out build/manifests

lint: venv
	$(BIN)/ruff check blueprints infra services policies tests benchmarks
	$(BIN)/ruff format --check blueprints infra services policies tests benchmarks

clean:
	rm -rf build .pytest_cache
