// The portable BLIP coin step and the dispatch to the chosen implementation (built without flags).
#include "blip.hpp"

#include <cstddef>

#include "isa.hpp"

namespace pprl::simd {

void blip_flips_portable(const std::uint8_t* coins, std::uint32_t bits, std::uint32_t below, const std::uint8_t* f,
                         std::uint8_t* out) noexcept {
    for (std::uint32_t byte = 0; byte < bits / 8; ++byte) {
        std::uint8_t flips = 0;
        for (unsigned bit = 0; bit < 8; ++bit) {
            const std::size_t at = 2 * (std::size_t{byte} * 8 + bit);
            const std::uint32_t coin = coins[at] | (static_cast<std::uint32_t>(coins[at + 1]) << 8);
            flips |= static_cast<std::uint8_t>(static_cast<unsigned>(coin < below) << (7 - bit));
        }
        out[byte] = f[byte] ^ flips;
    }
}

void blip_flips(const std::uint8_t* coins, std::uint32_t bits, std::uint32_t below, const std::uint8_t* f,
                std::uint8_t* out) noexcept {
#if defined(__x86_64__)
    if (chosen(Family::blip) == blip_isa::sse2) {
        blip_flips_sse2(coins, bits, below, f, out);
        return;
    }
#endif
    blip_flips_portable(coins, bits, below, f, out);
}

}  // namespace pprl::simd
