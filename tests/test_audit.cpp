// The audit: statistics and attacks behave as they should on encodings whose answer is known.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "agency/nearest.hpp"
#include "pprl/audit.hpp"
#include "pprl/encode.hpp"
#include "pprl/error.hpp"
#include "pprl/harden.hpp"
#include "pprl/normalize.hpp"
#include "pprl/schema.hpp"
#include "pprl/synth.hpp"

namespace pprl {
namespace {

SecretKey key() {
    std::uint8_t raw[32];
    for (int i = 0; i < 32; ++i) raw[i] = static_cast<std::uint8_t>(91 + i);
    return SecretKey(raw, 32);
}

std::string first_name_schema(const std::string& hardening) {
    return R"({"pprl_schema": 1, "filter": {"bits": 1024)" + hardening + R"(},
      "fields": [{"name": "first_name", "type": "string", "normalize": {"punctuation": "remove", "whitespace": "remove"},
                  "tokenizer": {"kind": "qgram", "q": 2}, "weight": {"bits_per_token": 12}}]})";
}

struct Case {
    FilterMatrix filters;
    std::vector<std::string> truth, reference;
    Schema schema;
};

// First names of one synthetic population (Zipf-skewed), encoded alone; the attacker's reference is
// another population drawn from the same distributions.
Case first_names(const std::string& hardening) {
    SynthOptions options;
    options.people = 3000;
    options.seed = 11;
    const SynthOutput data = synthesize(options);
    options.seed = 12;
    const SynthOutput other = synthesize(options);
    Case c{FilterMatrix(0, 64), {}, {}, Schema::from_json(first_name_schema(hardening))};
    std::vector<std::vector<std::string>> rows;
    for (const auto& r : data.records[0]) {
        rows.push_back({r.record_id, r.first_name});
        c.truth.push_back(r.first_name);
    }
    for (const auto& party : other.records)
        for (const auto& r : party) c.reference.push_back(r.first_name);
    Encoder encoder(c.schema, key());
    encoder.bind_columns({"record_id", "first_name"});
    RecordIdSet seen;
    EncodeSummary summary;
    c.filters = encoder.encode_batch(rows, {}, {}, 2, seen, summary);
    return c;
}

TEST(Audit, UnhardenedFirstNamesAreReidentifiedWellAboveChance) {
    const Case c = first_names("");
    const FieldSpec& f = c.schema.fields()[0];
    const AuditReport report = audit(c.filters, c.truth, c.reference, f.normalize, f.tokenizer);
    ASSERT_EQ(report.attacks.size(), 3u);
    const AttackResult& frequency = report.attacks[0];
    const AttackResult& pattern = report.attacks[1];
    EXPECT_GT(frequency.chance_rate, 0.0);
    EXPECT_GT(frequency.record_rate, 2 * frequency.chance_rate);
    EXPECT_GT(pattern.record_rate, 1.5 * pattern.chance_rate);
    EXPECT_GE(pattern.patterns, 5u);
    // The most frequent true name is among those re-identified.
    std::map<std::string, std::size_t> counts;
    std::string normalized_top;
    for (const auto& t : c.truth) ++counts[t];
    std::size_t best = 0;
    for (const auto& [name, n] : counts)
        if (n > best) best = n, normalized_top = name;
    std::string top;
    normalize(normalized_top, f.normalize, top);
    bool found = false;
    for (const auto& [name, n] : frequency.reidentified) found = found || name == top;
    EXPECT_TRUE(found) << top;
    // Statistics: unhardened first names repeat, so many records share filters.
    EXPECT_GT(report.statistics.records_in_duplicates, report.statistics.records / 2);
}

