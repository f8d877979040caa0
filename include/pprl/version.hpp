// pprl/version.hpp — library version (kept equal to the CMake project version).
#pragma once

namespace pprl {
inline constexpr const char* version = "0.1.0";
inline constexpr int version_major = 0, version_minor = 1, version_patch = 0;
}  // namespace pprl
