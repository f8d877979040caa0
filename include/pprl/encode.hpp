// pprl/encode.hpp — rows of quasi-identifiers to keyed Bloom filters (CLKs), at the agency site.
//
// Per record and field: normalise (normalize.hpp) → missing-value rule → parse and check the type
// (dates to YYYY-MM-DD, integers, enumerations with aliases) → length limit → tokens (tokenize.hpp)
// → k bit positions per token by keyed random hashing → OR into the record's filter.
//
// Random hashing. Each field has its own 256-bit subkey, HKDF-SHA256(secret, salt = schema
// fingerprint, info = "pprl/v1/field-hash" 0x00 field-name). A token's bit positions are read from
// the stream HMAC-SHA256(subkey, j || token), j = 0, 1, ...: successive ⌈log2 m⌉-bit big-endian
// chunks, each rejected if ≥ m (never for power-of-two m), until k positions are drawn. The
// positions are independent and uniform for any filter length m — unlike double hashing
// (h1 + i·h2 mod m), whose arithmetic structure Kroll & Steinmetzer (2015) exploited to re-identify
// encodings. For m = 1024 one HMAC yields 25 positions, so a token costs two SHA-256 compressions.
// Tokens repeat (a name field draws from a few thousand bigrams), so each encoding thread keeps the
// positions of the tokens it hashed recently in a bounded cache, wiped after use (token_cache_entries
// below), and, beside it, the whole contribution of field values it encoded recently (a first name,
// a date of birth); the filters are the same with the caches or without them.
//
// Determinism: a record's filter depends only on the record, the schema and the key, and batches are
// written in input order, so output bytes are identical for every thread count.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pprl/bloom.hpp"
#include "pprl/schema.hpp"
#include "pprl/secret.hpp"

namespace pprl {

// A row that was not encoded. Never holds the value that caused it.
struct Rejection {
    std::uint64_t row = 0;   // 1-based data row (the header is row 0)
    std::uint64_t line = 0;  // line in the input file where the row starts (0 if not from a file)
    std::string field;       // column name, or empty for whole-row problems
    std::string reason;
};

// Tokens whose positions each encoding thread remembers (src/agency/token_cache.hpp); it also remembers
// twice as many field values. 0 turns both caches off.
// 16,384 entries is far more than the distinct bigrams of a name field and, at about 0.5 MiB with
// 12 positions and 4-byte tokens, small enough to stay in a core's L2 cache.
constexpr std::size_t default_token_cache_entries = 16384;

struct EncodeOptions {
    unsigned threads = 0;            // 0: all hardware threads
    std::size_t token_cache_entries = default_token_cache_entries;
    std::string party;               // label written to the file header
    std::size_t batch_rows = 16384;  // rows read, encoded in parallel, and handed on at a time
    // false: the CSV has no header row and its columns are in schema order (Schema::column_order).
    bool header = true;
    // Called after each batch with the number of input rows processed so far.
    std::function<void(std::uint64_t rows_done)> progress;
};

struct EncodeSummary {
    std::uint64_t rows_read = 0;
    std::uint64_t rows_encoded = 0;
    std::uint64_t tokens = 0;
    std::uint64_t invalid_as_missing = 0;  // field values that did not parse and counted as missing
    std::vector<Rejection> rejections;
};

// The record ids met so far in one encoding run, to refuse duplicates (the first is kept). A flat
// open-addressing table of 64-bit hashes (XXH3; a table index, not part of the keyed encoding) over
// one buffer of id bytes, at most half full: 32 to 64 bytes per id besides the id itself, and one
// cache miss per insertion, which the encoder hides by prefetching the slots of the ids ahead.
class RecordIdSet {
public:
    RecordIdSet();
    // Adds `id`; false when it was already there.
    bool insert(std::string_view id);
    bool contains(std::string_view id) const;
    std::size_t size() const noexcept { return count_; }

    // The same, with hash(id) computed beforehand (the encoder computes it on its worker threads).
    static std::uint64_t hash(std::string_view id) noexcept;
    bool insert(std::string_view id, std::uint64_t hash);
    void prefetch(std::uint64_t hash) const noexcept;

private:
    static constexpr std::uint64_t empty = ~std::uint64_t{0};
    struct Slot {
        std::uint64_t hash = 0;
        std::uint64_t place = empty;  // offset in bytes_ << 24 | length
    };
    static bool is_free(const Slot& slot) noexcept { return slot.place == empty; }
    const Slot* find(std::string_view id, std::uint64_t hash) const noexcept;

    std::vector<Slot> slots_;  // a power of two
    std::vector<char> bytes_;
    std::size_t count_ = 0;
};

// The key-check value of a secret: a truncated HMAC under its own HKDF subkey. Equal for equal keys;
// reveals nothing useful about the key.
KeyCheck key_check_value(const SecretKey& secret);

// The header of encodings made under `schema` with the key whose check value is `key_check`.
EncodingInfo encoding_info(const Schema& schema, const KeyCheck& key_check, const std::string& party);

// Rows whose values are not held as std::string (Arrow string buffers, say). The encoder's worker
// threads ask for each row's values, in bound-column order, into per-thread scratch that the
// encoder owns and wipes; no copy of the whole batch is made.
class RowSource {
public:
    virtual ~RowSource() = default;
    virtual std::size_t rows() const = 0;
    // Sets values[c] (values has one string per bound column) to row i's value of column c; a
    // missing value is "". Called concurrently from several threads, each with its own `values`.
    virtual void row(std::size_t i, std::vector<std::string>& values) const = 0;
};

class Encoder {
public:
    Encoder(const Schema& schema, const SecretKey& secret,
            std::size_t token_cache_entries = default_token_cache_entries);
    ~Encoder();
    Encoder(Encoder&&) noexcept;
    Encoder& operator=(Encoder&&) noexcept;

