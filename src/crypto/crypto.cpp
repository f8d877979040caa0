// src/crypto/crypto.cpp — the only translation units that include OpenSSL are in src/crypto/.
//
// HmacSha256 keeps two SHA-256 chaining values, after absorbing key^ipad and key^opad. A token that
// fits one block (≤ 55 bytes with its counter byte, i.e. every q-gram) is padded by hand and costs
// exactly two SHA256_Transform calls; longer messages take the SHA256_Update/Final path. OpenSSL 3
// marks these low-level functions deprecated in favour of EVP, but EVP allocates per context copy
// and cannot resume from a chaining value, which costs more than the two compressions themselves.
// They remain part of OpenSSL 3's API and use the SHA extensions when the CPU has them. Both paths
// are checked against RFC 4231 (which has messages of both lengths).
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/md5.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <string>

#include "crypto/crypto.hpp"
#include "pprl/error.hpp"
#include "format/atomic_file.hpp"
#include "pprl/secret.hpp"
#include "simd/aes.hpp"
#include "simd/blake2b.hpp"
#include "simd/sha256.hpp"

namespace pprl {

void secure_wipe(void* data, std::size_t size) noexcept {
    if (data != nullptr && size != 0) OPENSSL_cleanse(data, size);
}

SecretKey::SecretKey(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return;
    data_ = new std::uint8_t[size];
    size_ = size;
    std::memcpy(data_, data, size);
}

SecretKey::~SecretKey() { release(); }

SecretKey::SecretKey(SecretKey&& other) noexcept : data_(other.data_), size_(other.size_) {
    other.data_ = nullptr;
    other.size_ = 0;
}

SecretKey& SecretKey::operator=(SecretKey&& other) noexcept {
    if (this != &other) {
        release();
        data_ = other.data_;
        size_ = other.size_;
        other.data_ = nullptr;
        other.size_ = 0;
    }
    return *this;
}

void SecretKey::release() noexcept {
    secure_wipe(data_, size_);
    delete[] data_;
    data_ = nullptr;
    size_ = 0;
}

SecretKey SecretKey::generate(std::size_t size) {
    if (size < min_bytes) throw UsageError("a generated key must have at least 16 bytes");
    std::string bytes(size, '\0');
    crypto::random_bytes(reinterpret_cast<std::uint8_t*>(bytes.data()), size);
    SecretKey key(reinterpret_cast<const std::uint8_t*>(bytes.data()), size);
    secure_wipe(bytes.data(), bytes.size());
    return key;
}

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

SecretKey SecretKey::from_file(const std::string& path, FileEncoding encoding) {
    std::string content = read_file(path);
    SecretKey key;
    if (encoding == FileEncoding::raw) {
        std::size_t size = content.size();
        if (size > 0 && content[size - 1] == '\n') --size;
        if (size == 0) {
            secure_wipe(content.data(), content.size());
            throw ValidationError("secret file '" + path + "' is empty");
        }
        key = SecretKey(reinterpret_cast<const std::uint8_t*>(content.data()), size);
    } else {
        std::size_t begin = 0, end = content.size();
        while (begin < end && std::isspace(static_cast<unsigned char>(content[begin]))) ++begin;
        while (end > begin && std::isspace(static_cast<unsigned char>(content[end - 1]))) --end;
        const std::size_t digits = end - begin;
        bool valid = digits % 2 == 0;
        std::string bytes(digits / 2, '\0');
        for (std::size_t i = 0; valid && i < digits / 2; ++i) {
            int hi = hex_value(content[begin + 2 * i]), lo = hex_value(content[begin + 2 * i + 1]);
            if (hi < 0 || lo < 0) valid = false;
            else bytes[i] = static_cast<char>(hi * 16 + lo);
        }
        secure_wipe(content.data(), content.size());
        if (!valid) {
            secure_wipe(bytes.data(), bytes.size());
            throw ValidationError("secret file '" + path +
                                  "' is not a hex key (expected an even number of hex digits, as written "
                                  "by `pprl keygen`)");
        }
        if (bytes.size() < min_bytes) {
            const std::size_t bits = bytes.size() * 8;
            secure_wipe(bytes.data(), bytes.size());
            throw ValidationError("secret file '" + path + "' holds a " + std::to_string(bits) +
                                  "-bit key; at least 128 bits are required");
        }
        key = SecretKey(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
        secure_wipe(bytes.data(), bytes.size());
    }
    secure_wipe(content.data(), content.size());
    return key;
}

void SecretKey::write_hex_file(const std::string& path) const {
    std::string hex = crypto::to_hex(data_, size_);
    hex.push_back('\n');
    try {
        AtomicFile file(path, 0600);
        file.write(hex);
        file.commit();
    } catch (...) {
        secure_wipe(hex.data(), hex.size());
        throw;
    }
    secure_wipe(hex.data(), hex.size());
}

namespace crypto {

Digest256 sha256(const void* data, std::size_t size) {
    Digest256 out{};
    unsigned int out_size = 0;
    if (EVP_Digest(data, size, out.data(), &out_size, EVP_sha256(), nullptr) != 1 || out_size != 32)
        throw Error(ErrorCategory::io, "OpenSSL SHA-256 failed");
    return out;
}

Digest256 hmac_sha256(const std::uint8_t* key, std::size_t key_size, const void* data, std::size_t size) {
    Digest256 out{};
    unsigned int out_size = 0;
    static const std::uint8_t empty_key = 0;
    if (HMAC(EVP_sha256(), key_size ? key : &empty_key, static_cast<int>(key_size),
             static_cast<const unsigned char*>(data), size, out.data(), &out_size) == nullptr ||
        out_size != 32)
        throw Error(ErrorCategory::io, "OpenSSL HMAC-SHA256 failed");
    return out;
}

SecretKey hkdf(HkdfHash hash, const std::uint8_t* ikm, std::size_t ikm_size, const void* salt, std::size_t salt_size,
               const void* info, std::size_t info_size, std::size_t length) {
    const std::size_t digest_size = hash == HkdfHash::sha256 ? 32 : 64;
    const char* name = hash == HkdfHash::sha256 ? "SHA256" : "SHA512";
    if (length == 0 || length > 255 * digest_size)
        throw UsageError(std::string("HKDF-") + name + " output length must be 1.." + std::to_string(255 * digest_size) +
                         " bytes");
    EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
    if (kdf == nullptr) throw Error(ErrorCategory::io, "OpenSSL has no HKDF implementation");
    EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (ctx == nullptr) throw Error(ErrorCategory::io, "OpenSSL could not allocate an HKDF context");
    std::string digest_name = name;
    static const unsigned char empty = 0;
    OSSL_PARAM params[5];
    int n = 0;
    params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest_name.data(), 0);
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                                    const_cast<std::uint8_t*>(ikm_size ? ikm : &empty), ikm_size);
    params[n++] = OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_SALT, const_cast<void*>(salt_size ? salt : &empty), salt_size);
    params[n++] = OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_INFO, const_cast<void*>(info_size ? info : &empty), info_size);
    params[n] = OSSL_PARAM_construct_end();
    std::string out(length, '\0');
    const int ok = EVP_KDF_derive(ctx, reinterpret_cast<unsigned char*>(out.data()), length, params);
    EVP_KDF_CTX_free(ctx);
    if (ok != 1) {
        secure_wipe(out.data(), out.size());
        throw Error(ErrorCategory::io, std::string("OpenSSL HKDF-") + name + " failed");
    }
    SecretKey key(reinterpret_cast<const std::uint8_t*>(out.data()), out.size());
    secure_wipe(out.data(), out.size());
    return key;
}

