// pprl audit: filter statistics and four attacks on an agency's own encodings (audit.hpp). Runs at the
// agency, which holds the plaintext; the report names re-identified values, so it stays there too.
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "pprl/audit.hpp"
#include "pprl/report.hpp"
#include "format/csv.hpp"
#include "pprl/error.hpp"
#include "pprl/encode.hpp"
#include "pprl/format.hpp"
#include "pprl/harden.hpp"
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

// The attacked field: the one named, else the schema's first encoded string field.
const FieldSpec& attacked_field(const Schema& schema, const std::string& requested) {
    for (const auto& f : schema.fields())
        if (!f.ignored && ((requested.empty() && f.type == FieldType::string) || f.name == requested)) return f;
    throw UsageError("--field names no encoded field of the schema");
}

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

// The targets: the attacked field on the whole filter, and with a segmented layout also every
// single-field segment on its own bits (the field given: its segment only).
struct Target {
    const FieldSpec* field;
    const Segment* segment;  // null: the whole filter
};

std::vector<Target> audit_targets(const Schema& schema, const Layout& layout, const std::string& requested) {
    std::vector<Target> targets;
    const FieldSpec& named = attacked_field(schema, requested);
    if (layout.empty()) return {{&named, nullptr}};
    for (std::size_t s = 0; s < layout.size(); ++s) {
        const SegmentSpec& spec = schema.segments()[s];
        if (spec.fields.size() != 1) continue;  // a group of fields has no single value to align
        for (const FieldSpec& field : schema.fields())
            if (field.name == spec.fields[0] && (requested.empty() || field.name == requested))
                targets.push_back({&field, &layout[s]});
    }
    targets.push_back({&named, nullptr});
    return targets;
}

// The graph attack's knowledge: the reference population encoded with the schema under a key of
// the attacker's own (a fixed one, so that an audit is reproducible), and each encoding's row of
// the reference. Empty when the
// reference lacks a column the schema encodes (the note says which).
struct AttackerEncodings {
    FilterMatrix filters{0, 64};
    std::vector<std::size_t> row;  // reference row of each encoding
    std::string missing;
};

AttackerEncodings encode_reference(const Schema& schema, const CsvTable& table) {
    AttackerEncodings out;
    std::vector<std::string> columns{schema.id_column()};
    std::vector<std::size_t> source;
    for (const FieldSpec& field : schema.fields()) {
        if (field.ignored) continue;
        const std::size_t at = std::find(table.header.begin(), table.header.end(), field.name) - table.header.begin();
        if (at == table.header.size()) {
            out.missing = field.name;
            return out;
        }
        columns.push_back(field.name);
        source.push_back(at);
    }
    std::vector<std::vector<std::string>> rows;
    rows.reserve(table.rows.size());
    for (std::size_t r = 0; r < table.rows.size(); ++r) {
        std::vector<std::string> row{std::to_string(r)};
        for (std::size_t at : source) row.push_back(table.rows[r][at]);
        rows.push_back(std::move(row));
    }
    std::uint8_t attacker_key[32];
    for (std::size_t i = 0; i < sizeof attacker_key; ++i) attacker_key[i] = static_cast<std::uint8_t>(0xa5 ^ (31 * i));
    Encoder encoder(schema, SecretKey(attacker_key, sizeof attacker_key));
    encoder.bind_columns(columns);
    RecordIdSet seen;
    EncodeSummary summary;
    out.filters = encoder.encode_batch(rows, {}, {}, 0, seen, summary);
    out.filters.compute_popcounts();
    for (const std::string& id : out.filters.ids()) out.row.push_back(std::stoul(id));
    return out;
}

}  // namespace

