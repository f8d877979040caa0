// pprl audit: filter statistics and four attacks on an agency's own encodings (audit.hpp). Runs at the
// agency, which holds the plaintext; the report names re-identified values, so it stays there too.
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "pprl/audit.hpp"
#include "pprl/report.hpp"
#include "format/csv.hpp"
#include "pprl/error.hpp"
#include "pprl/encode.hpp"
#include "pprl/evaluate.hpp"
#include "pprl/format.hpp"
#include "pprl/harden.hpp"
#include "pprl/link.hpp"
#include "pprl/synth.hpp"
#include "format/atomic_file.hpp"
#include "pprl/schema.hpp"

namespace pprl::cli {
namespace {

// id → value of `column` (and the ids in file order); ValidationError when a column is missing.
// A CSV read once (it may be standard input), its well-formed rows of the header's width.
struct CsvTable {
    std::string path;
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;
};

CsvTable read_table(const std::string& path) {
    CsvTable table;
    table.path = path;
    CsvReader reader(path);
    CsvRecord record;
    if (!reader.next(record)) throw ValidationError("'" + path + "' is empty");
    table.header = std::move(record.fields);
    while (reader.next(record))
        if (record.error.empty() && record.fields.size() == table.header.size()) table.rows.push_back(std::move(record.fields));
    return table;
}

// One column by record id (where the id column is there), and every value in `all_values`.
std::map<std::string, std::string> read_column(const CsvTable& table, const std::string& id_column,
                                               const std::string& column, std::vector<std::string>* all_values) {
    const auto& header = table.header;
    const std::size_t id = std::find(header.begin(), header.end(), id_column) - header.begin();
    const std::size_t value = std::find(header.begin(), header.end(), column) - header.begin();
    if (value == header.size()) throw ValidationError("'" + table.path + "' has no column \"" + column + "\"");
    std::map<std::string, std::string> by_id;
    for (const auto& row : table.rows) {
        if (all_values) all_values->push_back(row[value]);
        if (id < header.size()) by_id[row[id]] = row[value];
    }
    return by_id;
}


}  // namespace

namespace {

nlohmann::json audit_json(const AuditReport& report) {
    const FilterStatistics& s = report.statistics;
    nlohmann::json j;
    j["statistics"] = {{"records", s.records}, {"bits", s.bits}, {"bit_frequency_min", s.bit_frequency_min},
                       {"bit_frequency_mean", s.bit_frequency_mean}, {"bit_frequency_max", s.bit_frequency_max},
                       {"bit_frequency_cv", s.bit_frequency_cv}, {"distinct_filters", s.distinct_filters},
                       {"records_in_duplicates", s.records_in_duplicates},
                       {"largest_duplicate_group", s.largest_duplicate_group},
                       {"popcount_mean", s.popcount_mean}, {"popcount_sd", s.popcount_sd},
                       {"popcount_min", s.popcount_min}, {"popcount_max", s.popcount_max},
                       {"popcount_histogram", s.popcount_histogram}};
    for (const auto& v : report.vulnerabilities) {
        nlohmann::json measures;
        for (std::size_t m = 0; m < vulnerability_measures; ++m)
            measures[vulnerability_names[m]] = {{"mean", v.mean[m]}, {"high", v.high[m]}};
        j["vulnerabilities"].push_back({{"group", v.group}, {"records", v.records}, {"measures", measures}});
    }
    for (const auto& a : report.attacks)
        j["attacks"].push_back({{"attack", a.name}, {"records", a.records}, {"correct", a.correct},
                                {"record_rate", a.record_rate}, {"names", a.names},
                                {"names_correct", a.names_correct}, {"name_rate", a.name_rate},
                                {"chance_rate", a.chance_rate}, {"qgrams_located", a.patterns},
                                {"similarity_threshold", a.threshold}});
    return j;
}

void print_audit(const AuditReport& report, const std::string& field) {
    const FilterStatistics& s = report.statistics;
    std::cout << "filters: " << s.records << " of " << s.bits << " bits; " << s.distinct_filters << " distinct, "
              << s.records_in_duplicates << " records share a filter (largest group " << s.largest_duplicate_group
              << ")\n"
              << "bit frequency " << std::fixed << std::setprecision(3) << s.bit_frequency_min << " – "
              << s.bit_frequency_max << " (cv " << s.bit_frequency_cv << "); popcount " << std::setprecision(1)
              << s.popcount_mean << " ± " << s.popcount_sd << "\n";
    for (const auto& a : report.attacks)
        std::cout << a.name << " on " << field << ": " << percent_text(a.record_rate) << " of records (" << a.correct
                  << " of " << a.records << "), " << percent_text(a.name_rate) << " of names (" << a.names_correct << " of "
                  << a.names << "); chance " << percent_text(a.chance_rate) << "\n";
    for (const auto& v : report.vulnerabilities) {
        std::cout << "vulnerability" << (v.group.empty() ? "" : " of group " + v.group) << " (" << v.records
                  << " records, share in a class of at most two):";
        for (std::size_t m = 0; m < vulnerability_measures; ++m)
            std::cout << (m ? ", " : " ") << vulnerability_names[m] << " " << percent_text(v.high[m]);
        std::cout << "\n";
    }
}

// The bits of one segment as a filter matrix of their own, ids kept.
FilterMatrix segment_filters(const FilterMatrix& filters, const Segment& segment) {
    FilterMatrix out(filters.rows(), segment.bits);
    for (std::size_t r = 0; r < filters.rows(); ++r)
        std::copy_n(filters.row_words(r) + segment.first_bit / 64, segment.bits / 64, out.mutable_row_words(r));
    out.ids() = filters.ids();
    out.compute_popcounts();
    return out;
}

// The targets: with --field, that field on the whole filter (and on its segment, if it has one of
// its own); without, every encoded field on the whole filter, since the hub sees every field's
// tokens there (last names, shared by households, can be easier to re-identify than first names),
// and with a segmented layout every single-field segment on its own bits too. Without --field, a
// field the attacker's reference lacks is left out (the reference must have one of them).
struct Target {
    const FieldSpec* field;
    const Segment* segment;  // null: the whole filter
};

std::vector<Target> audit_targets(const Schema& schema, const Layout& layout, const std::string& requested,
                                  const CsvTable& reference) {
    std::vector<Target> targets;
    const auto encoded = [&](const FieldSpec& field) {
        return !field.ignored && (requested.empty() || field.name == requested);
    };
    if (std::none_of(schema.fields().begin(), schema.fields().end(), encoded))
        throw UsageError("--field names no encoded field of the schema");
    const auto wanted = [&](const FieldSpec& field) {
        return encoded(field) && (!requested.empty() || std::find(reference.header.begin(), reference.header.end(),
                                                                  field.name) != reference.header.end());
    };
    if (std::none_of(schema.fields().begin(), schema.fields().end(), wanted))
        throw ValidationError("the attacker's reference has no column of an encoded field");
    for (std::size_t s = 0; s < layout.size(); ++s) {
        const SegmentSpec& spec = schema.segments()[s];
        if (spec.fields.size() != 1) continue;  // a group of fields has no single value to align
        for (const FieldSpec& field : schema.fields())
            if (field.name == spec.fields[0] && wanted(field)) targets.push_back({&field, &layout[s]});
    }
    for (const FieldSpec& field : schema.fields())
        if (wanted(field)) targets.push_back({&field, nullptr});
    return targets;
}

// A table's rows in the columns a schema encodes (the id first, then every encoded field), each row
// identified by its index in the table. `missing` names a field the table lacks (no rows then).
struct ProjectedRows {
    std::vector<std::string> columns;
    std::vector<PerturbKind> kinds;  // how --tradeoff's synthetic errors treat each column
    std::vector<std::vector<std::string>> rows;
    std::string missing;
};

ProjectedRows project(const Schema& schema, const CsvTable& table) {
    ProjectedRows out;
    out.columns = {schema.id_column()};
    out.kinds = {PerturbKind::keep};
    std::vector<std::size_t> source;
    for (const FieldSpec& field : schema.fields()) {
        if (field.ignored) continue;
        const std::size_t at = std::find(table.header.begin(), table.header.end(), field.name) - table.header.begin();
        if (at == table.header.size()) {
            out.missing = field.name;
            return out;
        }
        out.columns.push_back(field.name);
        out.kinds.push_back(field.type == FieldType::string ? PerturbKind::text
                            : field.type == FieldType::date ? PerturbKind::date
                                                            : PerturbKind::other);
        source.push_back(at);
    }
    out.rows.reserve(table.rows.size());
    for (std::size_t r = 0; r < table.rows.size(); ++r) {
        std::vector<std::string> row{std::to_string(r)};
        for (std::size_t at : source) row.push_back(table.rows[r][at]);
        out.rows.push_back(std::move(row));
    }
    return out;
}

// Rows encoded under a fixed key of the audit's own (`key_byte` varies it: the attacker's key is
// not the one the trade-off encodes the agency's rows with), so that an audit is reproducible; the
// table row of each encoding (rows the encoder rejects have none).
struct TableEncodings {
    FilterMatrix filters{0, 64};
    std::vector<std::size_t> row;
};

TableEncodings encode_projected(const Schema& schema, const ProjectedRows& projected, std::uint8_t key_byte,
                                const std::string& party) {
    std::uint8_t key[32];
    for (std::size_t i = 0; i < sizeof key; ++i) key[i] = static_cast<std::uint8_t>(key_byte ^ (31 * i));
    Encoder encoder(schema, SecretKey(key, sizeof key));
    encoder.bind_columns(projected.columns);
    RecordIdSet seen;
    EncodeSummary summary;
    TableEncodings out;
    out.filters = encoder.encode_batch(projected.rows, {}, {}, 0, seen, summary);
    out.filters.compute_popcounts();
    out.filters.info() = encoding_info(schema, encoder.key_check(), party);
    for (const std::string& id : out.filters.ids()) out.row.push_back(std::stoul(id));
    return out;
}

constexpr std::uint8_t attacker_key_byte = 0xa5, tradeoff_key_byte = 0x3c;

// A column's values, every row (ValidationError when the table lacks it).
std::vector<std::string> column_values(const CsvTable& table, const std::string& column) {
    std::vector<std::string> values;
    read_column(table, "", column, &values);
    return values;
}

// The attacks on every target of `schema` (audit_targets): `filters` with `truth_of(field)`, each
// filter's true value of the field; the attacker's `reference` table and, for the graph attack, its
// encodings under the attacker's key.
std::vector<AuditSection> audit_schema(const Schema& schema, const std::string& requested, const FilterMatrix& filters,
                                       const std::function<std::vector<std::string>(const std::string&)>& truth_of,
                                       const CsvTable& reference_table, const TableEncodings* attacker,
                                       AuditOptions options, const std::vector<std::string>* groups) {
    const Layout layout = schema.layout();
    options.flip_probability = hardening_flip_probability(schema.hardening());
    std::vector<AuditSection> sections;
    std::optional<AuditedFilters> whole;  // what every field attacked through the whole filter shares
    for (const Target& target : audit_targets(schema, layout, requested, reference_table)) {
        const FieldSpec& spec = *target.field;
        const std::string& field = spec.name;
        const std::vector<std::string> reference = column_values(reference_table, field);
        std::vector<std::string> attacker_values;
        if (attacker != nullptr)
            for (std::size_t r : attacker->row) attacker_values.push_back(reference[r]);
        std::optional<AuditedFilters> segment;
        if (target.segment) {
            std::optional<FilterMatrix> attacker_segment;
            if (attacker) attacker_segment.emplace(segment_filters(attacker->filters, *target.segment));
            segment.emplace(segment_filters(filters, *target.segment), options,
                            attacker_segment ? &*attacker_segment : nullptr);
        } else if (!whole) {
            whole.emplace(filters, options, attacker ? &attacker->filters : nullptr);
        }
        const std::string name = target.segment ? field + " (segment " + target.segment->name + ")"
                                                : field + (layout.empty() ? "" : " (whole filter)");
        sections.push_back({name,
                            audit(target.segment ? *segment : *whole, truth_of(field), reference, spec.normalize,
                                  spec.tokenizer, attacker ? &attacker_values : nullptr, groups),
                            field, target.segment ? "segment " + target.segment->name : std::string("whole filter")});
    }
    return sections;
}

// The hardenings --tradeoff compares: the schema as given, then its fields and filter with each
// hardening in place of its own (salting: every string field with the year of the first date field).
std::vector<std::pair<std::string, nlohmann::json>> hardening_variants(const nlohmann::json& given, unsigned bits) {
    nlohmann::json plain = given;
    plain["filter"].erase("hardening");
    std::string salt_source;
    for (auto& field : plain["fields"]) {
        field.erase("salt");
        if (salt_source.empty() && field.value("type", "string") == "date" && !field.value("ignore", false))
            salt_source = field["name"].get<std::string>();
    }
    auto step = [](const char* name) { return nlohmann::json{{"step", name}}; };
    auto blip = [](double epsilon) { return nlohmann::json{{"step", "blip"}, {"epsilon", epsilon}}; };
    auto diffusion = [bits](unsigned t) { return nlohmann::json{{"step", "diffusion"}, {"t", t}, {"bits", bits}}; };
    const std::vector<std::pair<std::string, nlohmann::json>> hardenings = {
        {"none", nullptr},
        {"blip eps=2", nlohmann::json::array({blip(2)})},
        {"blip eps=3", nlohmann::json::array({blip(3)})},
        {"blip eps=4", nlohmann::json::array({blip(4)})},
        {"balance", nlohmann::json::array({step("balance")})},
        {"xor_fold", nlohmann::json::array({step("xor_fold")})},
        {"diffusion t=3", nlohmann::json::array({diffusion(3)})},
        {"diffusion t=5", nlohmann::json::array({diffusion(5)})},
    };
    std::vector<std::pair<std::string, nlohmann::json>> out{{"as given", given}};
    for (bool salted : {false, true}) {
        if (salted && salt_source.empty()) break;
        for (const auto& [name, steps] : hardenings) {
            if (salted && (name == "blip eps=2" || name == "blip eps=4" || name == "xor_fold" || name == "diffusion t=5"))
                continue;  // the salted variants: alone and with one of each kind of step
            nlohmann::json variant = plain;
            if (!steps.is_null()) variant["filter"]["hardening"] = steps;
            if (salted)
                for (auto& field : variant["fields"])
                    if (field.value("type", "string") == "string" && !field.value("ignore", false))
                        field["salt"] = {{"field", salt_source}, {"part", "year"}};
            out.emplace_back(salted ? (name == "none" ? "salt " + salt_source + " year" : "salt + " + name) : name,
                             std::move(variant));
        }
    }
    return out;
}

// Linkage quality of `extract` linked with `copy` (the same rows given synthetic errors; ids equal
// for the same row) at the automatic threshold.
void link_quality(const FilterMatrix& extract, const FilterMatrix& copy, PrivacyQualityPoint& point) {
    LinkOptions options;
    options.auto_threshold = true;
    const LinkResult result = link({&extract, &copy}, options);
    point.model = result.model == LinkModel::fellegi_sunter ? "fellegi-sunter" : "record";
    point.threshold = result.threshold;
    // The copy keeps each row's id: a record and its copy are one person.
    const FilterMatrix* parties[] = {&extract, &copy};
    Truth truth;
    for (std::size_t party = 0; party < 2; ++party)
        for (const std::string& id : parties[party]->ids()) truth.add(std::to_string(party), id, id, "");
    std::vector<EntityRow> entities;
    for (std::size_t i = 0; i < result.entities.size(); ++i)
        entities.push_back(EntityRow{std::to_string(result.entities.party[i]),
                                     parties[result.entities.party[i]]->ids()[result.entities.record[i]],
                                     result.entities.entity_id[i]});
    const Confusion quality = evaluate_entities(truth, entities).overall;
    point.precision = quality.precision();
    point.recall = quality.recall();
    point.f1 = quality.f1();
}

// Each hardening on the agency's own rows: F1 of the extract linked with an erroneous copy of
// itself, and the strongest attack's success beyond chance over every target the hub sees.
std::vector<PrivacyQualityPoint> privacy_quality(const std::string& schema_path, const Schema& schema,
                                                 const std::string& requested, const CsvTable& own,
                                                 const CsvTable& reference, const AuditOptions& options) {
    const nlohmann::json given = nlohmann::json::parse(read_file(schema_path, Schema::max_file_bytes));
    std::vector<PrivacyQualityPoint> points;
    for (const auto& [name, variant_json] : hardening_variants(given, schema.filter_bits())) {
        std::optional<Schema> variant;
        try {
            variant.emplace(Schema::from_json(variant_json.dump()));
        } catch (const ValidationError&) {
            continue;  // a hardening this layout does not allow (segments take BLIP only)
        }
        const ProjectedRows rows = project(*variant, own);
        const ProjectedRows attacker_rows = project(*variant, reference);
        if (!rows.missing.empty() || !attacker_rows.missing.empty()) break;  // checked by the caller
        const TableEncodings extract = encode_projected(*variant, rows, tradeoff_key_byte, "extract");
        ProjectedRows erroneous = rows;
        erroneous.rows = perturb_rows(rows.rows, rows.kinds, ErrorProfile{}, 1);
        const TableEncodings copy = encode_projected(*variant, erroneous, tradeoff_key_byte, "copy");
        const TableEncodings attacker = encode_projected(*variant, attacker_rows, attacker_key_byte, "reference");
        PrivacyQualityPoint point;
        point.hardening = name;
        point.bits = variant->bits();
        link_quality(extract.filters, copy.filters, point);
        auto truth_of = [&](const std::string& field) {
            const std::vector<std::string> values = column_values(own, field);
            std::vector<std::string> truth;
            for (std::size_t r : extract.row) truth.push_back(values[r]);
            return truth;
        };
        double strongest = -1;
        for (const AuditSection& section :
             audit_schema(*variant, requested, extract.filters, truth_of, reference, &attacker, options, nullptr))
            for (const AttackResult& a : section.report.attacks)
                if (a.record_rate - a.chance_rate > strongest) {
                    strongest = a.record_rate - a.chance_rate;
                    point.attack = a.name;
                    point.target = section.target;
                    point.reidentified = a.record_rate;
                    point.chance = a.chance_rate;
                }
        points.push_back(std::move(point));
    }
    return points;
}

void print_tradeoff(const std::vector<PrivacyQualityPoint>& points) {
    std::cout << "privacy and linkage quality (F1: the extract linked with a copy of itself given synthetic errors; "
                 "the strongest attack's success beyond chance):\n";
    for (const auto& p : points)
        std::cout << "  " << std::left << std::setw(24) << p.hardening << std::right << std::setw(5) << p.bits
                  << " bits  F1 " << std::fixed << std::setprecision(4) << p.f1 << " (" << p.model << ", t "
                  << std::setprecision(3) << p.threshold << ")  " << p.attack << " on " << p.target << ": "
                  << percent_text(p.reidentified) << ", chance " << percent_text(p.chance) << "\n";
}

nlohmann::json tradeoff_json(const std::vector<PrivacyQualityPoint>& points) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& p : points)
        j.push_back({{"hardening", p.hardening}, {"bits", p.bits}, {"model", p.model}, {"threshold", p.threshold},
                     {"precision", p.precision}, {"recall", p.recall}, {"f1", p.f1}, {"attack", p.attack},
                     {"target", p.target}, {"reidentified", p.reidentified}, {"chance", p.chance}});
    return j;
}

}  // namespace

