#include "pprl/schema.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "clkhash/clkhash.hpp"
#include "crypto/crypto.hpp"
#include "pprl/error.hpp"
#include "format/atomic_file.hpp"
#include "agency/json_reader.hpp"

namespace pprl {
namespace {

using nlohmann::json;
using detail::name_of;
using detail::ObjectReader;
using detail::json_integer;
using detail::parse_json_document;

// Upper bounds that keep a malformed schema from asking for absurd work; each is far above any
// sensible linkage setting.
constexpr int max_q = 8;
constexpr unsigned max_bits_per_token = 256;
constexpr std::size_t max_field_length = 4096;

const std::vector<std::pair<std::string, FieldType>> field_types = {
    {"string", FieldType::string}, {"date", FieldType::date}, {"integer", FieldType::integer},
    {"enum", FieldType::enumeration}};
const std::vector<std::pair<std::string, TokenizerKind>> tokenizer_kinds = {
    {"qgram", TokenizerKind::qgram}, {"positional_qgram", TokenizerKind::positional_qgram},
    {"exact", TokenizerKind::exact}, {"date_parts", TokenizerKind::date_parts}};
const std::vector<std::pair<std::string, PunctuationRule>> punctuation_rules = {
    {"remove", PunctuationRule::remove}, {"space", PunctuationRule::space}, {"keep", PunctuationRule::keep}};
const std::vector<std::pair<std::string, WhitespaceRule>> whitespace_rules = {
    {"collapse", WhitespaceRule::collapse}, {"remove", WhitespaceRule::remove}, {"keep", WhitespaceRule::keep}};
const std::vector<std::pair<std::string, MissingAction>> missing_actions = {
    {"skip", MissingAction::skip}, {"reject", MissingAction::reject}, {"replace", MissingAction::replace}};
const std::vector<std::pair<std::string, DatePart>> date_part_names = {
    {"year", DatePart::year}, {"month", DatePart::month}, {"day", DatePart::day}};

void check_date_format(ObjectReader& reader, const std::string& format) {
    int year = 0, month = 0, day = 0;
    for (std::size_t i = 0; i < format.size(); ++i) {
        if (format[i] != '%') continue;
        if (i + 1 >= format.size()) reader.fail("formats", "date formats using %Y, %m, %d and literal characters");
        const char d = format[++i];
        if (d == 'Y') ++year;
        else if (d == 'm') ++month;
        else if (d == 'd') ++day;
        else if (d != '%') reader.fail("formats", "date formats using %Y, %m, %d and literal characters");
    }
    if (year != 1 || month != 1 || day != 1) reader.fail("formats", "each format to contain %Y, %m and %d once");
}

void read_normalize(ObjectReader& reader, const std::string& origin, NormalizeOptions& normalize) {
    if (!reader.has("normalize")) return;
    ObjectReader norm(reader.get("normalize"), reader.at("normalize"), origin);
    normalize.case_fold = norm.bool_or("case_fold", normalize.case_fold);
    normalize.strip_accents = norm.bool_or("strip_accents", normalize.strip_accents);
    normalize.punctuation = norm.choice("punctuation", normalize.punctuation, punctuation_rules);
    normalize.whitespace = norm.choice("whitespace", normalize.whitespace, whitespace_rules);
    norm.finish();
}

// The rules of the field's type (date formats, integer bounds, enumeration values and aliases);
// returns the tokenizer the type implies.
TokenizerKind read_type_rules(ObjectReader& reader, FieldSpec& field) {
    if (field.type == FieldType::date) {
        if (!reader.has("formats")) reader.fail("formats", "an array of date formats such as \"%Y-%m-%d\"");
        field.date_formats = reader.strings("formats", false);
        for (const auto& format : field.date_formats) check_date_format(reader, format);
        return TokenizerKind::date_parts;
    }
    if (field.type == FieldType::integer) {
        field.min_value = reader.int_in("min", INT64_MIN, INT64_MIN, INT64_MAX);
        field.max_value = reader.int_in("max", INT64_MAX, INT64_MIN, INT64_MAX);
        if (field.min_value > field.max_value) reader.fail("max", "a value not below \"min\"");
        return TokenizerKind::exact;
    }
    if (field.type == FieldType::enumeration) {
        if (!reader.has("values")) reader.fail("values", "the array of allowed values");
        field.enum_values = reader.strings("values", false);
        if (reader.has("aliases")) {
            const json& aliases = reader.get("aliases");
            if (!aliases.is_object()) reader.fail("aliases", "an object mapping alias to value");
            for (auto it = aliases.begin(); it != aliases.end(); ++it) {
                if (!it.value().is_string()) reader.fail("aliases/" + it.key(), "a string");
                const std::string target = it.value().get<std::string>();
                bool known = false;
                for (const auto& value : field.enum_values) known = known || value == target;
                if (!known) reader.fail("aliases/" + it.key(), "one of the field's \"values\"");
                field.enum_aliases[it.key()] = target;
            }
        }
        return TokenizerKind::exact;
    }
    return TokenizerKind::qgram;
}

void read_tokenizer(ObjectReader& reader, const std::string& origin, FieldSpec& field) {
    if (!reader.has("tokenizer")) return;
    ObjectReader tok(reader.get("tokenizer"), reader.at("tokenizer"), origin);
    field.tokenizer.kind = tok.choice("kind", field.tokenizer.kind, tokenizer_kinds);
    const bool grams =
        field.tokenizer.kind == TokenizerKind::qgram || field.tokenizer.kind == TokenizerKind::positional_qgram;
    if (grams) {
        field.tokenizer.q = static_cast<int>(tok.int_in("q", 2, 1, max_q));
        field.tokenizer.padding = tok.bool_or("padding", true);
    }
    if (field.tokenizer.kind == TokenizerKind::date_parts) {
        if (field.type != FieldType::date) tok.fail("kind", "\"date_parts\" only on a field of type \"date\"");
        if (tok.has("parts")) {
            field.tokenizer.date_parts.clear();
            const json& parts = tok.get("parts");
            if (!parts.is_array() || parts.empty()) tok.fail("parts", "a non-empty array of \"year\", \"month\", \"day\"");
            for (const json& part : parts) {
                bool found = false;
                for (const auto& [name, value] : date_part_names)
                    if (part.is_string() && part.get<std::string>() == name) {
                        field.tokenizer.date_parts.push_back(value);
                        found = true;
                    }
                if (!found) tok.fail("parts", "an array of \"year\", \"month\", \"day\"");
            }
        }
    }
    tok.finish();
}

void read_weight(ObjectReader& reader, const std::string& origin, WeightSpec& spec) {
    if (!reader.has("weight")) return;
    ObjectReader weight(reader.get("weight"), reader.at("weight"), origin);
    const bool per_token = weight.has("bits_per_token");
    const bool per_feature = weight.has("bits_per_feature");
    if (per_token == per_feature) weight.fail("", "exactly one of \"bits_per_token\" and \"bits_per_feature\"");
    if (per_token) {
        spec.mode = WeightSpec::Mode::bits_per_token;
        spec.bits = static_cast<unsigned>(weight.int_in("bits_per_token", 10, 0, max_bits_per_token));
    } else {
        spec.mode = WeightSpec::Mode::bits_per_feature;
        spec.bits = static_cast<unsigned>(weight.int_in("bits_per_feature", 100, 0, Schema::max_bits));
    }
    weight.finish();
}

void read_salt(ObjectReader& reader, const std::string& origin, FieldSpec& field) {
    if (!reader.has("salt")) return;
    ObjectReader salt(reader.get("salt"), reader.at("salt"), origin);
    if (!salt.has("field") || !salt.get("field").is_string() || salt.get("field").get<std::string>().empty())
        salt.fail("field", "the name of the field whose value salts this one");
    field.salt_field = salt.get("field").get<std::string>();
    field.salt_year_only =
        salt.choice("part", false, std::vector<std::pair<std::string, bool>>{{"value", false}, {"year", true}});
    salt.finish();
}

void read_missing(ObjectReader& reader, const std::string& origin, MissingRule& rule) {
    if (!reader.has("missing")) return;
    ObjectReader missing(reader.get("missing"), reader.at("missing"), origin);
    if (missing.has("values")) rule.values = missing.strings("values", true);
    rule.action = missing.choice("action", MissingAction::skip, missing_actions);
    if (rule.action == MissingAction::replace) {
        if (!missing.has("replacement") || !missing.get("replacement").is_string())
            missing.fail("replacement", "a string (the value used when the field is missing)");
        rule.replacement = missing.get("replacement").get<std::string>();
    }
    missing.finish();
}

FieldSpec parse_field(const json& node, std::size_t index, const std::string& origin) {
    ObjectReader reader(node, "/fields/" + std::to_string(index), origin);
    FieldSpec field;
    if (!reader.has("name") || !reader.get("name").is_string() || reader.get("name").get<std::string>().empty())
        reader.fail("name", "a non-empty string");
    field.name = reader.get("name").get<std::string>();
    field.ignored = reader.bool_or("ignore", false);
    reader.string_or("description", "");
    if (field.ignored) {
        reader.finish();
        return field;
    }
    field.type = reader.choice("type", FieldType::string, field_types);
    if (field.type == FieldType::date || field.type == FieldType::integer) {
        // Separators carry meaning in dates and signs in integers: keep them, drop spaces.
        field.normalize.punctuation = PunctuationRule::keep;
        field.normalize.whitespace = WhitespaceRule::remove;
    }
    field.max_length = static_cast<std::size_t>(reader.int_in("max_length", 128, 1, max_field_length));
    read_normalize(reader, origin, field.normalize);
    field.tokenizer.kind = read_type_rules(reader, field);
    field.invalid_as_missing =
        reader.choice("invalid", false, std::vector<std::pair<std::string, bool>>{{"reject", false}, {"missing", true}});
    read_tokenizer(reader, origin, field);
    read_weight(reader, origin, field.weight);
    read_salt(reader, origin, field);
    read_missing(reader, origin, field.missing);
    reader.finish();
    return field;
}

json canonical_field(const FieldSpec& field) {
    json out;
    out["name"] = field.name;
    if (field.ignored) {
        out["ignore"] = true;
        return out;
    }
    out["type"] = name_of(field_types, field.type);
    out["max_length"] = field.max_length;
    out["normalize"] = {{"case_fold", field.normalize.case_fold},
                        {"strip_accents", field.normalize.strip_accents},
                        {"punctuation", name_of(punctuation_rules, field.normalize.punctuation)},
                        {"whitespace", name_of(whitespace_rules, field.normalize.whitespace)}};
    if (field.type == FieldType::date) out["formats"] = field.date_formats;
    if (field.type == FieldType::integer) {
        out["min"] = field.min_value;
        out["max"] = field.max_value;
    }
    if (field.type == FieldType::enumeration) {
        out["values"] = field.enum_values;
        out["aliases"] = field.enum_aliases;
    }
    json tokenizer = {{"kind", name_of(tokenizer_kinds, field.tokenizer.kind)}};
    if (field.tokenizer.kind == TokenizerKind::qgram || field.tokenizer.kind == TokenizerKind::positional_qgram) {
        tokenizer["q"] = field.tokenizer.q;
        tokenizer["padding"] = field.tokenizer.padding;
    }
    if (field.tokenizer.kind == TokenizerKind::date_parts) {
        json parts = json::array();
        for (DatePart part : field.tokenizer.date_parts) parts.push_back(name_of(date_part_names, part));
        tokenizer["parts"] = parts;
    }
    out["tokenizer"] = tokenizer;
    out["weight"] = {{field.weight.mode == WeightSpec::Mode::bits_per_token ? "bits_per_token" : "bits_per_feature",
                      field.weight.bits}};
    out["missing"] = {{"values", field.missing.values}, {"action", name_of(missing_actions, field.missing.action)}};
    if (field.invalid_as_missing) out["invalid"] = "missing";
    if (field.missing.action == MissingAction::replace) out["missing"]["replacement"] = field.missing.replacement;
    if (!field.salt_field.empty()) out["salt"] = {{"field", field.salt_field}, {"part", field.salt_year_only ? "year" : "value"}};
    return out;
}

const std::vector<std::pair<std::string, HardeningKind>> hardening_kinds = {
    {"balance", HardeningKind::balance}, {"xor_fold", HardeningKind::xor_fold}, {"blip", HardeningKind::blip},
    {"diffusion", HardeningKind::diffusion}};

// Reads filter.hardening and follows the length through the steps; returns the output length.
unsigned read_hardening(ObjectReader& filter, unsigned bits, std::vector<HardeningStep>& steps) {
    const json& list = filter.get("hardening");
    if (!list.is_array()) filter.fail("hardening", "an array of hardening steps");
    for (std::size_t i = 0; i < list.size(); ++i) {
        ObjectReader node(list[i], filter.at("hardening") + "/" + std::to_string(i), filter.origin());
        if (!node.has("step")) node.fail("step", "one of \"balance\", \"xor_fold\", \"blip\", \"diffusion\"");
        HardeningStep step;
        step.kind = node.choice("step", HardeningKind::balance, hardening_kinds);
        switch (step.kind) {
            case HardeningKind::balance:
                if (bits > Schema::max_bits / 2) node.fail("step", "balance on at most 32768 bits (it doubles the length)");
                bits *= 2;
                break;
            case HardeningKind::xor_fold:
                if (bits % 128 != 0) node.fail("step", "xor_fold on a multiple of 128 bits (it halves the length)");
                bits /= 2;
                break;
            case HardeningKind::blip: {
                if (!node.has("epsilon") || !node.get("epsilon").is_number() || !(node.get("epsilon").get<double>() > 0) ||
                    node.get("epsilon").get<double>() > 50)
                    node.fail("epsilon", "a number in (0, 50]");
                step.epsilon = node.get("epsilon").get<double>();
                break;
            }
            case HardeningKind::diffusion: {
                step.output_bits = static_cast<unsigned>(node.int_in("bits", bits, 64, Schema::max_bits));
                if (step.output_bits % 64 != 0) node.fail("bits", "a multiple of 64");
                if (!node.has("t")) node.fail("t", "the number of input bits per output bit");
                step.t = static_cast<unsigned>(node.int_in("t", 3, 1, 64));
                if (step.t > bits) node.fail("t", "at most the input length");
                bits = step.output_bits;
                break;
            }
        }
        node.finish();
        steps.push_back(step);
    }
    return bits;
}

json canonical_hardening(const std::vector<HardeningStep>& steps) {
    json out = json::array();
    for (const auto& step : steps) {
        json node = {{"step", name_of(hardening_kinds, step.kind)}};
        if (step.kind == HardeningKind::blip) node["epsilon"] = step.epsilon;
        if (step.kind == HardeningKind::diffusion) node["t"] = step.t, node["bits"] = step.output_bits;
        out.push_back(node);
    }
    return out;
}

}  // namespace

namespace {

// Every field of "fields"; names unique (the id column included), at least one encoded.
std::vector<FieldSpec> read_fields(ObjectReader& reader, const std::string& id_column, const std::string& origin) {
    if (!reader.has("fields") || !reader.get("fields").is_array() || reader.get("fields").empty())
        reader.fail("fields", "a non-empty array of field specifications");
    const json& nodes = reader.get("fields");
    std::vector<FieldSpec> fields;
    std::set<std::string> names{id_column};
    bool any_encoded = false;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        FieldSpec field = parse_field(nodes[i], i, origin);
        if (!names.insert(field.name).second)
            throw ValidationError(origin + ": /fields/" + std::to_string(i) + "/name: \"" + field.name +
                                  "\" is used twice (or is the id column)");
        any_encoded = any_encoded || !field.ignored;
        fields.push_back(std::move(field));
    }
    if (!any_encoded) reader.fail("fields", "at least one field that is not ignored");
    return fields;
}

// Every encoded field in exactly one segment; segments name only encoded fields.
void check_segments(const std::vector<SegmentSpec>& segments, const std::vector<FieldSpec>& fields,
                    const std::string& origin) {
    if (segments.empty()) return;
    std::map<std::string, std::size_t> placed;
    for (std::size_t s = 0; s < segments.size(); ++s) {
        const std::string where = origin + ": /filter/segments/" + std::to_string(s) + "/fields: ";
        if (segments[s].fields.empty()) throw ValidationError(where + "expected at least one field");
        for (const std::string& name : segments[s].fields) {
            auto field = std::find_if(fields.begin(), fields.end(), [&](const FieldSpec& f) { return f.name == name; });
            if (field == fields.end() || field->ignored)
                throw ValidationError(where + "expected names of encoded fields of the schema");
            if (!placed.emplace(name, s).second)
                throw ValidationError(where + "a field is in more than one segment");
        }
    }
    for (std::size_t i = 0; i < fields.size(); ++i)
        if (!fields[i].ignored && placed.count(fields[i].name) == 0)
            throw ValidationError(origin + ": /fields/" + std::to_string(i) + ": the field is in no segment of filter.segments");
}

// A salt must name another encoded field, a date when only its year salts.
void check_salts(const std::vector<FieldSpec>& fields, const std::string& origin) {
    for (std::size_t i = 0; i < fields.size(); ++i) {
        const FieldSpec& field = fields[i];
        if (field.salt_field.empty()) continue;
        const std::string where = origin + ": /fields/" + std::to_string(i) + "/salt/field: ";
        auto source = std::find_if(fields.begin(), fields.end(), [&](const FieldSpec& f) { return f.name == field.salt_field; });
        if (source == fields.end() || source->ignored || source->name == field.name)
            throw ValidationError(where + "expected another encoded field of the schema");
        if (field.salt_year_only && source->type != FieldType::date)
            throw ValidationError(where + "expected a date field (\"part\": \"year\")");
    }
}

// The "filter" object: the Bloom filter's length and hashing, and the hardening steps after it.
struct FilterSettings {
    unsigned filter_bits = 1024;  // tokens are hashed into this many bits
    unsigned bits = 1024;         // the encodings' length after hardening
    HashingScheme hashing = HashingScheme::hmac_sha256_random;
    std::vector<HardeningStep> hardening;
    std::vector<SegmentSpec> segments;
};

// filter.segments: names unique and short, lengths multiples of 64; returns the total length.
unsigned read_segments(ObjectReader& filter, std::vector<SegmentSpec>& segments) {
    const json& list = filter.get("segments");
    if (!list.is_array() || list.empty() || list.size() > max_segments)
        filter.fail("segments", "an array of 1 to 64 segments");
    std::uint64_t total = 0;
    std::set<std::string> names;
    for (std::size_t i = 0; i < list.size(); ++i) {
        ObjectReader node(list[i], filter.at("segments") + "/" + std::to_string(i), filter.origin());
        SegmentSpec segment;
        segment.name = node.string_or("name", "");
        if (segment.name.empty() || segment.name.size() > max_segment_name_bytes || !names.insert(segment.name).second)
            node.fail("name", "a unique non-empty name of at most 64 bytes");
        const auto bits = node.int_in("bits", 0, 64, Schema::max_bits);
        if (bits % 64 != 0) node.fail("bits", "a multiple of 64 from 64 to 65536");
        segment.bits = static_cast<unsigned>(bits);
        if (!node.has("fields")) node.fail("fields", "the array of the fields this segment holds");
        segment.fields = node.strings("fields", false);
        node.finish();
        total += segment.bits;
        segments.push_back(std::move(segment));
    }
    if (total > Schema::max_bits) filter.fail("segments", "segments of at most 65536 bits in all");
    return static_cast<unsigned>(total);
}

FilterSettings read_filter(ObjectReader& reader, const std::string& origin) {
    FilterSettings settings;
    if (!reader.has("filter")) return settings;
    ObjectReader filter(reader.get("filter"), "/filter", origin);
    unsigned segmented_bits = 0;
    if (filter.has("segments")) segmented_bits = read_segments(filter, settings.segments);
    const auto bits = filter.int_in("bits", segmented_bits ? segmented_bits : 1024, 64, Schema::max_bits);
    if (bits % 64 != 0) filter.fail("bits", "a multiple of 64 from 64 to 65536");
    if (segmented_bits != 0 && bits != segmented_bits)
        filter.fail("bits", "the sum of the segments' bits (" + std::to_string(segmented_bits) + "), or no \"bits\"");
    settings.filter_bits = settings.bits = static_cast<unsigned>(bits);
    settings.hashing = filter.choice("hashing", HashingScheme::hmac_sha256_random,
                                     std::vector<std::pair<std::string, HashingScheme>>{
                                         {"hmac-sha256-random", HashingScheme::hmac_sha256_random}});
    if (filter.has("hardening")) {
        settings.bits = read_hardening(filter, settings.filter_bits, settings.hardening);
        if (settings.bits % 64 != 0) filter.fail("hardening", "steps whose output is a multiple of 64 bits");
        // Only BLIP keeps every bit in its segment; the others mix bits across the whole filter.
        for (const HardeningStep& step : settings.hardening)
            if (!settings.segments.empty() && step.kind != HardeningKind::blip)
                filter.fail("hardening", "only \"blip\" with \"segments\" (balance, xor_fold and diffusion mix bits "
                                         "across segments)");
    }
    filter.finish();
    return settings;
}

}  // namespace

