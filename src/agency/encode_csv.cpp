// agency/encode_csv.cpp — a CSV file through an Encoder, batch by batch (see pprl/encode.hpp).
#include <algorithm>
#include <cstring>
#include <functional>

#include "agency/batch.hpp"
#include "agency/hashing.hpp"
#include "format/csv.hpp"
#include "pprl/encode.hpp"
#include "pprl/error.hpp"
#include "runtime/parallel.hpp"

namespace pprl {
namespace {

// Rows read from the CSV file for one batch; buffers are reused from batch to batch.
struct CsvBatch {
    std::vector<std::vector<std::string>> rows;
    std::size_t used = 0;
    std::vector<std::uint64_t> row_numbers, lines;
};

// Reads up to batch.rows.size() rows; a malformed record is rejected in its place (the rows around
// it still encode). Returns false at the end of the file.
bool read_batch(CsvReader& reader, CsvRecord& record, std::uint64_t& next_row, CsvBatch& batch,
                EncodeSummary& summary) {
    batch.used = 0;
    batch.row_numbers.clear();
    batch.lines.clear();
    while (batch.used < batch.rows.size()) {
        if (!reader.next(record)) return false;
        if (!record.error.empty()) {
            summary.rows_read += 1;
            summary.rejections.push_back(Rejection{next_row++, record.line, "", record.error});
            continue;
        }
        batch.rows[batch.used++].swap(record.fields);
        batch.row_numbers.push_back(next_row++);
        batch.lines.push_back(record.line);
    }
    return true;
}

}  // namespace

EncodeSummary encode_csv(const std::string& csv_path, const Schema& schema, const SecretKey& secret,
                         const EncodeOptions& options, const std::function<void(const FilterMatrix&)>& sink) {
    Encoder encoder(schema, secret, options.token_cache_entries);
    CsvReader reader(csv_path);
    if (options.header) {
        CsvRecord header;
        if (!reader.next(header)) throw ValidationError("'" + csv_path + "' is empty (expected a header row)");
        if (!header.error.empty()) throw ValidationError("'" + csv_path + "' header row: " + header.error);
        encoder.bind_columns(header.fields);
    } else {
        encoder.bind_columns(schema.column_order());
    }

    const unsigned threads = detail::thread_count(options.threads, static_cast<std::size_t>(-1));
    const std::size_t batch_rows = std::max<std::size_t>(options.batch_rows, 1);

    // A pipeline of three batches: while the encoding threads work on one, this thread finishes the
    // one before (ids, rejections, the sink) and reads the one after, so reading and writing, which
    // are serial, do not leave the other cores idle. On one thread the steps simply alternate.
    struct Slot {
        CsvBatch batch;
        detail::EncodedRows encoded;
    };
    Slot slots[3];
    for (Slot& slot : slots) slot.batch.rows.resize(batch_rows);
    Slot* reading = &slots[0];
    Slot* encoding = &slots[1];
    Slot* finishing = &slots[2];
    bool have_finishing = false;  // a batch encoded but not yet finished

    EncodeSummary summary;
    RecordIdSet seen_ids;
    CsvRecord record;
    std::uint64_t next_row = 1;
    auto finish = [&](Slot& slot) {
        FilterMatrix part = detail::finish_rows(encoder, slot.batch.rows, slot.batch.used, slot.batch.row_numbers,
                                                slot.batch.lines, slot.encoded, seen_ids, summary);
        if (part.rows() > 0) sink(part);
        if (part.rows() == slot.batch.used) slot.encoded.filters = std::move(part);  // for the next batch here
        if (options.progress) options.progress(summary.rows_read);
    };
    bool more = read_batch(reader, record, next_row, reading->batch, summary);
    for (;;) {
        std::swap(reading, encoding);  // the batch just read goes to the encoders
        const bool have_encoding = encoding->batch.used > 0;
        std::function<void()> encode;
        if (have_encoding)
            encode = [&encoder, encoding, threads] {
                detail::encode_rows(encoder, encoding->batch.rows, encoding->batch.used, threads, encoding->encoded);
            };
        detail::overlap(encode, threads > 1, [&] {
            if (have_finishing) finish(*finishing);
            have_finishing = false;
            if (more) more = read_batch(reader, record, next_row, reading->batch, summary);
            else reading->batch.used = 0;
        });
        if (have_encoding) {
            std::swap(encoding, finishing);
            have_finishing = true;
        }
        if (!have_encoding && !more && reading->batch.used == 0) break;
    }
    if (summary.rows_read == 0)
        throw ValidationError("'" + csv_path + (options.header ? "' has a header but no data rows" : "' has no rows"));
    std::sort(summary.rejections.begin(), summary.rejections.end(),
              [](const Rejection& x, const Rejection& y) { return x.row < y.row; });
    return summary;
}

FilterMatrix concatenate(const std::vector<FilterMatrix>& parts) {
    if (parts.empty()) throw UsageError("nothing to concatenate");
    std::size_t rows = 0;
    for (const auto& part : parts) {
        if (part.bits() != parts[0].bits()) throw UsageError("cannot concatenate filters of different lengths");
        rows += part.rows();
    }
    FilterMatrix out(rows, parts[0].bits());
    out.info() = parts[0].info();
    out.ids().reserve(rows);
    std::size_t row = 0;
    for (const auto& part : parts) {
        if (part.rows() > 0) std::memcpy(out.mutable_row_words(row), part.data(), part.rows() * part.stride_bytes());
        out.ids().insert(out.ids().end(), part.ids().begin(), part.ids().end());
        row += part.rows();
    }
    out.compute_popcounts();
    return out;
}

FilterMatrix encode_csv(const std::string& csv_path, const Schema& schema, const SecretKey& secret,
                        const EncodeOptions& options, EncodeSummary& summary) {
    std::vector<FilterMatrix> parts;
    summary = encode_csv(csv_path, schema, secret, options, [&](const FilterMatrix& part) { parts.push_back(part); });
    FilterMatrix all = parts.empty() ? FilterMatrix(0, schema.bits()) : concatenate(parts);  // popcounts included
    all.info() = encoding_info(schema, key_check_value(secret), options.party);
    return all;
}

}  // namespace pprl
