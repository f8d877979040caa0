// crypto/keyed_digest.cpp — the keyed digests clkhash uses: HMAC-SHA1, HMAC-MD5, keyed BLAKE2b.
//
// HMAC-SHA1 and HMAC-MD5 keep the inner and outer states after the padded key, as HmacSha256 does;
// copying a SHA_CTX or MD5_CTX is a struct copy. Keyed BLAKE2b is computed here from RFC 7693:
// OpenSSL 3 exposes BLAKE2b only through EVP_MAC, which buffers the key block until the message
// arrives, so every token would pay a context copy (an allocation) and the key block's compression
// again. Here the key block is compressed once, at construction, and a short token costs one
// compression. The result is checked against Python's hashlib.blake2b (test_crypto) and against
// every clkhash blakeHash vector (test_compat).
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <openssl/md5.h>
#include <openssl/sha.h>

#include <cstring>

#include "crypto/blake2b.hpp"
#include "crypto/crypto.hpp"
#include "pprl/error.hpp"
#include "pprl/secret.hpp"
#include "simd/blake2b.hpp"
#include "simd/isa.hpp"

namespace pprl::crypto {

using simd::blake2b_iv;

namespace {

// HMAC over a hash with 64-byte blocks (SHA-1, MD5): the states after key^ipad and key^opad are
// prepared once; a message then starts from copies of them.
template <class Ctx, int (*Init)(Ctx*), int (*Update)(Ctx*, const void*, std::size_t),
          int (*Final)(unsigned char*, Ctx*), unsigned char* (*Hash)(const unsigned char*, std::size_t, unsigned char*),
          std::size_t DigestSize>
struct BlockHmac {
    static void prepare(const std::uint8_t* key, std::size_t key_size, Ctx& inner, Ctx& outer) {
        unsigned char block[64] = {};
        if (key_size > 64) Hash(key, key_size, block);
        else if (key_size > 0) std::memcpy(block, key, key_size);
        unsigned char pad[64];
        for (int i = 0; i < 64; ++i) pad[i] = block[i] ^ 0x36;
        Init(&inner);
        Update(&inner, pad, 64);
        for (int i = 0; i < 64; ++i) pad[i] = block[i] ^ 0x5c;
        Init(&outer);
        Update(&outer, pad, 64);
        secure_wipe(block, sizeof block);
        secure_wipe(pad, sizeof pad);
    }
    static void finish(const Ctx& inner, const Ctx& outer, const void* message, std::size_t size, std::uint8_t* out) {
        unsigned char digest[DigestSize];
        Ctx ctx = inner;
        Update(&ctx, message, size);
        Final(digest, &ctx);
        ctx = outer;
        Update(&ctx, digest, sizeof digest);
        Final(out, &ctx);
    }
};
using HmacSha1 = BlockHmac<SHA_CTX, SHA1_Init, SHA1_Update, SHA1_Final, SHA1, SHA_DIGEST_LENGTH>;
using HmacMd5 = BlockHmac<MD5_CTX, MD5_Init, MD5_Update, MD5_Final, MD5, MD5_DIGEST_LENGTH>;

}  // namespace

struct KeyedDigest::State {
    Kind kind = Kind::hmac_sha1;
    SHA_CTX sha1_inner{}, sha1_outer{};
    MD5_CTX md5_inner{}, md5_outer{};
    std::uint64_t blake_h[8] = {};        // after the parameter block and the key block
    std::uint64_t blake_initial[8] = {};  // after the parameter block only
    std::uint8_t blake_key_block[128] = {};  // for the empty message, whose last block is the key block

