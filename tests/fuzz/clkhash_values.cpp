// Fuzz target: clkhash value formats and comparisons (patterns, strptime dates, Python int() and
// float(), numeric neighbourhoods, n-grams in every text encoding). The input is split at tabs
// into one value per feature of a fixed schema.
#include <vector>

#include "fuzz_target.hpp"
#include "pprl/encode.hpp"

namespace {
const char schema_json[] = R"({"version": 3,
  "clkConfig": {"l": 1024, "kdf": {"type": "HKDF", "hash": "SHA256", "keySize": 64}},
  "features": [
    {"identifier": "id", "ignored": true},
    {"identifier": "name", "format": {"type": "string", "encoding": "utf-8", "pattern": "[^0-9]*[a-zA-Z\u00e4-\u00ff \\w-]+"},
     "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 20}, "hash": {"type": "blakeHash"}}},
    {"identifier": "code", "format": {"type": "string", "encoding": "ascii", "case": "upper", "minLength": 1, "maxLength": 40},
     "hashing": {"comparison": {"type": "ngram", "n": 3, "positional": true}, "strategy": {"bitsPerFeature": 90},
                 "hash": {"type": "doubleHash", "prevent_singularity": true}}},
    {"identifier": "dob", "format": {"type": "date", "format": "%d %B %y"},
     "hashing": {"comparison": {"type": "exact"}, "strategy": {"bitsPerToken": 30}, "hash": {"type": "blakeHash"}}},
    {"identifier": "age", "format": {"type": "integer", "minimum": -1000, "maximum": 99999999999},
     "hashing": {"comparison": {"type": "numeric", "thresholdDistance": 2.5, "resolution": 3, "fractional_precision": 2},
                 "strategy": {"bitsPerToken": 10}, "hash": {"type": "blakeHash"},
                 "missingValue": {"sentinel": "N/A", "replaceWith": "0"}}},
    {"identifier": "wide", "format": {"type": "string", "encoding": "utf-16"},
     "hashing": {"comparison": {"type": "ngram", "n": 1}, "strategy": {"bitsPerToken": 5}, "hash": {"type": "blakeHash"}}},
    {"identifier": "kind", "format": {"type": "enum", "values": ["a", "b", "c"]},
     "hashing": {"comparison": {"type": "exact"}, "strategy": {"bitsPerToken": 7}, "hash": {"type": "doubleHash"}}}]})";
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const pprl::Schema schema = pprl::Schema::from_json(schema_json);
    static const std::uint8_t raw[] = {'s', 'e', 'c', 'r', 'e', 't'};
    static const pprl::SecretKey key(raw, sizeof raw);
    static pprl::Encoder encoder = [] {
        pprl::Encoder e(schema, key);
        e.bind_columns({"id", "name", "code", "dob", "age", "wide", "kind"});
        return e;
    }();
    std::vector<std::string> values(7);
    std::size_t field = 1;
    for (std::size_t i = 0; i < size; ++i) {
        if (data[i] == '\t' && field + 1 < values.size()) ++field;
        else values[field].push_back(static_cast<char>(data[i]));
    }
    values[0] = "1";
    pprl::fuzz::refusal_allowed([&] {
        pprl::FilterMatrix one(1, schema.bits());
        pprl::Rejection why;
        std::uint64_t tokens = 0, invalid = 0;
        encoder.encode_record(values, one.mutable_row_words(0), why, tokens, invalid);
    });
    return 0;
}
