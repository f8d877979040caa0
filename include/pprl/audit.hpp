// pprl/audit.hpp — what an attacker could learn from an agency's encodings, measured at the agency
// before they leave (`pprl audit`). Never run at the hub: it needs plaintext.
//
// Filter statistics: how evenly bits are used (a hardened encoding's bit frequencies are flat),
// duplicate filters (identical values give identical unhardened filters), popcounts (which leak
// value lengths unless balanced).
//
// Four attacks against one field (say first names). The attacker has a plaintext reference from a
// similar population and knows the schema, the hardening and its parameters, not the key:
//   frequency  filters that occur several times are ranked by count and aligned with reference
//              values ranked by frequency (Kuzu et al. 2011; Christen et al. 2017).
//   pattern    frequent bit patterns are mined and aligned with frequent q-grams, in the spirit of
//              Christen, Ranbaduge, Vatsalan & Schnell (2018): the most frequent unexplained bit
//              seeds a pattern, matched to the q-gram of closest frequency and co-occurrence. Each
//              filter then says which located q-grams its value has and lacks, and a value is
//              re-identified when at most a few reference values fit (the most frequent of them is
//              the guess). The support thresholds allow for the hardening's known flip rate
//              (AuditOptions::flip_probability), so BLIP's noise does not hide the patterns.
//   similarity records joined at Dice ≥ τ (each record's nearest filters, connected components),
//              clusters ranked by size aligned with reference values ranked by frequency: frequency
//              alignment for an attacker who knows the hardening adds noise, so two encodings of one
//              value are similar rather than identical. τ is chosen from the filters alone (a
//              mixture fit of nearest-neighbour scores), never from the truth.
//   graph      the graph-matching attack of Vidanage, Christen, Ranbaduge & Schnell (CIKM 2020), run
//              when the attacker's own encodings of the reference are given: both sides' records
//              grouped at Dice ≥ τ, each group a node described by frequency, length and similarity
//              neighbourhood (features a change of key leaves), nodes matched one to one, most alike
//              first, for the `overlap` share of the encoded side's nodes.
// A guess is correct when it equals the record's true (normalised) value. Success is reported per
// record and per distinct value, beside chance: guessing the most frequent reference value for all.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "pprl/bloom.hpp"
#include "pprl/normalize.hpp"
#include "pprl/schema.hpp"

