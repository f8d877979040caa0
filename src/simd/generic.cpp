// Portable backend: built without instruction-set flags. It is the reference in tests.
#define PPRL_SIMD_NAMESPACE generic
#define PPRL_SIMD_NAME "generic"
#include "scalar_impl.hpp"

const pprl::simd::KernelTable* pprl::simd::generic_kernels() noexcept { return &generic::table; }
