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

.PHONY: all build test test-arm64 demo bench fuzz cross vet clean plugins kernels build-cuda gpu-bundle

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
	# the CUDA build (-tags cuda): host logic, the kernels run on the CPU, and (once, here) the
	# tiny model through the CUDA backend on the kernels' source; GPU tests skip without one
	$(GO) vet -tags cuda ./runtime/... ./kernels/... ./cmd/maira/
	MAIRA_KERNEL_SOURCE=1 $(GO) test -tags cuda ./runtime/cuda/ ./kernels/cuda/
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

# The GPU path (docs/gpu.md). The default build is static and CPU-only;
# -tags cuda links purego's dlopen of libcuda.so.1 (dynamically linked
# against glibc, as JetPack has it). `make kernels` regenerates the PTX
# (committed, embedded) from kernels/cuda/kernels.cu with Debian's clang-16;
# `make gpu-bundle` puts the CUDA binary and GPU test binary in one folder
# for the device tool, which runs scripts/gpu-check.sh there.
kernels:
	clang-16 -x cuda --cuda-device-only -nocudainc -nocudalib --cuda-gpu-arch=sm_87 -Xclang -target-feature -Xclang +ptx74 -O3 -S -o kernels/cuda/kernels.ptx kernels/cuda/kernels.cu

build-cuda:
	$(GO) build -tags cuda $(GOFLAGS_BUILD) -o $(BIN) ./cmd/maira

GPU_BUNDLE := build/gpu-bundle
gpu-bundle:
	rm -rf $(GPU_BUNDLE) && mkdir -p $(GPU_BUNDLE)
	GOOS=linux GOARCH=amd64 $(GO) build -tags cuda $(GOFLAGS_BUILD) -ldflags "-s -w" -o $(GPU_BUNDLE)/maira ./cmd/maira
	GOOS=linux GOARCH=amd64 $(GO) test -tags cuda $(GOFLAGS_BUILD) -ldflags "-s -w" -c -o $(GPU_BUNDLE)/cuda.test ./runtime/cuda
	du -sh $(GPU_BUNDLE)

cross:
	GOOS=linux GOARCH=amd64 $(GO) build $(GOFLAGS_BUILD) -o bin/maira-linux-amd64 ./cmd/maira
	GOOS=linux GOARCH=arm64 $(GO) build $(GOFLAGS_BUILD) -o bin/maira-linux-arm64 ./cmd/maira

clean:
	rm -rf bin build
