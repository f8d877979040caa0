// The portable diffusion sum and the dispatch to the chosen implementation (built without flags).
#include "diffusion.hpp"

#include "diffusion_impl.hpp"
#include "isa.hpp"

namespace pprl::simd {
namespace {

struct Words {
    using V = std::uint64_t;
    static constexpr unsigned words = 1;
    static constexpr unsigned max_vectors = 16;
    static V zero() noexcept { return 0; }
    static V load(const std::uint64_t* p) noexcept { return *p; }
    static V xor_(V a, V b) noexcept { return a ^ b; }
    static void store(std::uint64_t* p, V v) noexcept { *p = v; }
};

}  // namespace

void diffusion_sum_portable(const std::uint8_t* f, std::uint32_t in_words, const std::uint64_t* images,
                            std::uint32_t stride, std::uint64_t* sum) noexcept {
    diffusion_sum_with<Words>(f, in_words, images, stride, sum);
}

void diffusion_sum(const std::uint8_t* f, std::uint32_t in_words, const std::uint64_t* images, std::uint32_t stride,
                   std::uint64_t* sum) noexcept {
#if defined(__x86_64__)
    if (chosen(Family::diffusion) == diffusion_isa::avx2) {
        diffusion_sum_avx2(f, in_words, images, stride, sum);
        return;
    }
#endif
    diffusion_sum_portable(f, in_words, images, stride, sum);
}

}  // namespace pprl::simd
