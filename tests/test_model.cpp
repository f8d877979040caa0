// Field-segmented layouts (schema, encoder, file format) and the hub's models: per-segment levels,
// the Fellegi–Sunter fit, automatic thresholds, and link with both models on synthetic people.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <set>

#include "pprl/encode.hpp"
#include "pprl/error.hpp"
#include "pprl/evaluate.hpp"
#include "pprl/format.hpp"
#include "pprl/link.hpp"
#include "pprl/model.hpp"
#include "pprl/schema.hpp"
#include "pprl/synth.hpp"
#include "test_support.hpp"

namespace pprl {
namespace {

const std::string segmented_schema_path = std::string(PPRL_SOURCE_DIR) + "/examples/youth_schema_segmented.json";
const std::string record_schema_path = std::string(PPRL_SOURCE_DIR) + "/examples/youth_schema.json";

SecretKey key() {
    std::uint8_t raw[32];
    for (int i = 0; i < 32; ++i) raw[i] = static_cast<std::uint8_t>(7 * i + 3);
    return SecretKey(raw, 32);
}

std::string two_field_schema(const std::string& filter) {
    return R"({"pprl_schema": 1, "filter": )" + filter + R"(,
      "fields": [{"name": "a", "type": "string"}, {"name": "b", "type": "string"}, {"name": "c", "ignore": true}]})";
}

TEST(Layout, SegmentsParseIntoALayoutAndChangeTheFingerprint) {
    const Schema plain = Schema::from_json(two_field_schema(R"({"bits": 256})"));
    const Schema segmented = Schema::from_json(two_field_schema(
        R"({"segments": [{"name": "A", "bits": 128, "fields": ["a"]}, {"name": "B", "bits": 128, "fields": ["b"]}]})"));
    EXPECT_TRUE(plain.layout().empty());
    EXPECT_EQ(segmented.bits(), 256u);
    ASSERT_EQ(segmented.layout().size(), 2u);
    EXPECT_EQ(segmented.layout()[1], (Segment{"B", 128, 128}));
    EXPECT_NE(plain.fingerprint(), segmented.fingerprint());
    const Schema resized = Schema::from_json(two_field_schema(
        R"({"segments": [{"name": "A", "bits": 64, "fields": ["a"]}, {"name": "B", "bits": 192, "fields": ["b"]}]})"));
    EXPECT_NE(resized.fingerprint(), segmented.fingerprint());
    const Schema grouped = Schema::from_json(two_field_schema(R"({"segments": [{"name": "ab", "bits": 256, "fields": ["a", "b"]}]})"));
    EXPECT_EQ(grouped.layout().size(), 1u);
}

TEST(Layout, BadSegmentsAreValidationErrors) {
    const std::vector<std::string> bad = {
        R"({"segments": [{"name": "A", "bits": 128, "fields": ["a"]}]})",                                     // b in none
        R"({"segments": [{"name": "A", "bits": 128, "fields": ["a", "b"]}, {"name": "B", "bits": 64, "fields": ["b"]}]})",
        R"({"segments": [{"name": "A", "bits": 100, "fields": ["a", "b"]}]})",                                // not ×64
        R"({"bits": 512, "segments": [{"name": "A", "bits": 256, "fields": ["a", "b"]}]})",                   // sum ≠ bits
        R"({"segments": [{"name": "A", "bits": 128, "fields": ["a", "c"]}, {"name": "B", "bits": 64, "fields": ["b"]}]})",
        R"({"segments": [{"name": "A", "bits": 128, "fields": ["a"]}, {"name": "A", "bits": 64, "fields": ["b"]}]})",
        R"({"segments": []})",
        R"({"hardening": [{"step": "balance"}], "segments": [{"name": "A", "bits": 128, "fields": ["a", "b"]}]})",
    };
    for (const std::string& filter : bad) EXPECT_THROW(Schema::from_json(two_field_schema(filter)), ValidationError) << filter;
}

