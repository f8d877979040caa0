// x86-64 POPCNT backend: the portable loops built with -mpopcnt (set in CMakeLists.txt).
#define PPRL_SIMD_NAMESPACE popcnt
#define PPRL_SIMD_NAME "popcnt"
#include "scalar_impl.hpp"

const pprl::simd::KernelTable* pprl::simd::popcnt_kernels() noexcept { return &popcnt::table; }