TEST(Audit, HardeningBringsTheAttacksDown) {
    const Case plain = first_names("");
    const FieldSpec& f = plain.schema.fields()[0];
    const AuditReport before = audit(plain.filters, plain.truth, plain.reference, f.normalize, f.tokenizer);
    const Case blip = first_names(R"(, "hardening": [{"step": "blip", "epsilon": 3}])");
    const AuditReport after = audit(blip.filters, blip.truth, blip.reference, f.normalize, f.tokenizer);
    EXPECT_LT(after.attacks[0].record_rate, before.attacks[0].record_rate / 4);
    EXPECT_LT(after.attacks[1].record_rate, before.attacks[1].record_rate / 4);
    EXPECT_LT(after.statistics.records_in_duplicates, before.statistics.records_in_duplicates / 10);

    const Case balanced = first_names(R"(, "hardening": [{"step": "balance"}])");
    const FilterStatistics s = filter_statistics(balanced.filters);
    EXPECT_EQ(s.popcount_min, 1024u);
    EXPECT_EQ(s.popcount_max, 1024u);
    EXPECT_DOUBLE_EQ(s.popcount_sd, 0.0);
}

// The attack the hardening was chosen without: an attacker who knows BLIP is in use clusters similar
// filters instead of looking for identical ones, and BLIP's noise barely slows it down.
TEST(Audit, SimilarityClusteringSeesThroughBlip) {
    const Case plain = first_names("");
    const FieldSpec& f = plain.schema.fields()[0];
    const AuditReport before = audit(plain.filters, plain.truth, plain.reference, f.normalize, f.tokenizer);
    const Case blip = first_names(R"(, "hardening": [{"step": "blip", "epsilon": 3}])");
    const AuditReport after = audit(blip.filters, blip.truth, blip.reference, f.normalize, f.tokenizer);
    ASSERT_EQ(after.attacks.size(), 3u);
    const AttackResult& clear = before.attacks[2];
    const AttackResult& noisy = after.attacks[2];
    EXPECT_EQ(noisy.name, "similarity clustering");
    std::printf("similarity clustering: %.1f%% unhardened, %.1f%% with BLIP eps=3 (chance %.1f%%; tau %.2f, %.2f); "
                "exact frequency with BLIP %.1f%%\n",
                100 * clear.record_rate, 100 * noisy.record_rate, 100 * noisy.chance_rate, clear.threshold,
                noisy.threshold, 100 * after.attacks[0].record_rate);
    EXPECT_GT(clear.record_rate, 2 * clear.chance_rate);
    EXPECT_GT(noisy.record_rate, 2 * noisy.chance_rate);
    EXPECT_GT(noisy.record_rate, 4 * after.attacks[0].record_rate);  // where exact frequency alignment fails
    EXPECT_GT(noisy.threshold, 0.0);
    EXPECT_LT(noisy.threshold, clear.threshold + 1e-9);  // the attacker lowers τ for noisy filters
}

// The noise-tolerant miner: an attacker who knows BLIP's flip rate sets the support thresholds from
// it and finds the q-gram patterns the blind miner (built for exact patterns) loses in the noise.
TEST(Audit, PatternMinerAllowsForTheKnownFlipRate) {
    const FieldSpec f = first_names("").schema.fields()[0];
    for (double epsilon : {3.0, 4.0}) {
        const Case blip = first_names(R"(, "hardening": [{"step": "blip", "epsilon": )" + std::to_string(epsilon) + "}]");
        const AuditReport blind = audit(blip.filters, blip.truth, blip.reference, f.normalize, f.tokenizer);
        AuditOptions knowing;
        knowing.flip_probability = hardening_flip_probability(blip.schema.hardening());
        EXPECT_NEAR(knowing.flip_probability, blip_flip_probability(epsilon), 1e-12);
        const AuditReport informed = audit(blip.filters, blip.truth, blip.reference, f.normalize, f.tokenizer, knowing);
        const AttackResult& before = blind.attacks[1];
        const AttackResult& after = informed.attacks[1];
        std::printf("pattern mining, BLIP eps=%.0f: blind %.1f%% (%zu q-grams), knowing p=%.3f %.1f%% (%zu q-grams); "
                    "chance %.1f%%\n",
                    epsilon, 100 * before.record_rate, before.patterns, knowing.flip_probability, 100 * after.record_rate,
                    after.patterns, 100 * after.chance_rate);
        EXPECT_GT(after.patterns, before.patterns);
        EXPECT_GT(after.record_rate, 2 * after.chance_rate);
        EXPECT_GT(after.record_rate, 2 * before.record_rate);
    }
}