// Rows of two fields encoded under a segmented schema with BLIP.
FilterMatrix encode_rows(const Schema& schema, const std::vector<std::vector<std::string>>& rows) {
    Encoder encoder(schema, key());
    encoder.bind_columns({"record_id", "a", "b"});
    RecordIdSet seen;
    EncodeSummary summary;
    FilterMatrix out = encoder.encode_batch(rows, {}, {}, 1, seen, summary);
    out.info() = encoding_info(schema, encoder.key_check(), "p");
    return out;
}

bool segment_empty(const FilterMatrix& m, std::size_t row, const Segment& s) {
    for (unsigned w = 0; w < s.bits / 64; ++w)
        if (m.row_words(row)[s.first_bit / 64 + w] != 0) return false;
    return true;
}

TEST(Layout, EachFieldSetsBitsOnlyInItsSegmentAndAMissingOneStaysEmptyUnderBlip) {
    const Schema schema = Schema::from_json(two_field_schema(
        R"({"segments": [{"name": "A", "bits": 128, "fields": ["a"]}, {"name": "B", "bits": 192, "fields": ["b"]}]})"));
    const Schema blip = Schema::from_json(two_field_schema(
        R"({"hardening": [{"step": "blip", "epsilon": 2}],
            "segments": [{"name": "A", "bits": 128, "fields": ["a"]}, {"name": "B", "bits": 192, "fields": ["b"]}]})"));
    const std::vector<std::vector<std::string>> rows = {{"1", "anna", ""}, {"2", "", "smith"}, {"3", "jo", "li"}};
    const FilterMatrix plain = encode_rows(schema, rows);
    const FilterMatrix noisy = encode_rows(blip, rows);
    const Layout layout = schema.layout();
    EXPECT_FALSE(segment_empty(plain, 0, layout[0]));
    EXPECT_TRUE(segment_empty(plain, 0, layout[1]));
    EXPECT_TRUE(segment_empty(plain, 1, layout[0]));
    EXPECT_FALSE(segment_empty(plain, 1, layout[1]));
    // BLIP flips bits of present segments only.
    EXPECT_TRUE(segment_empty(noisy, 0, layout[1]));
    EXPECT_TRUE(segment_empty(noisy, 1, layout[0]));
    EXPECT_FALSE(segment_empty(noisy, 2, layout[0]));
    EXPECT_FALSE(segment_empty(noisy, 2, layout[1]));
    // The same value of field a sets the same bits whatever field b holds.
    const FilterMatrix again = encode_rows(schema, {{"9", "anna", "zed"}});
    for (unsigned w = 0; w < 2; ++w) EXPECT_EQ(plain.row_words(0)[w], again.row_words(0)[w]);
}

TEST(Layout, TheFileCarriesTheLayoutAndRefusesAForgedOne) {
    test::TempDir dir;
    const Schema schema = Schema::from_file(segmented_schema_path);
    FilterMatrix m = test::random_filters(5, schema.bits(), 0.3, 4);
    m.info() = encoding_info(schema, KeyCheck{}, "city");
    write_encoded_file(dir.file("s.pprl"), m);
    const FilterMatrix back = load_encoded_file(dir.file("s.pprl"));
    EXPECT_EQ(back.info().layout, schema.layout());
    for (std::size_t r = 0; r < 5; ++r)
        for (std::size_t w = 0; w < m.words(); ++w) ASSERT_EQ(back.row_words(r)[w], m.row_words(r)[w]);
    // Every byte of the layout block is covered: a flip anywhere in it is refused.
    const std::string bytes = test::read_all(dir.file("s.pprl"));
    for (std::size_t at = 256; at < 256 + 64; ++at) {
        std::string forged = bytes;
        forged[at] = static_cast<char>(forged[at] ^ 0x10);
        EXPECT_THROW(load_encoded_file(dir.write("f.pprl", forged)), FormatError) << at;
    }
    // A writer refuses a layout that does not tile the filter.
    FilterMatrix bad = m;
    bad.info().layout.back().bits += 64;
    EXPECT_THROW(write_encoded_file(dir.file("bad.pprl"), bad), UsageError);
    // Different layouts are a key/schema mismatch at the hub.
    FilterMatrix other = m;
    other.info().layout.clear();
    EXPECT_THROW(check_comparable(m, other), KeyMismatchError);
}

