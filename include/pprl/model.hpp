// pprl/model.hpp — how the hub turns candidate pairs into match evidence.
//
// Two models. The record-level model scores a pair by the Dice of the whole filters. The
// Fellegi–Sunter model (Fellegi & Sunter 1969, as Splink fits it) needs a field-segmented layout
// (pprl/wire.hpp): for each segment of a pair it takes the Dice of the two segments from integer
// counts and maps it to a comparison level —
//
//   level 0          missing on either side (an all-zero segment): no evidence, weight 0
//   levels 1 … 8     Dice ≥ 0.95, 0.85, 0.75, 0.65, 0.55, 0.45, 0.30, and below 0.30
//
// and estimates, for every segment and level, m = P(level | match) and u = P(level | non-match)
// without the truth:
//
//   u   from pairs drawn uniformly at random across the parties (nearly all non-matches), where no
//       selection has made the fields look alike.
//   m   from the candidates the *other* segments call matches: for segment f, the mutual-best pairs
//       above the automatic threshold (below) on the Dice of the filter without f's bits. f's own
//       agreement does not select the pairs its m is measured on, as Splink estimates a field's m
//       from pairs blocked on other fields. Plain EM over the candidates (fit_m_and_prior) is the
//       textbook alternative; on candidate pairs it settles on the wrong latent class — pairs of
//       one household, which agree on surname, address and zip — so it is offered as a refinement
//       only, off by default.
//   λ   the share of candidates that the whole filter calls matches (mutual best above threshold).
//   interaction  agreement of two segments is not independent among non-matches (a household
//       shares surname, address and zip): for each pair of segments, log₂ of how much more often
//       non-matches agree on both than the product of their rates, subtracted from a pair's weight
//       when both agree. The joint rate is the larger of two estimates: random pairs (where both
//       agreed at least five times) and the candidates the whole filter does not call matches,
//       counted over all possible pairs (pairs that agree on two fields are nearly all candidates).
//
// A pair's match weight is log₂ of its posterior odds of being a match among the candidates:
// log₂(λ/(1−λ)) + Σ log₂(m/u) − interactions; its match probability 2^w / (1 + 2^w). Levels are fixed
// Dice bins rather than fitted cut points, so one model serves any hardening: BLIP lowers the Dice
// of equal values, and the estimates follow where their levels fall.
//
// Thresholds chosen without the truth ("auto"), one rule for any score: for each record of the
// first party of each party pair, its best and second-best candidate scores s₁ ≥ s₂. Where a record
// has a true partner, s₂ is the best of its non-matches, so the empirical distribution G of s₂
// estimates the score a record without a partner would reach. The share π of records with a
// partner comes from the low scores (below G's median, where true partners are rare):
// 1 − π = #(s₁ < c) / #(s₂ < c). At threshold t the expected false links are (1 − π)·n·(1 − G(t)),
// true links #(s₁ ≥ t) minus those, missed partners π·n minus the true links; t maximises the F1
// these give. The record-level model applies it to Dice; Fellegi–Sunter to match weights, reported
// as the probability they correspond to. The rule links each record to its best candidate, which
// the one-to-one solvers do not always allow, so it errs towards higher thresholds.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "pprl/bloom.hpp"
#include "pprl/link.hpp"

namespace pprl {

constexpr std::size_t similarity_levels = 9;  // level 0 (missing) and eight Dice bins
constexpr std::size_t agree_levels = 4;       // levels 1 … 4 (Dice ≥ 0.65) count as agreement
// The lowest Dice of levels 1 … 8.
constexpr std::array<double, similarity_levels - 1> level_floor = {0.95, 0.85, 0.75, 0.65, 0.55, 0.45, 0.30, 0.0};

// Level of a pair of segments with popcounts `a`, `b` and `common` bits in both.
std::uint8_t similarity_level(std::uint32_t common, std::uint32_t a, std::uint32_t b) noexcept;

// Each segment's level for row i of `a` against row j of `b` (same layout), into `levels`.
void segment_levels(const FilterMatrix& a, std::size_t i, const FilterMatrix& b, std::size_t j, std::uint8_t* levels);

struct SegmentWeights {
    std::string name;
    std::array<double, similarity_levels> m{}, u{};  // level 0: both 1 (missing carries no weight)
    double log2_factor(std::size_t level) const noexcept;
};

struct FellegiSunterModel {
    std::vector<SegmentWeights> segments;
    double prior = 0.5;  // λ: share of matches among the candidates
    unsigned iterations = 0;
    bool converged = false;
    std::uint64_t candidate_pairs = 0, random_pairs = 0;
    // Dependence among non-matches: for segments f < g that both agree (level 1 … agree_levels),
    // log₂ of how much more often they agree together among random pairs than independence says
    // (households share surname, address and zip), subtracted from the weight. segments × segments.
    std::vector<double> interaction;

