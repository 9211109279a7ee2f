# maira: `make demo` builds and runs the main job on a generated demo model;
# `make test` runs every test (and the arm64 tests under qemu when it is
# installed). See README.md.

GO        ?= go
BIN       := bin/maira
DEMO      := build/demo
FUZZTIME  ?= 30s
QEMU      := $(shell command -v qemu-aarch64-static 2>/dev/null)
STATICCHECK := $(shell command -v staticcheck 2>/dev/null || ls $$($(GO) env GOPATH)/bin/staticcheck 2>/dev/null)
GOFLAGS_BUILD := -trimpath

export CGO_ENABLED := 0

.PHONY: all build test test-arm64 demo bench fuzz cross vet clean plugins

all: build

build:
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN) ./cmd/maira

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
ifneq ($(STATICCHECK),)
	$(STATICCHECK) ./...
else
	@echo "staticcheck not installed: skipping it (go install honnef.co/go/tools/cmd/staticcheck@latest)"
endif

# The arm64 build is tested under qemu-user (Debian's qemu-user-static)
# where it is installed, so bit-exactness holds on the Jetson's architecture.
test: vet
	$(GO) test -timeout 8m ./...
	$(GO) test -tags noasm ./kernels/ ./runtime/ ./models/llama/
ifneq ($(QEMU),)
	GOARCH=arm64 $(GO) test -timeout 8m -exec $(QEMU) ./...
	# arm64 without the dotprod extension (Cortex-A53): the neon variant
	QEMU_CPU=cortex-a53 GOARCH=arm64 $(GO) test -count=1 -exec $(QEMU) ./kernels/ ./runtime/
else
	@echo "qemu-aarch64-static not installed: skipping the arm64 tests (apt-get install qemu-user-static)"
endif

# The demo: a tiny MAIRA-2 checkpoint converted with the default recipe, then
# the appliance itself, maira watch on a drop folder with synthetic studies
# (DICOM and PNG) dropped in, reports shown as they appear, and a clean stop
# (scripts/demo.sh).
demo: build plugins
	BIN=$(BIN) DEMO=$(DEMO) PLUGINS=$(PLUGIN_DIR) scripts/demo.sh

# Benchmarks: the Go benchmarks of the quantizers, readers and kernels, the
# whole-checkpoint conversion benchmark (scripts/bench-quant.sh: a 14 GB
# vicuna7b-shape checkpoint; needs ~40 GB of free disk), and the engine beside
# llama.cpp and PyTorch (scripts/bench-engine.sh). Results go in
# BENCHMARKS.md.
bench: build
	$(GO) test -run '^$$' -bench . -benchtime 2s ./quant/... ./kernels/... ./dicom/...
	scripts/bench-quant.sh
	scripts/bench-dicom.sh
	mkdir -p build/bench
	bash -o pipefail -c "scripts/bench-engine.sh | tee build/bench/engine-$$(date +%F).md"
	@echo "engine table saved in build/bench/engine-$$(date +%F).md: record it in BENCHMARKS.md with the machine and date"

fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# Export plugins (docs/plugins.md): WebAssembly reactors built from
# plugins/NAME with Go's own toolchain, into bin/plugins/NAME.wasm.
PLUGINS    := hl7 fhir
PLUGIN_DIR ?= bin/plugins

plugins:
	@mkdir -p $(PLUGIN_DIR)
	for p in $(PLUGINS); do \
		GOOS=wasip1 GOARCH=wasm $(GO) build $(GOFLAGS_BUILD) -buildmode=c-shared -o $(PLUGIN_DIR)/$$p.wasm ./plugins/$$p || exit 1; \
	done

cross:
	GOOS=linux GOARCH=amd64 $(GO) build $(GOFLAGS_BUILD) -o bin/maira-linux-amd64 ./cmd/maira
	GOOS=linux GOARCH=arm64 $(GO) build $(GOFLAGS_BUILD) -o bin/maira-linux-arm64 ./cmd/maira

clean:
	rm -rf bin build
