#include "pprl/link.hpp"

#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <set>
#include <unordered_set>

#include "hub/solve.hpp"
#include "simd/kernels.hpp"
#include "pprl/model.hpp"
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

// Every candidate pair of every party pair (one party: its own pairs, i < j), in party-pair order.
// `match_options` decides which: the threshold's pairs, or the loose candidates a model needs.
// With `both_sides` and a top k, each record of either party brings its k best.
void score_candidates(const std::vector<const FilterMatrix*>& parties, const LinkOptions& options,
                      const MatchOptions& match_options, LinkResult& result, bool both_sides = false) {
    if (parties.size() == 1) {
        const FilterMatrix& only = *parties[0];
        result.possible_pairs = static_cast<std::uint64_t>(only.rows()) * (only.rows() > 0 ? only.rows() - 1 : 0) / 2;
        result.comparisons = result.possible_pairs;
        result.candidates = to_scored(match_dedup(only, match_options), 0, 0);
        return;
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
                // Each side's best, with both_sides: the other party's top k as well, without repeats.
                found = to_scored(both_sides ? match_both_sides(a, b, match_options) : match(a, b, match_options), p, q);
            }
            result.candidates.insert(result.candidates.end(), found.begin(), found.end());
        }
}

// Keeps the candidates (and their levels) for which keep(k) holds, in order.
template <class Keep>
void keep_candidates(LinkResult& result, std::size_t segments, Keep keep) {
    std::size_t out = 0;
    for (std::size_t k = 0; k < result.candidates.size(); ++k) {
        if (!keep(k)) continue;
        result.candidates[out] = result.candidates[k];
        for (std::size_t s = 0; s < segments; ++s) result.levels[out * segments + s] = result.levels[k * segments + s];
        ++out;
    }
    result.candidates.resize(out);
    result.levels.resize(out * segments);
}

// Up to six candidates on each side of the probability threshold, closest first, for reports.
void keep_near_threshold(LinkResult& result, const PairLevels& levels, const std::vector<double>& probability) {
    std::vector<std::size_t> above, below;
    for (std::size_t k = 0; k < probability.size(); ++k) (probability[k] >= result.threshold ? above : below).push_back(k);
    auto closest = [&](std::vector<std::size_t>& side) {
        const std::size_t keep = std::min<std::size_t>(6, side.size());
        std::partial_sort(side.begin(), side.begin() + static_cast<std::ptrdiff_t>(keep), side.end(),
                          [&](std::size_t x, std::size_t y) {
                              const double dx = std::abs(probability[x] - result.threshold);
                              const double dy = std::abs(probability[y] - result.threshold);
                              return dx != dy ? dx < dy : x < y;
                          });
        side.resize(keep);
    };
    closest(above);
    closest(below);
    for (const auto* side : {&above, &below})
        for (std::size_t k : *side) {
            result.near_threshold.push_back(result.candidates[k]);
            result.near_threshold_levels.insert(result.near_threshold_levels.end(), &levels.levels[k * levels.segments],
                                                &levels.levels[(k + 1) * levels.segments]);
        }
}

// The Fellegi–Sunter model fitted on the loose candidates; each candidate weighted, and those below
// the (chosen or given) probability threshold dropped.
void apply_fellegi_sunter(const std::vector<const FilterMatrix*>& parties, const LinkOptions& options,
                          LinkResult& result) {
    PairLevels levels = pair_levels(parties, result.candidates, options.threads);
    ModelOptions model_options;
    model_options.random_pairs = options.model_random_pairs;
    auto model = std::make_shared<FellegiSunterModel>(fit_fellegi_sunter(parties, result.candidates, levels, model_options));
    std::vector<double> probability(result.candidates.size()), weights(result.candidates.size());
    for (std::size_t k = 0; k < result.candidates.size(); ++k) {
        weights[k] = result.candidates[k].weight = model->weight(&levels.levels[k * levels.segments]);
        probability[k] = FellegiSunterModel::probability(result.candidates[k].weight);
    }
    result.estimated_threshold =
        FellegiSunterModel::probability(estimate_threshold(result.candidates, parties, weights));
    result.threshold = options.auto_threshold ? result.estimated_threshold : options.threshold.value();
    result.candidate_scores = weights;
    keep_near_threshold(result, levels, probability);
    result.levels = std::move(levels.levels);
    result.fitted = std::move(model);
    keep_candidates(result, parties.front()->info().layout.size(),
                    [&](std::size_t k) { return probability[k] >= result.threshold; });
}

