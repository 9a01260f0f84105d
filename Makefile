# vch: the two commands a user needs are `make run` and `make test`.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:/root/go/bin:$(PATH)

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X github.com/vchproject/vch/internal/version.Version=$(VERSION) \
           -X github.com/vchproject/vch/internal/version.GitCommit=$(COMMIT) \
           -X github.com/vchproject/vch/internal/version.BuildTime=$(shell date -u +%Y-%m-%dT%H:%M:%SZ)
NAME    ?= default

.PHONY: all build run setup test lint unit e2e bench flake clean dockerpy bundle docker-context

all: build

build:
	@mkdir -p bin
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/vchd ./cmd/vchd
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/vic-machine ./cmd/vic-machine
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o bin/tether ./cmd/tether
	$(GO) build -o bin/mkimage ./cmd/mkimage
	$(GO) build -o bin/mkiso ./cmd/mkiso
	# The vSphere endpoint VM's: its /init and static copies of vchd and
	# vic-machine (the appliance initramfs has no C library).
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o bin/vch-appliance ./cmd/vch-appliance
	@mkdir -p bin/appliance
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o bin/appliance/vchd ./cmd/vchd
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o bin/appliance/vic-machine ./cmd/vic-machine

# vic-bundle.tar.gz: what a user downloads, as VIC's bundle was.
bundle: build
	scripts/bundle.sh dist/vic-bundle.tar.gz

# dist/context: the vendored modules and the guest kernel that the root
# Dockerfile builds the same bundle from, offline (see README).
docker-context:
	scripts/docker-context.sh

setup:
	scripts/setup.sh

# Set up this machine, build, and start the VCH "default" (or print how to
# reach it if it already exists).
run: setup build
	@if bin/vic-machine inspect --name $(NAME) >/dev/null 2>&1; then \
		bin/vic-machine start --name $(NAME); \
	else \
		bin/vic-machine create --name $(NAME); \
	fi

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	staticcheck ./...

# Unit and port-layer tests (the QEMU-backed ones boot real VMs), with the
# race detector.
unit:
	$(GO) test -race -count=1 -p 2 -timeout 40m $$($(GO) list ./... | grep -v /tests/e2e)

# End-to-end: the real docker CLI against a real VCH built from bin/.
e2e: build
	$(GO) test -count=1 -p 1 -timeout 45m ./tests/e2e/...

# docker-py's own integration tests (containers, exec) against a VCH; needs
# a docker-py git checkout in DOCKER_PY_SRC (see tests/e2e/dockerpy_test.go).
# A chunk: DOCKER_PY_FILES="tests/integration/api_exec_test.py" and/or
# DOCKER_PY_K (pytest -k); pytest's output goes to DOCKER_PY_LOG.
dockerpy: build
	$(GO) test -tags dockerpy -count=1 -p 1 -timeout 60m -run TestDockerPy -v ./tests/e2e/

# The whole suite: what .ci/run calls.
test: setup build lint unit e2e

# Flake check: the concurrency/I-O packages (no VM boots) under -race,
# 20 rounds; reports each failing test. Not part of `make test`.
flake:
	scripts/flake.sh

bench: setup build
	bench/run

clean:
	rm -rf bin
