// The hub registry: incremental link equals batch link, every clause of the id contract, time
// travel, erasure, and the refusals (another key or schema, a newer layout, not a registry).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "pprl/error.hpp"
#include "pprl/format.hpp"
#include "pprl/registry.hpp"
#include "test_support.hpp"

namespace pprl {
namespace {

constexpr unsigned bits = 256;

using Partition = std::set<std::set<std::pair<std::string, std::string>>>;

// A population of people, each with a base filter; a party's record of a person is the base with a
// few bits toggled (a new version toggles others), so records of one person score high.
class Population {
public:
    explicit Population(std::size_t people, std::uint64_t seed) : base_(test::random_filters(people, bits, 0.25, seed)), rng_(seed) {}

    // The filter of version `version` of person `person`'s record at party `party`.
    void fill(std::uint64_t* row, std::size_t person, std::size_t party, std::size_t version) const {
        std::copy_n(base_.row_words(person), base_.words(), row);
        std::mt19937_64 noise(person * 1'000'003 + party * 7919 + version * 104'729);
        for (int f = 0; f < 12; ++f) {
            const unsigned bit = static_cast<unsigned>(noise() % bits);
            row[FilterMatrix::word_bit(bit) / 64] ^= std::uint64_t{1} << (FilterMatrix::word_bit(bit) % 64);
        }
    }
    // An extract of `party` holding these (person, version) records, ids "<party>-<person>".
    std::string write(const test::TempDir& dir, const std::string& name, const std::string& party, std::size_t party_index,
                      const std::vector<std::pair<std::size_t, std::size_t>>& records, const EncodingInfo& info) const {
        FilterMatrix m(records.size(), bits);
        for (std::size_t r = 0; r < records.size(); ++r) {
            fill(m.mutable_row_words(r), records[r].first, party_index, records[r].second);
            m.ids().push_back(party + "-" + std::to_string(records[r].first));
        }
        m.info() = info;
        m.info().party = party;
        const std::string path = dir.file(name);
        write_encoded_file(path, m);
        return path;
    }
    std::size_t people() const { return base_.rows(); }

private:
    FilterMatrix base_;
    std::mt19937_64 rng_;
};

EncodingInfo test_info(std::uint8_t key = 1) {
    Fingerprint fingerprint{};
    fingerprint[0] = 42;
    KeyCheck check{};
    check[0] = key;
    return EncodingInfo::encoded(fingerprint, check, "");
}

Partition registry_partition(const Registry& registry, const std::string& as_of = {}) {
    std::map<std::string, std::set<std::pair<std::string, std::string>>> groups;
    for (const RegistryEntityRow& row : registry.entities(as_of)) groups[row.entity_id].insert({row.party, row.record_id});
    Partition out;
    for (auto& [id, members] : groups) out.insert(members);
    return out;
}

// The partition of a batch link of the registry's current records (and, if asked, its link count).
Partition batch_partition(const Registry& registry, const RegistryLinkOptions& options, std::size_t* links = nullptr) {
    const std::vector<FilterMatrix> current = registry.current_filters();
    std::vector<const FilterMatrix*> parties;
    for (const FilterMatrix& m : current) parties.push_back(&m);
    LinkOptions link_options;
    link_options.threshold = options.threshold;
    link_options.model = LinkModel::record;
    link_options.method = options.method;
    link_options.merge = options.merge;
    link_options.blocking = options.blocking;
    link_options.lsh = options.lsh;
    const LinkResult result = link(parties, link_options);
    if (links != nullptr) *links = static_cast<std::size_t>(std::count(result.linked.begin(), result.linked.end(), 1));
    std::map<std::string, std::set<std::pair<std::string, std::string>>> groups;
    for (std::size_t k = 0; k < result.entities.size(); ++k)
        groups[result.entities.entity_id[k]].insert(
            {result.party_labels[result.entities.party[k]], current[result.entities.party[k]].ids()[result.entities.record[k]]});
    Partition out;
    for (auto& [id, members] : groups) out.insert(members);
    return out;
}

std::map<std::string, std::string> entity_of(const Registry& registry) {
    std::map<std::string, std::string> out;
    for (const RegistryEntityRow& row : registry.entities()) out[row.party + ":" + row.record_id] = row.entity_id;
    return out;
}

std::vector<RegistryEvent> events_of(const Registry& registry, const std::string& kind) {
    std::vector<RegistryEvent> out;
    for (const RegistryEvent& event : registry.events())
        if (event.kind == kind) out.push_back(event);
    return out;
}

TEST(Registry, IncrementalLinkEqualsBatchLinkOverRefreshesWithRandomUpdates) {
    test::TempDir dir;
    const std::string db = dir.file("hub.db");
    Registry::create(db);
    Registry registry(db, true);
    const Population population(600, 11);
    const std::vector<std::string> parties = {"city", "schools", "promise"};
    std::mt19937_64 rng(5);
    // Per party: the people it covers and the version of each record.
    std::vector<std::map<std::size_t, std::size_t>> covered(parties.size());
    for (std::size_t p = 0; p < parties.size(); ++p)
        for (std::size_t person = 0; person < population.people(); ++person)
            if (rng() % 100 < 60) covered[p][person] = 0;
    // Threshold, method, merge rule and blocking per refresh: raised, lowered (a full rescore),
    // another method and rule (no rescore), blocking (a full rescore), back to exact.
    struct Step {
        const char* threshold;
        LinkMethod method;
        MergeRule merge;
        bool blocking;
    };
    const std::vector<Step> steps = {{"0.7", LinkMethod::greedy, MergeRule::disjoint_parties, false},
                                     {"0.75", LinkMethod::greedy, MergeRule::disjoint_parties, false},
                                     {"0.65", LinkMethod::optimal, MergeRule::disjoint_parties, false},
                                     {"0.7", LinkMethod::greedy, MergeRule::clique, false},
                                     {"0.7", LinkMethod::greedy, MergeRule::disjoint_parties, true},
                                     {"0.7", LinkMethod::optimal, MergeRule::disjoint_parties, false}};
    std::uint64_t reused = 0;
    for (std::size_t year = 0; year < steps.size(); ++year) {
        for (std::size_t p = 0; p < parties.size(); ++p) {
            if (year > 0)
                for (std::size_t person = 0; person < population.people(); ++person) {
                    const unsigned roll = rng() % 100;
                    auto it = covered[p].find(person);
                    if (it == covered[p].end()) {
                        if (roll < 8) covered[p][person] = 0;  // enters the party's coverage
                    } else if (roll < 5) {
                        covered[p].erase(it);  // leaves it (the record stays in the registry)
                    } else if (roll < 12) {
                        ++it->second;  // an updated filter
                    }
                }
            const std::vector<std::pair<std::size_t, std::size_t>> records(covered[p].begin(), covered[p].end());
            const std::string file = population.write(dir, parties[p] + std::to_string(year) + ".pprl", parties[p], p, records, test_info());
            const std::string date = "202" + std::to_string(year) + "-09-01";
            const RegistryIngest done = registry.ingest(file, parties[p], date);
            EXPECT_EQ(done.records, records.size());
        }
        RegistryLinkOptions options;
        options.threshold = Threshold::parse(steps[year].threshold);
        options.method = steps[year].method;
        options.merge = steps[year].merge;
        options.blocking = steps[year].blocking;
        options.lsh.tables = 30;
        options.lsh.bits_per_key = 12;
        const RegistryLink done = registry.link(options);
        reused += done.kept_pairs;
        std::size_t batch_links = 0;
        EXPECT_EQ(registry_partition(registry), batch_partition(registry, options, &batch_links)) << "refresh " << year;
        EXPECT_GT(batch_links, 0u);
        EXPECT_EQ(done.links, batch_links) << "refresh " << year;
        EXPECT_TRUE(registry.verify().problems.empty());
        if (year == 1 || year == 3) EXPECT_FALSE(done.rescored_all) << year;  // raised threshold; other rule
        if (year == 2 || year == 4) EXPECT_TRUE(done.rescored_all) << year;   // lowered threshold; blocking
        if (year == 1) EXPECT_LT(done.scored_records, done.records / 3);
    }
    EXPECT_GT(reused, 0u);
}

TEST(Registry, IngestKnowsEveryRecordIdWhateverItsBytes) {
    // Ingest matches an extract's rows to the stored records by id in byte order: ids that are
    // prefixes of others, differ in case or hold UTF-8 beyond ASCII must each find their record.
    test::TempDir dir;
    Registry::create(dir.file("hub.db"));
    Registry registry(dir.file("hub.db"), true);
    const Population population(12, 5);
    const std::vector<std::string> ids = {"a", "a-1", "a1", "A", "B", "\xc3\xa9l\xc3\xa8ve", "\xc3\xa9l", "z", "\xe2\x82\xac" "7", "10", "9", "a-"};
    const auto extract = [&](const std::string& name, std::size_t version_of_odd, std::size_t count) {
        FilterMatrix m(count, bits);
        for (std::size_t r = 0; r < count; ++r) {
            population.fill(m.mutable_row_words(r), r, 0, r % 2 == 1 ? version_of_odd : 0);
            m.ids().push_back(r < ids.size() ? ids[r] : "new-" + std::to_string(r));
        }
        m.info() = test_info();
        m.info().party = "city";
        write_encoded_file(dir.file(name), m);
        return dir.file(name);
    };
    const RegistryIngest first = registry.ingest(extract("one.pprl", 0, ids.size()), "city", "2025-01-01");
    EXPECT_EQ(first.new_records, ids.size());
    // The odd rows get a new filter; the rows are written in another order than the first time.
    FilterMatrix two = load_encoded_file(extract("two.pprl", 1, ids.size()));
    FilterMatrix reversed(ids.size(), bits);
    for (std::size_t r = 0; r < ids.size(); ++r) {
        std::copy_n(two.row_words(ids.size() - 1 - r), two.words(), reversed.mutable_row_words(r));
        reversed.ids().push_back(two.ids()[ids.size() - 1 - r]);
    }
    reversed.info() = two.info();
    write_encoded_file(dir.file("reversed.pprl"), reversed);
    const RegistryIngest second = registry.ingest(dir.file("reversed.pprl"), "city", "2026-01-01");
    EXPECT_EQ(second.new_records, 0u);
    EXPECT_EQ(second.updated, ids.size() / 2);
    EXPECT_EQ(second.unchanged, ids.size() - ids.size() / 2);
    EXPECT_TRUE(registry.verify().problems.empty());
    RegistryLinkOptions options;
    options.threshold = Threshold::parse("0.9");
    registry.link(options);
    std::set<std::string> linked;
    for (const RegistryEntityRow& row : registry.entities()) linked.insert(row.record_id);
    EXPECT_EQ(registry.entities().size(), ids.size());
    EXPECT_EQ(linked, std::set<std::string>(ids.begin(), ids.end()));  // one record per id, no other
}

TEST(Registry, IncrementalDeduplicationAndHeavyUpdatesEqualBatchLink) {
    // One party (deduplication), then most records updated at once: stale stored pairs outnumber
    // the valid ones and every pair list is rewritten; partitions stay the batch's.
    test::TempDir dir;
    Registry::create(dir.file("hub.db"));
    Registry registry(dir.file("hub.db"), true);
    const Population population(300, 21);
    std::vector<std::pair<std::size_t, std::size_t>> records;
    for (std::size_t person = 0; person < 300; ++person) {
        records.push_back({person, 0});
        if (person % 3 == 0) records.push_back({person, 1});  // a duplicate under another id below
    }
    RegistryLinkOptions options;
    options.threshold = Threshold::parse("0.7");
    std::mt19937_64 rng(3);
    for (int year = 0; year < 4; ++year) {
        FilterMatrix m(records.size(), bits);
        for (std::size_t r = 0; r < records.size(); ++r) {
            population.fill(m.mutable_row_words(r), records[r].first, r % 2, records[r].second);
            m.ids().push_back("id-" + std::to_string(r));
        }
        m.info() = test_info();
        m.info().party = "city";
        const std::string file = dir.file("y" + std::to_string(year) + ".pprl");
        write_encoded_file(file, m);
        registry.ingest(file, "city", "202" + std::to_string(year) + "-01-01");
        const RegistryLink done = registry.link(options);
        EXPECT_EQ(registry_partition(registry), batch_partition(registry, options)) << year;
        EXPECT_TRUE(registry.verify().problems.empty()) << year;
        if (year == 2) EXPECT_GT(done.scored_records, records.size() / 2);
        // Next year: a few updates, then (year 2) nearly all.
        for (auto& record : records)
            if (rng() % 100 < (year == 1 ? 80u : 5u)) record.second += 2;
    }
    registry.forget("city", "id-0");
    EXPECT_TRUE(registry.verify().problems.empty());
}

// Two parties, a handful of people: each test below sets the records it needs.
class RegistryContract : public ::testing::Test {
protected:
    RegistryContract() : population_(8, 3) {
        Registry::create(db_);
        registry_ = std::make_unique<Registry>(db_, true);
    }
    // Ingests an extract of `party` (index for the noise) with (person, version) records.
    void ingest(const std::string& party, std::size_t index, std::vector<std::pair<std::size_t, std::size_t>> records,
                const std::string& date) {
        const std::string file = population_.write(dir_, party + std::to_string(files_++) + ".pprl", party, index, records, test_info());
        registry_->ingest(file, party, date);
    }
    RegistryLink link() {
        RegistryLinkOptions options;
        options.threshold = Threshold::parse("0.7");
        return registry_->link(options);
    }
    // A record whose filter belongs to another person: version `version` of person `as_person`,
    // under the id of `person` (a correction that makes it look like someone else).
    void ingest_as(const std::string& party, std::size_t index, std::size_t person, std::size_t as_person,
                   const std::string& date, std::vector<std::pair<std::size_t, std::size_t>> others = {}) {
        FilterMatrix m(1 + others.size(), bits);
        population_.fill(m.mutable_row_words(0), as_person, index, 9);
        m.ids().push_back(party + "-" + std::to_string(person));
        for (std::size_t k = 0; k < others.size(); ++k) {
            population_.fill(m.mutable_row_words(k + 1), others[k].first, index, others[k].second);
            m.ids().push_back(party + "-" + std::to_string(others[k].first));
        }
        m.info() = test_info();
        m.info().party = party;
        const std::string file = dir_.file(party + std::to_string(files_++) + ".pprl");
        write_encoded_file(file, m);
        registry_->ingest(file, party, date);
    }

