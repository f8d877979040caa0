// pprl/bloom.hpp — FilterMatrix: n Bloom filters (CLKs) of the same length, ready for SIMD.
//
// Layout: row-major, each row padded to a stride that is a multiple of 64 bytes and the whole buffer
// 64-byte aligned, so every row starts on a cache line and an AVX-512 load of a row never splits
// one. Padding bits are always zero, so kernels may read whole strides. A length that is not a
// multiple of 64 (a clkhash CLK of l = 1000, say) is held in whole words, its last one zero-padded.
//
// Bit order: as pprl/wire.hpp says. Kernels only AND and count, which do not care about order;
// word_bit, set_bit and test_bit apply it to a row's words, filter_bit and set_filter_bit (wire.hpp) to a
// filter held as bytes in file order.
//
// The buffer is shared (std::shared_ptr): copies of a FilterMatrix are views of the same bits, which
// is what lets a memory-mapped file or a numpy array be used without copying.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pprl/wire.hpp"

namespace pprl {

// Popcounts of a set of filters: the spread that `pprl inspect` and `pprl audit` report.
struct PopcountSummary {
    std::uint32_t min = 0, max = 0;
    double mean = 0, sd = 0;  // population standard deviation
};

class FilterMatrix {
public:
    static constexpr std::size_t alignment = 64;

    FilterMatrix() = default;
    // Zero-filled matrix of `rows` filters of `bits` bits (1 to 65536).
    FilterMatrix(std::size_t rows, unsigned bits);
    // A view of external memory laid out as described above; `owner` keeps it alive.
    static FilterMatrix view(std::shared_ptr<const void> owner, const std::uint8_t* data, std::size_t rows,
                             unsigned bits, std::size_t stride_bytes);

    static std::size_t stride_for(unsigned bits) noexcept {
        return (bytes_for(bits) + alignment - 1) / alignment * alignment;
    }

    std::size_t rows() const noexcept { return rows_; }
    unsigned bits() const noexcept { return bits_; }
    // Bytes of one filter as clkhash serialises it (ceil(bits / 8)), and the words that hold it.
    static std::size_t bytes_for(unsigned bits) noexcept { return (static_cast<std::size_t>(bits) + 7) / 8; }
    std::size_t bytes() const noexcept { return bytes_for(bits_); }
    std::size_t words() const noexcept { return (static_cast<std::size_t>(bits_) + 63) / 64; }
    std::size_t stride_bytes() const noexcept { return stride_; }
    std::size_t stride_words() const noexcept { return stride_ / 8; }

    const std::uint8_t* data() const noexcept { return data_; }
    const std::uint8_t* row_bytes(std::size_t row) const noexcept { return data_ + row * stride_; }
    const std::uint64_t* row_words(std::size_t row) const noexcept {
        return reinterpret_cast<const std::uint64_t*>(data_ + row * stride_);
    }
    // Mutable access: only for matrices that own their memory (not views of files).
    std::uint64_t* mutable_row_words(std::size_t row);
    // A new matrix holding copies of the given rows in that order, with this one's header info and
    // with popcounts (record ids are not copied).
    FilterMatrix copy_rows(const std::vector<std::size_t>& rows) const;
    // Rows [first, last) as a read-only view of the same memory, with this one's header info and its
    // popcounts for those rows (record ids are not carried). UsageError unless first ≤ last ≤ rows().
    FilterMatrix row_range(std::size_t first, std::size_t last) const;

    // Where filter bit `bit` sits in a row's words: word word_bit(bit) / 64, bit word_bit(bit) % 64
    // (bit 7 - bit % 8 of byte bit / 8, the bytes of a word little-endian). Less than 65,536 for any
    // filter length.
    static constexpr std::size_t word_bit(std::size_t bit) noexcept {
        return (bit / 64) * 64 + ((bit / 8) % 8) * 8 + (7 - bit % 8);
    }
    static void set_word_bit(std::uint64_t* row, std::size_t place) noexcept {
        row[place / 64] |= std::uint64_t{1} << (place % 64);
    }
    static void set_bit(std::uint64_t* row, std::size_t bit) noexcept { set_word_bit(row, word_bit(bit)); }
    static bool test_bit(const std::uint64_t* row, std::size_t bit) noexcept {
        const std::size_t place = word_bit(bit);
        return (row[place / 64] >> (place % 64)) & 1;
    }

    // Popcount of each row, computed by compute_popcounts() (the loaders call it).
    const std::vector<std::uint32_t>& popcounts() const noexcept { return popcounts_; }
    void compute_popcounts();
    // Of the computed popcounts (all zero for no rows).
    PopcountSummary popcount_summary() const noexcept;

    std::vector<std::string>& ids() noexcept { return ids_; }
    const std::vector<std::string>& ids() const noexcept { return ids_; }
    EncodingInfo& info() noexcept { return info_; }
    const EncodingInfo& info() const noexcept { return info_; }

private:
    std::shared_ptr<const void> owner_;
    std::uint8_t* data_ = nullptr;
    bool owns_writable_ = false;
    std::size_t rows_ = 0;
    unsigned bits_ = 0;
    std::size_t stride_ = 0;
    std::vector<std::uint32_t> popcounts_;
    std::vector<std::string> ids_;
    EncodingInfo info_;
};

}  // namespace pprl