// Names encoded alone under `schema` with a key of the attacker's own (not the agency's).
FilterMatrix encode_names(const Schema& schema, const std::vector<std::string>& names, std::uint8_t key_byte) {
    std::uint8_t raw[32];
    for (int i = 0; i < 32; ++i) raw[i] = static_cast<std::uint8_t>(key_byte + 7 * i);
    Encoder encoder(schema, SecretKey(raw, 32));
    encoder.bind_columns({"record_id", "first_name"});
    std::vector<std::vector<std::string>> rows;
    for (std::size_t i = 0; i < names.size(); ++i) rows.push_back({"r" + std::to_string(i), names[i]});
    RecordIdSet seen;
    EncodeSummary summary;
    FilterMatrix m = encoder.encode_batch(rows, {}, {}, 2, seen, summary);
    m.compute_popcounts();
    return m;
}

// The graph attack: similarity graphs of the agency's encodings and of the attacker's own encodings
// of a reference population, matched node to node.
TEST(Audit, GraphMatchingRecoversAPlantedCorrespondence) {
    for (const std::string hardening : {"", R"(, "hardening": [{"step": "blip", "epsilon": 3}])"}) {
        const Case c = first_names(hardening);
        const FieldSpec& f = c.schema.fields()[0];
        // Planted: the attacker's reference is the encoded population itself (overlap 1).
        const FilterMatrix same = encode_names(c.schema, c.truth, 5);
        const AuditReport planted = audit(c.filters, c.truth, c.truth, f.normalize, f.tokenizer, {}, &same, &c.truth);
        // Realistic: another population drawn from the same distributions.
        const FilterMatrix other = encode_names(c.schema, c.reference, 5);
        const AuditReport similar =
            audit(c.filters, c.truth, c.reference, f.normalize, f.tokenizer, {}, &other, &c.reference);
        ASSERT_EQ(planted.attacks.size(), 4u);
        const AttackResult& p = planted.attacks[3];
        const AttackResult& s = similar.attacks[3];
        EXPECT_EQ(p.name, "graph matching");
        std::printf("graph matching%s: planted %.1f%% (%zu names), similar population %.1f%% (%zu names); chance %.1f%%; "
                    "similarity clustering %.1f%%\n",
                    hardening.empty() ? "" : " with BLIP eps=3", 100 * p.record_rate, p.names_correct,
                    100 * s.record_rate, s.names_correct, 100 * s.chance_rate, 100 * similar.attacks[2].record_rate);
        EXPECT_GT(p.record_rate, 0.5);
        EXPECT_GT(p.names_correct, 50u);
        EXPECT_GT(s.record_rate, 3 * s.chance_rate);
        EXPECT_GT(p.threshold, 0.0);
        // An attacker expecting less overlap keeps only the most alike nodes: fewer guesses.
        AuditOptions cautious;
        cautious.overlap = 0.25;
        const AuditReport fewer =
            audit(c.filters, c.truth, c.reference, f.normalize, f.tokenizer, cautious, &other, &c.reference);
        EXPECT_LT(fewer.attacks[3].guessed, s.guessed);
        EXPECT_GT(fewer.attacks[3].guessed, 0u);
    }
    const Case c = first_names("");
    const FieldSpec& f = c.schema.fields()[0];
    const FilterMatrix other = encode_names(c.schema, c.reference, 5);
    const std::vector<std::string> short_values(other.rows() - 1);
    EXPECT_THROW(audit(c.filters, c.truth, c.reference, f.normalize, f.tokenizer, {}, &other, &short_values), UsageError);
}

