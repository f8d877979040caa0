// src/simd/kernels.hpp — the kernel table each instruction-set translation unit fills in.
//
// Kernels take raw pointers, word counts and strides; they are noexcept, allocate nothing and cannot
// fail. Only the matcher and FilterMatrix call them, through the table of the active backend.
//
// Panels. The all-pairs kernel reads the B side "transposed" in panels of 8 filters: panel p holds
// word w of its 8 filters contiguously at panel + p * words * 8 + w * 8 + lane. One 512-bit load then
// carries the same word of 8 different filters, so a single AND with a broadcast A word and a
// VPOPCNTQ update 8 pair counts at once, with no horizontal reduction. Rows past the end of B are
// zero filters; they can never pass the threshold test (min_common ≥ 1 whenever |A| + |B| > 0).
#pragma once

#include <cstddef>
#include <cstdint>

namespace pprl::simd {

constexpr std::size_t panel_lanes = 8;

// Most A rows a tile job may hold. The matcher sizes its hit buffers from it.
constexpr std::size_t max_tile_a_rows = 64;

struct TileJob {
    const std::uint64_t* a = nullptr;  // first A row; rows a_stride_words apart
    std::size_t a_stride_words = 0;
    std::size_t a_rows = 0;            // ≤ max_tile_a_rows
    const std::uint32_t* a_popcounts = nullptr;
    const std::uint64_t* panels = nullptr;  // all B panels
    std::size_t words = 0;                  // words per filter
    std::size_t panel_begin = 0, panel_end = 0;
    const std::uint32_t* panel_min_popcount = nullptr;  // least popcount of the real rows of a panel
    // min_common[s]: the least |A∧B| a pair with |A|+|B| = s needs to reach the threshold
    // (non-decreasing in s; larger than any count where no pair can pass).
    const std::uint32_t* min_common = nullptr;
};

// A pair that passed the coarse test c ≥ min_common[|A| + least |B| of its panel]. The caller applies
// the exact test c ≥ min_common[|A| + |B|].
struct TileHit {
    std::uint32_t a_row;     // relative to TileJob::a
    std::uint32_t b_row;     // panel * 8 + lane
    std::uint32_t common;    // |A ∧ B|
};

struct KernelTable {
    const char* name;
    std::uint64_t (*popcount)(const std::uint64_t* words, std::size_t count) noexcept;
    std::uint64_t (*and_popcount)(const std::uint64_t* a, const std::uint64_t* b, std::size_t count) noexcept;
    // Writes hits and returns their number; `out` must hold a_rows * (panel_end - panel_begin) * 8.
    std::size_t (*count_tile)(const TileJob& job, TileHit* out) noexcept;
};

const KernelTable* generic_kernels() noexcept;
const KernelTable* scalar_kernels() noexcept;
const KernelTable* avx2_kernels() noexcept;
const KernelTable* avx512_kernels() noexcept;

// The active backend's table (dispatch.cpp).
const KernelTable& kernels();

}  // namespace pprl::simd
