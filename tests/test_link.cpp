// Linkage: assignment solvers, multi-party clustering, entity output, and LSH blocking.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <numeric>
#include <set>
#include <tuple>

#include "pprl/error.hpp"
#include "hub/solve.hpp"
#include "pprl/link.hpp"
#include "test_support.hpp"

namespace pprl {
namespace {

// A pair whose score is 2c/t.
ScoredPair pair(std::uint32_t pa, std::uint32_t a, std::uint32_t pb, std::uint32_t b, std::uint32_t c, std::uint32_t t) {
    return ScoredPair{pa, a, pb, b, c, t};
}

TEST(Assign, GreedyAndOptimalDifferWhereTheyShould) {
    // A0-B0 0.90, A0-B1 0.85, A1-B0 0.85: greedy takes A0-B0 (total 0.90),
    // optimal takes A0-B1 and A1-B0 (total 1.70).
    const std::vector<ScoredPair> pairs = {pair(0, 0, 1, 0, 90, 200), pair(0, 0, 1, 1, 85, 200), pair(0, 1, 1, 0, 85, 200)};
    EXPECT_EQ(assign_greedy(pairs), (std::vector<std::size_t>{0}));
    EXPECT_EQ(assign_optimal(pairs), (std::vector<std::size_t>{1, 2}));
}

TEST(Assign, OptimalMaximisesTotalScoreOnAChainAndKeepsSeparateComponentsApart) {
    // Chain A0-B0 0.80, A1-B0 0.95, A1-B1 0.90: greedy takes A1-B0 alone (0.95);
    // optimal takes A0-B0 + A1-B1 (1.70). A separate component A5-B5 is kept by both.
    const std::vector<ScoredPair> pairs = {pair(0, 0, 1, 0, 80, 200), pair(0, 1, 1, 0, 95, 200), pair(0, 1, 1, 1, 90, 200),
                                           pair(0, 5, 1, 5, 99, 200)};
    EXPECT_EQ(assign_greedy(pairs), (std::vector<std::size_t>{1, 3}));
    EXPECT_EQ(assign_optimal(pairs), (std::vector<std::size_t>{0, 2, 3}));
}

TEST(Assign, OptimalEqualsBruteForceOnRandomSmallGraphs) {
    std::mt19937_64 rng(5);
    for (int round = 0; round < 200; ++round) {
        std::vector<ScoredPair> pairs;
        std::set<std::pair<int, int>> seen;
        const int n = 2 + static_cast<int>(rng() % 4);
        for (int e = 0; e < 7; ++e) {
            const int a = static_cast<int>(rng() % n), b = static_cast<int>(rng() % n);
            if (!seen.insert({a, b}).second) continue;
            pairs.push_back(pair(0, a, 1, b, 50 + static_cast<std::uint32_t>(rng() % 50), 200));
        }
        // Brute force over all subsets of edges.
        double best = 0;
        for (std::uint32_t subset = 0; subset < (1u << pairs.size()); ++subset) {
            std::set<int> used_a, used_b;
            double total = 0;
            bool ok = true;
            for (std::size_t k = 0; k < pairs.size() && ok; ++k)
                if (subset >> k & 1) {
                    ok = used_a.insert(static_cast<int>(pairs[k].a)).second && used_b.insert(static_cast<int>(pairs[k].b)).second;
                    total += pairs[k].score();
                }
            if (ok) best = std::max(best, total);
        }
        double got = 0;
        std::set<int> used_a, used_b;
        for (std::size_t k : assign_optimal(pairs)) {
            EXPECT_TRUE(used_a.insert(static_cast<int>(pairs[k].a)).second);
            EXPECT_TRUE(used_b.insert(static_cast<int>(pairs[k].b)).second);
            got += pairs[k].score();
        }
        EXPECT_NEAR(got, best, 1e-9) << "round " << round;
    }
}

// Filters built so that chosen pairs have chosen overlaps: row r of each party gets a block of
// private bits plus shared blocks with its intended partners.
struct Builder {
    unsigned bits = 1024;
    std::vector<FilterMatrix> parties;
    std::vector<std::vector<std::vector<unsigned>>> set_bits;  // party → row → bits
    unsigned next = 0;
    Builder(std::vector<std::size_t> sizes) {
        for (std::size_t n : sizes) set_bits.emplace_back(n);
    }
    void share(std::size_t p, std::size_t r, std::size_t q, std::size_t s, unsigned count) {
        for (unsigned i = 0; i < count; ++i, ++next) {
            set_bits[p][r].push_back(next);
            set_bits[q][s].push_back(next);
        }
    }
    void own(std::size_t p, std::size_t r, unsigned count) {
        for (unsigned i = 0; i < count; ++i, ++next) set_bits[p][r].push_back(next);
    }
    std::vector<FilterMatrix> build() {
        std::vector<FilterMatrix> out;
        for (std::size_t p = 0; p < set_bits.size(); ++p) {
            FilterMatrix m(set_bits[p].size(), bits);
            for (std::size_t r = 0; r < set_bits[p].size(); ++r) {
                for (unsigned b : set_bits[p][r]) FilterMatrix::set_bit(m.mutable_row_words(r), b);
                m.ids().push_back(std::string(1, static_cast<char>('A' + p)) + std::to_string(r));
            }
            m.info().party = std::string(1, static_cast<char>('A' + p));
            m.compute_popcounts();
            out.push_back(std::move(m));
        }
        return out;
    }
};

std::map<std::string, std::string> entity_of(const LinkResult& r, const std::vector<FilterMatrix>& parties) {
    std::map<std::string, std::string> out;
    for (std::size_t i = 0; i < r.entities.size(); ++i)
        out[parties[r.entities.party[i]].ids()[r.entities.record[i]]] = r.entities.entity_id[i];
    return out;
}

TEST(Link, ThreePartyConflictsNeverPutTwoRecordsOfOnePartyInAnEntity) {
    // A0~B0 0.60 (best), A0~C1 0.53, B0~C0 0.44: the cluster {A0, B0} takes C1 first, and B0~C0,
    // above the threshold on its own, must then be refused.
    Builder b({1, 1, 2});
    b.share(0, 0, 1, 0, 80);  // A0-B0
    b.share(0, 0, 2, 1, 50);  // A0-C1
    b.share(1, 0, 2, 0, 45);  // B0-C0
    b.own(0, 0, 5);
    b.own(1, 0, 5);
    b.own(2, 0, 30);
    b.own(2, 1, 5);
    const auto parties = b.build();
    LinkOptions options;
    options.threshold = Threshold::parse("0.4");
    const LinkResult r = link({&parties[0], &parties[1], &parties[2]}, options);
    const auto e = entity_of(r, parties);
    ASSERT_EQ(r.entities.size(), 4u);  // every record exactly once
    EXPECT_EQ(e.at("A0"), e.at("B0"));
    EXPECT_EQ(e.at("A0"), e.at("C1"));
    EXPECT_NE(e.at("C0"), e.at("C1"));
    // B0~C0 was a candidate but did not become a link.
    bool refused = false;
    for (std::size_t k = 0; k < r.candidates.size(); ++k)
        if (r.candidates[k].party_a == 1 && r.candidates[k].party_b == 2 && !r.linked[k]) refused = true;
    EXPECT_TRUE(refused);
    // No entity holds two records of one party.
    std::map<std::string, std::set<std::uint32_t>> parties_in;
    for (std::size_t i = 0; i < r.entities.size(); ++i)
        EXPECT_TRUE(parties_in[r.entities.entity_id[i]].insert(r.entities.party[i]).second);
}

// Three parties of 512-bit filters: random ones, a copy with `flips` bits changed per row, and a
// copy of that copy.
std::vector<FilterMatrix> three_parties(std::size_t rows, unsigned flips, std::uint64_t seed) {
    std::vector<FilterMatrix> parties;
    parties.push_back(test::random_filters(rows, 512, 0.25, seed));
    parties.push_back(test::perturbed_copy(parties[0], flips, seed + 1));
    parties.push_back(test::perturbed_copy(parties[1], flips, seed + 2));
    parties[0].info().party = "city";
    parties[1].info().party = "schools";
    parties[2].info().party = "promise";
    return parties;
}

TEST(Link, EveryRecordAppearsOnceAndResultsDoNotDependOnThreads) {
    const std::vector<FilterMatrix> parties = three_parties(300, 20, 1);
    const FilterMatrix &a = parties[0], &b = parties[1], &c = parties[2];
    LinkOptions options;
    options.threshold = Threshold::parse("0.7");
    std::vector<std::string> first;
    for (unsigned threads : {1u, 2u, 5u}) {
        options.threads = threads;
        const LinkResult r = link({&a, &b, &c}, options);
        ASSERT_EQ(r.entities.size(), 900u);
        std::set<std::pair<std::uint32_t, std::uint32_t>> seen;
        for (std::size_t i = 0; i < r.entities.size(); ++i)
            EXPECT_TRUE(seen.insert({r.entities.party[i], r.entities.record[i]}).second);
        if (first.empty()) first = r.entities.entity_id;
        EXPECT_EQ(r.entities.entity_id, first) << threads;
    }
    // The planted copies end up together.
    options.threads = 0;
    const LinkResult r = link({&a, &b, &c}, options);
    std::size_t together = 0;
    for (std::size_t i = 0; i < 300; ++i)
        together += r.entities.entity_id[i] == r.entities.entity_id[300 + i] && r.entities.entity_id[i] == r.entities.entity_id[600 + i];
    EXPECT_GT(together, 290u);
}

TEST(Link, EntityIdsAreOpaqueDeterministicAndUnique) {
    FilterMatrix a = test::random_filters(50, 256, 0.3, 7);
    a.info().party = "x";
    FilterMatrix b = test::perturbed_copy(a, 4, 8);
    b.info().party = "y";
    LinkOptions options;
    options.threshold = Threshold::parse("0.8");
    const LinkResult r1 = link({&a, &b}, options), r2 = link({&a, &b}, options);
    EXPECT_EQ(r1.entities.entity_id, r2.entities.entity_id);
    std::set<std::string> ids(r1.entities.entity_id.begin(), r1.entities.entity_id.end());
    for (const auto& id : ids) EXPECT_EQ(id.find(a.ids()[0]), std::string::npos);
    EXPECT_EQ(ids.size(), 50u);  // one entity per planted pair
}

TEST(Link, DuplicatePartyLabelsAndMismatchedKeysAreRefused) {
    FilterMatrix a = test::random_filters(3, 128, 0.3, 1), b = test::random_filters(3, 128, 0.3, 2);
    a.info().party = b.info().party = "same";
    EXPECT_THROW(link({&a, &b}, LinkOptions{}), UsageError);
    b.info().party = "other";
    a.info().key_known = b.info().key_known = true;
    b.info().key_check[0] = 1;
    EXPECT_THROW(link({&a, &b}, LinkOptions{}), KeyMismatchError);
}

TEST(Link, OneInputIsDeduplicated) {
    FilterMatrix a = test::random_filters(40, 512, 0.3, 11);
    FilterMatrix copies = test::perturbed_copy(a, 5, 12);
    FilterMatrix both(80, 512);
    for (std::size_t i = 0; i < 80; ++i) {
        const FilterMatrix& from = i < 40 ? a : copies;
        std::copy(from.row_words(i % 40), from.row_words(i % 40) + 8, both.mutable_row_words(i));
        both.ids().push_back("r" + std::to_string(i));
    }
    both.compute_popcounts();
    LinkOptions options;
    options.threshold = Threshold::parse("0.8");
    const LinkResult r = link({&both}, options);
    std::set<std::string> ids(r.entities.entity_id.begin(), r.entities.entity_id.end());
    EXPECT_EQ(ids.size(), 40u);
    for (std::size_t i = 0; i < 40; ++i) EXPECT_EQ(r.entities.entity_id[i], r.entities.entity_id[40 + i]);
}

TEST(Link, CandidatesScoredElsewhereLinkExactlyAsLinkDoes) {
    // link_scored on each party pair's tiles, gathered, equals link() for every method and merge
    // rule, with three parties and with one (deduplication).
    const std::vector<FilterMatrix> parties = three_parties(200, 40, 21);
    const FilterMatrix &a = parties[0], &b = parties[1], &c = parties[2];
    const std::vector<const FilterMatrix*> three{&a, &b, &c};
    MatchOptions tile_options;
    tile_options.threshold = Threshold::parse("0.6");
    const auto tiled = [&](const FilterMatrix& x, const FilterMatrix& y) {
        std::vector<Candidates> tiles;
        for (std::size_t i = 0; i < x.rows(); i += 70)
            for (std::size_t j = 0; j < y.rows(); j += 45)
                tiles.push_back(match_tile(x, i, std::min(i + 70, x.rows()), y, j, std::min(j + 45, y.rows()), tile_options));
        return gather_tiles(tiles, 0);
    };
    const std::vector<Candidates> blocks{tiled(a, b), tiled(a, c), tiled(b, c)};
    for (const auto method : {LinkMethod::greedy, LinkMethod::optimal})
        for (const auto merge : {MergeRule::disjoint_parties, MergeRule::clique}) {
            LinkOptions options;
            options.threshold = tile_options.threshold;
            options.method = method;
            options.merge = merge;
            const LinkResult expected = link(three, options), got = link_scored(three, blocks, options);
            EXPECT_EQ(got.entities.entity_id, expected.entities.entity_id);
            EXPECT_EQ(got.candidates.size(), expected.candidates.size());
            EXPECT_EQ(got.linked, expected.linked);
            EXPECT_EQ(got.threshold, expected.threshold);
        }
    LinkOptions options;
    options.threshold = tile_options.threshold;
    EXPECT_EQ(link_scored({&a}, {match_dedup(a, tile_options)}, options).entities.entity_id,
              link({&a}, options).entities.entity_id);
    // Refused: a block missing, a count that is not these filters', a pair under the threshold.
    EXPECT_THROW(link_scored(three, {blocks[0], blocks[1]}, options), UsageError);
    std::vector<Candidates> forged = blocks;
    ASSERT_GT(forged[0].size(), 0u);
    forged[0].common[0] -= 1;
    EXPECT_THROW(link_scored(three, forged, options), FormatError);
    options.threshold = Threshold::parse("0.9");
    EXPECT_THROW(link_scored(three, blocks, options), UsageError);
    options.auto_threshold = true;
    EXPECT_THROW(link_scored(three, blocks, options), UsageError);
}

TEST(Lsh, RecallMatchesTheAnalyticCollisionProbability) {
    const unsigned bits = 1024;
    const std::size_t n = 1500;
    LshOptions lsh;
    lsh.tables = 10;
    lsh.bits_per_key = 16;
    for (std::size_t d : {40u, 120u, 250u}) {
        FilterMatrix a = test::random_filters(n, bits, 0.3, d);
        FilterMatrix b(n, bits);
        std::mt19937_64 rng(d + 1);
        for (std::size_t i = 0; i < n; ++i) {
            std::copy(a.row_words(i), a.row_words(i) + a.words(), b.mutable_row_words(i));
            std::vector<unsigned> positions(bits);
            std::iota(positions.begin(), positions.end(), 0u);
            std::shuffle(positions.begin(), positions.end(), rng);
            for (std::size_t f = 0; f < d; ++f)
                b.mutable_row_words(i)[positions[f] / 64] ^= std::uint64_t{1} << (((positions[f] / 8) % 8) * 8 + 7 - positions[f] % 8);
            b.ids().push_back("b");
        }
        b.compute_popcounts();
        const auto pairs = lsh_pairs(a, b, lsh);
        std::size_t found = 0;
        for (const auto& [i, j] : pairs) found += i == j;
        const double recall = static_cast<double>(found) / n;
        const double expected = lsh_collision_probability(d, bits, lsh);
        EXPECT_NEAR(recall, expected, 0.05) << "d = " << d;
    }
}

TEST(Lsh, BlockedLinkFindsThePlantedPairsAndReportsItsWork) {
    FilterMatrix a = test::random_filters(400, 1024, 0.26, 21);
    a.info().party = "p";
    FilterMatrix b = test::perturbed_copy(a, 40, 22);
    b.info().party = "q";
    LinkOptions options;
    options.threshold = Threshold::parse("0.8");
    options.blocking = true;
    options.keep_blocked_pairs = true;
    const LinkResult r = link({&a, &b}, options);
    EXPECT_LT(r.comparisons, r.possible_pairs / 10);  // most pairs never compared
    ASSERT_EQ(r.blocked_pairs.size(), 1u);
    std::size_t planted = 0;
    for (const auto& [i, j] : r.blocked_pairs[0]) planted += i == j;
    EXPECT_GT(planted, 380u);
    // Every pair it scored passes the threshold, exactly as the matcher would say.
    for (const auto& p : r.candidates) EXPECT_TRUE(options.threshold.passes(p.common, p.total));
}

}  // namespace
}  // namespace pprl

