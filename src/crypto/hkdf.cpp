// crypto/hkdf.cpp — HKDF (RFC 5869) and the one-shot SHA-256 and HMAC-SHA256 it stands beside,
// through OpenSSL's EVP interface: schema fingerprints, per-field and per-step subkeys, the key check.
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <string>

#include "crypto/crypto.hpp"
#include "pprl/error.hpp"

namespace pprl::crypto {

Digest256 sha256(const void* data, std::size_t size) {
    Digest256 out{};
    unsigned int out_size = 0;
    if (EVP_Digest(data, size, out.data(), &out_size, EVP_sha256(), nullptr) != 1 || out_size != 32)
        throw InternalError("OpenSSL SHA-256 failed");
    return out;
}

Digest256 hmac_sha256(const std::uint8_t* key, std::size_t key_size, const void* data, std::size_t size) {
    Digest256 out{};
    unsigned int out_size = 0;
    static const std::uint8_t empty_key = 0;
    if (HMAC(EVP_sha256(), key_size ? key : &empty_key, static_cast<int>(key_size),
             static_cast<const unsigned char*>(data), size, out.data(), &out_size) == nullptr ||
        out_size != 32)
        throw InternalError("OpenSSL HMAC-SHA256 failed");
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
    if (kdf == nullptr) throw InternalError("OpenSSL has no HKDF implementation");
    EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (ctx == nullptr) throw InternalError("OpenSSL could not allocate an HKDF context");
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
        throw InternalError(std::string("OpenSSL HKDF-") + name + " failed");
    }
    SecretKey key(reinterpret_cast<const std::uint8_t*>(out.data()), out.size());
    secure_wipe(out.data(), out.size());
    return key;
}

SecretKey hkdf_sha256(const std::uint8_t* ikm, std::size_t ikm_size, const void* salt, std::size_t salt_size,
                      const void* info, std::size_t info_size, std::size_t length) {
    return hkdf(HkdfHash::sha256, ikm, ikm_size, salt, salt_size, info, info_size, length);
}

}  // namespace pprl::crypto
