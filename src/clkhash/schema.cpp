// src/clkhash_schema.cpp — reading clkhash linkage schemas (v1, v2, v3) into clkhash::Schema.
//
// clkhash validates a schema against its JSON master schema, upgrades v1 → v2 → v3 and then reads
// it. pprl reads each version directly into the v3 model with the same upgrade rules (v1: per-feature
// k = round(weight · k) with Python's round-half-even, weight 0 = ignored, the global hash for every
// feature; v2: k → bitsPerToken, numBits → bitsPerFeature, ngram/positional → an ngram comparison).
// Keys are handled as clkhash 0.18.3 handles them: in the objects its master schemas close
// (formats, hashing, strategy, ignored features) an unknown key is refused, as clkhash refuses it; in
// the open ones (the top level, clkConfig, kdf, a feature, comparison, hash, missingValue) clkhash's
// validation lets it through and nothing reads it, so it cannot change a CLK: pprl accepts it and
// records a note naming it.
#include "clkhash/clkhash.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <set>

#include "pprl/error.hpp"
#include "format/base64.hpp"
#include "clkhash/internal.hpp"
#include "agency/json_reader.hpp"

namespace pprl::clkhash {
namespace {

using detail::json;
using detail::name_of;
using detail::ObjectReader;
using detail::json_integer;
using detail::parse_json_document;

// The names clkhash's schemas use, for reading and for the canonical form alike.
const std::vector<std::pair<std::string, crypto::HkdfHash>> kdf_hashes = {{"SHA256", crypto::HkdfHash::sha256},
                                                                          {"SHA512", crypto::HkdfHash::sha512}};
const std::vector<std::pair<std::string, HashType>> hash_types = {{"blakeHash", HashType::blake},
                                                                  {"doubleHash", HashType::double_hash}};
const std::vector<std::pair<std::string, Format>> formats = {
    {"string", Format::string}, {"integer", Format::integer}, {"date", Format::date}, {"enum", Format::enumeration}};
const std::vector<std::pair<std::string, TextEncoding>> encodings = {
    {"ascii", TextEncoding::ascii}, {"utf-8", TextEncoding::utf8}, {"utf-16", TextEncoding::utf16},
    {"utf-32", TextEncoding::utf32}};
const std::vector<std::pair<std::string, Case>> cases = {
    {"mixed", Case::mixed}, {"upper", Case::upper}, {"lower", Case::lower}};
const std::vector<std::pair<std::string, Comparison>> comparisons = {
    {"ngram", Comparison::ngram}, {"exact", Comparison::exact}, {"numeric", Comparison::numeric}};

constexpr const char* unknown_option = "not a key clkhash allows here (clkhash refuses the schema too)";

// Finishes an object that clkhash's master schema leaves open: each unknown key becomes a note.
void finish_open(const ObjectReader& reader, std::vector<std::string>& notes) {
    for (const std::string& pointer : reader.unread())
        notes.push_back(pointer + " is ignored, as clkhash ignores it (no setting of that name here; it cannot "
                                  "change the CLKs)");
}
// Largest pre-folding filter pprl builds per record (bits).
constexpr unsigned max_hash_bits = 1u << 20;

std::int64_t integer_at(ObjectReader& reader, const std::string& key, std::int64_t low, std::int64_t high) {
    std::int64_t number = 0;
    if (!json_integer(reader.get(key), number) || number < low || number > high)
        reader.fail(key, "an integer from " + std::to_string(low) + " to " + std::to_string(high));
    return number;
}

// An integer-valued JSON number ("number" in the v2 master schema, so 20.0 is 20).
std::int64_t whole_number_at(ObjectReader& reader, const std::string& key, std::int64_t low, std::int64_t high) {
    const json& value = reader.get(key);
    double number = 0;
    std::int64_t integer = 0;
    if (json_integer(value, integer)) number = static_cast<double>(integer);
    else if (value.is_number_float()) number = value.get<double>();
    else reader.fail(key, "a number in range");
    if (number != std::floor(number) || number < static_cast<double>(low) || number > static_cast<double>(high))
        reader.fail(key, "a whole number from " + std::to_string(low) + " to " + std::to_string(high));
    return static_cast<std::int64_t>(number);
}

std::string base64_bytes(ObjectReader& reader, const std::string& key) {
    const json& value = reader.get(key);
    if (!value.is_string()) reader.fail(key, "a base64 string");
    try {
        return base64_decode(value.get<std::string>());
    } catch (const ValidationError&) {
        reader.fail(key, "standard base64 with padding");
    }
}

void read_kdf(ObjectReader& config, Schema& schema) {
    if (!config.has("kdf")) config.fail("kdf", "a key derivation object ({\"type\": \"HKDF\", ...})");
    ObjectReader kdf(config.get("kdf"), config.at("kdf"), config.origin());
    if (kdf.string_or("type", "") != "HKDF") kdf.fail("type", "\"HKDF\" (the only KDF clkhash supports)");
    schema.kdf_hash = kdf.choice("hash", crypto::HkdfHash::sha256, kdf_hashes);
    if (kdf.has("salt")) schema.kdf_salt = base64_bytes(kdf, "salt");
    if (kdf.has("info")) schema.kdf_info = base64_bytes(kdf, "info");
    if (kdf.has("keySize")) schema.key_size = static_cast<std::size_t>(integer_at(kdf, "keySize", 1, 4096));
    finish_open(kdf, schema.notes);
}

// l and the folds. clkhash's master schemas document "xorFolds", but clkhash reads "xor_folds" and
// never looks at "xorFolds": pprl does the same and records a note when "xorFolds" is present.
void read_filter(ObjectReader& config, Schema& schema) {
    if (!config.has("l")) config.fail("l", "the CLK length in bits");
    const auto l = integer_at(config, "l", 1, 1 << 30);
    if (l > 65536) config.fail("l", "at most 65536 bits");
    schema.l = static_cast<unsigned>(l);
    if (config.has("xor_folds")) schema.xor_folds = static_cast<unsigned>(integer_at(config, "xor_folds", 0, 20));
    if (config.has("xorFolds")) {
        integer_at(config, "xorFolds", 0, 1 << 30);
        schema.notes.push_back(config.at("xorFolds") +
                               " is ignored, as clkhash ignores it (clkhash folds only with \"xor_folds\")");
    }
    if (static_cast<std::uint64_t>(schema.l) << schema.xor_folds > max_hash_bits)
        config.fail("xor_folds", "l · 2^xor_folds of at most 2^20 bits");
}

void read_hash(ObjectReader& reader, const std::string& key, Feature& feature, std::vector<std::string>& notes) {
    ObjectReader hash(reader.get(key), reader.at(key), reader.origin());
    feature.hash = hash.choice("type", HashType::blake, hash_types);
    if (!hash.has("type")) hash.fail("type", "\"blakeHash\" or \"doubleHash\"");
    if (hash.has("prevent_singularity")) {
        if (feature.hash != HashType::double_hash)
            hash.fail("prevent_singularity", "no prevent_singularity with blakeHash (clkhash refuses it)");
        feature.prevent_singularity = hash.bool_or("prevent_singularity", false);
    }
    finish_open(hash, notes);
}

void read_missing(ObjectReader& reader, Feature& feature, std::vector<std::string>& notes) {
    ObjectReader missing(reader.get("missingValue"), reader.at("missingValue"), reader.origin());
    if (!missing.has("sentinel") || !missing.get("sentinel").is_string()) missing.fail("sentinel", "a string");
    feature.missing_sentinel = missing.get("sentinel").get<std::string>();
    feature.missing_replacement = missing.string_or("replaceWith", *feature.missing_sentinel);
    finish_open(missing, notes);
}

// Python re syntax that pprl cannot reproduce exactly is refused: Python-only constructs here, the
// rest where the pattern is carried over to RE2 (clkhash/pattern.cpp).
void check_pattern(ObjectReader& format, const std::string& pattern) {
    static const char* const python_only[] = {"(?P", "(?<", "(?#", "(?a", "(?i", "(?L", "(?m", "(?s", "(?u",
                                              "(?x", "(?-", "\\A", "\\Z", "[:", "*+", "++", "?+", "}+"};
    for (const char* construct : python_only)
        if (pattern.find(construct) != std::string::npos)
            format.fail("pattern", std::string("a regular expression without \"") + construct +
                                       "\" (Python-only syntax that pprl cannot reproduce exactly)");
    try {
        const Pattern compiled(pattern);
    } catch (const ValidationError& problem) {
        format.fail("pattern", problem.what());
    }
}

void read_format(ObjectReader& node, Feature& feature) {
    if (!node.has("format")) node.fail("format", "a format object");
    ObjectReader format(node.get("format"), node.at("format"), node.origin());
    feature.format = format.choice("type", Format::string, formats);
    if (!format.has("type")) format.fail("type", "\"string\", \"integer\", \"date\" or \"enum\"");
    format.string_or("description", "");
    switch (feature.format) {
        case Format::string:
            feature.encoding = format.choice("encoding", TextEncoding::utf8, encodings);
            if (format.has("pattern")) {
                const json& pattern = format.get("pattern");
                if (!pattern.is_string()) format.fail("pattern", "a regular expression");
                for (const char* key : {"case", "minLength", "maxLength"})
                    if (format.has(key)) format.fail(key, "no case or length limits beside a pattern (clkhash's master schema)");
                feature.pattern = pattern.get<std::string>();
                check_pattern(format, *feature.pattern);
            } else {
                feature.letter_case = format.choice("case", Case::mixed, cases);
                if (format.has("minLength")) feature.min_length = integer_at(format, "minLength", 0, INT64_MAX);
                if (format.has("maxLength")) feature.max_length = integer_at(format, "maxLength", 1, INT64_MAX);
            }
            break;
        case Format::integer:
            for (const char* key : {"minimum", "maximum"}) {
                if (!format.has(key)) continue;
                const json& bound = format.get(key);
                if (!bound.is_number_integer()) format.fail(key, "an integer");
                (std::string(key) == "minimum" ? feature.minimum : feature.maximum) = bound.dump();
            }
            break;
        case Format::date: {
            if (!format.has("format") || !format.get("format").is_string())
                format.fail("format", "a strptime format such as \"%Y-%m-%d\"");
            feature.date_format = format.get("format").get<std::string>();
            std::string problem;
            if (!DateParser::check(feature.date_format, problem)) format.fail("format", problem);
            break;
        }
        case Format::enumeration:
            if (!format.has("values")) format.fail("values", "an array of strings");
            feature.enum_values = format.strings("values", true);
            break;
    }
    format.finish(unknown_option);
}

void read_comparison(ObjectReader& hashing, Feature& feature, std::vector<std::string>& notes) {
    ObjectReader comparison(hashing.get("comparison"), hashing.at("comparison"), hashing.origin());
    feature.comparison = comparison.choice("type", Comparison::ngram, comparisons);
    if (!comparison.has("type")) comparison.fail("type", "\"ngram\", \"exact\" or \"numeric\"");
    switch (feature.comparison) {
        case Comparison::ngram:
            if (!comparison.has("n")) comparison.fail("n", "the n of the n-grams");
            feature.n = static_cast<unsigned>(integer_at(comparison, "n", 1, 64));
            feature.positional = comparison.bool_or("positional", false);
            break;
        case Comparison::exact:
            break;
        case Comparison::numeric: {
            if (!comparison.has("thresholdDistance")) comparison.fail("thresholdDistance", "a positive number");
            const json& distance = comparison.get("thresholdDistance");
            if (distance.is_number_integer()) {
                feature.threshold_is_integer = true;
                if (!json_integer(distance, feature.threshold_integer) || feature.threshold_integer <= 0)
                    comparison.fail("thresholdDistance", "a positive number below 2^63");
            } else if (distance.is_number_float()) {
                feature.threshold_is_integer = false;
                feature.threshold_float = distance.get<double>();
                if (!(feature.threshold_float > 0) || !std::isfinite(feature.threshold_float))
                    comparison.fail("thresholdDistance", "a positive number");
            } else {
                comparison.fail("thresholdDistance", "a positive number");
            }
            if (!comparison.has("resolution")) comparison.fail("resolution", "an integer ≥ 1");
            feature.resolution = static_cast<unsigned>(integer_at(comparison, "resolution", 1, 1 << 16));
            if (comparison.has("fractional_precision"))
                feature.fractional_precision = static_cast<unsigned>(integer_at(comparison, "fractional_precision", 0, 300));
            if (!numeric_interval_valid(feature))
                comparison.fail("thresholdDistance",
                                "a distance that is not 0 at this fractional_precision (clkhash refuses it too)");
            break;
        }
    }
    finish_open(comparison, notes);
}

void read_strategy(ObjectReader& hashing, const std::string& key, Feature& feature, bool v2) {
    ObjectReader strategy(hashing.get(key), hashing.at(key), hashing.origin());
    const char* per_token = v2 ? "k" : "bitsPerToken";
    const char* per_feature = v2 ? "numBits" : "bitsPerFeature";
    const bool token = strategy.has(per_token), whole = strategy.has(per_feature);
    if (token == whole)
        strategy.fail("", std::string("exactly one of \"") + per_token + "\" and \"" + per_feature + "\"");
    feature.bits_per_feature = whole;
    const char* name = whole ? per_feature : per_token;
    feature.bits = static_cast<unsigned>(v2 ? whole_number_at(strategy, name, 1, 1 << 20)
                                            : integer_at(strategy, name, 1, 1 << 20));
    strategy.finish(unknown_option);
}

Feature read_feature(const json& node, std::size_t index, int version, const std::string& origin,
                     const json* v1_config, std::vector<std::string>& notes) {
    ObjectReader reader(node, "/features/" + std::to_string(index), origin);
    Feature feature;
    if (!reader.has("identifier") || !reader.get("identifier").is_string())
        reader.fail("identifier", "the column name");
    feature.identifier = reader.get("identifier").get<std::string>();
    reader.string_or("description", "");
    feature.ignored = reader.bool_or("ignored", false);
    if (feature.ignored) {
        // clkhash ignores everything else about an ignored feature (v3 allows format and hashing
        // beside "ignored": true); so does pprl, after checking there is nothing unknown.
        if (reader.has("format")) read_format(reader, feature);
        reader.has("hashing");
        reader.finish(unknown_option);
        feature.ignored = true;
        return feature;
    }
    read_format(reader, feature);
    if (!reader.has("hashing")) reader.fail("hashing", "a hashing object");
    ObjectReader hashing(reader.get("hashing"), reader.at("hashing"), origin);
    if (version == 3) {
        if (!hashing.has("comparison")) hashing.fail("comparison", "a comparison object");
        read_comparison(hashing, feature, notes);
        if (!hashing.has("strategy")) hashing.fail("strategy", "a strategy object");
        read_strategy(hashing, "strategy", feature, false);
        if (hashing.has("hash")) read_hash(hashing, "hash", feature, notes);
    } else {
        if (!hashing.has("ngram")) hashing.fail("ngram", "the n of the n-grams");
        feature.comparison = Comparison::ngram;
        feature.n = static_cast<unsigned>(integer_at(hashing, "ngram", 1, 64));
        feature.positional = hashing.bool_or("positional", false);
        if (version == 2) {
            if (!hashing.has("strategy")) hashing.fail("strategy", "a strategy object");
            read_strategy(hashing, "strategy", feature, true);
            if (hashing.has("hash")) read_hash(hashing, "hash", feature, notes);
        } else {
            // v1: k from the global k and the feature's weight; the global hash.
            double weight = 1.0;
            if (hashing.has("weight")) {
                const json& w = hashing.get("weight");
                if (!w.is_number() || w.get<double>() < 0) hashing.fail("weight", "a number ≥ 0");
                weight = w.get<double>();
            }
            const double k = static_cast<double>((*v1_config)["k"].get<std::int64_t>());
            const double rounded = std::nearbyint(weight * k);  // Python round(): half to even
            if (weight == 0) {
                hashing.has("missingValue");
                finish_open(hashing, notes);  // clkhash drops the whole hashing object of a weight-0 feature
                finish_open(reader, notes);
                feature = Feature{};
                feature.identifier = node["identifier"].get<std::string>();
                feature.ignored = true;
                return feature;
            }
            if (rounded < 1 || rounded > (1 << 20))
                hashing.fail("weight", "a weight for which round(weight · k) is at least 1");
            feature.bits = static_cast<unsigned>(rounded);
            ObjectReader config(*v1_config, "/clkConfig", origin);
            std::vector<std::string> noted_once;  // the global hash's notes come from parse_schema
            read_hash(config, "hash", feature, noted_once);
        }
    }
    if (hashing.has("missingValue")) read_missing(hashing, feature, notes);
    hashing.finish(unknown_option);
    finish_open(reader, notes);
    return feature;
}

json canonical_feature(const Feature& f) {
    json out;
    out["identifier"] = f.identifier;
    if (f.ignored) {
        out["ignored"] = true;
        return out;
    }
    json format;
    format["type"] = name_of(formats, f.format);
    format["encoding"] = name_of(encodings, f.encoding);
    if (f.pattern) format["pattern"] = *f.pattern;
    format["case"] = name_of(cases, f.letter_case);
    if (f.min_length) format["minLength"] = *f.min_length;
    if (f.max_length) format["maxLength"] = *f.max_length;
    if (f.minimum) format["minimum"] = *f.minimum;
    if (f.maximum) format["maximum"] = *f.maximum;
    if (f.format == Format::date) format["format"] = f.date_format;
    if (f.format == Format::enumeration) format["values"] = std::set<std::string>(f.enum_values.begin(), f.enum_values.end());
    out["format"] = format;
    json comparison;
    comparison["type"] = name_of(comparisons, f.comparison);
    if (f.comparison == Comparison::ngram) {
        comparison["n"] = f.n;
        comparison["positional"] = f.positional;
    }
    if (f.comparison == Comparison::numeric) {
        if (f.threshold_is_integer) comparison["thresholdDistance"] = f.threshold_integer;
        else comparison["thresholdDistance"] = f.threshold_float;
        comparison["resolution"] = f.resolution;
        comparison["fractional_precision"] = f.fractional_precision;
    }
    json hashing;
    hashing["comparison"] = comparison;
    hashing["strategy"] = {{f.bits_per_feature ? "bitsPerFeature" : "bitsPerToken", f.bits}};
    hashing["hash"] = {{"type", name_of(hash_types, f.hash)}};
    if (f.hash == HashType::double_hash) hashing["hash"]["prevent_singularity"] = f.prevent_singularity;
    if (f.missing_sentinel)
        hashing["missingValue"] = {{"sentinel", *f.missing_sentinel}, {"replaceWith", f.missing_replacement}};
    out["hashing"] = hashing;
    return out;
}

}  // namespace

bool looks_like_clkhash(const std::string& json_text) {
    const json document = json::parse(json_text, nullptr, false);
    return document.is_object() && document.contains("clkConfig") && document.contains("features") &&
           !document.contains("pprl_schema");
}

Schema parse_schema(const std::string& json_text, const std::string& origin) {
    const json document = parse_json_document(json_text, origin);
    ObjectReader top(document, "", origin);
    Schema schema;
    if (!top.has("version")) top.fail("version", "a clkhash schema version (1, 2 or 3)");
    const auto version = whole_number_at(top, "version", 1, 3);
    schema.source_version = static_cast<int>(version);

    if (!top.has("clkConfig")) top.fail("clkConfig", "the clkConfig object");
    const json& config_node = top.get("clkConfig");
    ObjectReader config(config_node, "/clkConfig", origin);
    read_filter(config, schema);
    read_kdf(config, schema);
    if (version == 1) {
        if (!config.has("k")) config.fail("k", "the number of bits per n-gram");
        integer_at(config, "k", 1, 1 << 20);
        if (!config.has("hash")) config.fail("hash", "a hash object");
        Feature probe;  // checked here so a bad hash is reported once, at its own pointer
        read_hash(config, "hash", probe, schema.notes);
    }
    finish_open(config, schema.notes);

    if (!top.has("features") || !top.get("features").is_array()) top.fail("features", "an array of features");
    const json& features = top.get("features");
    finish_open(top, schema.notes);
    std::set<std::string> names;
    bool any_hashed = false, any_blake = false;
    for (std::size_t i = 0; i < features.size(); ++i) {
        Feature feature = read_feature(features[i], i, schema.source_version, origin, &config_node, schema.notes);
        if (!names.insert(feature.identifier).second)
            throw ValidationError(origin + ": /features/" + std::to_string(i) + "/identifier: \"" +
                                  feature.identifier + "\" is used twice");
        any_hashed = any_hashed || !feature.ignored;
        any_blake = any_blake || (!feature.ignored && feature.hash == HashType::blake);
        schema.features.push_back(std::move(feature));
    }
    if (!any_hashed) top.fail("features", "at least one feature that is not ignored");
    const std::size_t digest = schema.kdf_hash == crypto::HkdfHash::sha256 ? 32 : 64;
    if (2 * schema.features.size() * schema.key_size > 255 * digest)
        config.fail("kdf", "2 · features · keySize of at most 255 · the hash length (HKDF's limit)");
    if (any_blake && schema.key_size > 64) config.fail("kdf/keySize", "at most 64 with blakeHash (BLAKE2b's key limit)");
    const unsigned hash_bits = schema.hash_bits();
    if (any_blake && (hash_bits & (hash_bits - 1)) != 0)
        config.fail("l", "a power of two with blakeHash (l · 2^xor_folds; clkhash refuses other lengths)");

    json canonical;
    canonical["clkhash_schema"] = 3;
    canonical["l"] = schema.l;
    canonical["xor_folds"] = schema.xor_folds;
    canonical["kdf"] = {{"hash", name_of(kdf_hashes, schema.kdf_hash)},
                        {"salt", base64_encode(reinterpret_cast<const std::uint8_t*>(schema.kdf_salt.data()), schema.kdf_salt.size())},
                        {"info", base64_encode(reinterpret_cast<const std::uint8_t*>(schema.kdf_info.data()), schema.kdf_info.size())},
                        {"keySize", schema.key_size}};
    canonical["features"] = json::array();
    for (const auto& feature : schema.features) canonical["features"].push_back(canonical_feature(feature));
    schema.canonical_json = canonical.dump();
    return schema;
}

}  // namespace pprl::clkhash
