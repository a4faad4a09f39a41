# minirunc: an OCI runtime, and (later) minidock, its Docker-like front-end.
# Every target that needs packages installs them itself (as root, from Debian).

GO        ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
# Go 1.27, which the go command fetches from the module proxy (~76 MB, once
# per machine): its encoding/json analyses a struct type when data first
# reaches it, where 1.26 built encoders for every type reachable from a
# decoded config.json, ~0.5 ms of each create and exec (`run` 11.61 ->
# 10.74 ms wall, `exec` 6.18 -> 5.31, 20 interleaved rounds). go.mod still
# names 1.26: a build with a local 1.26 works, only slower. Exported, so
# the tests' own `go build`s use it too; `make GOTOOLCHAIN=local` opts out.
GOTOOLCHAIN := go1.27.3
export GOTOOLCHAIN
VERSION   ?= $(shell cat VERSION 2>/dev/null || echo 0.1.0-dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.gitCommit=$(COMMIT)
PREFIX    ?= /usr/local
BIN       := bin/minirunc
DOCK_BIN  := bin/minidock
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
APT_PKGS  := busybox-static jq iproute2 util-linux file libseccomp-dev pkg-config gcc tini

.PHONY: all build install deps demo demo-dock test test-unit test-integration test-clients test-dock test-oci bench lint clean stress

all: build

# Statically linked: no dynamic loader at every call, about 10% off each
# short command, and the binary runs in a bare guest as it is. It links
# musl rather than glibc: glibc's static start-up probes the CPU with
# dozens of cpuid instructions (each a VM exit, ~6 us here) and maps more,
# so a musl binary starts each command ~0.4 ms of CPU sooner and peaks
# ~1 MB lower. libseccomp for musl is built once into bin/musl from
# Debian's source of the installed libseccomp-dev (same version, same
# patches); if that cannot be done the build says so and links glibc.
MUSL_DIR := $(CURDIR)/bin/musl
# musl gives threads 128 KiB of stack, glibc 8 MiB; cgo calls (libseccomp)
# run on them. musl takes its default from the binary's PT_GNU_STACK.
MUSL_STACK := -Wl,-z,stack-size=8388608
build:
	@if ./scripts/musl-libseccomp.sh $(MUSL_DIR); then \
		echo "build: musl, libseccomp from $(MUSL_DIR)"; \
		set -x; CC=musl-gcc PKG_CONFIG_LIBDIR=$(MUSL_DIR)/lib/pkgconfig CGO_CFLAGS="-I$(MUSL_DIR)/include" \
		$(GO) build -trimpath -tags netgo,osusergo -ldflags "$(LDFLAGS) -linkmode external -extldflags '-static $(MUSL_STACK)'" -o $(BIN) .; \
	else \
		echo "build: WARNING: no musl libseccomp (see above); linking glibc, each command starts slower" >&2; \
		set -x; $(GO) build -trimpath -tags netgo,osusergo -ldflags "$(LDFLAGS) -linkmode external -extldflags -static" -o $(BIN) .; \
	fi
	$(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(DOCK_BIN) ./cmd/minidock

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/sbin/minirunc
	install -D -m 0755 $(DOCK_BIN) $(DESTDIR)$(PREFIX)/sbin/minidock

# deps installs what the demo and the tests need and is a no-op when present.
deps:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	$(GO) mod download

demo: deps build
	./scripts/demo.sh $(BIN)

test: deps lint test-unit test-integration test-clients test-dock test-oci test-cgroup2

test-unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /tests/)

test-integration: build
	cd tests/integration && MINIRUNC_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 20m .

# test-clients drives the runtime with the real engines from Debian (Docker
# 20.10 over a private containerd, ctr, Podman 4.3 with conmon, Kubernetes'
# CRI through containerd's CRI plugin), which the tests install if missing,
# start in a private mount and network namespace, and tear down. It prints
# "N passed, M failed" per client. tests/clients is a Go module of its own
# (the CRI client's gRPC stays out of the runtime's). The same suite against
# runc: make test-clients CLIENTS_RUNTIME=/usr/sbin/runc
test-clients: build
	cd tests/clients && MINIRUNC_BIN=$(CURDIR)/$(BIN) CLIENTS_RUNTIME=$(CLIENTS_RUNTIME) $(GO) test -count=1 -timeout 20m

# test-dock runs minidock (the front-end) for real over minirunc.
test-dock: build
	cd tests/dock && MINIRUNC_BIN=$(CURDIR)/$(BIN) MINIDOCK_BIN=$(CURDIR)/$(DOCK_BIN) $(GO) test -count=1 -timeout 10m .

# demo-dock shows the front-end: import busybox, run, list, logs, remove.
demo-dock: deps build
	./scripts/demo-dock.sh $(DOCK_BIN) $(BIN)

# test-cgroup2 runs the cgroup, pause, update and events integration tests
# in a throw-away pure cgroup v2 VM (cgv2-vm.sh; this host's controllers are
# on v1), with the binary `make build` ships (static, musl where it could be
# built) and a static test binary. It fails loudly when the VM cannot boot,
# the guest is not cgroup v2, or the tests did not run.
# The cgroup v2 guest runner lives in the workplace's shared tools, beside
# the checkout or at /work/shared.
CGV2_VM    ?= $(firstword $(wildcard $(abspath $(CURDIR)/../shared/tools/cgv2-vm.sh) /work/shared/tools/cgv2-vm.sh) $(abspath $(CURDIR)/../shared/tools/cgv2-vm.sh))
CGV2_TESTS ?= TestCgroup|TestPause|TestUpdate|TestEvents
STATIC     := -linkmode external -extldflags -static
.PHONY: test-cgroup2
test-cgroup2: build
	@test -x "$(CGV2_VM)" || { echo "test-cgroup2: FAILED: $(CGV2_VM) not found (set CGV2_VM)" >&2; exit 1; }
	cd tests/integration && $(GO) test -c -tags netgo,osusergo -ldflags "$(STATIC)" -o $(CURDIR)/bin/integration.test .
	./scripts/test-cgroup2.sh "$(CGV2_VM)" $(CURDIR) "$(CGV2_TESTS)"

# stress runs the concurrency storm of issue 11 at full size: 8 workers,
# STORM_SIZE containers (1000), with random interleavings. It prints the
# calls made, the outcomes by kind, the failures and the leaks found.
STORM_SIZE ?= 1000
stress: deps build
	@echo "stress: $(STORM_SIZE) containers, 8 workers (log: bin/stress.log)"
	@cd tests/integration && MINIRUNC_BIN=$(CURDIR)/$(BIN) MINIRUNC_STORM_SIZE=$(STORM_SIZE) \
		$(GO) test -count=1 -timeout 60m -run '^TestStorm$$' -v . >$(CURDIR)/bin/stress.log 2>&1; rc=$$?; \
		grep -E 'storm|^(--- |ok|FAIL|PASS)' $(CURDIR)/bin/stress.log; exit $$rc

# The OCI runtime-tools validation suite; fails on any failure not in
# tests/conformance/expected-failures.txt and on any listed program passing.
test-oci: build
	$(GO) run ./tests/conformance -runtime $(BIN) -x tests/conformance/expected-failures.txt

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	cd tests/clients && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...

# bench: minirunc against crun and runc in one interleaved, rotated run
# (tests/bench). ROUNDS, RSS_ROUNDS, SCALE_ROUNDS and BENCH_ARGS tune it,
# e.g. ROUNDS=5 make bench; the default takes a few minutes.
bench: deps build
	./scripts/bench.sh $(BIN)

clean:
	rm -rf bin
