// agency/batch.hpp — a batch of rows through an Encoder, in two phases.
//
// encode_rows: the rows' filters on several threads (each with its own Encoder::Worker), rows
// handed out in chunks from a shared counter. finish_rows: serially and in input order, record ids
// checked (non-empty, at most 256 bytes, not seen before: the first of two duplicates is kept),
// rejections recorded with their row and line, and the accepted filters gathered. The CSV pipeline
// (encode_csv) overlaps the two phases of consecutive batches; Encoder::encode_batch runs them in turn.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pprl/encode.hpp"

namespace pprl::detail {

// Record ids are opaque keys, not personal data, but a runaway column should still be caught.
constexpr std::size_t max_record_id_bytes = 256;

// A batch after its parallel phase: every row's filter (rejected rows' left as they were), whether
// it was accepted and why not, and the counts. Reused from batch to batch.
struct EncodedRows {
    FilterMatrix filters;
    std::vector<char> accepted;
    std::vector<Rejection> why;
    std::vector<std::uint64_t> id_hashes;  // RecordIdSet::hash of each row's id (when ids are a column)
    std::vector<std::string> ids;          // each row's id, when the rows themselves are not kept (a RowSource)
    std::uint64_t tokens = 0, invalid_fields = 0;
};

// Encodes the first n rows on `threads` threads (0: all cores; never more than rows).
void encode_rows(const Encoder& encoder, const std::vector<std::vector<std::string>>& rows, std::size_t n,
                 unsigned threads, EncodedRows& out);
// The same for every row of a RowSource, each worker reading its rows into its own scratch, the
// filters written to `destination` (rows of `stride_words` words, zeroed) and the ids kept in
// `out.ids` for check_ids (which is then given no rows).
void encode_rows(const Encoder& encoder, const RowSource& rows, unsigned threads, EncodedRows& out,
                 std::uint64_t* destination, std::size_t stride_words);

// The serial half of finish_rows: checks the accepted rows' ids (non-empty, at most 256 bytes, not
// seen before), clears `accepted` where they fail, appends the rejections to `summary` and returns
// how many rows are kept. Ids are `encoded.ids` when set (it is filled with the row numbers when ids
// are row numbers), else the rows' id column.
std::size_t check_ids(const Encoder& encoder, const std::vector<std::vector<std::string>>& rows, std::size_t n,
                      const std::vector<std::uint64_t>& row_numbers, const std::vector<std::uint64_t>& lines,
                      EncodedRows& encoded, RecordIdSet& seen_ids, EncodeSummary& summary);

// The accepted filters of an encoded batch, ids included; rejections appended to `summary`.
// `row_numbers` and `lines` (either may be empty: rows are then numbered 1, 2, ... and lines 0)
// say where each row came from.
FilterMatrix finish_rows(const Encoder& encoder, const std::vector<std::vector<std::string>>& rows, std::size_t n,
                         const std::vector<std::uint64_t>& row_numbers, const std::vector<std::uint64_t>& lines,
                         EncodedRows& encoded, RecordIdSet& seen_ids, EncodeSummary& summary);

}  // namespace pprl::detail