Command add_audit(CLI::App& app) {
    struct Options {
        std::string file, plaintext, schema, truth, field, report, groups;
        double overlap = 1.0;
        bool json = false, tradeoff = false;
    };
    auto o = std::make_shared<Options>();
    app.add_option("file", o->file, "The agency's encoded file")->required();
    app.add_option("--plaintext", o->plaintext,
                   "Reference CSV from a similar population (the attacker's list); also the truth when it has the "
                   "encoded records' ids and --truth is not given")
        ->required();
    app.add_option("--schema", o->schema, "The schema the file was encoded with")->required();
    app.add_option("--truth", o->truth, "The CSV that was encoded (its id column and the attacked field)");
    app.add_option("--field", o->field, "The attacked field (default: every encoded field)");
    app.add_option("--report", o->report, "Write an HTML report (it names re-identified values: keep it in-house)");
    app.add_option("--overlap", o->overlap,
                   "Graph matching: the share of the encoded population the attacker expects the reference to cover")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--groups", o->groups,
                   "CSV with the id column and a \"group\" column (pprl synth's truth.csv): vulnerabilities per group");
    app.add_flag("--json", o->json, "Print JSON instead of text");
    app.add_flag("--tradeoff", o->tradeoff,
                 "Also encode the --truth rows under each hardening and report linkage F1 against the strongest "
                 "attack (minutes on a large extract)");
    return [o]() {
        refuse_overwriting({o->report}, {o->file, o->schema, o->plaintext, o->truth, o->groups});
        if (o->report == standard_stream)
            throw UsageError("the audit's summary (or its JSON) goes to standard output; write the report to a file");
        if (o->tradeoff && o->truth.empty()) throw UsageError("--tradeoff needs the encoded rows (--truth)");
        const Schema schema = Schema::from_file(o->schema);
        if (schema.dialect() != SchemaDialect::pprl) throw UsageError("audit needs a pprl schema");
        const FilterMatrix filters = load_encoded_file(o->file);
        if (!filters.info().schema_known || filters.info().schema_fingerprint != schema.fingerprint())
            throw KeyMismatchError("'" + o->file + "' was not encoded with the schema in '" + o->schema + "'");
        const CsvTable plaintext_table = read_table(o->plaintext);
        const CsvTable truth_table = o->truth.empty() ? CsvTable{} : read_table(o->truth);
        std::vector<std::string> groups;
        if (!o->groups.empty()) {
            const auto group_by_id = read_column(read_table(o->groups), schema.id_column(), "group", nullptr);
            for (const std::string& id : filters.ids()) {
                auto it = group_by_id.find(id);
                groups.push_back(it == group_by_id.end() ? std::string() : it->second);
            }
        }
        const ProjectedRows attacker_rows = project(schema, plaintext_table);
        std::optional<TableEncodings> attacker;
        if (attacker_rows.missing.empty())
            attacker.emplace(encode_projected(schema, attacker_rows, attacker_key_byte, "reference"));
        else
            std::cerr << "note: graph matching needs every encoded field in the reference; '" << o->plaintext
                      << "' has no column \"" << attacker_rows.missing << "\"\n";
        if (o->tradeoff) {
            const ProjectedRows own = project(schema, truth_table);
            if (!own.missing.empty() || !attacker_rows.missing.empty())
                throw ValidationError("--tradeoff needs every encoded field in --truth and --plaintext; '" +
                                      (own.missing.empty() ? o->plaintext : o->truth) + "' has no column \"" +
                                      (own.missing.empty() ? attacker_rows.missing : own.missing) + "\"");
        }
        auto truth_of = [&](const std::string& field) {
            const auto truth_by_id = read_column(o->truth.empty() ? plaintext_table : truth_table, schema.id_column(),
                                                 field, nullptr);
            std::vector<std::string> truth(filters.rows());
            std::size_t known = 0;
            for (std::size_t i = 0; i < filters.rows(); ++i) {
                auto it = truth_by_id.find(filters.ids()[i]);
                if (it != truth_by_id.end()) truth[i] = it->second, ++known;
            }
            if (known == 0)
                throw ValidationError("no record id of '" + o->file + "' is in " +
                                      (o->truth.empty() ? o->plaintext : o->truth) + " (column \"" + schema.id_column() +
                                      "\"); pass the encoded CSV with --truth");
            return truth;
        };
        AuditOptions options;
        options.overlap = o->overlap;
        const std::vector<AuditSection> sections =
            audit_schema(schema, o->field, filters, truth_of, plaintext_table, attacker ? &*attacker : nullptr, options,
                         o->groups.empty() ? nullptr : &groups);
        nlohmann::json json_targets = nlohmann::json::array();
        for (const AuditSection& section : sections) {
            if (!o->json) print_audit(section.report, section.target);
            nlohmann::json j = audit_json(section.report);
            j["field"] = section.field;
            j["target"] = section.place;
            json_targets.push_back(j);
        }
        std::vector<PrivacyQualityPoint> tradeoff;
        if (o->tradeoff) {
            tradeoff = privacy_quality(o->schema, schema, o->field, truth_table, plaintext_table, options);
            if (!o->json) print_tradeoff(tradeoff);
        }
        if (!o->report.empty()) {
            AtomicFile out(o->report);
            out.write(render_audit_html(sections, o->file, tradeoff));
            out.commit();
        }
        if (o->json) {
            nlohmann::json j;
            j["file"] = o->file;
            j["targets"] = json_targets;
            if (o->tradeoff) j["tradeoff"] = tradeoff_json(tradeoff);
            std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        }
        return 0;
    };
}

}  // namespace pprl::cli
