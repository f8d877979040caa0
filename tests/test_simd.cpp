// Every SIMD backend against the generic reference, over lengths that exercise every tail path.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <tuple>

#include "pprl/error.hpp"
#include <vector>

#include "pprl/simd.hpp"
#include "simd/kernels.hpp"

namespace pprl::simd {
namespace {

const std::size_t awkward_words[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64};

const KernelTable* table_for(const std::string& name) {
    if (name == "generic") return generic_kernels();
    if (name == "popcnt") return popcnt_kernels();
    if (name == "avx2") return avx2_kernels();
    if (name == "avx512") return avx512_kernels();
    return nullptr;
}

std::vector<std::uint64_t> random_words(std::size_t n, std::mt19937_64& rng, int density_shift) {
    std::vector<std::uint64_t> words(n);
    for (auto& w : words) {
        w = rng();
        for (int i = 0; i < density_shift; ++i) w &= rng();  // sparser words
    }
    return words;
}

class Backends : public ::testing::TestWithParam<std::string> {};

TEST_P(Backends, PopcountAndAndPopcountEqualTheReference) {
    const KernelTable* kernels = table_for(GetParam());
    const KernelTable* reference = generic_kernels();
    std::mt19937_64 rng(7);
    for (std::size_t words : awkward_words) {
        for (int density = 0; density < 3; ++density) {
            const auto a = random_words(words, rng, density), b = random_words(words, rng, density);
            EXPECT_EQ(kernels->popcount(a.data(), words), reference->popcount(a.data(), words)) << words;
            EXPECT_EQ(kernels->and_popcount(a.data(), b.data(), words), reference->and_popcount(a.data(), b.data(), words))
                << words;
        }
        const std::vector<std::uint64_t> ones(words, ~std::uint64_t{0});
        EXPECT_EQ(kernels->popcount(ones.data(), words), 64 * words);
        EXPECT_EQ(kernels->and_popcount(ones.data(), ones.data(), words), 64 * words);
    }
}

// Bit-sliced B: slice s, bit k -> 8 words holding bit k of the slice's 512 rows.
std::vector<std::uint64_t> slice_layout(const std::vector<std::vector<std::uint64_t>>& rows, std::size_t words,
                                        std::uint64_t*& aligned) {
    const std::size_t slices = (rows.size() + slice_rows - 1) / slice_rows;
    std::vector<std::uint64_t> storage(slices * words * 64 * slice_words + 8, 0);
    aligned = storage.data();
    while (reinterpret_cast<std::uintptr_t>(aligned) % 64 != 0) ++aligned;
    for (std::size_t j = 0; j < rows.size(); ++j)
        for (std::size_t k = 0; k < words * 64; ++k)
            if ((rows[j][k / 64] >> (k % 64)) & 1)
                aligned[((j / slice_rows) * words * 64 + k) * slice_words + (j % slice_rows) / 64] |= std::uint64_t{1}
                                                                                                      << (j % 64);
    return storage;
}

TEST_P(Backends, CountSlicesEqualsBruteForceForEveryLengthAndRowCount) {
    const KernelTable* kernels = table_for(GetParam());
    std::mt19937_64 rng(11);
    for (std::size_t words : awkward_words) {
        for (std::size_t a_rows : {1u, 3u, 17u, 64u}) {
            const std::size_t b_rows = 3 * slice_rows - 100;  // last slice partly empty
            std::vector<std::vector<std::uint64_t>> a(a_rows), b(b_rows);
            for (auto& row : a) row = random_words(words, rng, static_cast<int>(rng() % 3));
            for (std::size_t j = 0; j < b_rows; ++j)
                b[j] = j % 5 == 0 ? a[j % a_rows] : random_words(words, rng, static_cast<int>(rng() % 3));
            std::uint64_t* slices = nullptr;
            const auto storage = slice_layout(b, words, slices);
            std::vector<std::uint32_t> columns, offsets{0}, a_pop(a_rows), b_pop(b_rows);
            for (std::size_t r = 0; r < a_rows; ++r) {
                for (std::size_t k = 0; k < words * 64; ++k)
                    if ((a[r][k / 64] >> (k % 64)) & 1) columns.push_back(static_cast<std::uint32_t>(k * slice_words));
                offsets.push_back(static_cast<std::uint32_t>(columns.size()));
                a_pop[r] = offsets[r + 1] - offsets[r];
            }
            std::vector<std::uint32_t> slice_min(3, 1u << 30);
            for (std::size_t j = 0; j < b_rows; ++j) {
                b_pop[j] = static_cast<std::uint32_t>(generic_kernels()->popcount(b[j].data(), words));
                slice_min[j / slice_rows] = std::min(slice_min[j / slice_rows], b_pop[j]);
            }
            // Threshold 0.3 (3/10) keeps a good share of random pairs and all copies.
            std::vector<std::uint32_t> min_common(2 * 64 * words + 1);
            min_common[0] = 1u << 30;
            for (std::size_t s = 1; s < min_common.size(); ++s) min_common[s] = static_cast<std::uint32_t>((3 * s + 19) / 20);
            SliceJob job;
            job.a_columns = columns.data();
            job.a_column_offsets = offsets.data();
            job.a_popcounts = a_pop.data();
            job.a_rows = a_rows;
            job.slices = slices;
            job.bits = words * 64;
            job.slice_begin = 1;  // a sub-range, as the matcher's pruning produces
            job.slice_end = 3;
            job.slice_min_popcount = slice_min.data();
            job.min_common = min_common.data();
            std::vector<SliceHit> hits(max_job_hits);
            const std::size_t found = kernels->count_slices(job, hits.data());
            std::set<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>> expected, got;
            for (std::size_t r = 0; r < a_rows; ++r)
                for (std::size_t j = slice_rows; j < 3 * slice_rows; ++j) {
                    const auto c = j < b_rows ? static_cast<std::uint32_t>(generic_kernels()->and_popcount(
                                                    a[r].data(), b[j].data(), words))
                                              : 0u;
                    const std::uint32_t need = min_common[a_pop[r] + slice_min[j / slice_rows]];
                    if (c >= need && need <= a_pop[r])
                        expected.insert({static_cast<std::uint32_t>(r), static_cast<std::uint32_t>(j), c});
                }
            for (std::size_t h = 0; h < found; ++h) got.insert({hits[h].a_row, hits[h].b_row, hits[h].common});
            EXPECT_EQ(found, got.size()) << "duplicate hits, words " << words;
            EXPECT_EQ(got, expected) << GetParam() << " words " << words << " rows " << a_rows;
            EXPECT_FALSE(expected.empty());
        }
    }
}

TEST_P(Backends, CountSlicesIsExactForDenseFiltersAndLargeCounts) {
    // All-ones filters of 4096 bits: counts of 4096 need 13 planes; every carry path is exercised.
    const KernelTable* kernels = table_for(GetParam());
    const std::size_t words = 64;
    std::vector<std::vector<std::uint64_t>> b(slice_rows, std::vector<std::uint64_t>(words, ~std::uint64_t{0}));
    for (std::size_t j = 0; j < slice_rows; ++j) b[j][j % words] = 0;  // each row misses one word
    std::uint64_t* slices = nullptr;
    const auto storage = slice_layout(b, words, slices);
    std::vector<std::uint32_t> columns, offsets{0, static_cast<std::uint32_t>(words * 64)};
    for (std::uint32_t k = 0; k < words * 64; ++k) columns.push_back(static_cast<std::uint32_t>(k * slice_words));
    std::vector<std::uint32_t> a_pop{static_cast<std::uint32_t>(words * 64)}, slice_min{static_cast<std::uint32_t>(words * 64 - 64)};
    std::vector<std::uint32_t> min_common(2 * words * 64 + 1, 1);
    SliceJob job;
    job.a_columns = columns.data();
    job.a_column_offsets = offsets.data();
    job.a_popcounts = a_pop.data();
    job.a_rows = 1;
    job.slices = slices;
    job.bits = words * 64;
    job.slice_begin = 0;
    job.slice_end = 1;
    job.slice_min_popcount = slice_min.data();
    job.min_common = min_common.data();
    std::vector<SliceHit> hits(max_job_hits);
    ASSERT_EQ(kernels->count_slices(job, hits.data()), slice_rows);
    for (std::size_t h = 0; h < slice_rows; ++h) EXPECT_EQ(hits[h].common, words * 64 - 64) << GetParam();
}

std::vector<std::string> backends_to_test() { return available_backends(); }

INSTANTIATE_TEST_SUITE_P(Available, Backends, ::testing::ValuesIn(backends_to_test()),
                         [](const auto& info) { return info.param; });

TEST(Dispatch, ListsBackendsAndHonoursOverrides) {
    const auto available = available_backends();
    ASSERT_FALSE(available.empty());
    EXPECT_EQ(available.front(), "generic");
    for (const auto& name : available) {
        ScopedBackend guard(name);
        EXPECT_EQ(active_backend(), name);
    }
    EXPECT_THROW(set_backend("sse9"), Error);
}

}  // namespace
}  // namespace pprl::simd
