#include "pprl/match.hpp"

#include <algorithm>
#include <numeric>
#include <cstdlib>
#include <cstring>

#include "pprl/error.hpp"
#include "runtime/parallel.hpp"
#include "simd/kernels.hpp"

namespace pprl {
namespace {

// A rows per kernel job (the kernel's limit). A job's rows share one pruning range, and their
// set-bit lists (~1 KiB per row) stay in L1 while the job's slices are read from L2.
constexpr std::size_t group_rows = simd::max_job_rows;
// A rows per unit of thread work: its groups walk B together, so each tile of B slices is brought
// into L2 once per 256 A rows.
constexpr std::size_t chunk_rows = 4 * group_rows;
// min_common value for totals where no pair can pass; below 2^31 so kernels may compare signed.
constexpr std::uint32_t unreachable = 1u << 30;
// Most decimals a threshold may have (denominator ≤ 10^9 keeps every product in 64 bits).
constexpr int max_threshold_decimals = 9;

struct Pair {
    std::uint32_t a, b, common, total;
};

// Thresholds built by hand (not parsed) must still be a fraction in (0, 1].
void require_valid(const Threshold& t) {
    if (t.denominator == 0 || t.numerator == 0 || t.numerator > t.denominator)
        throw UsageError("threshold must be in (0, 1]");
}

// Score descending (exact, by cross-multiplication), then a, then b.
bool ranks_before(const Pair& x, const Pair& y) {
    if (const int order = compare_scores(x.common, x.total, y.common, y.total); order != 0) return order > 0;
    if (x.a != y.a) return x.a < y.a;
    return x.b < y.b;
}

void keep_best(std::vector<Pair>& pairs, std::size_t k) {
    if (pairs.size() <= k) return;
    std::nth_element(pairs.begin(), pairs.begin() + static_cast<std::ptrdiff_t>(k), pairs.end(), ranks_before);
    pairs.resize(k);
}

// One record's best k pairs met so far: pairs gather until `cut_at`, then only the k best are
// kept; after a cut, a pair ranking below the worst one kept can never be among the k best, so it
// is not stored at all.
struct Bucket {
    std::vector<Pair> pairs;
    Pair worst{0, 0, 0, 0};  // the worst kept at the last cut (total 0: no cut yet)

    void add(const Pair& pair, std::size_t k, std::size_t cut_at) {
        if (worst.total != 0 && !ranks_before(pair, worst)) return;
        pairs.push_back(pair);
        if (pairs.size() < cut_at) return;
        keep_best(pairs, k);
        worst = *std::max_element(pairs.begin(), pairs.end(), ranks_before);
    }
};

struct AlignedBuffer {
    std::uint64_t* data = nullptr;
    explicit AlignedBuffer(std::size_t words) {
        const std::size_t bytes = std::max<std::size_t>(64, (words * 8 + 63) / 64 * 64);
        data = static_cast<std::uint64_t*>(std::aligned_alloc(64, bytes));
        if (data == nullptr) throw std::bad_alloc();
        std::memset(data, 0, bytes);
    }
    ~AlignedBuffer() { std::free(data); }
    AlignedBuffer(const AlignedBuffer&) = delete;
    AlignedBuffer& operator=(const AlignedBuffer&) = delete;
};

// Row indices ordered by popcount, ties by index: a counting sort (popcounts are at most 65536), so
// the only serial step before the threads start is linear.
std::vector<std::uint32_t> popcount_order(const std::vector<std::uint32_t>& popcounts) {
    std::uint32_t largest = 0;
    for (std::uint32_t p : popcounts) largest = std::max(largest, p);
    std::vector<std::uint32_t> start(static_cast<std::size_t>(largest) + 2, 0);
    for (std::uint32_t p : popcounts) ++start[p + 1];
    for (std::size_t v = 1; v < start.size(); ++v) start[v] += start[v - 1];
    std::vector<std::uint32_t> order(popcounts.size());
    for (std::size_t i = 0; i < popcounts.size(); ++i) order[start[popcounts[i]]++] = static_cast<std::uint32_t>(i);
    return order;
}

class Matcher {
public:
    // `both_sides` (with a top k, not deduplicating): also keep each B row's top k, for back().
    Matcher(const FilterMatrix& a, const FilterMatrix& b, const MatchOptions& options, bool dedup, bool both_sides = false)
        : a_(a), b_(b), options_(options), dedup_(dedup), both_sides_(both_sides && options.top_k > 0 && !dedup),
          words_(a.words()), kernels_(simd::kernels()) {
        if (a.bits() != b.bits()) throw KeyMismatchError("filters have different lengths");
        if (a.popcounts().size() != a.rows() || b.popcounts().size() != b.rows())
            throw UsageError("FilterMatrix popcounts are not computed (call compute_popcounts)");
        if (a.rows() > UINT32_MAX - simd::slice_rows || b.rows() > UINT32_MAX - simd::slice_rows)
            throw UsageError("too many filters (at most 2^32 - 513 per side)");
        require_valid(options.threshold);
        const Threshold& t = options.threshold;
        const std::size_t max_total = 2 * static_cast<std::size_t>(a.bits());
        min_common_.resize(max_total + 1);
        min_common_[0] = unreachable;
        for (std::size_t s = 1; s <= max_total; ++s)
            min_common_[s] = static_cast<std::uint32_t>((t.numerator * s + 2 * t.denominator - 1) / (2 * t.denominator));
        prepare_a();
        prepare_b();
    }

