#include "agency/values.hpp"

#include <algorithm>
#include <cstdio>

#include "agency/tokenize.hpp"
#include "pprl/error.hpp"
#include "pprl/normalize.hpp"

namespace pprl {
namespace {

std::string normalized(const std::string& value, const NormalizeOptions& options) {
    std::string out;
    if (!normalize(value, options, out)) throw ValidationError("a configured value in the schema is not valid UTF-8");
    return out;
}

}  // namespace

FieldValueRule::FieldValueRule(const FieldSpec& field) : spec(&field) {
    for (const auto& value : field.missing.values) missing_values.push_back(normalized(value, field.normalize));
    replacement = normalized(field.missing.replacement, field.normalize);
    for (const auto& [alias, value] : field.enum_aliases)
        aliases[normalized(alias, field.normalize)] = normalized(value, field.normalize);
}

ValueOutcome field_value(const FieldValueRule& rule, const std::string& raw, ValueScratch& scratch,
                         std::string_view& encoded, std::string& reason, std::uint64_t& invalid_fields) {
    const FieldSpec& spec = *rule.spec;
    auto reject = [&](std::string why) {
        reason = std::move(why);
        return ValueOutcome::reject;
    };
    if (raw.size() > spec.max_length * raw_bytes_per_code_point)
        return reject("longer than " + std::to_string(spec.max_length) + " characters");
    WipedString& value = scratch.normalised;
    WipedString& canonical = scratch.canonical;
    if (!normalize(raw, spec.normalize, value)) return reject("not valid UTF-8");
    const std::string_view normalised(value.data(), value.size());
    if (std::find(rule.missing_values.begin(), rule.missing_values.end(), normalised) != rule.missing_values.end()) {
        if (spec.missing.action == MissingAction::skip) return ValueOutcome::skip;
        if (spec.missing.action == MissingAction::reject) return reject("missing value");
        value.assign(rule.replacement.data(), rule.replacement.size());
    }
    encoded = std::string_view(value.data(), value.size());
    const char* invalid = nullptr;  // why the value does not parse as its type
    switch (spec.type) {
        case FieldType::string:
            break;
        case FieldType::date: {
            bool parsed = false;
            for (const auto& format : spec.date_formats)
                if ((parsed = parse_date(encoded, format, canonical))) break;
            if (!parsed) invalid = "not a valid date in the schema's formats";
            encoded = std::string_view(canonical.data(), canonical.size());
            break;
        }
        case FieldType::integer: {
            std::int64_t number = 0;
            if (!parse_integer(encoded, number)) invalid = "not an integer";
            else if (number < spec.min_value || number > spec.max_value) invalid = "integer out of range";
            char digits[24];
            const int length = std::snprintf(digits, sizeof digits, "%lld", static_cast<long long>(number));
            canonical.assign(digits, static_cast<std::size_t>(length));
            secure_wipe(digits, sizeof digits);
            encoded = std::string_view(canonical.data(), canonical.size());
            break;
        }
        case FieldType::enumeration: {
            auto alias = rule.aliases.find(encoded);
            if (alias != rule.aliases.end()) canonical.assign(alias->second.data(), alias->second.size());
            else canonical.assign(encoded.data(), encoded.size());
            const std::string_view chosen(canonical.data(), canonical.size());
            bool allowed = false;
            for (const auto& option : spec.enum_values) allowed = allowed || option == chosen;
            if (!allowed) invalid = "not one of the allowed values";
            encoded = chosen;
            break;
        }
    }
    if (invalid != nullptr) {
        if (!spec.invalid_as_missing) return reject(invalid);
        // The schema asked for invalid values to count as missing: the row is kept, the summary
        // counts the field, and the missing-value rule decides.
        ++invalid_fields;
        if (spec.missing.action == MissingAction::skip) return ValueOutcome::skip;
        if (spec.missing.action == MissingAction::reject) return reject(std::string(invalid) + " (treated as missing)");
        encoded = rule.replacement;
    }
    if (count_code_points(encoded) > spec.max_length)
        return reject("longer than " + std::to_string(spec.max_length) + " characters");
    return ValueOutcome::encode;
}

}  // namespace pprl