TEST(Levels, PerSegmentDiceEqualsAReferenceOnRandomSegmentedFilters) {
    const Layout layout = {{"x", 0, 64}, {"y", 64, 128}, {"z", 192, 320}};
    FilterMatrix a = test::random_filters(40, 512, 0.2, 1), b = test::random_filters(40, 512, 0.35, 2);
    // Some empty segments, for the missing level.
    for (std::size_t r = 0; r < 40; r += 7)
        for (unsigned w = 1; w < 3; ++w) a.mutable_row_words(r)[w] = 0;
    a.info().layout = b.info().layout = layout;
    std::vector<std::uint8_t> levels(3);
    for (std::size_t i = 0; i < 40; ++i)
        for (std::size_t j = 0; j < 40; ++j) {
            segment_levels(a, i, b, j, levels.data());
            for (std::size_t s = 0; s < 3; ++s) {
                unsigned common = 0, pa = 0, pb = 0;
                for (unsigned bit = layout[s].first_bit; bit < layout[s].first_bit + layout[s].bits; ++bit) {
                    const bool x = (a.row_words(i)[bit / 64] >> (bit % 64)) & 1, y = (b.row_words(j)[bit / 64] >> (bit % 64)) & 1;
                    pa += x, pb += y, common += x && y;
                }
                std::uint8_t expected = 0;
                if (pa && pb) {
                    const double dice = 2.0 * common / (pa + pb);
                    expected = 1;
                    while (expected < similarity_levels - 1 && dice < level_floor[expected - 1]) ++expected;
                }
                ASSERT_EQ(levels[s], expected) << i << " " << j << " " << s;
            }
        }
}

TEST(FellegiSunter, EmRecoversKnownMAndUFromDataDrawnFromTheModel) {
    // Three segments, levels drawn from known m (matches) and u (non-matches), λ = 0.2.
    const std::vector<std::array<double, similarity_levels>> m = {
        {0, 0.6, 0.2, 0.1, 0.05, 0.02, 0.01, 0.01, 0.01}, {0, 0.5, 0.3, 0.1, 0.04, 0.03, 0.01, 0.01, 0.01},
        {0, 0.7, 0.1, 0.1, 0.04, 0.02, 0.02, 0.01, 0.01}};
    const std::vector<std::array<double, similarity_levels>> u = {
        {0, 0.01, 0.02, 0.03, 0.04, 0.1, 0.2, 0.3, 0.3}, {0, 0.02, 0.02, 0.02, 0.04, 0.1, 0.2, 0.2, 0.4},
        {0, 0.01, 0.01, 0.03, 0.05, 0.1, 0.1, 0.3, 0.4}};
    std::mt19937_64 rng(5);
    PairLevels data;
    data.segments = 3;
    for (int k = 0; k < 200000; ++k) {
        const bool match = std::bernoulli_distribution(0.2)(rng);
        for (std::size_t s = 0; s < 3; ++s) {
            const auto& p = match ? m[s] : u[s];
            std::discrete_distribution<int> level(p.begin(), p.end());
            data.levels.push_back(static_cast<std::uint8_t>(level(rng)));
        }
    }
    FellegiSunterModel model;
    for (int s = 0; s < 3; ++s) {
        SegmentWeights w;
        w.name = "s" + std::to_string(s);
        // A generic start: m leaning to the high levels, u uniform.
        for (std::size_t l = 1; l < similarity_levels; ++l) w.m[l] = std::pow(0.5, l), w.u[l] = 1.0 / 8;
        w.m[0] = w.u[0] = 1;
        model.segments.push_back(w);
    }
    model.prior = 0.5;
    ModelOptions options;
    options.max_iterations = 500;
    options.fit_u = true;
    fit_m_and_prior(model, data, options);
    EXPECT_TRUE(model.converged);
    EXPECT_NEAR(model.prior, 0.2, 0.01);
    for (std::size_t s = 0; s < 3; ++s)
        for (std::size_t l = 1; l < similarity_levels; ++l) {
            EXPECT_NEAR(model.segments[s].m[l], m[s][l], 0.015) << s << " " << l;
            EXPECT_NEAR(model.segments[s].u[l], u[s][l], 0.015) << s << " " << l;
        }
}

