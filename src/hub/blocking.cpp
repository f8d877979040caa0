// hub/blocking.cpp — Hamming LSH (see pprl/link.hpp): candidate pairs that share a bucket in any
// of L tables, each keyed by K sampled bit positions.
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <queue>

#include "pprl/error.hpp"
#include "pprl/link.hpp"
#include "runtime/parallel.hpp"
#include "runtime/splitmix64.hpp"

namespace pprl {

double lsh_collision_probability(std::size_t d, std::size_t m, const LshOptions& lsh) {
    const double agree = std::pow(1.0 - static_cast<double>(d) / static_cast<double>(m), lsh.bits_per_key);
    return 1.0 - std::pow(1.0 - agree, lsh.tables);
}

std::vector<std::pair<std::uint32_t, std::uint32_t>> lsh_pairs(const FilterMatrix& a, const FilterMatrix& b,
                                                               const LshOptions& lsh) {
    if (lsh.tables == 0 || lsh.bits_per_key == 0 || lsh.bits_per_key > 64)
        throw UsageError("LSH needs L ≥ 1 tables and 1 ≤ K ≤ 64 bits per key");
    if (a.bits() != b.bits()) throw KeyMismatchError("filters have different lengths");
    using Pair = std::pair<std::uint32_t, std::uint32_t>;
    std::vector<std::vector<Pair>> per_table(lsh.tables);  // each sorted and distinct
    // Tables are independent: each thread takes the next one and keeps its own key buffers.
    const unsigned threads = detail::thread_count(lsh.threads, lsh.tables);
    std::vector<std::vector<std::pair<std::uint64_t, std::uint32_t>>> keys_a(threads), keys_b(threads);
    detail::parallel_for(lsh.tables, threads, [&](std::size_t table_index, unsigned worker) {
        const auto table = static_cast<unsigned>(table_index);
        auto& in_a = keys_a[worker];
        auto& in_b = keys_b[worker];
        in_a.resize(a.rows());
        in_b.resize(b.rows());
        std::vector<unsigned> positions(lsh.bits_per_key);
        std::uint64_t state = lsh.seed ^ (0xA24BAED4963EE407ULL * (table + 1));
        for (auto& position : positions) position = static_cast<unsigned>(splitmix64(state) % a.bits());
        auto key_of = [&](const FilterMatrix& m, std::size_t row) {
            std::uint64_t sampled = 0;
            for (unsigned k = 0; k < positions.size(); ++k)
                sampled |= static_cast<std::uint64_t>(FilterMatrix::test_bit(m.row_words(row), positions[k])) << k;
            return XXH3_64bits_withSeed(&sampled, sizeof sampled, table);
        };
        for (std::uint32_t i = 0; i < a.rows(); ++i) in_a[i] = {key_of(a, i), i};
        for (std::uint32_t j = 0; j < b.rows(); ++j) in_b[j] = {key_of(b, j), j};
        std::sort(in_a.begin(), in_a.end());
        std::sort(in_b.begin(), in_b.end());
        std::vector<Pair>& pairs = per_table[table];
        std::size_t i = 0, j = 0;
        while (i < in_a.size() && j < in_b.size()) {
            if (in_a[i].first < in_b[j].first) ++i;
            else if (in_b[j].first < in_a[i].first) ++j;
            else {
                const std::uint64_t key = in_a[i].first;
                std::size_t i_end = i, j_end = j;
                while (i_end < in_a.size() && in_a[i_end].first == key) ++i_end;
                while (j_end < in_b.size() && in_b[j_end].first == key) ++j_end;
                for (std::size_t x = i; x < i_end; ++x)
                    for (std::size_t y = j; y < j_end; ++y) pairs.push_back({in_a[x].second, in_b[y].second});
                i = i_end;
                j = j_end;
            }
        }
        std::sort(pairs.begin(), pairs.end());
        pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
    });
    // One L-way merge of the sorted tables drops the pairs found by several tables: O(n log L),
    // where sorting everything again after each table would be O(L · n log n).
    using Head = std::pair<Pair, std::size_t>;  // smallest remaining pair of a table, and the table
    std::priority_queue<Head, std::vector<Head>, std::greater<Head>> heads;
    std::vector<std::size_t> next(lsh.tables, 0);
    std::size_t total = 0;
    for (std::size_t t = 0; t < per_table.size(); ++t) {
        total += per_table[t].size();
        if (!per_table[t].empty()) heads.push({per_table[t][0], t});
    }
    std::vector<Pair> merged;
    merged.reserve(total);
    while (!heads.empty()) {
        const auto [pair, t] = heads.top();
        heads.pop();
        if (merged.empty() || merged.back() != pair) merged.push_back(pair);
        if (++next[t] < per_table[t].size()) heads.push({per_table[t][next[t]], t});
        else std::vector<Pair>().swap(per_table[t]);
    }
    return merged;
}

void LinkOptions::set_blocking(const std::string& text) {
    if (text == "none") {
        blocking = false;
        return;
    }
    if (text == "lsh") {
        blocking = true;
        return;
    }
    unsigned long long tables = 0, bits = 0;
    char tail = 0;
    const bool parsed = text.rfind("lsh:", 0) == 0 && text.find_first_of("+- ") == std::string::npos &&
                        std::sscanf(text.c_str(), "lsh:%llu,%llu%c", &tables, &bits, &tail) == 2;
    if (!parsed || tables < 1 || tables > 1000 || bits < 1 || bits > 64)
        throw UsageError("blocking must be none, lsh or lsh:L,K with 1 <= L <= 1000 and 1 <= K <= 64 (e.g. lsh:50,24)");
    blocking = true;
    lsh.tables = static_cast<unsigned>(tables);
    lsh.bits_per_key = static_cast<unsigned>(bits);
}

}  // namespace pprl