Command add_audit(CLI::App& app) {
    struct Options {
        std::string file, plaintext, schema, truth, field, report, groups;
        double overlap = 1.0;
        bool json = false;
    };
    auto o = std::make_shared<Options>();
    app.add_option("file", o->file, "The agency's encoded file")->required();
    app.add_option("--plaintext", o->plaintext,
                   "Reference CSV from a similar population (the attacker's list); also the truth when it has the "
                   "encoded records' ids and --truth is not given")
        ->required();
    app.add_option("--schema", o->schema, "The schema the file was encoded with")->required();
    app.add_option("--truth", o->truth, "The CSV that was encoded (its id column and the attacked field)");
    app.add_option("--field", o->field, "The attacked field (default: the schema's first encoded string field)");
    app.add_option("--report", o->report, "Write an HTML report (it names re-identified values: keep it in-house)");
    app.add_option("--overlap", o->overlap,
                   "Graph matching: the share of the encoded population the attacker expects the reference to cover")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--groups", o->groups,
                   "CSV with the id column and a \"group\" column (pprl synth's truth.csv): vulnerabilities per group");
    app.add_flag("--json", o->json, "Print JSON instead of text");
    return [o]() {
        refuse_overwriting({o->report}, {o->file, o->schema, o->plaintext, o->truth, o->groups});
        if (o->report == standard_stream)
            throw UsageError("the audit's summary (or its JSON) goes to standard output; write the report to a file");
        const Schema schema = Schema::from_file(o->schema);
        if (schema.dialect() != SchemaDialect::pprl) throw UsageError("audit needs a pprl schema");
        const FilterMatrix filters = load_encoded_file(o->file);
        if (!filters.info().schema_known || filters.info().schema_fingerprint != schema.fingerprint())
            throw KeyMismatchError("'" + o->file + "' was not encoded with the schema in '" + o->schema + "'");
        const Layout layout = schema.layout();
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
        const AttackerEncodings attacker = encode_reference(schema, plaintext_table);
        if (!attacker.missing.empty())
            std::cerr << "note: graph matching needs every encoded field in the reference; '" << o->plaintext
                      << "' has no column \"" << attacker.missing << "\"\n";
        AuditOptions options;
        options.flip_probability = hardening_flip_probability(schema.hardening());
        options.overlap = o->overlap;
        std::vector<AuditSection> sections;
        nlohmann::json json_targets = nlohmann::json::array();
        for (const Target& target : audit_targets(schema, layout, o->field)) {
            const FieldSpec& spec = *target.field;
            const std::string& field = spec.name;
            std::vector<std::string> reference;
            const auto plaintext = read_column(plaintext_table, schema.id_column(), field, &reference);
            const auto truth_by_id = o->truth.empty() ? plaintext : read_column(truth_table, schema.id_column(), field, nullptr);
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
            const std::string name = target.segment ? field + " (segment " + target.segment->name + ")"
                                                    : field + (layout.empty() ? "" : " (whole filter)");
            std::vector<std::string> attacker_values;
            const std::size_t value_column =
                std::find(plaintext_table.header.begin(), plaintext_table.header.end(), field) - plaintext_table.header.begin();
            for (std::size_t r : attacker.row) attacker_values.push_back(plaintext_table.rows[r][value_column]);
            const bool graph = attacker.missing.empty();
            const FilterMatrix attacker_filters =
                graph && target.segment ? segment_filters(attacker.filters, *target.segment) : attacker.filters;
            AuditReport report = audit(target.segment ? segment_filters(filters, *target.segment) : filters, truth,
                                       reference, spec.normalize, spec.tokenizer, options,
                                       graph ? &attacker_filters : nullptr, graph ? &attacker_values : nullptr,
                                       o->groups.empty() ? nullptr : &groups);
            if (!o->json) print_audit(report, name);
            nlohmann::json j = audit_json(report);
            j["field"] = field;
            j["target"] = target.segment ? "segment " + target.segment->name : std::string("whole filter");
            json_targets.push_back(j);
            sections.push_back({name, std::move(report)});
        }
        if (!o->report.empty()) {
            AtomicFile out(o->report);
            out.write(render_audit_html(sections, o->file));
            out.commit();
        }
        if (o->json) {
            nlohmann::json j;
            j["file"] = o->file;
            j["targets"] = json_targets;
            std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        }
        return 0;
    };
}

}  // namespace pprl::cli