// A synthetic population's first two parties, encoded under a schema file.
struct Population {
    std::vector<FilterMatrix> parties;
    Truth truth;
};

// The segmented example schema without its salts: the model's own comparison, apart from hardening.
Schema unsalted_segmented_schema() {
    std::string text = test::read_all(segmented_schema_path);
    const std::string salt = R"(, "salt": {"field": "dob", "part": "year"})";
    for (std::size_t at; (at = text.find(salt)) != std::string::npos;) text.erase(at, salt.size());
    Schema schema = Schema::from_json(text);
    for (const FieldSpec& field : schema.fields()) EXPECT_TRUE(field.salt_field.empty());
    return schema;
}

Population encode_population(const Schema& schema, std::uint64_t people, std::uint64_t seed) {
    SynthOptions options;
    options.people = people;
    options.seed = seed;
    const SynthOutput data = synthesize(options);
    Population out;
    for (std::size_t p = 0; p < 2; ++p) {
        Encoder encoder(schema, key());
        encoder.bind_columns({"record_id", "first_name", "last_name", "dob", "sex", "address", "zip"});
        std::vector<std::vector<std::string>> rows;
        for (std::size_t r = 0; r < data.records[p].size(); ++r) {
            const SynthRecord& x = data.records[p][r];
            rows.push_back({x.record_id, x.first_name, x.last_name, x.dob, x.sex, x.address, x.zip});
            out.truth.add(data.party_names[p], x.record_id, data.person_ids[p][r], data.groups[p][r]);
        }
        RecordIdSet seen;
        EncodeSummary summary;
        FilterMatrix m = encoder.encode_batch(rows, {}, {}, 2, seen, summary);
        m.info() = encoding_info(schema, encoder.key_check(), data.party_names[p]);
        m.compute_popcounts();
        out.parties.push_back(std::move(m));
    }
    return out;
}

double linked_f1(const Population& population, const LinkOptions& options, LinkResult* kept = nullptr) {
    std::vector<const FilterMatrix*> parties = {&population.parties[0], &population.parties[1]};
    LinkResult result = link(parties, options);
    std::vector<EntityRow> rows;
    for (std::size_t i = 0; i < result.entities.size(); ++i)
        rows.push_back({result.party_labels[result.entities.party[i]],
                        population.parties[result.entities.party[i]].ids()[result.entities.record[i]],
                        result.entities.entity_id[i]});
    if (kept != nullptr) *kept = result;
    return evaluate_entities(population.truth, rows).overall.f1();
}

TEST(AutoThreshold, RecordLevelLandsWithinFiveHundredthsOfTheBestThreshold) {
    const Population population = encode_population(Schema::from_file(record_schema_path), 3000, 21);
    LinkOptions options;
    options.model = LinkModel::record;
    options.auto_threshold = true;
    LinkResult result;
    const double auto_f1 = linked_f1(population, options, &result);
    double best_f1 = 0, best_threshold = 0;
    for (int t = 50; t <= 90; ++t) {
        LinkOptions fixed;
        fixed.model = LinkModel::record;
        fixed.threshold = Threshold::parse("0." + std::to_string(t));
        const double f1 = linked_f1(population, fixed);
        if (f1 > best_f1) best_f1 = f1, best_threshold = t / 100.0;
    }
    EXPECT_NEAR(result.threshold, best_threshold, 0.05);
    EXPECT_GT(auto_f1, best_f1 - 0.02);
}

