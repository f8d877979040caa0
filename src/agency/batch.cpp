#include "agency/batch.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>

#include "runtime/parallel.hpp"

namespace pprl::detail {

void encode_rows(const Encoder& encoder, const std::vector<std::vector<std::string>>& rows, std::size_t n,
                 unsigned threads, EncodedRows& out) {
    const unsigned bits = encoder.schema().bits();
    const std::size_t id_index = encoder.id_column_index();
    // The matrix is reused when a batch of the same size left it here (encode_csv hands each batch's
    // filters back after its sink): allocating and freeing 2 MiB per batch made glibc serve later
    // ones from a fragmenting heap (peak RSS 189 MiB instead of 126 for a million rows on one
    // thread) and page-faulted every batch in again.
    if (n > 0 && out.filters.rows() == n && out.filters.bits() == bits) {
        std::memset(out.filters.mutable_row_words(0), 0, n * out.filters.stride_bytes());
        out.filters.ids().clear();
    } else {
        out.filters = FilterMatrix(n, bits);
    }
    out.accepted.assign(n, 0);
    out.why.assign(n, Rejection{});
    out.id_hashes.assign(id_index == Encoder::no_column ? 0 : n, 0);
    out.tokens = out.invalid_fields = 0;
    threads = thread_count(threads, n);
    std::vector<std::uint64_t> token_counts(threads, 0), invalid_counts(threads, 0);
    std::vector<std::exception_ptr> failures(threads);
    // Rows are handed out in chunks from a shared counter rather than in equal halves: the thread
    // that reads and writes batches runs beside the encoders, and a worker it slows down must not
    // leave the others waiting at the end of the batch.
    constexpr std::size_t chunk_rows = 256;
    std::atomic<std::size_t> next_chunk{0};
    auto work = [&](unsigned t) {
        try {
            Encoder::Worker worker(encoder);
            std::uint64_t tokens = 0, invalid = 0;  // local: no cache line shared between workers
            for (std::size_t begin; (begin = next_chunk.fetch_add(chunk_rows)) < n;) {
                for (std::size_t i = begin, end = std::min(n, begin + chunk_rows); i < end; ++i) {
                    const bool ok = encoder.encode_record(rows[i], out.filters.mutable_row_words(i), out.why[i], tokens,
                                                          invalid, worker);
                    out.accepted[i] = ok ? 1 : 0;
                    if (ok && id_index != Encoder::no_column) out.id_hashes[i] = RecordIdSet::hash(rows[i][id_index]);
                }
            }
            token_counts[t] = tokens;
            invalid_counts[t] = invalid;
        } catch (...) {
            failures[t] = std::current_exception();
        }
    };
    run_workers(threads, work);
    for (const std::exception_ptr& failure : failures)
        if (failure) std::rethrow_exception(failure);
    for (std::uint64_t tokens : token_counts) out.tokens += tokens;
    for (std::uint64_t invalid : invalid_counts) out.invalid_fields += invalid;
}

FilterMatrix finish_rows(const Encoder& encoder, const std::vector<std::vector<std::string>>& rows, std::size_t n,
                         const std::vector<std::uint64_t>& row_numbers, const std::vector<std::uint64_t>& lines,
                         EncodedRows& encoded, RecordIdSet& seen_ids, EncodeSummary& summary) {
    summary.tokens += encoded.tokens;
    summary.invalid_as_missing += encoded.invalid_fields;
    std::vector<char>& accepted = encoded.accepted;
    std::vector<Rejection>& why = encoded.why;
    const std::size_t id_index = encoder.id_column_index();

    std::vector<std::string> row_ids;  // ids that are row numbers (clkhash schemas without an id column)
    if (id_index == Encoder::no_column) {
        row_ids.resize(n);
        for (std::size_t i = 0; i < n; ++i) row_ids[i] = std::to_string(i < row_numbers.size() ? row_numbers[i] : i + 1);
    }
    auto id_of = [&](std::size_t i) -> const std::string& { return row_ids.empty() ? rows[i][id_index] : row_ids[i]; };
    std::vector<std::uint64_t>& id_hashes = encoded.id_hashes;
    if (id_hashes.empty()) {
        id_hashes.resize(n);
        for (std::size_t i = 0; i < n; ++i) id_hashes[i] = RecordIdSet::hash(id_of(i));
    }
    // Each insertion misses the cache once; fetching a few ids ahead overlaps the misses.
    constexpr std::size_t prefetch_distance = 8;
    const std::string id_name = encoder.id_column_name();
    std::size_t kept = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (i + prefetch_distance < n) seen_ids.prefetch(id_hashes[i + prefetch_distance]);
        if (accepted[i]) {
            const std::string& id = id_of(i);
            const char* reason = nullptr;
            if (id.empty()) reason = "empty record id";
            else if (id.size() > max_record_id_bytes) reason = "record id longer than 256 bytes";
            else if (!seen_ids.insert(id, id_hashes[i])) reason = "duplicate record id (an earlier row has it)";
            if (reason != nullptr) {
                accepted[i] = 0;
                why[i].field = id_name;
                why[i].reason = reason;
            }
        }
        if (accepted[i]) ++kept;
        else {
            why[i].row = i < row_numbers.size() ? row_numbers[i] : i + 1;
            why[i].line = i < lines.size() ? lines[i] : 0;
            summary.rejections.push_back(std::move(why[i]));
        }
    }
    summary.rows_read += n;
    summary.rows_encoded += kept;
    const unsigned bits = encoder.schema().bits();
    FilterMatrix out;
    if (kept == n) {
        out = std::move(encoded.filters);  // the usual case: nothing to close up
    } else {
        out = FilterMatrix(kept, bits);
        for (std::size_t i = 0, j = 0; i < n; ++i)
            if (accepted[i]) std::memcpy(out.mutable_row_words(j++), encoded.filters.row_words(i), out.stride_bytes());
    }
    out.ids().reserve(kept);
    for (std::size_t i = 0; i < n; ++i)
        if (accepted[i]) out.ids().push_back(id_of(i));
    return out;
}

}  // namespace pprl::detail

namespace pprl {

FilterMatrix Encoder::encode_batch(const std::vector<std::vector<std::string>>& rows,
                                   const std::vector<std::uint64_t>& row_numbers, const std::vector<std::uint64_t>& lines,
                                   unsigned threads, RecordIdSet& seen_ids, EncodeSummary& summary) const {
    detail::EncodedRows encoded;
    detail::encode_rows(*this, rows, rows.size(), threads, encoded);
    return detail::finish_rows(*this, rows, rows.size(), row_numbers, lines, encoded, seen_ids, summary);
}

}  // namespace pprl
