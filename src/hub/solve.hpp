// hub/solve.hpp — what the linker's solvers share: the order of scored pairs and union–find.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "pprl/link.hpp"

namespace pprl::detail {

// Match weight descending where the pairs have one (Fellegi–Sunter), then score descending
// (exact), then party pair, then indices.
inline bool ranks_before(const ScoredPair& x, const ScoredPair& y) noexcept {
    if (!std::isnan(x.weight) && !std::isnan(y.weight) && x.weight != y.weight) return x.weight > y.weight;
    if (const int order = compare_scores(x.common, x.total, y.common, y.total); order != 0) return order > 0;
    if (x.party_a != y.party_a) return x.party_a < y.party_a;
    if (x.party_b != y.party_b) return x.party_b < y.party_b;
    if (x.a != y.a) return x.a < y.a;
    return x.b < y.b;
}

// Sorts pairs into ranks_before order. Record-level pairs (no weight) go by compact keys: a
// counting sort by their score's rank among the scores present, then each rank's pairs by party
// pair and indices packed in 64 bits; others are compared directly.
void sort_in_rank_order(std::vector<ScoredPair>& pairs);

// Union–find over record nodes, each set carrying a mask of the parties it holds (link keeps at
// most one record per party in an entity).
class DisjointSets {
public:
    explicit DisjointSets(std::size_t n) : parent_(n), mask_(n, 0) { std::iota(parent_.begin(), parent_.end(), 0); }
    std::size_t find(std::size_t x) {
        while (parent_[x] != x) {
            parent_[x] = parent_[parent_[x]];
            x = parent_[x];
        }
        return x;
    }
    std::uint64_t& mask(std::size_t root) { return mask_[root]; }
    // Joins the sets of x and y; the smaller index becomes the root (deterministic).
    void join(std::size_t x, std::size_t y) {
        x = find(x);
        y = find(y);
        if (x == y) return;
        if (y < x) std::swap(x, y);
        parent_[y] = x;
        mask_[x] |= mask_[y];
    }

private:
    std::vector<std::size_t> parent_;
    std::vector<std::uint64_t> mask_;
};

// What link() does once the candidates are scored: each party pair's assignment (optimal), the
// merges in score order, and the entity table. result.candidates holds the pairs at or above the
// threshold in party-pair blocks, each block in match() order, and result.party_labels is set.
void solve_links(const std::vector<const FilterMatrix*>& parties, const LinkOptions& options, LinkResult& result);
// The same up to the clusters, which it returns unnamed: for each record (numbered party by party),
// the smallest record number of its cluster. The registry (pprl/registry.hpp) calls it on
// candidates it kept from earlier runs, and names clusters by its own rules.
std::vector<std::size_t> solve_clusters(const std::vector<const FilterMatrix*>& parties, const LinkOptions& options,
                                        LinkResult& result);

}  // namespace pprl::detail
