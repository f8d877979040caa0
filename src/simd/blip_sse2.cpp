// SSE2 BLIP coin step (see blip.hpp): sixteen coins, two filter bytes, per iteration.
#include <emmintrin.h>

#include <array>
#include <cstddef>

#include "blip.hpp"

namespace pprl::simd {
namespace {

// movemask puts position 0 in bit 0; filters want it in bit 7.
constexpr std::array<std::uint8_t, 256> bit_reversal = [] {
    std::array<std::uint8_t, 256> table{};
    for (unsigned v = 0; v < 256; ++v)
        for (unsigned b = 0; b < 8; ++b)
            if (v & (1u << b)) table[v] = static_cast<std::uint8_t>(table[v] | (0x80u >> b));
    return table;
}();

}  // namespace

void blip_flips_sse2(const std::uint8_t* coins, std::uint32_t bits, std::uint32_t below, const std::uint8_t* f,
                     std::uint8_t* out) noexcept {
    const __m128i bias = _mm_set1_epi16(static_cast<short>(0x8000));
    const __m128i limit = _mm_set1_epi16(static_cast<short>((below >= 65536 ? 65535 : below) ^ 0x8000));
    const bool all = below >= 65536;
    std::uint32_t byte = 0;
    for (; byte + 2 <= bits / 8; byte += 2) {
        const auto* at = reinterpret_cast<const __m128i*>(coins + 16 * std::size_t{byte});
        const __m128i a = _mm_xor_si128(_mm_loadu_si128(at), bias);
        const __m128i b = _mm_xor_si128(_mm_loadu_si128(at + 1), bias);
        const __m128i lt = _mm_packs_epi16(_mm_cmplt_epi16(a, limit), _mm_cmplt_epi16(b, limit));
        const unsigned mask = all ? 0xffffu : static_cast<unsigned>(_mm_movemask_epi8(lt));  // bit i: position i
        out[byte] = f[byte] ^ bit_reversal[mask & 0xff];
        out[byte + 1] = f[byte + 1] ^ bit_reversal[mask >> 8];
    }
    if (byte < bits / 8)  // an odd byte at the end
        blip_flips_portable(coins + 16 * std::size_t{byte}, 8 * (bits / 8 - byte), below, f + byte, out + byte);
}

}  // namespace pprl::simd
