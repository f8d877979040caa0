// format/base64.hpp — RFC 4648 base64 with padding: filters in clkhash's JSON and pprl's CSV export,
// and the salt and info of a clkhash schema's key derivation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace pprl {

std::string base64_encode(const std::uint8_t* data, std::size_t size);
// Throws ValidationError on a malformed string.
std::string base64_decode(const std::string& text);

}  // namespace pprl