Schema Schema::from_clkhash_json(const std::string& json_text, const std::string& origin) {
    auto model = std::make_shared<clkhash::Schema>(clkhash::parse_schema(json_text, origin));
    Schema schema;
    schema.bits_ = model->l;
    schema.filter_bits_ = model->l;
    schema.id_column_.clear();
    for (const auto& feature : model->features) {
        FieldSpec field;
        field.name = feature.identifier;
        field.ignored = feature.ignored;
        schema.fields_.push_back(std::move(field));
    }
    schema.canonical_ = model->canonical_json;
    schema.fingerprint_ = crypto::sha256(schema.canonical_.data(), schema.canonical_.size());
    schema.notes_ = model->notes;
    schema.clkhash_ = std::move(model);
    return schema;
}

Schema Schema::from_json(const std::string& json_text, const std::string& origin) {
    if (clkhash::looks_like_clkhash(json_text)) return from_clkhash_json(json_text, origin);
    const json document = parse_json_document(json_text, origin);
    ObjectReader reader(document, "", origin);
    if (!reader.has("pprl_schema")) reader.fail("pprl_schema", "the schema version number (1)");
    std::int64_t schema_version = 0;
    if (!json_integer(reader.get("pprl_schema"), schema_version) || schema_version != version)
        reader.fail("pprl_schema", "1 (the only schema version this pprl reads)");

    Schema schema;
    reader.string_or("description", "");
    schema.id_column_ = reader.string_or("id_column", "record_id");
    if (schema.id_column_.empty()) reader.fail("id_column", "a non-empty column name");
    FilterSettings filter = read_filter(reader, origin);
    schema.filter_bits_ = filter.filter_bits;
    schema.bits_ = filter.bits;
    schema.hashing_ = filter.hashing;
    schema.hardening_ = std::move(filter.hardening);
    schema.segments_ = std::move(filter.segments);
    schema.fields_ = read_fields(reader, schema.id_column_, origin);
    check_salts(schema.fields_, origin);
    check_segments(schema.segments_, schema.fields_, origin);
    reader.finish();

    json canonical;
    canonical["pprl_schema"] = version;
    canonical["filter"] = {{"bits", schema.filter_bits_}, {"hashing", "hmac-sha256-random"}};
    if (!schema.hardening_.empty()) canonical["filter"]["hardening"] = canonical_hardening(schema.hardening_);
    if (!schema.segments_.empty()) {
        json segments = json::array();
        for (const SegmentSpec& segment : schema.segments_)
            segments.push_back({{"name", segment.name}, {"bits", segment.bits}, {"fields", segment.fields}});
        canonical["filter"]["segments"] = segments;
    }
    canonical["fields"] = json::array();
    for (const auto& field : schema.fields_) canonical["fields"].push_back(canonical_field(field));
    schema.canonical_ = canonical.dump();
    schema.fingerprint_ = crypto::sha256(schema.canonical_.data(), schema.canonical_.size());
    return schema;
}

Layout Schema::layout() const {
    Layout layout;
    unsigned first = 0;
    for (const SegmentSpec& segment : segments_) {
        layout.push_back(Segment{segment.name, first, segment.bits});
        first += segment.bits;
    }
    return layout;
}

std::vector<std::string> Schema::column_order() const {
    std::vector<std::string> columns;
    if (!clkhash_) columns.push_back(id_column_);
    for (const auto& field : fields_) columns.push_back(field.name);
    return columns;
}

void Schema::set_id_column(const std::string& name) {
    if (name.empty()) throw UsageError("the id column name is empty");
    if (clkhash_) {
        id_column_ = name;
        return;
    }
    for (const auto& field : fields_)
        if (field.name == name) throw ValidationError("the id column \"" + name + "\" is also a schema field");
    id_column_ = name;
}

Schema Schema::from_file(const std::string& path) { return from_json(read_file(path, max_file_bytes), path); }

}  // namespace pprl
