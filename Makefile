# Cirrus developer entry points. `make run` and `make test` work on a fresh
# Debian machine with the Rust toolchain (rustup) installed: they bootstrap
# the Debian packages they need first.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo

# rustup puts cargo in ~/.cargo/bin, which non-login shells may lack: use it
# only when no cargo is on PATH already.
ifeq ($(shell command -v cargo 2>/dev/null),)
CARGO_BIN := $(or $(CARGO_HOME),$(HOME)/.cargo)/bin
ifneq ($(wildcard $(CARGO_BIN)/cargo),)
export PATH := $(CARGO_BIN):$(PATH)
endif
endif

.DEFAULT_GOAL := build
.PHONY: bootstrap run test build bench fmt fmt-check clippy

bootstrap:
	scripts/bootstrap.sh

## run: start the server (release build) on $$CIRRUS_LISTEN (default 127.0.0.1:9229)
run: bootstrap
	$(CARGO) run --release -- serve

## test: bootstrap, resolve PostgreSQL, cargo build + test, compat suite
test:
	scripts/test.sh

## build: debug build of the whole workspace (target/debug/cirrus)
build: bootstrap
	$(CARGO) build --workspace

## bench: release build + startup/RSS/throughput bench -> bench/RESULTS.md
bench:
	bench/run.sh

fmt:
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all -- --check

clippy: bootstrap
	$(CARGO) clippy --workspace --all-targets -- -D warnings
