// simd/diffusion.hpp — diffusion hardening's sum: the XOR of the output images of a filter's set bits.
//
// Diffusion is linear over GF(2): its output is the XOR of the images of the input's set bits, the
// image of input bit i being the `stride` 64-bit words at images + i · stride (the output bits input
// i feeds, in filter bit order; words past the output's length are zero). `f` has in_words · 64 bits
// in filter bit order (bit j is bit 7 - j % 8 of byte j / 8); the sum's `stride` words go to `sum`.
// `stride` is a multiple of 8 (one cache line per 512 output bits). The kernels keep part of the
// sum in registers through one pass over the set bits (16 words portably, 32 words, 2048 output
// bits, with AVX2), one pass per part: summed in memory, the sum would cost a store and a reload
// per word and set bit. The portable loop is the reference; both are noexcept and allocate nothing.
#pragma once

#include <cstdint>

namespace pprl::simd {

void diffusion_sum_portable(const std::uint8_t* f, std::uint32_t in_words, const std::uint64_t* images,
                            std::uint32_t stride, std::uint64_t* sum) noexcept;
// x86-64 builds only, on CPUs with AVX2 (simd/isa.hpp checks). An AVX-512 variant measured slower
// on AMD Zen 4 (256-bit units): 745 ns against 677 ns per 1024-bit filter (bench_encode).
void diffusion_sum_avx2(const std::uint8_t* f, std::uint32_t in_words, const std::uint64_t* images,
                        std::uint32_t stride, std::uint64_t* sum) noexcept;

// The implementation chosen for the process (simd/isa.hpp, family "diffusion").
void diffusion_sum(const std::uint8_t* f, std::uint32_t in_words, const std::uint64_t* images, std::uint32_t stride,
                   std::uint64_t* sum) noexcept;

}  // namespace pprl::simd
