// src/simd/sha256.hpp — SHA-256 compression of many independent blocks at once.
//
// The keyed encoder hashes tens of short tokens per record, each HMAC two single-block SHA-256
// compressions. One compression on the SHA extensions is a chain of 32 dependent SHA256RNDS2
// instructions; AVX-512 can instead run sixteen independent compressions in its 32-bit lanes. The
// caller (src/crypto/) picks AVX-512, else the SHA extensions, else OpenSSL's SHA256_Transform.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pprl::simd {

// state[i] (H0..H7) absorbs block[i], for i < count. Blocks are already padded.
using Sha256CompressMany = void (*)(std::uint32_t (*state)[8], const std::uint8_t (*block)[64],
                                    std::size_t count) noexcept;

// The SHA-extension implementation (x86-64 builds only). Call it only where the CPU has the SHA
// extensions and SSE4.1; the check lives in unflagged code (src/crypto/crypto.cpp).
Sha256CompressMany sha256_compress_many_shani() noexcept;
// Sixteen blocks per pass in the 32-bit lanes of AVX-512 registers (needs AVX-512F).
Sha256CompressMany sha256_compress_many_avx512() noexcept;

}  // namespace pprl::simd
