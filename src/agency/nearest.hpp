// agency/nearest.hpp — each record's nearest records among its own filters, found once for the audit.
//
// Every attack on the filters starts from links between similar records: the attacker's threshold
// from each sampled record's nearest other, the clusters at that threshold from each record's few
// nearest, the similarity graph's edges, the near-copy counts. Each would be a top-k match of the
// filters against themselves; one match with the largest k serves them all, because top-k keeps a
// record's pairs in one strict order (score descending, then index) and the pairs that reach a
// threshold rank before those that do not.
#pragma once

#include <cstddef>

#include "pprl/bloom.hpp"
#include "pprl/match.hpp"

namespace pprl::detail {

// The threshold of the widest links: Dice ≥ 0.01.
Threshold any_similarity();

struct Nearest {
    std::size_t rows = 0, k = 0;  // k: the most links kept per record, itself included
    Candidates links;             // match()'s order: score descending, then a, then b
};

// match(filters, filters) at any_similarity() with top_k k (k ≥ 1).
Nearest nearest_records(const FilterMatrix& filters, std::size_t k);

// Exactly what match(filters, filters) gives with top_k k (1 ≤ k ≤ near.k) at a threshold `floor`
// no lower than any_similarity(): each record's first k links of `near`, those that reach floor,
// in match()'s order.
Candidates first_links(const Nearest& near, std::size_t k, const Threshold& floor);

}  // namespace pprl::detail
