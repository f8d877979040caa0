// src/simd/avx2.cpp — AVX2 kernels (compiled with -mavx2 -mpopcnt).
//
// AVX2 has no vector popcount, so bytes are counted with the nibble table of Muła, Kurz & Lemire
// ("Faster population counts using AVX2 instructions", 2018): VPSHUFB looks up the popcount of the
// low and high nibble of every byte. Byte counters are then summed into 64-bit lanes with VPSADBW.
// A byte counter grows by at most 8 per word, so byte sums are flushed every 31 words (31 * 8 = 248
// < 256) and cannot overflow.
//
// All pairs: the bit-sliced kernel of slice_impl.hpp with half a slice column in one ymm register. Without
// VPTERNLOG a carry-save adder is five instructions (two XOR for the sum; AND, AND, OR for the
// majority) instead of two.
#include <immintrin.h>

#include "kernels.hpp"
#define PPRL_SIMD_NAMESPACE avx2
#include "slice_impl.hpp"

namespace pprl::simd::avx2 {
namespace {

constexpr std::size_t words_per_flush = 31;

inline __m256i popcount_bytes(__m256i v) noexcept {
    const __m256i table = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1,
                                           2, 2, 3, 2, 3, 3, 4);
    const __m256i low_mask = _mm256_set1_epi8(0x0f);
    const __m256i low = _mm256_and_si256(v, low_mask);
    const __m256i high = _mm256_and_si256(_mm256_srli_epi16(v, 4), low_mask);
    return _mm256_add_epi8(_mm256_shuffle_epi8(table, low), _mm256_shuffle_epi8(table, high));
}

inline std::uint64_t horizontal_sum(__m256i v) noexcept {
    return static_cast<std::uint64_t>(_mm256_extract_epi64(v, 0)) + static_cast<std::uint64_t>(_mm256_extract_epi64(v, 1)) +
           static_cast<std::uint64_t>(_mm256_extract_epi64(v, 2)) + static_cast<std::uint64_t>(_mm256_extract_epi64(v, 3));
}

std::uint64_t popcount(const std::uint64_t* words, std::size_t count) noexcept {
    __m256i total = _mm256_setzero_si256();
    std::size_t i = 0;
    while (i + 4 <= count) {
        __m256i bytes = _mm256_setzero_si256();
        for (std::size_t n = 0; n < words_per_flush && i + 4 <= count; ++n, i += 4)
            bytes = _mm256_add_epi8(bytes, popcount_bytes(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(words + i))));
        total = _mm256_add_epi64(total, _mm256_sad_epu8(bytes, _mm256_setzero_si256()));
    }
    std::uint64_t sum = horizontal_sum(total);
    for (; i < count; ++i) sum += static_cast<std::uint64_t>(_mm_popcnt_u64(words[i]));
    return sum;
}

std::uint64_t and_popcount(const std::uint64_t* a, const std::uint64_t* b, std::size_t count) noexcept {
    __m256i total = _mm256_setzero_si256();
    std::size_t i = 0;
    while (i + 4 <= count) {
        __m256i bytes = _mm256_setzero_si256();
        for (std::size_t n = 0; n < words_per_flush && i + 4 <= count; ++n, i += 4) {
            const __m256i x = _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i)),
                                               _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i)));
            bytes = _mm256_add_epi8(bytes, popcount_bytes(x));
        }
        total = _mm256_add_epi64(total, _mm256_sad_epu8(bytes, _mm256_setzero_si256()));
    }
    std::uint64_t sum = horizontal_sum(total);
    for (; i < count; ++i) sum += static_cast<std::uint64_t>(_mm_popcnt_u64(a[i] & b[i]));
    return sum;
}

// One ymm: half a slice's lanes, so the nine planes of a CLK's counts and the adders' temporaries
// stay in AVX2's sixteen registers.
struct Ymm {
    using V = __m256i;
    static constexpr std::size_t words = 4;
    static V load(const std::uint64_t* p) noexcept { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p)); }
    static V zero() noexcept { return _mm256_setzero_si256(); }
    static V all_ones() noexcept { return _mm256_set1_epi64x(-1); }
    static V xor3(V a, V b, V c) noexcept { return _mm256_xor_si256(_mm256_xor_si256(a, b), c); }
    static V majority(V a, V b, V c) noexcept {
        return _mm256_or_si256(_mm256_and_si256(a, b), _mm256_and_si256(c, _mm256_xor_si256(a, b)));
    }
    static V and_(V a, V b) noexcept { return _mm256_and_si256(a, b); }
    static V or_(V a, V b) noexcept { return _mm256_or_si256(a, b); }
    static V xor_(V a, V b) noexcept { return _mm256_xor_si256(a, b); }
    static V andnot(V a, V b) noexcept { return _mm256_andnot_si256(a, b); }
    static bool any(V a) noexcept { return !_mm256_testz_si256(a, a); }
    static void store(std::uint64_t* p, V a) noexcept { _mm256_store_si256(reinterpret_cast<__m256i*>(p), a); }
};

std::size_t count_slices(const SliceJob& job, SliceHit* out) noexcept { return SliceCounter<Ymm>::run(job, out); }

const KernelTable table = {"avx2", &popcount, &and_popcount, &count_slices};

}  // namespace
}  // namespace pprl::simd::avx2

const pprl::simd::KernelTable* pprl::simd::avx2_kernels() noexcept { return &avx2::table; }
