// The baseline the matcher is measured against, built the way anonlink's C++ kernel works: for each
// A filter, a loop over every B filter with an unrolled scalar POPCNT of A∧B (16 words at 1024 bits),
// the popcount sum, a double-precision Dice and a compare — no tiling, no SIMD, no pruning. Compiled
// with -mpopcnt, as anonlink's extension is, so the popcounts are single instructions.
#include "anonlink_baseline.hpp"

namespace pprl::bench {

std::size_t anonlink_style_match(const FilterMatrix& a, const FilterMatrix& b, double threshold,
                                 std::vector<std::pair<std::uint32_t, std::uint32_t>>& out) {
    const std::size_t words = a.words();
    const auto& a_pop = a.popcounts();
    const auto& b_pop = b.popcounts();
    for (std::size_t i = 0; i < a.rows(); ++i) {
        const std::uint64_t* x = a.row_words(i);
        for (std::size_t j = 0; j < b.rows(); ++j) {
            const std::uint64_t* y = b.row_words(j);
            std::uint64_t c0 = 0, c1 = 0, c2 = 0, c3 = 0;
            std::size_t w = 0;
            for (; w + 4 <= words; w += 4) {
                c0 += static_cast<std::uint64_t>(__builtin_popcountll(x[w] & y[w]));
                c1 += static_cast<std::uint64_t>(__builtin_popcountll(x[w + 1] & y[w + 1]));
                c2 += static_cast<std::uint64_t>(__builtin_popcountll(x[w + 2] & y[w + 2]));
                c3 += static_cast<std::uint64_t>(__builtin_popcountll(x[w + 3] & y[w + 3]));
            }
            for (; w < words; ++w) c0 += static_cast<std::uint64_t>(__builtin_popcountll(x[w] & y[w]));
            const std::uint64_t total = a_pop[i] + b_pop[j];
            const double score = total == 0 ? 0.0 : 2.0 * static_cast<double>(c0 + c1 + c2 + c3) / static_cast<double>(total);
            if (score >= threshold) out.emplace_back(static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(j));
        }
    }
    return out.size();
}

}  // namespace pprl::bench