    std::vector<Pair> run() {
        const std::size_t chunks = (na_ + chunk_rows - 1) / chunk_rows;
        std::vector<std::vector<Pair>> results(chunks);
        const unsigned threads = detail::thread_count(options_.threads, chunks);
        std::vector<Scratch> scratch(threads);
        for (auto& area : scratch) {
            area.hits.resize(simd::max_job_hits);
            if (both_sides_) area.b_buckets.resize(nb_);
        }
        detail::parallel_for(chunks, threads,
                             [&](std::size_t chunk, unsigned worker) { results[chunk] = run_chunk(chunk, scratch[worker]); });
        std::size_t total = 0;
        for (const auto& part : results) total += part.size();
        std::vector<Pair> pairs;
        pairs.reserve(total);
        for (auto& part : results) {
            pairs.insert(pairs.end(), part.begin(), part.end());
            std::vector<Pair>().swap(part);
        }
        if (dedup_ && options_.top_k > 0) {
            // Per smaller index i: group by a, keep the k best.
            std::sort(pairs.begin(), pairs.end(), [](const Pair& x, const Pair& y) {
                return x.a != y.a ? x.a < y.a : ranks_before(x, y);
            });
            std::size_t out = 0;
            for (std::size_t i = 0; i < pairs.size();) {
                std::size_t j = i;
                while (j < pairs.size() && pairs[j].a == pairs[i].a) ++j;
                for (std::size_t m = i; m < std::min(j, i + options_.top_k); ++m) pairs[out++] = pairs[m];
                i = j;
            }
            pairs.resize(out);
        }
        std::sort(pairs.begin(), pairs.end(), ranks_before);
        if (both_sides_) gather_back(scratch);
        return pairs;
    }

    // With both_sides, after run(): each B row's top k as match(b, a) returns them (a and b swapped).
    const std::vector<Pair>& back() const noexcept { return back_; }

private:
    struct Scratch {
        std::vector<simd::SliceHit> hits;
        std::vector<std::uint32_t> columns, offsets;
        std::vector<std::uint64_t> ranked;  // one A row's set bits, each at its place in column_order_
        // With both_sides: per B row (sorted position), its best pairs met by this thread so far,
        // with a and b swapped.
        std::vector<Bucket> b_buckets;
        // Per chunk row, the floor its top-k list sets (SliceJob::floor_common / floor_total).
        std::vector<std::uint32_t> floor_common, floor_total;
    };

    // Each B row's k best over every thread's buckets, in match(b, a) order.
    void gather_back(std::vector<Scratch>& scratch) {
        back_.clear();
        std::vector<Pair> row;
        for (std::size_t j = 0; j < nb_; ++j) {
            row.clear();
            for (Scratch& area : scratch) {
                row.insert(row.end(), area.b_buckets[j].pairs.begin(), area.b_buckets[j].pairs.end());
                std::vector<Pair>().swap(area.b_buckets[j].pairs);
            }
            keep_best(row, options_.top_k);
            back_.insert(back_.end(), row.begin(), row.end());
        }
        std::sort(back_.begin(), back_.end(), ranks_before);
    }