namespace pprl {

struct FilterStatistics {
    std::size_t records = 0;
    unsigned bits = 0;
    double bit_frequency_min = 0, bit_frequency_max = 0, bit_frequency_mean = 0;
    double bit_frequency_cv = 0;  // coefficient of variation of the per-position frequencies
    std::size_t distinct_filters = 0;
    std::size_t records_in_duplicates = 0;  // records whose filter another record also has
    std::size_t largest_duplicate_group = 0;
    double popcount_mean = 0, popcount_sd = 0;
    unsigned popcount_min = 0, popcount_max = 0;
    std::vector<std::size_t> popcount_histogram;  // 32 equal-width bins over [0, bits]
};

FilterStatistics filter_statistics(const FilterMatrix& filters);

struct AttackResult {
    std::string name;
    std::size_t records = 0;  // records with a known true value
    std::size_t guessed = 0, correct = 0;
    double record_rate = 0;   // correct / records
    std::size_t names = 0, names_correct = 0;  // distinct true values; those mostly guessed right
    double name_rate = 0;
    double chance_rate = 0;   // share of records whose value is the reference's most frequent
    std::size_t patterns = 0;  // pattern attack: q-grams located
    double threshold = 0;      // similarity attack: the Dice the attacker chose from the filters
    std::vector<std::pair<std::string, std::size_t>> reidentified;  // value, records correct (most first)
};

struct AuditOptions {
    std::size_t max_qgrams = 64;      // q-grams the pattern attack tries to locate
    double pattern_agreement = 0.95;  // a position joins a pattern if set in this share of its records
    double presence = 0.9;            // a located q-gram is present if this share of its bits are set
    std::size_t max_candidates = 3;   // guess only when at most this many reference values fit
    // The hardening's flip rate, which the attacker knows (BLIP: 1 / (1 + e^ε); hardening_flip_probability
    // gives it for a schema): the pattern miner's support thresholds allow for it.
    double flip_probability = 0;
    std::size_t similarity_sample = 2000;   // records whose nearest neighbour sets the clustering threshold
    std::size_t similarity_neighbours = 16;  // links per record when clustering (nearest first)
    // Graph matching: the share of the encoded population the attacker expects the reference to
    // cover; only that share of the encoded graph's nodes, the most alike, is matched.
    double overlap = 1.0;
    std::size_t vulnerability_neighbours = 64;  // near copies counted per record, at most
};

// The five vulnerabilities of Vidanage, Christen, Ranbaduge & Schnell (ACM TOPS 2023), measured on
// the encodings as the hub sees them. A record's near copies are its nearest filters at Dice ≥ τ
// (the similarity attack's τ; at most `vulnerability_neighbours`): the encodings of its value. Its
// signature under each measure is
//   frequency      its number of near copies;
//   length         its popcount, in steps of 1 + 2 sd of the hardening's noise;
//   co-occurrence  which located q-grams its bit patterns say its value has and lacks (the pattern
//                  attack): here the vulnerability is 1 / the number of reference values that fit
//                  (0 when none does);
//   similarity     its Dice to the nearest filter that is not a near copy (steps of 0.02);
//   neighbourhood  its near copies and its Dice to the 1st, 2nd, 4th and 8th nearest filters that are
//                  not (steps of 0.05).
// The records sharing a signature hold about Σ 1 / (near copies + 1) distinct values; a record's
// vulnerability is 1 / that (at most 1): 1 when no other value looks like its value.
inline constexpr std::size_t vulnerability_measures = 5;
inline constexpr const char* vulnerability_names[vulnerability_measures] = {
    "frequency", "length", "co-occurrence", "similarity", "similarity neighbourhood"};

struct Vulnerability {
    std::string group;  // the demographic group; "" for all records
    std::size_t records = 0;
    double mean[vulnerability_measures] = {};  // mean vulnerability
    double high[vulnerability_measures] = {};  // share of records at 0.5 or more (in a class of at most two)
};

struct AuditReport {
    FilterStatistics statistics;
    std::vector<AttackResult> attacks;
    std::vector<Vulnerability> vulnerabilities;  // all records, then each group in name order
};

// What the attacks take from the encodings alone, before they look at any value: groups of identical
// filters, the statistics, the similarity attack's τ and clusters, the graph attack's matched nodes
// (with the attacker's own encodings, when given) and four of the five vulnerabilities. It is the
// same for every field attacked through one filter, so `pprl audit`, which attacks each field
// through the whole filter, computes it once. It holds a copy of the filters.
class AuditedFilters {
public:
    explicit AuditedFilters(const FilterMatrix& filters, const AuditOptions& options = {},
                            const FilterMatrix* reference_encoded = nullptr);
    ~AuditedFilters();
    AuditedFilters(AuditedFilters&&) noexcept;
    AuditedFilters& operator=(AuditedFilters&&) noexcept;
    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
    friend AuditReport audit(const AuditedFilters&, const std::vector<std::string>&, const std::vector<std::string>&,
                             const NormalizeOptions&, const TokenizerSpec&, const std::vector<std::string>*,
                             const std::vector<std::string>*);
};

// The attacks on one field of prepared encodings: `truth`, `reference`, `groups` as below;
// `reference_encoded_values` (the attacked field of the attacker's encodings, row for row) is needed
// when the encodings were prepared with the attacker's.
AuditReport audit(const AuditedFilters& encodings, const std::vector<std::string>& truth,
                  const std::vector<std::string>& reference, const NormalizeOptions& normalize,
                  const TokenizerSpec& tokenizer, const std::vector<std::string>* reference_encoded_values = nullptr,
                  const std::vector<std::string>* groups = nullptr);

// `truth[i]` is the true value of filters row i ("" where unknown), `reference` the attacker's list
// (one entry per person, so frequencies count). Both are normalised with `normalize` and tokenised
// with `tokenizer` (the attacker is assumed to know the tokenisation, not the key).
//
// With `reference_encoded` (the attacker's reference population encoded with the same schema and
// hardening under a key of the attacker's own, `reference_encoded_values` its attacked field row for
// row), the graph-matching attack runs too. With `groups` (row i's demographic group, "" where
// unknown), the vulnerabilities are reported per group as well.
AuditReport audit(const FilterMatrix& filters, const std::vector<std::string>& truth,
                  const std::vector<std::string>& reference, const NormalizeOptions& normalize,
                  const TokenizerSpec& tokenizer, const AuditOptions& options = {},
                  const FilterMatrix* reference_encoded = nullptr,
                  const std::vector<std::string>* reference_encoded_values = nullptr,
                  const std::vector<std::string>* groups = nullptr);

}  // namespace pprl
