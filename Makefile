# The two commands of the README, and their parts.
#   make demo   install what is missing, build, run the demo
#   make test   install what is missing, build, run every test (C++, CLI, Python, ASan+UBSan, TSan,
#               and each fuzz target for FUZZ_SECONDS)
#   make fuzz   the fuzz targets for FUZZ_LONG_SECONDS each (an hour by default)
JOBS ?= $(shell nproc)
BUILD ?= build/release
PEOPLE ?= 20000
SANITIZE_BUILD ?= build/sanitize
THREAD_BUILD ?= build/tsan
FUZZ_BUILD ?= build/fuzz
FUZZ_SECONDS ?= 20
FUZZ_LONG_SECONDS ?= 3600
CMAKE_FLAGS ?=

.PHONY: demo test bootstrap build build-sanitize build-thread build-fuzz test-release test-python test-sanitize test-thread test-fuzz fuzz bench clean

demo: bootstrap build
	bash scripts/demo.sh $(BUILD)/pprl $(PEOPLE)

test: bootstrap build test-release test-python build-sanitize test-sanitize test-thread test-fuzz

bootstrap:
	bash scripts/bootstrap.sh

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

test-release: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# The Python package, built by pip through scikit-build-core with the same CMake, then its tests
# (which compare with the CLI built above and execute the example notebook).
PYTHON ?= python3
test-python: build
	PPRL_BOOTSTRAP_PYTHON=1 PYTHON=$(PYTHON) bash scripts/bootstrap.sh
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-build-isolation .
	cd tests/python && PPRL_CLI=$(abspath $(BUILD))/pprl $(PYTHON) -m pytest -q -p no:cacheprovider .

# The same tests under AddressSanitizer and UndefinedBehaviorSanitizer (no benchmarks).
build-sanitize:
	cmake -S . -B $(SANITIZE_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPPRL_SANITIZE=ON -DPPRL_BUILD_BENCH=OFF >/dev/null
	cmake --build $(SANITIZE_BUILD) -j $(JOBS)

test-sanitize: build-sanitize
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir $(SANITIZE_BUILD) --output-on-failure -j $(JOBS)

# The C++ suites once more under ThreadSanitizer: the encoder's pipeline and workers, the matcher's
# and the linker's threads (the suites alone; about a minute to run).
build-thread:
	cmake -S . -B $(THREAD_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPPRL_SANITIZE_THREAD=ON -DPPRL_BUILD_BENCH=OFF -DPPRL_BUILD_CLI=OFF >/dev/null
	cmake --build $(THREAD_BUILD) -j $(JOBS) --target pprl_tests

test-thread: build-thread
	TSAN_OPTIONS=halt_on_error=1 $(THREAD_BUILD)/tests/pprl_tests

# The fuzz targets (tests/fuzz) built with clang's libFuzzer, ASan and UBSan; each runs from the
# committed corpus and fails the run on any finding (crash, sanitizer report, an exception other than
# pprl::Error). New inputs land in $(FUZZ_BUILD)/tests/fuzz/scratch, findings in .../findings.
build-fuzz:
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DPPRL_SANITIZE=ON \
	  -DPPRL_FUZZ=ON -DPPRL_BUILD_TESTS=OFF -DPPRL_BUILD_BENCH=OFF -DPPRL_BUILD_CLI=OFF >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS)

test-fuzz: build-fuzz
	cmake -S . -B $(FUZZ_BUILD) -DPPRL_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	ctest --test-dir $(FUZZ_BUILD) -L fuzz --output-on-failure -j $(JOBS)

fuzz: bootstrap
	$(MAKE) test-fuzz FUZZ_SECONDS=$(FUZZ_LONG_SECONDS)

bench: bootstrap build
	bash scripts/bench.sh $(BUILD)

clean:
	rm -rf build