// The five vulnerabilities: known extremes. Unhardened first names have a frequency profile (the
// most frequent name's group has a size no other group has) and patterns that point at few names;
// balancing makes every popcount the same, so length tells nothing.
TEST(Audit, VulnerabilitiesFollowWhatTheEncodingsShow) {
    const Case plain = first_names("");
    const FieldSpec& f = plain.schema.fields()[0];
    std::vector<std::string> groups;
    for (std::size_t i = 0; i < plain.truth.size(); ++i) groups.push_back(i % 3 == 0 ? "a" : (i % 3 == 1 ? "b" : ""));
    const AuditReport report =
        audit(plain.filters, plain.truth, plain.reference, f.normalize, f.tokenizer, {}, nullptr, nullptr, &groups);
    ASSERT_EQ(report.vulnerabilities.size(), 3u);
    const Vulnerability& all = report.vulnerabilities[0];
    EXPECT_EQ(all.group, "");
    EXPECT_EQ(all.records, plain.filters.rows());
    EXPECT_EQ(report.vulnerabilities[1].group, "a");
    EXPECT_EQ(report.vulnerabilities[1].records + report.vulnerabilities[2].records,
              plain.filters.rows() - plain.filters.rows() / 3);
    for (std::size_t m = 0; m < vulnerability_measures; ++m) {
        std::printf("%s: mean %.3f, high %.1f%%\n", vulnerability_names[m], all.mean[m], 100 * all.high[m]);
        EXPECT_GE(all.mean[m], 0.0);
        EXPECT_LE(all.mean[m], 1.0);
        EXPECT_LE(all.high[m], all.mean[m] * 2 + 1e-12);  // a record at ≥ 0.5 adds at least 0.5 to the mean
    }
    // The most frequent name's records: a group size no other group has.
    std::map<std::string, std::size_t> counts;
    for (const auto& t : plain.truth) ++counts[t];
    std::size_t top = 0;
    for (const auto& [name, n] : counts) top = std::max(top, n);
    EXPECT_GE(all.high[0], static_cast<double>(top) / static_cast<double>(plain.truth.size()));
    EXPECT_GT(all.high[2], 0.0);  // some records' q-gram patterns fit one or two names

    const Case balanced = first_names(R"(, "hardening": [{"step": "balance"}])");
    const AuditReport flat = audit(balanced.filters, balanced.truth, balanced.reference, f.normalize, f.tokenizer);
    EXPECT_LT(flat.vulnerabilities[0].mean[1], all.mean[1] / 4);
    EXPECT_LT(flat.vulnerabilities[0].high[1], 0.01);
    EXPECT_THROW(audit(plain.filters, plain.truth, plain.reference, f.normalize, f.tokenizer, {}, nullptr, nullptr,
                       &plain.reference),
                 UsageError);
}

