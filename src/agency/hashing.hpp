// agency/hashing.hpp — a token's bit positions by keyed random hashing.
//
// Each field has its own 256-bit subkey, HKDF-SHA256(secret, salt = schema fingerprint, info =
// "pprl/v1/field-hash" 0x00 field-name). A token's k positions in a filter of m bits are read from
// the stream HMAC-SHA256(subkey, j ‖ token), j = 0, 1, ...: successive ⌈log₂ m⌉-bit big-endian
// chunks, each rejected if ≥ m (never for power-of-two m), until k are drawn. The positions are
// independent and uniform for any m, unlike double hashing (h₁ + i·h₂ mod m), whose arithmetic
// structure Kroll & Steinmetzer (2015) used to re-identify encodings. For m = 1024 one HMAC block
// yields 25 positions, so a token costs two SHA-256 compressions (block 0 is computed by the
// caller, many tokens at a time: crypto::HmacSha256::mac_many).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/crypto.hpp"
#include "pprl/schema.hpp"
#include "pprl/secret.hpp"

namespace pprl {

// Bits per drawn position for a filter of m bits: ⌈log₂ m⌉.
unsigned index_bits(unsigned m) noexcept;

// The field's hashing subkey (see above).
SecretKey field_hash_key(const SecretKey& secret, const Fingerprint& schema_fingerprint, const std::string& field);

// Draws k positions in [0, m) from the HMAC stream of `token` into `positions`. `first` is block 0
// of the stream, HMAC(subkey, 0x00 ‖ token), computed by the caller; `width` is index_bits(m).
void draw_positions(const crypto::HmacSha256& mac, std::string_view token, const crypto::Digest256& first, unsigned k,
                    unsigned m, unsigned width, std::uint16_t* positions);

}  // namespace pprl
