#include "agency/batch.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <functional>

#include "pprl/secret.hpp"
#include "runtime/parallel.hpp"

namespace pprl::detail {

namespace {

// Where a worker finds a row's values: in the batch's own strings, or filled by a RowSource into
// the worker's scratch (wiped when the worker is done).
class StoredRows {
public:
    explicit StoredRows(const std::vector<std::vector<std::string>>& rows) : rows_(rows) {}
    class Reader {
    public:
        explicit Reader(const StoredRows& from) : rows_(from.rows_) {}
        const std::vector<std::string>& operator()(std::size_t i) { return rows_[i]; }

    private:
        const std::vector<std::vector<std::string>>& rows_;
    };

private:
    const std::vector<std::vector<std::string>>& rows_;
};

class SourceRows {
public:
    SourceRows(const RowSource& source, std::size_t columns) : source_(source), columns_(columns) {}
    class Reader {
    public:
        explicit Reader(const SourceRows& from) : source_(from.source_), values_(from.columns_) {}
        ~Reader() {
            for (std::string& value : values_) {
                value.resize(value.capacity());  // the bytes past the last value's end too
                secure_wipe(value.data(), value.size());
            }
        }
        Reader(const Reader&) = delete;
        Reader& operator=(const Reader&) = delete;
        const std::vector<std::string>& operator()(std::size_t i) {
            source_.row(i, values_);
            return values_;
        }

