// pprl/link.hpp — from scores to links to entities, at the hub.
//
// Two parties: a one-to-one assignment over the candidate pairs, either greedy (highest score first,
// each record used at most once, ties by lower indices) or optimal (maximum total Dice over the sparse
// candidate graph, solved exactly per connected component with the Hungarian algorithm).
//
// Three or more parties: records are clustered into entities holding at most one record per party.
// Candidate pairs of every party pair are merged in score order (ties: party pair, then indices),
// and a merge is made only if the two clusters share no party — the constraint is checked on whole
// clusters, so A1~B1 and B1~C1 cannot pull a second C record into the entity. MergeRule::clique is
// anonlink's greedy_solve rule instead: two clusters merge only when every pair across them is a
// candidate (ranked at or above the pair being merged on), so A1~B1 and B1~C1 without A1~C1 leave
// C1 apart; it links less than the default rule and reproduces greedy_solve's groups exactly on the
// same candidates. With method optimal,
// each party pair is first reduced to its optimal one-to-one assignment. The extracts are assumed
// deduplicated within each party. With a single party, link() deduplicates it instead: clusters of
// its records that score above the threshold (no one-per-party constraint).
//
// Blocking (optional): Hamming LSH on the filters. Table t samples K bit positions (with
// replacement) from a generator seeded by (seed, t); records whose sampled bits agree share a
// bucket (key: XXH3 of the bits). Cross-party pairs sharing a bucket in any of the L tables are
// scored exactly. Two filters at Hamming distance d collide in a table with probability (1 − d/m)^K,
// so in at least one table with 1 − (1 − (1 − d/m)^K)^L. Exact all-pairs matching is the default.
//
// Entity ids are opaque and deterministic: 16 hex digits of XXH3-64 over the entity's sorted
// (party, record id) members.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "pprl/bloom.hpp"
#include "pprl/match.hpp"

namespace pprl {

enum class LinkMethod { greedy, optimal };

// When two clusters of three or more parties merge on a pair (see above): when they share no party,
// or only when every pair across them is a candidate (anonlink's greedy_solve).
enum class MergeRule { disjoint_parties, clique };

// How pairs are scored (pprl/model.hpp): record-level Dice, or Fellegi–Sunter over the segments of a
// field-segmented layout; automatic picks Fellegi–Sunter when the encodings have segments.
enum class LinkModel { automatic, record, fellegi_sunter };
struct FellegiSunterModel;

struct LshOptions {
    unsigned tables = 50;        // L
    unsigned bits_per_key = 24;  // K
    std::uint64_t seed = 0x5eed;
    unsigned threads = 0;        // tables are built on this many threads (0: all cores)
};

struct LinkOptions {
    Threshold threshold;     // record-level: Dice; Fellegi–Sunter: match probability
    bool auto_threshold = false;  // choose the threshold from the data (pprl/model.hpp) instead
    LinkModel model = LinkModel::automatic;
    // Candidates for the Fellegi–Sunter model and for an automatic threshold: the candidate_top_k
    // best pairs of each record of the first party of a pair with record-level Dice ≥ candidate_floor
    // (for Fellegi–Sunter, of each record of either party: a record whose partner is crowded out of
    // the partner's list by look-alikes still brings it).
    // 0: the model's default, 3 for the record-level model (fewer rivals per record links better
    // and keeps the automatic threshold's picture of a record's rivals sharp) and 10 for
    // Fellegi–Sunter (whose estimates use a record's weaker candidates too).
    Threshold candidate_floor{1, 2};
    std::size_t candidate_top_k = 0;
    std::uint64_t model_random_pairs = 1'000'000;  // random pairs drawn to estimate u
    // With a given record-level threshold: also estimate the automatic one (LinkResult's
    // estimated_threshold) from a sample, so a caller can warn when the two are far apart.
    bool estimate_threshold = false;
    LinkMethod method = LinkMethod::greedy;
    MergeRule merge = MergeRule::disjoint_parties;
    unsigned threads = 0;
    bool blocking = false;  // LSH instead of exact all pairs
    LshOptions lsh;
    bool keep_blocked_pairs = false;  // keep LSH's candidate pairs (to measure pairs completeness)

