// Synthetic data, evaluation metrics, the EM estimate and the report.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "pprl/error.hpp"
#include "pprl/evaluate.hpp"
#include "pprl/report.hpp"
#include "pprl/synth.hpp"
#include "test_support.hpp"

namespace pprl {
namespace {

Truth small_truth() {
    // Person 1 in parties a, b, c; person 2 in a, b; person 3 in a only. Groups g1 (1, 3), g2 (2).
    Truth t;
    t.add("a", "a1", "p1", "g1");
    t.add("b", "b1", "p1", "g1");
    t.add("c", "c1", "p1", "g1");
    t.add("a", "a2", "p2", "g2");
    t.add("b", "b2", "p2", "g2");
    t.add("a", "a3", "p3", "g1");
    return t;
}

TEST(Evaluate, TruePairsCountCrossPartyPairsOnly) {
    EXPECT_EQ(small_truth().true_pairs(), 4u);  // p1: 3 pairs, p2: 1 pair
    EXPECT_EQ(small_truth().true_pairs({"a", "b"}), 2u);
}

TEST(Evaluate, PerfectNoLinksAndAllLinks) {
    const Truth t = small_truth();
    const Quality perfect = evaluate_entities(t, {{"a", "a1", "e1"}, {"b", "b1", "e1"}, {"c", "c1", "e1"},
                                                  {"a", "a2", "e2"}, {"b", "b2", "e2"}, {"a", "a3", "e3"}});
    EXPECT_EQ(perfect.overall.true_positives, 4u);
    EXPECT_EQ(perfect.overall.false_positives, 0u);
    EXPECT_EQ(perfect.overall.false_negatives, 0u);
    EXPECT_DOUBLE_EQ(perfect.overall.f1(), 1.0);

    const Quality none = evaluate_entities(t, {{"a", "a1", "1"}, {"b", "b1", "2"}, {"c", "c1", "3"}, {"a", "a2", "4"},
                                               {"b", "b2", "5"}, {"a", "a3", "6"}});
    EXPECT_EQ(none.overall.true_positives, 0u);
    EXPECT_EQ(none.overall.false_negatives, 4u);
    EXPECT_DOUBLE_EQ(none.overall.recall(), 0.0);
    EXPECT_DOUBLE_EQ(none.overall.precision(), 1.0);  // nothing predicted, nothing wrong
    EXPECT_DOUBLE_EQ(none.overall.f1(), 0.0);

    // Everything in one entity: cross-party pairs a×b (3·2=6) + a×c (3) + b×c (2) = 11, 4 true.
    const Quality all = evaluate_entities(t, {{"a", "a1", "x"}, {"b", "b1", "x"}, {"c", "c1", "x"}, {"a", "a2", "x"},
                                              {"b", "b2", "x"}, {"a", "a3", "x"}});
    EXPECT_EQ(all.overall.true_positives, 4u);
    EXPECT_EQ(all.overall.false_positives, 7u);
    EXPECT_EQ(all.overall.false_negatives, 0u);
    EXPECT_NEAR(all.overall.precision(), 4.0 / 11.0, 1e-12);
}

TEST(Evaluate, PerGroupCountsAWrongLinkAgainstBothGroups) {
    const Truth t = small_truth();
    // Linked a2 (g2) with b1 (g1): one false pair, counted for g1 and for g2; p1 a1-c1 linked.
    const Quality q = evaluate_entities(t, {{"a", "a1", "e1"}, {"c", "c1", "e1"}, {"b", "b1", "e2"}, {"a", "a2", "e2"},
                                            {"b", "b2", "e3"}, {"a", "a3", "e4"}});
    ASSERT_EQ(q.groups.size(), 2u);
    EXPECT_EQ(q.groups[0].group, "g1");
    EXPECT_EQ(q.groups[0].confusion.true_positives, 1u);
    EXPECT_EQ(q.groups[0].confusion.false_positives, 1u);
    EXPECT_EQ(q.groups[0].confusion.false_negatives, 2u);
    EXPECT_EQ(q.groups[1].confusion.true_positives, 0u);
    EXPECT_EQ(q.groups[1].confusion.false_positives, 1u);
    EXPECT_EQ(q.groups[1].confusion.false_negatives, 1u);
    EXPECT_EQ(q.overall.false_positives, 1u);
    EXPECT_FALSE(q.largest_gap_group.empty());
}

TEST(Evaluate, SweepFromScoredPairs) {
    const Truth t = small_truth();
    const std::vector<PairRow> pairs = {{"a", "a1", "b", "b1", 0.95, true}, {"a", "a2", "b", "b2", 0.85, true},
                                        {"a", "a3", "b", "b2", 0.80, false}, {"a", "a1", "c", "c1", 0.60, false}};
    const auto sweep = threshold_sweep(t, pairs, {0.5, 0.82, 0.9, 1.0});
    EXPECT_EQ(sweep[0].confusion.true_positives, 3u);
    EXPECT_EQ(sweep[0].confusion.false_positives, 1u);
    EXPECT_EQ(sweep[0].confusion.false_negatives, 1u);
    EXPECT_EQ(sweep[1].confusion.true_positives, 2u);
    EXPECT_EQ(sweep[1].confusion.false_positives, 0u);
    EXPECT_EQ(sweep[2].confusion.true_positives, 1u);
    EXPECT_EQ(sweep[3].confusion.true_positives, 0u);
    const Histogram h = score_histogram(t, pairs, 0.5, 5);
    EXPECT_EQ(h.matches[4], 1u);      // 0.95
    EXPECT_EQ(h.non_matches[3], 1u);  // 0.80
}

TEST(Evaluate, EmThresholdIsWithinFivePointsOfTheTrueBestThreshold) {
    std::mt19937_64 rng(3);
    std::normal_distribution<double> matches(0.90, 0.04), non_matches(0.62, 0.06);
    Truth t;
    std::vector<PairRow> pairs;
    std::vector<double> scores;
    for (int i = 0; i < 3000; ++i) {
        const bool match = i % 4 == 0;
        const double s = std::min(1.0, std::max(0.0, match ? matches(rng) : non_matches(rng)));
        t.add("a", "a" + std::to_string(i), "p" + std::to_string(i), "");
        t.add("b", "b" + std::to_string(i), match ? "p" + std::to_string(i) : "q" + std::to_string(i), "");
        pairs.push_back({"a", "a" + std::to_string(i), "b", "b" + std::to_string(i), s, false});
        scores.push_back(s);
    }
    std::vector<double> thresholds;
    for (int k = 50; k <= 100; ++k) thresholds.push_back(k / 100.0);
    double best = 0, best_f1 = -1;
    for (const auto& p : threshold_sweep(t, pairs, thresholds))
        if (p.confusion.f1() > best_f1) best_f1 = p.confusion.f1(), best = p.threshold;
    const MixtureEstimate m = fit_mixture(scores);
    EXPECT_NEAR(m.threshold, best, 0.05);
    EXPECT_NEAR(m.match_weight, 0.25, 0.03);
    EXPECT_NEAR(m.match_mean, 0.90, 0.02);
    EXPECT_GT(m.expected_precision, 0.9);
}

TEST(Synth, SameSeedSameOutputDifferentSeedDifferentOutput) {
    SynthOptions options;
    options.people = 3000;
    options.seed = 11;
    const SynthOutput a = synthesize(options), b = synthesize(options);
    ASSERT_EQ(a.records.size(), 3u);
    for (std::size_t p = 0; p < 3; ++p) {
        ASSERT_EQ(a.records[p].size(), b.records[p].size());
        for (std::size_t i = 0; i < a.records[p].size(); ++i) {
            EXPECT_EQ(a.records[p][i].first_name, b.records[p][i].first_name);
            EXPECT_EQ(a.records[p][i].dob, b.records[p][i].dob);
            EXPECT_EQ(a.person_ids[p][i], b.person_ids[p][i]);
        }
    }
    options.seed = 12;
    const SynthOutput c = synthesize(options);
    std::size_t same = 0;
    for (std::size_t i = 0; i < std::min(a.records[0].size(), c.records[0].size()); ++i)
        same += a.records[0][i].first_name == c.records[0][i].first_name && a.records[0][i].dob == c.records[0][i].dob;
    EXPECT_LT(same, a.records[0].size() / 10);
}

TEST(Synth, CoverageAndErrorRatesMatchTheProfiles) {
    SynthOptions options;
    options.people = 40000;
    options.seed = 5;
    const SynthOutput out = synthesize(options);
    const auto profiles = default_synth_parties();
    for (std::size_t p = 0; p < profiles.size(); ++p) {
        const ErrorProfile& e = profiles[p].errors;
        const auto& a = out.applied[p];
        const double n = static_cast<double>(a.records);
        EXPECT_NEAR(n / options.people, e.coverage, 0.01) << profiles[p].name;
        // Drawn rates, within 4 binomial standard deviations (+ a little for conditional kinds).
        auto near = [&](std::uint64_t count, double rate, const char* what) {
            const double tolerance = 4 * std::sqrt(rate * (1 - rate) / n) + 0.002;
            EXPECT_NEAR(count / n, rate, tolerance) << profiles[p].name << " " << what;
        };
        near(a.typo, e.typo, "typo");
        near(a.phonetic, e.phonetic, "phonetic");
        near(a.ocr, e.ocr, "ocr");
        near(a.name_swap, e.name_swap, "name swap");
        near(a.date_error, e.date_error, "date error");
        near(a.moved, e.moved, "moved");
        near(a.upper_case, e.case_noise, "upper case");
        near(a.missing, 3 * e.missing, "missing (three fields)");
        // Nicknames and day/month swaps apply only where possible (a name with a nickname, day ≤ 12).
        EXPECT_LE(a.nickname / n, e.nickname + 0.01);
        EXPECT_LE(a.date_swap / n, e.date_swap + 0.01);
        EXPECT_GT(a.nickname, 0u);
        EXPECT_GT(a.date_swap, 0u);
    }
    // Every person id of a party appears once in it; twins and siblings exist.
    std::set<std::string> seen(out.person_ids[0].begin(), out.person_ids[0].end());
    EXPECT_EQ(seen.size(), out.person_ids[0].size());
}

// Errors for rows that were not synthesised: the same for a seed, at the profile's rates, never in
// a kept column, and dates stay dates.
TEST(Synth, PerturbedRowsCarryTheProfilesErrors) {
    SynthOptions options;
    options.people = 4000;
    options.seed = 5;
    const SynthOutput data = synthesize(options);
    std::vector<std::vector<std::string>> rows;
    for (const auto& r : data.records[1]) rows.push_back({r.record_id, r.first_name, r.last_name, r.dob, r.sex});
    const std::vector<PerturbKind> kinds = {PerturbKind::keep, PerturbKind::text, PerturbKind::text, PerturbKind::date,
                                            PerturbKind::other};
    ErrorProfile profile;
    profile.case_noise = 0;
    const auto once = perturb_rows(rows, kinds, profile, 9);
    EXPECT_EQ(once, perturb_rows(rows, kinds, profile, 9));
    EXPECT_NE(once, perturb_rows(rows, kinds, profile, 10));
    ASSERT_EQ(once.size(), rows.size());
    std::size_t text_changed = 0, dates_changed = 0, emptied = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        EXPECT_EQ(once[i][0], rows[i][0]);
        text_changed += (!once[i][1].empty() && once[i][1] != rows[i][1]) || (!once[i][2].empty() && once[i][2] != rows[i][2]);
        if (!once[i][3].empty() && once[i][3] != rows[i][3]) {
            ++dates_changed;
            EXPECT_EQ(once[i][3].size(), 10u);
            EXPECT_EQ(once[i][3][4], '-');
        }
        for (std::size_t c = 1; c < 5; ++c) emptied += once[i][c].empty() && !rows[i][c].empty();
    }
    const double n = static_cast<double>(rows.size());
    // Typo, phonetic and OCR (some respellings find nothing to change): about 5 % + 3 % + 1 %.
    EXPECT_GT(text_changed / n, 0.05);
    EXPECT_LT(text_changed / n, 0.12);
    EXPECT_GT(dates_changed / n, 0.02);  // swaps (only where the day is at most 12) and part errors
    EXPECT_LT(dates_changed / n, 0.05);
    EXPECT_NEAR(emptied / (4 * n), profile.missing, 0.01);
    EXPECT_THROW(perturb_rows(rows, {PerturbKind::keep}, profile, 1), UsageError);
}

TEST(Synth, WritesPartyFilesAndATruthThatEvaluates) {
    test::TempDir dir;
    SynthOptions options;
    options.people = 500;
    const SynthOutput out = synthesize(options);
    write_synth(out, dir.file("data"));
    const Truth t = Truth::from_file(dir.file("data/truth.csv"));
    std::size_t records = 0;
    for (const auto& party : out.records) records += party.size();
    EXPECT_GT(t.true_pairs(), 0u);
    const std::string header = test::read_all(dir.file("data/city.csv")).substr(0, 51);
    EXPECT_EQ(header, "record_id,first_name,last_name,dob,sex,address,zip\n");
    EXPECT_GT(records, 500u);
}

TEST(Synth, YearsKeepPeopleAndRecordIdsAndChangeWhatTheRatesSay) {
    SynthOptions options;
    options.people = 3000;
    options.seed = 9;
    const std::vector<SynthYear> years = synthesize_years(options, 3);
    ASSERT_EQ(years.size(), 3u);
    EXPECT_EQ(years[0].reference_year, 2024);
    EXPECT_EQ(years[2].reference_year, 2026);
    using Key = std::pair<std::string, std::string>;  // party, record id
    std::vector<std::map<Key, std::pair<std::string, const SynthRecord*>>> seen(3);  // → person, record
    for (std::size_t y = 0; y < 3; ++y) {
        const SynthOutput& out = years[y].output;
        std::size_t records = 0;
        for (std::size_t p = 0; p < out.party_names.size(); ++p)
            for (std::size_t r = 0; r < out.records[p].size(); ++r) {
                const SynthRecord& record = out.records[p][r];
                // Everyone is young in the year they appear.
                const int born = std::stoi(record.dob.substr(0, 4));
                EXPECT_LE(born, years[y].reference_year + 1);  // a date error may move a year
                EXPECT_GE(born, years[y].reference_year - 19);
                EXPECT_TRUE(seen[y].emplace(Key{out.party_names[p], record.record_id}, std::make_pair(out.person_ids[p][r], &record)).second)
                    << "a record id repeated within a year";
                ++records;
            }
        // About options.people in the window, each covered by the parties' shares (0.8 + 0.9 + 0.4).
        EXPECT_NEAR(static_cast<double>(records) / options.people, 2.1, 0.15) << y;
    }
    for (std::size_t y = 1; y < 3; ++y) {
        std::size_t kept = 0, changed = 0;
        for (const auto& [key, now] : seen[y]) {
            const auto before = seen[y - 1].find(key);
            if (before == seen[y - 1].end()) continue;
            ++kept;
            EXPECT_EQ(before->second.first, now.first) << "a record id changed person";
            const SynthRecord& a = *before->second.second;
            const SynthRecord& b = *now.second;
            changed += a.first_name != b.first_name || a.last_name != b.last_name || a.dob != b.dob || a.address != b.address ||
                       a.zip != b.zip || a.sex != b.sex;
        }
        const double kept_share = static_cast<double>(kept) / seen[y].size();
        EXPECT_GT(kept_share, 0.7);   // ageing in, entering coverage and new ids make up the rest
        EXPECT_LT(kept_share, 0.95);
        const double changed_share = static_cast<double>(changed) / kept;
        EXPECT_GT(changed_share, 0.03);  // corrections, recorded moves and name changes
        EXPECT_LT(changed_share, 0.2);
    }
    // The same seed gives the same years.
    const std::vector<SynthYear> again = synthesize_years(options, 3);
    for (std::size_t y = 0; y < 3; ++y)
        for (std::size_t p = 0; p < again[y].output.records.size(); ++p)
            for (std::size_t r = 0; r < again[y].output.records[p].size(); ++r)
                EXPECT_EQ(again[y].output.records[p][r].record_id, years[y].output.records[p][r].record_id);
    EXPECT_THROW(synthesize_years(options, 0), UsageError);
}

TEST(Evaluate, IdStabilitySplitsPeopleByWhetherTheirEntitiesKeptTheirMembers) {
    Truth truth;
    for (const char* party : {"a", "b"})
        for (int person = 1; person <= 4; ++person)
            truth.add(party, std::string(party) + std::to_string(person), "p" + std::to_string(person), person <= 2 ? "g1" : "g2");
    const std::vector<EntityRow> before = {{"a", "a1", "E1"}, {"b", "b1", "E1"}, {"a", "a2", "E2"}, {"b", "b2", "E2"},
                                           {"a", "a3", "E3"}, {"b", "b3", "E4"}, {"a", "a4", "E5"}};
    // p1 unchanged; p2's entity kept its id and gained a record; p3's two entities merged (E3
    // survives, b3 changes id); p4's entity gained b4 and took a new id.
    const std::vector<EntityRow> after = {{"a", "a1", "E1"}, {"b", "b1", "E1"}, {"a", "a2", "E2"}, {"b", "b2", "E2"},
                                          {"c", "c2", "E2"}, {"a", "a3", "E3"}, {"b", "b3", "E3"}, {"a", "a4", "E6"},
                                          {"b", "b4", "E6"}};
    truth.add("c", "c2", "p2", "g1");
    const IdStability s = id_stability(truth, before, truth, after);
    EXPECT_EQ(s.all.people, 4u);
    EXPECT_EQ(s.all.kept, 2u);  // p1, p2
    EXPECT_EQ(s.same_members.people, 1u);  // p1
    EXPECT_EQ(s.same_members.kept, 1u);
    EXPECT_EQ(s.changed_members.people, 3u);
    EXPECT_EQ(s.changed_members.kept, 1u);  // p2
    EXPECT_EQ(s.by_group.at("g1").kept, 2u);
    EXPECT_EQ(s.by_group.at("g2").kept, 0u);
    EXPECT_DOUBLE_EQ(s.all.share(), 0.5);
}

TEST(Report, HtmlIsSelfContainedWithThreeCharts) {
    EvaluationReport r;
    r.entities = evaluate_entities(small_truth(), {{"a", "a1", "e1"}, {"b", "b1", "e1"}});
    const Truth t = small_truth();
    const std::vector<PairRow> pairs = {{"a", "a1", "b", "b1", 0.95, true}, {"a", "a3", "b", "b2", 0.8, false}};
    r.sweep = threshold_sweep(t, pairs, {0.7, 0.8, 0.9});
    r.histogram = score_histogram(t, pairs, 0.7, 10);
    const std::string html = render_html(r);
    std::size_t charts = 0;
    for (std::size_t at = html.find("<svg"); at != std::string::npos; at = html.find("<svg", at + 1)) ++charts;
    EXPECT_EQ(charts, 3u);
    EXPECT_EQ(html.find("<script"), std::string::npos);
    EXPECT_EQ(html.find("http://www.w3.org/2000/svg") != std::string::npos, true);
    EXPECT_EQ(html.find("https://"), std::string::npos);
    const std::string json = render_json(r);
    EXPECT_NE(json.find("\"sweep\""), std::string::npos);
}

}  // namespace
}  // namespace pprl
