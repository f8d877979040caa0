// simd/diffusion_impl.hpp — diffusion's sum (simd/diffusion.hpp), written once for every vector width.
//
// `Ops` supplies a vector V of Ops::words 64-bit words with zero, load (unaligned), xor and store
// (unaligned). One pass keeps N vectors of the sum in registers (an array indexed only by constants
// after unrolling, which the compiler holds in registers) while it walks the set bits; passes cover
// the stride Ops::max_vectors vectors at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace pprl::simd {

template <class Ops, unsigned N>
inline void diffusion_pass(const std::uint8_t* f, std::uint32_t in_words, const std::uint64_t* images,
                           std::uint32_t stride, std::uint64_t* sum) noexcept {
    using V = typename Ops::V;
    V acc[N];
    for (unsigned n = 0; n < N; ++n) acc[n] = Ops::zero();
    for (std::uint32_t word = 0; word < in_words; ++word) {
        std::uint64_t w = 0;
        std::memcpy(&w, f + 8 * std::size_t{word}, 8);
        for (w = __builtin_bswap64(w); w != 0; w &= w - 1) {  // bit 63 - p: input 64·word + p
            const std::uint32_t input = 64 * word + 63 - static_cast<std::uint32_t>(__builtin_ctzll(w));
            const std::uint64_t* image = images + std::size_t{input} * stride;
            for (unsigned n = 0; n < N; ++n) acc[n] = Ops::xor_(acc[n], Ops::load(image + n * Ops::words));
        }
    }
    for (unsigned n = 0; n < N; ++n) Ops::store(sum + n * Ops::words, acc[n]);
}

template <class Ops, unsigned N = Ops::max_vectors>
inline void diffusion_pass_of(unsigned vectors, const std::uint8_t* f, std::uint32_t in_words,
                              const std::uint64_t* images, std::uint32_t stride, std::uint64_t* sum) noexcept {
    if constexpr (N > 0) {
        if (vectors == N) diffusion_pass<Ops, N>(f, in_words, images, stride, sum);
        else diffusion_pass_of<Ops, N - 1>(vectors, f, in_words, images, stride, sum);
    }
}

template <class Ops>
inline void diffusion_sum_with(const std::uint8_t* f, std::uint32_t in_words, const std::uint64_t* images,
                               std::uint32_t stride, std::uint64_t* sum) noexcept {
    constexpr std::uint32_t pass_words = Ops::max_vectors * Ops::words;
    for (std::uint32_t at = 0; at < stride; at += pass_words) {
        const std::uint32_t words = stride - at < pass_words ? stride - at : pass_words;
        diffusion_pass_of<Ops>(words / Ops::words, f, in_words, images + at, stride, sum + at);
    }
}

}  // namespace pprl::simd
