// AVX2 diffusion sum (see diffusion.hpp): four words per vector, up to eight vectors per pass.
#include <immintrin.h>

#include "diffusion.hpp"
#include "diffusion_impl.hpp"

namespace pprl::simd {
namespace {

struct Avx2 {
    using V = __m256i;
    static constexpr unsigned words = 4;
    static constexpr unsigned max_vectors = 8;
    static V zero() noexcept { return _mm256_setzero_si256(); }
    static V load(const std::uint64_t* p) noexcept { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
    static V xor_(V a, V b) noexcept { return _mm256_xor_si256(a, b); }
    static void store(std::uint64_t* p, V v) noexcept { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
};

}  // namespace

void diffusion_sum_avx2(const std::uint8_t* f, std::uint32_t in_words, const std::uint64_t* images,
                        std::uint32_t stride, std::uint64_t* sum) noexcept {
    diffusion_sum_with<Avx2>(f, in_words, images, stride, sum);
}

}  // namespace pprl::simd
