# wazuh-pull — see README.md. `make test` is the test command CI runs.

SHELL := /bin/bash
GO ?= go
GOBIN := $(shell $(GO) env GOPATH)/bin
export PATH := $(GOBIN):$(PATH)

# No test may reach real AWS or the instance metadata service.
export AWS_ACCESS_KEY_ID := test
export AWS_SECRET_ACCESS_KEY := test
export AWS_REGION := us-east-1
export AWS_DEFAULT_REGION := us-east-1
export AWS_EC2_METADATA_DISABLED := true
unexport AWS_PROFILE AWS_SESSION_TOKEN

RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
# Every vendor with a Lambda main (functions/<vendor>/lambda) is packaged.
FUNCTIONS := $(patsubst functions/%/lambda/main.go,%,$(wildcard functions/*/lambda/main.go))
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 20s

.PHONY: all build demo test deps vet unit bench-once bench package fuzz clean

all: build

# The production binary leaves the demo's simulators out (-tags nodemo).
build:
	$(GO) build -trimpath -tags nodemo -ldflags '$(LDFLAGS)' -o bin/localrun ./localrun

demo:
	$(GO) run ./localrun demo

# Installs what the tests need when it is absent. moto_server and cfn-lint
# are expected on PATH (pip); the tests that need them fail and say so.
deps:
	@if ! command -v rsyslogd >/dev/null || ! ls /usr/lib/*/rsyslog/lmnsd_gtls.so /usr/lib/*/rsyslog/lmnsd_ossl.so >/dev/null 2>&1; then \
		echo "installing rsyslog and its TLS drivers (apt)"; \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends rsyslog rsyslog-gnutls rsyslog-openssl >/dev/null; \
	fi
	@command -v aws-lambda-rie >/dev/null || { echo "installing aws-lambda-rie ($(RIE_VERSION))"; $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION); }
	@command -v moto_server >/dev/null || echo "NOTE: moto_server not on PATH: pip install 'moto[server]' (the DynamoDB and Secrets Manager tests will fail without it)"
	@command -v cfn-lint >/dev/null || echo "NOTE: cfn-lint not on PATH: pip install cfn-lint (the infrastructure tests will fail without it)"

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

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

unit:
	$(GO) test -count=1 -timeout 25m ./...

# Every benchmark runs once so none can rot; `make bench` measures.
bench-once:
	$(GO) test -count=1 -run '^$$' -bench . -benchtime=1x -timeout 15m ./...

test: deps engine vet unit bench-once

bench:
	$(GO) test -count=1 -run '^$$' -bench . -benchmem -timeout 30m ./...

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
	rm -rf bin dist