    // log₂ posterior odds of a match, for one pair's levels (one per segment).
    double weight(const std::uint8_t* levels) const noexcept;
    static double probability(double weight) noexcept;
};

struct ModelOptions {
    std::uint64_t random_pairs = 1'000'000;  // drawn to estimate u
    unsigned max_iterations = 0;
    double tolerance = 1e-8;  // on the largest change of an m or of λ
    bool fit_u = false;       // EM refits u on the candidates, starting from the random pairs' u
    std::uint64_t seed = 0x5eed;
};

// Candidate pairs' levels, row-major: levels[k * segments + s].
struct PairLevels {
    std::size_t segments = 0;
    std::vector<std::uint8_t> levels;
};

// The levels of every pair (a UsageError without a segmented layout).
PairLevels pair_levels(const std::vector<const FilterMatrix*>& parties, const std::vector<ScoredPair>& pairs,
                       unsigned threads = 0);

// u from random cross-party pairs (within the one party for deduplication); m of each segment from
// the candidates that the other segments alone call matches (see above); λ from the candidates
// the whole filter calls matches. With options.max_iterations > 0, EM then refines m and λ (and u
// with fit_u) on the candidates' levels.
FellegiSunterModel fit_fellegi_sunter(const std::vector<const FilterMatrix*>& parties,
                                      const std::vector<ScoredPair>& pairs, const PairLevels& candidates,
                                      const ModelOptions& options = {});

// EM alone, with u given (the model's u): fits m and λ to the levels.
void fit_m_and_prior(FellegiSunterModel& model, const PairLevels& candidates, const ModelOptions& options = {});

// The record-level threshold (see above) from candidate pairs holding, for every record of the first
// party of a party pair (party_a < party_b; one party: i < j), at least its two best pairs above a
// floor.
double estimate_dice_threshold(const std::vector<ScoredPair>& pairs, const std::vector<const FilterMatrix*>& parties);
// The same rule on any score of the pairs (scores[k] for pairs[k]; higher is more alike).
double estimate_threshold(const std::vector<ScoredPair>& pairs, const std::vector<const FilterMatrix*>& parties,
                          const std::vector<double>& scores);
// The same, where the first parties are samples: `other_side` holds further pairs of other-side
// records (with `other_scores`), against first-party records outside the sample, so that whether a
// sampled record is its candidate's best is judged against the whole first party. Their `a` is not
// used.
double estimate_threshold(const std::vector<ScoredPair>& pairs, const std::vector<const FilterMatrix*>& parties,
                          const std::vector<double>& scores, const std::vector<ScoredPair>& other_side,
                          const std::vector<double>& other_scores);
// The same given each party's row count as the first of a pair (a sample's) and as the other.
// UsageError if a pair names a row beyond them.
double estimate_threshold(const std::vector<ScoredPair>& pairs, const std::vector<std::size_t>& first_rows,
                          const std::vector<std::size_t>& other_rows, const std::vector<double>& scores,
                          const std::vector<ScoredPair>& other_side, const std::vector<double>& other_scores);

// 1 for each pair whose score reaches the threshold and is the best of both its records against the
// other's party, else 0.
std::vector<double> mutual_best_labels(const std::vector<ScoredPair>& pairs, const std::vector<const FilterMatrix*>& parties,
                                       const std::vector<double>& scores, double threshold);

}  // namespace pprl
