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

// For i < count (≤ 8): h[i] (eight words) absorbs the final block block[i] with byte counter
// counter[i]; the result is written back to h[i].
using Blake2bFinalMany = void (*)(std::uint64_t (*h)[8], const std::uint8_t (*block)[128], const std::uint64_t* counter,
                                  std::size_t count) noexcept;

// Eight lanes of AVX-512F (x86-64 builds only; call only where the CPU has AVX-512F).
Blake2bFinalMany blake2b_final_many_avx512() noexcept;

}  // namespace pprl::simd
