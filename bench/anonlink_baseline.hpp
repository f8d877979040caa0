#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "pprl/bloom.hpp"

namespace pprl::bench {
std::size_t anonlink_style_match(const FilterMatrix& a, const FilterMatrix& b, double threshold,
                                 std::vector<std::pair<std::uint32_t, std::uint32_t>>& out);
}
