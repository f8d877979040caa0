// pprl/match.hpp — scoring every cross-party pair of filters with the Dice coefficient.
//
//   Dice(A, B) = 2|A∧B| / (|A| + |B|), and 0 when both filters are empty.
//
// Exactness. A threshold is a rational p/q (parsed exactly from its decimal text, e.g. "0.8" = 4/5)
// and a pair passes when 2·|A∧B|·q ≥ p·(|A|+|B|), computed in integers. Equivalently
// |A∧B| ≥ min_common(s) = ⌈p·s / 2q⌉ for s = |A|+|B|: the matcher tabulates min_common once per run,
// so the SIMD kernels compare integer counts and "score ≥ threshold" never depends on float rounding.
// Scores are reported as doubles but ordered exactly (by cross-multiplied fractions).
//
// Pruning, all of it exact. (1) Dice ≤ 2·min(|A|,|B|)/(|A|+|B|), so for a given |A| only a
// contiguous popcount range of B can pass: both sides are sorted by popcount and each group of A
// rows visits only the B slices in its range. (2) Inside the kernel, counts grow column by column;
// once even the best lane of a slice could not reach the threshold with every remaining column, the
// row stops on that slice (src/simd/slice_impl.hpp). Neither ever drops a pair that passes.
//
// Work. B is stored bit-sliced, 512 filters per slice; A rows are cut into chunks of 256 that
// threads take from a shared counter, and each chunk walks B four slices (256 KiB at 1024 bits) at
// a time. Output is sorted by score descending, then A index, then B index, so it is identical for
// any thread count and backend. Memory is the two inputs, one bit-sliced copy of B (the size of B),
// and the candidates that pass — never an n × m matrix.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "pprl/bloom.hpp"

namespace pprl {

struct Threshold {
    std::uint64_t numerator = 4;
    std::uint64_t denominator = 5;

    // Exact decimal ("0.8", "0.875", "1", up to 9 decimals). Must be in (0, 1].
    static Threshold parse(const std::string& text);
    // The shortest decimal that round-trips to `value` (so 0.8 means 4/5, not 0.8000000000000000444).
    static Threshold from_double(double value);
    double value() const noexcept { return static_cast<double>(numerator) / static_cast<double>(denominator); }
    // Does |A∧B| = common with |A|+|B| = total reach the threshold?
    bool passes(std::uint64_t common, std::uint64_t total) const noexcept {
        return total > 0 && 2 * common * denominator >= numerator * total;
    }
};

// Orders two Dice scores 2c₁/t₁ and 2c₂/t₂ exactly, by cross-multiplication (c, t < 2³²): negative
// if the first is lower, zero if equal, positive if higher. Every "best first" order in pprl uses it.
constexpr int compare_scores(std::uint64_t common_x, std::uint64_t total_x, std::uint64_t common_y,
                             std::uint64_t total_y) noexcept {
    const std::uint64_t left = common_x * total_y, right = common_y * total_x;
    return left < right ? -1 : left > right ? 1 : 0;
}

struct MatchOptions {
    Threshold threshold;
    std::size_t top_k = 0;  // keep at most k best B records per A record (0: all)
    bool prune = true;      // popcount-bound pruning (exact; off only to measure it)
    unsigned threads = 0;   // 0: all hardware threads
};

// Pairs that passed, sorted by score descending, then a_index, then b_index. Indices are rows of the
// inputs as given.
struct Candidates {
    std::vector<std::uint32_t> a_index;
    std::vector<std::uint32_t> b_index;
    std::vector<std::uint32_t> common;  // |A∧B|
    std::vector<std::uint32_t> total;   // |A| + |B|

    std::size_t size() const noexcept { return a_index.size(); }
    double score(std::size_t i) const noexcept {
        return total[i] == 0 ? 0.0 : 2.0 * common[i] / static_cast<double>(total[i]);
    }
};

// Every (i, j) with Dice(a_i, b_j) ≥ threshold. Popcounts must be computed (loaders do it).
Candidates match(const FilterMatrix& a, const FilterMatrix& b, const MatchOptions& options);

// Each record's top_k on either side, in one pass: match(a, b, options) (top_k per row of a), then
// the pairs of match(b, a, options) (top_k per row of b) that it lacks, in that order and oriented
// (a, b). With top_k 0, match(a, b, options).
Candidates match_both_sides(const FilterMatrix& a, const FilterMatrix& b, const MatchOptions& options);

// One tile of a × b, for work cut into pieces (a cluster's tasks): rows [a_first, a_last) of a
// against rows [b_first, b_last) of b, as match() scores them (top_k per A row within the tile),
// with indices of the whole matrices. UsageError for a range outside its matrix.
Candidates match_tile(const FilterMatrix& a, std::size_t a_first, std::size_t a_last, const FilterMatrix& b,
                      std::size_t b_first, std::size_t b_last, const MatchOptions& options);
// The tiles' candidates as one result: top_k per A row again (0: all) and in match()'s order. Over
// any tiling of a × b into disjoint tiles that cover it, equals match(a, b, options).
Candidates gather_tiles(const std::vector<Candidates>& tiles, std::size_t top_k);

// Deduplication within one matrix: every (i, j), i < j, with Dice ≥ threshold. top_k applies per i.
Candidates match_dedup(const FilterMatrix& a, const MatchOptions& options);

// Scores the given (i, j) pairs exactly (blocking produces them) and keeps those ≥ threshold, in the
// same order as match(). Duplicates in `pairs` are scored once.
Candidates score_pairs(const FilterMatrix& a, const FilterMatrix& b,
                       std::vector<std::pair<std::uint32_t, std::uint32_t>> pairs, const MatchOptions& options);

// Dice of two rows, computed from integer counts with the active kernels.
double dice(const FilterMatrix& a, std::size_t i, const FilterMatrix& b, std::size_t j);

// Refuses (KeyMismatchError) to compare encodings of different lengths, schemas or keys. If either
// side came from a base64 import (schema or key unknown), returns a warning instead of checking that.
std::string check_comparable(const FilterMatrix& a, const FilterMatrix& b);

}  // namespace pprl