// Prepared once, the encodings give every field the report a fresh audit of that field gives (the
// CLI attacks each field through the whole filter this way).
TEST(Audit, PreparedEncodingsGiveEachFieldTheSameReport) {
    const Case c = first_names(R"(, "hardening": [{"step": "blip", "epsilon": 3}])");
    const FieldSpec& f = c.schema.fields()[0];
    const FilterMatrix other = encode_names(c.schema, c.reference, 5);
    // A second "field" of the same records: the first two letters of each name.
    const auto prefix = [](const std::vector<std::string>& names) {
        std::vector<std::string> out;
        for (const auto& name : names) out.push_back(name.substr(0, 2));
        return out;
    };
    std::vector<std::string> groups;
    for (std::size_t i = 0; i < c.truth.size(); ++i) groups.push_back(i % 2 ? "a" : "b");
    const AuditedFilters prepared(c.filters, {}, &other);
    for (const auto& [truth, reference] : {std::pair{c.truth, c.reference}, std::pair{prefix(c.truth), prefix(c.reference)}}) {
        const AuditReport fresh = audit(c.filters, truth, reference, f.normalize, f.tokenizer, {}, &other, &reference, &groups);
        const AuditReport shared = audit(prepared, truth, reference, f.normalize, f.tokenizer, &reference, &groups);
        ASSERT_EQ(shared.attacks.size(), 4u);
        ASSERT_EQ(fresh.attacks.size(), shared.attacks.size());
        for (std::size_t a = 0; a < fresh.attacks.size(); ++a) {
            EXPECT_EQ(fresh.attacks[a].name, shared.attacks[a].name);
            EXPECT_EQ(fresh.attacks[a].guessed, shared.attacks[a].guessed) << fresh.attacks[a].name;
            EXPECT_EQ(fresh.attacks[a].correct, shared.attacks[a].correct) << fresh.attacks[a].name;
            EXPECT_EQ(fresh.attacks[a].names_correct, shared.attacks[a].names_correct) << fresh.attacks[a].name;
            EXPECT_EQ(fresh.attacks[a].threshold, shared.attacks[a].threshold) << fresh.attacks[a].name;
        }
        ASSERT_EQ(fresh.vulnerabilities.size(), 3u);
        ASSERT_EQ(shared.vulnerabilities.size(), 3u);
        for (std::size_t g = 0; g < 3; ++g)
            for (std::size_t m = 0; m < vulnerability_measures; ++m) {
                EXPECT_EQ(fresh.vulnerabilities[g].mean[m], shared.vulnerabilities[g].mean[m]);
                EXPECT_EQ(fresh.vulnerabilities[g].high[m], shared.vulnerabilities[g].high[m]);
            }
        EXPECT_EQ(fresh.statistics.distinct_filters, shared.statistics.distinct_filters);
    }
    EXPECT_GT(audit(prepared, c.truth, c.reference, f.normalize, f.tokenizer, &c.reference).attacks[3].correct, 0u);
    EXPECT_THROW(audit(prepared, c.truth, c.reference, f.normalize, f.tokenizer), UsageError);  // no reference values
}

TEST(Audit, NeedsOneTrueValuePerFilter) {
    const Case c = first_names("");
    const FieldSpec& f = c.schema.fields()[0];
    EXPECT_THROW(audit(c.filters, {"x"}, c.reference, f.normalize, f.tokenizer), UsageError);
}

TEST(Audit, EveryAttacksLinksAreTheFirstOfOneSharedMatch) {
    // The attacks take their links from one top-k match (agency/nearest.hpp): for every k and
    // threshold they use, the links must be exactly what their own match would keep. First names
    // encoded alone (many identical filters: ties at every score) and BLIP-noisy ones.
    for (const std::string hardening : {"", R"(, "hardening": [{"step": "blip", "epsilon": 3}])"}) {
        FilterMatrix filters = first_names(hardening).filters;
        filters.compute_popcounts();
        const detail::Nearest near = detail::nearest_records(filters, 65);
        for (const std::size_t k : {1, 2, 16, 17, 65})
            for (const char* floor : {"0.01", "0.35", "0.8", "0.95"}) {
                MatchOptions options;
                options.threshold = Threshold::parse(floor);
                options.top_k = k;
                const Candidates direct = match(filters, filters, options);
                const Candidates shared = detail::first_links(near, k, options.threshold);
                ASSERT_GT(direct.size(), 0u);
                EXPECT_EQ(shared.a_index, direct.a_index) << "k " << k << ", Dice >= " << floor << hardening;
                EXPECT_EQ(shared.b_index, direct.b_index) << "k " << k << ", Dice >= " << floor << hardening;
                EXPECT_EQ(shared.common, direct.common) << "k " << k << ", Dice >= " << floor << hardening;
                EXPECT_EQ(shared.total, direct.total) << "k " << k << ", Dice >= " << floor << hardening;
            }
    }
}

}  // namespace
}  // namespace pprl
