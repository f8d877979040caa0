// pprl/simd.hpp — which instruction sets the kernels run on, and how to choose.
//
// pprl ships one translation unit per instruction set for each kernel family (src/simd/):
//   matcher  generic (portable C++: the reference) | popcnt (x86-64 POPCNT) | avx2 | avx512 (VPOPCNTDQ)
//   sha256   openssl | shani (SHA extensions) | avx512 (sixteen compressions in 32-bit lanes)
//   blake2b  portable | avx512 (eight digests in 64-bit lanes)
//   aes      openssl | vaes (four AES blocks per instruction)
//   blip     portable | sse2 (sixteen coins per compare)
// Every implementation of a family gives the same bytes. The best each CPU supports is chosen
// once; the environment variable PPRL_FORCE_BACKEND overrides any family with one grammar,
//   PPRL_FORCE_BACKEND=family=implementation[,family=implementation...]
// a bare implementation name meaning the matcher (PPRL_FORCE_BACKEND=avx2). An unknown name or one
// this CPU cannot run is a UsageError (CLI exit 2), never a silent fallback.
#pragma once

#include <string>
#include <vector>

namespace pprl::simd {

// One kernel family: its implementations in this build, those this CPU can run (worst first), and
// the one in use.
struct FamilyReport {
    std::string family;
    std::vector<std::string> compiled;
    std::vector<std::string> available;
    std::string active;
};
// Every family (matcher, sha256, blake2b, aes, blip, diffusion). Throws UsageError for a bad PPRL_FORCE_BACKEND.
std::vector<FamilyReport> capabilities();

// The matcher family on its own (tests and benchmarks switch it).
// Backends this CPU can run, best last.
std::vector<std::string> available_backends();
// Every matcher backend compiled into this build, whether or not the CPU can run it.
std::vector<std::string> compiled_backends();
// The matcher backend in use. Throws UsageError for a bad PPRL_FORCE_BACKEND.
std::string active_backend();
// Switch the matcher backend for the rest of the process. Throws UsageError for an unknown backend
// or one this CPU cannot run.
void set_backend(const std::string& name);
// Switch any family's implementation (tests). Throws UsageError as above.
void set_implementation(const std::string& family, const std::string& implementation);
std::string active_implementation(const std::string& family);

// Restores the previous matcher backend when it goes out of scope.
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
