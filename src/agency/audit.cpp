#include "pprl/audit.hpp"

#include <algorithm>
#include <array>
#include <functional>
#include <limits>
#include <cmath>
#include <cstring>
#include <map>
#include <string_view>
#include <unordered_map>

#include "hub/solve.hpp"
#include "pprl/error.hpp"
#include "pprl/evaluate.hpp"
#include "pprl/match.hpp"
#include "agency/nearest.hpp"
#include "agency/tokenize.hpp"
#include "simd/kernels.hpp"

namespace pprl {
namespace {

using detail::any_similarity;
using detail::first_links;
using detail::Nearest;
using detail::nearest_records;

std::string normalized_or_empty(const std::string& value, const NormalizeOptions& options) {
    std::string out;
    if (!normalize(value, options, out)) return "";
    return out;
}

struct Reference {
    std::vector<std::string> values;   // distinct, most frequent first
    std::vector<std::size_t> counts;
    std::size_t total = 0;
};

Reference reference_frequencies(const std::vector<std::string>& raw, const NormalizeOptions& options) {
    std::unordered_map<std::string, std::size_t> counts;
    for (const auto& value : raw) {
        std::string v = normalized_or_empty(value, options);
        if (!v.empty()) ++counts[v];
    }
    std::vector<std::pair<std::string, std::size_t>> sorted(counts.begin(), counts.end());
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    Reference ref;
    for (auto& [value, count] : sorted) {
        ref.values.push_back(value);
        ref.counts.push_back(count);
        ref.total += count;
    }
    return ref;
}

// Scores guesses (one per row, "" for none) against the truth.
void score(AttackResult& result, const std::vector<std::string>& truth, const std::vector<std::string>& guesses,
           const Reference& ref) {
    std::map<std::string, std::pair<std::size_t, std::size_t>> per_value;  // value → (records, correct)
    std::map<std::string, std::size_t> guessed_as;                        // guess → times guessed
    for (std::size_t i = 0; i < truth.size(); ++i) {
        if (truth[i].empty()) continue;
        ++result.records;
        ++per_value[truth[i]].first;
        if (guesses[i].empty()) continue;
        ++result.guessed;
        ++guessed_as[guesses[i]];
        if (guesses[i] == truth[i]) {
            ++result.correct;
            ++per_value[truth[i]].second;
        }
    }
    result.names = per_value.size();
    for (const auto& [value, counts] : per_value) {
        // A value counts as re-identified when it was guessed right at least once and most guesses of
        // it were right.
        const std::size_t times = guessed_as.count(value) ? guessed_as[value] : 0;
        if (counts.second > 0 && 2 * counts.second > times) {
            ++result.names_correct;
            result.reidentified.emplace_back(value, counts.second);
        }
    }
    std::sort(result.reidentified.begin(), result.reidentified.end(),
              [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
    result.record_rate = result.records ? static_cast<double>(result.correct) / static_cast<double>(result.records) : 0;
    result.name_rate = result.names ? static_cast<double>(result.names_correct) / static_cast<double>(result.names) : 0;
    if (!ref.values.empty() && result.records > 0) {
        std::size_t top = 0;
        for (const auto& value : truth) top += value == ref.values[0] ? 1 : 0;
        result.chance_rate = static_cast<double>(top) / static_cast<double>(result.records);
    }
}

// Rows with identical filters, each group's rows in order. Both the statistics and the frequency
// attack need them; audit() computes them once.
std::vector<std::vector<std::size_t>> identical_filters(const FilterMatrix& f) {
    std::unordered_map<std::string, std::size_t> group_of;
    std::vector<std::vector<std::size_t>> groups;
    for (std::size_t i = 0; i < f.rows(); ++i) {
        const auto [it, fresh] =
            group_of.emplace(std::string(reinterpret_cast<const char*>(f.row_bytes(i)), f.bytes()), groups.size());
        if (fresh) groups.emplace_back();
        groups[it->second].push_back(i);
    }
    return groups;
}

AttackResult frequency_attack(const FilterMatrix& filters, const std::vector<std::vector<std::size_t>>& groups,
                              const std::vector<std::string>& truth, const Reference& ref) {
    std::vector<const std::vector<std::size_t>*> frequent;
    for (const auto& rows : groups)
        if (rows.size() >= 2) frequent.push_back(&rows);
    std::sort(frequent.begin(), frequent.end(), [](const auto* a, const auto* b) {
        return a->size() != b->size() ? a->size() > b->size() : a->front() < b->front();
    });
    std::vector<std::string> guesses(filters.rows());
    for (std::size_t rank = 0; rank < frequent.size() && rank < ref.values.size(); ++rank)
        for (std::size_t row : *frequent[rank]) guesses[row] = ref.values[rank];
    AttackResult result;
    result.name = "frequency alignment";
    score(result, truth, guesses, ref);
    return result;
}

// Bit counts of record sets (one bit per record) with the matcher's popcount kernels: built for the
// baseline architecture, __builtin_popcountll is a library call per word.
std::size_t popcount_and(const std::uint64_t* a, const std::uint64_t* b, std::size_t words) {
    return static_cast<std::size_t>(simd::kernels().and_popcount(a, b, words));
}

std::size_t popcount_of(const std::vector<std::uint64_t>& set) {
    return static_cast<std::size_t>(simd::kernels().popcount(set.data(), set.size()));
}

// The reference's q-grams: each value's distinct grams (sorted), and the `max` most frequent grams
// with the share of reference records (by frequency) whose value has each.
struct ReferenceGrams {
    std::vector<std::vector<std::string>> of_value;
    std::vector<std::pair<std::string, double>> frequent;  // most frequent first
};

ReferenceGrams reference_grams(const Reference& ref, const TokenizerSpec& tokenizer, std::size_t max) {
    ReferenceGrams out;
    out.of_value.resize(ref.values.size());
    std::unordered_map<std::string, double> gram_frequency;
    for (std::size_t v = 0; v < ref.values.size(); ++v) {
        auto& grams = out.of_value[v];
        tokenize(ref.values[v], tokenizer, grams);
        std::sort(grams.begin(), grams.end());
        grams.erase(std::unique(grams.begin(), grams.end()), grams.end());
        for (const auto& g : grams) gram_frequency[g] += static_cast<double>(ref.counts[v]) / static_cast<double>(ref.total);
    }
    out.frequent.assign(gram_frequency.begin(), gram_frequency.end());
    std::sort(out.frequent.begin(), out.frequent.end(),
              [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
    if (out.frequent.size() > max) out.frequent.resize(max);
    return out;
}

// Share of reference records whose value has both of two frequent q-grams (G × G).
std::vector<double> reference_cooccurrence(const Reference& ref, const ReferenceGrams& grams) {
    const std::size_t G = grams.frequent.size();
    std::vector<double> together(G * G, 0.0);
    std::unordered_map<std::string, std::size_t> gram_index;
    for (std::size_t g = 0; g < G; ++g) gram_index[grams.frequent[g].first] = g;
    std::vector<std::size_t> in_value;
    for (std::size_t v = 0; v < ref.values.size(); ++v) {
        in_value.clear();
        for (const auto& gram : grams.of_value[v]) {
            auto it = gram_index.find(gram);
            if (it != gram_index.end()) in_value.push_back(it->second);
        }
        const double w = static_cast<double>(ref.counts[v]) / static_cast<double>(ref.total);
        for (std::size_t x : in_value)
            for (std::size_t y : in_value) together[x * G + y] += w;
    }
    return together;
}

// The filters transposed: for each position, the set of records that have it, and its support.
struct BitColumns {
    std::size_t words = 0;  // per column
    std::vector<std::uint64_t> bits;
    std::vector<std::size_t> support;

    explicit BitColumns(const FilterMatrix& filters) : words((filters.rows() + 63) / 64) {
        const unsigned m = filters.bits();
        bits.assign(std::size_t{m} * words, 0);
        support.assign(m, 0);
        for (std::size_t i = 0; i < filters.rows(); ++i) {
            const std::uint8_t* row = filters.row_bytes(i);
            for (unsigned b = 0; b < m; ++b)
                if (filter_bit(row, b)) {
                    bits[std::size_t{b} * words + i / 64] |= std::uint64_t{1} << (i % 64);
                    ++support[b];
                }
        }
    }
    const std::uint64_t* column(unsigned b) const { return bits.data() + std::size_t{b} * words; }
};

// Patterns found and labelled: per frequent q-gram, its positions (empty if not located).
struct LocatedGrams {
    std::vector<std::vector<unsigned>> positions;
    std::size_t count = 0;
};

// The noise the attacker expects: each bit flipped with probability p (BLIP's known rate; 0 for
// none). A record whose value has a q-gram keeps each of the q-gram's k positions with probability
// 1 − p, so it shows at least `present_count(k)` of them with probability about 0.98.
struct Noise {
    double p = 0;

    explicit Noise(const AuditOptions& options) : p(std::clamp(options.flip_probability, 0.0, 0.45)) {}

    std::size_t present_count(std::size_t k) const {
        const double kd = static_cast<double>(k);
        const double low = kd * (1 - p) - 2.0 * std::sqrt(kd * p * (1 - p));
        return std::clamp<std::size_t>(static_cast<std::size_t>(std::floor(low)), k / 2 + 1, k);
    }
    // Of the records showing a position whose observed support is `share` of all records, the part
    // that truly has it: the rest show it through a flip.
    double purity(double share) const {
        if (p <= 0) return 1.0;
        const double true_share = std::clamp((share - p) / (1 - 2 * p), 0.0, 1.0);
        return share > 0 ? std::min(1.0, (1 - p) * true_share / share) : 0.0;
    }
};

// Records (as a bit set) showing at least `need` of `pattern`'s positions.
std::vector<std::uint64_t> holders(const BitColumns& columns, const std::vector<unsigned>& pattern, std::size_t need,
                                   std::size_t n) {
    std::vector<std::uint64_t> out(columns.words, 0);
    if (need >= pattern.size()) {  // all of them: an AND of the columns
        std::copy(columns.column(pattern[0]), columns.column(pattern[0]) + columns.words, out.begin());
        for (unsigned b : pattern)
            for (std::size_t w = 0; w < columns.words; ++w) out[w] &= columns.column(b)[w];
        return out;
    }
    std::vector<std::uint32_t> hits(n, 0);
    for (unsigned b : pattern)
        for (std::size_t w = 0; w < columns.words; ++w)
            for (std::uint64_t word = columns.column(b)[w]; word; word &= word - 1)
                ++hits[w * 64 + static_cast<std::size_t>(__builtin_ctzll(word))];
    for (std::size_t i = 0; i < n; ++i)
        if (hits[i] >= need) out[i / 64] |= std::uint64_t{1} << (i % 64);
    return out;
}

// The miner: the most frequent unexplained position seeds a pattern. Without noise the pattern is
// the positions set in at least `pattern_agreement` of the records that show the seed. With flips
// (probability p, known to the attacker) that rule finds nothing: some records show the seed only
// through a flip, and the rest lose each position with probability p. So a position joins when its
// share among the seed's records is nearer the share expected of the seed's q-gram than its share
// among all records, and the pattern is then re-read from the records that show most of it (at
// least present_count of its positions), which flips cannot fake. The pattern is labelled with the
// unassigned q-gram whose frequency and co-occurrence with the q-grams labelled so far fit best.
LocatedGrams mine_patterns(const BitColumns& columns, std::size_t n, const ReferenceGrams& grams,
                           const std::vector<double>& together_ref, const AuditOptions& options) {
    const std::size_t G = grams.frequent.size();
    const unsigned m = static_cast<unsigned>(columns.support.size());
    const std::size_t words = columns.words;
    const double lowest = grams.frequent.empty() ? 1.0 : grams.frequent.back().second;
    const Noise noise(options);
    const double nd = static_cast<double>(n);
    LocatedGrams located;
    located.positions.resize(G);
    std::vector<char> seeded(m, 0), assigned(G, 0);
    std::vector<std::vector<std::uint64_t>> located_records(G);  // records showing the pattern
    std::vector<std::size_t> labelled;                            // located q-grams, in order found
    for (std::size_t round = 0; round < 4 * G; ++round) {
        unsigned seed = m;
        for (unsigned b = 0; b < m; ++b)
            if (!seeded[b] && (seed == m || columns.support[b] > columns.support[seed])) seed = b;
        if (seed == m || static_cast<double>(columns.support[seed]) < 0.5 * lowest * nd) break;
        seeded[seed] = 1;
        const double seed_support = static_cast<double>(columns.support[seed]);
        const double purity = noise.purity(seed_support / nd);
        std::vector<unsigned> pattern;
        for (unsigned b = 0; b < m; ++b) {
            // Without noise: nearly all of the seed's records. With it, the share expected of a position
            // of the seed's q-gram, less half its distance to the position's share among all records.
            const double base = static_cast<double>(columns.support[b]) / nd;
            const double expected = purity * (1 - noise.p) + (1 - purity) * base;
            const double need = noise.p > 0 ? (expected + base) / 2 : options.pattern_agreement * expected;
            if (static_cast<double>(popcount_and(columns.column(b), columns.column(seed), words)) >= need * seed_support)
                pattern.push_back(b);
        }
        if (pattern.size() < 3) continue;  // one noisy position, not a q-gram's k positions
        std::vector<std::uint64_t> common = holders(columns, pattern, noise.present_count(pattern.size()), n);
        if (noise.p > 0) {  // re-read the pattern from the records that show most of it
            const std::size_t count = popcount_of(common);
            if (count == 0) continue;
            pattern.clear();
            for (unsigned b = 0; b < m; ++b)
                if (static_cast<double>(popcount_and(columns.column(b), common.data(), words)) >=
                    options.pattern_agreement * (1 - noise.p) * static_cast<double>(count))
                    pattern.push_back(b);
            if (pattern.size() < 3) continue;
            common = holders(columns, pattern, noise.present_count(pattern.size()), n);
        }
        const std::size_t count = popcount_of(common);
        if (count == 0) continue;
        const double share = static_cast<double>(count) / nd;
        // Conditional shares, P(other | this), compared between the reference and the encodings.
        std::size_t best = G;
        double best_error = 1e9;
        for (std::size_t g = 0; g < G; ++g) {
            if (assigned[g]) continue;
            double error = std::fabs(std::log(grams.frequent[g].second / share));
            if (error > std::log(2.0)) continue;
            if (!labelled.empty()) {
                double mismatch = 0;
                for (std::size_t h : labelled) {
                    const double ref_conditional = together_ref[g * G + h] / grams.frequent[g].second;
                    const double enc_conditional =
                        static_cast<double>(popcount_and(common.data(), located_records[h].data(), words)) /
                        static_cast<double>(count);
                    mismatch += std::fabs(ref_conditional - enc_conditional);
                }
                error += 4.0 * mismatch / static_cast<double>(labelled.size());
            }
            if (error < best_error) best = g, best_error = error;
        }
        for (unsigned b : pattern) seeded[b] = 1;
        if (best == G || best_error > 0.6) continue;
        assigned[best] = 1;
        located.positions[best] = pattern;
        located_records[best] = std::move(common);
        labelled.push_back(best);
        ++located.count;
    }
    return located;
}

// Each filter says which located q-grams (at most 64) its value has and lacks; a record is guessed
// when at least one and at most max_candidates reference values fit (the most frequent of them).
// Present: at least `presence` of the pattern's positions, and no more than the flips allow missing.
std::vector<std::string> guess_from_patterns(const FilterMatrix& filters, const Reference& ref,
                                             const ReferenceGrams& grams, const LocatedGrams& located,
                                             const AuditOptions& options, std::vector<std::size_t>& fitting) {
    std::vector<std::string> guesses(filters.rows());
    fitting.assign(filters.rows(), 0);
    const Noise noise(options);
    std::vector<std::size_t> located_index;
    for (std::size_t g = 0; g < grams.frequent.size() && located_index.size() < 64; ++g)
        if (!located.positions[g].empty()) located_index.push_back(g);
    std::vector<std::uint64_t> value_mask(ref.values.size(), 0);
    for (std::size_t v = 0; v < ref.values.size(); ++v)
        for (std::size_t j = 0; j < located_index.size(); ++j)
            if (std::binary_search(grams.of_value[v].begin(), grams.of_value[v].end(),
                                   grams.frequent[located_index[j]].first))
                value_mask[v] |= std::uint64_t{1} << j;
    for (std::size_t i = 0; i < filters.rows() && !located_index.empty(); ++i) {
        const std::uint8_t* row = filters.row_bytes(i);
        std::uint64_t present = 0, absent = 0;
        for (std::size_t j = 0; j < located_index.size(); ++j) {
            const auto& pattern = located.positions[located_index[j]];
            std::size_t set = 0;
            for (unsigned b : pattern) set += filter_bit(row, b) ? 1 : 0;
            const double share = static_cast<double>(set) / static_cast<double>(pattern.size());
            if (share >= options.presence || (noise.p > 0 && set >= noise.present_count(pattern.size())))
                present |= std::uint64_t{1} << j;
            else if (share < 0.5) absent |= std::uint64_t{1} << j;
        }
        std::size_t fits = 0, first = 0;
        for (std::size_t v = 0; v < ref.values.size() && fits <= options.max_candidates; ++v)
            if ((present & ~value_mask[v]) == 0 && (absent & value_mask[v]) == 0 && value_mask[v] != 0) {
                if (fits++ == 0) first = v;  // values are most frequent first
            }
        fitting[i] = fits;
        if (fits >= 1 && fits <= options.max_candidates) guesses[i] = ref.values[first];
    }
    return guesses;
}

// `fitting[i]`: how many reference values (up to max_candidates + 1) fit what row i's located
// q-grams say; 0 where none was located or none fits.
AttackResult pattern_attack(const FilterMatrix& filters, const std::vector<std::string>& truth, const Reference& ref,
                            const TokenizerSpec& tokenizer, const AuditOptions& options,
                            std::vector<std::size_t>& fitting) {
    AttackResult result;
    fitting.assign(filters.rows(), 0);
    result.name = "bit-pattern mining";
    if (filters.rows() == 0 || ref.values.empty()) {
        score(result, truth, std::vector<std::string>(filters.rows()), ref);
        return result;
    }
    const ReferenceGrams grams = reference_grams(ref, tokenizer, options.max_qgrams);
    const BitColumns columns(filters);
    const LocatedGrams located =
        mine_patterns(columns, filters.rows(), grams, reference_cooccurrence(ref, grams), options);
    result.patterns = located.count;
    score(result, truth, guess_from_patterns(filters, ref, grams, located, options, fitting), ref);
    return result;
}

// Similarity-clustering frequency alignment, for an attacker who knows the encodings are noisy
// (BLIP, diffusion) and so looks for similar filters rather than identical ones (after the cluster
// attacks of Vidanage, Christen, Ranbaduge & Schnell, and Christen et al. 2017). Two encodings of one
// value keep most of their bits, so records are joined into clusters at Dice ≥ τ (the links of
// each record's `similarity_neighbours` nearest filters, connected components), clusters ranked by
// size are aligned with reference values ranked by frequency. τ comes from the filters alone: each
// sampled record's nearest-neighbour Dice, fitted with a two-component Gaussian mixture (values
// that recur form the high component), the threshold where the posteriors cross. `near` holds at
// least two links per record (itself and its nearest other).
double attacker_threshold(const Nearest& near, const AuditOptions& options) {
    const std::size_t n = near.rows;
    const std::size_t sample = std::min(n, options.similarity_sample);
    constexpr std::size_t unsampled = std::numeric_limits<std::size_t>::max();
    std::vector<std::size_t> sampled(n, unsampled);
    for (std::size_t s = 0; s < sample; ++s) sampled[s * n / sample] = s;  // evenly spread, deterministic
    std::vector<double> nearest(sample, 0.0);
    const Candidates& links = near.links;
    for (std::size_t k = 0; k < links.size(); ++k) {
        const std::size_t s = sampled[links.a_index[k]];
        if (s != unsampled && links.a_index[k] != links.b_index[k]) nearest[s] = std::max(nearest[s], links.score(k));
    }
    const MixtureEstimate mixture = fit_mixture(nearest);
    double threshold = mixture.threshold;
    if (!(threshold > 0.0 && threshold < 1.0)) {  // no two components: the median nearest neighbour
        std::sort(nearest.begin(), nearest.end());
        threshold = nearest.empty() ? 0.5 : nearest[nearest.size() / 2];
    }
    return std::clamp(threshold, 0.05, 0.99);
}

// Records joined at Dice ≥ τ (each record's `neighbours` nearest links), the connected components
// of two records or more, largest first.
std::vector<std::vector<std::size_t>> similarity_clusters(const FilterMatrix& filters, const Nearest& near, double tau,
                                                          std::size_t neighbours) {
    const std::size_t n = filters.rows();
    Candidates links;
    if (neighbours == 0) {  // every link at τ, more than any record's nearest hold
        MatchOptions match_options;
        match_options.threshold = Threshold::from_double(tau);
        links = match(filters, filters, match_options);
    } else {  // neighbours ≤ near.k: every caller's `near` keeps that many
        links = first_links(near, neighbours, Threshold::from_double(tau));
    }
    detail::DisjointSets sets(n);
    for (std::size_t k = 0; k < links.size(); ++k)
        if (links.a_index[k] != links.b_index[k]) sets.join(links.a_index[k], links.b_index[k]);
    std::vector<std::vector<std::size_t>> members(n);
    for (std::size_t i = 0; i < n; ++i) members[sets.find(i)].push_back(i);
    std::vector<std::vector<std::size_t>> clusters;
    for (auto& cluster : members)
        if (cluster.size() >= 2) clusters.push_back(std::move(cluster));
    std::sort(clusters.begin(), clusters.end(), [](const auto& a, const auto& b) {
        return a.size() != b.size() ? a.size() > b.size() : a.front() < b.front();
    });
    return clusters;
}

// The similarity attack's clusters: τ chosen from the filters, then the clusters at τ (none for
// fewer than two filters). They depend on the filters alone, not on the field attacked.
struct SimilarityClusters {
    double tau = 0;
    std::vector<std::vector<std::size_t>> clusters;
};

SimilarityClusters similarity_clustering(const FilterMatrix& filters, const Nearest& near, const AuditOptions& options) {
    SimilarityClusters out;
    if (filters.rows() < 2) return out;
    out.tau = attacker_threshold(near, options);
    out.clusters = similarity_clusters(filters, near, out.tau, options.similarity_neighbours);
    return out;
}

AttackResult similarity_attack(const SimilarityClusters& clustering, std::size_t n, const std::vector<std::string>& truth,
                               const Reference& ref) {
    AttackResult result;
    result.name = "similarity clustering";
    std::vector<std::string> guesses(n);
    if (n < 2 || ref.values.empty()) {
        score(result, truth, guesses, ref);
        return result;
    }
    result.threshold = clustering.tau;
    for (std::size_t rank = 0; rank < clustering.clusters.size() && rank < ref.values.size(); ++rank)
        for (std::size_t row : clustering.clusters[rank]) guesses[row] = ref.values[rank];
    score(result, truth, guesses, ref);
    return result;
}

// The graph-matching attack of Vidanage, Christen, Ranbaduge & Schnell (CIKM 2020), for an attacker
// who knows the encoding and its hardening and so encodes a reference population of their own under
// a key of their own: the two encodings cannot be compared bit for bit, but their similarity graphs
// look alike. Each side's records are grouped at Dice ≥ τ (τ from the attacker's own encodings, as
// the similarity attack chooses it); each group is a node, described by what survives a change of
// key: its size (frequency, scaled by the populations' sizes), its members' mean popcount (length),
// how tightly its members agree, and its similarity to its nearest other nodes (the similarity
// neighbourhood). Nodes are matched one to one, most alike first, and the best `overlap` share of
// the encoded side's nodes are kept: the attacker's estimate of how much of the encoded population
// the reference covers. A matched node's records are guessed as the most frequent value of the
// reference node's records.
constexpr std::size_t graph_features = 8;
using NodeFeatures = std::array<double, graph_features>;

struct SimilarityGraph {
    std::vector<std::vector<std::size_t>> nodes;  // records of each node
    std::vector<NodeFeatures> features;
};

SimilarityGraph similarity_graph(const FilterMatrix& filters, const Nearest& near, double tau, std::size_t neighbours,
                                 double size_scale) {
    const std::size_t n = filters.rows();
    SimilarityGraph graph;
    std::vector<std::size_t> node_of(n, std::numeric_limits<std::size_t>::max());
    graph.nodes = similarity_clusters(filters, near, tau, neighbours);
    for (std::size_t v = 0; v < graph.nodes.size(); ++v)
        for (std::size_t r : graph.nodes[v]) node_of[r] = v;
    for (std::size_t r = 0; r < n; ++r)
        if (node_of[r] == std::numeric_limits<std::size_t>::max()) {
            node_of[r] = graph.nodes.size();
            graph.nodes.push_back({r});
        }
    // Every record's nearest others, at any similarity: the edges of the graph.
    const Candidates links = first_links(near, neighbours + 1, any_similarity());
    const std::size_t V = graph.nodes.size();
    std::vector<double> cohesion(V, 0.0);
    std::vector<std::size_t> cohesion_links(V, 0);
    std::vector<std::unordered_map<std::size_t, double>> nearest(V);  // other node → best Dice
    for (std::size_t k = 0; k < links.size(); ++k) {
        const std::size_t a = links.a_index[k], b = links.b_index[k];
        if (a == b) continue;
        const double dice = links.score(k);
        const std::size_t u = node_of[a], w = node_of[b];
        if (u == w) {
            cohesion[u] += dice;
            ++cohesion_links[u];
        } else {
            double& best = nearest[u][w];
            best = std::max(best, dice);
        }
    }
    const auto& popcounts = filters.popcounts();
    graph.features.resize(V);
    std::vector<double> around;
    for (std::size_t v = 0; v < V; ++v) {
        NodeFeatures& f = graph.features[v];
        double length = 0;
        for (std::size_t r : graph.nodes[v]) length += popcounts[r];
        around.clear();
        for (const auto& [other, dice] : nearest[v]) around.push_back(dice);
        std::sort(around.begin(), around.end(), std::greater<>());
        around.resize(std::max<std::size_t>(around.size(), 8), 0.0);
        double near_mean = 0;
        for (std::size_t i = 0; i < 8; ++i) near_mean += around[i] / 8;
        f = {std::log(static_cast<double>(graph.nodes[v].size()) * size_scale),
             length / static_cast<double>(graph.nodes[v].size()) / static_cast<double>(filters.bits()),
             cohesion_links[v] ? cohesion[v] / static_cast<double>(cohesion_links[v]) : 1.0,
             around[0], around[1], around[3], around[7], near_mean};
    }
    return graph;
}

// The graph attack's node matching: each side's nodes (groups of records) and the pairs of nodes it
// matches, most alike first; the same whatever field is then guessed.
struct GraphMatching {
    bool ran = false;  // both sides have two records or more
    double tau = 0;
    std::vector<std::pair<std::vector<std::size_t>, std::vector<std::size_t>>> matched;  // (encoded rows, reference rows)
};

GraphMatching graph_matching(const FilterMatrix& filters, const Nearest& near, const FilterMatrix& reference_filters,
                             const AuditOptions& options) {
    GraphMatching out;
    const std::size_t n = filters.rows(), n_ref = reference_filters.rows();
    if (n < 2 || n_ref < 2) return out;
    out.ran = true;
    const Nearest reference_near =
        nearest_records(reference_filters, std::max(std::size_t{2}, options.similarity_neighbours + 1));
    const double tau = attacker_threshold(reference_near, options);
    out.tau = tau;
    const SimilarityGraph mine =
        similarity_graph(reference_filters, reference_near, tau, options.similarity_neighbours, 1.0);
    const SimilarityGraph theirs = similarity_graph(filters, near, tau, options.similarity_neighbours,
                                                    static_cast<double>(n_ref) / static_cast<double>(n));
    // Features in units of their spread over the attacker's nodes.
    NodeFeatures mean{}, spread{};
    for (const auto& f : mine.features)
        for (std::size_t d = 0; d < graph_features; ++d) mean[d] += f[d] / static_cast<double>(mine.features.size());
    for (const auto& f : mine.features)
        for (std::size_t d = 0; d < graph_features; ++d)
            spread[d] += (f[d] - mean[d]) * (f[d] - mean[d]) / static_cast<double>(mine.features.size());
    for (double& s : spread) s = s > 0 ? 1.0 / std::sqrt(s) : 0.0;
    // Each encoded node's few most alike reference nodes, then one-to-one, most alike first.
    constexpr std::size_t shortlist = 4;
    struct Pair {
        double distance;
        std::uint32_t theirs, mine;
    };
    std::vector<Pair> pairs;
    std::vector<Pair> best;
    // Squared distances to a block of my nodes at a time, from columns of my features: each pair's
    // eight additions run in order (the same values as one pair at a time), and the block's pairs,
    // independent of each other, fill the vector lanes.
    const std::size_t M = mine.features.size();
    constexpr std::size_t block = 256;
    std::vector<double> columns(graph_features * M), d2(block);
    for (std::size_t m = 0; m < M; ++m)
        for (std::size_t d = 0; d < graph_features; ++d) columns[d * M + m] = mine.features[m][d];
    for (std::size_t t = 0; t < theirs.features.size(); ++t) {
        best.clear();
        for (std::size_t first = 0; first < M; first += block) {
            const std::size_t size = std::min(block, M - first);
            const double* const column = columns.data() + first;
            for (std::size_t i = 0; i < size; ++i) {
                double sum = 0;
                for (std::size_t d = 0; d < graph_features; ++d) {
                    const double x = (theirs.features[t][d] - column[d * M + i]) * spread[d];
                    sum += x * x;
                }
                d2[i] = sum;
            }
            for (std::size_t i = 0; i < size; ++i) {
                if (best.size() == shortlist && !(d2[i] < best.back().distance)) continue;
                if (best.size() == shortlist) best.pop_back();
                const Pair p{d2[i], static_cast<std::uint32_t>(t), static_cast<std::uint32_t>(first + i)};
                best.insert(std::upper_bound(best.begin(), best.end(), p,
                                             [](const Pair& a, const Pair& b) { return a.distance < b.distance; }),
                            p);
            }
        }
        pairs.insert(pairs.end(), best.begin(), best.end());
    }
    std::sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) {
        return a.distance != b.distance ? a.distance < b.distance
                                        : (a.theirs != b.theirs ? a.theirs < b.theirs : a.mine < b.mine);
    });
    const std::size_t keep = static_cast<std::size_t>(
        std::ceil(std::clamp(options.overlap, 0.0, 1.0) * static_cast<double>(theirs.nodes.size())));
    std::vector<char> theirs_used(theirs.nodes.size(), 0), mine_used(mine.nodes.size(), 0);
    std::size_t matched = 0;
    for (const Pair& p : pairs) {
        if (matched == keep) break;
        if (theirs_used[p.theirs] || mine_used[p.mine]) continue;
        theirs_used[p.theirs] = mine_used[p.mine] = 1;
        ++matched;
        out.matched.emplace_back(theirs.nodes[p.theirs], mine.nodes[p.mine]);
    }
    return out;
}

// Each matched encoded node's records are guessed as its reference node's most frequent value.
AttackResult graph_attack(const GraphMatching& matching, std::size_t n, const std::vector<std::string>& truth,
                          const Reference& ref, const std::vector<std::string>& reference_values) {
    AttackResult result;
    result.name = "graph matching";
    std::vector<std::string> guesses(n);
    if (!matching.ran) {
        score(result, truth, guesses, ref);
        return result;
    }
    result.threshold = matching.tau;
    for (const auto& [encoded_rows, reference_rows] : matching.matched) {
        std::map<std::string, std::size_t> values;
        for (std::size_t r : reference_rows)
            if (!reference_values[r].empty()) ++values[reference_values[r]];
        std::string guess;
        std::size_t most = 0;
        for (const auto& [value, count] : values)
            if (count > most) guess = value, most = count;
        for (std::size_t r : encoded_rows) guesses[r] = guess;
    }
    score(result, truth, guesses, ref);
    return result;
}

// Per record, its vulnerability under each measure (see Vulnerability). A record's near copies are
// its neighbours at Dice ≥ τ among its `vulnerability_neighbours` nearest; the records that share
// a signature hold about Σ 1 / (near copies + 1) distinct values, the size of its class.
// The co-occurrence measure is the pattern attack's (set per field by with_cooccurrence); the
// other four depend on the filters alone.
std::vector<std::array<double, vulnerability_measures>> record_vulnerabilities(const FilterMatrix& filters,
                                                                               const Nearest& near, double tau,
                                                                               const AuditOptions& options) {
    const std::size_t n = filters.rows();
    std::vector<std::array<double, vulnerability_measures>> out(n, std::array<double, vulnerability_measures>{});
    if (n < 2) return out;
    const Candidates links = first_links(near, options.vulnerability_neighbours + 1, any_similarity());
    std::vector<std::size_t> copies(n, 0);
    std::vector<std::vector<double>> others(n);  // Dice to the nearest records that are not near copies
    for (std::size_t k = 0; k < links.size(); ++k) {
        if (links.a_index[k] == links.b_index[k]) continue;
        const double dice = links.score(k);
        if (dice >= tau) ++copies[links.a_index[k]];
        else others[links.a_index[k]].push_back(dice);
    }
    const double p = std::clamp(options.flip_probability, 0.0, 0.5);
    const double length_step = 1.0 + 2.0 * std::sqrt(static_cast<double>(filters.bits()) * p * (1 - p));
    auto step = [](double x, double width) { return static_cast<long long>(std::floor(x / width)); };
    using Signature = std::vector<long long>;
    const auto& popcounts = filters.popcounts();
    for (std::size_t m : {0, 1, 3, 4}) {
        std::vector<Signature> signature(n);
        for (std::size_t r = 0; r < n; ++r) {
            auto& near = others[r];
            std::sort(near.begin(), near.end(), std::greater<>());
            near.resize(std::max<std::size_t>(near.size(), 8), 0.0);
            const long long c = static_cast<long long>(copies[r]);
            if (m == 0) signature[r] = {c};
            if (m == 1) signature[r] = {step(popcounts[r], length_step)};
            if (m == 3) signature[r] = {step(near[0], 0.02)};
            if (m == 4) signature[r] = {c, step(near[0], 0.05), step(near[1], 0.05), step(near[3], 0.05), step(near[7], 0.05)};
        }
        std::map<Signature, double> values;
        for (std::size_t r = 0; r < n; ++r) values[signature[r]] += 1.0 / static_cast<double>(copies[r] + 1);
        for (std::size_t r = 0; r < n; ++r) out[r][m] = std::min(1.0, 1.0 / values[signature[r]]);
    }
    return out;
}

std::vector<std::array<double, vulnerability_measures>> with_cooccurrence(
    std::vector<std::array<double, vulnerability_measures>> per_record, const std::vector<std::size_t>& fitting) {
    for (std::size_t r = 0; r < per_record.size(); ++r)
        per_record[r][2] = fitting[r] ? 1.0 / static_cast<double>(fitting[r]) : 0.0;
    return per_record;
}

std::vector<Vulnerability> summarise_vulnerabilities(const std::vector<std::array<double, vulnerability_measures>>& per_record,
                                                     const std::vector<std::string>* groups) {
    std::map<std::string, Vulnerability> by_group;
    Vulnerability all;
    auto add = [](Vulnerability& v, const std::array<double, vulnerability_measures>& x) {
        ++v.records;
        for (std::size_t m = 0; m < vulnerability_measures; ++m) {
            v.mean[m] += x[m];
            v.high[m] += x[m] >= 0.5 ? 1.0 : 0.0;
        }
    };
    for (std::size_t r = 0; r < per_record.size(); ++r) {
        add(all, per_record[r]);
        if (groups && !(*groups)[r].empty()) add(by_group[(*groups)[r]], per_record[r]);
    }
    std::vector<Vulnerability> out{all};
    for (auto& [name, v] : by_group) {
        v.group = name;
        out.push_back(v);
    }
    for (auto& v : out)
        for (std::size_t m = 0; m < vulnerability_measures && v.records; ++m) {
            v.mean[m] /= static_cast<double>(v.records);
            v.high[m] /= static_cast<double>(v.records);
        }
    return out;
}

}  // namespace

namespace {

FilterStatistics statistics(const FilterMatrix& filters, const std::vector<std::vector<std::size_t>>& groups) {
    FilterStatistics s;
    s.records = filters.rows();
    s.bits = filters.bits();
    s.popcount_histogram.assign(32, 0);
    if (s.records == 0) return s;
    std::vector<std::size_t> per_bit(s.bits, 0);
    for (std::size_t i = 0; i < s.records; ++i) {
        const std::uint8_t* row = filters.row_bytes(i);
        unsigned count = 0;
        for (unsigned b = 0; b < s.bits; ++b)
            if (filter_bit(row, b)) ++per_bit[b], ++count;
        ++s.popcount_histogram[std::min<std::size_t>(31, std::size_t{count} * 32 / (s.bits + 1))];
    }
    const double n = static_cast<double>(s.records);
    const PopcountSummary pop = filters.popcount_summary();
    s.popcount_min = pop.min;
    s.popcount_max = pop.max;
    s.popcount_mean = pop.mean;
    s.popcount_sd = pop.sd;
    double f_sum = 0, f_sq = 0;
    s.bit_frequency_min = 1;
    for (std::size_t c : per_bit) {
        const double f = static_cast<double>(c) / n;
        f_sum += f;
        f_sq += f * f;
        s.bit_frequency_min = std::min(s.bit_frequency_min, f);
        s.bit_frequency_max = std::max(s.bit_frequency_max, f);
    }
    s.bit_frequency_mean = f_sum / s.bits;
    const double var = std::max(0.0, f_sq / s.bits - s.bit_frequency_mean * s.bit_frequency_mean);
    s.bit_frequency_cv = s.bit_frequency_mean > 0 ? std::sqrt(var) / s.bit_frequency_mean : 0;
    s.distinct_filters = groups.size();
    for (const auto& rows : groups) {
        if (rows.size() >= 2) s.records_in_duplicates += rows.size();
        s.largest_duplicate_group = std::max(s.largest_duplicate_group, rows.size());
    }
    return s;
}

}  // namespace

namespace {

// A view of the same bits with popcounts (the statistics and the matcher need them), computed once
// per audit where the caller has not (encode_batch's filters come without).
FilterMatrix with_popcounts(const FilterMatrix& filters) {
    FilterMatrix view = filters;
    if (view.popcounts().size() != view.rows()) view.compute_popcounts();
    return view;
}

}  // namespace

FilterStatistics filter_statistics(const FilterMatrix& given) {
    const FilterMatrix filters = with_popcounts(given);
    return statistics(filters, identical_filters(filters));
}

// One true value per filter, and one value per attacker's encoding when the graph attack runs: the
// two audit() entries check these, the wrapper before the preparation's work.
void check_truth(std::size_t truth, std::size_t filters) {
    if (truth != filters)
        throw UsageError("audit needs one true value per filter (" + std::to_string(truth) + " for " +
                         std::to_string(filters) + ")");
}

void check_reference_values(const std::vector<std::string>* values, std::size_t reference_rows) {
    if (values == nullptr || values->size() != reference_rows)
        throw UsageError("the graph attack needs one reference value per reference encoding");
}

struct AuditedFilters::Impl {
    FilterMatrix filters;
    AuditOptions options;
    std::vector<std::vector<std::size_t>> identical;
    FilterStatistics statistics;
    SimilarityClusters clustering;
    bool graph = false;  // the attacker's encodings were given
    std::size_t reference_rows = 0;
    GraphMatching matching;
    std::vector<std::array<double, vulnerability_measures>> vulnerability;  // co-occurrence still 0
};

AuditedFilters::AuditedFilters(const FilterMatrix& given, const AuditOptions& options,
                               const FilterMatrix* reference_encoded)
    : impl_(std::make_unique<Impl>()) {
    Impl& p = *impl_;
    p.filters = with_popcounts(given);
    p.options = options;
    if (reference_encoded != nullptr && reference_encoded->bits() != p.filters.bits())
        throw UsageError("the reference encodings and the audited ones differ in length");
    p.identical = identical_filters(p.filters);
    p.statistics = statistics(p.filters, p.identical);
    // One match for every attack's links: at least two per record (the attacker's threshold wants
    // each record's nearest other), as many as the clustering, the graph's edges and the near-copy
    // count take.
    const Nearest near = nearest_records(
        p.filters, std::max({std::size_t{2}, options.similarity_neighbours + 1, options.vulnerability_neighbours + 1}));
    p.clustering = similarity_clustering(p.filters, near, options);
    if (reference_encoded != nullptr) {
        p.graph = true;
        p.reference_rows = reference_encoded->rows();
        p.matching = graph_matching(p.filters, near, with_popcounts(*reference_encoded), options);
    }
    p.vulnerability = record_vulnerabilities(p.filters, near, p.clustering.tau, options);
}

AuditedFilters::~AuditedFilters() = default;
AuditedFilters::AuditedFilters(AuditedFilters&&) noexcept = default;
AuditedFilters& AuditedFilters::operator=(AuditedFilters&&) noexcept = default;

AuditReport audit(const AuditedFilters& encodings, const std::vector<std::string>& truth_raw,
                  const std::vector<std::string>& reference, const NormalizeOptions& normalize_options,
                  const TokenizerSpec& tokenizer, const std::vector<std::string>* reference_encoded_values,
                  const std::vector<std::string>* groups) {
    const AuditedFilters::Impl& p = *encodings.impl_;
    const FilterMatrix& filters = p.filters;
    check_truth(truth_raw.size(), filters.rows());
    if (groups != nullptr && groups->size() != filters.rows())
        throw UsageError("audit needs one group per filter (" + std::to_string(groups->size()) + " for " +
                         std::to_string(filters.rows()) + ")");
    if (p.graph) check_reference_values(reference_encoded_values, p.reference_rows);
    std::vector<std::string> truth(truth_raw.size());
    for (std::size_t i = 0; i < truth.size(); ++i) truth[i] = normalized_or_empty(truth_raw[i], normalize_options);
    const Reference ref = reference_frequencies(reference, normalize_options);
    AuditReport report;
    report.statistics = p.statistics;
    report.attacks.push_back(frequency_attack(filters, p.identical, truth, ref));
    std::vector<std::size_t> fitting;
    report.attacks.push_back(pattern_attack(filters, truth, ref, tokenizer, p.options, fitting));
    report.attacks.push_back(similarity_attack(p.clustering, filters.rows(), truth, ref));
    if (p.graph) {
        std::vector<std::string> values(reference_encoded_values->size());
        for (std::size_t i = 0; i < values.size(); ++i)
            values[i] = normalized_or_empty((*reference_encoded_values)[i], normalize_options);
        report.attacks.push_back(graph_attack(p.matching, filters.rows(), truth, ref, values));
    }
    report.vulnerabilities = summarise_vulnerabilities(with_cooccurrence(p.vulnerability, fitting), groups);
    return report;
}

AuditReport audit(const FilterMatrix& given, const std::vector<std::string>& truth_raw,
                  const std::vector<std::string>& reference, const NormalizeOptions& normalize_options,
                  const TokenizerSpec& tokenizer, const AuditOptions& options, const FilterMatrix* reference_encoded,
                  const std::vector<std::string>* reference_encoded_values, const std::vector<std::string>* groups) {
    check_truth(truth_raw.size(), given.rows());
    if (reference_encoded != nullptr) check_reference_values(reference_encoded_values, reference_encoded->rows());
    return audit(AuditedFilters(given, options, reference_encoded), truth_raw, reference, normalize_options, tokenizer,
                 reference_encoded_values, groups);
}

}  // namespace pprl
