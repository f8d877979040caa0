// simd/blip.hpp — BLIP's coin step: which bits of a filter flip.
//
// out = f XOR flips, where position j flips when its coin, the 16-bit little-endian number at
// coins + 2j, is below `below` (the flip probability in units of 2^-16; below = 65536 flips every
// bit). Positions follow the filter bit order (bit j is bit 7 - j % 8 of byte j / 8). `bits` is a
// multiple of 8. The SSE2 kernel compares sixteen coins per instruction (unsigned 16-bit compare
// as a signed one on values biased by 0x8000) and turns the mask into two bytes through a 256-entry
// bit-reversal table; the portable loop is the reference. Both are noexcept and allocate nothing.
#pragma once

#include <cstdint>

namespace pprl::simd {

void blip_flips_portable(const std::uint8_t* coins, std::uint32_t bits, std::uint32_t below, const std::uint8_t* f,
                         std::uint8_t* out) noexcept;
// x86-64 builds only (SSE2 is part of the x86-64 baseline).
void blip_flips_sse2(const std::uint8_t* coins, std::uint32_t bits, std::uint32_t below, const std::uint8_t* f,
                     std::uint8_t* out) noexcept;

// The implementation chosen for the process (simd/isa.hpp, family "blip").
void blip_flips(const std::uint8_t* coins, std::uint32_t bits, std::uint32_t below, const std::uint8_t* f,
                std::uint8_t* out) noexcept;

}  // namespace pprl::simd
