// src/simd/scalar_impl.hpp — the portable kernels, written once and compiled twice:
// generic.cpp (no ISA flags: the reference every other backend is tested against) and
// scalar.cpp (-mpopcnt, so __builtin_popcountll is one POPCNT instruction).
//
// popcount and and_popcount use four independent accumulators to keep the POPCNT units busy. The
// all-pairs kernel is the bit-sliced one of slice_impl.hpp with a "vector" of eight 64-bit words.
//
// Include only from a file that has defined PPRL_SIMD_NAMESPACE to a name unique to that file: the
// same inline functions compiled with different flags must not be merged by the linker.
#ifndef PPRL_SIMD_NAMESPACE
#error "define PPRL_SIMD_NAMESPACE before including scalar_impl.hpp"
#endif

#include "kernels.hpp"
#include "slice_impl.hpp"

namespace pprl::simd::PPRL_SIMD_NAMESPACE {

inline std::uint64_t popcount(const std::uint64_t* words, std::size_t count) noexcept {
    std::uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    std::size_t i = 0;
    for (; i + 4 <= count; i += 4) {
        s0 += static_cast<std::uint64_t>(__builtin_popcountll(words[i]));
        s1 += static_cast<std::uint64_t>(__builtin_popcountll(words[i + 1]));
        s2 += static_cast<std::uint64_t>(__builtin_popcountll(words[i + 2]));
        s3 += static_cast<std::uint64_t>(__builtin_popcountll(words[i + 3]));
    }
    for (; i < count; ++i) s0 += static_cast<std::uint64_t>(__builtin_popcountll(words[i]));
    return s0 + s1 + s2 + s3;
}

inline std::uint64_t and_popcount(const std::uint64_t* a, const std::uint64_t* b, std::size_t count) noexcept {
    std::uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    std::size_t i = 0;
    for (; i + 4 <= count; i += 4) {
        s0 += static_cast<std::uint64_t>(__builtin_popcountll(a[i] & b[i]));
        s1 += static_cast<std::uint64_t>(__builtin_popcountll(a[i + 1] & b[i + 1]));
        s2 += static_cast<std::uint64_t>(__builtin_popcountll(a[i + 2] & b[i + 2]));
        s3 += static_cast<std::uint64_t>(__builtin_popcountll(a[i + 3] & b[i + 3]));
    }
    for (; i < count; ++i) s0 += static_cast<std::uint64_t>(__builtin_popcountll(a[i] & b[i]));
    return s0 + s1 + s2 + s3;
}

// One slice column as eight 64-bit words.
struct WordOps {
    static constexpr std::size_t words = slice_words;
    struct V {
        std::uint64_t w[slice_words];
    };
    template <class F>
    static V map(F f) noexcept {
        V out;
        for (std::size_t i = 0; i < slice_words; ++i) out.w[i] = f(i);
        return out;
    }
    static V load(const std::uint64_t* p) noexcept { return map([&](std::size_t i) { return p[i]; }); }
    static V zero() noexcept { return map([](std::size_t) { return std::uint64_t{0}; }); }
    static V all_ones() noexcept { return map([](std::size_t) { return ~std::uint64_t{0}; }); }
    static V xor3(const V& a, const V& b, const V& c) noexcept {
        return map([&](std::size_t i) { return a.w[i] ^ b.w[i] ^ c.w[i]; });
    }
    static V majority(const V& a, const V& b, const V& c) noexcept {
        return map([&](std::size_t i) { return (a.w[i] & b.w[i]) | (c.w[i] & (a.w[i] ^ b.w[i])); });
    }
    static V and_(const V& a, const V& b) noexcept { return map([&](std::size_t i) { return a.w[i] & b.w[i]; }); }
    static V or_(const V& a, const V& b) noexcept { return map([&](std::size_t i) { return a.w[i] | b.w[i]; }); }
    static V xor_(const V& a, const V& b) noexcept { return map([&](std::size_t i) { return a.w[i] ^ b.w[i]; }); }
    static V andnot(const V& a, const V& b) noexcept { return map([&](std::size_t i) { return ~a.w[i] & b.w[i]; }); }
    static bool any(const V& a) noexcept {
        std::uint64_t x = 0;
        for (std::size_t i = 0; i < slice_words; ++i) x |= a.w[i];
        return x != 0;
    }
    static void store(std::uint64_t* p, const V& a) noexcept {
        for (std::size_t i = 0; i < slice_words; ++i) p[i] = a.w[i];
    }
};

inline std::size_t count_slices(const SliceJob& job, SliceHit* out) noexcept {
    return SliceCounter<WordOps>::run(job, out);
}

inline const KernelTable table = {PPRL_SIMD_NAME, &popcount, &and_popcount, &count_slices};

}  // namespace pprl::simd::PPRL_SIMD_NAMESPACE
