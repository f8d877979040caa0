#include "agency/nearest.hpp"

#include <vector>

namespace pprl::detail {

Threshold any_similarity() { return Threshold::parse("0.01"); }

Nearest nearest_records(const FilterMatrix& filters, std::size_t k) {
    MatchOptions match_options;
    match_options.threshold = any_similarity();
    match_options.top_k = k;
    return Nearest{filters.rows(), k, match(filters, filters, match_options)};
}

Candidates first_links(const Nearest& near, std::size_t k, const Threshold& floor) {
    Candidates out;
    std::vector<std::size_t> taken(near.rows, 0);
    const Candidates& all = near.links;
    for (std::size_t i = 0; i < all.size(); ++i) {
        // A record's links come best first, so its first k of near are its first k of any match.
        if (taken[all.a_index[i]]++ >= k || !floor.passes(all.common[i], all.total[i])) continue;
        out.a_index.push_back(all.a_index[i]);
        out.b_index.push_back(all.b_index[i]);
        out.common.push_back(all.common[i]);
        out.total.push_back(all.total[i]);
    }
    return out;
}

}  // namespace pprl::detail
