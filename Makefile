# minirunc: an OCI runtime, and (later) minidock, its Docker-like front-end.
# Every target that needs packages installs them itself (as root, from Debian).

GO        ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
VERSION   ?= $(shell cat VERSION 2>/dev/null || echo 0.1.0-dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.gitCommit=$(COMMIT)
PREFIX    ?= /usr/local
BIN       := bin/minirunc
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
APT_PKGS  := busybox-static jq iproute2 util-linux file libseccomp-dev pkg-config gcc

.PHONY: all build install deps demo test test-unit test-integration bench lint clean

all: build

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) .

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/sbin/minirunc

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

test: deps lint test-unit test-integration

test-unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /tests/)

test-integration: build
	cd tests/integration && MINIRUNC_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 20m .

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

bench: deps build
	./scripts/bench.sh $(BIN)

clean:
	rm -rf bin
