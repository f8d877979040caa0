// src/simd/slice_impl.hpp — bit-sliced all-pairs counting, written once for every instruction set.
//
// Why bit-sliced. The direct way to score a pair of 1024-bit filters costs, per pair, 2 ANDs,
// 2 VPOPCNTQs and 2 adds of 512-bit vectors: 6 vector instructions, and on cores that run 512-bit
// work on two ports (Intel Sapphire/Granite Rapids) that is 3 cycles per pair however well it is
// blocked. Turned sideways, |A∧B_j| for the 512 filters B_j of a slice is the number of set bits k
// of A at which B_j also has bit k — a sum, lane by lane, of the slice's bit-columns selected by A's
// set bits. Summing one-bit lanes is what carry-save adders do: the Harley–Seal tree (Harley & Seal;
// Muła, Kurz & Lemire, "Faster population counts using AVX2 instructions", 2018) turns 16 columns into
// one carry ("sixteens") with 15 carry-save adders of 2 bitwise instructions each (one VPTERNLOGQ for
// the sum, one for the majority), and the carries ripple into higher bit planes. A CLK at 1024 bits
// has ~265 set bits, so one A row against 512 B rows costs ~17 trees ≈ 700 instructions: about 1.4
// per pair instead of 6, independent of the filter length, and no popcount instruction at all.
//
// Counts are exact: the planes hold |A∧B_j| in binary for every lane, with enough planes for
// bit_width(|A|) bits, and |A∧B_j| ≤ |A|. The threshold is compared on the planes themselves
// (most significant plane first) against the slice's coarse bound, so only lanes that may pass are
// ever turned back into integers.
//
// An `Ops` type supplies the vector: V holds `Ops::words` 64-bit words of one column (the 512 lanes
// of a slice in one zmm; 256 in one ymm, the slice then taken in two parts that stop early on their
// own), with load, zero, xor3 (sum), majority (carry), and/or/andnot, any and store.
#include <cstring>

#include "kernels.hpp"

namespace pprl::simd::PPRL_SIMD_NAMESPACE {

// Planes needed for counts ≤ 65536 (filters of up to 65536 bits): 17; the tree supplies 4 of them.
constexpr int max_high_planes = 13;

alignas(64) inline const std::uint64_t zero_column[slice_words] = {};

template <class Ops>
struct SliceCounter {
    using V = typename Ops::V;

    static inline void csa(V& carry, V& sum, const V& a, const V& b, const V& c) noexcept {
        carry = Ops::majority(a, b, c);
        sum = Ops::xor3(a, b, c);
    }

    // Accumulates the slice columns at word offsets `columns[0..count)` from `base` into
    // planes[0..4+HIGH).
    // Lanes whose count (planes[0..plane_count), binary) is ≥ need.
    static V at_least(const V* planes, int plane_count, std::uint32_t need) noexcept {
        V greater = Ops::zero(), equal = Ops::all_ones();
        for (int p = plane_count - 1; p >= 0; --p) {
            if ((need >> p) & 1u) {
                equal = Ops::and_(equal, planes[p]);
            } else {
                greater = Ops::or_(greater, Ops::and_(equal, planes[p]));
                equal = Ops::andnot(planes[p], equal);
            }
        }
        return Ops::or_(greater, equal);
    }

    // Returns false, early, once no lane can reach `need`: after a group, with `remaining` columns
    // still to add, a lane whose count is below need - remaining cannot pass whatever they hold.
    template <int HIGH>
    static bool accumulate(const std::uint64_t* base, const std::uint32_t* columns, std::size_t count,
                           std::uint32_t need, V* planes) noexcept {
        V ones = Ops::zero(), twos = Ops::zero(), fours = Ops::zero(), eights = Ops::zero();
        V high[HIGH > 0 ? HIGH : 1];
        for (int h = 0; h < HIGH; ++h) high[h] = Ops::zero();
        const std::uint64_t* in[16];
        for (std::size_t i = 0; i < count; i += 16) {
            if (count - i >= 16) {
                for (std::size_t k = 0; k < 16; ++k) in[k] = base + columns[i + k];
            } else {
                // The last, partial group: missing inputs read a zero column.
                for (std::size_t k = 0; k < 16; ++k) in[k] = i + k < count ? base + columns[i + k] : zero_column;
            }
            V twos_a, twos_b, fours_a, fours_b, eights_a, eights_b, sixteens;
            csa(twos_a, ones, ones, Ops::load(in[0]), Ops::load(in[1]));
            csa(twos_b, ones, ones, Ops::load(in[2]), Ops::load(in[3]));
            csa(fours_a, twos, twos, twos_a, twos_b);
            csa(twos_a, ones, ones, Ops::load(in[4]), Ops::load(in[5]));
            csa(twos_b, ones, ones, Ops::load(in[6]), Ops::load(in[7]));
            csa(fours_b, twos, twos, twos_a, twos_b);
            csa(eights_a, fours, fours, fours_a, fours_b);
            csa(twos_a, ones, ones, Ops::load(in[8]), Ops::load(in[9]));
            csa(twos_b, ones, ones, Ops::load(in[10]), Ops::load(in[11]));
            csa(fours_a, twos, twos, twos_a, twos_b);
            csa(twos_a, ones, ones, Ops::load(in[12]), Ops::load(in[13]));
            csa(twos_b, ones, ones, Ops::load(in[14]), Ops::load(in[15]));
            csa(fours_b, twos, twos, twos_a, twos_b);
            csa(eights_b, fours, fours, fours_a, fours_b);
            csa(sixteens, eights, eights, eights_a, eights_b);
            // Ripple the carry into the planes of weight 16, 32, ... (half adders).
            V carry = sixteens;
            for (int h = 0; h < HIGH; ++h) {
                const V next = Ops::and_(high[h], carry);
                high[h] = Ops::xor_(high[h], carry);
                carry = next;
            }
            // Between groups the planes hold every lane's count in binary, so the bound can be
            // tested on them directly. On CLK-like data at t = 0.8 this stops most rows against
            // most slices a little past a third of their columns.
            const std::size_t done = i + 16 < count ? i + 16 : count;
            const std::size_t remaining = count - done;
            if (remaining > 0 && remaining < need) {
                planes[0] = ones;
                planes[1] = twos;
                planes[2] = fours;
                planes[3] = eights;
                for (int h = 0; h < HIGH; ++h) planes[4 + h] = high[h];
                if (!Ops::any(at_least(planes, 4 + HIGH, need - static_cast<std::uint32_t>(remaining)))) return false;
            }
        }
        planes[0] = ones;
        planes[1] = twos;
        planes[2] = fours;
        planes[3] = eights;
        for (int h = 0; h < HIGH; ++h) planes[4 + h] = high[h];
        return true;
    }

