// agency/values.hpp — a field's raw text to the value that is tokenised.
//
// normalise (pprl/normalize.hpp) → missing-value rule → parse and check the type (dates to
// YYYY-MM-DD, integers to their decimal form, enumerations through their aliases) → length limit.
// A row whose value fails is rejected with a reason that never contains the value. The schema's
// own missing values, replacement and aliases are normalised once, when the encoder is built.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "crypto/wiped.hpp"
#include "pprl/schema.hpp"

namespace pprl {

// A raw value longer than this many bytes per allowed code point is rejected before normalisation
// (a UTF-8 code point is at most 4 bytes; NFKC can shrink text, so allow generous slack).
constexpr std::size_t raw_bytes_per_code_point = 8;

// A field's value rules with the schema's configured strings normalised.
struct FieldValueRule {
    // Throws ValidationError if a configured value is not valid UTF-8.
    explicit FieldValueRule(const FieldSpec& spec);

    const FieldSpec* spec;
    std::vector<std::string> missing_values;     // normalised
    std::string replacement;                     // normalised
    std::map<std::string, std::string, std::less<>> aliases;  // normalised alias → value
};

enum class ValueOutcome { encode, skip, reject };

// Scratch for one value: the normalised text and its canonical form.
struct ValueScratch {
    WipedString normalised, canonical;
};

// The value of `raw` under `rule`. On encode, `encoded` points at the text to tokenise (inside
// `scratch` or the rule's replacement); on reject, `reason` says why (never the value). A value that
// does not parse and that the schema treats as missing adds one to `invalid_fields`.
ValueOutcome field_value(const FieldValueRule& rule, const std::string& raw, ValueScratch& scratch,
                         std::string_view& encoded, std::string& reason, std::uint64_t& invalid_fields);

}  // namespace pprl