    static std::vector<std::uint32_t> identity(std::size_t n) {
        std::vector<std::uint32_t> order(n);
        for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<std::uint32_t>(i);
        return order;
    }

    void prepare_a() {
        na_ = a_.rows();
        a_order_ = options_.prune || dedup_ ? popcount_order(a_.popcounts()) : identity(na_);
        a_pop_.resize(na_);
        for (std::size_t i = 0; i < na_; ++i) a_pop_[i] = a_.popcounts()[a_order_[i]];
    }

    // B in bit-sliced form (kernels.hpp): slice s, bit position k → 8 words of 512 row bits.
    void prepare_b() {
        nb_ = b_.rows();
        b_order_ = options_.prune || dedup_ ? popcount_order(b_.popcounts()) : identity(nb_);
        slices_ = (nb_ + simd::slice_rows - 1) / simd::slice_rows;
        // Kernel bit positions run over whole words (64 w + b): a length that is not a multiple of
        // 64 still takes its last word's 64 positions, the padding ones never set.
        const std::size_t bits = words_ * 64;
        b_slices_ = std::make_unique<AlignedBuffer>(std::max<std::size_t>(slices_, 1) * bits * simd::slice_words);
        b_pop_.resize(nb_);
        slice_min_.assign(std::max<std::size_t>(slices_, 1), unreachable);
        // Slices are independent: build them on all threads.
        detail::parallel_for(slices_, detail::thread_count(options_.threads, slices_), [&](std::size_t slice, unsigned) {
            std::uint64_t* slice_base = b_slices_->data + slice * bits * simd::slice_words;
            const std::size_t end = std::min(nb_, (slice + 1) * simd::slice_rows);
            for (std::size_t j = slice * simd::slice_rows; j < end; ++j) {
                const std::size_t lane = j % simd::slice_rows;
                std::uint64_t* base = slice_base + lane / 64;
                const std::uint64_t lane_bit = std::uint64_t{1} << (lane % 64);
                const std::uint64_t* row = b_.row_words(b_order_[j]);
                for (std::size_t w = 0; w < words_; ++w)
                    for (std::uint64_t x = row[w]; x != 0; x &= x - 1)
                        base[(w * 64 + static_cast<std::size_t>(__builtin_ctzll(x))) * simd::slice_words] |= lane_bit;
                b_pop_[j] = b_.popcounts()[b_order_[j]];
                slice_min_[slice] = std::min(slice_min_[slice], b_pop_[j]);
            }
        });
        // A row's positions are added rarest in B first: a pair that does not match gains little
        // from rare positions, so its count falls behind what the threshold still needs sooner and
        // the slice stops earlier (the sum, and so every count, is the same in any order).
        std::vector<std::uint64_t> frequency(bits, 0);
        for (std::size_t slice = 0; slice < slices_; ++slice) {
            const std::uint64_t* slice_base = b_slices_->data + slice * bits * simd::slice_words;
            for (std::size_t k = 0; k < bits; ++k)
                for (std::size_t w = 0; w < simd::slice_words; ++w)
                    frequency[k] += static_cast<std::uint64_t>(__builtin_popcountll(slice_base[k * simd::slice_words + w]));
        }
        column_order_.resize(bits);
        std::iota(column_order_.begin(), column_order_.end(), 0u);
        std::stable_sort(column_order_.begin(), column_order_.end(),
                         [&](std::uint32_t x, std::uint32_t y) { return frequency[x] < frequency[y]; });
        place_in_order_.resize(bits);
        for (std::uint32_t place = 0; place < bits; ++place) place_in_order_[column_order_[place]] = place;
    }