// Which candidates may become links: all of them for greedy, each party pair's optimal assignment
// for optimal. The candidates are in party-pair order.
std::vector<char> eligible_candidates(const LinkOptions& options, const LinkResult& result) {
    std::vector<char> eligible(result.candidates.size(), options.method == LinkMethod::greedy ? 1 : 0);
    if (options.method == LinkMethod::greedy) return eligible;
    for (std::size_t first = 0; first < result.candidates.size();) {
        std::size_t last = first;
        while (last < result.candidates.size() && result.candidates[last].party_a == result.candidates[first].party_a &&
               result.candidates[last].party_b == result.candidates[first].party_b)
            ++last;
        const bool dedup = result.candidates[first].party_a == result.candidates[first].party_b;
        if (dedup) {
            std::fill(eligible.begin() + first, eligible.begin() + last, 1);
        } else {
            const std::vector<ScoredPair> block(result.candidates.begin() + first, result.candidates.begin() + last);
            for (std::size_t k : assign_optimal(block)) eligible[first + k] = 1;
        }
        first = last;
    }
    return eligible;
}

// Merges eligible candidates in score order; between parties a merge must not put two records of
// one party in a cluster (a deduplication has no such rule). Leaves the candidates in score order
// with `linked` set, and returns the clusters over records numbered party by party (`offset`).
DisjointSets merge_in_score_order(const std::vector<const FilterMatrix*>& parties, const std::vector<char>& eligible,
                                  const std::vector<std::size_t>& offset, MergeRule rule, LinkResult& result) {
    const bool dedup = parties.size() == 1;
    DisjointSets sets(offset.back());
    // The clique rule: each cluster's members as a circular list (next_member), and the eligible
    // pairs met so far, so a merge can check that every pair across the two clusters is one of them.
    const bool clique = rule == MergeRule::clique && !dedup;
    std::vector<std::size_t> next_member(clique ? offset.back() : 0);
    std::iota(next_member.begin(), next_member.end(), 0);
    std::unordered_set<std::uint64_t> met;
    const auto pair_key = [](std::size_t u, std::size_t v) {
        return (static_cast<std::uint64_t>(std::min(u, v)) << 32) | std::max(u, v);
    };
    const auto every_pair_met = [&](std::size_t x, std::size_t y) {
        std::size_t u = x;
        do {
            std::size_t v = y;
            do {
                if (!met.count(pair_key(u, v))) return false;
                v = next_member[v];
            } while (v != y);
            u = next_member[u];
        } while (u != x);
        return true;
    };
    for (std::size_t p = 0; p < parties.size(); ++p)
        for (std::size_t r = offset[p]; r < offset[p + 1]; ++r) sets.mask(r) = std::uint64_t{1} << p;
    // Merges on one pair if the rules allow; true if it did.
    const auto merge = [&](const ScoredPair& pair) {
        const std::size_t u = offset[pair.party_a] + pair.a, v = offset[pair.party_b] + pair.b;
        const std::size_t x = sets.find(u), y = sets.find(v);
        if (clique) met.insert(pair_key(u, v));
        if (x == y) return false;
        if (!dedup && (sets.mask(x) & sets.mask(y)) != 0) return false;
        if (clique) {
            if (!every_pair_met(u, v)) return false;
            std::swap(next_member[u], next_member[v]);  // splices the two circular lists into one
        }
        sets.join(x, y);
        return true;
    };
    const std::size_t n = result.candidates.size();
    if (result.levels.empty() && std::all_of(eligible.begin(), eligible.end(), [](char e) { return e != 0; })) {
        // Every candidate eligible and no levels to carry: the pairs themselves are sorted, in place
        // (contiguous, and nothing if they come sorted, as the registry passes them).
        if (!std::is_sorted(result.candidates.begin(), result.candidates.end(), ranks_before))
            detail::sort_in_rank_order(result.candidates);
        result.linked.assign(n, 0);
        for (std::size_t k = 0; k < n; ++k) result.linked[k] = merge(result.candidates[k]);
        return sets;
    }
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) {
        return ranks_before(result.candidates[x], result.candidates[y]);
    });
    std::vector<ScoredPair> sorted;
    std::vector<char> linked;
    sorted.reserve(n);
    linked.reserve(n);
    for (std::size_t k : order) {
        sorted.push_back(result.candidates[k]);
        linked.push_back(eligible[k] && merge(result.candidates[k]));
    }
    result.candidates.swap(sorted);
    result.linked.swap(linked);
    if (!result.levels.empty()) {
        const std::size_t segments = result.levels.size() / order.size();
        std::vector<std::uint8_t> levels(result.levels.size());
        for (std::size_t k = 0; k < order.size(); ++k)
            std::copy_n(&result.levels[order[k] * segments], segments, &levels[k * segments]);
        result.levels.swap(levels);
    }
    return sets;
}