SecretKey hkdf_sha256(const std::uint8_t* ikm, std::size_t ikm_size, const void* salt, std::size_t salt_size,
                      const void* info, std::size_t info_size, std::size_t length) {
    return hkdf(HkdfHash::sha256, ikm, ikm_size, salt, salt_size, info, info_size, length);
}

namespace {

// PPRL_FORCE_AES=openssl (tests) keeps OpenSSL; else VAES where the CPU has it (src/simd/aes.hpp).
// Decided once per process.
bool keystream_on_vaes() noexcept {
    static const bool vaes = [] {
#if defined(__x86_64__)
        const char* forced = std::getenv("PPRL_FORCE_AES");
        if (forced != nullptr && std::string(forced) == "openssl") return false;
        return __builtin_cpu_supports("aes") && __builtin_cpu_supports("vaes") && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512bw");
#else
        return false;
#endif
    }();
    return vaes;
}

}  // namespace

const char* keystream_implementation() noexcept { return keystream_on_vaes() ? "vaes" : "openssl"; }

Keystream::~Keystream() { EVP_CIPHER_CTX_free(static_cast<EVP_CIPHER_CTX*>(context_)); }

void Keystream::generate(const std::uint8_t key[32], const std::uint8_t iv[16], std::uint8_t* out, std::size_t size) {
#if defined(__x86_64__)
    if (keystream_on_vaes()) {
        simd::aes256_ctr_keystream_vaes(key, iv, out, size);
        return;
    }
#endif
    static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-CTR", nullptr);
    if (context_ == nullptr) context_ = EVP_CIPHER_CTX_new();
    auto* ctx = static_cast<EVP_CIPHER_CTX*>(context_);
    if (cipher == nullptr || ctx == nullptr) throw Error(ErrorCategory::io, "OpenSSL has no AES-256-CTR");
    std::memset(out, 0, size);
    int written = 0;
    const bool keyed = initialised_ ? EVP_EncryptInit_ex2(ctx, nullptr, key, iv, nullptr) == 1
                                    : EVP_EncryptInit_ex2(ctx, cipher, key, iv, nullptr) == 1;
    initialised_ = initialised_ || keyed;
    const bool ok = keyed && EVP_EncryptUpdate(ctx, out, &written, out, static_cast<int>(size)) == 1 &&
                    static_cast<std::size_t>(written) == size;
    if (!ok) throw Error(ErrorCategory::io, "OpenSSL AES-256-CTR failed");
}

