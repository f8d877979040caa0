#include "agency/hashing.hpp"

#include <cstring>

#include "pprl/encode.hpp"

namespace pprl {

unsigned index_bits(unsigned m) noexcept {
    unsigned bits = 0;
    while ((1u << bits) < m) ++bits;
    return bits;
}

SecretKey field_hash_key(const SecretKey& secret, const Fingerprint& schema_fingerprint, const std::string& field) {
    std::string info = "pprl/v1/field-hash";
    info.push_back('\0');
    info += field;
    return crypto::hkdf_sha256(secret.data(), secret.size(), schema_fingerprint.data(), schema_fingerprint.size(),
                               info.data(), info.size(), 32);
}

void draw_positions(const crypto::HmacSha256& mac, std::string_view token, const crypto::Digest256& first, unsigned k,
                    unsigned m, unsigned width, std::uint16_t* positions) {
    const std::uint32_t mask = (1u << width) - 1;
    std::uint8_t counter = 0;
    crypto::Digest256 digest = first;
    unsigned bit = 0;
    for (unsigned drawn = 0; drawn < k;) {
        if (bit + width > 256) {
            digest = mac.mac(++counter, token.data(), token.size());
            bit = 0;
        }
        const unsigned byte = bit / 8;
        std::uint32_t window = static_cast<std::uint32_t>(digest[byte]) << 16;
        if (byte + 1 < 32) window |= static_cast<std::uint32_t>(digest[byte + 1]) << 8;
        if (byte + 2 < 32) window |= digest[byte + 2];
        const std::uint32_t value = (window >> (24 - bit % 8 - width)) & mask;
        bit += width;
        if (value < m) positions[drawn++] = static_cast<std::uint16_t>(value);
    }
    secure_wipe(digest.data(), digest.size());
}

namespace {
const char key_check_message[] = "pprl key check v1";
}

KeyCheck key_check_value(const SecretKey& secret) {
    static const char salt[] = "pprl/v1/key-check";
    SecretKey subkey = crypto::hkdf_sha256(secret.data(), secret.size(), salt, sizeof salt - 1, "", 0, 32);
    crypto::Digest256 mac =
        crypto::hmac_sha256(subkey.data(), subkey.size(), key_check_message, sizeof key_check_message - 1);
    KeyCheck check{};
    std::memcpy(check.data(), mac.data(), check.size());
    secure_wipe(mac.data(), mac.size());
    return check;
}

EncodingInfo encoding_info(const Schema& schema, const KeyCheck& key_check, const std::string& party) {
    EncodingInfo info = EncodingInfo::encoded(schema.fingerprint(), key_check, party);
    info.layout = schema.layout();
    return info;
}

}  // namespace pprl
