// simd/dispatch.cpp — one selection of implementations for every kernel family (see simd/isa.hpp).
//
// Built without instruction-set flags, like all code outside the per-ISA translation units: a
// runtime test inside a file compiled with -mavx2 could be auto-vectorised past itself. The choice
// per family is an atomic index, set once from the CPU's features and PPRL_FORCE_BACKEND on first
// use and read with one load per batch of work.
#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif

#include <array>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>

#include "isa.hpp"
#include "kernels.hpp"
#include "pprl/error.hpp"
#include "pprl/simd.hpp"

namespace pprl::simd {
namespace {

#if defined(__x86_64__) || defined(_M_X64)
#define PPRL_X86_64 1
constexpr bool x86_64 = true;
bool cpu_has_popcnt() noexcept { return __builtin_cpu_supports("popcnt"); }
bool cpu_has_avx2() noexcept { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt"); }
bool cpu_has_avx512_popcount() noexcept {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vpopcntdq");
}
bool cpu_has_avx512f() noexcept { return __builtin_cpu_supports("avx512f"); }
// CPUID leaf 7 (structured extended features), for the bits some compilers' __builtin_cpu_supports
// does not name (clang 14 has no "sha" or "vaes"): EBX bit 29 is SHA, ECX bit 9 is VAES.
bool leaf7_bit(int reg, unsigned bit) noexcept {
    unsigned regs[4] = {};
    if (!__get_cpuid_count(7, 0, &regs[0], &regs[1], &regs[2], &regs[3])) return false;
    return (regs[reg] >> bit) & 1u;
}
bool cpu_has_sha() noexcept {
    return leaf7_bit(1, 29) && __builtin_cpu_supports("sse4.1") && __builtin_cpu_supports("ssse3");
}
// The AVX-512 checks also confirm that the OS saves the 512-bit state (VAES runs on zmm here).
bool cpu_has_vaes() noexcept {
    return __builtin_cpu_supports("aes") && leaf7_bit(2, 9) && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512bw");
}
bool cpu_has_sse2() noexcept { return __builtin_cpu_supports("sse2"); }
#else
constexpr bool x86_64 = false;
bool never() noexcept { return false; }
#define cpu_has_popcnt never
#define cpu_has_avx2 never
#define cpu_has_avx512_popcount never
#define cpu_has_avx512f never
#define cpu_has_sha never
#define cpu_has_vaes never
#define cpu_has_sse2 never
#endif
bool always() noexcept { return true; }

struct Implementation {
    const char* name;
    bool compiled;
    bool (*supported)() noexcept;
};

struct FamilyTable {
    Family family;
    const char* name;
    std::array<Implementation, 4> implementations;  // worst first
    unsigned count;
};

// The order of each list is the order of the index enums in isa.hpp.
const FamilyTable families[family_count] = {
    {Family::matcher, "matcher",
     {{{"generic", true, &always},
       {"popcnt", x86_64, &cpu_has_popcnt},
       {"avx2", x86_64, &cpu_has_avx2},
       {"avx512", x86_64, &cpu_has_avx512_popcount}}},
     4},
    {Family::sha256, "sha256",
     {{{"openssl", true, &always}, {"shani", x86_64, &cpu_has_sha}, {"avx512", x86_64, &cpu_has_avx512f}}},
     3},
    {Family::blake2b, "blake2b", {{{"portable", true, &always}, {"avx512", x86_64, &cpu_has_avx512f}}}, 2},
    {Family::aes, "aes", {{{"openssl", true, &always}, {"vaes", x86_64, &cpu_has_vaes}}}, 2},
    {Family::blip, "blip", {{{"portable", true, &always}, {"sse2", x86_64, &cpu_has_sse2}}}, 2},
    {Family::diffusion, "diffusion", {{{"portable", true, &always}, {"avx2", x86_64, &cpu_has_avx2}}}, 2},
};

const FamilyTable& table_of(Family family) noexcept { return families[static_cast<unsigned>(family)]; }

bool runnable(const Implementation& implementation) noexcept {
    return implementation.compiled && implementation.supported();
}

unsigned best(const FamilyTable& table) noexcept {
    unsigned chosen = 0;
    for (unsigned i = 0; i < table.count; ++i)
        if (runnable(table.implementations[i])) chosen = i;
    return chosen;
}

// "matcher, sha256, ...": every family's name, for the errors that name an unknown one.
std::string family_names() {
    std::string names;
    for (const FamilyTable& table : families) names += std::string(names.empty() ? "" : ", ") + table.name;
    return names;
}

const FamilyTable* find_family(const std::string& name) noexcept {
    for (const FamilyTable& table : families)
        if (name == table.name) return &table;
    return nullptr;
}

// The index of `name` in the family, or a UsageError saying what the family has here.
unsigned find_implementation(const FamilyTable& table, const std::string& name) {
    std::string available;
    for (unsigned i = 0; i < table.count; ++i) {
        const Implementation& implementation = table.implementations[i];
        if (name == implementation.name) {
            if (!implementation.compiled)
                throw UsageError(std::string("the ") + table.name + " implementation '" + name +
                                 "' is not compiled into this build");
            if (!implementation.supported())
                throw UsageError(std::string("the ") + table.name + " implementation '" + name +
                                 "' is compiled in but this CPU cannot run it");
            return i;
        }
        if (runnable(implementation)) available += std::string(available.empty() ? "" : ", ") + implementation.name;
    }
    throw UsageError(std::string("unknown ") + table.name + " implementation '" + name + "' (this CPU runs: " +
                     available + ")");
}

struct Selection {
    std::atomic<unsigned> chosen[family_count];
    std::string error;  // why PPRL_FORCE_BACKEND was refused; empty if it was not
};

// PPRL_FORCE_BACKEND's items applied over the best choices; the first problem is kept in `error`.
void apply_override(const char* text, unsigned (&choice)[family_count], std::string& error) {
    const std::string value = text;
    bool named[family_count] = {};
    std::size_t start = 0;
    while (start <= value.size()) {
        const std::size_t comma = value.find(',', start);
        const std::string item = value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        start = comma == std::string::npos ? value.size() + 1 : comma + 1;
        const std::size_t equals = item.find('=');
        const std::string family_text = equals == std::string::npos ? "matcher" : item.substr(0, equals);
        const std::string name = equals == std::string::npos ? item : item.substr(equals + 1);
        const FamilyTable* table = find_family(family_text);
        if (table == nullptr) {
            error = "unknown kernel family '" + family_text + "' (families: " + family_names() + ")";
            return;
        }
        const unsigned f = static_cast<unsigned>(table->family);
        if (named[f]) {
            error = std::string("the ") + table->name + " family is named twice";
            return;
        }
        named[f] = true;
        try {
            choice[f] = find_implementation(*table, name);
        } catch (const UsageError& refused) {
            error = refused.what();
            return;
        }
    }
}

Selection& selection() noexcept {
    static Selection* const instance = [] {
        auto* s = new Selection;  // never destroyed: kernels may run during static destruction
        unsigned choice[family_count];
        for (unsigned f = 0; f < family_count; ++f) choice[f] = best(families[f]);
        if (const char* forced = std::getenv("PPRL_FORCE_BACKEND"); forced != nullptr && *forced != '\0') {
            unsigned requested[family_count];
            for (unsigned f = 0; f < family_count; ++f) requested[f] = choice[f];
            try {
                apply_override(forced, requested, s->error);
            } catch (const std::exception&) {
                s->error = "could not read the variable";
            }
            if (s->error.empty())
                for (unsigned f = 0; f < family_count; ++f) choice[f] = requested[f];
            else
                s->error = "PPRL_FORCE_BACKEND: " + s->error;
        }
        for (unsigned f = 0; f < family_count; ++f) s->chosen[f].store(choice[f], std::memory_order_relaxed);
        return s;
    }();
    return *instance;
}

const KernelTable* matcher_table(unsigned implementation) noexcept {
    switch (implementation) {
#ifdef PPRL_X86_64
        case matcher_isa::popcnt: return popcnt_kernels();
        case matcher_isa::avx2: return avx2_kernels();
        case matcher_isa::avx512: return avx512_kernels();
#endif
        default: return generic_kernels();
    }
}

const FamilyTable& family_named(const std::string& name) {
    const FamilyTable* table = find_family(name);
    if (table == nullptr)
        throw UsageError("unknown kernel family '" + name + "' (families: " + family_names() + ")");
    return *table;
}

}  // namespace

unsigned chosen(Family family) noexcept {
    return selection().chosen[static_cast<unsigned>(family)].load(std::memory_order_acquire);
}

void check_override() {
    const Selection& s = selection();
    if (!s.error.empty()) throw UsageError(s.error);
}

const char* family_name(Family family) noexcept { return table_of(family).name; }

const char* implementation_name(Family family, unsigned implementation) noexcept {
    const FamilyTable& table = table_of(family);
    return implementation < table.count ? table.implementations[implementation].name : "";
}

const KernelTable& kernels() {
    check_override();
    return *matcher_table(chosen(Family::matcher));
}

std::vector<FamilyReport> capabilities() {
    check_override();
    std::vector<FamilyReport> reports;
    for (const FamilyTable& table : families) {
        FamilyReport report;
        report.family = table.name;
        for (unsigned i = 0; i < table.count; ++i) {
            const Implementation& implementation = table.implementations[i];
            if (implementation.compiled) report.compiled.emplace_back(implementation.name);
            if (runnable(implementation)) report.available.emplace_back(implementation.name);
        }
        report.active = implementation_name(table.family, chosen(table.family));
        reports.push_back(std::move(report));
    }
    return reports;
}

void set_implementation(const std::string& family, const std::string& implementation) {
    const FamilyTable& table = family_named(family);
    const unsigned index = find_implementation(table, implementation);
    selection().chosen[static_cast<unsigned>(table.family)].store(index, std::memory_order_release);
}

std::string active_implementation(const std::string& family) {
    check_override();
    const FamilyTable& table = family_named(family);
    return implementation_name(table.family, chosen(table.family));
}

std::vector<std::string> available_backends() {
    std::vector<std::string> names;
    const FamilyTable& table = table_of(Family::matcher);
    for (unsigned i = 0; i < table.count; ++i)
        if (runnable(table.implementations[i])) names.emplace_back(table.implementations[i].name);
    return names;
}

std::vector<std::string> compiled_backends() {
    std::vector<std::string> names;
    const FamilyTable& table = table_of(Family::matcher);
    for (unsigned i = 0; i < table.count; ++i)
        if (table.implementations[i].compiled) names.emplace_back(table.implementations[i].name);
    return names;
}

std::string active_backend() { return kernels().name; }

void set_backend(const std::string& name) { set_implementation("matcher", name); }

}  // namespace pprl::simd
