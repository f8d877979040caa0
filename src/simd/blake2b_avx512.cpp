// Eight BLAKE2b final compressions in the 64-bit lanes of AVX-512 registers (RFC 7693 §3.2): lane i
// carries message i. Compiled with -mavx512f; reached only after a CPU check (src/crypto/).
#include <immintrin.h>

#include <cstring>

#include "simd/blake2b.hpp"

namespace pprl::simd {
namespace {

inline void g(__m512i& a, __m512i& b, __m512i& c, __m512i& d, __m512i x, __m512i y) {
    a = _mm512_add_epi64(_mm512_add_epi64(a, b), x);
    d = _mm512_ror_epi64(_mm512_xor_si512(d, a), 32);
    c = _mm512_add_epi64(c, d);
    b = _mm512_ror_epi64(_mm512_xor_si512(b, c), 24);
    a = _mm512_add_epi64(_mm512_add_epi64(a, b), y);
    d = _mm512_ror_epi64(_mm512_xor_si512(d, a), 16);
    c = _mm512_add_epi64(c, d);
    b = _mm512_ror_epi64(_mm512_xor_si512(b, c), 63);
}

void final_many(std::uint64_t (*h)[8], const std::uint8_t (*block)[128], const std::uint64_t* counter,
                std::size_t count) noexcept {
    alignas(64) std::uint64_t lanes[16][8] = {};  // word j of every lane's message / state
    alignas(64) std::uint64_t state[8][8] = {};
    alignas(64) std::uint64_t counters[8] = {};
    alignas(64) std::uint64_t last[8] = {};
    for (std::size_t l = 0; l < count; ++l) {
        for (int j = 0; j < 16; ++j) std::memcpy(&lanes[j][l], block[l] + 8 * j, 8);  // little-endian words
        for (int j = 0; j < 8; ++j) state[j][l] = h[l][j];
        counters[l] = counter[l];
        last[l] = ~0ULL;
    }
    __m512i m[16];
    for (int j = 0; j < 16; ++j) m[j] = _mm512_load_si512(lanes[j]);
    __m512i v[16];
    for (int j = 0; j < 8; ++j) v[j] = _mm512_load_si512(state[j]);
    for (int j = 0; j < 8; ++j) v[8 + j] = _mm512_set1_epi64(static_cast<long long>(blake2b_iv[j]));
    v[12] = _mm512_xor_si512(v[12], _mm512_load_si512(counters));
    v[14] = _mm512_xor_si512(v[14], _mm512_load_si512(last));
    for (const auto& s : blake2b_sigma) {
        g(v[0], v[4], v[8], v[12], m[s[0]], m[s[1]]);
        g(v[1], v[5], v[9], v[13], m[s[2]], m[s[3]]);
        g(v[2], v[6], v[10], v[14], m[s[4]], m[s[5]]);
        g(v[3], v[7], v[11], v[15], m[s[6]], m[s[7]]);
        g(v[0], v[5], v[10], v[15], m[s[8]], m[s[9]]);
        g(v[1], v[6], v[11], v[12], m[s[10]], m[s[11]]);
        g(v[2], v[7], v[8], v[13], m[s[12]], m[s[13]]);
        g(v[3], v[4], v[9], v[14], m[s[14]], m[s[15]]);
    }
    for (int j = 0; j < 8; ++j)
        _mm512_store_si512(state[j], _mm512_xor_si512(_mm512_load_si512(state[j]), _mm512_xor_si512(v[j], v[8 + j])));
    for (std::size_t l = 0; l < count; ++l)
        for (int j = 0; j < 8; ++j) h[l][j] = state[j][l];
}

}  // namespace

Blake2bFinalMany blake2b_final_many_avx512() noexcept { return &final_many; }

}  // namespace pprl::simd
