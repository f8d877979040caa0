// crypto/keystream.cpp — AES-256-CTR keystream, BLIP's coins: VAES (src/simd/aes_vaes.cpp) where
// the selection says so (simd/isa.hpp, family "aes"), else OpenSSL's EVP with one context per worker.
#include <openssl/evp.h>

#include <cstring>

#include "crypto/crypto.hpp"
#include "pprl/error.hpp"
#include "simd/aes.hpp"
#include "simd/isa.hpp"

namespace pprl::crypto {

const char* keystream_implementation() noexcept {
    return simd::implementation_name(simd::Family::aes, simd::chosen(simd::Family::aes));
}

Keystream::~Keystream() { EVP_CIPHER_CTX_free(static_cast<EVP_CIPHER_CTX*>(context_)); }

void Keystream::generate(const std::uint8_t key[32], const std::uint8_t iv[16], std::uint8_t* out, std::size_t size) {
#if defined(__x86_64__)
    if (simd::chosen(simd::Family::aes) == simd::aes_isa::vaes) {
        simd::aes256_ctr_keystream_vaes(key, iv, out, size);
        return;
    }
#endif
    simd::check_override();
    static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-CTR", nullptr);
    if (context_ == nullptr) context_ = EVP_CIPHER_CTX_new();
    auto* ctx = static_cast<EVP_CIPHER_CTX*>(context_);
    if (cipher == nullptr || ctx == nullptr) throw InternalError("OpenSSL has no AES-256-CTR");
    std::memset(out, 0, size);
    int written = 0;
    const bool keyed = initialised_ ? EVP_EncryptInit_ex2(ctx, nullptr, key, iv, nullptr) == 1
                                    : EVP_EncryptInit_ex2(ctx, cipher, key, iv, nullptr) == 1;
    initialised_ = initialised_ || keyed;
    const bool ok = keyed && EVP_EncryptUpdate(ctx, out, &written, out, static_cast<int>(size)) == 1 &&
                    static_cast<std::size_t>(written) == size;
    if (!ok) throw InternalError("OpenSSL AES-256-CTR failed");
}

void keystream(const std::uint8_t key[32], const std::uint8_t iv[16], std::uint8_t* out, std::size_t size) {
    Keystream stream;
    stream.generate(key, iv, out, size);
}

}  // namespace pprl::crypto
