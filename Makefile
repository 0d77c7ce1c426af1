# berth — build, test and benchmark targets.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin:$(HOME)/go/bin
GO ?= go
BIN := bin
STATICCHECK := $(HOME)/go/bin/staticcheck
STATICCHECK_VERSION := v0.8.2

.PHONY: all build deps test-deps quickstart test unit integration compat lint fuzz bench clean

all: build

deps:
	@./scripts/install-deps.sh

test-deps:
	@./scripts/install-test-deps.sh

quickstart:
	./scripts/quickstart.sh

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/berthd ./cmd/berthd
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/berth ./cmd/berth
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o $(BIN)/berth-shim ./cmd/berth-shim

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: $(STATICCHECK)
	@test -z "$$(gofmt -l cmd internal test bench)" || { gofmt -l cmd internal test bench; exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags integration,compat ./test/...
	$(STATICCHECK) ./...

# test runs everything: lint, unit and privileged component tests, fuzz seed
# corpora, integration tests against a real berthd, and the docker CLI compat tests.
test: test-deps build lint
	$(GO) test -count=1 -timeout 15m ./...
	$(GO) test -count=1 -timeout 15m -tags integration -p 1 ./test/integration/...
	$(GO) test -count=1 -timeout 5m -tags conformance ./test/conformance/...
	$(GO) test -count=1 -timeout 10m -tags compat -p 1 ./test/compat/...

unit:
	$(GO) test -count=1 ./...

fuzz:
	@for p in $$(grep -rl --include='*_test.go' '^func Fuzz' internal | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -h '^func Fuzz' $$p/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
	    echo "== $$p $$f"; $(GO) test ./$$p -run=^$$ -fuzz=^$$f$$ -fuzztime=$${FUZZTIME:-30s} || exit 1; \
	  done; done

bench: deps build
	./bench/run.sh

clean:
	rm -rf $(BIN)
