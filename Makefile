# vmfwupdate-harness: `make setup` once, then `make check-vmfwupdate`.
# Pass QEMU_SRC=<checkout|tarball|URL> to use another QEMU source, V=1 for every command.

VENV   := .venv
PYTHON := $(VENV)/bin/python
CLI    := $(strip $(PYTHON) -m harness $(if $(V),-v))

.PHONY: help setup check-vmfwupdate check unit functional fetch apply export build \
        build-asan checkpatch lint format clean bench

help:
	@echo "make setup             install Debian packages and the .venv (idempotent)"
	@echo "make check-vmfwupdate  unit tests, fetch, apply, build, in-tree suite, functional tests"
	@echo "make unit              unit tests only"
	@echo "make fetch|apply|export|build|build-asan|checkpatch   single steps"
	@echo "make lint              ruff check + format check"
	@echo "make bench             benchmarks -> README table + bench/results/ (~3 min)"
	@echo "variables: QEMU_SRC=<checkout|tarball|URL>  V=1 (verbose)"
	@echo "           SLOW=1 (long reliability runs)  ASAN=1 (asan build profile)"
	@echo "           SERIAL=1 (functional tests in one process, not one worker per CPU)"

setup:
	bash scripts/setup

$(PYTHON):
	@echo "no virtual environment in $(VENV): run 'make setup' first" >&2; exit 1

check-vmfwupdate check: | $(PYTHON)
	$(CLI) check $(if $(SLOW),--long) $(if $(ASAN),--asan) $(if $(SERIAL),--serial)

unit: | $(PYTHON)
	$(PYTHON) -m pytest tests/unit

functional: | $(PYTHON)
	$(CLI) test --no-build --accel all $(if $(SERIAL),--serial)

fetch apply export build checkpatch: | $(PYTHON)
	$(CLI) $@

build-asan: | $(PYTHON)
	$(CLI) build --profile asan

lint: | $(PYTHON)
	$(VENV)/bin/ruff check harness tests scripts bench
	$(VENV)/bin/ruff format --check harness tests bench

format: | $(PYTHON)
	$(VENV)/bin/ruff format harness tests bench

clean:
	rm -rf .work/build .work/logs .work/payloads

bench: | $(PYTHON)
	$(PYTHON) -c "import matplotlib" 2>/dev/null || $(VENV)/bin/pip install -q -e ".[bench]"
	$(PYTHON) -m bench.run
