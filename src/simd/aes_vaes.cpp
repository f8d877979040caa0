// AES-256-CTR keystream on VAES (see aes.hpp). Built with -maes -mvaes -mavx512f -mavx512bw.
#include <immintrin.h>

#include <cstring>

#include "aes.hpp"
#include "pprl/secret.hpp"

namespace pprl::simd {
namespace {

// FIPS 197 key expansion for 256-bit keys, the AES-NI way (Intel's AES-NI white paper, §4): even
// round keys from the previous even one and SubWord(RotWord(w)) ^ rcon of the last odd one; odd
// round keys from the previous odd one and SubWord(w) of the last even one.
__m128i spread(__m128i key) {
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    return _mm_xor_si128(key, _mm_slli_si128(key, 4));
}
__m128i even_round_key(__m128i previous_even, __m128i assist) {
    return _mm_xor_si128(spread(previous_even), _mm_shuffle_epi32(assist, 0xff));
}
__m128i odd_round_key(__m128i previous_odd, __m128i last_even) {
    return _mm_xor_si128(spread(previous_odd), _mm_shuffle_epi32(_mm_aeskeygenassist_si128(last_even, 0), 0xaa));
}

// Round keys i and i+1 (i even) from the two before them; the round constant must be an immediate,
// hence a template argument.
template <int round_constant>
void expand_pair(__m128i schedule[15], int i) {
    schedule[i] = even_round_key(schedule[i - 2], _mm_aeskeygenassist_si128(schedule[i - 1], round_constant));
    if (i + 1 < 15) schedule[i + 1] = odd_round_key(schedule[i - 1], schedule[i]);
}

void expand_key(const std::uint8_t key[32], __m128i schedule[15]) {
    schedule[0] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key));
    schedule[1] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key + 16));
    expand_pair<0x01>(schedule, 2);
    expand_pair<0x02>(schedule, 4);
    expand_pair<0x04>(schedule, 6);
    expand_pair<0x08>(schedule, 8);
    expand_pair<0x10>(schedule, 10);
    expand_pair<0x20>(schedule, 12);
    expand_pair<0x40>(schedule, 14);  // the last round key has no odd partner
}

// Round keys are broadcast from the 128-bit schedule as they are used (the compiler keeps them in
// registers across a call), so only the 240-byte schedule sits in memory to be wiped.
__m512i round_key(const __m128i schedule[15], int r) { return _mm512_broadcast_i32x4(schedule[r]); }

// Four counter blocks in one register: 128-bit lanes hold (low, high) halves of the counter as
// little-endian 64-bit numbers; reversing each lane's 16 bytes gives the big-endian block.
__m512i encrypt4(__m512i counters, const __m128i schedule[15]) {
    const __m512i reverse = _mm512_broadcast_i32x4(_mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    __m512i x = _mm512_xor_si512(_mm512_shuffle_epi8(counters, reverse), round_key(schedule, 0));
    for (int r = 1; r < 14; ++r) x = _mm512_aesenc_epi128(x, round_key(schedule, r));
    return _mm512_aesenclast_epi128(x, round_key(schedule, 14));
}

std::uint64_t load_be64(const std::uint8_t* p) {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
    return v;
}

}  // namespace

void aes256_ctr_keystream_vaes(const std::uint8_t key[32], const std::uint8_t iv[16], std::uint8_t* out,
                               std::size_t size) noexcept {
    __m128i schedule[15];
    expand_key(key, schedule);
    std::uint64_t high = load_be64(iv), low = load_be64(iv + 8);
    // Counters of the next four blocks as (low, high) pairs; the carry into `high` is taken block by
    // block so a counter about to wrap is handled exactly.
    auto next_counters = [&high, &low]() {
        alignas(64) std::uint64_t lanes[8];
        for (int b = 0; b < 4; ++b) {
            lanes[2 * b] = low;
            lanes[2 * b + 1] = high;
            if (++low == 0) ++high;
        }
        return _mm512_load_si512(lanes);
    };
    const std::uint64_t blocks = (size + 15) / 16;
    std::size_t done = 0;
    if (low <= UINT64_MAX - (blocks + 3)) {
        // No carry out of the low half in this call (the usual case): counters advance in the
        // register, four blocks (adding 4 to each low lane) per step.
        const __m512i step = _mm512_set_epi64(0, 4, 0, 4, 0, 4, 0, 4);
        const __m512i step4 = _mm512_set_epi64(0, 16, 0, 16, 0, 16, 0, 16);
        __m512i c0 = next_counters();
        // Sixteen blocks a pass in four independent registers, so the AES latency overlaps.
        for (; done + 256 <= size; done += 256) {
            const __m512i c1 = _mm512_add_epi64(c0, step), c2 = _mm512_add_epi64(c1, step),
                          c3 = _mm512_add_epi64(c2, step);
            _mm512_storeu_si512(out + done, encrypt4(c0, schedule));
            _mm512_storeu_si512(out + done + 64, encrypt4(c1, schedule));
            _mm512_storeu_si512(out + done + 128, encrypt4(c2, schedule));
            _mm512_storeu_si512(out + done + 192, encrypt4(c3, schedule));
            c0 = _mm512_add_epi64(c0, step4);
        }
        for (; done < size; done += 64) {
            alignas(64) std::uint8_t block[64];
            _mm512_store_si512(block, encrypt4(c0, schedule));
            std::memcpy(out + done, block, size - done < 64 ? size - done : 64);
            c0 = _mm512_add_epi64(c0, step);
        }
    } else {
        for (; done < size; done += 64) {
            alignas(64) std::uint8_t block[64];
            _mm512_store_si512(block, encrypt4(next_counters(), schedule));
            std::memcpy(out + done, block, size - done < 64 ? size - done : 64);
        }
    }
    secure_wipe(schedule, sizeof schedule);  // key material
}

}  // namespace pprl::simd
