#include "pprl/link.hpp"

#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <queue>
#include <cstdio>
#include <set>

#include "runtime/parallel.hpp"
#include "pprl/error.hpp"

namespace pprl {
namespace {

// Components with more cells than this (rows × columns of the assignment matrix) are solved
// greedily: the Hungarian algorithm is O(n³), and a component this large means a threshold so low
// that most pairs in it are noise.
constexpr std::size_t max_optimal_cells = 4'000'000;
constexpr std::size_t max_parties = 64;

// Score descending (exact), then party pair, then indices.
bool ranks_before(const ScoredPair& x, const ScoredPair& y) {
    const std::uint64_t left = static_cast<std::uint64_t>(x.common) * y.total;
    const std::uint64_t right = static_cast<std::uint64_t>(y.common) * x.total;
    if (left != right) return left > right;
    if (x.party_a != y.party_a) return x.party_a < y.party_a;
    if (x.party_b != y.party_b) return x.party_b < y.party_b;
    if (x.a != y.a) return x.a < y.a;
    return x.b < y.b;
}

class DisjointSets {
public:
    explicit DisjointSets(std::size_t n) : parent_(n), mask_(n, 0) { std::iota(parent_.begin(), parent_.end(), 0); }
    std::size_t find(std::size_t x) {
        while (parent_[x] != x) {
            parent_[x] = parent_[parent_[x]];
            x = parent_[x];
        }
        return x;
    }
    std::uint64_t& mask(std::size_t root) { return mask_[root]; }
    // Joins the sets of x and y; the smaller index becomes the root (deterministic).
    void join(std::size_t x, std::size_t y) {
        x = find(x);
        y = find(y);
        if (x == y) return;
        if (y < x) std::swap(x, y);
        parent_[y] = x;
        mask_[x] |= mask_[y];
    }

private:
    std::vector<std::size_t> parent_;
    std::vector<std::uint64_t> mask_;
};

std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

// Maximum-weight assignment of a dense rows × cols matrix (rows ≤ cols), weights ≥ 0, by the
// Hungarian algorithm on costs −weight (potentials formulation, O(rows² · cols)). Returns the column
// of each row.
std::vector<std::size_t> hungarian(const std::vector<double>& weight, std::size_t rows, std::size_t cols) {
    const double inf = std::numeric_limits<double>::infinity();
    std::vector<double> u(rows + 1, 0), v(cols + 1, 0);
    std::vector<std::size_t> p(cols + 1, 0), way(cols + 1, 0);
    for (std::size_t i = 1; i <= rows; ++i) {
        p[0] = i;
        std::size_t j0 = 0;
        std::vector<double> minv(cols + 1, inf);
        std::vector<char> used(cols + 1, 0);
        do {
            used[j0] = 1;
            const std::size_t i0 = p[j0];
            double delta = inf;
            std::size_t j1 = 0;
            for (std::size_t j = 1; j <= cols; ++j) {
                if (used[j]) continue;
                const double cost = -weight[(i0 - 1) * cols + (j - 1)];
                const double cur = cost - u[i0] - v[j];
                if (cur < minv[j]) {
                    minv[j] = cur;
                    way[j] = j0;
                }
                if (minv[j] < delta) {
                    delta = minv[j];
                    j1 = j;
                }
            }
            for (std::size_t j = 0; j <= cols; ++j) {
                if (used[j]) {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
        } while (p[j0] != 0);
        do {
            const std::size_t j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
        } while (j0 != 0);
    }
    std::vector<std::size_t> column(rows, cols);
    for (std::size_t j = 1; j <= cols; ++j)
        if (p[j] != 0) column[p[j] - 1] = j - 1;
    return column;
}

std::string entity_id(std::vector<std::pair<std::string, std::string>> members) {
    std::sort(members.begin(), members.end());
    XXH3_state_t* state = XXH3_createState();
    if (state == nullptr) throw std::bad_alloc();
    XXH3_64bits_reset(state);
    for (const auto& [party, record] : members) {
        XXH3_64bits_update(state, party.data(), party.size() + 1);  // includes the terminating NUL
        XXH3_64bits_update(state, record.data(), record.size() + 1);
    }
    const std::uint64_t hash = XXH3_64bits_digest(state);
    XXH3_freeState(state);
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
    return text;
}

std::vector<ScoredPair> to_scored(const Candidates& c, std::uint32_t party_a, std::uint32_t party_b) {
    std::vector<ScoredPair> out;
    out.reserve(c.size());
    for (std::size_t i = 0; i < c.size(); ++i)
        out.push_back(ScoredPair{party_a, c.a_index[i], party_b, c.b_index[i], c.common[i], c.total[i]});
    return out;
}

}  // namespace

std::vector<std::size_t> assign_greedy(const std::vector<ScoredPair>& pairs) {
    std::vector<std::size_t> order(pairs.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return ranks_before(pairs[x], pairs[y]); });
    std::set<std::pair<std::uint32_t, std::uint32_t>> used;  // (party, record)
    std::vector<std::size_t> chosen;
    for (std::size_t k : order) {
        const ScoredPair& p = pairs[k];
        if (used.count({p.party_a, p.a}) || used.count({p.party_b, p.b})) continue;
        used.insert({p.party_a, p.a});
        used.insert({p.party_b, p.b});
        chosen.push_back(k);
    }
    std::sort(chosen.begin(), chosen.end());
    return chosen;
}

std::vector<std::size_t> assign_optimal(const std::vector<ScoredPair>& pairs) {
    // Nodes: (party, record) on either side; components of the candidate graph are solved alone.
    std::vector<std::pair<std::uint32_t, std::uint32_t>> nodes;
    for (const auto& p : pairs) {
        nodes.push_back({p.party_a, p.a});
        nodes.push_back({p.party_b, p.b});
    }
    std::sort(nodes.begin(), nodes.end());
    nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
    auto node_of = [&](std::uint32_t party, std::uint32_t record) {
        return static_cast<std::size_t>(std::lower_bound(nodes.begin(), nodes.end(), std::make_pair(party, record)) -
                                        nodes.begin());
    };
    DisjointSets sets(nodes.size());
    std::vector<std::size_t> left(pairs.size()), right(pairs.size());
    for (std::size_t k = 0; k < pairs.size(); ++k) {
        left[k] = node_of(pairs[k].party_a, pairs[k].a);
        right[k] = node_of(pairs[k].party_b, pairs[k].b);
        sets.join(left[k], right[k]);
    }
    std::vector<std::vector<std::size_t>> components(nodes.size());
    for (std::size_t k = 0; k < pairs.size(); ++k) components[sets.find(left[k])].push_back(k);
    std::vector<std::size_t> chosen;
    for (const auto& edges : components) {
        if (edges.empty()) continue;
        if (edges.size() == 1) {
            chosen.push_back(edges[0]);
            continue;
        }
        std::vector<std::size_t> rows, cols;
        for (std::size_t k : edges) {
            rows.push_back(left[k]);
            cols.push_back(right[k]);
        }
        std::sort(rows.begin(), rows.end());
        rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
        std::sort(cols.begin(), cols.end());
        cols.erase(std::unique(cols.begin(), cols.end()), cols.end());
        if (rows.size() * cols.size() > max_optimal_cells) {
            std::vector<ScoredPair> part;
            for (std::size_t k : edges) part.push_back(pairs[k]);
            for (std::size_t i : assign_greedy(part)) chosen.push_back(edges[i]);
            continue;
        }
        const bool transposed = rows.size() > cols.size();
        const std::size_t n_rows = transposed ? cols.size() : rows.size();
        const std::size_t n_cols = transposed ? rows.size() : cols.size();
        std::vector<double> weight(n_rows * n_cols, 0.0);
        std::vector<std::size_t> edge_at(n_rows * n_cols, SIZE_MAX);
        for (std::size_t k : edges) {
            std::size_t r = static_cast<std::size_t>(std::lower_bound(rows.begin(), rows.end(), left[k]) - rows.begin());
            std::size_t c = static_cast<std::size_t>(std::lower_bound(cols.begin(), cols.end(), right[k]) - cols.begin());
            if (transposed) std::swap(r, c);
            weight[r * n_cols + c] = pairs[k].score();
            edge_at[r * n_cols + c] = k;
        }
        const auto column = hungarian(weight, n_rows, n_cols);
        for (std::size_t r = 0; r < n_rows; ++r)
            if (column[r] < n_cols && edge_at[r * n_cols + column[r]] != SIZE_MAX)
                chosen.push_back(edge_at[r * n_cols + column[r]]);
    }
    std::sort(chosen.begin(), chosen.end());
    return chosen;
}

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

std::vector<std::string> party_labels(const std::vector<const FilterMatrix*>& parties) {
    std::vector<std::string> labels;
    for (std::size_t p = 0; p < parties.size(); ++p) {
        const std::string& label = parties[p]->info().party;
        labels.push_back(label.empty() ? "party" + std::to_string(p + 1) : label);
    }
    for (std::size_t p = 0; p < labels.size(); ++p)
        for (std::size_t q = p + 1; q < labels.size(); ++q)
            if (labels[p] == labels[q])
                throw UsageError("two inputs have the party label '" + labels[p] +
                                 "'; entities must name each party uniquely (re-encode with --party)");
    return labels;
}

LinkResult link(const std::vector<const FilterMatrix*>& parties, const LinkOptions& options) {
    if (parties.empty()) throw UsageError("link needs at least one party");
    if (parties.size() > max_parties) throw UsageError("link handles at most 64 parties");
    LinkResult result;
    for (std::size_t p = 0; p < parties.size(); ++p)
        for (std::size_t q = p + 1; q < parties.size(); ++q)
            if (std::string warning = check_comparable(*parties[p], *parties[q]); !warning.empty())
                result.warnings.push_back(std::move(warning));
    result.party_labels = party_labels(parties);
    const std::vector<std::string>& labels = result.party_labels;
    std::vector<char> eligible;  // may this candidate become a link?
    MatchOptions match_options;
    match_options.threshold = options.threshold;
    match_options.threads = options.threads;
    const bool dedup = parties.size() == 1;
    if (dedup) {
        const FilterMatrix& only = *parties[0];
        result.possible_pairs = static_cast<std::uint64_t>(only.rows()) * (only.rows() > 0 ? only.rows() - 1 : 0) / 2;
        result.comparisons = result.possible_pairs;
        result.candidates = to_scored(match_dedup(only, match_options), 0, 0);
        eligible.assign(result.candidates.size(), 1);
    } else {
        for (std::uint32_t p = 0; p < parties.size(); ++p)
            for (std::uint32_t q = p + 1; q < parties.size(); ++q) {
                const FilterMatrix& a = *parties[p];
                const FilterMatrix& b = *parties[q];
                result.possible_pairs += static_cast<std::uint64_t>(a.rows()) * b.rows();
                std::vector<ScoredPair> found;
                if (options.blocking) {
                    LshOptions lsh = options.lsh;
                    lsh.threads = options.threads;
                    auto proposed = lsh_pairs(a, b, lsh);
                    result.comparisons += proposed.size();
                    if (options.keep_blocked_pairs) result.blocked_pairs.push_back(proposed);
                    found = to_scored(score_pairs(a, b, std::move(proposed), match_options), p, q);
                } else {
                    result.comparisons += static_cast<std::uint64_t>(a.rows()) * b.rows();
                    found = to_scored(match(a, b, match_options), p, q);
                }
                std::vector<char> allowed(found.size(), options.method == LinkMethod::greedy ? 1 : 0);
                if (options.method == LinkMethod::optimal)
                    for (std::size_t k : assign_optimal(found)) allowed[k] = 1;
                result.candidates.insert(result.candidates.end(), found.begin(), found.end());
                eligible.insert(eligible.end(), allowed.begin(), allowed.end());
            }
    }

    // Merge in score order; a merge must not put two records of one party in a cluster.
    std::vector<std::size_t> offset(parties.size() + 1, 0);
    for (std::size_t p = 0; p < parties.size(); ++p) offset[p + 1] = offset[p] + parties[p]->rows();
    DisjointSets sets(offset.back());
    for (std::size_t p = 0; p < parties.size(); ++p)
        for (std::size_t r = offset[p]; r < offset[p + 1]; ++r) sets.mask(r) = std::uint64_t{1} << p;
    std::vector<std::size_t> order(result.candidates.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) {
        return ranks_before(result.candidates[x], result.candidates[y]);
    });
    result.linked.assign(result.candidates.size(), 0);
    for (std::size_t k : order) {
        if (!eligible[k]) continue;
        const ScoredPair& pair = result.candidates[k];
        const std::size_t x = sets.find(offset[pair.party_a] + pair.a), y = sets.find(offset[pair.party_b] + pair.b);
        if (x == y) continue;
        if (!dedup && (sets.mask(x) & sets.mask(y)) != 0) continue;
        sets.join(x, y);
        result.linked[k] = 1;
    }
    // Candidates out in score order.
    std::vector<ScoredPair> sorted;
    std::vector<char> sorted_linked;
    for (std::size_t k : order) {
        sorted.push_back(result.candidates[k]);
        sorted_linked.push_back(result.linked[k]);
    }
    result.candidates.swap(sorted);
    result.linked.swap(sorted_linked);