// One row per record, party by party; each cluster named by a hash of its (party label, record id)s,
// with a suffix in the (astronomically unlikely) case two clusters hash alike.
EntityTable name_entities(const std::vector<const FilterMatrix*>& parties, const std::vector<std::string>& labels,
                          const std::vector<std::size_t>& offset, const std::vector<std::size_t>& root) {
    std::vector<std::vector<std::pair<std::string, std::string>>> members(offset.back());
    for (std::size_t p = 0; p < parties.size(); ++p)
        for (std::size_t r = 0; r < parties[p]->rows(); ++r) members[root[offset[p] + r]].push_back({labels[p], parties[p]->ids()[r]});
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

double estimate_record_threshold(const std::vector<const FilterMatrix*>& parties, const LinkOptions& options,
                                 std::size_t sample_rows) {
    // Every party but the last is sampled evenly (rows of the first party of each pair). Within one
    // party a sample holds too few duplicates to estimate from: no estimate (NaN).
    if (parties.size() < 2) return std::numeric_limits<double>::quiet_NaN();
    std::vector<FilterMatrix> samples;
    samples.reserve(parties.size());
    for (std::size_t p = 0; p < parties.size(); ++p) {
        const FilterMatrix& full = *parties[p];
        const bool sampled = p + 1 < parties.size();
        const std::size_t rows = sampled ? std::min(sample_rows, full.rows()) : full.rows();
        std::vector<std::size_t> picked(rows);
        for (std::size_t r = 0; r < rows; ++r) picked[r] = rows == full.rows() ? r : r * full.rows() / rows;
        samples.push_back(full.copy_rows(picked));
    }
    MatchOptions match_options;
    match_options.threads = options.threads;
    match_options.threshold = options.candidate_floor;
    match_options.top_k = 2;
    std::vector<ScoredPair> pairs;
    std::vector<ScoredPair> other_side;
    for (std::uint32_t p = 0; p < parties.size(); ++p)
        for (std::uint32_t q = p + 1; q < parties.size(); ++q) {
            const std::vector<ScoredPair> found = to_scored(match(samples[p], *parties[q], match_options), p, q);
            pairs.insert(pairs.end(), found.begin(), found.end());
            // The sampled records' candidates against the whole first party: their own best.
            std::vector<std::size_t> rows;
            for (const ScoredPair& pair : found) rows.push_back(pair.b);
            std::sort(rows.begin(), rows.end());
            rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
            const FilterMatrix candidates = parties[q]->copy_rows(rows);
            MatchOptions best_options = match_options;
            best_options.top_k = 1;
            const Candidates best = match(candidates, *parties[p], best_options);
            for (std::size_t k = 0; k < best.size(); ++k)
                other_side.push_back(
                    ScoredPair{p, 0, q, static_cast<std::uint32_t>(rows[best.a_index[k]]), best.common[k], best.total[k]});
        }
    std::vector<double> scores(pairs.size()), other_scores(other_side.size());
    for (std::size_t k = 0; k < pairs.size(); ++k) scores[k] = pairs[k].score();
    for (std::size_t k = 0; k < other_side.size(); ++k) other_scores[k] = other_side[k].score();
    std::vector<std::size_t> first_rows, other_rows;
    for (std::size_t p = 0; p < parties.size(); ++p) {
        first_rows.push_back(samples[p].rows());
        other_rows.push_back(parties[p]->rows());
    }
    return estimate_threshold(pairs, first_rows, other_rows, scores, other_side, other_scores);
}

namespace {

// A result for these parties with their labels and comparison warnings, once they are checked:
// one to 64 parties, comparable, uniquely labelled.
LinkResult checked_parties(const std::vector<const FilterMatrix*>& parties) {
    if (parties.empty()) throw UsageError("link needs at least one party");
    if (parties.size() > max_parties) throw UsageError("link handles at most 64 parties");
    LinkResult result;
    for (std::size_t p = 0; p < parties.size(); ++p)
        for (std::size_t q = p + 1; q < parties.size(); ++q)
            if (std::string warning = check_comparable(*parties[p], *parties[q]); !warning.empty())
                result.warnings.push_back(std::move(warning));
    result.party_labels = party_labels(parties);
    return result;
}

}  // namespace

LinkResult link(const std::vector<const FilterMatrix*>& parties, const LinkOptions& options) {
    LinkResult result = checked_parties(parties);
    result.model = options.model;
    if (result.model == LinkModel::automatic)
        result.model = parties.front()->info().layout.empty() ? LinkModel::record : LinkModel::fellegi_sunter;
    const bool loose = result.model == LinkModel::fellegi_sunter || options.auto_threshold;
    MatchOptions match_options;
    match_options.threads = options.threads;
    match_options.threshold = loose ? options.candidate_floor : options.threshold;
    const std::size_t default_top_k = result.model == LinkModel::fellegi_sunter ? 10 : 3;
    match_options.top_k = loose ? (options.candidate_top_k ? options.candidate_top_k : default_top_k) : 0;
    score_candidates(parties, options, match_options, result, result.model == LinkModel::fellegi_sunter);
    if (result.model == LinkModel::fellegi_sunter) {
        apply_fellegi_sunter(parties, options, result);
    } else if (options.auto_threshold) {
        // The estimate rounded down to three decimals, then linked exactly as `--threshold` would: all
        // pairs at or above it, so a run can be repeated by hand.
        const double estimate = estimate_dice_threshold(result.candidates, parties);
        for (const ScoredPair& pair : result.candidates) result.candidate_scores.push_back(pair.score());
        const Threshold chosen{std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::floor(std::min(estimate, 1.0) * 1000))), 1000};
        result.estimated_threshold = result.threshold = chosen.value();
        result.candidates.clear();
        result.blocked_pairs.clear();
        result.comparisons = result.possible_pairs = 0;
        match_options.threshold = chosen;
        match_options.top_k = 0;
        score_candidates(parties, options, match_options, result);
    } else {
        result.threshold = options.threshold.value();
        if (options.estimate_threshold) result.estimated_threshold = estimate_record_threshold(parties, options);
    }
    detail::solve_links(parties, options, result);
    return result;
}

