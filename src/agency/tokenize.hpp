// pprl/tokenize.hpp — splitting normalised values into the tokens that are hashed into a filter.
//
// q-grams are taken over Unicode code points, not bytes, so `josé` and `jose` differ in one gram
// rather than two. Padding adds q-1 boundary markers (byte 0x02, which normalisation can never
// produce because control characters become spaces) on each side, so the first and last letters
// carry as much weight as the middle ones. A value shorter than q without padding is one token.
// Positional q-grams prefix each gram with its index ("3:ab"), trading typo tolerance for
// resistance to frequency attacks on common grams.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pprl/schema.hpp"

namespace pprl {

// Appends the tokens of `value` under `spec` to `out`. For date_parts `value` must be a canonical
// date "YYYY-MM-DD" (see parse_date).
void tokenize(std::string_view value, const TokenizerSpec& spec, std::vector<std::string>& out);

// Parses `text` under strptime-like `format` (%Y four digits, %m and %d one or two digits, other
// characters literal) and checks the calendar (leap years included). On success writes the
// canonical form "YYYY-MM-DD" into `canonical`.
bool parse_date(std::string_view text, std::string_view format, std::string& canonical);

// Optional sign and decimal digits only; no spaces, no thousands separators.
bool parse_integer(std::string_view text, std::int64_t& value);

}  // namespace pprl
