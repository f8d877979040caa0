// The matcher against a brute-force reference: every backend, thread count, pruning mode, top-k and
// dedup, on random and CLK-like data, with thresholds placed exactly on achievable scores.
#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>

#include "pprl/error.hpp"
#include "pprl/match.hpp"
#include "pprl/simd.hpp"
#include "test_support.hpp"

namespace pprl {
namespace {

struct Row {
    std::uint32_t a, b, common, total;
    bool operator==(const Row& o) const { return a == o.a && b == o.b && common == o.common && total == o.total; }
};

std::vector<Row> rows_of(const Candidates& c) {
    std::vector<Row> out;
    for (std::size_t i = 0; i < c.size(); ++i) out.push_back({c.a_index[i], c.b_index[i], c.common[i], c.total[i]});
    return out;
}

std::uint32_t count_and(const FilterMatrix& a, std::size_t i, const FilterMatrix& b, std::size_t j) {
    std::uint32_t c = 0;
    for (std::size_t w = 0; w < a.words(); ++w) c += static_cast<std::uint32_t>(__builtin_popcountll(a.row_words(i)[w] & b.row_words(j)[w]));
    return c;
}

bool before(const Row& x, const Row& y) {
    const std::uint64_t l = std::uint64_t{x.common} * y.total, r = std::uint64_t{y.common} * x.total;
    if (l != r) return l > r;
    return std::tie(x.a, x.b) < std::tie(y.a, y.b);
}

// The specification, written as plainly as possible.
std::vector<Row> brute_force(const FilterMatrix& a, const FilterMatrix& b, Threshold t, std::size_t top_k, bool dedup) {
    std::vector<Row> out;
    for (std::size_t i = 0; i < a.rows(); ++i) {
        std::vector<Row> mine;
        for (std::size_t j = dedup ? i + 1 : 0; j < b.rows(); ++j) {
            const std::uint32_t c = count_and(a, i, b, j), total = a.popcounts()[i] + b.popcounts()[j];
            if (t.passes(c, total)) mine.push_back({static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(j), c, total});
        }
        std::sort(mine.begin(), mine.end(), before);
        if (top_k > 0 && mine.size() > top_k) mine.resize(top_k);
        out.insert(out.end(), mine.begin(), mine.end());
    }
    std::sort(out.begin(), out.end(), before);
    return out;
}

TEST(Threshold, ParsesExactDecimals) {
    EXPECT_EQ(Threshold::parse("0.8").numerator, 4u);
    EXPECT_EQ(Threshold::parse("0.8").denominator, 5u);
    EXPECT_EQ(Threshold::parse("1").numerator, 1u);
    EXPECT_EQ(Threshold::parse(".875").denominator, 8u);
    EXPECT_EQ(Threshold::parse("0.123456789").denominator, 1000000000u);
    for (const char* bad : {"0", "0.0", "1.01", "2", "-0.5", "0.8x", "", ".", "0.1234567891", "1e-1"})
        EXPECT_THROW(Threshold::parse(bad), UsageError) << bad;
    EXPECT_EQ(Threshold::from_double(0.8).denominator, 5u);
    EXPECT_EQ(Threshold::from_double(0.85).numerator, 17u);
}

TEST(Threshold, ScoresExactlyOnTheThresholdPassEvenWhereFloatsWouldNot) {
    // 2 * 28 / 70 = 0.8 exactly; in doubles 2.0 * 28 / 70 = 0.8 but 0.1 * 3 style errors elsewhere:
    // 2 * 21 / 60 = 0.7, and 0.7 as a double is below the rational 7/10 ... the integer rule decides.
    EXPECT_TRUE(Threshold::parse("0.8").passes(28, 70));
    EXPECT_FALSE(Threshold::parse("0.8").passes(27, 70));
    EXPECT_TRUE(Threshold::parse("0.7").passes(21, 60));
    EXPECT_TRUE(Threshold::parse("0.3").passes(3, 20));
    EXPECT_FALSE(Threshold::parse("0.3").passes(0, 0));  // two empty filters score 0
}

struct Data {
    FilterMatrix a, b;
};

Data clk_like(std::size_t na, std::size_t nb, unsigned bits, std::uint64_t seed) {
    // B's first rows are noisy copies of A's rows; the rest are unrelated. Densities vary by row so
    // popcounts spread out like real CLKs and pruning has work to do.
    FilterMatrix a(na, bits);
    std::mt19937_64 rng(seed);
    for (std::size_t i = 0; i < na; ++i) {
        const double density = 0.15 + 0.2 * static_cast<double>(rng() % 1000) / 1000.0;
        std::bernoulli_distribution bit(density);
        for (unsigned k = 0; k < bits; ++k)
            if (bit(rng)) FilterMatrix::set_bit(a.mutable_row_words(i), k);
        a.ids().push_back("a" + std::to_string(i));
    }
    a.compute_popcounts();
    FilterMatrix copies = test::perturbed_copy(a, bits / 16, seed + 1);
    FilterMatrix others = test::random_filters(nb > na ? nb - na : 0, bits, 0.25, seed + 2);
    FilterMatrix b(nb, bits);
    for (std::size_t j = 0; j < nb; ++j) {
        const FilterMatrix& from = j < std::min(na, nb) ? copies : others;
        const std::size_t row = j < std::min(na, nb) ? j : j - std::min(na, nb);
        std::copy(from.row_words(row), from.row_words(row) + b.words(), b.mutable_row_words(j));
        b.ids().push_back("b" + std::to_string(j));
    }
    b.compute_popcounts();
    return {std::move(a), std::move(b)};
}

TEST(Matcher, EqualsBruteForceOnEveryBackendThreadCountAndPruningMode) {
    for (unsigned bits : {64u, 100u, 192u, 1000u, 1024u, 2112u}) {
        const Data d = clk_like(150, 230, bits, bits);
        for (const char* t : {"0.6", "0.8", "0.95"}) {
            MatchOptions options;
            options.threshold = Threshold::parse(t);
            const auto expected = brute_force(d.a, d.b, options.threshold, 0, false);
            for (const auto& backend : simd::available_backends()) {
                simd::ScopedBackend guard(backend);
                for (unsigned threads : {1u, 2u, 5u})
                    for (bool prune : {true, false}) {
                        options.threads = threads;
                        options.prune = prune;
                        EXPECT_EQ(rows_of(match(d.a, d.b, options)), expected)
                            << backend << " bits " << bits << " t " << t << " threads " << threads << " prune " << prune;
                    }
            }
        }
    }
}

TEST(Matcher, ThresholdsPlacedExactlyOnObservedScoresIncludeThosePairs) {
    const Data d = clk_like(120, 120, 1024, 5);
    // Take real scores from the data and use each as the threshold: the pair must be included.
    const auto all = brute_force(d.a, d.b, Threshold::parse("0.5"), 0, false);
    ASSERT_GT(all.size(), 50u);
    for (std::size_t k = 0; k < all.size(); k += all.size() / 10) {
        // Score 2c/s as an exact reduced fraction.
        std::uint64_t num = 2 * all[k].common, den = all[k].total;
        const std::uint64_t g = std::__gcd(num, den);
        MatchOptions options;
        options.threshold = Threshold{num / g, den / g};
        for (const auto& backend : simd::available_backends()) {
            simd::ScopedBackend guard(backend);
            const auto got = rows_of(match(d.a, d.b, options));
            EXPECT_NE(std::find(got.begin(), got.end(), all[k]), got.end()) << backend;
            EXPECT_EQ(got, brute_force(d.a, d.b, options.threshold, 0, false)) << backend;
        }
    }
}

TEST(Matcher, TopKKeepsHighestScoresWithStableTies) {
    // Every B row identical: all scores tie, so top-k must keep the lowest b indices.
    FilterMatrix a = test::random_filters(3, 256, 0.3, 1);
    FilterMatrix b(10, 256);
    for (std::size_t j = 0; j < 10; ++j) {
        std::copy(a.row_words(0), a.row_words(0) + 4, b.mutable_row_words(j));
        b.ids().push_back(std::to_string(j));
    }
    b.compute_popcounts();
    MatchOptions options;
    options.threshold = Threshold::parse("0.9");
    options.top_k = 3;
    for (unsigned threads : {1u, 2u}) {
        options.threads = threads;
        const Candidates c = match(a, b, options);
        ASSERT_EQ(c.size(), 3u);
        for (std::size_t i = 0; i < 3; ++i) {
            EXPECT_EQ(c.a_index[i], 0u);
            EXPECT_EQ(c.b_index[i], i);
            EXPECT_DOUBLE_EQ(c.score(i), 1.0);
        }
    }
    // Random data: top-k equals the reference for several k.
    const Data d = clk_like(200, 300, 1024, 9);
    for (std::size_t k : {1u, 2u, 7u}) {
        options.top_k = k;
        options.threshold = Threshold::parse("0.3");
        EXPECT_EQ(rows_of(match(d.a, d.b, options)), brute_force(d.a, d.b, options.threshold, k, false)) << k;
    }
}

TEST(Matcher, BothSidesInOnePassEqualsTheTwoPasses) {
    // match_both_sides against the specification: a's top k from the brute force, then b's top k
    // (the brute force with the sides swapped) that a's lacks, in that order.
    const Data d = clk_like(180, 260, 1024, 17);
    for (const std::size_t k : {std::size_t{1}, std::size_t{3}, std::size_t{10}})
        for (unsigned threads : {1u, 2u, 3u}) {
            MatchOptions options;
            options.threshold = Threshold::parse("0.3");
            options.top_k = k;
            options.threads = threads;
            std::vector<Row> expected = brute_force(d.a, d.b, options.threshold, k, false);
            const std::vector<Row> forward = expected;
            for (const Row& row : brute_force(d.b, d.a, options.threshold, k, false)) {
                const Row turned{row.b, row.a, row.common, row.total};
                if (std::find(forward.begin(), forward.end(), turned) == forward.end()) expected.push_back(turned);
            }
            ASSERT_GT(expected.size(), forward.size()) << "the test needs b rows whose best a's lists lack";
            EXPECT_EQ(rows_of(match_both_sides(d.a, d.b, options)), expected) << k << " " << threads;
        }
    MatchOptions all;
    all.threshold = Threshold::parse("0.3");
    EXPECT_EQ(rows_of(match_both_sides(d.a, d.b, all)), rows_of(match(d.a, d.b, all)));
}

TEST(Matcher, TilesGatheredEqualTheWholeMatchWhateverTheTiling) {
    const FilterMatrix a = test::random_filters(300, 512, 0.25, 41);
    const FilterMatrix b = test::perturbed_copy(a, 90, 42);
    for (const std::size_t top_k : {std::size_t{0}, std::size_t{1}, std::size_t{3}}) {
        MatchOptions options;
        options.threshold = Threshold::parse("0.45");
        options.top_k = top_k;
        options.threads = 1;  // hundreds of tiny tiles: no thread start-up per tile
        const Candidates whole = match(a, b, options);
        ASSERT_GT(whole.size(), a.rows() / 2);
        // Even tiles, uneven tiles, single rows and single columns, one tile holding everything.
        for (const auto& [tile_a, tile_b] : std::vector<std::pair<std::size_t, std::size_t>>{
                 {100, 100}, {133, 97}, {1, 300}, {300, 1}, {300, 300}, {64, 250}}) {
            std::vector<Candidates> tiles;
            for (std::size_t i = 0; i < a.rows(); i += tile_a)
                for (std::size_t j = 0; j < b.rows(); j += tile_b)
                    tiles.push_back(match_tile(a, i, std::min(i + tile_a, a.rows()), b, j, std::min(j + tile_b, b.rows()), options));
            const Candidates gathered = gather_tiles(tiles, top_k);
            EXPECT_EQ(gathered.a_index, whole.a_index) << tile_a << "x" << tile_b << " top " << top_k;
            EXPECT_EQ(gathered.b_index, whole.b_index) << tile_a << "x" << tile_b << " top " << top_k;
            EXPECT_EQ(gathered.common, whole.common);
            EXPECT_EQ(gathered.total, whole.total);
        }
    }
    EXPECT_THROW(match_tile(a, 5, 4, b, 0, 1, MatchOptions{}), UsageError);
    EXPECT_THROW(match_tile(a, 0, 301, b, 0, 1, MatchOptions{}), UsageError);
    EXPECT_EQ(match_tile(a, 3, 3, b, 0, 300, MatchOptions{}).size(), 0u);
}

TEST(Matcher, DedupFindsEachPairOnceWithSmallerIndexFirst) {
    const Data d = clk_like(100, 200, 512, 3);
    // One matrix holding near-duplicates of itself: B contains noisy copies of A.
    MatchOptions options;
    options.threshold = Threshold::parse("0.7");
    for (const auto& backend : simd::available_backends()) {
        simd::ScopedBackend guard(backend);
        for (unsigned threads : {1u, 2u, 5u}) {
            options.threads = threads;
            EXPECT_EQ(rows_of(match_dedup(d.b, options)), brute_force(d.b, d.b, options.threshold, 0, true)) << backend;
        }
    }
    options.top_k = 1;
    EXPECT_EQ(rows_of(match_dedup(d.b, options)), brute_force(d.b, d.b, options.threshold, 1, true));
}

TEST(Matcher, EmptyFiltersAndEmptyInputs) {
    FilterMatrix a(4, 128), b(3, 128);
    for (int i = 0; i < 4; ++i) a.ids().push_back("a");
    for (int i = 0; i < 3; ++i) b.ids().push_back("b");
    a.compute_popcounts();
    b.compute_popcounts();
    MatchOptions options;
    options.threshold = Threshold::parse("0.01");
    EXPECT_EQ(match(a, b, options).size(), 0u);  // empty vs empty scores 0
    FilterMatrix none(0, 128);
    none.compute_popcounts();
    EXPECT_EQ(match(none, b, options).size(), 0u);
    EXPECT_EQ(match(a, none, options).size(), 0u);
    EXPECT_DOUBLE_EQ(dice(a, 0, b, 0), 0.0);
}

TEST(Matcher, RefusesMismatchedLengthsKeysAndSchemas) {
    FilterMatrix a = test::random_filters(2, 128, 0.5, 1), b = test::random_filters(2, 256, 0.5, 2);
    EXPECT_THROW(check_comparable(a, b), KeyMismatchError);
    EXPECT_THROW(match(a, b, MatchOptions{}), KeyMismatchError);
    FilterMatrix c = test::random_filters(2, 128, 0.5, 3);
    a.info().schema_known = c.info().schema_known = true;
    a.info().key_known = c.info().key_known = true;
    EXPECT_EQ(check_comparable(a, c), "");
    c.info().key_check[0] ^= 1;
    EXPECT_THROW(check_comparable(a, c), KeyMismatchError);
    c.info().key_check[0] ^= 1;
    c.info().schema_fingerprint[5] ^= 1;
    EXPECT_THROW(check_comparable(a, c), KeyMismatchError);
    c.info().schema_known = c.info().key_known = false;  // imported from base64
    EXPECT_NE(check_comparable(a, c).find("without checking"), std::string::npos);
}

}  // namespace
}  // namespace pprl