    // Positions [begin, end) of sorted B whose popcount can pass with an A row of popcount pa.
    std::pair<std::size_t, std::size_t> b_range(std::uint32_t pa) const {
        if (!options_.prune) return {0, nb_};
        const std::uint32_t bits = a_.bits();
        // Below pa: feasible iff min_common[pa + pb] ≤ pb, which holds from some lo up to pa.
        // Above pa: feasible iff min_common[pa + pb] ≤ pa, which holds from pa up to some hi.
        auto fits_low = [&](std::uint32_t pb) { return min_common_[pa + pb] <= pb; };
        auto fits_high = [&](std::uint32_t pb) { return min_common_[pa + pb] <= pa; };
        if (pa == 0 || !fits_low(pa)) return {0, 0};
        std::uint32_t lo = 0, hi = pa;  // smallest feasible in [0, pa]
        while (lo < hi) {
            const std::uint32_t mid = lo + (hi - lo) / 2;
            if (fits_low(mid)) hi = mid;
            else lo = mid + 1;
        }
        const std::uint32_t low = lo;
        lo = pa;
        hi = bits;  // largest feasible in [pa, bits]
        while (lo < hi) {
            const std::uint32_t mid = lo + (hi - lo + 1) / 2;
            if (fits_high(mid)) lo = mid;
            else hi = mid - 1;
        }
        const std::uint32_t high = lo;
        const auto begin = std::lower_bound(b_pop_.begin(), b_pop_.end(), low) - b_pop_.begin();
        const auto end = std::upper_bound(b_pop_.begin(), b_pop_.end(), high) - b_pop_.begin();
        return {static_cast<std::size_t>(begin), static_cast<std::size_t>(end)};
    }