    template <int HIGH>
    static std::size_t row_against_slice(const SliceJob& job, std::size_t r, std::size_t slice,
                                         SliceHit* out) noexcept {
        const std::uint32_t a_popcount = job.a_popcounts[r];
        const std::uint32_t least_total = a_popcount + job.slice_min_popcount[slice];
        std::uint32_t need = job.min_common[least_total];
        if (job.floor_total != nullptr && job.floor_total[r] != 0) {
            // 2c/T ≥ 2c_k/t_k needs c ≥ c_k·T/t_k, at least c_k·least_total/t_k in this slice.
            const std::uint64_t floor = (std::uint64_t{job.floor_common[r]} * least_total + job.floor_total[r] - 1) /
                                        job.floor_total[r];
            if (floor > need) need = floor > a_popcount ? a_popcount + 1 : static_cast<std::uint32_t>(floor);
        }
        if (need > a_popcount) return 0;  // |A∧B| ≤ |A|: nothing in this slice can pass
        const std::uint64_t* base = job.slices + slice * job.bits * slice_words;
        const std::uint32_t first = job.a_column_offsets[r], last = job.a_column_offsets[r + 1];
        const int plane_count = 4 + HIGH;
        std::size_t hits = 0;
        // The slice's lanes Ops::words words at a time: each part stops on its own once none of its
        // lanes can pass.
        for (std::size_t part = 0; part < slice_words; part += Ops::words) {
            V planes[4 + max_high_planes];
            if (!accumulate<HIGH>(base + part, job.a_columns + first, last - first, need, planes)) continue;
            const V pass = at_least(planes, plane_count, need);
            if (!Ops::any(pass)) continue;
            alignas(64) std::uint64_t pass_words[Ops::words];
            alignas(64) std::uint64_t plane_words[4 + max_high_planes][Ops::words];
            Ops::store(pass_words, pass);
            for (int p = 0; p < plane_count; ++p) Ops::store(plane_words[p], planes[p]);
            for (std::size_t q = 0; q < Ops::words; ++q) {
                std::uint64_t lanes = pass_words[q];
                while (lanes != 0) {
                    const unsigned bit = static_cast<unsigned>(__builtin_ctzll(lanes));
                    lanes &= lanes - 1;
                    std::uint32_t count = 0;
                    for (int p = 0; p < plane_count; ++p)
                        count |= static_cast<std::uint32_t>((plane_words[p][q] >> bit) & 1u) << p;
                    out[hits++] = SliceHit{static_cast<std::uint32_t>(r),
                                           static_cast<std::uint32_t>(slice * slice_rows + (part + q) * 64 + bit), count};
                }
            }
        }
        return hits;
    }

    static std::size_t run(const SliceJob& job, SliceHit* out) noexcept {
        std::size_t hits = 0;
        for (std::size_t slice = job.slice_begin; slice < job.slice_end; ++slice) {
            for (std::size_t r = 0; r < job.a_rows; ++r) {
                // Planes beyond the tree's four: enough for bit_width(|A|) bits in all.
                const std::uint32_t a_popcount = job.a_popcounts[r];
                const int width = a_popcount == 0 ? 0 : 32 - __builtin_clz(a_popcount);
                const int high = width > 4 ? width - 4 : 0;
                SliceHit* at = out + hits;
                switch (high) {
                    case 0: hits += row_against_slice<0>(job, r, slice, at); break;
                    case 1: hits += row_against_slice<1>(job, r, slice, at); break;
                    case 2: hits += row_against_slice<2>(job, r, slice, at); break;
                    case 3: hits += row_against_slice<3>(job, r, slice, at); break;
                    case 4: hits += row_against_slice<4>(job, r, slice, at); break;
                    case 5: hits += row_against_slice<5>(job, r, slice, at); break;
                    case 6: hits += row_against_slice<6>(job, r, slice, at); break;
                    case 7: hits += row_against_slice<7>(job, r, slice, at); break;
                    case 8: hits += row_against_slice<8>(job, r, slice, at); break;
                    case 9: hits += row_against_slice<9>(job, r, slice, at); break;
                    case 10: hits += row_against_slice<10>(job, r, slice, at); break;
                    case 11: hits += row_against_slice<11>(job, r, slice, at); break;
                    case 12: hits += row_against_slice<12>(job, r, slice, at); break;
                    default: hits += row_against_slice<13>(job, r, slice, at); break;
                }
            }
        }
        return hits;
    }
};

}  // namespace pprl::simd::PPRL_SIMD_NAMESPACE
