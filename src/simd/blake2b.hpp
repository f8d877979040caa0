// src/simd/blake2b.hpp — BLAKE2b final-block compression of many independent messages at once.
//
// The clkhash blakeHash path hashes every token with keyed BLAKE2b; with the key block compressed
// in advance, a token of up to 128 bytes is one final compression, ~450 cycles of dependent 64-bit
// adds, XORs and rotations. AVX-512 runs eight such compressions side by side, one per 64-bit lane.
// The caller (src/crypto/) checks the CPU and falls back to the portable code.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pprl::simd {

// RFC 7693 §2.6 and §2.7: the initialisation vector and the message schedule of the twelve rounds.
inline constexpr std::uint64_t blake2b_iv[8] = {0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL,
                                                0xa54ff53a5f1d36f1ULL, 0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
                                                0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL};
inline constexpr std::uint8_t blake2b_sigma[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4}, {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13}, {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11}, {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5}, {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3}};

// For i < count (≤ 8): h[i] (eight words) absorbs the final block block[i] with byte counter
// counter[i]; the result is written back to h[i].
using Blake2bFinalMany = void (*)(std::uint64_t (*h)[8], const std::uint8_t (*block)[128], const std::uint64_t* counter,
                                  std::size_t count) noexcept;

// Eight lanes of AVX-512F (x86-64 builds only; call only where the CPU has AVX-512F).
Blake2bFinalMany blake2b_final_many_avx512() noexcept;

}  // namespace pprl::simd
