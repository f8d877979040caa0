// src/simd/avx2.cpp — AVX2 kernels (compiled with -mavx2 -mpopcnt).
//
// AVX2 has no vector popcount, so bytes are counted with the nibble table of Muła, Kurz & Lemire
// ("Faster population counts using AVX2 instructions", 2018): VPSHUFB looks up the popcount of the
// low and high nibble of every byte. Byte counters are then summed into 64-bit lanes with VPSADBW.
// A byte counter grows by at most 8 per word, so byte sums are flushed every 31 words (31 * 8 = 248
// < 256) and cannot overflow.
//
// The all-pairs tile uses the same panel layout as the AVX-512 kernel (kernels.hpp): a panel word is
// two 256-bit halves of 4 lanes each; R = 2 A rows are blocked against it.
#include <immintrin.h>

#include "kernels.hpp"

namespace pprl::simd::avx2 {
namespace {

constexpr std::size_t block_rows = 2;
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

template <std::size_t R>
std::size_t block(const TileJob& job, std::size_t r0, TileHit* out) noexcept {
    const std::size_t words = job.words;
    const std::uint64_t* a[R];
    for (std::size_t r = 0; r < R; ++r) a[r] = job.a + (r0 + r) * job.a_stride_words;
    const __m256i zero = _mm256_setzero_si256();
    std::size_t hits = 0;
    for (std::size_t p = job.panel_begin; p < job.panel_end; ++p) {
        const std::uint64_t* panel = job.panels + p * words * panel_lanes;
        __m256i low_total[R], high_total[R];
        for (std::size_t r = 0; r < R; ++r) low_total[r] = high_total[r] = zero;
        std::size_t w = 0;
        while (w < words) {
            __m256i low_bytes[R], high_bytes[R];
            for (std::size_t r = 0; r < R; ++r) low_bytes[r] = high_bytes[r] = zero;
            const std::size_t stop = w + words_per_flush < words ? w + words_per_flush : words;
            for (; w < stop; ++w) {
                const __m256i low = _mm256_load_si256(reinterpret_cast<const __m256i*>(panel + w * panel_lanes));
                const __m256i high = _mm256_load_si256(reinterpret_cast<const __m256i*>(panel + w * panel_lanes + 4));
                for (std::size_t r = 0; r < R; ++r) {
                    const __m256i a_word = _mm256_set1_epi64x(static_cast<long long>(a[r][w]));
                    low_bytes[r] = _mm256_add_epi8(low_bytes[r], popcount_bytes(_mm256_and_si256(low, a_word)));
                    high_bytes[r] = _mm256_add_epi8(high_bytes[r], popcount_bytes(_mm256_and_si256(high, a_word)));
                }
            }
            for (std::size_t r = 0; r < R; ++r) {
                low_total[r] = _mm256_add_epi64(low_total[r], _mm256_sad_epu8(low_bytes[r], zero));
                high_total[r] = _mm256_add_epi64(high_total[r], _mm256_sad_epu8(high_bytes[r], zero));
            }
        }
        for (std::size_t r = 0; r < R; ++r) {
            const std::uint32_t need = job.min_common[job.a_popcounts[r0 + r] + job.panel_min_popcount[p]];
            // Unsigned ≥ via signed compare is safe: counts and need are below 2^31.
            const __m256i need_v = _mm256_set1_epi64x(static_cast<long long>(need) - 1);
            const unsigned low_pass = static_cast<unsigned>(_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(low_total[r], need_v))));
            const unsigned high_pass = static_cast<unsigned>(_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(high_total[r], need_v))));
            unsigned pass = low_pass | (high_pass << 4);
            if (pass == 0) continue;
            alignas(32) std::uint64_t counts[panel_lanes];
            _mm256_store_si256(reinterpret_cast<__m256i*>(counts), low_total[r]);
            _mm256_store_si256(reinterpret_cast<__m256i*>(counts + 4), high_total[r]);
            while (pass != 0) {
                const unsigned lane = static_cast<unsigned>(__builtin_ctz(pass));
                pass &= pass - 1;
                out[hits++] = TileHit{static_cast<std::uint32_t>(r0 + r),
                                      static_cast<std::uint32_t>(p * panel_lanes + lane),
                                      static_cast<std::uint32_t>(counts[lane])};
            }
        }
    }
    return hits;
}

std::size_t count_tile(const TileJob& job, TileHit* out) noexcept {
    std::size_t hits = 0;
    std::size_t r = 0;
    for (; r + block_rows <= job.a_rows; r += block_rows) hits += block<block_rows>(job, r, out + hits);
    for (; r < job.a_rows; ++r) hits += block<1>(job, r, out + hits);
    return hits;
}

const KernelTable table = {"avx2", &popcount, &and_popcount, &count_tile};

}  // namespace
}  // namespace pprl::simd::avx2

const pprl::simd::KernelTable* pprl::simd::avx2_kernels() noexcept { return &avx2::table; }
