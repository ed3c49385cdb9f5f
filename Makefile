# Kiln developer entry points. `make demo` and `make test` work on a fresh Debian machine:
# both install the dependencies first (scripts/install-deps is idempotent and quick when done).
PYTHON ?= python3
BUILD_DIR ?= build
JOBS ?= 2
DEMO_DIR ?= tests/models/out

# Each build directory has its own `kiln` package: $(BUILD_DIR)/python/kiln (the module and links
# to python/kiln/*.py), so `make BUILD_DIR=build2 test-python` tests build2's module.
PY_ENV = PYTHONPATH=$(CURDIR)/$(BUILD_DIR)/python KILN_BUILD_DIR=$(CURDIR)/$(BUILD_DIR) \
  KILN_CLI=$(CURDIR)/$(BUILD_DIR)/bin/kiln

.PHONY: all deps configure build test test-cpp test-python test-fuzz fuzz demo bench format clean

all: build

deps:
	./scripts/install-deps

configure:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release \
	  -DPython_EXECUTABLE=$$(command -v $(PYTHON))

# One CMake build makes the library, the `kiln` CLI, the tests and the Python module
# ($(BUILD_DIR)/python/kiln/_kiln*.so), so nothing is compiled twice.
build: configure
	cmake --build $(BUILD_DIR) -j$(JOBS)

test-cpp: build
	$(BUILD_DIR)/bin/kiln_tests --gtest_brief=1

test-python: build
	$(PY_ENV) $(PYTHON) -m pytest -q -p no:cacheprovider --timeout=900 tests/python

# Fuzz targets (fuzz/, clang-19 + libFuzzer, own build dir build-fuzz; docs/fuzzing.md): each
# target runs FUZZ_SECONDS; `make test` runs each for 60 s.
FUZZ_SECONDS ?= 300
fuzz: build
	$(PY_ENV) FUZZ_JOBS=$(JOBS) ./fuzz/run.sh $(FUZZ_SECONDS)

test-fuzz: build
	$(PY_ENV) FUZZ_JOBS=$(JOBS) ./fuzz/run.sh 60

test: deps
	$(MAKE) test-cpp test-python test-fuzz

demo: deps
	$(MAKE) build
	$(PYTHON) tests/models/export.py --out $(DEMO_DIR) resnet50
	$(BUILD_DIR)/bin/kiln inspect $(DEMO_DIR)/resnet50.onnx
	$(BUILD_DIR)/bin/kiln compile $(DEMO_DIR)/resnet50.onnx -o $(DEMO_DIR)/resnet50.tar
	$(BUILD_DIR)/bin/kiln run $(DEMO_DIR)/resnet50.tar --print-time --print-top 5
	$(PY_ENV) $(PYTHON) bench/run.py --models resnet50 --threads $$(nproc) --repeat 5
	@echo "The kiln command line is $(CURDIR)/$(BUILD_DIR)/bin/kiln"

# Kiln beside onnxruntime (medians and ratios; not a test).
bench: build
	$(PY_ENV) $(PYTHON) bench/run.py --models resnet50_v1,mobilenet_v2,bert_base --threads 1,2

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD_DIR) build-fuzz python/kiln/_kiln*.so  # the latter: left by builds before per-build packages
