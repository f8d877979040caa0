// src/simd/kernels.hpp — the kernel table each instruction-set translation unit fills in.
//
// Kernels take raw pointers, counts and strides; they are noexcept, allocate nothing and cannot fail.
// Only the matcher and FilterMatrix call them, through the table of the active backend.
//
// All-pairs counting is bit-sliced (see slice_impl.hpp for the algorithm and its cost). The B side
// is stored in slices of 512 filters: for slice s and bit position k, 512 bits — bit k of each of
// the slice's filters — are 8 consecutive words at slices + (s * bits + k) * 8; filter r of the slice
// is bit r % 64 of word r / 64. Bit positions k count within the little-endian 64-bit words of a
// filter (k = 64 w + b), which differs from the file's MSB-first order but only has to agree
// between the two sides. Rows past the end of B are zero filters and never pass (need ≥ 1).
#pragma once

#include <cstddef>
#include <cstdint>

namespace pprl::simd {

constexpr std::size_t slice_rows = 512;
constexpr std::size_t slice_words = slice_rows / 64;

// Limits of one job, which bound the caller's hit buffer (max_job_hits entries).
constexpr std::size_t max_job_rows = 64;
constexpr std::size_t max_job_slices = 4;
constexpr std::size_t max_job_hits = max_job_rows * max_job_slices * slice_rows;

struct SliceJob {
    // The set bit positions k of each A row as word offsets into a slice (k * slice_words), rows
    // concatenated: row r's are a_columns[a_column_offsets[r] .. a_column_offsets[r + 1]).
    const std::uint32_t* a_columns = nullptr;
    const std::uint32_t* a_column_offsets = nullptr;
    const std::uint32_t* a_popcounts = nullptr;
    std::size_t a_rows = 0;  // ≤ max_job_rows
    const std::uint64_t* slices = nullptr;
    std::size_t bits = 0;
    std::size_t slice_begin = 0, slice_end = 0;  // ≤ max_job_slices slices
    const std::uint32_t* slice_min_popcount = nullptr;  // least popcount of the real rows of a slice
    // min_common[s]: the least |A∧B| a pair with |A|+|B| = s needs to pass (non-decreasing in s).
    const std::uint32_t* min_common = nullptr;
    // Optional, per job row: a score 2c/t the row's pairs must also reach (the worst of its top k so
    // far), as floor_common[r] = c and floor_total[r] = t (t = 0: none). Null: no floors.
    const std::uint32_t* floor_common = nullptr;
    const std::uint32_t* floor_total = nullptr;
};

// A pair that passed the coarse test c ≥ min_common[|A| + least |B| of its slice]. The caller applies
// the exact test c ≥ min_common[|A| + |B|].
struct SliceHit {
    std::uint32_t a_row;   // relative to the job
    std::uint32_t b_row;   // slice * 512 + lane
    std::uint32_t common;  // |A ∧ B|
};

struct KernelTable {
    const char* name;
    std::uint64_t (*popcount)(const std::uint64_t* words, std::size_t count) noexcept;
    std::uint64_t (*and_popcount)(const std::uint64_t* a, const std::uint64_t* b, std::size_t count) noexcept;
    // Writes hits (at most max_job_hits) and returns their number.
    std::size_t (*count_slices)(const SliceJob& job, SliceHit* out) noexcept;
};

const KernelTable* generic_kernels() noexcept;
const KernelTable* popcnt_kernels() noexcept;
const KernelTable* avx2_kernels() noexcept;
const KernelTable* avx512_kernels() noexcept;

// The active matcher backend's table (dispatch.cpp); throws UsageError for a bad PPRL_FORCE_BACKEND.
const KernelTable& kernels();

}  // namespace pprl::simd
