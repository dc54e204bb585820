# Smart Desa. `make run` starts the whole dev system; `make test` runs the suite.
# Everything installs into .venv from PyPI; nothing needs to be installed by hand.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
PROTOS := $(wildcard proto/smartdesa/v1/*.proto)

.PHONY: help install run test test-fast smoke proto proto-check lint format clean-data bench bench-signing

help:
	@echo "make run     start Temporal, NATS, the four services and the worker (dev profile)"
	@echo "make test    run the whole test suite"
	@echo "make smoke   drive one letter through a running 'make run' and print where it landed"
	@echo "make lint    ruff and mypy;  make proto  regenerate gRPC code"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The PKCS#11 signer is tested against SoftHSM2, a Debian package: installed here when missing.
SOFTHSM := /usr/lib/softhsm/libsofthsm2.so
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(SOFTHSM):
	$(SUDO) apt-get update -qq
	$(SUDO) apt-get install -y -qq softhsm2

install: $(STAMP) $(SOFTHSM)

run: $(STAMP)
	$(PY) -m scripts.devstack

test: $(STAMP) $(SOFTHSM)
	$(PY) -m pytest

# Everything except the end-to-end tests across processes.
test-fast: $(STAMP) $(SOFTHSM)
	$(PY) -m pytest -m "not e2e"

# Issue letters as fast as the machine allows and print the medians (not a test).
bench-signing: $(STAMP)
	$(PY) -m scripts.bench_signing

bench: bench-signing

smoke: $(STAMP)
	$(PY) -m scripts.smoke

proto: $(STAMP)
	rm -rf gen/smartdesa
	$(PY) -m grpc_tools.protoc -Iproto --plugin=protoc-gen-mypy=$(BIN)/protoc-gen-mypy \
		--plugin=protoc-gen-mypy_grpc=$(BIN)/protoc-gen-mypy_grpc --python_out=gen --mypy_out=gen \
		--grpc_python_out=gen --mypy_grpc_out=gen $(PROTOS)
	touch gen/smartdesa/__init__.py gen/smartdesa/v1/__init__.py

# Fails when the checked-in generated code is not what `make proto` makes.
proto-check: proto
	git diff --exit-code -- gen
	test -z "$$(git status --porcelain -- gen)"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Forget everything the dev profile stored (applications, letters, workflows, keys).
clean-data:
	rm -rf .data
