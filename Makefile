# Nimbus: build, run and test.  `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
export PATH := $(PATH):/opt/swift/usr/bin

LISTEN ?= 127.0.0.1:5000
DATA_DIR ?= ./data
CONFIG ?= release
PYTEST_TIMEOUT ?= 180
PYTEST_ARGS ?=
# Two pytest workers (pytest-xdist); the suites that boot guests share one (tests/conftest.py).
PYTEST_WORKERS ?= 2
VENV := .venv

# `make test` runs its steps in order and stops at the first failure.
.NOTPARALLEL:

.PHONY: help deps venv build build-release run test swift-test integration tempest tempest-update bench clean-tempest

help:
	@echo "make run          build (release) and start nimbus on $(LISTEN), data in $(DATA_DIR)"
	@echo "make build        swift build (debug)"
	@echo "make test         swift tests (+PostgreSQL) then integration then tempest"
	@echo "make swift-test   swift tests only, with a throwaway PostgreSQL cluster"
	@echo "make integration  pytest suite in tests/ against a fresh nimbus"
	@echo "make tempest      tempest identity tests + must-pass check"
	@echo "make bench        benchmarks/identity"

deps:
	scripts/install-deps.sh

venv:
	scripts/venv.sh

build:
	swift build

build-release:
	swift build -c release

run:
	CONFIG=$(CONFIG) LISTEN=$(LISTEN) DATA_DIR=$(DATA_DIR) exec scripts/run.sh

test: deps venv swift-test integration tempest

swift-test: deps
	swift build --build-tests
	url=$$(scripts/pg-test-cluster.sh start); \
	trap 'scripts/pg-test-cluster.sh stop "$$url"' EXIT; \
	NIMBUS_TEST_POSTGRES_URL="$$url" swift test --skip-build

integration: venv
	[ -n "$${NIMBUS_BIN:-}" ] || swift build
	$(VENV)/bin/pytest -q tests/ --ignore=tests/tempest --timeout=$(PYTEST_TIMEOUT) --durations=25 \
		-n $(PYTEST_WORKERS) --no-loadscope-reorder $(PYTEST_ARGS)

tempest: venv
	[ -n "$${NIMBUS_BIN:-}" ] || swift build
	# The scenario pass (QEMU guests on the Linux datapath, one test at a time) runs beside the
	# API passes (fake driver): its log is shown once both are done.
	tests/tempest/run-scenario.sh > tests/.tempest-scenario.log 2>&1 & scenario=$$!; \
	api=0; tests/tempest/run.sh || api=$$?; \
	status=0; wait $$scenario || status=$$?; cat tests/.tempest-scenario.log; \
	[ $$api -eq 0 ] && [ $$status -eq 0 ]

tempest-update: venv
	[ -n "$${NIMBUS_BIN:-}" ] || swift build
	tests/tempest/run.sh --update
	tests/tempest/run-scenario.sh --update

bench: deps
	benchmarks/identity

clean-tempest:
	rm -rf tests/.tempest-work
