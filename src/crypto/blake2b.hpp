// crypto/blake2b.hpp — the portable BLAKE2b compression (RFC 7693), and BLAKE2b's word order.
//
// KeyedDigest (keyed_digest.cpp) builds keyed, salted BLAKE2b-512 on it; the AVX-512 path
// (src/simd/blake2b_avx512.cpp) runs eight compressions at once and must give the same words.
#pragma once

#include <cstdint>

namespace pprl::crypto {

// A BLAKE2b state as its 64-byte digest: words little-endian.
void blake2b_store(const std::uint64_t h[8], std::uint8_t* out) noexcept;
std::uint64_t blake2b_load_le64(const std::uint8_t* p) noexcept;
// One compression of a 128-byte block; `counter` is the byte count so far including it.
void blake2b_compress(std::uint64_t h[8], const std::uint8_t block[128], std::uint64_t counter, bool last) noexcept;

}  // namespace pprl::crypto
