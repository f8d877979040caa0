// hub/solve.cpp — one-to-one assignment between two parties: greedy in score order, or optimal
// (maximum total Dice) per connected component of the candidate graph by the Hungarian algorithm.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <set>

#include "hub/solve.hpp"
#include "pprl/link.hpp"

namespace pprl {
namespace {

// Components with more cells than this (rows × columns of the assignment matrix) are solved
// greedily: the Hungarian algorithm is O(n³), and a component this large means a threshold so low
// that most pairs in it are noise.
constexpr std::size_t max_optimal_cells = 4'000'000;

using detail::DisjointSets;
using detail::ranks_before;

// Maximum-weight assignment of a dense rows × cols matrix (rows ≤ cols), weights ≥ 0, by the
// Hungarian algorithm on costs −weight (potentials formulation, O(rows² · cols)). Returns the column
// of each row.
std::vector<std::size_t> hungarian(const std::vector<double>& weight, std::size_t rows, std::size_t cols) {
    const double inf = std::numeric_limits<double>::infinity();
    std::vector<double> u(rows + 1, 0), v(cols + 1, 0);
    std::vector<std::size_t> p(cols + 1, 0), way(cols + 1, 0);
    for (std::size_t i = 1; i <= rows; ++i) {
        p[0] = i;
        std::size_t j0 = 0;
        std::vector<double> minv(cols + 1, inf);
        std::vector<char> used(cols + 1, 0);
        do {
            used[j0] = 1;
            const std::size_t i0 = p[j0];
            double delta = inf;
            std::size_t j1 = 0;
            for (std::size_t j = 1; j <= cols; ++j) {
                if (used[j]) continue;
                const double cost = -weight[(i0 - 1) * cols + (j - 1)];
                const double cur = cost - u[i0] - v[j];
                if (cur < minv[j]) {
                    minv[j] = cur;
                    way[j] = j0;
                }
                if (minv[j] < delta) {
                    delta = minv[j];
                    j1 = j;
                }
            }
            for (std::size_t j = 0; j <= cols; ++j) {
                if (used[j]) {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
        } while (p[j0] != 0);
        do {
            const std::size_t j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
        } while (j0 != 0);
    }
    std::vector<std::size_t> column(rows, cols);
    for (std::size_t j = 1; j <= cols; ++j)
        if (p[j] != 0) column[p[j] - 1] = j - 1;
    return column;
}

}  // namespace

std::vector<std::size_t> assign_greedy(const std::vector<ScoredPair>& pairs) {
    std::vector<std::size_t> order(pairs.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return ranks_before(pairs[x], pairs[y]); });
    std::set<std::pair<std::uint32_t, std::uint32_t>> used;  // (party, record)
    std::vector<std::size_t> chosen;
    for (std::size_t k : order) {
        const ScoredPair& p = pairs[k];
        if (used.count({p.party_a, p.a}) || used.count({p.party_b, p.b})) continue;
        used.insert({p.party_a, p.a});
        used.insert({p.party_b, p.b});
        chosen.push_back(k);
    }
    std::sort(chosen.begin(), chosen.end());
    return chosen;
}

std::vector<std::size_t> assign_optimal(const std::vector<ScoredPair>& pairs) {
    // Nodes: (party, record) on either side; components of the candidate graph are solved alone.
    std::vector<std::pair<std::uint32_t, std::uint32_t>> nodes;
    for (const auto& p : pairs) {
        nodes.push_back({p.party_a, p.a});
        nodes.push_back({p.party_b, p.b});
    }
    std::sort(nodes.begin(), nodes.end());
    nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
    auto node_of = [&](std::uint32_t party, std::uint32_t record) {
        return static_cast<std::size_t>(std::lower_bound(nodes.begin(), nodes.end(), std::make_pair(party, record)) -
                                        nodes.begin());
    };
    DisjointSets sets(nodes.size());
    std::vector<std::size_t> left(pairs.size()), right(pairs.size());
    for (std::size_t k = 0; k < pairs.size(); ++k) {
        left[k] = node_of(pairs[k].party_a, pairs[k].a);
        right[k] = node_of(pairs[k].party_b, pairs[k].b);
        sets.join(left[k], right[k]);
    }
    std::vector<std::vector<std::size_t>> components(nodes.size());
    for (std::size_t k = 0; k < pairs.size(); ++k) components[sets.find(left[k])].push_back(k);
    std::vector<std::size_t> chosen;
    for (const auto& edges : components) {
        if (edges.empty()) continue;
        if (edges.size() == 1) {
            chosen.push_back(edges[0]);
            continue;
        }
        std::vector<std::size_t> rows, cols;
        for (std::size_t k : edges) {
            rows.push_back(left[k]);
            cols.push_back(right[k]);
        }
        std::sort(rows.begin(), rows.end());
        rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
        std::sort(cols.begin(), cols.end());
        cols.erase(std::unique(cols.begin(), cols.end()), cols.end());
        if (rows.size() * cols.size() > max_optimal_cells) {
            std::vector<ScoredPair> part;
            for (std::size_t k : edges) part.push_back(pairs[k]);
            for (std::size_t i : assign_greedy(part)) chosen.push_back(edges[i]);
            continue;
        }
        const bool transposed = rows.size() > cols.size();
        const std::size_t n_rows = transposed ? cols.size() : rows.size();
        const std::size_t n_cols = transposed ? rows.size() : cols.size();
        std::vector<double> weight(n_rows * n_cols, 0.0);
        std::vector<std::size_t> edge_at(n_rows * n_cols, SIZE_MAX);
        for (std::size_t k : edges) {
            std::size_t r = static_cast<std::size_t>(std::lower_bound(rows.begin(), rows.end(), left[k]) - rows.begin());
            std::size_t c = static_cast<std::size_t>(std::lower_bound(cols.begin(), cols.end(), right[k]) - cols.begin());
            if (transposed) std::swap(r, c);
            // Under Fellegi–Sunter the total match probability (the expected number of true links).
            weight[r * n_cols + c] = std::isnan(pairs[k].weight) ? pairs[k].score() : 1.0 / (1.0 + std::exp2(-pairs[k].weight));
            edge_at[r * n_cols + c] = k;
        }
        const auto column = hungarian(weight, n_rows, n_cols);
        for (std::size_t r = 0; r < n_rows; ++r)
            if (column[r] < n_cols && edge_at[r * n_cols + column[r]] != SIZE_MAX)
                chosen.push_back(edge_at[r * n_cols + column[r]]);
    }
    std::sort(chosen.begin(), chosen.end());
    return chosen;
}

void detail::sort_in_rank_order(std::vector<ScoredPair>& pairs) {
    // The fast path needs record-level pairs (no weights) whose indices pack into 64 bits and whose
    // counts index a small table; anything else is sorted by ranks_before directly.
    constexpr std::uint32_t max_packed_index = 1u << 26, max_table_total = 4096;
    std::uint32_t max_total = 0;
    bool plain = pairs.size() >= 4096;
    for (const ScoredPair& pair : pairs) {
        plain = plain && std::isnan(pair.weight) && pair.party_a < 64 && pair.party_b < 64 && pair.a < max_packed_index &&
                pair.b < max_packed_index && 2 * std::uint64_t{pair.common} <= pair.total && pair.total <= max_table_total;
        max_total = std::max(max_total, pair.total);
    }
    if (!plain) {
        std::sort(pairs.begin(), pairs.end(), ranks_before);
        return;
    }
    // Each distinct (common, total): its place in a table, then the rank of its score among all the
    // scores present (0 the best; equal scores, equal ranks).
    const std::size_t width = std::size_t{max_total} + 1;
    constexpr std::uint32_t absent = std::numeric_limits<std::uint32_t>::max();
    std::vector<std::uint32_t> rank((std::size_t{max_total} / 2 + 1) * width, absent);
    std::vector<std::pair<std::uint32_t, std::uint32_t>> counts;  // (common, total), distinct
    for (const ScoredPair& pair : pairs) {
        std::uint32_t& slot = rank[std::size_t{pair.common} * width + pair.total];
        if (slot == absent) {
            slot = 0;
            counts.emplace_back(pair.common, pair.total);
        }
    }
    std::sort(counts.begin(), counts.end(), [](const auto& x, const auto& y) {
        return compare_scores(x.first, x.second, y.first, y.second) > 0;
    });
    std::uint32_t next = 0;
    for (std::size_t k = 0; k < counts.size(); ++k) {
        if (k > 0 && compare_scores(counts[k].first, counts[k].second, counts[k - 1].first, counts[k - 1].second) != 0) ++next;
        rank[std::size_t{counts[k].first} * width + counts[k].second] = next;
    }
    // Keys (party pair and indices packed in that order, and the counts) placed by score rank, a
    // counting sort; then each rank's keys sorted by their packed indices; then the pairs written
    // back from the keys.
    struct Key {
        std::uint64_t packed;         // party_a (6 bits), party_b (6), a (26), b (26)
        std::uint16_t common, total;  // both at most max_table_total
    };
    std::vector<std::size_t> start(std::size_t{next} + 2, 0);
    for (const ScoredPair& pair : pairs) ++start[std::size_t{rank[std::size_t{pair.common} * width + pair.total]} + 1];
    for (std::size_t r = 1; r < start.size(); ++r) start[r] += start[r - 1];
    std::vector<Key> keys(pairs.size());
    {
        std::vector<std::size_t> fill(start.begin(), start.end() - 1);
        for (const ScoredPair& pair : pairs)
            keys[fill[rank[std::size_t{pair.common} * width + pair.total]]++] =
                Key{std::uint64_t{pair.party_a} << 58 | std::uint64_t{pair.party_b} << 52 | std::uint64_t{pair.a} << 26 | pair.b,
                    static_cast<std::uint16_t>(pair.common), static_cast<std::uint16_t>(pair.total)};
    }
    for (std::size_t r = 0; r + 1 < start.size(); ++r)
        std::sort(keys.begin() + static_cast<std::ptrdiff_t>(start[r]), keys.begin() + static_cast<std::ptrdiff_t>(start[r + 1]),
                  [](const Key& x, const Key& y) { return x.packed < y.packed; });
    constexpr std::uint64_t index_mask = max_packed_index - 1;
    for (std::size_t k = 0; k < pairs.size(); ++k) {
        const Key& key = keys[k];
        pairs[k] = ScoredPair{static_cast<std::uint32_t>(key.packed >> 58), static_cast<std::uint32_t>(key.packed >> 26 & index_mask),
                              static_cast<std::uint32_t>(key.packed >> 52 & 63), static_cast<std::uint32_t>(key.packed & index_mask),
                              key.common, key.total};
    }
}

}  // namespace pprl