    std::vector<Pair> run_chunk(std::size_t chunk, Scratch& scratch) const {
        const std::size_t c0 = chunk * chunk_rows, c1 = std::min(na_, c0 + chunk_rows);
        // Set-bit positions of the chunk's A rows, in the kernels' numbering (64 w + b), as word
        // offsets into a slice.
        scratch.columns.clear();
        scratch.offsets.assign(1, 0);
        // A row's set bits are moved to their places in column_order_ and read back in that order
        // (two passes over the set bits, where a pass over column_order_ tested every position).
        scratch.ranked.assign(words_, 0);
        for (std::size_t r = c0; r < c1; ++r) {
            const std::uint64_t* row = a_.row_words(a_order_[r]);
            for (std::size_t w = 0; w < words_; ++w)
                for (std::uint64_t x = row[w]; x != 0; x &= x - 1) {
                    const std::uint32_t place = place_in_order_[w * 64 + static_cast<std::size_t>(__builtin_ctzll(x))];
                    scratch.ranked[place / 64] |= std::uint64_t{1} << (place % 64);
                }
            for (std::size_t w = 0; w < words_; ++w) {
                for (std::uint64_t x = scratch.ranked[w]; x != 0; x &= x - 1)
                    scratch.columns.push_back(column_order_[w * 64 + static_cast<std::size_t>(__builtin_ctzll(x))] *
                                              static_cast<std::uint32_t>(simd::slice_words));
                scratch.ranked[w] = 0;
            }
            scratch.offsets.push_back(static_cast<std::uint32_t>(scratch.columns.size()));
        }
        struct Group {
            std::size_t first, rows, slice_begin, slice_end;
        };
        std::vector<Group> groups;
        std::size_t chunk_begin = slices_, chunk_end = 0;
        for (std::size_t g0 = c0; g0 < c1; g0 += group_rows) {
            const std::size_t g1 = std::min(c1, g0 + group_rows);
            std::size_t begin = nb_, end = 0;
            for (std::size_t r = g0; r < g1; ++r) {
                const auto range = b_range(a_pop_[r]);
                if (range.first >= range.second) continue;
                begin = std::min(begin, range.first);
                end = std::max(end, range.second);
            }
            if (dedup_) begin = std::max(begin, g0 + 1);
            if (begin >= end) continue;
            Group group{g0, g1 - g0, begin / simd::slice_rows, (end + simd::slice_rows - 1) / simd::slice_rows};
            chunk_begin = std::min(chunk_begin, group.slice_begin);
            chunk_end = std::max(chunk_end, group.slice_end);
            groups.push_back(group);
        }
        const bool bucketed = options_.top_k > 0 && !dedup_;
        std::vector<Bucket> buckets(bucketed ? c1 - c0 : 0);
        std::vector<Pair> pairs;
        // A row's list is cut to its k best at 2k pairs; from then on its worst kept is a floor the
        // kernel applies to the row's later slices (one side only: with both_sides a pair below A's
        // floor may still be among B's best).
        const bool floors = bucketed && !both_sides_;
        const std::size_t prune_at = floors ? 2 * options_.top_k : std::max<std::size_t>(2 * options_.top_k, 64);
        scratch.floor_common.assign(floors ? c1 - c0 : 0, 0);
        scratch.floor_total.assign(floors ? c1 - c0 : 0, 0);

        simd::SliceJob job;
        job.a_columns = scratch.columns.data();
        job.slices = b_slices_->data;
        job.bits = words_ * 64;
        job.slice_min_popcount = slice_min_.data();
        job.min_common = min_common_.data();
        for (std::size_t tile = chunk_begin; tile < chunk_end; tile += simd::max_job_slices) {
            const std::size_t tile_end = std::min(chunk_end, tile + simd::max_job_slices);
            for (const Group& group : groups) {
                job.slice_begin = std::max(group.slice_begin, tile);
                job.slice_end = std::min(group.slice_end, tile_end);
                if (job.slice_begin >= job.slice_end) continue;
                job.a_column_offsets = scratch.offsets.data() + (group.first - c0);
                job.floor_common = floors ? scratch.floor_common.data() + (group.first - c0) : nullptr;
                job.floor_total = floors ? scratch.floor_total.data() + (group.first - c0) : nullptr;
                job.a_rows = group.rows;
                job.a_popcounts = a_pop_.data() + group.first;
                const std::size_t found = kernels_.count_slices(job, scratch.hits.data());
                for (std::size_t h = 0; h < found; ++h) {
                    const simd::SliceHit& hit = scratch.hits[h];
                    const std::size_t a_pos = group.first + hit.a_row, b_pos = hit.b_row;
                    if (b_pos >= nb_ || (dedup_ && b_pos <= a_pos)) continue;
                    const std::uint32_t total = a_pop_[a_pos] + b_pop_[b_pos];
                    if (hit.common < min_common_[total]) continue;
                    Pair pair{a_order_[a_pos], b_order_[b_pos], hit.common, total};
                    if (dedup_ && pair.a > pair.b) std::swap(pair.a, pair.b);
                    if (bucketed) {
                        Bucket& bucket = buckets[a_pos - c0];
                        bucket.add(pair, options_.top_k, prune_at);
                        if (floors && bucket.worst.total != 0) {
                            scratch.floor_common[a_pos - c0] = bucket.worst.common;
                            scratch.floor_total[a_pos - c0] = bucket.worst.total;
                        }
                        if (both_sides_)
                            scratch.b_buckets[b_pos].add(Pair{pair.b, pair.a, pair.common, pair.total}, options_.top_k,
                                                         2 * options_.top_k);
                    } else {
                        pairs.push_back(pair);
                    }
                }
            }
        }
        if (bucketed)
            for (auto& bucket : buckets) {
                keep_best(bucket.pairs, options_.top_k);
                pairs.insert(pairs.end(), bucket.pairs.begin(), bucket.pairs.end());
            }
        return pairs;
    }

