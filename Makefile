# wazuh-pull — see README.md. `make test` is the test command CI runs.

SHELL := /bin/bash
GO ?= go
GOBIN := $(shell $(GO) env GOPATH)/bin
# moto_server and cfn-lint come from PATH or, when absent there, from the
# project's own virtual environment that make deps builds (last on PATH).
export PATH := $(GOBIN):$(PATH):$(CURDIR)/.venv/bin

# No test may reach real AWS or the instance metadata service.
export AWS_ACCESS_KEY_ID := test
export AWS_SECRET_ACCESS_KEY := test
export AWS_REGION := us-east-1
export AWS_DEFAULT_REGION := us-east-1
export AWS_EC2_METADATA_DISABLED := true
unexport AWS_PROFILE AWS_SESSION_TOKEN

RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Every vendor with a Lambda main (functions/<vendor>/lambda) is packaged.
FUNCTIONS := $(patsubst functions/%/lambda/main.go,%,$(wildcard functions/*/lambda/main.go))
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 20s
# Packages: ./... skips .ci, which holds the benchmark gate.
PKGS := ./... ./.ci/benchcheck
BENCH_OUT ?= bench.out

.PHONY: all build demo test deps vet unit bench-once bench stress-test package fuzz clean

all: build

# The production binary leaves the demo's simulators out (-tags nodemo). It
# is static: it runs on any manager whatever its C library, and a process
# that skips the dynamic loader starts faster (it starts once per run).
build:
	CGO_ENABLED=0 $(GO) build -trimpath -tags nodemo -ldflags '$(LDFLAGS)' -o bin/localrun ./localrun

demo:
	$(GO) run ./localrun demo

# Installs what the tests need when it is absent (apt for rsyslog, go
# install for the Lambda emulator, a virtual environment in .venv for
# moto_server and cfn-lint when they are not on PATH) and prints one line
# per tool saying what is used. See .ci/deps.sh.
deps:
	@RIE_VERSION=$(RIE_VERSION) bash .ci/deps.sh

# The rule tests replay events through a real Wazuh engine (shared/wazuhlab):
# built once into ~/.cache from ../shared/wazuh-engine, unless WAZUH_LAB names one.
.PHONY: engine seed-test
engine:
	@bash shared/wazuhlab/engine.sh

# The seed wodles' own rules, loaded instead of ours, on our events: needs
# their public repositories (GitHub), so it is not part of make test.
seed-test: engine
	@bash shared/wazuhlab/seeds.sh
	$(GO) test -count=1 -tags seedrules -run TestSeedRulesDropIn ./rules/

# gofmt, go vet, staticcheck (pinned, run through the module proxy), and
# the platform promise: localrun builds for macOS too.
vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)
	GOOS=darwin GOARCH=arm64 $(GO) build -o /dev/null ./localrun

unit:
	$(GO) test -count=1 -timeout 25m $(PKGS)

# Every benchmark runs once so none can rot; this only checks that they
# run. `make bench` measures and compares with the targets.
bench-once:
	$(GO) test -count=1 -run '^$$' -bench . -benchtime=1x -timeout 15m ./...

test: deps engine vet unit bench-once

# Measures every benchmark and compares each figure with its target in
# .ci/bench-targets.txt: exits non-zero when one is missed or missing.
# The raw output is kept in $(BENCH_OUT).
# The table is printed even when a benchmark failed. One package at a
# time (-p 1): two packages' benchmarks side by side on two cores cost
# each other up to a third of their CPU-second figures. Like make test, it
# first installs what the benchmarks need (rsyslog, the Lambda emulator,
# moto, the Wazuh engine): on a fresh machine they would fail for want of
# a tool instead of measuring.
bench: deps engine
	@set -o pipefail; $(GO) test -p 1 -count=1 -run '^$$' -bench . -benchmem -timeout 60m ./... | tee $(BENCH_OUT); status=$$?; \
		$(GO) run ./.ci/benchcheck -targets .ci/bench-targets.txt $(BENCH_OUT) && exit $$status

# The whole of make test, RUNS times in a row (default 5), while LOAD
# CPU-bound processes (default 2) compete for the CPUs: a suite that
# passes only on an idle machine fails here. See .ci/stress-test.sh.
stress-test:
	@bash .ci/stress-test.sh

# One zip per function: provided.al2023 on arm64 runs a binary named bootstrap.
# zipbootstrap writes a deterministic zip (one entry, mode 0755, fixed mtime)
# and checks it (static aarch64 ELF, at most 15 MB); no zip tool needed.
package:
	@mkdir -p dist
	@for f in $(FUNCTIONS); do \
		echo "building dist/$$f.zip"; \
		rm -rf dist/$$f && mkdir -p dist/$$f; \
		CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -tags lambda.norpc -ldflags '$(LDFLAGS)' -o dist/$$f/bootstrap ./functions/$$f/lambda || exit 1; \
		$(GO) run ./infra/cmd/zipbootstrap -arch arm64 -o dist/$$f.zip dist/$$f/bootstrap || exit 1; \
	done

# Runs every fuzz target for FUZZTIME (go test -fuzz takes one target at a time).
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

clean:
	rm -rf bin dist $(BENCH_OUT)