    // Sets blocking from its text form: "none" (exact all pairs), "lsh" (L and K as in LshOptions)
    // or "lsh:L,K" with 1 ≤ L ≤ 1000 and 1 ≤ K ≤ 64. Throws UsageError for anything else.
    void set_blocking(const std::string& text);
};

// One scored pair between two parties (indices into their matrices).
struct ScoredPair {
    std::uint32_t party_a, a, party_b, b;
    std::uint32_t common, total;
    // Under the Fellegi–Sunter model, the match weight (log₂ posterior odds) that orders the pairs
    // in place of Dice; NaN under the record-level model.
    double weight = std::numeric_limits<double>::quiet_NaN();
    double score() const noexcept { return total == 0 ? 0.0 : 2.0 * common / static_cast<double>(total); }
};

// Who belongs to which entity: one row per input record, in party order then record order.
struct EntityTable {
    std::vector<std::uint32_t> party;  // index into the inputs
    std::vector<std::uint32_t> record;  // row in that party's matrix
    std::vector<std::string> entity_id;
    std::size_t size() const noexcept { return party.size(); }
};

struct LinkResult {
    EntityTable entities;
    std::vector<std::string> party_labels;  // per input (see party_labels())
    std::vector<std::string> warnings;      // comparisons made without schema/key checks (imports)
    std::vector<ScoredPair> candidates;  // every scored pair at or above the threshold
    std::vector<char> linked;            // per candidate: did it become a link?
    LinkModel model = LinkModel::record;  // the model used (never automatic)
    double threshold = 0;                 // the threshold applied (chosen, or as given)
    double estimated_threshold = 0;       // what the automatic rule chooses (for a warning when far)
    // Fellegi–Sunter: the fitted model, and each candidate's segment levels (candidate-major).
    std::shared_ptr<const FellegiSunterModel> fitted;
    std::vector<std::uint8_t> levels;
    // For reports (automatic threshold or Fellegi–Sunter): the score of every loose candidate
    // (Dice, or match weight) before the threshold, and up to six pairs on each side of the
    // threshold with their levels (Fellegi–Sunter), closest first.
    std::vector<double> candidate_scores;
    std::vector<ScoredPair> near_threshold;
    std::vector<std::uint8_t> near_threshold_levels;
    std::uint64_t comparisons = 0;       // pairs scored (all pairs, or the LSH candidates)
    std::uint64_t possible_pairs = 0;    // all cross-party pairs
    // With blocking and keep_blocked_pairs: per party pair (p < q, in loop order), the sorted
    // distinct (i, j) pairs LSH proposed, before scoring.
    std::vector<std::vector<std::pair<std::uint32_t, std::uint32_t>>> blocked_pairs;
};

// Links the parties (each a FilterMatrix with popcounts). Throws KeyMismatchError if any two differ
// in length, schema or key (see check_comparable), UsageError for more than 64 parties.
LinkResult link(const std::vector<const FilterMatrix*>& parties, const LinkOptions& options);

// Links the parties exactly as link() would, from candidates scored elsewhere (tiles of a Dask
// cluster, say): `scored[k]` holds the k-th party pair's candidates (pairs p < q in loop order; one
// party: its own pairs i < j), every pair with Dice ≥ options.threshold, as match() or
// gather_tiles() returns them. Record-level model with a given threshold only. Each pair's counts are
// checked against the filters, so candidates scored on other copies of the files are refused
// (FormatError); UsageError for a wrong number of blocks, indices out of range, repeated pairs or a
// pair below the threshold; KeyMismatchError as link().
LinkResult link_scored(const std::vector<const FilterMatrix*>& parties, const std::vector<Candidates>& scored,
                       const LinkOptions& options);

// The automatic record-level threshold (pprl/model.hpp) estimated from `sample_rows` records of
// each first party of a party pair, each against the whole other party: a cheap check of a
// threshold given by hand. NaN for a single party (deduplication).
double estimate_record_threshold(const std::vector<const FilterMatrix*>& parties, const LinkOptions& options,
                                 std::size_t sample_rows = 2000);

// Each input's party label (its header's, or "party<n>" if empty); UsageError on duplicates.
std::vector<std::string> party_labels(const std::vector<const FilterMatrix*>& parties);

// The assignment solvers on their own: indices into `pairs` that form a one-to-one matching.
std::vector<std::size_t> assign_greedy(const std::vector<ScoredPair>& pairs);
std::vector<std::size_t> assign_optimal(const std::vector<ScoredPair>& pairs);

// The distinct (i, j) pairs of two parties that share an LSH bucket in at least one table, sorted.
std::vector<std::pair<std::uint32_t, std::uint32_t>> lsh_pairs(const FilterMatrix& a, const FilterMatrix& b,
                                                               const LshOptions& lsh);

// The analytic probability that two filters at Hamming distance d (of m bits) share a bucket.
double lsh_collision_probability(std::size_t d, std::size_t m, const LshOptions& lsh);

}  // namespace pprl