    const FilterMatrix& a_;
    const FilterMatrix& b_;
    MatchOptions options_;
    bool dedup_;
    bool both_sides_;
    std::size_t words_;
    const simd::KernelTable& kernels_;
    std::vector<std::uint32_t> min_common_;
    std::size_t na_ = 0, nb_ = 0, slices_ = 0;
    std::vector<std::uint32_t> a_order_, b_order_, a_pop_, b_pop_, slice_min_;
    std::unique_ptr<AlignedBuffer> b_slices_;
    std::vector<std::uint32_t> column_order_;    // bit positions, rarest in B first
    std::vector<std::uint32_t> place_in_order_;  // its inverse: each bit position's place in column_order_
    std::vector<Pair> back_;
};

Candidates to_candidates(const std::vector<Pair>& pairs) {
    Candidates out;
    out.a_index.reserve(pairs.size());
    out.b_index.reserve(pairs.size());
    out.common.reserve(pairs.size());
    out.total.reserve(pairs.size());
    for (const Pair& pair : pairs) {
        out.a_index.push_back(pair.a);
        out.b_index.push_back(pair.b);
        out.common.push_back(pair.common);
        out.total.push_back(pair.total);
    }
    return out;
}

}  // namespace

Threshold Threshold::parse(const std::string& text) {
    const std::string complaint = "threshold '" + text + "' must be a decimal in (0, 1] with at most 9 decimals";
    std::uint64_t numerator = 0, denominator = 1;
    std::size_t i = 0;
    bool digits = false;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
        numerator = numerator * 10 + static_cast<std::uint64_t>(text[i] - '0');
        digits = true;
        if (numerator > 1) throw UsageError(complaint);
    }
    if (i < text.size() && text[i] == '.') {
        ++i;
        int decimals = 0;
        for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
            if (++decimals > max_threshold_decimals) throw UsageError(complaint);
            numerator = numerator * 10 + static_cast<std::uint64_t>(text[i] - '0');
            denominator *= 10;
            digits = true;
        }
    }
    if (!digits || i != text.size() || numerator == 0 || numerator > denominator) throw UsageError(complaint);
    // Reduce the fraction so equal thresholds compare equal.
    std::uint64_t x = numerator, y = denominator;
    while (y != 0) {
        const std::uint64_t r = x % y;
        x = y;
        y = r;
    }
    return Threshold{numerator / x, denominator / x};
}

Threshold Threshold::from_double(double value) {
    if (!(value > 0.0 && value <= 1.0)) throw UsageError("threshold must be in (0, 1]");
    char text[32];
    for (int decimals = 1; decimals <= max_threshold_decimals; ++decimals) {
        std::snprintf(text, sizeof text, "%.*f", decimals, value);
        if (std::strtod(text, nullptr) == value) return parse(text);
    }
    std::snprintf(text, sizeof text, "%.*f", max_threshold_decimals, value);
    return parse(text);
}

Candidates match(const FilterMatrix& a, const FilterMatrix& b, const MatchOptions& options) {
    return to_candidates(Matcher(a, b, options, false).run());
}

Candidates match_both_sides(const FilterMatrix& a, const FilterMatrix& b, const MatchOptions& options) {
    if (options.top_k == 0) return match(a, b, options);  // every pair is in both lists already
    Matcher matcher(a, b, options, false, true);
    std::vector<Pair> pairs = matcher.run();
    std::vector<std::uint64_t> seen;
    seen.reserve(pairs.size());
    for (const Pair& pair : pairs) seen.push_back(std::uint64_t{pair.a} << 32 | pair.b);
    std::sort(seen.begin(), seen.end());
    for (const Pair& pair : matcher.back())
        if (!std::binary_search(seen.begin(), seen.end(), std::uint64_t{pair.b} << 32 | pair.a))
            pairs.push_back(Pair{pair.b, pair.a, pair.common, pair.total});
    return to_candidates(pairs);
}

Candidates match_tile(const FilterMatrix& a, std::size_t a_first, std::size_t a_last, const FilterMatrix& b,
                      std::size_t b_first, std::size_t b_last, const MatchOptions& options) {
    if (a_last > UINT32_MAX || b_last > UINT32_MAX) throw UsageError("a tile's rows must be below 2^32");
    Candidates found = match(a.row_range(a_first, a_last), b.row_range(b_first, b_last), options);
    for (auto& i : found.a_index) i += static_cast<std::uint32_t>(a_first);
    for (auto& j : found.b_index) j += static_cast<std::uint32_t>(b_first);
    return found;
}