LinkResult link_scored(const std::vector<const FilterMatrix*>& parties, const std::vector<Candidates>& scored,
                       const LinkOptions& options) {
    LinkResult result = checked_parties(parties);
    if (options.auto_threshold || options.model == LinkModel::fellegi_sunter || options.blocking)
        throw UsageError("linking scored candidates needs the record-level model, a given threshold and no blocking");
    const std::size_t blocks = parties.size() == 1 ? 1 : parties.size() * (parties.size() - 1) / 2;
    if (scored.size() != blocks)
        throw UsageError(std::to_string(parties.size()) + " parties need " + std::to_string(blocks) +
                         " blocks of candidates, one per party pair; got " + std::to_string(scored.size()));
    result.model = LinkModel::record;
    result.threshold = options.threshold.value();
    const auto& kernels = simd::kernels();
    std::size_t block = 0;
    for (std::uint32_t p = 0; p < parties.size(); ++p)
        for (std::uint32_t q = parties.size() == 1 ? p : p + 1; q < parties.size(); ++q, ++block) {
            const FilterMatrix& a = *parties[p];
            const FilterMatrix& b = *parties[q];
            result.possible_pairs += p == q ? static_cast<std::uint64_t>(a.rows()) * (a.rows() > 0 ? a.rows() - 1 : 0) / 2
                                            : static_cast<std::uint64_t>(a.rows()) * b.rows();
            const Candidates& given = scored[block];
            if (given.b_index.size() != given.size() || given.common.size() != given.size() || given.total.size() != given.size())
                throw UsageError("a block of candidates has columns of different lengths");
            std::vector<ScoredPair> found = to_scored(given, p, q);
            for (const ScoredPair& pair : found) {
                if (pair.a >= a.rows() || pair.b >= b.rows()) throw UsageError("a candidate's index is past the last record");
                if (p == q && pair.a >= pair.b) throw UsageError("a deduplication candidate must have a < b");
                if (!options.threshold.passes(pair.common, pair.total)) throw UsageError("a candidate is below the threshold");
                const auto common = kernels.and_popcount(a.row_words(pair.a), b.row_words(pair.b), a.words());
                if (common != pair.common || a.popcounts()[pair.a] + b.popcounts()[pair.b] != pair.total)
                    throw FormatError("a candidate's counts differ from these filters: it was scored on other files");
            }
            if (!std::is_sorted(found.begin(), found.end(), ranks_before)) std::sort(found.begin(), found.end(), ranks_before);
            for (std::size_t k = 1; k < found.size(); ++k)
                if (found[k].a == found[k - 1].a && found[k].b == found[k - 1].b) throw UsageError("a candidate pair is repeated");
            result.candidates.insert(result.candidates.end(), found.begin(), found.end());
        }
    result.comparisons = result.possible_pairs;
    detail::solve_links(parties, options, result);
    return result;
}

std::vector<std::size_t> detail::solve_clusters(const std::vector<const FilterMatrix*>& parties, const LinkOptions& options,
                                                LinkResult& result) {
    const std::vector<char> eligible = eligible_candidates(options, result);
    std::vector<std::size_t> offset(parties.size() + 1, 0);
    for (std::size_t p = 0; p < parties.size(); ++p) offset[p + 1] = offset[p] + parties[p]->rows();
    DisjointSets sets = merge_in_score_order(parties, eligible, offset, options.merge, result);
    std::vector<std::size_t> root(offset.back());
    for (std::size_t node = 0; node < root.size(); ++node) root[node] = sets.find(node);
    return root;
}

void detail::solve_links(const std::vector<const FilterMatrix*>& parties, const LinkOptions& options, LinkResult& result) {
    const std::vector<std::size_t> root = solve_clusters(parties, options, result);
    std::vector<std::size_t> offset(parties.size() + 1, 0);
    for (std::size_t p = 0; p < parties.size(); ++p) offset[p + 1] = offset[p] + parties[p]->rows();
    result.entities = name_entities(parties, result.party_labels, offset, root);
}

}  // namespace pprl
