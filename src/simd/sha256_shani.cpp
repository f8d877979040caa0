// src/simd/sha256_shani.cpp — SHA-256 compression with the x86 SHA extensions, several blocks
// interleaved (compiled with -msha -msse4.1 -mssse3; selected at run time by CPUID).
//
// The round structure is the one Intel documents for SHA-NI ("Intel SHA Extensions", 2013): the
// state is kept as ABEF/CDGH, each SHA256RNDS2 performs two rounds, SHA256MSG1/MSG2 extend the
// message schedule four words at a time. Two independent blocks are processed with their
// instructions interleaved (sixteen XMM registers hold two streams' working set). On the
// development machine that gained only ~10 % over one stream (SHA256RNDS2 there is throughput-,
// not latency-bound), which is why AVX-512 lanes are preferred when present. Checked against
// OpenSSL in tests (PPRL_FORCE_BACKEND=sha256=shani).
#include <immintrin.h>

#include "sha256.hpp"

namespace pprl::simd {
namespace {

template <int S>
inline void compress(std::uint32_t (*state)[8], const std::uint8_t (*block)[64]) noexcept {
    const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i abef[S], cdgh[S], abef_saved[S], cdgh_saved[S], schedule[S][4];
    for (int s = 0; s < S; ++s) {
        __m128i dcba = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&state[s][0]));
        __m128i hgfe = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&state[s][4]));
        dcba = _mm_shuffle_epi32(dcba, 0xB1);                  // CDAB
        hgfe = _mm_shuffle_epi32(hgfe, 0x1B);                  // EFGH
        abef[s] = _mm_alignr_epi8(dcba, hgfe, 8);              // ABEF
        cdgh[s] = _mm_blend_epi16(hgfe, dcba, 0xF0);           // CDGH
        abef_saved[s] = abef[s];
        cdgh_saved[s] = cdgh[s];
    }
    for (int g = 0; g < 16; ++g) {
        const __m128i k = _mm_load_si128(reinterpret_cast<const __m128i*>(&sha256_round_constants[4 * g]));
        for (int s = 0; s < S; ++s) {
            __m128i* m = schedule[s];
            if (g < 4)
                m[g] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block[s] + 16 * g)), byte_swap);
            __m128i words = _mm_add_epi32(m[g % 4], k);
            cdgh[s] = _mm_sha256rnds2_epu32(cdgh[s], abef[s], words);
            if (g >= 3 && g <= 14) {
                const __m128i shifted = _mm_alignr_epi8(m[g % 4], m[(g + 3) % 4], 4);
                m[(g + 1) % 4] = _mm_sha256msg2_epu32(_mm_add_epi32(m[(g + 1) % 4], shifted), m[g % 4]);
            }
            words = _mm_shuffle_epi32(words, 0x0E);
            abef[s] = _mm_sha256rnds2_epu32(abef[s], cdgh[s], words);
            if (g >= 1 && g <= 12) m[(g + 3) % 4] = _mm_sha256msg1_epu32(m[(g + 3) % 4], m[g % 4]);
        }
    }
    for (int s = 0; s < S; ++s) {
        const __m128i abef_sum = _mm_add_epi32(abef[s], abef_saved[s]);
        const __m128i cdgh_sum = _mm_add_epi32(cdgh[s], cdgh_saved[s]);
        const __m128i feba = _mm_shuffle_epi32(abef_sum, 0x1B);
        const __m128i dchg = _mm_shuffle_epi32(cdgh_sum, 0xB1);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(&state[s][0]), _mm_blend_epi16(feba, dchg, 0xF0));  // DCBA
        _mm_storeu_si128(reinterpret_cast<__m128i*>(&state[s][4]), _mm_alignr_epi8(dchg, feba, 8));     // HGFE
    }
}

void compress_many(std::uint32_t (*state)[8], const std::uint8_t (*block)[64], std::size_t count) noexcept {
    std::size_t i = 0;
    for (; i + 2 <= count; i += 2) compress<2>(state + i, block + i);
    if (i < count) compress<1>(state + i, block + i);
}

}  // namespace

Sha256CompressMany sha256_compress_many_shani() noexcept { return &compress_many; }

}  // namespace pprl::simd
