// crypto/hmac_sha256.cpp — HMAC-SHA256 with a precomputed key schedule, one at a time or batched.
//
// HmacSha256 keeps two SHA-256 chaining values, after absorbing key^ipad and key^opad. A token that
// fits one block (≤ 55 bytes with its counter byte, i.e. every q-gram) is padded by hand and costs
// exactly two SHA256_Transform calls; longer messages take the SHA256_Update/Final path. OpenSSL 3
// marks these low-level functions deprecated in favour of EVP, but EVP allocates per context copy
// and cannot resume from a chaining value, which costs more than the two compressions themselves.
// They remain part of OpenSSL 3's API and use the SHA extensions when the CPU has them. Both paths
// are checked against RFC 4231 (which has messages of both lengths).
// The batched path (mac_many) compresses up to 32 one-block messages together on the implementation
// the selection names (simd/isa.hpp, family "sha256"): sixteen lanes of AVX-512, interleaved SHA
// extensions, or OpenSSL's SHA256_Transform one block at a time.
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <openssl/sha.h>

#include <algorithm>
#include <cstring>

#include "crypto/crypto.hpp"
#include "pprl/secret.hpp"
#include "simd/isa.hpp"
#include "simd/sha256.hpp"

namespace pprl::crypto {

struct HmacSha256::State {
    SHA256_CTX inner;
    SHA256_CTX outer;
};

HmacSha256::HmacSha256(const SecretKey& key) : state_(std::make_unique<State>()) {
    simd::check_override();
    unsigned char block[SHA256_CBLOCK] = {};
    if (key.size() > SHA256_CBLOCK) {
        SHA256(key.data(), key.size(), block);
    } else if (key.size() > 0) {
        std::memcpy(block, key.data(), key.size());
    }
    unsigned char pad[SHA256_CBLOCK];
    for (int i = 0; i < SHA256_CBLOCK; ++i) pad[i] = block[i] ^ 0x36;
    SHA256_Init(&state_->inner);
    SHA256_Update(&state_->inner, pad, sizeof pad);
    for (int i = 0; i < SHA256_CBLOCK; ++i) pad[i] = block[i] ^ 0x5c;
    SHA256_Init(&state_->outer);
    SHA256_Update(&state_->outer, pad, sizeof pad);
    secure_wipe(block, sizeof block);
    secure_wipe(pad, sizeof pad);
}

HmacSha256::~HmacSha256() {
    if (state_) secure_wipe(state_.get(), sizeof(State));
}
HmacSha256::HmacSha256(HmacSha256&&) noexcept = default;
HmacSha256& HmacSha256::operator=(HmacSha256&& other) noexcept {
    if (this != &other) {
        if (state_) secure_wipe(state_.get(), sizeof(State));
        state_ = std::move(other.state_);
    }
    return *this;
}

namespace {

// The eight chaining words of SHA-256 as the 32 big-endian digest bytes.
inline void store_big_endian(const std::uint32_t* words, std::uint8_t* out) noexcept {
    for (int i = 0; i < 8; ++i) {
        out[4 * i] = static_cast<std::uint8_t>(words[i] >> 24);
        out[4 * i + 1] = static_cast<std::uint8_t>(words[i] >> 16);
        out[4 * i + 2] = static_cast<std::uint8_t>(words[i] >> 8);
        out[4 * i + 3] = static_cast<std::uint8_t>(words[i]);
    }
}

// Compresses one final, already padded block into a copy of `state` and returns the digest bytes.
// Only the chaining value h[] of the copy is used; it is overwritten by the compression, so the
// key-equivalent precomputed state is never left behind in the copy.
inline Digest256 compress_final(const SHA256_CTX& state, const unsigned char* block) noexcept {
    SHA256_CTX ctx;
    std::memcpy(ctx.h, state.h, sizeof ctx.h);
    SHA256_Transform(&ctx, block);
    std::uint32_t words[8];
    for (int i = 0; i < 8; ++i) words[i] = static_cast<std::uint32_t>(ctx.h[i]);
    Digest256 out;
    store_big_endian(words, out.data());
    return out;
}

// Appends SHA-256 padding for a message of `total_bytes` whose last `used` bytes sit in `block`.
inline void pad_block(unsigned char* block, std::size_t used, std::uint64_t total_bytes) noexcept {
    block[used] = 0x80;
    std::memset(block + used + 1, 0, SHA256_CBLOCK - 8 - used - 1);
    const std::uint64_t bits = total_bytes * 8;
    for (int i = 0; i < 8; ++i) block[SHA256_CBLOCK - 1 - i] = static_cast<unsigned char>(bits >> (8 * i));
}

// HMAC over (optional prefix byte || message) when it fits the single block after key^ipad.
inline Digest256 short_mac(const SHA256_CTX& inner, const SHA256_CTX& outer, const std::uint8_t* prefix,
                           const void* message, std::size_t size) noexcept {
    unsigned char block[SHA256_CBLOCK];
    std::size_t used = 0;
    if (prefix != nullptr) block[used++] = *prefix;
    std::memcpy(block + used, message, size);
    used += size;
    pad_block(block, used, SHA256_CBLOCK + used);
    const Digest256 inner_digest = compress_final(inner, block);
    std::memcpy(block, inner_digest.data(), inner_digest.size());
    pad_block(block, inner_digest.size(), SHA256_CBLOCK + inner_digest.size());
    return compress_final(outer, block);
}

// Longest message (prefix included) that fits one block with its padding: 64 - 1 - 8.
constexpr std::size_t max_single_block = SHA256_CBLOCK - 9;

Digest256 long_mac(const SHA256_CTX& inner, const SHA256_CTX& outer, const std::uint8_t* prefix, const void* message,
                   std::size_t size) noexcept {
    SHA256_CTX ctx = inner;
    if (prefix != nullptr) SHA256_Update(&ctx, prefix, 1);
    SHA256_Update(&ctx, message, size);
    Digest256 inner_digest;
    SHA256_Final(inner_digest.data(), &ctx);
    ctx = outer;
    SHA256_Update(&ctx, inner_digest.data(), inner_digest.size());
    Digest256 out;
    SHA256_Final(out.data(), &ctx);
    secure_wipe(&ctx, sizeof ctx);
    return out;
}

}  // namespace

namespace {

// OpenSSL's one-block compression, for CPUs without the SHA extensions.
void compress_many_openssl(std::uint32_t (*state)[8], const std::uint8_t (*block)[64], std::size_t count) noexcept {
    SHA256_CTX ctx;
    for (std::size_t i = 0; i < count; ++i) {
        std::memcpy(ctx.h, state[i], sizeof ctx.h);
        SHA256_Transform(&ctx, block[i]);
        std::memcpy(state[i], ctx.h, sizeof ctx.h);
    }
}

// The compression the selection names (simd/isa.hpp, family "sha256").
simd::Sha256CompressMany compress_many() noexcept {
#if defined(__x86_64__)
    switch (simd::chosen(simd::Family::sha256)) {
        case simd::sha256_isa::avx512: return simd::sha256_compress_many_avx512();
        case simd::sha256_isa::shani: return simd::sha256_compress_many_shani();
        default: break;
    }
#endif
    return &compress_many_openssl;
}

// Requests per round of interleaved compression: enough for every token of a typical record.
constexpr std::size_t mac_batch = 32;

}  // namespace

Digest256 HmacSha256::mac(std::uint8_t prefix, const void* message, std::size_t size) const noexcept {
    if (size + 1 <= max_single_block) return short_mac(state_->inner, state_->outer, &prefix, message, size);
    return long_mac(state_->inner, state_->outer, &prefix, message, size);
}

Digest256 HmacSha256::mac(const void* message, std::size_t size) const noexcept {
    if (size <= max_single_block) return short_mac(state_->inner, state_->outer, nullptr, message, size);
    return long_mac(state_->inner, state_->outer, nullptr, message, size);
}

void HmacSha256::mac_many(const Request* requests, std::size_t count, Digest256* out) noexcept {
    const simd::Sha256CompressMany compress = compress_many();
    alignas(16) std::uint32_t state[mac_batch][8];
    alignas(16) std::uint8_t block[mac_batch][SHA256_CBLOCK];
    std::size_t where[mac_batch];
    for (std::size_t begin = 0; begin < count; begin += mac_batch) {
        const std::size_t end = std::min(count, begin + mac_batch);
        std::size_t n = 0;
        for (std::size_t i = begin; i < end; ++i) {
            const Request& r = requests[i];
            if (r.size + 1 > max_single_block) {
                out[i] = long_mac(r.key->state_->inner, r.key->state_->outer, &r.prefix, r.message, r.size);
                continue;
            }
            std::memcpy(state[n], r.key->state_->inner.h, sizeof state[n]);
            block[n][0] = r.prefix;
            std::memcpy(block[n] + 1, r.message, r.size);
            pad_block(block[n], r.size + 1, SHA256_CBLOCK + r.size + 1);
            where[n++] = i;
        }
        compress(state, block, n);
        for (std::size_t j = 0; j < n; ++j) {
            store_big_endian(state[j], block[j]);
            pad_block(block[j], 32, SHA256_CBLOCK + 32);
            std::memcpy(state[j], requests[where[j]].key->state_->outer.h, sizeof state[j]);
        }
        compress(state, block, n);
        for (std::size_t j = 0; j < n; ++j) store_big_endian(state[j], out[where[j]].data());
        // The blocks held tokens and inner digests; the states, key-derived chaining values.
        secure_wipe(block, n * sizeof block[0]);
        secure_wipe(state, n * sizeof state[0]);
    }
}

}  // namespace pprl::crypto
