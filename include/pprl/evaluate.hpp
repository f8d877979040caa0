// pprl/evaluate.hpp — how well did it link? Pairwise quality, overall and per subgroup.
//
// Ground truth is a CSV `party,record_id,person_id[,group]` (what `pprl synth` writes). Quality is
// pairwise over cross-party record pairs: a pair is truly matched if both records belong to the same
// person, and predicted matched if both are in the same entity (or, for a pairs file, if its score
// reaches the threshold). Precision = TP / (TP + FP), recall = TP / (TP + FN), F1 their harmonic mean.
//
// Per group: a true pair belongs to its person's group. A false pair joins records of two people; it
// counts against the group of each of them (once per distinct group), because a wrong link harms
// both. The largest gap is the group whose F1 is farthest from the overall F1.
//
// Without truth, a two-component Gaussian mixture fitted by EM to the candidate scores estimates the
// match/non-match split: the suggested threshold is where the posterior match probability crosses
// 1/2, and expected precision and recall follow from the posteriors above and below it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "pprl/tables.hpp"

namespace pprl {

class Truth {
public:
    static Truth from_file(const std::string& path);
    void add(const std::string& party, const std::string& record_id, const std::string& person, const std::string& group);
    // nullptr if the record is not in the truth file.
    const std::string* person(const std::string& party, const std::string& record_id) const;
    const std::string* group(const std::string& party, const std::string& record_id) const;
    // Number of cross-party pairs that are the same person (restricted to `parties` if not empty).
    std::uint64_t true_pairs(const std::vector<std::string>& parties = {}) const;
    // Records per person per party: person → party → count.
    const std::unordered_map<std::string, std::map<std::string, std::uint64_t>>& people() const { return people_; }
    const std::unordered_map<std::string, std::string>& person_groups() const { return person_group_; }

private:
    struct Entry {
        std::string person, group;
    };
    std::unordered_map<std::string, Entry> records_;  // key: party '\0' record_id
    std::unordered_map<std::string, std::map<std::string, std::uint64_t>> people_;
    std::unordered_map<std::string, std::string> person_group_;
};

struct Confusion {
    std::uint64_t true_positives = 0, false_positives = 0, false_negatives = 0;
    double precision() const noexcept;
    double recall() const noexcept;
    double f1() const noexcept;
};

struct GroupQuality {
    std::string group;
    Confusion confusion;
};

struct Quality {
    Confusion overall;
    std::uint64_t unknown_records = 0;  // records missing from the truth file (not counted)
    std::vector<GroupQuality> groups;  // sorted by name; empty without groups in the truth
    std::string largest_gap_group;
    double largest_gap = 0;  // |F1(group) − F1(overall)|
};

Quality evaluate_entities(const Truth& truth, const std::vector<EntityRow>& entities);

// Entity id stability between two exports of a registry (pprl registry export, consecutive years).
// A person counts if at least one of their records is in both exports; they kept their id if every
// such record has the same entity id in both. The people are split by whether the entities holding
// those records kept exactly the same members (the id contract promises them their ids: 100 %) or
// not (a record joined or left, entities merged or split). A record's person comes from the later
// truth, else from the earlier one (a record that left the extracts is only in the earlier).
struct StabilityCounts {
    std::uint64_t people = 0, kept = 0;
    double share() const noexcept { return people == 0 ? 1.0 : static_cast<double>(kept) / static_cast<double>(people); }
};
struct IdStability {
    StabilityCounts all, same_members, changed_members;
    std::map<std::string, StabilityCounts> by_group;  // all people of each group (empty without groups)
};
IdStability id_stability(const Truth& before_truth, const std::vector<EntityRow>& before, const Truth& after_truth,
                         const std::vector<EntityRow>& after);

// Quality of "score ≥ threshold" for each threshold, from scored pairs. True pairs missing from the
// file count as false negatives at every threshold.
struct SweepPoint {
    double threshold;
    Confusion confusion;
};
std::vector<SweepPoint> threshold_sweep(const Truth& truth, const std::vector<PairRow>& pairs,
                                        const std::vector<double>& thresholds);
Quality evaluate_pairs(const Truth& truth, const std::vector<PairRow>& pairs, double threshold);

// Score histograms of true and false pairs over [low, 1] in `bins` bins.
struct Histogram {
    double low = 0, high = 1;
    std::vector<std::uint64_t> matches, non_matches;
};
Histogram score_histogram(const Truth& truth, const std::vector<PairRow>& pairs, double low, std::size_t bins);

// Share of the true cross-party pairs that a blocking step proposed (pairs completeness).
// `labels[p]` and `ids[p]` describe party p; `proposed[k]` holds the (row in p, row in q) pairs of
// the k-th party pair p < q, in loop order (as LinkResult::blocked_pairs).
double pairs_completeness(const Truth& truth, const std::vector<std::string>& labels,
                          const std::vector<const std::vector<std::string>*>& ids,
                          const std::vector<std::vector<std::pair<std::uint32_t, std::uint32_t>>>& proposed);

// EM fit of a two-component Gaussian mixture to scores (no truth needed).
struct MixtureEstimate {
    double match_weight = 0, match_mean = 0, match_sd = 0;
    double non_match_mean = 0, non_match_sd = 0;
    double threshold = 0;            // posterior P(match | s) = 1/2
    double expected_precision = 0;   // among scores ≥ threshold
    double expected_recall = 0;      // of the expected matches among all scores
    int iterations = 0;
};
MixtureEstimate fit_mixture(const std::vector<double>& scores, int max_iterations = 500);

}  // namespace pprl
