#include "pprl/audit.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <string_view>
#include <unordered_map>

#include "hub/solve.hpp"
#include "pprl/error.hpp"
#include "pprl/evaluate.hpp"
#include "pprl/match.hpp"
#include "agency/tokenize.hpp"

namespace pprl {
namespace {

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

std::size_t popcount_and(const std::uint64_t* a, const std::uint64_t* b, std::size_t words) {
    std::size_t n = 0;
    for (std::size_t w = 0; w < words; ++w) n += static_cast<std::size_t>(__builtin_popcountll(a[w] & b[w]));
    return n;
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

// The miner: the most frequent unexplained position seeds a pattern (the positions present in at
// least `pattern_agreement` of the records that have the seed); the pattern is labelled with the
// unassigned q-gram whose frequency and co-occurrence with the q-grams labelled so far fit best.
LocatedGrams mine_patterns(const BitColumns& columns, std::size_t n, const ReferenceGrams& grams,
                           const std::vector<double>& together_ref, const AuditOptions& options) {
    const std::size_t G = grams.frequent.size();
    const unsigned m = static_cast<unsigned>(columns.support.size());
    const std::size_t words = columns.words;
    const double lowest = grams.frequent.empty() ? 1.0 : grams.frequent.back().second;
    LocatedGrams located;
    located.positions.resize(G);
    std::vector<char> seeded(m, 0), assigned(G, 0);
    std::vector<std::vector<std::uint64_t>> located_records(G);  // records having every position
    std::vector<std::size_t> labelled;                            // located q-grams, in order found
    std::vector<std::uint64_t> common(words);
    for (std::size_t round = 0; round < 4 * G; ++round) {
        unsigned seed = m;
        for (unsigned b = 0; b < m; ++b)
            if (!seeded[b] && (seed == m || columns.support[b] > columns.support[seed])) seed = b;
        if (seed == m || static_cast<double>(columns.support[seed]) < 0.5 * lowest * static_cast<double>(n)) break;
        seeded[seed] = 1;
        std::vector<unsigned> pattern;
        for (unsigned b = 0; b < m; ++b)
            if (static_cast<double>(popcount_and(columns.column(b), columns.column(seed), words)) >=
                options.pattern_agreement * static_cast<double>(columns.support[seed]))
                pattern.push_back(b);
        if (pattern.size() < 3) continue;  // one noisy position, not a q-gram's k positions
        std::copy(columns.column(pattern[0]), columns.column(pattern[0]) + words, common.begin());
        for (unsigned b : pattern)
            for (std::size_t w = 0; w < words; ++w) common[w] &= columns.column(b)[w];
        std::size_t count = 0;
        for (std::uint64_t w : common) count += static_cast<std::size_t>(__builtin_popcountll(w));
        if (count == 0) continue;
        const double share = static_cast<double>(count) / static_cast<double>(n);
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
        located_records[best] = common;
        labelled.push_back(best);
        ++located.count;
    }
    return located;
}

// Each filter says which located q-grams (at most 64) its value has and lacks; a record is guessed
// when at least one and at most max_candidates reference values fit (the most frequent of them).
std::vector<std::string> guess_from_patterns(const FilterMatrix& filters, const Reference& ref,
                                             const ReferenceGrams& grams, const LocatedGrams& located,
                                             const AuditOptions& options) {
    std::vector<std::string> guesses(filters.rows());
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
            if (share >= options.presence) present |= std::uint64_t{1} << j;
            else if (share < 0.5) absent |= std::uint64_t{1} << j;
        }
        std::size_t fits = 0, first = 0;
        for (std::size_t v = 0; v < ref.values.size() && fits <= options.max_candidates; ++v)
            if ((present & ~value_mask[v]) == 0 && (absent & value_mask[v]) == 0 && value_mask[v] != 0) {
                if (fits++ == 0) first = v;  // values are most frequent first
            }
        if (fits >= 1 && fits <= options.max_candidates) guesses[i] = ref.values[first];
    }
    return guesses;
}

AttackResult pattern_attack(const FilterMatrix& filters, const std::vector<std::string>& truth, const Reference& ref,
                            const TokenizerSpec& tokenizer, const AuditOptions& options) {
    AttackResult result;
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
    score(result, truth, guess_from_patterns(filters, ref, grams, located, options), ref);
    return result;
}

// Similarity-clustering frequency alignment, for an attacker who knows the encodings are noisy
// (BLIP, diffusion) and so looks for similar filters rather than identical ones (after the cluster
// attacks of Vidanage, Christen, Ranbaduge & Schnell, and Christen et al. 2017). Two encodings of one
// value keep most of their bits, so records are joined into clusters at Dice ≥ τ (the links of
// each record's `similarity_neighbours` nearest filters, connected components), clusters ranked by
// size are aligned with reference values ranked by frequency. τ comes from the filters alone: each
// sampled record's nearest-neighbour Dice, fitted with a two-component Gaussian mixture (values
// that recur form the high component), the threshold where the posteriors cross.
double attacker_threshold(const FilterMatrix& filters, const AuditOptions& options) {
    const std::size_t n = filters.rows();
    const std::size_t sample = std::min(n, options.similarity_sample);
    std::vector<std::size_t> source(sample);
    for (std::size_t s = 0; s < sample; ++s) source[s] = s * n / sample;  // evenly spread, deterministic
    const FilterMatrix probes = filters.copy_rows(source);
    MatchOptions match_options;
    match_options.threshold = Threshold::parse("0.01");
    match_options.top_k = 2;  // the record itself, and its nearest other
    const Candidates best = match(probes, filters, match_options);
    std::vector<double> nearest(sample, 0.0);
    for (std::size_t k = 0; k < best.size(); ++k)
        if (source[best.a_index[k]] != best.b_index[k]) nearest[best.a_index[k]] = std::max(nearest[best.a_index[k]], best.score(k));
    const MixtureEstimate mixture = fit_mixture(nearest);
    double threshold = mixture.threshold;
    if (!(threshold > 0.0 && threshold < 1.0)) {  // no two components: the median nearest neighbour
        std::sort(nearest.begin(), nearest.end());
        threshold = nearest.empty() ? 0.5 : nearest[nearest.size() / 2];
    }
    return std::clamp(threshold, 0.05, 0.99);
}

AttackResult similarity_attack(const FilterMatrix& filters, const std::vector<std::string>& truth, const Reference& ref,
                               const AuditOptions& options) {
    AttackResult result;
    result.name = "similarity clustering";
    const std::size_t n = filters.rows();
    std::vector<std::string> guesses(n);
    if (n < 2 || ref.values.empty()) {
        score(result, truth, guesses, ref);
        return result;
    }
    const double tau = attacker_threshold(filters, options);
    result.threshold = tau;
    MatchOptions match_options;
    match_options.threshold = Threshold::from_double(tau);
    match_options.top_k = options.similarity_neighbours;
    const Candidates links = match(filters, filters, match_options);
    detail::DisjointSets sets(n);
    for (std::size_t k = 0; k < links.size(); ++k)
        if (links.a_index[k] != links.b_index[k]) sets.join(links.a_index[k], links.b_index[k]);
    std::vector<std::vector<std::size_t>> members(n);
    for (std::size_t i = 0; i < n; ++i) members[sets.find(i)].push_back(i);
    std::vector<const std::vector<std::size_t>*> clusters;
    for (const auto& cluster : members)
        if (cluster.size() >= 2) clusters.push_back(&cluster);
    std::sort(clusters.begin(), clusters.end(), [](const auto* a, const auto* b) {
        return a->size() != b->size() ? a->size() > b->size() : a->front() < b->front();
    });
    for (std::size_t rank = 0; rank < clusters.size() && rank < ref.values.size(); ++rank)
        for (std::size_t row : *clusters[rank]) guesses[row] = ref.values[rank];
    score(result, truth, guesses, ref);
    return result;
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

AuditReport audit(const FilterMatrix& given, const std::vector<std::string>& truth_raw,
                  const std::vector<std::string>& reference, const NormalizeOptions& normalize_options,
                  const TokenizerSpec& tokenizer, const AuditOptions& options) {
    const FilterMatrix filters = with_popcounts(given);
    if (truth_raw.size() != filters.rows())
        throw UsageError("audit needs one true value per filter (" + std::to_string(truth_raw.size()) + " for " +
                         std::to_string(filters.rows()) + ")");
    std::vector<std::string> truth(truth_raw.size());
    for (std::size_t i = 0; i < truth.size(); ++i) truth[i] = normalized_or_empty(truth_raw[i], normalize_options);
    const Reference ref = reference_frequencies(reference, normalize_options);
    AuditReport report;
    const auto groups = identical_filters(filters);
    report.statistics = statistics(filters, groups);
    report.attacks.push_back(frequency_attack(filters, groups, truth, ref));
    report.attacks.push_back(pattern_attack(filters, truth, ref, tokenizer, options));
    report.attacks.push_back(similarity_attack(filters, truth, ref, options));
    return report;
}

}  // namespace pprl
