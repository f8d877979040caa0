// crypto/crypto.hpp — the cryptographic primitives pprl relies on, behind a header without OpenSSL.
//
// Only src/crypto/ includes OpenSSL. Everything here is deterministic except random_bytes.
//   sha256       — schema fingerprints.
//   hmac_sha256  — one-shot HMAC (RFC 2104), used for the key-check value.
//   hkdf_sha256  — RFC 5869 extract-and-expand; per-field subkeys are bound to the schema
//                  fingerprint (salt) and to the field and purpose (info). hkdf() also does SHA-512
//                  (clkhash schemas may ask for it).
//   KeyedDigest  — HMAC-SHA1, HMAC-MD5 and salted keyed BLAKE2b with the key absorbed once, for
//                  reproducing clkhash's encodings (clkhash.hpp); never used for pprl's own scheme.
//   HmacSha256   — HMAC with its key schedule precomputed: the inner and outer SHA-256 states after
//                  absorbing key^ipad and key^opad are kept, so a short message (≤ 55 bytes) costs
//                  exactly two SHA-256 compressions. This is what makes keyed encoding fast enough.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "pprl/secret.hpp"

namespace pprl::crypto {

using Digest256 = std::array<std::uint8_t, 32>;

Digest256 sha256(const void* data, std::size_t size);
Digest256 hmac_sha256(const std::uint8_t* key, std::size_t key_size, const void* data, std::size_t size);

// RFC 5869 HKDF with SHA-256. `length` ≤ 255 * 32.
SecretKey hkdf_sha256(const std::uint8_t* ikm, std::size_t ikm_size, const void* salt,
                      std::size_t salt_size, const void* info, std::size_t info_size,
                      std::size_t length);

enum class HkdfHash { sha256, sha512 };

// RFC 5869 HKDF with the given hash. `length` ≤ 255 * digest size.
SecretKey hkdf(HkdfHash hash, const std::uint8_t* ikm, std::size_t ikm_size, const void* salt, std::size_t salt_size,
               const void* info, std::size_t info_size, std::size_t length);

void random_bytes(std::uint8_t* out, std::size_t size);

// AES-256-CTR keystream: `size` bytes under a 32-byte key and a 16-byte initial counter block (one
// big-endian 128-bit counter, as OpenSSL and SP 800-38A). Deterministic; used wherever a keyed step
// needs many uniform bits (hardening.hpp). Computed with VAES where the CPU has it, else by OpenSSL
// (PPRL_FORCE_BACKEND=aes=openssl forces OpenSSL); keystream_implementation() says which: "vaes" or "openssl".
void keystream(const std::uint8_t key[32], const std::uint8_t iv[16], std::uint8_t* out, std::size_t size);

// The same, for a caller that draws many keystreams (one per record): where OpenSSL computes them,
// the cipher context is made once and re-keyed per call, since a fresh context per call costs more
// than a filter's worth of coins. The context holds the last key schedule, so it belongs to one
// worker and is freed (OpenSSL wipes it) when the worker's Keystream is destroyed; never shared
// between threads.
class Keystream {
public:
    Keystream() noexcept = default;
    ~Keystream();
    Keystream(const Keystream&) = delete;
    Keystream& operator=(const Keystream&) = delete;
    void generate(const std::uint8_t key[32], const std::uint8_t iv[16], std::uint8_t* out, std::size_t size);

private:
    void* context_ = nullptr;  // EVP_CIPHER_CTX (OpenSSL stays out of this header)
    bool initialised_ = false;
};
const char* keystream_implementation() noexcept;


class HmacSha256 {
public:
    explicit HmacSha256(const SecretKey& key);
    ~HmacSha256();
    HmacSha256(HmacSha256&&) noexcept;
    HmacSha256& operator=(HmacSha256&&) noexcept;
    HmacSha256(const HmacSha256&) = delete;
    HmacSha256& operator=(const HmacSha256&) = delete;

    // HMAC(key, prefix || message) where prefix is one byte; used as a counter-mode stream.
    Digest256 mac(std::uint8_t prefix, const void* message, std::size_t size) const noexcept;
    // HMAC(key, message).
    Digest256 mac(const void* message, std::size_t size) const noexcept;

    // Many HMACs at once, each HMAC(*key, prefix || message). Messages that fit one block are
    // compressed several at a time (interleaved on the SHA extensions where the CPU has them);
    // results equal mac(prefix, message, size) exactly.
    struct Request {
        const HmacSha256* key;
        std::uint8_t prefix;
        const void* message;
        std::size_t size;
    };
    static void mac_many(const Request* requests, std::size_t count, Digest256* out) noexcept;

private:
    struct State;
    std::unique_ptr<State> state_;
};

// A keyed digest whose key (and BLAKE2b salt) is absorbed once at construction; digest() starts
// from a copy of that state, so it is cheap per message and safe to call from several threads.
//   hmac_sha1, hmac_md5 — RFC 2104 HMAC (20- and 16-byte digests), any key length.
//   blake2b             — keyed BLAKE2b-512 (RFC 7693) with a salt of at most 16 bytes (zero-padded,
//                         as Python's hashlib.blake2b does); key of 1 to 64 bytes.
class KeyedDigest {
public:
    enum class Kind { hmac_sha1, hmac_md5, blake2b };
    static constexpr std::size_t max_size = 64;

    KeyedDigest(Kind kind, const std::uint8_t* key, std::size_t key_size, const void* salt = nullptr,
                std::size_t salt_size = 0);
    ~KeyedDigest();
    KeyedDigest(KeyedDigest&&) noexcept;
    KeyedDigest& operator=(KeyedDigest&&) noexcept;
    KeyedDigest(const KeyedDigest&) = delete;
    KeyedDigest& operator=(const KeyedDigest&) = delete;

    std::size_t size() const noexcept;
    // Writes size() bytes to `out`.
    void digest(const void* message, std::size_t size, std::uint8_t* out) const;

    // Many BLAKE2b digests: the 64 bytes at out + 64·i = requests[i].key->digest(message, size). Messages of 1 to 128
    // bytes go eight at a time through AVX-512 where the CPU has it (PPRL_FORCE_BACKEND=blake2b=portable
    // turns that off); the results are identical either way.
    struct Request {
        const KeyedDigest* key;  // kind blake2b
        const void* message;
        std::size_t size;
    };
    static void digest_many(const Request* requests, std::size_t count, std::uint8_t* out);
    // "avx512" or "portable": what digest_many uses on this machine.
    static const char* blake2b_path() noexcept;

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace pprl::crypto