    private:
        const RowSource& source_;
        std::vector<std::string> values_;
    };

private:
    const RowSource& source_;
    std::size_t columns_;
};

// Encodes rows 0 .. n-1 into `destination` (rows of `stride` words, zeroed), or, without one, into
// out.filters.
template <class Rows>
void encode_rows_from(const Encoder& encoder, const Rows& rows, bool keep_ids, std::size_t n, unsigned threads,
                      EncodedRows& out, std::uint64_t* destination = nullptr, std::size_t stride = 0) {
    const unsigned bits = encoder.schema().bits();
    const std::size_t id_index = encoder.id_column_index();
    // The matrix is reused when a batch of the same size left it here (encode_csv hands each batch's
    // filters back after its sink): allocating and freeing 2 MiB per batch made glibc serve later
    // ones from a fragmenting heap (peak RSS 189 MiB instead of 126 for a million rows on one
    // thread) and page-faulted every batch in again.
    if (destination != nullptr) {
        out.filters = FilterMatrix();
    } else if (n > 0 && out.filters.rows() == n && out.filters.bits() == bits) {
        std::memset(out.filters.mutable_row_words(0), 0, n * out.filters.stride_bytes());
        out.filters.ids().clear();
    } else {
        out.filters = FilterMatrix(n, bits);
    }
    if (destination == nullptr && n > 0) {
        destination = out.filters.mutable_row_words(0);
        stride = out.filters.stride_words();
    }
    out.accepted.assign(n, 0);
    out.why.assign(n, Rejection{});
    out.id_hashes.assign(id_index == Encoder::no_column ? 0 : n, 0);
    out.ids.assign(keep_ids && id_index != Encoder::no_column ? n : 0, std::string());
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
            typename Rows::Reader read(rows);
            std::uint64_t tokens = 0, invalid = 0;  // local: no cache line shared between workers
            for (std::size_t begin; (begin = next_chunk.fetch_add(chunk_rows)) < n;) {
                for (std::size_t i = begin, end = std::min(n, begin + chunk_rows); i < end; ++i) {
                    const std::vector<std::string>& row = read(i);
                    const bool ok = encoder.encode_record(row, destination + i * stride, out.why[i], tokens, invalid, worker);
                    out.accepted[i] = ok ? 1 : 0;
                    if (ok && id_index != Encoder::no_column) {
                        out.id_hashes[i] = RecordIdSet::hash(row[id_index]);
                        if (!out.ids.empty()) out.ids[i] = row[id_index];
                    }
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

// Row i's record id: from encoded.ids when set (a RowSource's rows, or row numbers), else its column.
const std::string& id_of(const std::vector<std::vector<std::string>>& rows, const EncodedRows& encoded,
                         std::size_t id_index, std::size_t i) {
    return !encoded.ids.empty() ? encoded.ids[i] : rows[i][id_index];
}

}  // namespace

void encode_rows(const Encoder& encoder, const std::vector<std::vector<std::string>>& rows, std::size_t n,
                 unsigned threads, EncodedRows& out) {
    encode_rows_from(encoder, StoredRows(rows), false, n, threads, out);
}

void encode_rows(const Encoder& encoder, const RowSource& rows, unsigned threads, EncodedRows& out,
                 std::uint64_t* destination, std::size_t stride_words) {
    encode_rows_from(encoder, SourceRows(rows, encoder.column_count()), true, rows.rows(), threads, out, destination,
                     stride_words);
}

std::size_t check_ids(const Encoder& encoder, const std::vector<std::vector<std::string>>& rows, std::size_t n,
                      const std::vector<std::uint64_t>& row_numbers, const std::vector<std::uint64_t>& lines,
                      EncodedRows& encoded, RecordIdSet& seen_ids, EncodeSummary& summary) {
    summary.tokens += encoded.tokens;
    summary.invalid_as_missing += encoded.invalid_fields;
    std::vector<char>& accepted = encoded.accepted;
    std::vector<Rejection>& why = encoded.why;
    const std::size_t id_index = encoder.id_column_index();

    if (id_index == Encoder::no_column) {  // ids are row numbers (clkhash schemas without an id column)
        encoded.ids.resize(n);
        for (std::size_t i = 0; i < n; ++i)
            encoded.ids[i] = std::to_string(i < row_numbers.size() ? row_numbers[i] : i + 1);
    }
    std::vector<std::uint64_t>& id_hashes = encoded.id_hashes;
    if (id_hashes.empty()) {
        id_hashes.resize(n);
        for (std::size_t i = 0; i < n; ++i) id_hashes[i] = RecordIdSet::hash(id_of(rows, encoded, id_index, i));
    }
    // Each insertion misses the cache once; fetching a few ids ahead overlaps the misses.
    constexpr std::size_t prefetch_distance = 8;
    const std::string id_name = encoder.id_column_name();
    std::size_t kept = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (i + prefetch_distance < n) seen_ids.prefetch(id_hashes[i + prefetch_distance]);
        if (accepted[i]) {
            const std::string& id = id_of(rows, encoded, id_index, i);
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
    return kept;
}

FilterMatrix finish_rows(const Encoder& encoder, const std::vector<std::vector<std::string>>& rows, std::size_t n,
                         const std::vector<std::uint64_t>& row_numbers, const std::vector<std::uint64_t>& lines,
                         EncodedRows& encoded, RecordIdSet& seen_ids, EncodeSummary& summary) {
    const std::size_t kept = check_ids(encoder, rows, n, row_numbers, lines, encoded, seen_ids, summary);
    const std::vector<char>& accepted = encoded.accepted;
    const std::size_t id_index = encoder.id_column_index();
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
        if (accepted[i]) out.ids().push_back(id_of(rows, encoded, id_index, i));
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

FilterMatrix Encoder::encode_batches(const std::vector<const RowSource*>& batches, std::uint64_t first_row,
                                     unsigned threads, RecordIdSet& seen_ids, EncodeSummary& summary,
                                     const std::function<void(std::uint64_t)>& progress) const {
    std::size_t total = 0;
    for (const RowSource* batch : batches) total += batch->rows();
    FilterMatrix all(total, schema().bits());
    all.ids().reserve(total);
    std::vector<char> kept(total, 0);
    // Two batches in flight: the workers encode one straight into its rows of `all` while this
    // thread checks the ids of the one before (as encode_csv does with the batches it reads).
    struct Slot {
        detail::EncodedRows encoded;
        std::size_t start = 0, rows = 0;
        std::vector<std::uint64_t> numbers;
    };
    Slot slots[2];
    Slot* encoding = &slots[0];
    Slot* finishing = &slots[1];
    bool have_finishing = false;
    const unsigned workers = detail::thread_count(threads, static_cast<std::size_t>(-1));
    const auto finish = [&](Slot& slot) {
        detail::check_ids(*this, {}, slot.rows, slot.numbers, {}, slot.encoded, seen_ids, summary);
        for (std::size_t i = 0; i < slot.rows; ++i) {
            if (!slot.encoded.accepted[i]) continue;
            kept[slot.start + i] = 1;
            all.ids().push_back(std::move(slot.encoded.ids[i]));
        }
        if (progress) progress(summary.rows_read);
    };
    std::size_t start = 0;
    for (std::size_t b = 0; b <= batches.size(); ++b) {
        const bool have_encoding = b < batches.size() && batches[b]->rows() > 0;
        std::function<void()> encode;
        if (have_encoding) {
            encoding->start = start;
            encoding->rows = batches[b]->rows();
            encoding->numbers.resize(encoding->rows);
            for (std::size_t i = 0; i < encoding->rows; ++i) encoding->numbers[i] = first_row + start + i;
            encode = [this, &batches, b, encoding, workers, &all] {
                detail::encode_rows(*this, *batches[b], workers, encoding->encoded,
                                    all.mutable_row_words(encoding->start), all.stride_words());
            };
        }
        detail::overlap(encode, workers > 1 && have_finishing, [&] {
            if (have_finishing) finish(*finishing);
            have_finishing = false;
        });
        if (have_encoding) {
            start += encoding->rows;
            std::swap(encoding, finishing);
            have_finishing = true;
        }
    }
    std::sort(summary.rejections.begin(), summary.rejections.end(),
              [](const Rejection& x, const Rejection& y) { return x.row < y.row; });
    if (all.ids().size() < total) {  // close up the rejected rows' places
        std::vector<std::size_t> rows;
        rows.reserve(all.ids().size());
        for (std::size_t i = 0; i < total; ++i)
            if (kept[i]) rows.push_back(i);
        FilterMatrix closed = all.copy_rows(rows);
        closed.ids() = std::move(all.ids());
        return closed;
    }
    all.compute_popcounts();
    return all;
}

}  // namespace pprl
