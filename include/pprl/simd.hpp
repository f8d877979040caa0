// pprl/simd.hpp — which SIMD backend the kernels run on, and how to choose it.
//
// pprl ships one translation unit per instruction set (src/simd/): `generic` (portable C++, no ISA
// flags: the reference), `scalar` (x86-64 POPCNT), `avx2` (AVX2 with a nibble-table popcount) and
// `avx512` (AVX-512F + VPOPCNTDQ). The best backend the CPU and OS support is chosen once, on first
// use. PPRL_FORCE_BACKEND=generic|scalar|avx2|avx512 overrides the choice; forcing one the CPU cannot
// run is an error, never a silent fallback.
#pragma once

#include <string>
#include <vector>

namespace pprl::simd {

// Backends this CPU can run, best last.
std::vector<std::string> available_backends();
// Every backend compiled into this build, whether or not the CPU can run it.
std::vector<std::string> compiled_backends();
// The backend in use (chosen on first call if needed). Throws UsageError if PPRL_FORCE_BACKEND
// names an unknown backend or one this CPU cannot run.
std::string active_backend();
// Switch backend for the rest of the process (tests and benchmarks). Throws UsageError as above.
void set_backend(const std::string& name);

// Restores the previous backend when it goes out of scope.
class ScopedBackend {
public:
    explicit ScopedBackend(const std::string& name) : previous_(active_backend()) { set_backend(name); }
    ~ScopedBackend() { set_backend(previous_); }
    ScopedBackend(const ScopedBackend&) = delete;
    ScopedBackend& operator=(const ScopedBackend&) = delete;

private:
    std::string previous_;
};

}  // namespace pprl::simd
