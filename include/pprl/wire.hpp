// pprl/wire.hpp — the types that cross from an agency to the hub, needing nothing from either side.
//
// An agency's encodings reach the hub as filters (pprl/bloom.hpp's FilterMatrix) with a header that
// says where they came from: the party label, the schema fingerprint (SHA-256 of the canonical
// schema) and the key-check value (a truncated HMAC under an HKDF subkey of the secret), each marked
// known or not (base64 imports carry neither). The hub compares these to refuse encodings made
// under different schemas or keys; it never needs the schema or the key themselves, so the hub's
// headers and sources include this file and never the agency's (a test compiles them without).
//
// Bit order (ARCHITECTURE.md): bit i of a filter is bit (i mod 8) of byte (i / 8) counted from the
// most significant bit — the order of clkhash and Python's bitarray, so base64 exports interoperate.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pprl {

using Fingerprint = std::array<std::uint8_t, 32>;
using KeyCheck = std::array<std::uint8_t, 16>;

// Longest filter pprl makes or reads, in bits (a multiple of 64 up to this).
constexpr unsigned max_filter_bits = 65536;

// Longest party label a file header holds, in bytes of UTF-8.
constexpr std::size_t max_party_bytes = 64;

// A field-segmented layout: the filter is the concatenation of segments, each a whole number of
// 64-bit words holding the tokens of one field (or group of fields) and nothing else, so the hub
// can compute a per-field Dice from popcounts of a pair's segments. A segment whose value was
// missing is all zero bits (hardening leaves it so); a present value always sets bits. An empty
// layout means the filter is one record-level CLK.
struct Segment {
    std::string name;  // the field or group, for reports (UTF-8, at most max_segment_name_bytes)
    unsigned first_bit = 0;
    unsigned bits = 0;
    bool operator==(const Segment& other) const {
        return name == other.name && first_bit == other.first_bit && bits == other.bits;
    }
    bool operator!=(const Segment& other) const { return !(*this == other); }
};
using Layout = std::vector<Segment>;

// Is the segment all zero bits in a filter held as bytes in file order (a missing value)?
inline bool segment_empty(const std::uint8_t* filter, const Segment& segment) noexcept {
    for (std::size_t byte = segment.first_bit / 8; byte < (std::size_t{segment.first_bit} + segment.bits) / 8; ++byte)
        if (filter[byte] != 0) return false;
    return true;
}
constexpr std::size_t max_segments = 64;
constexpr std::size_t max_segment_name_bytes = 64;

// Bit i of a filter held as bytes in file order (the bit order above).
inline bool filter_bit(const std::uint8_t* bytes, std::size_t bit) noexcept { return (bytes[bit / 8] >> (7 - bit % 8)) & 1; }
inline void set_filter_bit(std::uint8_t* bytes, std::size_t bit) noexcept {
    bytes[bit / 8] |= static_cast<std::uint8_t>(0x80u >> (bit % 8));
}
// Are all bits from `bits` to the end of a `stride`-byte row zero (the padding of a filter whose length
// is not a multiple of the row's size)?
inline bool padding_is_zero(const std::uint8_t* row, unsigned bits, std::size_t stride) noexcept {
    std::size_t byte = bits / 8;
    if (bits % 8 != 0 && (row[byte++] & (0xFFu >> (bits % 8))) != 0) return false;
    for (; byte < stride; ++byte)
        if (row[byte] != 0) return false;
    return true;
}

// Where a set of encodings came from; carried in the file header (pprl/format.hpp owns its bytes).
struct EncodingInfo {
    std::string party;
    bool schema_known = false;  // false for filters imported from base64
    Fingerprint schema_fingerprint{};
    bool key_known = false;
    KeyCheck key_check{};
    Layout layout;  // empty: one record-level filter

    // Encodings made under a schema with this fingerprint and a key with this check value.
    static EncodingInfo encoded(const Fingerprint& schema_fingerprint, const KeyCheck& key_check, std::string party) {
        EncodingInfo info;
        info.party = std::move(party);
        info.schema_known = true;
        info.schema_fingerprint = schema_fingerprint;
        info.key_known = true;
        info.key_check = key_check;
        return info;
    }
    // Filters from elsewhere (base64, numpy): schema and key unknown.
    static EncodingInfo imported(std::string party) {
        EncodingInfo info;
        info.party = std::move(party);
        return info;
    }
};

// Lowercase hex of bytes (fingerprints, key checks in reports).
inline std::string hex(const std::uint8_t* data, std::size_t size) {
    static const char digits[] = "0123456789abcdef";
    std::string out(2 * size, '0');
    for (std::size_t i = 0; i < size; ++i) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    return out;
}

}  // namespace pprl
