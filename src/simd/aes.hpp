// src/simd/aes.hpp — AES-256 counter-mode keystream with the vector AES instructions.
//
// BLIP draws 2 KiB of AES-256-CTR keystream per record under a key of its own (the record's coin
// seed). Through OpenSSL's EVP interface that costs a context re-initialisation (parameter lookups,
// key schedule) and then 128-bit AES-NI blocks; VAES runs four blocks per instruction in 512-bit
// registers and the key schedule is fourteen AESKEYGENASSIST steps, so the whole keystream costs a
// fraction of it. The caller (src/crypto/) uses this where the CPU has VAES, AVX-512F/BW and AES-NI
// and falls back to OpenSSL elsewhere (PPRL_FORCE_BACKEND=aes=openssl forces the fallback); the tests check
// both against OpenSSL for random keys, counters about to carry and every length up to 4 KiB.
//
// Counter mode as OpenSSL and NIST SP 800-38A define it: block i is AES_K(IV + i), the 16-byte IV
// read as one big-endian 128-bit integer, the carry running through all sixteen bytes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pprl::simd {

// Writes `size` bytes of AES-256-CTR keystream under `key` from counter block `iv` (x86-64 builds
// only; call it only where the CPU has AES-NI, VAES, AVX-512F and AVX-512BW — the check lives in
// unflagged code).
void aes256_ctr_keystream_vaes(const std::uint8_t key[32], const std::uint8_t iv[16], std::uint8_t* out,
                               std::size_t size) noexcept;

}  // namespace pprl::simd