    test::TempDir dir_;
    std::string db_ = dir_.file("hub.db");
    Population population_;
    std::unique_ptr<Registry> registry_;
    int files_ = 0;
};

TEST_F(RegistryContract, AnEntityWhoseMembersDidNotChangeKeepsItsId) {
    ingest("city", 0, {{0, 0}, {1, 0}, {2, 0}}, "2024-09-01");
    ingest("schools", 1, {{0, 0}, {1, 0}}, "2024-09-01");
    link();
    const auto before = entity_of(*registry_);
    ASSERT_EQ(before.at("city:city-0"), before.at("schools:schools-0"));
    // A new year: new people, a new party, the same records again.
    ingest("city", 0, {{0, 0}, {1, 0}, {2, 0}, {3, 0}}, "2025-09-01");
    ingest("schools", 1, {{0, 0}, {1, 0}, {4, 0}}, "2025-09-01");
    const RegistryLink done = link();
    const auto after = entity_of(*registry_);
    for (const auto& [record, id] : before) EXPECT_EQ(after.at(record), id) << record;
    EXPECT_EQ(done.moved_records, 0u);
    EXPECT_EQ(done.scored_records, 2u);  // only the two new records
    EXPECT_NE(after.at("city:city-3"), after.at("schools:schools-4"));
}

TEST_F(RegistryContract, AMergeKeepsTheOldestIdAndRetiresTheOtherWithAMergeEvent) {
    // schools-5 is ingested first, so its entity is issued first (the older id).
    ingest("schools", 1, {{5, 0}}, "2024-09-01");
    ingest("city", 0, {{6, 0}}, "2024-09-01");
    link();
    const auto before = entity_of(*registry_);
    const std::string older = before.at("schools:schools-5"), younger = before.at("city:city-6");
    ASSERT_NE(older, younger);
    // The city corrects its record: it is now the same person as schools-5.
    ingest_as("city", 0, 6, 5, "2025-09-01");
    const RegistryLink done = link();
    const auto after = entity_of(*registry_);
    EXPECT_EQ(after.at("city:city-6"), older);
    EXPECT_EQ(after.at("schools:schools-5"), older);
    EXPECT_EQ(done.merged, 1u);
    const auto merges = events_of(*registry_, "MERGE");
    ASSERT_EQ(merges.size(), 1u);
    EXPECT_EQ(merges[0].entity, younger);
    EXPECT_EQ(merges[0].other, older);
    EXPECT_EQ(merges[0].as_of, "2025-09-01");
}

TEST_F(RegistryContract, ASplitLeavesTheIdWithThePartHoldingMostOfTheRecords) {
    ingest("city", 0, {{0, 0}}, "2024-09-01");
    ingest("schools", 1, {{0, 0}}, "2024-09-01");
    ingest("promise", 2, {{0, 0}}, "2024-09-01");
    link();
    const std::string id = entity_of(*registry_).at("city:city-0");
    ASSERT_EQ(entity_of(*registry_).at("promise:promise-0"), id);
    // The promise record turns out to be someone else.
    ingest_as("promise", 2, 0, 7, "2025-09-01");
    const RegistryLink done = link();
    const auto after = entity_of(*registry_);
    EXPECT_EQ(after.at("city:city-0"), id);
    EXPECT_EQ(after.at("schools:schools-0"), id);
    EXPECT_NE(after.at("promise:promise-0"), id);
    EXPECT_EQ(done.split, 1u);
    const auto splits = events_of(*registry_, "SPLIT");
    ASSERT_EQ(splits.size(), 1u);
    EXPECT_EQ(splits[0].entity, id);
    EXPECT_EQ(splits[0].other, after.at("promise:promise-0"));
}

TEST_F(RegistryContract, ASplitIntoEqualPartsLeavesTheIdWithThePartSeenFirst) {
    ingest("city", 0, {{1, 0}}, "2024-09-01");
    ingest("schools", 1, {{1, 0}}, "2024-09-01");
    link();
    const std::string id = entity_of(*registry_).at("city:city-1");
    ingest_as("schools", 1, 1, 7, "2025-09-01");
    link();
    const auto after = entity_of(*registry_);
    EXPECT_EQ(after.at("city:city-1"), id);  // city-1 was seen first
    EXPECT_NE(after.at("schools:schools-1"), id);
}

TEST_F(RegistryContract, ARecordMissingFromALaterExtractStaysInItsEntity) {
    ingest("city", 0, {{2, 0}, {3, 0}}, "2024-09-01");
    ingest("schools", 1, {{2, 0}, {3, 0}}, "2024-09-01");
    link();
    const auto before = entity_of(*registry_);
    ingest("city", 0, {{3, 0}}, "2025-09-01");  // city-2 graduated
    link();
    EXPECT_EQ(entity_of(*registry_), before);
    for (const RegistryEntityRow& row : registry_->entities())
        EXPECT_EQ(row.last_seen, row.record_id == "city-2" || row.party == "schools" ? "2024-09-01" : "2025-09-01") << row.record_id;
}

TEST_F(RegistryContract, IdsAreNeverIssuedTwiceAndExportsTravelInTime) {
    ingest("schools", 1, {{5, 0}, {0, 0}}, "2024-09-01");
    ingest("city", 0, {{6, 0}, {0, 0}}, "2024-09-01");
    link();
    const auto year1 = registry_->entities();
    ingest_as("city", 0, 6, 5, "2025-09-01", {{0, 0}});  // a merge
    link();
    ingest_as("city", 0, 6, 4, "2026-09-01", {{0, 0}});  // and apart again: a new id, not the retired one
    link();
    std::set<std::string> issued;
    for (const RegistryEvent& event : events_of(*registry_, "NEW")) EXPECT_TRUE(issued.insert(event.entity).second);
    const auto merges = events_of(*registry_, "MERGE");
    ASSERT_EQ(merges.size(), 1u);
    for (const auto& [record, id] : entity_of(*registry_)) EXPECT_NE(id, merges[0].entity) << record;
    EXPECT_TRUE(registry_->verify().problems.empty());
    // As of any day of the first year, the first year's entities, ids and all.
    const auto travelled = registry_->entities("2025-08-31");
    ASSERT_EQ(travelled.size(), year1.size());
    for (std::size_t k = 0; k < year1.size(); ++k) {
        EXPECT_EQ(travelled[k].record_id, year1[k].record_id);
        EXPECT_EQ(travelled[k].entity_id, year1[k].entity_id);
    }
    EXPECT_TRUE(registry_->entities("2023-01-01").empty());
    // Ids are random: nothing derived from members.
    for (const auto& [record, id] : entity_of(*registry_)) EXPECT_EQ(id.size(), 16u);
}

TEST_F(RegistryContract, AForgottenRecordIsErasedLoggedAndNotTakenBack) {
    ingest("city", 0, {{0, 0}, {1, 0}}, "2024-09-01");
    ingest("schools", 1, {{0, 0}, {1, 0}}, "2024-09-01");
    link();
    const auto before = entity_of(*registry_);
    registry_->forget("schools", "schools-0");
    EXPECT_TRUE(registry_->record_history("schools", "schools-0").empty());
    EXPECT_EQ(registry_->current_filters()[1].rows(), 1u);
    EXPECT_TRUE(registry_->verify().problems.empty());
    ASSERT_EQ(events_of(*registry_, "FORGET").size(), 1u);
    EXPECT_THROW(registry_->forget("schools", "schools-0"), UsageError);
    EXPECT_THROW(registry_->forget("schools", "schools-9"), UsageError);
    // The same extract again: the erased id is refused, the others unchanged.
    const std::string file = population_.write(dir_, "again.pprl", "schools", 1, {{0, 0}, {1, 0}, {2, 0}}, test_info());
    const RegistryIngest again = registry_->ingest(file, "schools", "2025-09-01");
    EXPECT_EQ(again.refused_erased, 1u);
    EXPECT_EQ(again.unchanged, 1u);
    link();
    const auto after = entity_of(*registry_);
    EXPECT_EQ(after.count("schools:schools-0"), 0u);
    EXPECT_EQ(after.at("city:city-0"), before.at("city:city-0"));  // the rest of its entity keeps the id
    // Forgetting an entity's only record retires it.
    registry_->forget("schools", "schools-2");
    EXPECT_EQ(events_of(*registry_, "RETIRE").size(), 1u);
    EXPECT_TRUE(registry_->verify().problems.empty());
}

TEST_F(RegistryContract, ReingestingTheSameFileDoesNothing) {
    const std::string file = population_.write(dir_, "one.pprl", "city", 0, {{0, 0}, {1, 0}}, test_info());
    EXPECT_FALSE(registry_->ingest(file, "city", "2024-09-01").already_ingested);
    const auto events = registry_->events().size();
    const RegistryIngest again = registry_->ingest(file, "city", "2024-10-01");
    EXPECT_TRUE(again.already_ingested);
    EXPECT_EQ(registry_->events().size(), events);
}

TEST_F(RegistryContract, ExtractsOfAnotherKeySchemaOrLengthAndBadInputAreRefused) {
    ingest("city", 0, {{0, 0}}, "2024-09-01");
    const std::string other_key = population_.write(dir_, "k.pprl", "schools", 1, {{0, 0}}, test_info(2));
    EXPECT_THROW(registry_->ingest(other_key, "schools", "2024-09-01"), KeyMismatchError);
    EncodingInfo other_schema = test_info();
    other_schema.schema_fingerprint[1] = 1;
    EXPECT_THROW(registry_->ingest(population_.write(dir_, "s.pprl", "schools", 1, {{0, 0}}, other_schema), "schools", "2024-09-01"),
                 KeyMismatchError);
    FilterMatrix longer(1, 512);
    longer.ids() = {"x"};
    longer.info() = test_info();
    write_encoded_file(dir_.file("l.pprl"), longer);
    EXPECT_THROW(registry_->ingest(dir_.file("l.pprl"), "schools", "2024-09-01"), KeyMismatchError);
    const std::string good = population_.write(dir_, "g.pprl", "schools", 1, {{0, 0}}, test_info());
    for (const char* date : {"2024-02-30", "2024-9-01", "yesterday", ""})
        EXPECT_THROW(registry_->ingest(good, "schools", date), UsageError) << date;
    FilterMatrix twice(2, bits);
    twice.ids() = {"same", "same"};
    twice.info() = test_info();
    write_encoded_file(dir_.file("twice.pprl"), twice);
    EXPECT_THROW(registry_->ingest(dir_.file("twice.pprl"), "schools", "2024-09-01"), ValidationError);
    // A truncated extract.
    const std::string bytes = test::read_all(good);
    dir_.write("cut.pprl", bytes.substr(0, bytes.size() - 40));
    EXPECT_THROW(registry_->ingest(dir_.file("cut.pprl"), "schools", "2024-09-01"), FormatError);
    // Nothing of the refused extracts was kept.
    EXPECT_EQ(registry_->current_filters().size(), 1u);
    EXPECT_TRUE(registry_->verify().problems.empty());
}

TEST(Registry, FilesThatAreNotRegistriesOrComeFromANewerPprlAreRefused) {
    test::TempDir dir;
    EXPECT_THROW(Registry(dir.file("missing.db"), false), IoError);
    dir.write("text.db", std::string(4096, 'x'));
    EXPECT_THROW(Registry(dir.file("text.db"), false), FormatError);
    EXPECT_THROW(Registry::create(dir.file("text.db")), UsageError);  // never replaces a file
    // Another SQLite database.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(dir.file("other.db").c_str(), &db), SQLITE_OK);
    sqlite3_exec(db, "CREATE TABLE t(x)", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    EXPECT_THROW(Registry(dir.file("other.db"), true), FormatError);
    // A registry from a newer pprl.
    Registry::create(dir.file("newer.db"));
    ASSERT_EQ(sqlite3_open(dir.file("newer.db").c_str(), &db), SQLITE_OK);
    sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    try {
        Registry registry(dir.file("newer.db"), false);
        FAIL() << "a newer layout was opened";
    } catch (const FormatError& error) {
        EXPECT_NE(std::string(error.what()).find("newer pprl"), std::string::npos);
    }
    // Read-only (permissions do not bind root).
    Registry::create(dir.file("ro.db"));
    ::chmod(dir.file("ro.db").c_str(), 0444);
    if (::geteuid() != 0) EXPECT_THROW(Registry(dir.file("ro.db"), true), IoError);
    EXPECT_NO_THROW(Registry(dir.file("ro.db"), false));
}

TEST(Registry, ASecondWriterWaitsThenFailsWithAClearMessage) {
    test::TempDir dir;
    Registry::create(dir.file("hub.db"));
    sqlite3* holder = nullptr;
    ASSERT_EQ(sqlite3_open(dir.file("hub.db").c_str(), &holder), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(holder, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
    Registry registry(dir.file("hub.db"), true, 50);
    try {
        registry.forget("city", "x");
        FAIL() << "wrote past another writer";
    } catch (const IoError& error) {
        EXPECT_NE(std::string(error.what()).find("another process is writing"), std::string::npos);
    }
    sqlite3_exec(holder, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(holder);
    EXPECT_THROW(registry.forget("city", "x"), UsageError);  // the lock is free again: the real answer
}

TEST(Registry, BackupIsAWholeRegistryAndNeverReplacesAFile) {
    test::TempDir dir;
    Registry::create(dir.file("hub.db"));
    const Population population(4, 1);
    {
        Registry registry(dir.file("hub.db"), true);
        registry.ingest(population.write(dir, "c.pprl", "city", 0, {{0, 0}, {1, 0}}, test_info()), "city", "2024-09-01");
        registry.ingest(population.write(dir, "s.pprl", "schools", 1, {{0, 0}}, test_info()), "schools", "2024-09-01");
        registry.link(RegistryLinkOptions{});
        registry.backup(dir.file("copy.db"));
        EXPECT_THROW(registry.backup(dir.file("copy.db")), UsageError);
        EXPECT_THROW(registry.backup(dir.file("c.pprl")), UsageError);
    }
    Registry copy(dir.file("copy.db"), false);
    Registry original(dir.file("hub.db"), false);
    EXPECT_TRUE(copy.verify().problems.empty());
    ASSERT_EQ(copy.entities().size(), 3u);
    for (std::size_t k = 0; k < 3; ++k) EXPECT_EQ(copy.entities()[k].entity_id, original.entities()[k].entity_id);
}

}  // namespace
}  // namespace pprl
