// runtime/splitmix64.hpp — SplitMix64 (Steele, Lea & Flood 2014): a fast, seedable generator for
// things that must be reproducible but need not be secret: synthetic people, LSH bit positions.
// Never for anything keyed (keyed randomness comes from AES-CTR under an HKDF subkey: crypto/).
#pragma once

#include <cstdint>

namespace pprl {

// Advances `state` and returns the next output.
inline std::uint64_t splitmix64(std::uint64_t& state) noexcept {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

}  // namespace pprl
