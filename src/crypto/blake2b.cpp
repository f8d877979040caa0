// crypto/blake2b.cpp — the portable BLAKE2b compression (RFC 7693); see crypto/blake2b.hpp.
#include "crypto/blake2b.hpp"

#include "simd/blake2b.hpp"

namespace pprl::crypto {

using simd::blake2b_iv;
using simd::blake2b_sigma;

namespace {
inline std::uint64_t rotr64(std::uint64_t x, unsigned n) { return (x >> n) | (x << (64 - n)); }
}  // namespace

void blake2b_store(const std::uint64_t h[8], std::uint8_t* out) noexcept {
    for (int i = 0; i < 8; ++i)
        for (int j = 0; j < 8; ++j) out[8 * i + j] = static_cast<std::uint8_t>(h[i] >> (8 * j));
}

std::uint64_t blake2b_load_le64(const std::uint8_t* p) noexcept {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];  // compiles to one load on little-endian machines
    return v;
}

// The twelve rounds are unrolled so the message schedule indexes are constants and the working
// vector stays in registers (a rolled loop ran about four times slower here).
#define PPRL_BLAKE2B_G(r, i, a, b, c, d)                                   \
    do {                                                                   \
        a = a + b + m[blake2b_sigma[r][2 * (i)]];                          \
        d = rotr64(d ^ a, 32);                                             \
        c = c + d;                                                         \
        b = rotr64(b ^ c, 24);                                             \
        a = a + b + m[blake2b_sigma[r][2 * (i) + 1]];                      \
        d = rotr64(d ^ a, 16);                                             \
        c = c + d;                                                         \
        b = rotr64(b ^ c, 63);                                             \
    } while (0)
#define PPRL_BLAKE2B_ROUND(r)                              \
    do {                                                   \
        PPRL_BLAKE2B_G(r, 0, v0, v4, v8, v12);             \
        PPRL_BLAKE2B_G(r, 1, v1, v5, v9, v13);             \
        PPRL_BLAKE2B_G(r, 2, v2, v6, v10, v14);            \
        PPRL_BLAKE2B_G(r, 3, v3, v7, v11, v15);            \
        PPRL_BLAKE2B_G(r, 4, v0, v5, v10, v15);            \
        PPRL_BLAKE2B_G(r, 5, v1, v6, v11, v12);            \
        PPRL_BLAKE2B_G(r, 6, v2, v7, v8, v13);             \
        PPRL_BLAKE2B_G(r, 7, v3, v4, v9, v14);             \
    } while (0)

void blake2b_compress(std::uint64_t h[8], const std::uint8_t block[128], std::uint64_t counter, bool last) noexcept {
    std::uint64_t m[16];
    for (int i = 0; i < 16; ++i) m[i] = blake2b_load_le64(block + 8 * i);
    std::uint64_t v0 = h[0], v1 = h[1], v2 = h[2], v3 = h[3], v4 = h[4], v5 = h[5], v6 = h[6], v7 = h[7];
    std::uint64_t v8 = blake2b_iv[0], v9 = blake2b_iv[1], v10 = blake2b_iv[2], v11 = blake2b_iv[3];
    std::uint64_t v12 = blake2b_iv[4] ^ counter, v13 = blake2b_iv[5], v14 = blake2b_iv[6], v15 = blake2b_iv[7];
    if (last) v14 = ~v14;
    PPRL_BLAKE2B_ROUND(0);
    PPRL_BLAKE2B_ROUND(1);
    PPRL_BLAKE2B_ROUND(2);
    PPRL_BLAKE2B_ROUND(3);
    PPRL_BLAKE2B_ROUND(4);
    PPRL_BLAKE2B_ROUND(5);
    PPRL_BLAKE2B_ROUND(6);
    PPRL_BLAKE2B_ROUND(7);
    PPRL_BLAKE2B_ROUND(8);
    PPRL_BLAKE2B_ROUND(9);
    PPRL_BLAKE2B_ROUND(10);
    PPRL_BLAKE2B_ROUND(11);
    h[0] ^= v0 ^ v8;
    h[1] ^= v1 ^ v9;
    h[2] ^= v2 ^ v10;
    h[3] ^= v3 ^ v11;
    h[4] ^= v4 ^ v12;
    h[5] ^= v5 ^ v13;
    h[6] ^= v6 ^ v14;
    h[7] ^= v7 ^ v15;
}
#undef PPRL_BLAKE2B_ROUND
#undef PPRL_BLAKE2B_G

}  // namespace pprl::crypto
