# cellplane: `make dev` runs the local platform, `make test` runs every test.
SHELL := /bin/bash
GO ?= go
CELLPLANE_STATE ?= $(CURDIR)/.local
TOOLS_PATH = $(shell deploy/local/tools.sh --path)
export PATH := $(TOOLS_PATH):$(PATH)
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION := true
export PULUMI_SKIP_UPDATE_CHECK := true

.PHONY: all build tools dev test bench vet clean

all: build

build:
	$(GO) build -o bin/cellplane ./controlplane/cmd/cellplane

tools:
	deploy/local/tools.sh

dev: tools build
	bin/cellplane local up --state $(CELLPLANE_STATE)

test: tools
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 60m ./...

bench: tools
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./...

clean:
	rm -rf bin