    // Entities: members of each root, named by a hash of their (party label, record id)s.
    std::vector<std::vector<std::pair<std::string, std::string>>> members(offset.back());
    std::vector<std::size_t> root(offset.back());
    for (std::size_t p = 0; p < parties.size(); ++p)
        for (std::size_t r = 0; r < parties[p]->rows(); ++r) {
            root[offset[p] + r] = sets.find(offset[p] + r);
            members[root[offset[p] + r]].push_back({labels[p], parties[p]->ids()[r]});
        }
    std::vector<std::string> name(offset.back());
    std::set<std::string> taken;
    for (std::size_t node = 0; node < offset.back(); ++node) {
        if (members[node].empty()) continue;
        std::string id = entity_id(members[node]);
        for (int suffix = 2; !taken.insert(id).second; ++suffix) id = entity_id(members[node]) + "-" + std::to_string(suffix);
        name[node] = id;
    }
    EntityTable& table = result.entities;
    for (std::size_t p = 0; p < parties.size(); ++p)
        for (std::size_t r = 0; r < parties[p]->rows(); ++r) {
            table.party.push_back(static_cast<std::uint32_t>(p));
            table.record.push_back(static_cast<std::uint32_t>(r));
            table.entity_id.push_back(name[root[offset[p] + r]]);
        }
    return result;
}

}  // namespace pprl
