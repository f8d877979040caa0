// clkhash/internal.hpp — the parts of clkhash compatibility shared by the schema reader and the
// encoder: Python's strptime subset, the pattern compiler, numeric tokens and the record encoder.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <string>
#include <vector>

#include "clkhash/clkhash.hpp"
#include "crypto/crypto.hpp"
#include "crypto/wiped.hpp"
#include "pprl/secret.hpp"

namespace re2 {
class RE2;
}

namespace pprl::clkhash {

// Python's str.isspace() for ASCII.
inline bool is_python_space(char32_t c) { return c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f); }

// A string format's pattern, matched in full as Python's re.fullmatch does, in linear time on RE2
// (clkhash/pattern.cpp says how Python's syntax is carried over). The constructor throws
// ValidationError, saying why, for a pattern pprl cannot reproduce exactly.
class Pattern {
public:
    explicit Pattern(const std::string& pattern);
    ~Pattern();
    Pattern(const Pattern&) = delete;
    Pattern& operator=(const Pattern&) = delete;
    bool full_match(std::string_view utf8) const;

private:
    std::unique_ptr<re2::RE2> engine_;
};

// The RE2 form of a Python pattern; false (with `problem` saying what is expected) for one that
// cannot be carried over exactly.
bool translate_pattern(const std::string& pattern, std::string& out, std::string& problem);

// datetime.strptime(value, format) followed by strftime("%Y%m%d"), for the directives %Y %y %m %d %b
// %B %% and literal text, matched the way CPython's _strptime does: the same alternations in the
// same order, case-insensitive, whitespace in the format matching any run of whitespace, no
// unconverted text left over, a year without %Y/%y being 1900, and the date checked to exist.
class DateParser {
public:
    // False (with `problem` saying what is expected) for a format pprl cannot reproduce exactly.
    static bool check(const std::string& format, std::string& problem);
    explicit DateParser(const std::string& format);
    ~DateParser();
    DateParser(const DateParser&) = delete;
    DateParser& operator=(const DateParser&) = delete;
    // False where Python would raise. `out` is YYYYMMDD, the year not padded below 1000 (glibc's %Y).
    bool parse(const std::string& value, WipedString& out) const;

private:
    std::unique_ptr<re2::RE2> engine_;
    int groups_ = 0;
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
    // One thread's working memory for its records: the features' values as clkhash formats them,
    // their tokens as code points and as bytes, the BLAKE2b requests and digests, bit positions and
    // the filter before folding. Everything in it is personal or key-derived, so every buffer wipes
    // what it frees, and wipe() (also run by the destructor) overwrites what it holds.
    struct Scratch {
        Scratch() = default;
        ~Scratch() { wipe(); }
        Scratch(const Scratch&) = delete;
        Scratch& operator=(const Scratch&) = delete;

        WipedVector<std::uint8_t> filter;
        WipedU32String text, formatted_text, word;
        WipedVector<WipedU32String> token_text;
        std::size_t token_count = 0;
        WipedVector<WipedString> numeric;
        WipedString bytes, extended;
        WipedVector<WipedString> formatted_values;
        WipedVector<char> present;
        WipedVector<WipedString> blake_tokens;
        std::vector<crypto::KeyedDigest::Request> blake_requests;  // pointers into blake_tokens
        std::vector<unsigned> blake_words;
        WipedVector<std::uint8_t> blake_digests;  // 64 bytes per request
        // Tokens the cache did not hold: index, k, cache hash, first request.
        struct Miss {
            std::size_t token;
            unsigned k;
            std::uint64_t hash;
            std::size_t first_request;
        };
        WipedVector<Miss> misses;
        WipedVector<std::uint16_t> positions;

        void wipe() noexcept;
        template <class Visit>
        void visit_buffers(Visit&& visit) const {
            visit_buffer(filter, visit);
            visit_buffer(text, visit);
            visit_buffer(formatted_text, visit);
            visit_buffer(word, visit);
            visit_buffer(token_text, visit);
            visit_buffer(numeric, visit);
            visit_buffer(bytes, visit);
            visit_buffer(extended, visit);
            visit_buffer(formatted_values, visit);
            visit_buffer(present, visit);
            visit_buffer(blake_tokens, visit);
            visit_buffer(blake_digests, visit);
            visit_buffer(misses, visit);
            visit_buffer(positions, visit);
        }
    };

    RecordEncoder(const Schema& schema, const SecretKey& secret);
    ~RecordEncoder();
    RecordEncoder(RecordEncoder&&) noexcept;
    RecordEncoder& operator=(RecordEncoder&&) noexcept;

    // `values[i]` is feature i's raw value (UTF-8). Writes l/8 bytes to `out`. Returns false with the
    // feature and a reason (never the value) where clkhash would refuse the row. Thread-safe with one
    // Scratch per thread. With a `cache` (the caller's, one per thread), a token's bit positions are
    // looked up there before hashing and remembered after; the CLK is the same either way.
    bool encode(const std::vector<const std::string*>& values, std::uint8_t* out, std::string& field,
                std::string& reason, std::uint64_t& tokens, Scratch& scratch,
                detail::TokenCache* cache = nullptr) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace pprl::clkhash
