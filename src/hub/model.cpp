// hub/model.cpp — comparison levels, the Fellegi–Sunter fit and the automatic thresholds
// (see pprl/model.hpp).
#include "pprl/model.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "pprl/error.hpp"
#include "runtime/parallel.hpp"
#include "runtime/splitmix64.hpp"
#include "simd/kernels.hpp"

namespace pprl {

std::uint8_t similarity_level(std::uint32_t common, std::uint32_t a, std::uint32_t b) noexcept {
    if (a == 0 || b == 0) return 0;
    const double dice = 2.0 * common / (static_cast<double>(a) + b);
    std::uint8_t level = 1;
    while (level < similarity_levels - 1 && dice < level_floor[level - 1]) ++level;
    return level;
}

void segment_levels(const FilterMatrix& a, std::size_t i, const FilterMatrix& b, std::size_t j, std::uint8_t* levels) {
    const auto& kernels = simd::kernels();
    const Layout& layout = a.info().layout;
    const std::uint64_t* x = a.row_words(i);
    const std::uint64_t* y = b.row_words(j);
    for (std::size_t s = 0; s < layout.size(); ++s) {
        const std::size_t first = layout[s].first_bit / 64, words = layout[s].bits / 64;
        const auto pa = static_cast<std::uint32_t>(kernels.popcount(x + first, words));
        const auto pb = static_cast<std::uint32_t>(kernels.popcount(y + first, words));
        const auto common = pa && pb ? static_cast<std::uint32_t>(kernels.and_popcount(x + first, y + first, words)) : 0;
        levels[s] = similarity_level(common, pa, pb);
    }
}

double SegmentWeights::log2_factor(std::size_t level) const noexcept {
    return level == 0 ? 0.0 : std::log2(m[level] / u[level]);
}

double FellegiSunterModel::weight(const std::uint8_t* levels) const noexcept {
    double w = std::log2(prior / (1.0 - prior));
    const std::size_t n = segments.size();
    for (std::size_t s = 0; s < n; ++s) w += segments[s].log2_factor(levels[s]);
    if (!interaction.empty())
        for (std::size_t f = 0; f < n; ++f)
            if (levels[f] != 0 && levels[f] <= agree_levels)
                for (std::size_t g = f + 1; g < n; ++g)
                    if (levels[g] != 0 && levels[g] <= agree_levels) w -= interaction[f * n + g];
    return w;
}

double FellegiSunterModel::probability(double weight) noexcept { return 1.0 / (1.0 + std::exp2(-weight)); }

namespace {

const Layout& common_layout(const std::vector<const FilterMatrix*>& parties) {
    if (parties.empty()) throw UsageError("the model needs at least one party");
    const Layout& layout = parties.front()->info().layout;
    if (layout.empty())
        throw UsageError("the Fellegi-Sunter model needs encodings with a field-segmented layout "
                         "(a schema with \"filter\": {\"segments\": [...]})");
    for (const FilterMatrix* party : parties)
        if (party->info().layout != layout) throw KeyMismatchError("the parties' segment layouts differ");
    return layout;
}

// Level vectors with their multiplicities: EM runs over distinct patterns, not over pairs.
struct Patterns {
    std::size_t segments = 0;
    std::vector<std::uint8_t> levels;  // pattern-major
    std::vector<double> count;
};

Patterns distinct_patterns(const PairLevels& pairs) {
    Patterns out;
    out.segments = pairs.segments;
    const std::size_t n = pairs.segments ? pairs.levels.size() / pairs.segments : 0;
    std::unordered_map<std::string, std::size_t> index;
    for (std::size_t k = 0; k < n; ++k) {
        std::string key(reinterpret_cast<const char*>(&pairs.levels[k * pairs.segments]), pairs.segments);
        auto [it, fresh] = index.emplace(std::move(key), out.count.size());
        if (fresh) {
            out.levels.insert(out.levels.end(), &pairs.levels[k * pairs.segments], &pairs.levels[(k + 1) * pairs.segments]);
            out.count.push_back(0);
        }
        out.count[it->second] += 1;
    }
    return out;
}

// Level frequencies among present values, with one pseudo-observation spread over the levels so no
// level has probability 0.
std::array<double, similarity_levels> frequencies(const std::array<double, similarity_levels>& counts) {
    double present = 0;
    for (std::size_t l = 1; l < similarity_levels; ++l) present += counts[l];
    std::array<double, similarity_levels> p{};
    p[0] = 1;
    const double spread = 1.0 / (similarity_levels - 1);
    for (std::size_t l = 1; l < similarity_levels; ++l) p[l] = (counts[l] + spread) / (present + 1.0);
    return p;
}

}  // namespace

PairLevels pair_levels(const std::vector<const FilterMatrix*>& parties, const std::vector<ScoredPair>& pairs,
                       unsigned threads) {
    const Layout& layout = common_layout(parties);
    PairLevels out;
    out.segments = layout.size();
    out.levels.assign(pairs.size() * out.segments, 0);
    constexpr std::size_t chunk = 4096;
    const std::size_t chunks = (pairs.size() + chunk - 1) / chunk;
    detail::parallel_for(chunks, detail::thread_count(threads, chunks), [&](std::size_t c, unsigned) {
        for (std::size_t k = c * chunk; k < std::min(pairs.size(), (c + 1) * chunk); ++k) {
            const ScoredPair& p = pairs[k];
            segment_levels(*parties[p.party_a], p.a, *parties[p.party_b], p.b, &out.levels[k * out.segments]);
        }
    });
    return out;
}

void fit_m_and_prior(FellegiSunterModel& model, const PairLevels& candidates, const ModelOptions& options) {
    const Patterns patterns = distinct_patterns(candidates);
    const std::size_t segments = model.segments.size();
    const std::size_t n = patterns.count.size();
    double total = 0;
    for (double c : patterns.count) total += c;
    model.candidate_pairs = static_cast<std::uint64_t>(total);
    model.iterations = 0;
    model.converged = false;
    if (n == 0) return;
    std::vector<double> posterior(n);
    for (unsigned iteration = 1; iteration <= options.max_iterations; ++iteration) {
        // E step: each pattern's posterior probability of a match.
        for (std::size_t g = 0; g < n; ++g) {
            const std::uint8_t* levels = &patterns.levels[g * segments];
            double log_ratio = std::log(model.prior / (1.0 - model.prior));
            for (std::size_t s = 0; s < segments; ++s)
                if (levels[s] != 0) log_ratio += std::log(model.segments[s].m[levels[s]] / model.segments[s].u[levels[s]]);
            posterior[g] = 1.0 / (1.0 + std::exp(-log_ratio));
        }
        // M step: m and u per segment and level, and λ.
        double change = 0, matches = 0;
        for (std::size_t s = 0; s < segments; ++s) {
            std::array<double, similarity_levels> counts{}, non_counts{};
            for (std::size_t g = 0; g < n; ++g) {
                counts[patterns.levels[g * segments + s]] += patterns.count[g] * posterior[g];
                non_counts[patterns.levels[g * segments + s]] += patterns.count[g] * (1 - posterior[g]);
            }
            const auto m = frequencies(counts);
            for (std::size_t l = 1; l < similarity_levels; ++l) change = std::max(change, std::abs(m[l] - model.segments[s].m[l]));
            model.segments[s].m = m;
            if (options.fit_u) model.segments[s].u = frequencies(non_counts);
        }
        for (std::size_t g = 0; g < n; ++g) matches += patterns.count[g] * posterior[g];
        const double prior = std::clamp(matches / total, 1e-9, 1.0 - 1e-9);
        change = std::max(change, std::abs(prior - model.prior));
        model.prior = prior;
        model.iterations = iteration;
        if (change < options.tolerance) {
            model.converged = true;
            break;
        }
    }
}

namespace {

bool agrees(std::uint8_t level) noexcept { return level != 0 && level <= agree_levels; }

// Counts, over random cross-party pairs (within the party for deduplication), each segment's levels
// and how often two segments agree together: u, and the random pairs' side of the interactions.
struct RandomPairCounts {
    std::vector<std::array<double, similarity_levels>> levels;  // per segment
    std::vector<double> together;                              // segments × segments, f < g
    std::uint64_t drawn = 0;
};

RandomPairCounts count_random_pairs(const std::vector<const FilterMatrix*>& parties, std::size_t segments,
                                    const ModelOptions& options) {
    std::vector<std::pair<std::size_t, std::size_t>> party_pairs;
    for (std::size_t p = 0; p < parties.size(); ++p)
        for (std::size_t q = p + 1; q < parties.size(); ++q) party_pairs.push_back({p, q});
    if (parties.size() == 1) party_pairs.push_back({0, 0});
    RandomPairCounts counts;
    counts.levels.assign(segments, {});
    counts.together.assign(segments * segments, 0.0);
    std::vector<std::uint8_t> levels(segments);
    std::uint64_t state = options.seed;
    for (std::uint64_t k = 0; k < options.random_pairs; ++k) {
        const auto [p, q] = party_pairs[k % party_pairs.size()];
        const std::size_t rows_a = parties[p]->rows(), rows_b = parties[q]->rows();
        if (rows_a == 0 || rows_b == 0 || (p == q && rows_a < 2)) continue;
        const std::size_t i = splitmix64(state) % rows_a;
        std::size_t j = splitmix64(state) % rows_b;
        if (p == q && i == j) j = (j + 1) % rows_b;
        segment_levels(*parties[p], i, *parties[q], j, levels.data());
        for (std::size_t s = 0; s < segments; ++s) counts.levels[s][levels[s]] += 1;
        for (std::size_t f = 0; f < segments; ++f)
            if (agrees(levels[f]))
                for (std::size_t g = f + 1; g < segments; ++g)
                    if (agrees(levels[g])) counts.together[f * segments + g] += 1;
        ++counts.drawn;
    }
    return counts;
}

// m of segment f: its levels among the pairs the other segments alone call matches (mutual best
// pairs above the automatic threshold on the Dice of the filter without f), so f's own agreement
// does not select the pairs its m is measured on.
std::array<double, similarity_levels> leave_one_out_m(const std::vector<const FilterMatrix*>& parties,
                                                      const std::vector<ScoredPair>& pairs, const PairLevels& candidates,
                                                      const Segment& segment, std::size_t f) {
    const auto& kernels = simd::kernels();
    const std::size_t first = segment.first_bit / 64, words = segment.bits / 64;
    std::vector<double> scores(pairs.size());
    for (std::size_t k = 0; k < pairs.size(); ++k) {
        const ScoredPair& c = pairs[k];
        const std::uint64_t* x = parties[c.party_a]->row_words(c.a) + first;
        const std::uint64_t* y = parties[c.party_b]->row_words(c.b) + first;
        const std::uint64_t common = c.common - kernels.and_popcount(x, y, words);
        const std::uint64_t total = c.total - kernels.popcount(x, words) - kernels.popcount(y, words);
        scores[k] = total == 0 ? 0.0 : 2.0 * static_cast<double>(common) / static_cast<double>(total);
    }
    const std::vector<double> labels = mutual_best_labels(pairs, parties, scores, estimate_threshold(pairs, parties, scores));
    std::array<double, similarity_levels> counts{};
    for (std::size_t k = 0; k < pairs.size(); ++k) counts[candidates.levels[k * candidates.segments + f]] += labels[k];
    return frequencies(counts);
}

// Pairwise dependence of agreement among non-matches, kept on a tree. The rate at which two segments
// agree together is the larger of two estimates: random pairs, where both agreed at least five
// times, and the candidates the whole filter does not call matches, counted over all possible pairs
// (pairs agreeing on two fields score high enough to be candidates, so this bounds the rate from
// below). Only a maximum spanning tree of these dependences is kept (Chow & Liu 1968): one latent
// cause (a household) behind several agreements is then counted once along the tree, not once per
// pair of segments.
std::vector<double> interactions(const FellegiSunterModel& model, const RandomPairCounts& random,
                                 const PairLevels& candidates, const std::vector<double>& match_labels,
                                 double possible_pairs) {
    const std::size_t segments = model.segments.size();
    std::vector<double> together(segments * segments, 0.0);
    for (std::size_t k = 0; k < match_labels.size(); ++k) {
        if (match_labels[k] != 0) continue;
        const std::uint8_t* level = &candidates.levels[k * segments];
        for (std::size_t f = 0; f < segments; ++f)
            if (agrees(level[f]))
                for (std::size_t g = f + 1; g < segments; ++g)
                    if (agrees(level[g])) together[f * segments + g] += 1;
    }
    auto agree_rate = [&](std::size_t s) {
        double rate = 0;
        for (std::size_t l = 1; l <= agree_levels; ++l) rate += model.segments[s].u[l];
        return rate;
    };
    std::vector<double> all(segments * segments, 0.0);
    for (std::size_t f = 0; f < segments; ++f)
        for (std::size_t g = f + 1; g < segments; ++g) {
            double rate = possible_pairs > 0 ? together[f * segments + g] / possible_pairs : 0.0;
            const double seen = random.together[f * segments + g];
            if (seen >= 5) rate = std::max(rate, seen / static_cast<double>(random.drawn));
            if (rate > 0) all[f * segments + g] = std::max(0.0, std::log2(rate / (agree_rate(f) * agree_rate(g))));
        }
    std::vector<char> in_tree(segments, 0);
    std::vector<double> tree(segments * segments, 0.0);
    if (segments > 0) in_tree[0] = 1;
    for (std::size_t added = 1; added < segments; ++added) {  // Prim's algorithm, strongest edge first
        double strongest = -1;
        std::size_t from = 0, to = 0;
        for (std::size_t f = 0; f < segments; ++f)
            for (std::size_t g = 0; g < segments; ++g) {
                if (!in_tree[f] || in_tree[g]) continue;
                const double value = all[std::min(f, g) * segments + std::max(f, g)];
                if (value > strongest) strongest = value, from = f, to = g;
            }
        in_tree[to] = 1;
        const std::size_t at = std::min(from, to) * segments + std::max(from, to);
        tree[at] = all[at];
    }
    return tree;
}

}  // namespace

FellegiSunterModel fit_fellegi_sunter(const std::vector<const FilterMatrix*>& parties,
                                      const std::vector<ScoredPair>& pairs, const PairLevels& candidates,
                                      const ModelOptions& options) {
    const Layout& layout = common_layout(parties);
    if (candidates.segments != layout.size() || candidates.levels.size() != pairs.size() * layout.size())
        throw UsageError("the candidates' levels do not match the layout");
    FellegiSunterModel model;
    for (const Segment& segment : layout) model.segments.push_back(SegmentWeights{segment.name, {}, {}});
    const RandomPairCounts random = count_random_pairs(parties, layout.size(), options);
    model.random_pairs = random.drawn;
    model.candidate_pairs = pairs.size();
    for (std::size_t s = 0; s < layout.size(); ++s) model.segments[s].u = frequencies(random.levels[s]);
    if (pairs.empty()) return model;
    for (std::size_t s = 0; s < layout.size(); ++s)
        model.segments[s].m = leave_one_out_m(parties, pairs, candidates, layout[s], s);
    // λ: the share of candidates the whole filter calls matches.
    std::vector<double> scores(pairs.size());
    for (std::size_t k = 0; k < pairs.size(); ++k) scores[k] = pairs[k].score();
    const std::vector<double> labels = mutual_best_labels(pairs, parties, scores, estimate_threshold(pairs, parties, scores));
    double matches = 0;
    for (double label : labels) matches += label;
    model.prior = std::clamp(matches / static_cast<double>(pairs.size()), 1e-9, 1.0 - 1e-9);
    double possible = 0;
    if (parties.size() == 1) possible = 0.5 * static_cast<double>(parties[0]->rows()) * (parties[0]->rows() - 1.0);
    for (std::size_t p = 0; p < parties.size(); ++p)
        for (std::size_t q = p + 1; q < parties.size(); ++q)
            possible += static_cast<double>(parties[p]->rows()) * static_cast<double>(parties[q]->rows());
    model.interaction = interactions(model, random, candidates, labels, possible);
    if (options.max_iterations > 0) fit_m_and_prior(model, candidates, options);
    return model;
}

double estimate_threshold(const std::vector<ScoredPair>& pairs, const std::vector<const FilterMatrix*>& parties,
                          const std::vector<double>& scores) {
    return estimate_threshold(pairs, parties, scores, {}, {});
}

double estimate_threshold(const std::vector<ScoredPair>& pairs, const std::vector<const FilterMatrix*>& parties,
                          const std::vector<double>& scores, const std::vector<ScoredPair>& other_side,
                          const std::vector<double>& other_scores) {
    std::vector<std::size_t> rows;
    for (const FilterMatrix* party : parties) rows.push_back(party->rows());
    return estimate_threshold(pairs, rows, rows, scores, other_side, other_scores);
}

double estimate_threshold(const std::vector<ScoredPair>& pairs, const std::vector<std::size_t>& first_rows,
                          const std::vector<std::size_t>& other_rows, const std::vector<double>& scores,
                          const std::vector<ScoredPair>& other_side, const std::vector<double>& other_scores) {
    // Per (party pair, first-party record) node: its best and second-best scores and their records
    // on the other side; per other-side record: its best score. One party (deduplication): both
    // sides are the party's records.
    const double none = -std::numeric_limits<double>::infinity();
    const std::size_t n_parties = first_rows.size();
    if (other_rows.size() != n_parties) throw UsageError("estimate_threshold: row counts differ in length");
    for (const ScoredPair& pair : pairs)
        if (pair.party_a >= n_parties || pair.party_b >= n_parties || pair.a >= first_rows[pair.party_a] ||
            pair.b >= other_rows[pair.party_b])
            throw UsageError("estimate_threshold: a pair names a record beyond its party");
    for (const ScoredPair& pair : other_side)
        if (pair.party_a >= n_parties || pair.party_b >= n_parties || pair.b >= other_rows[pair.party_b])
            throw UsageError("estimate_threshold: a pair names a record beyond its party");
    const bool dedup = n_parties == 1;
    std::vector<std::size_t> offset(n_parties * n_parties + 1, 0), other_offset(n_parties * n_parties + 1, 0);
    for (std::size_t p = 0; p < n_parties; ++p)
        for (std::size_t q = 0; q < n_parties; ++q) {
            const std::size_t cell = p * n_parties + q;
            const bool linked_cell = dedup || p < q;
            offset[cell + 1] = offset[cell] + (linked_cell ? first_rows[p] : 0);
            other_offset[cell + 1] = other_offset[cell] + (linked_cell && !dedup ? other_rows[q] : 0);
        }
    const std::size_t nodes = offset.back();
    std::vector<double> first(nodes, none), second(nodes, none), other_best(dedup ? 0 : other_offset.back(), none);
    std::vector<std::size_t> first_of(nodes, 0), second_of(nodes, 0);
    auto note = [&](std::size_t at, double score, std::size_t other) {
        if (score > first[at]) {
            second[at] = first[at], second_of[at] = first_of[at];
            first[at] = score, first_of[at] = other;
        } else if (score > second[at]) {
            second[at] = score, second_of[at] = other;
        }
    };
    for (std::size_t k = 0; k < pairs.size(); ++k) {
        const ScoredPair& pair = pairs[k];
        const std::size_t cell = pair.party_a * n_parties + pair.party_b;
        if (dedup) {
            note(offset[cell] + pair.a, scores[k], offset[cell] + pair.b);
            note(offset[cell] + pair.b, scores[k], offset[cell] + pair.a);
        } else {
            const std::size_t other = other_offset[cell] + pair.b;
            note(offset[cell] + pair.a, scores[k], other);
            other_best[other] = std::max(other_best[other], scores[k]);
        }
    }
    if (!dedup)
        for (std::size_t k = 0; k < other_side.size(); ++k) {
            const ScoredPair& pair = other_side[k];
            const std::size_t other = other_offset[pair.party_a * n_parties + pair.party_b] + pair.b;
            other_best[other] = std::max(other_best[other], other_scores[k]);
        }
    auto best_of_other = [&](std::size_t other) { return dedup ? first[other] : other_best[other]; };
    // s₁ counts where the record is also its best candidate's best (the one-to-one solvers link it
    // then); s₂ likewise where the record is the best of its second-best candidate: that is the
    // score it would be linked at if its partner were absent.
    std::vector<double> s1(nodes, none), s2(nodes, none), raw1 = first, raw2 = second;
    for (std::size_t i = 0; i < nodes; ++i) {
        if (first[i] != none && first[i] >= best_of_other(first_of[i])) s1[i] = first[i];
        if (second[i] != none && second[i] >= best_of_other(second_of[i])) s2[i] = second[i];
    }
    if (nodes == 0) return std::numeric_limits<double>::infinity();
    std::sort(s1.begin(), s1.end());
    std::sort(s2.begin(), s2.end());
    std::sort(raw1.begin(), raw1.end());
    std::sort(raw2.begin(), raw2.end());
    const double n = static_cast<double>(nodes);
    // Share of records without a partner, from below the median of the second-best scores.
    const double cut = raw2[raw2.size() / 2];
    const double below_1 = static_cast<double>(std::lower_bound(raw1.begin(), raw1.end(), cut) - raw1.begin());
    const double below_2 = static_cast<double>(std::lower_bound(raw2.begin(), raw2.end(), cut) - raw2.begin());
    const double unpartnered = below_2 > 0 ? std::clamp(below_1 / below_2, 0.0, 1.0) : 0.0;
    const double partnered = (1.0 - unpartnered) * n;
    double best_f1 = -1, best = std::numeric_limits<double>::infinity();
    for (std::size_t k = 0; k < s1.size(); ++k) {
        const double t = s1[k];
        if (t == none || (k > 0 && s1[k - 1] == t)) continue;
        const double linked = static_cast<double>(s1.size() - k);
        const double null_above = static_cast<double>(s2.end() - std::lower_bound(s2.begin(), s2.end(), t)) / n;
        const double fp = std::min(linked, unpartnered * n * null_above);
        const double tp = linked - fp;
        const double fn = std::max(0.0, partnered - tp);
        const double f1 = tp > 0 ? 2 * tp / (2 * tp + fp + fn) : 0;
        if (f1 > best_f1) best_f1 = f1, best = t;
    }
    return best;
}

double estimate_dice_threshold(const std::vector<ScoredPair>& pairs, const std::vector<const FilterMatrix*>& parties) {
    std::vector<double> scores(pairs.size());
    for (std::size_t k = 0; k < pairs.size(); ++k) scores[k] = pairs[k].score();
    return estimate_threshold(pairs, parties, scores);
}

std::vector<double> mutual_best_labels(const std::vector<ScoredPair>& pairs, const std::vector<const FilterMatrix*>& parties,
                                       const std::vector<double>& scores, double threshold) {
    std::vector<std::size_t> offset(parties.size() + 1, 0);
    for (std::size_t p = 0; p < parties.size(); ++p) offset[p + 1] = offset[p] + parties[p]->rows();
    const std::size_t cells = parties.size();
    // best[record node × parties + other party]: the record's best score against that party
    std::vector<double> best(offset.back() * cells, -std::numeric_limits<double>::infinity());
    for (std::size_t k = 0; k < pairs.size(); ++k) {
        const ScoredPair& c = pairs[k];
        double& x = best[(offset[c.party_a] + c.a) * cells + c.party_b];
        double& y = best[(offset[c.party_b] + c.b) * cells + c.party_a];
        x = std::max(x, scores[k]);
        y = std::max(y, scores[k]);
    }
    std::vector<double> labels(pairs.size(), 0.0);
    for (std::size_t k = 0; k < pairs.size(); ++k) {
        const ScoredPair& c = pairs[k];
        labels[k] = scores[k] >= threshold && scores[k] >= best[(offset[c.party_a] + c.a) * cells + c.party_b] &&
                            scores[k] >= best[(offset[c.party_b] + c.b) * cells + c.party_a]
                        ? 1.0
                        : 0.0;
    }
    return labels;
}

}  // namespace pprl
