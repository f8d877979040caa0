// clkhash/convert.cpp — a pprl schema for the columns of a clkhash linkage schema.
//
// Each hashed feature keeps its column, its n-grams (or exact tokens) and its bits per token or per
// feature; what pprl adds is normalisation before tokenising (a clkhash schema hashes "JOSÉ" and
// "jose" apart), its checked types, and its keyed hashing. What has no pprl equivalent is dropped
// or approximated, and each such change is reported, so the result is a starting point to review,
// not a silent translation.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "clkhash/clkhash.hpp"
#include "pprl/normalize.hpp"
#include "pprl/schema.hpp"

namespace pprl {
namespace {

using json = nlohmann::ordered_json;

// pprl's limits (src/agency/schema.cpp): q-grams up to 8, 256 bits per token, 4096 code points.
constexpr unsigned max_q = 8;
constexpr unsigned max_bits_per_token = 256;
constexpr std::uint64_t max_field_length = 4096;

// Does pprl's date type read this strptime format (%Y, %m and %d once each, literal characters)?
bool pprl_date_format(const std::string& format) {
    int year = 0, month = 0, day = 0;
    for (std::size_t i = 0; i < format.size(); ++i) {
        if (format[i] != '%') continue;
        if (i + 1 >= format.size()) return false;
        const char directive = format[++i];
        if (directive == 'Y') ++year;
        else if (directive == 'm') ++month;
        else if (directive == 'd') ++day;
        else return false;
    }
    return year == 1 && month == 1 && day == 1;
}

// Does the format put two directives side by side ("%Y%m%d"), where an unpadded value is ambiguous?
bool adjacent_directives(const std::string& format) {
    return format.find("%Y%m") != std::string::npos || format.find("%m%d") != std::string::npos ||
           format.find("%d%m") != std::string::npos || format.find("%m%Y") != std::string::npos ||
           format.find("%d%Y") != std::string::npos || format.find("%Y%d") != std::string::npos;
}

// A decimal integer bound as a 64-bit value, if it fits.
bool int64_bound(const std::string& text, long long& out) {
    errno = 0;
    char* end = nullptr;
    out = std::strtoll(text.c_str(), &end, 10);
    return errno == 0 && end != text.c_str() && *end == '\0';
}

class Converter {
public:
    explicit Converter(std::vector<std::string>& changes) : changes_(changes) {}

    json field(const clkhash::Feature& f, std::size_t index) {
        where_ = "/features/" + std::to_string(index) + " (" + f.identifier + ")";
        json out;
        out["name"] = f.identifier;
        switch (f.format) {
            case clkhash::Format::string: string_rules(f, out); break;
            case clkhash::Format::integer: integer_rules(f, out); break;
            case clkhash::Format::date: date_rules(f, out); break;
            case clkhash::Format::enumeration: enum_rules(f, out); break;
        }
        out["tokenizer"] = tokenizer(f);
        out["weight"] = weight(f);
        if (f.missing_sentinel) out["missing"] = missing(f);
        return out;
    }

private:
    void change(const std::string& what) { changes_.push_back(where_ + ": " + what); }

    void string_rules(const clkhash::Feature& f, json& out) {
        out["type"] = "string";
        out["normalize"] = {{"case_fold", true}, {"strip_accents", true}, {"punctuation", "remove"}, {"whitespace", "collapse"}};
        const std::uint64_t length = std::min<std::uint64_t>(f.max_length.value_or(128), max_field_length);
        out["max_length"] = length;
        if (f.max_length && *f.max_length > max_field_length)
            change("maxLength " + std::to_string(*f.max_length) + " is capped at pprl's 4096 code points");
        if (f.pattern) change("the pattern is dropped (pprl checks types, not patterns): values it refused are encoded");
        if (f.min_length) change("minLength is dropped: shorter values are encoded");
        if (f.letter_case != clkhash::Case::mixed)
            change("the case rule is dropped: values are case-folded, so case no longer rejects a row");
        if (f.encoding == clkhash::TextEncoding::ascii) change("non-ASCII values are encoded instead of rejected");
        if (f.encoding == clkhash::TextEncoding::utf16 || f.encoding == clkhash::TextEncoding::utf32)
            change("tokens are hashed as UTF-8 (pprl has no UTF-16/32 encoding)");
    }

    void integer_rules(const clkhash::Feature& f, json& out) {
        out["type"] = "integer";
        change("integers are read as decimal digits with an optional sign (spaces dropped): other forms Python's "
               "int() reads, such as 1_000, reject their row");
        long long bound = 0;
        if (f.minimum) {
            if (int64_bound(*f.minimum, bound)) out["min"] = bound;
            else change("the minimum is beyond 64 bits and dropped");
        }
        if (f.maximum) {
            if (int64_bound(*f.maximum, bound)) out["max"] = bound;
            else change("the maximum is beyond 64 bits and dropped");
        }
    }

    void date_rules(const clkhash::Feature& f, json& out) {
        if (pprl_date_format(f.date_format)) {
            out["type"] = "date";
            out["formats"] = {f.date_format};
            change("dates are read with the format, checked against the calendar (an impossible date rejects its "
                   "row) and tokenised as YYYY-MM-DD");
            if (adjacent_directives(f.date_format))
                change("with no separator between fields, month and day must be two digits: an unpadded date such as "
                       "1967423, which clkhash reads as 1967-04-23, rejects its row");
            return;
        }
        out["type"] = "string";
        out["normalize"] = {{"case_fold", true}, {"strip_accents", true}, {"punctuation", "keep"}, {"whitespace", "collapse"}};
        change("the date format \"" + f.date_format +
               "\" uses directives pprl's date type does not read (it takes %Y, %m and %d): encoded as text, "
               "unchecked");
    }

