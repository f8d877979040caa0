// pprl/report.hpp — the evaluation as one self-contained HTML page and as JSON.
//
// The HTML has no scripts and loads nothing: numbers in tables and three inline SVG charts
// (precision/recall/F1 against the threshold, score histograms of true and false pairs on a log
// scale, F1 per group against the overall F1), so it opens offline in any browser and can be mailed.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pprl/audit.hpp"
#include "pprl/evaluate.hpp"
#include "pprl/link.hpp"

namespace pprl {

struct EvaluationReport {
    std::string title = "pprl linkage quality";
    std::optional<Quality> entities;  // from an entities file
    std::optional<IdStability> stability;  // against an earlier registry export
    std::optional<Quality> pairs;     // from a pairs file at `pairs_threshold`
    double pairs_threshold = 0;
    std::vector<SweepPoint> sweep;
    std::optional<SweepPoint> best;   // best F1 of the sweep
    std::optional<Histogram> histogram;
    std::optional<MixtureEstimate> mixture;
    std::vector<std::pair<std::string, std::string>> notes;  // extra facts shown in a table
};

std::string render_html(const EvaluationReport& report);
std::string render_json(const EvaluationReport& report);

// The HTML report of `pprl audit` on `file`, one section per attacked target: filter statistics, a
// popcount histogram, each attack's success against chance, and the values re-identified. It names
// plaintext values, so it stays at the agency.
// A share as a percentage with two decimals ("12.34%"), as the reports print it.
std::string percent_text(double share);

// One audited target: a field attacked on the whole filter or on its segment.
struct AuditSection {
    std::string target;  // e.g. "first_name (segment first_name)" or "first_name (whole filter)"
    AuditReport report;
    std::string field;   // the attacked field
    std::string place;   // "segment first_name" or "whole filter"
};
// One hardening of `pprl audit --tradeoff`: linkage quality against re-identification by the
// strongest attack (the largest success beyond chance over the attacks and targets).
struct PrivacyQualityPoint {
    std::string hardening;
    unsigned bits = 0;
    std::string model;        // the link model used ("record" or "fellegi-sunter")
    double threshold = 0;     // chosen automatically
    double precision = 0, recall = 0, f1 = 0;
    std::string attack, target;  // the strongest attack and where
    double reidentified = 0, chance = 0;  // its success and chance there
};
std::string render_audit_html(const std::vector<AuditSection>& sections, const std::string& file,
                              const std::vector<PrivacyQualityPoint>& tradeoff = {});

// The HTML report of a link run (pprl link --report), made at the hub without truth or values: the
// model and threshold; the histogram of the candidates' scores (Dice, or match weights) with the
// threshold marked; under Fellegi–Sunter, the fitted m and u of every segment and level with the
// level's weight, the pairwise interaction terms, and a waterfall of the segments' weights for the
// pairs nearest the threshold on either side, named by party and record id. `record_id(party, row)`
// gives a record's id.
std::string render_link_html(const LinkResult& result,
                             const std::function<std::string(std::uint32_t, std::uint32_t)>& record_id);

}  // namespace pprl
