#include "pprl/bloom.hpp"
#include <cstdint>
#include <cmath>
#include <algorithm>

#include <cstdlib>
#include <cstring>
#include <new>

#include "pprl/error.hpp"
#include "simd/kernels.hpp"

namespace pprl {

FilterMatrix::FilterMatrix(std::size_t rows, unsigned bits) : rows_(rows), bits_(bits), stride_(stride_for(bits)) {
    if (bits == 0 || bits > max_filter_bits)
        throw UsageError("filter length must be from 1 to 65536 bits, got " + std::to_string(bits));
    // calloc rather than aligned_alloc and memset: a large block comes from the kernel already zero,
    // so its pages are first touched (and cleared by the kernel) where rows are written, by the
    // encoding threads in parallel, rather than all at once on this thread. The rows start at the
    // block's first 64-byte boundary.
    if (rows_ > (SIZE_MAX - alignment) / stride_) throw std::bad_alloc();
    const std::size_t bytes = rows_ == 0 ? alignment : rows_ * stride_;
    void* block = std::calloc(bytes + alignment, 1);
    if (block == nullptr) throw std::bad_alloc();
    const std::uintptr_t start = (reinterpret_cast<std::uintptr_t>(block) + alignment - 1) & ~std::uintptr_t{alignment - 1};
    data_ = reinterpret_cast<std::uint8_t*>(start);
    owner_ = std::shared_ptr<const void>(block, [](const void* p) { std::free(const_cast<void*>(p)); });
    owns_writable_ = true;
}

FilterMatrix FilterMatrix::view(std::shared_ptr<const void> owner, const std::uint8_t* data, std::size_t rows,
                                unsigned bits, std::size_t stride_bytes) {
    if (bits == 0 || bits > max_filter_bits || stride_bytes < stride_for(bits) || stride_bytes % alignment != 0 ||
        reinterpret_cast<std::uintptr_t>(data) % alignment != 0)
        throw UsageError("filter view must be 64-byte aligned with a stride that is a multiple of 64 bytes");
    FilterMatrix matrix;
    matrix.owner_ = std::move(owner);
    matrix.data_ = const_cast<std::uint8_t*>(data);
    matrix.rows_ = rows;
    matrix.bits_ = bits;
    matrix.stride_ = stride_bytes;
    return matrix;
}

std::uint64_t* FilterMatrix::mutable_row_words(std::size_t row) {
    if (!owns_writable_) throw UsageError("this FilterMatrix is a read-only view");
    return reinterpret_cast<std::uint64_t*>(data_ + row * stride_);
}

FilterMatrix FilterMatrix::copy_rows(const std::vector<std::size_t>& rows) const {
    FilterMatrix out(rows.size(), bits_);
    for (std::size_t r = 0; r < rows.size(); ++r) std::memcpy(out.mutable_row_words(r), row_bytes(rows[r]), stride_);
    out.info_ = info_;
    out.compute_popcounts();
    return out;
}

FilterMatrix FilterMatrix::row_range(std::size_t first, std::size_t last) const {
    if (first > last || last > rows_) throw UsageError("row range [" + std::to_string(first) + ", " + std::to_string(last) +
                                                       ") is outside the " + std::to_string(rows_) + " rows");
    FilterMatrix out;
    out.owner_ = owner_;
    out.data_ = data_ + first * stride_;
    out.rows_ = last - first;
    out.bits_ = bits_;
    out.stride_ = stride_;
    out.info_ = info_;
    if (popcounts_.size() == rows_)
        out.popcounts_.assign(popcounts_.begin() + static_cast<std::ptrdiff_t>(first), popcounts_.begin() + static_cast<std::ptrdiff_t>(last));
    return out;
}

void FilterMatrix::compute_popcounts() {
    const auto& table = simd::kernels();
    popcounts_.resize(rows_);
    for (std::size_t i = 0; i < rows_; ++i)
        popcounts_[i] = static_cast<std::uint32_t>(table.popcount(row_words(i), words()));
}

PopcountSummary FilterMatrix::popcount_summary() const noexcept {
    PopcountSummary summary;
    if (popcounts_.empty()) return summary;
    double sum = 0, sum_sq = 0;
    summary.min = UINT32_MAX;
    for (std::uint32_t count : popcounts_) {
        sum += count;
        sum_sq += static_cast<double>(count) * count;
        summary.min = std::min(summary.min, count);
        summary.max = std::max(summary.max, count);
    }
    const double n = static_cast<double>(popcounts_.size());
    summary.mean = sum / n;
    summary.sd = std::sqrt(std::max(0.0, sum_sq / n - summary.mean * summary.mean));
    return summary;
}

}  // namespace pprl
