// pprl/schema.hpp — what an agency encodes and how: the linkage schema.
//
// A schema is a versioned JSON document (`"pprl_schema": 1`, documented in the README) that fixes
// the filter length, the hashing scheme and, per field, type, normalisation, tokeniser, weight and
// missing-value rule. Parsing is strict: an unknown key, a wrong type or an out-of-range value is a
// ValidationError naming the JSON pointer and what was expected, because a silently ignored typo
// changes every encoding. The fingerprint is SHA-256 over a canonical form of the parsed schema (all
// defaults filled in, keys sorted, descriptions dropped), so two files that mean the same thing have
// the same fingerprint and the hub can refuse to compare encodings made under different schemas.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pprl/normalize.hpp"
#include "pprl/wire.hpp"

namespace pprl {

namespace clkhash {
struct Schema;
}

enum class FieldType { string, date, integer, enumeration };
enum class TokenizerKind { qgram, positional_qgram, exact, date_parts };
enum class DatePart { year, month, day };
enum class MissingAction { skip, reject, replace };
enum class HashingScheme { hmac_sha256_random };
// pprl's own schema, or a Data61 clkhash linkage schema reproduced exactly (pprl/clkhash.hpp).
enum class SchemaDialect { pprl, clkhash };

struct TokenizerSpec {
    TokenizerKind kind = TokenizerKind::qgram;
    int q = 2;             // q-gram length in code points
    bool padding = true;   // pad with q-1 boundary markers on each side
    std::vector<DatePart> date_parts{DatePart::year, DatePart::month, DatePart::day};
};

struct WeightSpec {
    enum class Mode { bits_per_token, bits_per_feature } mode = Mode::bits_per_token;
    unsigned bits = 10;
};

struct MissingRule {
    std::vector<std::string> values{""};  // compared after normalisation
    MissingAction action = MissingAction::skip;
    std::string replacement;               // with MissingAction::replace
};

// Filter hardening, applied in the declared order after the Bloom filter is built (harden.hpp).
// Every step is keyed from its own HKDF subkey.
enum class HardeningKind { balance, xor_fold, blip, diffusion };
struct HardeningStep {
    HardeningKind kind = HardeningKind::balance;
    double epsilon = 0;        // blip: each bit flips with probability 1 / (1 + e^ε)
    unsigned t = 0;            // diffusion: input bits XORed into each output bit
    unsigned output_bits = 0;  // diffusion: output length
};

// A segment of a field-segmented layout ("filter": {"segments": [...]}): a name, a length (a
// multiple of 64 bits) and the fields whose tokens it holds. The filter is the segments in order.
struct SegmentSpec {
    std::string name;
    unsigned bits = 0;
    std::vector<std::string> fields;
};

struct FieldSpec {
    std::string name;
    bool ignored = false;
    FieldType type = FieldType::string;
    NormalizeOptions normalize;
    std::size_t max_length = 128;              // code points after normalisation
    std::vector<std::string> date_formats;     // date: strptime-like, %Y %m %d and literals
    std::int64_t min_value = INT64_MIN;        // integer
    std::int64_t max_value = INT64_MAX;
    std::vector<std::string> enum_values;      // enumeration: allowed (normalised) values
    std::map<std::string, std::string> enum_aliases;
    TokenizerSpec tokenizer;
    WeightSpec weight;
    MissingRule missing;
    // A value that does not parse as its type (date, integer, enum): reject the row (default) or
    // treat the field as missing (for sources whose dates carry typos, e.g. FEBRL).
    bool invalid_as_missing = false;
    // Salting: this field's tokens are hashed together with another field's value (its canonical
    // form, or a date's year), so equal values in different salt groups set unrelated bits.
    std::string salt_field;
    bool salt_year_only = false;
};

// A pprl schema for the columns of a clkhash linkage schema (`pprl schema convert`): each hashed
// feature keeps its column, n-grams or exact tokens and bits, and gains pprl's normalisation, types
// and keyed hashing. `changes` lists every difference in what is encoded (the hashing, normalisation,
// a dropped pattern, a numeric comparison made exact, ...), one line each, naming the feature's JSON
// pointer. The JSON parses with Schema::from_json. Throws as Schema::from_json does for a clkhash
// schema it cannot read.
struct SchemaConversion {
    std::string pprl_json;
    std::vector<std::string> changes;
};
SchemaConversion convert_clkhash_schema(const std::string& clkhash_json, const std::string& origin = "schema");

class Schema {
public:
    static constexpr int version = 1;
    static constexpr unsigned max_bits = max_filter_bits;
    // Largest schema file read (a schema is a few kilobytes).
    static constexpr std::size_t max_file_bytes = 16 << 20;

    // Either dialect: a document with "clkConfig" and "features" is read as a clkhash schema.
    static Schema from_json(const std::string& json_text, const std::string& origin = "schema");
    static Schema from_file(const std::string& path);

    SchemaDialect dialect() const noexcept { return clkhash_ ? SchemaDialect::clkhash : SchemaDialect::pprl; }
    // The clkhash model when dialect() is clkhash, else null.
    const clkhash::Schema* clkhash() const noexcept { return clkhash_.get(); }
    // Things worth a warning about how the schema was read (clkhash quirks that applied).
    const std::vector<std::string>& notes() const noexcept { return notes_; }

    // Length of the encodings (after hardening).
    unsigned bits() const noexcept { return bits_; }
    // Length of the Bloom filter the tokens are hashed into (before hardening).
    unsigned filter_bits() const noexcept { return filter_bits_; }
    const std::vector<HardeningStep>& hardening() const noexcept { return hardening_; }
    // The field-segmented layout, empty for a record-level filter (every field in the whole filter).
    const std::vector<SegmentSpec>& segments() const noexcept { return segments_; }
    // The layout as the hub sees it (pprl/wire.hpp): each segment's first bit and length.
    Layout layout() const;
    HashingScheme hashing() const noexcept { return hashing_; }
    // Empty for a clkhash schema not told otherwise: the first column if its feature is ignored
    // (clkhash's own convention), else the data row number.
    const std::string& id_column() const noexcept { return id_column_; }
    // The id column's name does not change any encoding, so it is outside the fingerprint and may
    // be overridden per input file. (With a clkhash schema it may name a feature's column.)
    void set_id_column(const std::string& name);
    // The columns of a CSV without a header row, in schema order: a clkhash schema's features as
    // listed (clkhash's header=False); for a pprl schema the id column, then every field.
    std::vector<std::string> column_order() const;
    // The fields (for a clkhash schema: its features, with only name and ignored set).
    const std::vector<FieldSpec>& fields() const noexcept { return fields_; }
    const Fingerprint& fingerprint() const noexcept { return fingerprint_; }
    // The canonical JSON the fingerprint is computed over.
    const std::string& canonical_json() const noexcept { return canonical_; }

private:
    static Schema from_clkhash_json(const std::string& json_text, const std::string& origin);

    unsigned bits_ = 1024;
    unsigned filter_bits_ = 1024;
    std::vector<HardeningStep> hardening_;
    std::vector<SegmentSpec> segments_;
    HashingScheme hashing_ = HashingScheme::hmac_sha256_random;
    std::string id_column_ = "record_id";
    std::vector<FieldSpec> fields_;
    Fingerprint fingerprint_{};
    std::string canonical_;
    std::shared_ptr<const clkhash::Schema> clkhash_;
    std::vector<std::string> notes_;
};

}  // namespace pprl
