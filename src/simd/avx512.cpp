// src/simd/avx512.cpp — AVX-512F/DQ + VPOPCNTDQ kernels (compiled with -mavx512f -mavx512dq
// -mavx512vpopcntdq).
//
// popcount and and_popcount: VPOPCNTQ over 8 words at a time, masked loads for the tail.
// All pairs: the bit-sliced kernel of slice_impl.hpp with one zmm register per slice column; the
// carry-save adders are one VPTERNLOGQ each for sum (0x96) and majority (0xE8), so a 16-column
// Harley–Seal tree is 30 instructions for 512 lanes. No VPOPCNTQ is needed there; the backend keeps
// the VPOPCNTDQ requirement because popcount and and_popcount use it.
//
// Masks are turned into integers with _cvtmask8_u32 before any bit test: g++ 12 was seen spilling a
// __mmask8 as one byte and reloading four for popcnt.
#include <immintrin.h>

#include "kernels.hpp"
#define PPRL_SIMD_NAMESPACE avx512
#include "slice_impl.hpp"

namespace pprl::simd::avx512 {
namespace {

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

struct Zmm {
    using V = __m512i;
    static constexpr std::size_t words = 8;
    static V load(const std::uint64_t* p) noexcept { return _mm512_load_si512(p); }
    static V zero() noexcept { return _mm512_setzero_si512(); }
    static V all_ones() noexcept { return _mm512_set1_epi64(-1); }
    static V xor3(V a, V b, V c) noexcept { return _mm512_ternarylogic_epi64(a, b, c, 0x96); }
    static V majority(V a, V b, V c) noexcept { return _mm512_ternarylogic_epi64(a, b, c, 0xE8); }
    static V and_(V a, V b) noexcept { return _mm512_and_si512(a, b); }
    static V or_(V a, V b) noexcept { return _mm512_or_si512(a, b); }
    static V xor_(V a, V b) noexcept { return _mm512_xor_si512(a, b); }
    static V andnot(V a, V b) noexcept { return _mm512_andnot_si512(a, b); }
    static bool any(V a) noexcept { return _cvtmask8_u32(_mm512_test_epi64_mask(a, a)) != 0; }
    static void store(std::uint64_t* p, V a) noexcept { _mm512_store_si512(p, a); }
};

std::size_t count_slices(const SliceJob& job, SliceHit* out) noexcept { return SliceCounter<Zmm>::run(job, out); }

const KernelTable table = {"avx512", &popcount, &and_popcount, &count_slices};

}  // namespace
}  // namespace pprl::simd::avx512

const pprl::simd::KernelTable* pprl::simd::avx512_kernels() noexcept { return &avx512::table; }
