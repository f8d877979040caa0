// Data generators shared by the benchmarks.
#pragma once

#include <random>
#include <string>
#include <vector>

#include "pprl/bloom.hpp"

namespace pprl::bench {

// CLK-like filters: each row sets `target` positions drawn uniformly (with collisions), target drawn
// from a normal distribution around 26% fill with a 3% spread — the popcount profile of the example
// schema's 1024-bit encodings of youth records (see `pprl inspect` on the demo output).
inline FilterMatrix clk_like(std::size_t rows, unsigned bits, std::uint64_t seed, const std::string& prefix) {
    FilterMatrix m(rows, bits);
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> fill(0.26 * bits, 0.03 * bits);
    std::uniform_int_distribution<unsigned> position(0, bits - 1);
    m.ids().reserve(rows);
    for (std::size_t i = 0; i < rows; ++i) {
        const int target = std::max(1, static_cast<int>(fill(rng)));
        auto* row = m.mutable_row_words(i);
        for (int k = 0; k < target; ++k) FilterMatrix::set_bit(row, position(rng));
        m.ids().push_back(prefix + std::to_string(i));
    }
    m.compute_popcounts();
    return m;
}

// B's first `copies` rows become noisy versions of A's rows: about 8% of A's set bits cleared and
// as many random bits set, which gives Dice ≈ 0.9 — a typo or two in a name.
inline void plant_matches(const FilterMatrix& a, FilterMatrix& b, std::size_t copies, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<unsigned> position(0, a.bits() - 1);
    for (std::size_t i = 0; i < copies && i < a.rows() && i < b.rows(); ++i) {
        auto* row = b.mutable_row_words(i);
        for (std::size_t w = 0; w < a.words(); ++w) row[w] = a.row_words(i)[w];
        const unsigned changes = a.popcounts()[i] * 8 / 100;
        for (unsigned c = 0; c < changes; ++c) {
            const unsigned clear = position(rng);
            row[clear / 64] &= ~(std::uint64_t{1} << (((clear / 8) % 8) * 8 + (7 - clear % 8)));
            FilterMatrix::set_bit(row, position(rng));
        }
    }
    b.compute_popcounts();
}

}  // namespace pprl::bench
