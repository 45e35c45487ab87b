# cellplane: `make dev` runs the local platform, `make test` runs every test.
SHELL := /bin/bash
GO ?= go
CELLPLANE_STATE ?= $(CURDIR)/.local
TOOLS_PATH = $(shell deploy/local/tools.sh --path)
export PATH := $(TOOLS_PATH):$(PATH)
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION := true
export PULUMI_SKIP_UPDATE_CHECK := true

.PHONY: all build tools browser dev test bench vet clean

all: build

build:
	$(GO) build -o bin/cellplane ./controlplane/cmd/cellplane

tools:
	deploy/local/tools.sh

# Debian's chromium drives the page tests (controlplane/web); installed when missing.
browser:
	@command -v /usr/bin/chromium >/dev/null || { \
		echo "installing chromium for the page tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

dev: tools build
	bin/cellplane local up --state $(CELLPLANE_STATE)

test: tools browser
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 60m ./...

bench: tools
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./...

clean:
	rm -rf bin
