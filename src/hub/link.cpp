#include "pprl/link.hpp"

#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <set>

#include "hub/solve.hpp"
#include "pprl/error.hpp"

namespace pprl {
namespace {

constexpr std::size_t max_parties = 64;

using detail::DisjointSets;
using detail::ranks_before;

std::string entity_id(std::vector<std::pair<std::string, std::string>> members) {
    std::sort(members.begin(), members.end());
    XXH3_state_t* state = XXH3_createState();
    if (state == nullptr) throw std::bad_alloc();
    XXH3_64bits_reset(state);
    for (const auto& [party, record] : members) {
        XXH3_64bits_update(state, party.data(), party.size() + 1);  // includes the terminating NUL
        XXH3_64bits_update(state, record.data(), record.size() + 1);
    }
    const std::uint64_t hash = XXH3_64bits_digest(state);
    XXH3_freeState(state);
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
    return text;
}

std::vector<ScoredPair> to_scored(const Candidates& c, std::uint32_t party_a, std::uint32_t party_b) {
    std::vector<ScoredPair> out;
    out.reserve(c.size());
    for (std::size_t i = 0; i < c.size(); ++i)
        out.push_back(ScoredPair{party_a, c.a_index[i], party_b, c.b_index[i], c.common[i], c.total[i]});
    return out;
}

}  // namespace

std::vector<std::string> party_labels(const std::vector<const FilterMatrix*>& parties) {
    std::vector<std::string> labels;
    for (std::size_t p = 0; p < parties.size(); ++p) {
        const std::string& label = parties[p]->info().party;
        labels.push_back(label.empty() ? "party" + std::to_string(p + 1) : label);
    }
    for (std::size_t p = 0; p < labels.size(); ++p)
        for (std::size_t q = p + 1; q < labels.size(); ++q)
            if (labels[p] == labels[q])
                throw UsageError("two inputs have the party label '" + labels[p] +
                                 "'; entities must name each party uniquely (give each input its own party label)");
    return labels;
}

namespace {

// Every candidate pair of every party pair (one party: its own pairs, i < j), and whether each may
// become a link: all of them for greedy, each party pair's optimal assignment for optimal.
std::vector<char> score_candidates(const std::vector<const FilterMatrix*>& parties, const LinkOptions& options,
                                   LinkResult& result) {
    std::vector<char> eligible;
    MatchOptions match_options;
    match_options.threshold = options.threshold;
    match_options.threads = options.threads;
    if (parties.size() == 1) {
        const FilterMatrix& only = *parties[0];
        result.possible_pairs = static_cast<std::uint64_t>(only.rows()) * (only.rows() > 0 ? only.rows() - 1 : 0) / 2;
        result.comparisons = result.possible_pairs;
        result.candidates = to_scored(match_dedup(only, match_options), 0, 0);
        eligible.assign(result.candidates.size(), 1);
        return eligible;
    }
    for (std::uint32_t p = 0; p < parties.size(); ++p)
        for (std::uint32_t q = p + 1; q < parties.size(); ++q) {
            const FilterMatrix& a = *parties[p];
            const FilterMatrix& b = *parties[q];
            result.possible_pairs += static_cast<std::uint64_t>(a.rows()) * b.rows();
            std::vector<ScoredPair> found;
            if (options.blocking) {
                LshOptions lsh = options.lsh;
                lsh.threads = options.threads;
                auto proposed = lsh_pairs(a, b, lsh);
                result.comparisons += proposed.size();
                if (options.keep_blocked_pairs) result.blocked_pairs.push_back(proposed);
                found = to_scored(score_pairs(a, b, std::move(proposed), match_options), p, q);
            } else {
                result.comparisons += static_cast<std::uint64_t>(a.rows()) * b.rows();
                found = to_scored(match(a, b, match_options), p, q);
            }
            std::vector<char> allowed(found.size(), options.method == LinkMethod::greedy ? 1 : 0);
            if (options.method == LinkMethod::optimal)
                for (std::size_t k : assign_optimal(found)) allowed[k] = 1;
            result.candidates.insert(result.candidates.end(), found.begin(), found.end());
            eligible.insert(eligible.end(), allowed.begin(), allowed.end());
        }
    return eligible;
}

// Merges eligible candidates in score order; between parties a merge must not put two records of
// one party in a cluster (a deduplication has no such rule). Leaves the candidates in score order
// with `linked` set, and returns the clusters over records numbered party by party (`offset`).
DisjointSets merge_in_score_order(const std::vector<const FilterMatrix*>& parties, const std::vector<char>& eligible,
                                  const std::vector<std::size_t>& offset, LinkResult& result) {
    const bool dedup = parties.size() == 1;
    DisjointSets sets(offset.back());
    for (std::size_t p = 0; p < parties.size(); ++p)
        for (std::size_t r = offset[p]; r < offset[p + 1]; ++r) sets.mask(r) = std::uint64_t{1} << p;
    std::vector<std::size_t> order(result.candidates.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) {
        return ranks_before(result.candidates[x], result.candidates[y]);
    });
    std::vector<ScoredPair> sorted;
    std::vector<char> linked;
    sorted.reserve(order.size());
    linked.reserve(order.size());
    for (std::size_t k : order) {
        const ScoredPair& pair = result.candidates[k];
        sorted.push_back(pair);
        linked.push_back(0);
        if (!eligible[k]) continue;
        const std::size_t x = sets.find(offset[pair.party_a] + pair.a), y = sets.find(offset[pair.party_b] + pair.b);
        if (x == y) continue;
        if (!dedup && (sets.mask(x) & sets.mask(y)) != 0) continue;
        sets.join(x, y);
        linked.back() = 1;
    }
    result.candidates.swap(sorted);
    result.linked.swap(linked);
    return sets;
}

// One row per record, party by party; each cluster named by a hash of its (party label, record id)s,
// with a suffix in the (astronomically unlikely) case two clusters hash alike.
EntityTable name_entities(const std::vector<const FilterMatrix*>& parties, const std::vector<std::string>& labels,
                          const std::vector<std::size_t>& offset, DisjointSets& sets) {
    std::vector<std::vector<std::pair<std::string, std::string>>> members(offset.back());
    std::vector<std::size_t> root(offset.back());
    for (std::size_t p = 0; p < parties.size(); ++p)
        for (std::size_t r = 0; r < parties[p]->rows(); ++r) {
            root[offset[p] + r] = sets.find(offset[p] + r);
            members[root[offset[p] + r]].push_back({labels[p], parties[p]->ids()[r]});
        }
    std::vector<std::string> name(offset.back());
    std::set<std::string> taken;
    for (std::size_t node = 0; node < offset.back(); ++node) {
        if (members[node].empty()) continue;
        std::string id = entity_id(members[node]);
        for (int suffix = 2; !taken.insert(id).second; ++suffix) id = entity_id(members[node]) + "-" + std::to_string(suffix);
        name[node] = id;
    }
    EntityTable table;
    for (std::size_t p = 0; p < parties.size(); ++p)
        for (std::size_t r = 0; r < parties[p]->rows(); ++r) {
            table.party.push_back(static_cast<std::uint32_t>(p));
            table.record.push_back(static_cast<std::uint32_t>(r));
            table.entity_id.push_back(name[root[offset[p] + r]]);
        }
    return table;
}

}  // namespace

LinkResult link(const std::vector<const FilterMatrix*>& parties, const LinkOptions& options) {
    if (parties.empty()) throw UsageError("link needs at least one party");
    if (parties.size() > max_parties) throw UsageError("link handles at most 64 parties");
    LinkResult result;
    for (std::size_t p = 0; p < parties.size(); ++p)
        for (std::size_t q = p + 1; q < parties.size(); ++q)
            if (std::string warning = check_comparable(*parties[p], *parties[q]); !warning.empty())
                result.warnings.push_back(std::move(warning));
    result.party_labels = party_labels(parties);
    const std::vector<char> eligible = score_candidates(parties, options, result);
    std::vector<std::size_t> offset(parties.size() + 1, 0);
    for (std::size_t p = 0; p < parties.size(); ++p) offset[p + 1] = offset[p] + parties[p]->rows();
    DisjointSets sets = merge_in_score_order(parties, eligible, offset, result);
    result.entities = name_entities(parties, result.party_labels, offset, sets);
    return result;
}

}  // namespace pprl