TEST(AutoThreshold, ASampledEstimateAgreesWithTheFullOneOnThreeParties) {
    // Three parties, each larger than the sample: a sampled party is the first of one pair and the
    // other of another, so row counts differ by role (the sanitizer builds check every index).
    SynthOptions options;
    options.people = 1500;
    options.seed = 8;
    const SynthOutput data = synthesize(options);
    const Schema schema = Schema::from_file(record_schema_path);
    std::vector<FilterMatrix> files;
    for (std::size_t p = 0; p < 3; ++p) {
        Encoder encoder(schema, key());
        encoder.bind_columns({"record_id", "first_name", "last_name", "dob", "sex", "address", "zip"});
        std::vector<std::vector<std::string>> rows;
        for (const SynthRecord& x : data.records[p]) rows.push_back({x.record_id, x.first_name, x.last_name, x.dob, x.sex, x.address, x.zip});
        RecordIdSet seen;
        EncodeSummary summary;
        files.push_back(encoder.encode_batch(rows, {}, {}, 2, seen, summary));
        files.back().info() = encoding_info(schema, encoder.key_check(), data.party_names[p]);
        files.back().compute_popcounts();
        ASSERT_GT(files.back().rows(), 400u);
    }
    const std::vector<const FilterMatrix*> parties = {&files[0], &files[1], &files[2]};
    LinkOptions link_options;
    link_options.model = LinkModel::record;
    link_options.auto_threshold = true;
    const double full = link(parties, link_options).threshold;
    const double sampled = estimate_record_threshold(parties, link_options, 400);
    EXPECT_NEAR(sampled, full, 0.06);
    EXPECT_TRUE(std::isnan(estimate_record_threshold({&files[0]}, link_options, 400)));
    // Pairs naming rows beyond a party are refused, not read.
    std::vector<ScoredPair> bad = {ScoredPair{0, 5000, 1, 0, 1, 2}};
    EXPECT_THROW(estimate_threshold(bad, {10, 10}, {10, 10}, {1.0}, {}, {}), UsageError);
}

TEST(AutoThreshold, FellegiSunterLinksBetterThanTheRecordLevelModel) {
    const Population segmented = encode_population(unsalted_segmented_schema(), 3000, 21);
    LinkOptions options;
    options.auto_threshold = true;  // model automatic: Fellegi–Sunter on segmented encodings
    LinkResult result;
    const double fs_f1 = linked_f1(segmented, options, &result);
    ASSERT_EQ(result.model, LinkModel::fellegi_sunter);
    ASSERT_TRUE(result.fitted);
    EXPECT_EQ(result.fitted->segments.size(), 6u);
    // m of an exact date of birth far above its u; a disagreeing first name counts against.
    const SegmentWeights& dob = result.fitted->segments[2];
    EXPECT_GT(dob.log2_factor(1) + dob.log2_factor(2), 10);
    EXPECT_LT(result.fitted->segments[0].log2_factor(8), -1);
    // Weights order the candidates; every link passes the chosen probability threshold.
    for (std::size_t k = 0; k < result.candidates.size(); ++k)
        EXPECT_GE(FellegiSunterModel::probability(result.candidates[k].weight), result.threshold);
    LinkOptions record;
    record.model = LinkModel::record;
    record.auto_threshold = true;
    EXPECT_GT(fs_f1, linked_f1(segmented, record));
    EXPECT_GT(fs_f1, 0.95);
    // The record-level model refuses nothing on segmented files; Fellegi–Sunter needs segments.
    const Population plain = encode_population(Schema::from_file(record_schema_path), 300, 3);
    LinkOptions fs;
    fs.model = LinkModel::fellegi_sunter;
    fs.auto_threshold = true;
    EXPECT_THROW(linked_f1(plain, fs), UsageError);
}

}  // namespace
}  // namespace pprl
