# vmfwupdate-harness: `make setup` once, then `make check-vmfwupdate`.
# Pass QEMU_SRC=<checkout|tarball|URL> to use another QEMU source, V=1 for every command.

VENV   := .venv
PYTHON := $(VENV)/bin/python
CLI    := $(strip $(PYTHON) -m harness $(if $(V),-v))
# SERIES=v6|v7: the series a command works on (default: check and bench run both, the rest v7)
SERIES_OPT := $(if $(SERIES),--series $(SERIES))

.PHONY: help setup check-vmfwupdate check unit functional fetch apply export build \
        build-asan build-fuzz checkpatch lint format clean bench fuzz fuzz-libigvm

help:
	@echo "make setup             install Debian packages, the .venv, libigvm and igvm-wrap (idempotent)"
	@echo "make check-vmfwupdate  unit tests, fetch, apply, build, in-tree suite, functional tests"
	@echo "make unit              unit tests only"
	@echo "make fetch|apply|export|build|build-asan|checkpatch   single steps"
	@echo "make lint              ruff check + format check"
	@echo "make bench             benchmarks of both series (SERIES=v6|v7: one) -> docs/benchmarks.md table + bench/results/"
	@echo "make clean             remove builds, logs, payloads (keeps QEMU trees, downloads, fuzz corpora)"
	@echo "make fuzz              generic-fuzz on the device (clang-16 build; installs it once)"
	@echo "           FUZZ_TARGET=vmfwupdate-pc|vmfwupdate-q35|all  FUZZ_TIME=<s>  FUZZ_RUNS=<n>"
	@echo "           FUZZ_CORPUS=<dir>  FUZZ_LEAKS=input|exit"
	@echo "make fuzz-libigvm      libFuzzer on libigvm's igvm_new_from_binary (stable Rust, seeds from igvm-wrap)"
	@echo "           FUZZ_TIME=<s>  FUZZ_RUNS=<n>  FUZZ_CORPUS=<dir>  FUZZ_MAX_LEN=<bytes>"
	@echo "           IGVM_GUARD=0 (no header check)"
	@echo "           FUZZ_PROFILE=as-linked|checked (checked: overflow checks, debug assertions)"
	@echo "variables: SERIES=v6|v7 (check, bench: both unless given; other targets: v7)"
	@echo "           QEMU_SRC=<checkout|tarball|URL>  V=1 (verbose)"
	@echo "           SLOW=1 (long reliability runs)  ASAN=1 (asan build profile)"
	@echo "           SERIAL=1 (functional tests in one process, not one worker per CPU)"

setup:
	bash scripts/setup

$(PYTHON):
	@echo "no virtual environment in $(VENV): run 'make setup' first" >&2; exit 1

check-vmfwupdate check: | $(PYTHON)
	$(CLI) check $(SERIES_OPT) $(if $(SLOW),--long) $(if $(ASAN),--asan) $(if $(SERIAL),--serial)

unit: | $(PYTHON)
	$(PYTHON) -m pytest tests/unit

functional: | $(PYTHON)
	$(CLI) test $(SERIES_OPT) --no-build --accel all $(if $(SERIAL),--serial)

fetch apply export build checkpatch: | $(PYTHON)
	$(CLI) $@ $(SERIES_OPT)

build-asan: | $(PYTHON)
	$(CLI) build $(SERIES_OPT) --profile asan

build-fuzz: | $(PYTHON)
	$(CLI) build $(SERIES_OPT) --profile fuzz

# without FUZZ_TIME and FUZZ_RUNS each target runs for 600 s
FUZZ_TARGET ?= all
fuzz: | $(PYTHON)
	$(CLI) fuzz $(SERIES_OPT) --target $(FUZZ_TARGET) \
	    $(if $(FUZZ_TIME),--time $(FUZZ_TIME),$(if $(FUZZ_RUNS),,--time 600)) \
	    $(if $(FUZZ_RUNS),--runs $(FUZZ_RUNS)) $(if $(FUZZ_CORPUS),--corpus $(FUZZ_CORPUS)) \
	    $(if $(FUZZ_LEAKS),--leaks $(FUZZ_LEAKS))

# without FUZZ_TIME and FUZZ_RUNS it runs for 600 s; one process, niced (the CPUs are shared)
fuzz-libigvm: | $(PYTHON)
	nice -n 15 $(CLI) fuzz-libigvm \
	    $(if $(FUZZ_TIME),--time $(FUZZ_TIME),$(if $(FUZZ_RUNS),,--time 600)) \
	    $(if $(FUZZ_RUNS),--runs $(FUZZ_RUNS)) $(if $(FUZZ_CORPUS),--corpus $(FUZZ_CORPUS)) \
	    $(if $(FUZZ_MAX_LEN),--max-len $(FUZZ_MAX_LEN)) $(if $(filter 0,$(IGVM_GUARD)),--unguarded) $(if $(FUZZ_PROFILE),--profile $(FUZZ_PROFILE))

lint: | $(PYTHON)
	$(VENV)/bin/ruff check harness tests scripts bench
	$(VENV)/bin/ruff format --check harness tests bench

format: | $(PYTHON)
	$(VENV)/bin/ruff format harness tests bench

clean:
	rm -rf .work/*/build .work/*/logs .work/*/bench .work/logs .work/payloads .work/outgoing .work/*/src/.unpack-*

bench: | $(PYTHON)
	$(PYTHON) -c "import matplotlib" 2>/dev/null || $(VENV)/bin/pip install -q -e ".[bench]"
	$(PYTHON) -m bench.run --series $(or $(SERIES),all)