    void enum_rules(const clkhash::Feature& f, json& out) {
        out["type"] = "enum";
        // pprl compares an enumeration's normalised value with the listed values: list them normalised.
        std::vector<std::string> values;
        for (const std::string& value : f.enum_values) {
            std::string folded;
            if (!normalize(value, NormalizeOptions{}, folded)) folded = value;
            if (std::find(values.begin(), values.end(), folded) == values.end()) values.push_back(folded);
        }
        std::sort(values.begin(), values.end());
        if (values.size() < f.enum_values.size())
            change("values that differ only in case, accents or punctuation become one value");
        out["values"] = values;
        change("values are matched after normalisation (case-folded), so \"F\" and \"f\" are the same value");
    }

    json tokenizer(const clkhash::Feature& f) {
        switch (f.comparison) {
            case clkhash::Comparison::ngram: {
                unsigned q = f.n;
                if (q > max_q) {
                    change(std::to_string(f.n) + "-grams become 8-grams (pprl's largest q)");
                    q = max_q;
                }
                json out = {{"kind", f.positional ? "positional_qgram" : "qgram"}, {"q", q}};
                if (!f.positional) out["padding"] = q > 1;
                return out;
            }
            case clkhash::Comparison::exact:
                return {{"kind", "exact"}};
            case clkhash::Comparison::numeric:
                change("the numeric comparison (thresholdDistance) has no pprl equivalent: values are compared exactly");
                return {{"kind", "exact"}};
        }
        return {};
    }

    json weight(const clkhash::Feature& f) {
        if (f.bits_per_feature) return {{"bits_per_feature", std::min<unsigned>(f.bits, max_filter_bits)}};
        if (f.bits > max_bits_per_token) change("bitsPerToken " + std::to_string(f.bits) + " is capped at 256");
        return {{"bits_per_token", std::min(f.bits, max_bits_per_token)}};
    }

    // A missing value sets no bits in pprl, so two missing values do not agree; clkhash hashes the
    // sentinel itself, or its replacement (which its type checks never see: "0000" for a postcode of
    // at least 200 passes in clkhash, and would reject the row in pprl's checked types).
    json missing(const clkhash::Feature& f) {
        const std::string& sentinel = *f.missing_sentinel;
        if (f.missing_replacement != sentinel)
            change("the sentinel \"" + sentinel + "\" means missing and sets no bits (clkhash hashes its replacement \"" +
                   f.missing_replacement + "\", so two missing values agree there)");
        else if (!sentinel.empty())
            change("the sentinel \"" + sentinel + "\" means missing and sets no bits (clkhash hashes the sentinel itself)");
        return {{"values", {sentinel}}, {"action", "skip"}};
    }

    std::vector<std::string>& changes_;
    std::string where_;
};

}  // namespace

SchemaConversion convert_clkhash_schema(const std::string& clkhash_json, const std::string& origin) {
    const clkhash::Schema source = clkhash::parse_schema(clkhash_json, origin);
    SchemaConversion result;
    std::vector<std::string>& changes = result.changes;
    changes.push_back("hashing: HMAC-SHA-256 under a pprl key (pprl keygen) replaces clkhash's secret, HKDF and "
                      "doubleHash/blakeHash, so the CLKs differ from clkhash's: every partner encodes with this "
                      "schema and the same key");
    changes.push_back("string values are normalised before tokenising (Unicode NFKC, case folded, accents stripped, "
                      "punctuation removed, whitespace collapsed); clkhash hashes them exactly as written");
    json schema;
    schema["pprl_schema"] = 1;
    schema["description"] = "Converted from the clkhash linkage schema " + origin +
                            " by pprl schema convert: same columns, tokens and bits, with pprl's normalisation and "
                            "keyed hashing.";
    // Filter length: pprl filters are whole 64-bit words; folding maps to xor_fold hardening steps.
    json filter;
    unsigned bits = source.l;
    json hardening = json::array();
    if (source.xor_folds > 0 && source.l % 64 == 0) {
        bits = source.hash_bits();
        for (unsigned i = 0; i < source.xor_folds; ++i) hardening.push_back({{"step", "xor_fold"}});
    } else if (source.xor_folds > 0) {
        changes.push_back("xor_folds is dropped: the folded length " + std::to_string(source.l) +
                          " is not a multiple of 64, which pprl's folding step needs");
    }
    if (bits % 64 != 0) {
        const unsigned rounded = (bits + 63) / 64 * 64;
        changes.push_back("l = " + std::to_string(bits) + " becomes " + std::to_string(rounded) +
                          " bits (pprl's own schemas use whole 64-bit words)");
        bits = rounded;
    }
    filter["bits"] = bits;
    filter["hashing"] = "hmac-sha256-random";
    if (!hardening.empty()) filter["hardening"] = hardening;
    schema["filter"] = filter;

    // Columns: clkhash's first ignored feature holds the record ids (its own convention).
    const auto& features = source.features;
    std::size_t first = 0;
    if (!features.empty() && features[0].ignored) {
        schema["id_column"] = features[0].identifier;
        first = 1;
    } else {
        schema["id_column"] = "record_id";
        changes.push_back("id_column: the clkhash schema has no ignored first column, so record ids were row numbers; "
                          "pprl reads them from a \"record_id\" column (rename it in the schema or the CSV)");
    }
    Converter converter(changes);
    json fields = json::array();
    for (std::size_t i = first; i < features.size(); ++i) {
        if (features[i].ignored) fields.push_back({{"name", features[i].identifier}, {"ignore", true}});
        else fields.push_back(converter.field(features[i], i));
    }
    schema["fields"] = fields;
    result.pprl_json = schema.dump(2) + "\n";
    Schema::from_json(result.pprl_json, "the converted schema");  // what is written must parse
    return result;
}

}  // namespace pprl