    ~State() {
        secure_wipe(&sha1_inner, sizeof sha1_inner);
        secure_wipe(&sha1_outer, sizeof sha1_outer);
        secure_wipe(&md5_inner, sizeof md5_inner);
        secure_wipe(&md5_outer, sizeof md5_outer);
        secure_wipe(blake_h, sizeof blake_h);
        secure_wipe(blake_initial, sizeof blake_initial);
        secure_wipe(blake_key_block, sizeof blake_key_block);
    }
};

KeyedDigest::KeyedDigest(Kind kind, const std::uint8_t* key, std::size_t key_size, const void* salt,
                         std::size_t salt_size)
    : state_(std::make_unique<State>()) {
    simd::check_override();
    state_->kind = kind;
    if (kind == Kind::blake2b) {
        if (key_size == 0 || key_size > 64) throw UsageError("a BLAKE2b key must be 1 to 64 bytes");
        if (salt_size > 16) throw UsageError("a BLAKE2b salt must be at most 16 bytes");
        std::uint8_t salt_bytes[16] = {};  // zero-padded, as hashlib.blake2b pads a short salt
        if (salt_size > 0) std::memcpy(salt_bytes, salt, salt_size);
        std::uint64_t* h = state_->blake_h;
        for (int i = 0; i < 8; ++i) h[i] = blake2b_iv[i];
        h[0] ^= 0x01010000ULL ^ (static_cast<std::uint64_t>(key_size) << 8) ^ 64;  // fanout, depth, key, digest
        h[4] ^= blake2b_load_le64(salt_bytes);
        h[5] ^= blake2b_load_le64(salt_bytes + 8);
        std::memcpy(state_->blake_initial, h, sizeof state_->blake_initial);
        std::memcpy(state_->blake_key_block, key, key_size);
        blake2b_compress(h, state_->blake_key_block, 128, false);  // the last block only for an empty message
        return;
    }
    if (kind == Kind::hmac_sha1) HmacSha1::prepare(key, key_size, state_->sha1_inner, state_->sha1_outer);
    else HmacMd5::prepare(key, key_size, state_->md5_inner, state_->md5_outer);
}

KeyedDigest::~KeyedDigest() = default;
KeyedDigest::KeyedDigest(KeyedDigest&&) noexcept = default;
KeyedDigest& KeyedDigest::operator=(KeyedDigest&&) noexcept = default;

std::size_t KeyedDigest::size() const noexcept {
    switch (state_->kind) {
        case Kind::hmac_sha1: return SHA_DIGEST_LENGTH;
        case Kind::hmac_md5: return MD5_DIGEST_LENGTH;
        case Kind::blake2b: return 64;
    }
    return 0;
}

void KeyedDigest::digest(const void* message, std::size_t size, std::uint8_t* out) const {
    switch (state_->kind) {
        case Kind::hmac_sha1:
            HmacSha1::finish(state_->sha1_inner, state_->sha1_outer, message, size, out);
            return;
        case Kind::hmac_md5:
            HmacMd5::finish(state_->md5_inner, state_->md5_outer, message, size, out);
            return;
        case Kind::blake2b: {
            std::uint64_t h[8];
            if (size == 0) {
                std::memcpy(h, state_->blake_initial, sizeof h);
                blake2b_compress(h, state_->blake_key_block, 128, true);
                blake2b_store(h, out);
                return;
            }
            std::memcpy(h, state_->blake_h, sizeof h);
            const auto* bytes = static_cast<const std::uint8_t*>(message);
            std::uint64_t counter = 128;  // the key block
            std::uint8_t block[128];
            // Full blocks that are not the last one; the last (possibly empty or partial) block is final.
            while (size > 128) {
                counter += 128;
                blake2b_compress(h, bytes, counter, false);
                bytes += 128;
                size -= 128;
            }
            std::memset(block, 0, sizeof block);
            if (size > 0) std::memcpy(block, bytes, size);
            counter += size;
            blake2b_compress(h, block, counter, true);
            blake2b_store(h, out);
            secure_wipe(h, sizeof h);
            secure_wipe(block, sizeof block);
            return;
        }
    }
}

namespace {

// The eight-lane BLAKE2b finisher where the selection runs it (simd/isa.hpp, family "blake2b").
simd::Blake2bFinalMany blake2b_many() noexcept {
#if defined(__x86_64__)
    if (simd::chosen(simd::Family::blake2b) == simd::blake2b_isa::avx512) return simd::blake2b_final_many_avx512();
#endif
    return nullptr;
}

}  // namespace

const char* KeyedDigest::blake2b_path() noexcept {
    return simd::implementation_name(simd::Family::blake2b, simd::chosen(simd::Family::blake2b));
}

void KeyedDigest::digest_many(const Request* requests, std::size_t count, std::uint8_t* out) {
    alignas(64) std::uint64_t h[8][8];
    alignas(64) std::uint8_t block[8][128];
    std::uint64_t counter[8];
    std::size_t where[8];
    std::size_t lanes = 0;
    const simd::Blake2bFinalMany many = blake2b_many();
    auto flush = [&] {
        if (lanes == 0) return;
        many(h, block, counter, lanes);
        for (std::size_t l = 0; l < lanes; ++l) blake2b_store(h[l], out + 64 * where[l]);
        lanes = 0;
    };
    for (std::size_t i = 0; i < count; ++i) {
        const Request& r = requests[i];
        if (r.key->state_->kind != Kind::blake2b) throw UsageError("KeyedDigest::digest_many is for BLAKE2b keys");
        if (many == nullptr || r.size == 0 || r.size > 128) {
            r.key->digest(r.message, r.size, out + 64 * i);
            continue;
        }
        std::memcpy(h[lanes], r.key->state_->blake_h, sizeof h[lanes]);
        std::memset(block[lanes], 0, 128);
        std::memcpy(block[lanes], r.message, r.size);
        counter[lanes] = 128 + r.size;
        where[lanes] = i;
        if (++lanes == 8) flush();
    }
    flush();
    // Key-derived states and the tokens' bytes.
    secure_wipe(h, sizeof h);
    secure_wipe(block, sizeof block);
}

}  // namespace pprl::crypto