    const Schema& schema() const noexcept;
    KeyCheck key_check() const noexcept;

    // Maps the input's column names to schema fields. Throws ValidationError for a missing schema
    // field or id column, a duplicated column, or a column the schema neither encodes nor ignores.
    void bind_columns(const std::vector<std::string>& columns);

    // What one encoding thread works with: a token cache and a field-value cache (taken from the
    // encoder's pool and given back when the worker ends, so they stay warm from batch to batch) and
    // scratch buffers for the record in hand (normalised values, tokens, HMAC outputs, the filter
    // before hardening), which are wiped (OPENSSL_cleanse) when the worker ends. One per thread; the
    // encoder must outlive it.
    class Worker {
    public:
        explicit Worker(const Encoder& encoder);
        ~Worker();
        Worker(const Worker&) = delete;
        Worker& operator=(const Worker&) = delete;
        // Overwrites every scratch buffer now (the destructor does it too).
        void wipe() noexcept;
        // Calls visit(pointer, bytes) for every scratch buffer (tests check they are wiped).
        void visit_scratch(const std::function<void(const void*, std::size_t)>& visit) const;

    private:
        friend class Encoder;
        struct State;
        std::unique_ptr<State> state_;
    };

    // Encodes one record whose values are in bound-column order into `row` (zeroed by the caller,
    // bits()/64 words). Returns false and fills `why` (field and reason) on a data error. Adds the
    // record's token count to `tokens` and the number of its fields whose invalid value was treated
    // as missing (schema "invalid": "missing") to `invalid_fields`. Thread-safe with one Worker per
    // thread; the overload without one makes a Worker for the call.
    bool encode_record(const std::vector<std::string>& values, std::uint64_t* row, Rejection& why,
                       std::uint64_t& tokens, std::uint64_t& invalid_fields, Worker& worker) const;
    bool encode_record(const std::vector<std::string>& values, std::uint64_t* row, Rejection& why,
                       std::uint64_t& tokens, std::uint64_t& invalid_fields) const;
    // The name under which record-id problems are reported: the id column, or "(row number)" when
    // ids are row numbers (a clkhash schema without an id column).
    std::string id_column_name() const;
    // Value of id_column_index() when record ids are the data row numbers.
    static constexpr std::size_t no_column = static_cast<std::size_t>(-1);
    // The record id column's position among the bound columns.
    std::size_t id_column_index() const noexcept;

    // Encodes a batch of rows (values in bound-column order) on `threads` threads (0: all cores;
    // never more threads than rows; the bytes do not depend on it). Returns the
    // accepted filters in input order, ids included; appends rejected rows to `summary`. Record ids
    // must be non-empty and unique across every batch given the same `seen_ids`. `row_numbers` and
    // `lines` (either may be empty: rows are then numbered 1, 2, ... and lines 0) say where each row
    // came from, for messages.
    FilterMatrix encode_batch(const std::vector<std::vector<std::string>>& rows,
                              const std::vector<std::uint64_t>& row_numbers, const std::vector<std::uint64_t>& lines,
                              unsigned threads, RecordIdSet& seen_ids,
                              EncodeSummary& summary) const;

    // Every row of one or more RowSources, numbered from first_row on, into one matrix (ids and
    // popcounts included; info not set), rejections sorted by row. Pipelined: the threads encode a
    // batch straight into its rows of the result while the calling thread checks the ids of the one
    // before, then calls progress(rows done so far) when given.
    FilterMatrix encode_batches(const std::vector<const RowSource*>& batches, std::uint64_t first_row,
                                unsigned threads, RecordIdSet& seen_ids, EncodeSummary& summary,
                                const std::function<void(std::uint64_t)>& progress = {}) const;

    // The number of bound columns (the size of a row's values).
    std::size_t column_count() const noexcept;

private:
    struct Impl;
    struct Caches;
    std::unique_ptr<Impl> impl_;
};

// Streams a CSV file through an Encoder in batches; calls `sink` with each batch's accepted filters in
// input order, on the calling thread. With options.threads ≥ 2 the batches are pipelined: that many
// threads encode one batch while the calling thread finishes the one before (sink included) and reads
// the next. Throws ValidationError for a bad header or an empty file, IoError if unreadable.
EncodeSummary encode_csv(const std::string& csv_path, const Schema& schema, const SecretKey& secret,
                         const EncodeOptions& options, const std::function<void(const FilterMatrix&)>& sink);

// Convenience: the whole file into one FilterMatrix (info filled: party, schema, key check).
FilterMatrix encode_csv(const std::string& csv_path, const Schema& schema, const SecretKey& secret,
                        const EncodeOptions& options, EncodeSummary& summary);

// Concatenates matrices of equal length (ids too); info from the first.
FilterMatrix concatenate(const std::vector<FilterMatrix>& parts);

}  // namespace pprl
