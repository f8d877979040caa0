// agency/harden_steps.hpp — what the encoder sees of a Hardener beyond apply() (internal).
//
// Diffusion is linear, so when it is a schema's first hardening step, the encoder can sum the
// images of a field value's bits once and reuse the sum wherever the value recurs (encoder.cpp):
// it needs the step's images, and the steps after it.
#pragma once

#include <cstdint>
#include <string_view>

#include "pprl/harden.hpp"

namespace pprl::detail {

struct HardenerSteps {
    // When the first step is diffusion with its images kept whole: input bit i's image, `stride`
    // words at images + i · stride (simd/diffusion.hpp); else nullptr.
    static const std::uint64_t* first_images(const Hardener& hardener, std::uint32_t& stride) noexcept;
    // The steps after the first, from the first step's output (its bits in filter bit order, as
    // words) to `out` (Hardener::output_bits() / 8 bytes).
    static void apply_after_first(const Hardener& hardener, const std::uint64_t* first_output, std::uint8_t* out,
                                  std::string_view record, Hardener::Workspace& workspace);
};

}  // namespace pprl::detail
