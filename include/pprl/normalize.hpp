// pprl/normalize.hpp — Unicode normalisation of quasi-identifier values (utf8proc).
//
// Order of operations (each step optional except validation and NFKC):
//   1. reject invalid UTF-8 (never guessed or repaired: a bad byte means a bad export);
//   2. NFKC compatibility composition (full-width letters, ligatures, superscripts → plain forms);
//   3. Unicode case folding (ß → ss, Σ → σ), not just ASCII lower-casing;
//   4. strip combining marks (José → jose, Ñ → n), through canonical decomposition;
//   5. punctuation (Unicode categories P* and S*): removed, turned into a space, or kept;
//   6. whitespace (categories Z*, and control characters): trimmed and collapsed to one space,
//      removed entirely, or kept as is.
// Punctuation becoming a space happens before whitespace handling, so `Lewis-Smith` gives
// `lewis smith` (space, collapse), `lewissmith` (remove) or `lewis-smith` (keep).
#pragma once

#include <string>
#include <string_view>

namespace pprl {

enum class PunctuationRule { remove, space, keep };
enum class WhitespaceRule { collapse, remove, keep };

struct NormalizeOptions {
    bool case_fold = true;
    bool strip_accents = true;
    PunctuationRule punctuation = PunctuationRule::remove;
    WhitespaceRule whitespace = WhitespaceRule::collapse;
};

// Returns false (and leaves `out` unspecified) if `input` is not valid UTF-8.
bool normalize(std::string_view input, const NormalizeOptions& options, std::string& out);

// Number of Unicode code points in valid UTF-8.
std::size_t count_code_points(std::string_view utf8) noexcept;

}  // namespace pprl
