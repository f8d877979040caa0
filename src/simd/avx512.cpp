// src/simd/avx512.cpp — AVX-512F/DQ + VPOPCNTDQ kernels (compiled with -mavx512f -mavx512dq
// -mavx512vpopcntdq).
//
// All-pairs tile: register blocking of R = 4 A rows against one B panel (8 filters, see kernels.hpp).
// For each word w, one 512-bit load brings word w of the 8 panel filters; for each of the R A rows a
// VPANDQ with the A word broadcast from memory ({1to8}), a VPOPCNTQ and a VPADDQ update 8 pair
// counts. Per pair and 64-bit word that is 3/8 of an instruction plus 1/(8R) load, with no
// horizontal reduction at all; the R accumulators then meet the threshold as a vector compare
// against the panel's coarse bound, and only lanes that pass leave the registers. 1024-bit filters
// (16 words) get a fully unrolled instance, as do 512 and 2048 bits; other lengths use the runtime
// loop. Lengths are multiples of 64 bits, so there is no partial word to mask.
//
// Masks are turned into integers with _cvtmask8_u32 before any bit counting: g++ 12 was seen
// spilling a __mmask8 as one byte and reloading four for popcnt.
#include <immintrin.h>

#include "kernels.hpp"

namespace pprl::simd::avx512 {
namespace {

// A rows per register block: 4 accumulators + 1 panel word + temporaries stays well inside the 32
// zmm registers even when the compiler keeps several words in flight. Measured: 4 beat 2 and 8 on
// Zen 5 at 1024 bits (8 adds spills pressure without cutting the dominant broadcast loads).
constexpr std::size_t block_rows = 4;

std::uint64_t popcount(const std::uint64_t* words, std::size_t count) noexcept {
    __m512i sum = _mm512_setzero_si512();
    std::size_t i = 0;
    for (; i + 8 <= count; i += 8) sum = _mm512_add_epi64(sum, _mm512_popcnt_epi64(_mm512_loadu_si512(words + i)));
    if (i < count) {
        const __mmask8 tail = static_cast<__mmask8>((1u << (count - i)) - 1);
        sum = _mm512_add_epi64(sum, _mm512_popcnt_epi64(_mm512_maskz_loadu_epi64(tail, words + i)));
    }
    return static_cast<std::uint64_t>(_mm512_reduce_add_epi64(sum));
}

std::uint64_t and_popcount(const std::uint64_t* a, const std::uint64_t* b, std::size_t count) noexcept {
    __m512i sum = _mm512_setzero_si512();
    std::size_t i = 0;
    for (; i + 8 <= count; i += 8)
        sum = _mm512_add_epi64(sum, _mm512_popcnt_epi64(_mm512_and_si512(_mm512_loadu_si512(a + i),
                                                                         _mm512_loadu_si512(b + i))));
    if (i < count) {
        const __mmask8 tail = static_cast<__mmask8>((1u << (count - i)) - 1);
        sum = _mm512_add_epi64(sum, _mm512_popcnt_epi64(_mm512_and_si512(_mm512_maskz_loadu_epi64(tail, a + i),
                                                                         _mm512_maskz_loadu_epi64(tail, b + i))));
    }
    return static_cast<std::uint64_t>(_mm512_reduce_add_epi64(sum));
}

inline std::size_t emit(__m512i counts, std::uint32_t need, std::uint32_t a_row, std::size_t panel,
                        TileHit* out) noexcept {
    const __mmask8 pass = _mm512_cmpge_epu64_mask(counts, _mm512_set1_epi64(need));
    unsigned bits = _cvtmask8_u32(pass);
    if (bits == 0) return 0;
    alignas(64) std::uint64_t lanes[panel_lanes];
    _mm512_store_si512(lanes, counts);
    std::size_t hits = 0;
    while (bits != 0) {
        const unsigned lane = static_cast<unsigned>(__builtin_ctz(bits));
        bits &= bits - 1;
        out[hits++] = TileHit{a_row, static_cast<std::uint32_t>(panel * panel_lanes + lane),
                              static_cast<std::uint32_t>(lanes[lane])};
    }
    return hits;
}

// R accumulators for rows r0..r0+R-1 against panel p. W > 0: words known at compile time (fully
// unrolled); W == 0: job.words at run time.
template <std::size_t W, std::size_t R>
inline std::size_t block(const TileJob& job, std::size_t r0, std::size_t p, TileHit* out) noexcept {
    const std::size_t words = W != 0 ? W : job.words;
    const std::uint64_t* panel = job.panels + p * words * panel_lanes;
    const std::uint64_t* a = job.a + r0 * job.a_stride_words;
    const std::size_t stride = job.a_stride_words;
    __m512i counts[R];
    for (std::size_t r = 0; r < R; ++r) counts[r] = _mm512_setzero_si512();
    for (std::size_t w = 0; w < words; ++w) {
        const __m512i lanes = _mm512_load_si512(panel + w * panel_lanes);
        for (std::size_t r = 0; r < R; ++r)
            counts[r] = _mm512_add_epi64(
                counts[r],
                _mm512_popcnt_epi64(_mm512_and_si512(lanes, _mm512_set1_epi64(static_cast<long long>(a[r * stride + w])))));
    }
    const std::uint32_t panel_min = job.panel_min_popcount[p];
    std::size_t hits = 0;
    for (std::size_t r = 0; r < R; ++r)
        hits += emit(counts[r], job.min_common[job.a_popcounts[r0 + r] + panel_min],
                     static_cast<std::uint32_t>(r0 + r), p, out + hits);
    return hits;
}

// Panels outer, row blocks inner: a panel is read from L2 once and then reused from L1 by every
// row block of the job, while the job's A rows (≤ 64 rows) stay in L1 throughout.
template <std::size_t W>
std::size_t tile(const TileJob& job, TileHit* out) noexcept {
    std::size_t hits = 0;
    for (std::size_t p = job.panel_begin; p < job.panel_end; ++p) {
        std::size_t r = 0;
        for (; r + block_rows <= job.a_rows; r += block_rows) hits += block<W, block_rows>(job, r, p, out + hits);
        for (; r < job.a_rows; ++r) hits += block<W, 1>(job, r, p, out + hits);
    }
    return hits;
}

std::size_t count_tile(const TileJob& job, TileHit* out) noexcept {
    switch (job.words) {
        case 8: return tile<8>(job, out);
        case 16: return tile<16>(job, out);
        case 32: return tile<32>(job, out);
        default: return tile<0>(job, out);
    }
}

const KernelTable table = {"avx512", &popcount, &and_popcount, &count_tile};

}  // namespace
}  // namespace pprl::simd::avx512

const pprl::simd::KernelTable* pprl::simd::avx512_kernels() noexcept { return &avx512::table; }