void keystream(const std::uint8_t key[32], const std::uint8_t iv[16], std::uint8_t* out, std::size_t size) {
    Keystream stream;
    stream.generate(key, iv, out, size);
}

void random_bytes(std::uint8_t* out, std::size_t size) {
    if (size > static_cast<std::size_t>(INT32_MAX) || RAND_bytes(out, static_cast<int>(size)) != 1)
        throw Error(ErrorCategory::io, "OpenSSL RAND_bytes failed: no entropy available");
}

std::string to_hex(const std::uint8_t* data, std::size_t size) {
    static const char digits[] = "0123456789abcdef";
    std::string out(2 * size, '0');
    for (std::size_t i = 0; i < size; ++i) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    return out;
}

struct HmacSha256::State {
    SHA256_CTX inner;
    SHA256_CTX outer;
};

HmacSha256::HmacSha256(const SecretKey& key) : state_(std::make_unique<State>()) {
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

// Which compression the batched HMAC uses: PPRL_FORCE_SHA256=openssl|shani|avx512 (tests), else
// AVX-512 lanes, else the SHA extensions, else OpenSSL. Unavailable forced choices fall through.
simd::Sha256CompressMany choose_compress() noexcept {
    const char* forced = std::getenv("PPRL_FORCE_SHA256");
    const std::string force = forced != nullptr ? forced : "";
#if defined(__x86_64__)
    const bool avx512 = __builtin_cpu_supports("avx512f");
    const bool shani = __builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1");
    if (force == "openssl") return &compress_many_openssl;
    if (force == "shani" && shani) return simd::sha256_compress_many_shani();
    if (avx512 && (force.empty() || force == "avx512")) return simd::sha256_compress_many_avx512();
    if (shani) return simd::sha256_compress_many_shani();
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
    static const simd::Sha256CompressMany compress = choose_compress();
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
    }
    // The outer states copied into `state` are key-equivalent until overwritten; all were.
}

