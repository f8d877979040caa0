// pprl/clkhash.hpp — Data61 clkhash linkage schemas, reproduced bit for bit.
//
// Many linkage projects encode with clkhash (Python) and match with anonlink. A clkhash linkage
// schema (version 3, or 1 and 2, which clkhash upgrades to 3) given to pprl produces exactly the
// CLKs clkhash 0.18 produces for the same secret, schema and rows, so partners can switch tools or
// mix them without re-encoding. This header is the parsed model; `Schema::from_json` recognises a
// clkhash document (it has "clkConfig" and "features") and the Encoder follows its rules:
//
//   keys       HKDF(hash, secret, salt, info) → 2 keys of keySize bytes per feature, ignored ones too.
//   value      missing-value sentinel → replacement; otherwise integers as Python str(int(v)), dates
//              re-printed %Y%m%d; strings unchanged (no normalisation: clkhash does none).
//   tokens     n-grams over code points padded with n-1 spaces (positional: "i gram", 1-based),
//              the whole value (exact), or 2·resolution+1 neighbourhood values (numeric).
//   bits       blakeHash: BLAKE2b(token, key = key0, salt = str(i)) read as little-endian uint16s,
//              each mod l; doubleHash: (SHA1-HMAC + i·MD5-HMAC) mod l over the digests read as
//              big-endian integers (Boost.Multiprecision), optionally never letting the step be 0.
//   filter     l·2^folds bits, bit 0 the most significant bit of byte 0, XOR-folded `folds` times.
//
// Parsing refuses, naming the option, anything pprl cannot reproduce exactly: an unknown key, a
// filter length that is not a multiple of 64, a date directive other than %Y %y %m %d %b %B %%, a
// regular-expression construct only Python has. Where clkhash departs from its own documentation
// pprl follows clkhash (the README lists the quirks), and `notes` says when such a rule applied.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crypto/crypto.hpp"

namespace pprl::clkhash {

enum class Format { string, integer, date, enumeration };
enum class TextEncoding { ascii, utf8, utf16, utf32 };  // Python codecs; utf-16/32 write a BOM per token
enum class Case { mixed, upper, lower };
enum class Comparison { ngram, exact, numeric };
enum class HashType { blake, double_hash };

struct Feature {
    std::string identifier;
    bool ignored = false;

    Format format = Format::string;
    TextEncoding encoding = TextEncoding::utf8;
    std::optional<std::string> pattern;  // string: a full match is required
    Case letter_case = Case::mixed;      // string without pattern
    std::optional<std::uint64_t> min_length, max_length;
    std::optional<std::string> minimum, maximum;  // integer bounds, decimal (any size)
    std::string date_format;                      // strptime format
    std::vector<std::string> enum_values;

    Comparison comparison = Comparison::ngram;
    unsigned n = 2;           // ngram
    bool positional = false;  // ngram
    // numeric: thresholdDistance exactly as written in the JSON (integer or float), resolution,
    // fractional_precision.
    bool threshold_is_integer = true;
    std::int64_t threshold_integer = 0;
    double threshold_float = 0;
    unsigned resolution = 1;
    unsigned fractional_precision = 0;

    HashType hash = HashType::blake;
    bool prevent_singularity = false;
    bool bits_per_feature = false;  // strategy: bitsPerFeature (else bitsPerToken)
    unsigned bits = 0;

    std::optional<std::string> missing_sentinel;
    std::string missing_replacement;  // the sentinel itself when "replaceWith" is absent
};

struct Schema {
    int source_version = 3;  // as written; versions 1 and 2 are converted as clkhash converts them
    unsigned l = 1024;       // CLK length after folding (a multiple of 64 here)
    unsigned xor_folds = 0;
    crypto::HkdfHash kdf_hash = crypto::HkdfHash::sha256;
    std::string kdf_salt, kdf_info;  // bytes (base64-decoded)
    std::size_t key_size = 64;
    std::vector<Feature> features;
    std::vector<std::string> notes;  // clkhash quirks that applied while reading this schema
    std::string canonical_json;      // what the schema fingerprint is computed over

    unsigned hash_bits() const noexcept { return l << xor_folds; }
};

// True when `json_text` is a JSON object that looks like a clkhash linkage schema.
bool looks_like_clkhash(const std::string& json_text);

// Parses and validates a clkhash linkage schema (v1, v2 or v3). Throws ValidationError naming the
// JSON pointer of what is wrong or cannot be reproduced exactly.
Schema parse_schema(const std::string& json_text, const std::string& origin = "schema");

}  // namespace pprl::clkhash
