// x86-64 POPCNT backend: the portable loops built with -mpopcnt (set in CMakeLists.txt).
#define PPRL_SIMD_NAMESPACE scalar
#define PPRL_SIMD_NAME "scalar"
#include "scalar_impl.hpp"

const pprl::simd::KernelTable* pprl::simd::scalar_kernels() noexcept { return &scalar::table; }