namespace pprl {
namespace {

TEST(Link, RankOrderSortEqualsSortingByRanksBefore) {
    // Equal scores from different counts (2c/t = 2·2c/2t), several party pairs, repeated indices,
    // and the fallbacks: a weighted pair, an index past the packed range, too few pairs.
    std::mt19937_64 rng(17);
    for (int round = 0; round < 4; ++round) {
        std::vector<ScoredPair> pairs;
        for (int k = 0; k < 20000; ++k) {
            const std::uint32_t party_a = rng() % 4, party_b = party_a + rng() % 2;
            const std::uint32_t total = 100 + rng() % 300, common = total / 4 + rng() % (total / 4 + 1);
            pairs.push_back(ScoredPair{party_a, static_cast<std::uint32_t>(rng() % 500), party_b,
                                       static_cast<std::uint32_t>(rng() % 500), common, total});
            if (k % 7 == 0) pairs.push_back(ScoredPair{party_a, pairs.back().a, party_b, pairs.back().b + 1, 2 * common, 2 * total});
        }
        // Candidates are distinct pairs of records: drop repeats of an index pair.
        std::sort(pairs.begin(), pairs.end(), [](const ScoredPair& x, const ScoredPair& y) {
            return std::tie(x.party_a, x.a, x.party_b, x.b) < std::tie(y.party_a, y.a, y.party_b, y.b);
        });
        pairs.erase(std::unique(pairs.begin(), pairs.end(), [](const ScoredPair& x, const ScoredPair& y) {
                        return std::tie(x.party_a, x.a, x.party_b, x.b) == std::tie(y.party_a, y.a, y.party_b, y.b);
                    }),
                    pairs.end());
        std::shuffle(pairs.begin(), pairs.end(), rng);
        if (round == 1) pairs[5].weight = 3.5;
        if (round == 2) pairs[9].b = 1u << 27;
        if (round == 3) pairs.resize(100);
        std::vector<ScoredPair> expected = pairs;
        std::sort(expected.begin(), expected.end(), detail::ranks_before);
        detail::sort_in_rank_order(pairs);
        ASSERT_EQ(pairs.size(), expected.size());
        for (std::size_t k = 0; k < pairs.size(); ++k) {
            EXPECT_EQ(pairs[k].party_a, expected[k].party_a) << k;
            EXPECT_EQ(pairs[k].a, expected[k].a) << k;
            EXPECT_EQ(pairs[k].party_b, expected[k].party_b) << k;
            EXPECT_EQ(pairs[k].b, expected[k].b) << k;
            EXPECT_EQ(pairs[k].common, expected[k].common) << k;
            EXPECT_EQ(pairs[k].total, expected[k].total) << k;
            EXPECT_EQ(std::isnan(pairs[k].weight), std::isnan(expected[k].weight)) << k;
        }
    }
}

}  // namespace
}  // namespace pprl