// HMAC-SHA1 and HMAC-MD5 keep the inner and outer states after the padded key, as HmacSha256 does;
// copying a SHA_CTX or MD5_CTX is a struct copy. Keyed BLAKE2b is computed here from RFC 7693:
// OpenSSL 3 exposes BLAKE2b only through EVP_MAC, which buffers the key block until the message
// arrives, so every token would pay a context copy (an allocation) and the key block's compression
// again. Here the key block is compressed once, at construction, and a short token costs one
// compression. The result is checked against Python's hashlib.blake2b (test_crypto) and against
// every clkhash blakeHash vector (test_compat).
namespace {

using simd::blake2b_iv;
using simd::blake2b_sigma;

inline std::uint64_t rotr64(std::uint64_t x, unsigned n) { return (x >> n) | (x << (64 - n)); }

// A BLAKE2b state as its 64-byte digest: words little-endian.
void store_le(const std::uint64_t h[8], std::uint8_t* out) {
    for (int i = 0; i < 8; ++i)
        for (int j = 0; j < 8; ++j) out[8 * i + j] = static_cast<std::uint8_t>(h[i] >> (8 * j));
}

inline std::uint64_t load_le64(const std::uint8_t* p) {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];  // compiles to one load on little-endian machines
    return v;
}

// One BLAKE2b compression of a 128-byte block; `counter` is the byte count so far including it.
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

void blake2b_compress(std::uint64_t h[8], const std::uint8_t block[128], std::uint64_t counter, bool last) {
    std::uint64_t m[16];
    for (int i = 0; i < 16; ++i) m[i] = load_le64(block + 8 * i);
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

}  // namespace

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
    state_->kind = kind;
    if (kind == Kind::blake2b) {
        if (key_size == 0 || key_size > 64) throw UsageError("a BLAKE2b key must be 1 to 64 bytes");
        if (salt_size > 16) throw UsageError("a BLAKE2b salt must be at most 16 bytes");
        std::uint8_t salt_bytes[16] = {};  // zero-padded, as hashlib.blake2b pads a short salt
        if (salt_size > 0) std::memcpy(salt_bytes, salt, salt_size);
        std::uint64_t* h = state_->blake_h;
        for (int i = 0; i < 8; ++i) h[i] = blake2b_iv[i];
        h[0] ^= 0x01010000ULL ^ (static_cast<std::uint64_t>(key_size) << 8) ^ 64;  // fanout, depth, key, digest
        h[4] ^= load_le64(salt_bytes);
        h[5] ^= load_le64(salt_bytes + 8);
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
                store_le(h, out);
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
            store_le(h, out);
            return;
        }
    }
}

namespace {

simd::Blake2bFinalMany choose_blake2b() noexcept {
    const char* forced = std::getenv("PPRL_FORCE_BLAKE2B");
    const std::string force = forced != nullptr ? forced : "";
#if defined(__x86_64__)
    if (force != "portable" && __builtin_cpu_supports("avx512f")) return simd::blake2b_final_many_avx512();
#endif
    return nullptr;
}

const simd::Blake2bFinalMany blake2b_many = choose_blake2b();

}  // namespace

const char* KeyedDigest::blake2b_path() noexcept { return blake2b_many != nullptr ? "avx512" : "portable"; }

void KeyedDigest::digest_many(const Request* requests, std::size_t count, std::uint8_t* out) {
    alignas(64) std::uint64_t h[8][8];
    alignas(64) std::uint8_t block[8][128];
    std::uint64_t counter[8];
    std::size_t where[8];
    std::size_t lanes = 0;
    auto flush = [&] {
        if (lanes == 0) return;
        blake2b_many(h, block, counter, lanes);
        for (std::size_t l = 0; l < lanes; ++l) store_le(h[l], out + 64 * where[l]);
        lanes = 0;
    };
    for (std::size_t i = 0; i < count; ++i) {
        const Request& r = requests[i];
        if (r.key->state_->kind != Kind::blake2b) throw UsageError("KeyedDigest::digest_many is for BLAKE2b keys");
        if (blake2b_many == nullptr || r.size == 0 || r.size > 128) {
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
}

}  // namespace crypto
}  // namespace pprl
