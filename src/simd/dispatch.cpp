// src/simd/dispatch.cpp — choose the kernel table once (built without ISA flags).
//
// As in simdjson and xxHash: CPU features are tested once (GCC's __builtin_cpu_supports, which also
// checks that the OS saves the AVX/AVX-512 register state), the best table is stored in an atomic
// pointer, and every batch of work reads that pointer. PPRL_FORCE_BACKEND overrides the choice.
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>

#include "kernels.hpp"
#include "pprl/error.hpp"
#include "pprl/simd.hpp"

namespace pprl::simd {
namespace {

struct Backend {
    const char* name;
    const KernelTable* (*table)() noexcept;
    bool (*supported)() noexcept;
};

#if defined(__x86_64__) || defined(_M_X64)
#define PPRL_X86_64 1
bool cpu_has_popcnt() noexcept { return __builtin_cpu_supports("popcnt"); }
bool cpu_has_avx2() noexcept { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt"); }
bool cpu_has_avx512() noexcept {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vpopcntdq");
}
#endif
bool always() noexcept { return true; }

// Worst first; the last supported one wins.
const Backend backends[] = {
    {"generic", &generic_kernels, &always},
#ifdef PPRL_X86_64
    {"scalar", &scalar_kernels, &cpu_has_popcnt},
    {"avx2", &avx2_kernels, &cpu_has_avx2},
    {"avx512", &avx512_kernels, &cpu_has_avx512},
#endif
};

std::atomic<const KernelTable*> active{nullptr};
std::mutex choose_mutex;

const KernelTable* find(const std::string& name) {
    for (const Backend& backend : backends) {
        if (name != backend.name) continue;
        if (!backend.supported())
            throw UsageError("SIMD backend '" + name + "' is compiled in but this CPU cannot run it");
        return backend.table();
    }
    std::string known;
    for (const Backend& backend : backends) known += std::string(known.empty() ? "" : ", ") + backend.name;
    throw UsageError("unknown SIMD backend '" + name + "' (this build has: " + known + ")");
}

const KernelTable* choose() {
    if (const char* forced = std::getenv("PPRL_FORCE_BACKEND"); forced != nullptr && *forced != '\0') {
        try {
            return find(forced);
        } catch (const UsageError& error) {
            throw UsageError(std::string("PPRL_FORCE_BACKEND: ") + error.what());
        }
    }
    const KernelTable* best = nullptr;
    for (const Backend& backend : backends)
        if (backend.supported()) best = backend.table();
    return best;
}

}  // namespace

const KernelTable& kernels() {
    const KernelTable* table = active.load(std::memory_order_acquire);
    if (table == nullptr) {
        std::lock_guard<std::mutex> lock(choose_mutex);
        table = active.load(std::memory_order_relaxed);
        if (table == nullptr) {
            table = choose();
            active.store(table, std::memory_order_release);
        }
    }
    return *table;
}

std::vector<std::string> available_backends() {
    std::vector<std::string> names;
    for (const Backend& backend : backends)
        if (backend.supported()) names.emplace_back(backend.name);
    return names;
}

std::vector<std::string> compiled_backends() {
    std::vector<std::string> names;
    for (const Backend& backend : backends) names.emplace_back(backend.name);
    return names;
}

std::string active_backend() { return kernels().name; }

void set_backend(const std::string& name) {
    const KernelTable* table = find(name);
    std::lock_guard<std::mutex> lock(choose_mutex);
    active.store(table, std::memory_order_release);
}

}  // namespace pprl::simd
