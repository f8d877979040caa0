// src/clkhash_internal.hpp — the parts of clkhash compatibility shared by the schema reader and the
// encoder: Python's strptime subset, the pattern compiler, numeric tokens and the record encoder.
#pragma once

#include <cstdint>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "clkhash/clkhash.hpp"
#include "pprl/secret.hpp"

namespace pprl::clkhash {

// A string format's pattern as std::wregex over code points (ECMAScript, with the C.UTF-8 locale
// where the system has it, so \w covers non-ASCII letters as Python's does). Throws std::regex_error.
std::wregex compile_pattern(const std::string& pattern);

// datetime.strptime(value, format) followed by strftime("%Y%m%d"), for the directives %Y %y %m %d %b
// %B %% and literal text, matched the way CPython's _strptime does: the same alternations in the
// same order, case-insensitive, whitespace in the format matching any run of whitespace, no
// unconverted text left over, a year without %Y/%y being 1900, and the date checked to exist.
class DateParser {
public:
    // False (with `problem` saying what is expected) for a format pprl cannot reproduce exactly.
    static bool check(const std::string& format, std::string& problem);
    explicit DateParser(const std::string& format);
    // False where Python would raise. `out` is YYYYMMDD, the year not padded below 1000 (glibc's %Y).
    bool parse(const std::string& value, std::string& out) const;

private:
    std::regex regex_;
    int year_ = 0, short_year_ = 0, month_ = 0, month_name_ = 0, month_abbr_ = 0, day_ = 0;  // capture groups
};

// Whether int(round(thresholdDistance · 10^fractional_precision)) is non-zero, as clkhash requires.
bool numeric_interval_valid(const Feature& feature);

}  // namespace pprl::clkhash

namespace pprl::detail {
class TokenCache;
}

namespace pprl::clkhash {

// One record in, one CLK out, exactly as clkhash 0.18 computes it.
class RecordEncoder {
public:
    RecordEncoder(const Schema& schema, const SecretKey& secret);
    ~RecordEncoder();
    RecordEncoder(RecordEncoder&&) noexcept;
    RecordEncoder& operator=(RecordEncoder&&) noexcept;

    // `values[i]` is feature i's raw value (UTF-8). Writes l/8 bytes to `out`. Returns false with the
    // feature and a reason (never the value) where clkhash would refuse the row. Thread-safe. With a
    // `cache` (the caller's, one per thread), a token's bit positions are looked up there before
    // hashing and remembered after; the CLK is the same either way.
    bool encode(const std::vector<const std::string*>& values, std::uint8_t* out, std::string& field,
                std::string& reason, std::uint64_t& tokens, detail::TokenCache* cache = nullptr) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace pprl::clkhash
