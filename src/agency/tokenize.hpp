// agency/tokenize.hpp — splitting normalised values into the tokens that are hashed into a filter.
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

#include "crypto/wiped.hpp"
#include "pprl/normalize.hpp"
#include "pprl/schema.hpp"

namespace pprl {

// The tokens of one record, in strings that are reused from record to record: clear() keeps every
// string and its buffer, so a warm list allocates nothing, and wipe() overwrites them all (they are
// pieces of personal data). Part of an encoding worker's scratch.
class TokenList {
public:
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    WipedString& operator[](std::size_t i) noexcept { return items_[i]; }
    const WipedString& operator[](std::size_t i) const noexcept { return items_[i]; }
    // A new, empty token at the end.
    WipedString& add() {
        if (size_ == items_.size()) items_.emplace_back();
        WipedString& token = items_[size_++];
        token.clear();
        return token;
    }
    void clear() noexcept { size_ = 0; }
    void wipe() noexcept {
        pprl::wipe(items_);
        size_ = 0;
    }
    template <class Visit>
    void visit_buffers(Visit&& visit) const { visit_buffer(items_, visit); }

private:
    WipedVector<WipedString> items_;
    std::size_t size_ = 0;
};

// What a padded q-gram holds in place of a code point before or after the value.
constexpr char boundary_marker = '\x02';

// Appends the tokens of `value` under `spec` to `out`. For date_parts `value` must be a canonical
// date "YYYY-MM-DD" (see parse_date).
void tokenize(std::string_view value, const TokenizerSpec& spec, TokenList& out);
// The same into plain strings (tests, the audit's reference lists: no personal data of the agency).
void tokenize(std::string_view value, const TokenizerSpec& spec, std::vector<std::string>& out);

// Parses `text` under strptime-like `format` (%Y four digits, %m and %d one or two digits, other
// characters literal) and checks the calendar (leap years included). On success writes the
// canonical form "YYYY-MM-DD" into `canonical`.
bool parse_date(std::string_view text, std::string_view format, std::string& canonical);
bool parse_date(std::string_view text, std::string_view format, WipedString& canonical);
// Optional sign and decimal digits only; no spaces, no thousands separators.
bool parse_integer(std::string_view text, std::int64_t& value);

// normalize() (pprl/normalize.hpp) into a string that wipes what it frees.
bool normalize(std::string_view input, const NormalizeOptions& options, WipedString& out);

}  // namespace pprl
