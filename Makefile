# The two commands of the README, and their parts.
#   make demo   install what is missing, build, run the demo
#   make test   install what is missing, build, run every test (C++, CLI, Python, ASan+UBSan, TSan)
JOBS ?= $(shell nproc)
BUILD ?= build/release
PEOPLE ?= 20000
SANITIZE_BUILD ?= build/sanitize
THREAD_BUILD ?= build/tsan
CMAKE_FLAGS ?=

.PHONY: demo test bootstrap build build-sanitize build-thread test-release test-python test-sanitize test-thread bench clean

demo: bootstrap build
	bash scripts/demo.sh $(BUILD)/pprl $(PEOPLE)

test: bootstrap build test-release test-python build-sanitize test-sanitize test-thread

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

bench: bootstrap build
	bash scripts/bench.sh $(BUILD)

clean:
	rm -rf build
