#include "pprl/tables.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "format/atomic_file.hpp"
#include "format/csv.hpp"
#include "pprl/error.hpp"

namespace pprl {
namespace {

const char pairs_ids_header[] = "a_id,b_id,score\n";
const char pairs_parties_header[] = "party_a,a_id,party_b,b_id,score,linked\n";
const char entities_header[] = "party,record_id,entity_id\n";

double parse_score(const std::string& text, const std::string& where) {
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !(value >= 0.0 && value <= 1.0))
        throw ValidationError(where + ": score is not a number in [0, 1]");
    return value;
}

}  // namespace

std::string format_score(double score) {
    char buffer[32];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, score);
    return std::string(buffer, result.ptr);
}

struct PairsWriter::Impl {
    Impl(const std::string& path, PairColumns columns) : file(path), columns(columns) {}
    AtomicFile file;
    PairColumns columns;
    std::string line;
};

PairsWriter::PairsWriter(const std::string& path, PairColumns columns, const std::vector<std::string>& extra_columns)
    : impl_(std::make_unique<Impl>(path, columns)) {
    std::string header = columns == PairColumns::ids ? pairs_ids_header : pairs_parties_header;
    if (columns == PairColumns::with_parties && !extra_columns.empty()) {
        header.pop_back();
        for (const std::string& column : extra_columns) {
            header += ',';
            append_csv_field(header, column);
        }
        header += '\n';
    }
    impl_->file.write(header);
}
PairsWriter::~PairsWriter() = default;

void PairsWriter::add(std::string_view party_a, std::string_view a_id, std::string_view party_b, std::string_view b_id,
                      double score, bool linked, std::string_view extra) {
    std::string& line = impl_->line;
    line.clear();
    if (impl_->columns == PairColumns::with_parties) {
        append_csv_field(line, party_a);
        line += ',';
    }
    append_csv_field(line, a_id);
    line += ',';
    if (impl_->columns == PairColumns::with_parties) {
        append_csv_field(line, party_b);
        line += ',';
    }
    append_csv_field(line, b_id);
    line += ',';
    line += format_score(score);
    if (impl_->columns == PairColumns::with_parties) line += linked ? ",1" : ",0";
    if (!extra.empty()) {
        line += ',';
        line += extra;
    }
    line += '\n';
    impl_->file.write(line);
}

void PairsWriter::commit() { impl_->file.commit(); }

struct EntitiesWriter::Impl {
    explicit Impl(const std::string& path) : file(path) {}
    AtomicFile file;
    std::string line;
};

EntitiesWriter::EntitiesWriter(const std::string& path) : impl_(std::make_unique<Impl>(path)) {
    impl_->file.write(entities_header);
}
EntitiesWriter::~EntitiesWriter() = default;

void EntitiesWriter::add(std::string_view party, std::string_view record_id, std::string_view entity_id) {
    std::string& line = impl_->line;
    line.clear();
    append_csv_field(line, party);
    line += ',';
    append_csv_field(line, record_id);
    line += ',';
    append_csv_field(line, entity_id);
    line += '\n';
    impl_->file.write(line);
}

void EntitiesWriter::commit() { impl_->file.commit(); }

std::vector<EntityRow> read_entities(const std::string& path) {
    CsvReader reader(path);
    CsvRecord record;
    if (!reader.next(record)) throw ValidationError("'" + path + "' is empty");
    const auto at = csv_columns(record.fields, {"party", "record_id", "entity_id"}, 3, path);
    std::vector<EntityRow> rows;
    std::uint64_t row = 0;
    while (reader.next(record)) {
        check_csv_row(record, at, "'" + path + "' row " + std::to_string(++row));
        rows.push_back({record.fields[at[0]], record.fields[at[1]], record.fields[at[2]]});
    }
    return rows;
}

std::vector<PairRow> read_pairs(const std::string& path, const std::string& party_a, const std::string& party_b) {
    CsvReader reader(path);
    CsvRecord record;
    if (!reader.next(record)) throw ValidationError("'" + path + "' is empty");
    const bool with_parties = std::find(record.fields.begin(), record.fields.end(), "party_a") != record.fields.end();
    std::vector<PairRow> rows;
    std::uint64_t row = 0;
    if (with_parties) {
        const auto at = csv_columns(record.fields, {"party_a", "a_id", "party_b", "b_id", "score", "linked"}, 5, path);
        while (reader.next(record)) {
            const std::string where = "'" + path + "' row " + std::to_string(++row);
            check_csv_row(record, at, where);
            rows.push_back({record.fields[at[0]], record.fields[at[1]], record.fields[at[2]], record.fields[at[3]],
                            parse_score(record.fields[at[4]], where), at[5] >= 0 && record.fields[at[5]] == "1"});
        }
    } else {
        const auto at = csv_columns(record.fields, {"a_id", "b_id", "score"}, 3, path);
        if (party_a.empty() || party_b.empty())
            throw UsageError("'" + path + "' has no party columns: the two parties must be named");
        while (reader.next(record)) {
            const std::string where = "'" + path + "' row " + std::to_string(++row);
            check_csv_row(record, at, where);
            rows.push_back({party_a, record.fields[at[0]], party_b, record.fields[at[1]],
                            parse_score(record.fields[at[2]], where), false});
        }
    }
    return rows;
}

}  // namespace pprl