Candidates gather_tiles(const std::vector<Candidates>& tiles, std::size_t top_k) {
    std::vector<Pair> all;
    for (const Candidates& tile : tiles)
        for (std::size_t k = 0; k < tile.size(); ++k)
            all.push_back(Pair{tile.a_index[k], tile.b_index[k], tile.common[k], tile.total[k]});
    if (top_k != 0) {
        // Each A row's best k over all tiles: a row's pairs together, best first, the first k kept.
        std::sort(all.begin(), all.end(), [](const Pair& x, const Pair& y) { return x.a != y.a ? x.a < y.a : ranks_before(x, y); });
        std::size_t out = 0;
        for (std::size_t k = 0, run = 0; k < all.size(); ++k) {
            run = k > 0 && all[k].a == all[k - 1].a ? run + 1 : 0;
            if (run < top_k) all[out++] = all[k];
        }
        all.resize(out);
    }
    std::sort(all.begin(), all.end(), ranks_before);
    return to_candidates(all);
}

Candidates match_dedup(const FilterMatrix& a, const MatchOptions& options) {
    return to_candidates(Matcher(a, a, options, true).run());
}

Candidates score_pairs(const FilterMatrix& a, const FilterMatrix& b,
                       std::vector<std::pair<std::uint32_t, std::uint32_t>> pairs, const MatchOptions& options) {
    if (a.bits() != b.bits()) throw KeyMismatchError("filters have different lengths");
    require_valid(options.threshold);
    const Threshold& t = options.threshold;
    if (!std::is_sorted(pairs.begin(), pairs.end())) std::sort(pairs.begin(), pairs.end());
    pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
    const auto& kernels = simd::kernels();
    const std::size_t n = pairs.size();
    const unsigned threads = detail::thread_count(options.threads, n / 4096);
    std::vector<std::vector<Pair>> found(threads);
    detail::run_workers(threads, [&](unsigned id) {
        for (std::size_t k = n * id / threads; k < n * (id + 1) / threads; ++k) {
            const auto [i, j] = pairs[k];
            if (i >= a.rows() || j >= b.rows()) continue;
            const auto common = static_cast<std::uint32_t>(kernels.and_popcount(a.row_words(i), b.row_words(j), a.words()));
            const std::uint32_t total = a.popcounts()[i] + b.popcounts()[j];
            if (t.passes(common, total)) found[id].push_back(Pair{i, j, common, total});
        }
    });
    std::vector<Pair> all;
    for (auto& part : found) all.insert(all.end(), part.begin(), part.end());
    std::sort(all.begin(), all.end(), ranks_before);
    return to_candidates(all);
}

double dice(const FilterMatrix& a, std::size_t i, const FilterMatrix& b, std::size_t j) {
    if (a.bits() != b.bits()) throw UsageError("filters have different lengths");
    const auto& kernels = simd::kernels();
    const std::uint64_t total = kernels.popcount(a.row_words(i), a.words()) + kernels.popcount(b.row_words(j), b.words());
    if (total == 0) return 0.0;
    return 2.0 * static_cast<double>(kernels.and_popcount(a.row_words(i), b.row_words(j), a.words())) /
           static_cast<double>(total);
}

std::string check_comparable(const FilterMatrix& a, const FilterMatrix& b) {
    auto name = [](const FilterMatrix& m) { return m.info().party.empty() ? std::string("(unnamed)") : m.info().party; };
    if (a.bits() != b.bits())
        throw KeyMismatchError("filter lengths differ: " + name(a) + " has " + std::to_string(a.bits()) + " bits, " +
                               name(b) + " has " + std::to_string(b.bits()));
    if (a.info().layout != b.info().layout)
        throw KeyMismatchError("segment layouts differ between " + name(a) + " and " + name(b));
    std::string warning;
    if (a.info().schema_known && b.info().schema_known) {
        if (a.info().schema_fingerprint != b.info().schema_fingerprint)
            throw KeyMismatchError("schema fingerprints differ between " + name(a) + " and " + name(b) +
                                   " (encoded with different schemas)");
    } else {
        warning += "schema of an imported file is unknown; ";
    }
    if (a.info().key_known && b.info().key_known) {
        if (a.info().key_check != b.info().key_check)
            throw KeyMismatchError("key-check values differ between " + name(a) + " and " + name(b) +
                                   " (encoded with different secret keys)");
    } else {
        warning += "key of an imported file is unknown; ";
    }
    if (!warning.empty()) warning += "comparing " + name(a) + " and " + name(b) + " without checking them";
    return warning;
}

}  // namespace pprl
