# Smart Desa. `make run` starts the whole dev system; `make test` runs the suite.
# Everything installs into .venv from PyPI; nothing needs to be installed by hand.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
PROTOS := $(wildcard proto/smartdesa/v1/*.proto)

.PHONY: help install run test test-fast smoke proto proto-check lint format clean-data \
	asyncapi-check asyncapi-schema dead-letters

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

install: $(STAMP)

run: $(STAMP)
	$(PY) -m scripts.devstack

test: $(STAMP)
	$(PY) -m pytest

# Everything except the end-to-end tests across processes.
test-fast: $(STAMP)
	$(PY) -m pytest -m "not e2e"

smoke: $(STAMP)
	$(PY) -m scripts.smoke

# What the event consumers gave up on (the dead-letter stream of a running `make run`).
dead-letters: $(STAMP)
	$(PY) -m scripts.dead_letters

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

# The event contract (docs/asyncapi.yaml): valid AsyncAPI 3.0 and true to the code. Part of `make test`.
asyncapi-check: $(STAMP)
	$(PY) -m pytest -q tests/contracts

# Refresh the vendored AsyncAPI 3.0.0 JSON Schema from the @asyncapi/specs npm package (needs npm;
# CI uses the checked-in copy).
ASYNCAPI_SPECS ?= 6.11.1
asyncapi-schema:
	tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent @asyncapi/specs@$(ASYNCAPI_SPECS) >/dev/null \
		&& tar xzf asyncapi-specs-$(ASYNCAPI_SPECS).tgz && cd - >/dev/null \
		&& cp $$tmp/package/schemas/3.0.0.json docs/schemas/asyncapi-3.0.0.json \
		&& cp $$tmp/package/LICENSE docs/schemas/LICENSE-asyncapi-specs \
		&& cp $$tmp/package/NOTICE docs/schemas/NOTICE-asyncapi-specs && rm -rf $$tmp

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
