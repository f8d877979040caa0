// src/simd/scalar_impl.hpp — the portable kernels, written once and compiled twice:
// generic.cpp (no ISA flags: the reference every other backend is tested against) and
// scalar.cpp (-mpopcnt, so __builtin_popcountll is one POPCNT instruction).
//
// Counting is per pair and horizontal: |A∧B| = Σ_w popcount(a[w] & b[w]); four independent
// accumulators keep the POPCNT units busy. A pair count never exceeds 65536, so 32-bit hit fields and
// 64-bit sums cannot overflow.
//
// Include only from a file that has defined PPRL_SIMD_NAMESPACE to a name unique to that file: the
// same inline functions compiled with different flags must not be merged by the linker.
#ifndef PPRL_SIMD_NAMESPACE
#error "define PPRL_SIMD_NAMESPACE before including scalar_impl.hpp"
#endif

#include "kernels.hpp"

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

inline std::size_t count_tile(const TileJob& job, TileHit* out) noexcept {
    std::size_t hits = 0;
    const std::size_t words = job.words;
    for (std::size_t r = 0; r < job.a_rows; ++r) {
        const std::uint64_t* a = job.a + r * job.a_stride_words;
        const std::uint32_t a_popcount = job.a_popcounts[r];
        for (std::size_t p = job.panel_begin; p < job.panel_end; ++p) {
            const std::uint64_t* panel = job.panels + p * words * panel_lanes;
            const std::uint32_t need = job.min_common[a_popcount + job.panel_min_popcount[p]];
            std::uint64_t counts[panel_lanes] = {};
            for (std::size_t w = 0; w < words; ++w) {
                const std::uint64_t a_word = a[w];
                const std::uint64_t* lanes = panel + w * panel_lanes;
                for (std::size_t lane = 0; lane < panel_lanes; ++lane)
                    counts[lane] += static_cast<std::uint64_t>(__builtin_popcountll(a_word & lanes[lane]));
            }
            for (std::size_t lane = 0; lane < panel_lanes; ++lane)
                if (counts[lane] >= need)
                    out[hits++] = TileHit{static_cast<std::uint32_t>(r),
                                          static_cast<std::uint32_t>(p * panel_lanes + lane),
                                          static_cast<std::uint32_t>(counts[lane])};
        }
    }
    return hits;
}

inline const KernelTable table = {PPRL_SIMD_NAME, &popcount, &and_popcount, &count_tile};

}  // namespace pprl::simd::PPRL_SIMD_NAMESPACE
