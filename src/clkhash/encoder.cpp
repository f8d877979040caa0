// clkhash/encoder.cpp — clkhash 0.18's record encoding, reproduced (see clkhash/clkhash.hpp).
//
// clkhash is Python: values are str (code points), integers are unbounded, int()/float()/strptime
// have their own grammars. Each is reproduced here for the inputs it accepts; where an input is
// outside what pprl reproduces exactly (a non-ASCII digit, say), the row is rejected with a reason,
// never encoded differently. Big integers (numeric tokens, the doubleHash digests read as 160- and
// 128-bit big-endian numbers) use Boost.Multiprecision.
#include <boost/multiprecision/cpp_int.hpp>
#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <set>

#include "pprl/bloom.hpp"
#include "crypto/crypto.hpp"
#include "pprl/error.hpp"
#include "runtime/calendar.hpp"
#include "clkhash/internal.hpp"
#include "agency/token_cache.hpp"

namespace pprl::clkhash {
namespace {

using boost::multiprecision::cpp_int;


template <class U32String>
bool decode_utf8(std::string_view text, U32String& out) {
    out.clear();
    const auto* cursor = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
    utf8proc_ssize_t remaining = static_cast<utf8proc_ssize_t>(text.size());
    while (remaining > 0) {
        utf8proc_int32_t code_point = 0;
        const utf8proc_ssize_t step = utf8proc_iterate(cursor, remaining, &code_point);
        if (step <= 0 || code_point < 0) return false;
        out.push_back(static_cast<char32_t>(code_point));
        cursor += step;
        remaining -= step;
    }
    return true;
}

template <class U32String>
bool is_ascii(const U32String& text) {
    return std::all_of(text.begin(), text.end(), [](char32_t c) { return c < 0x80; });
}

template <class String>
void append_utf8(char32_t c, String& out) {
    utf8proc_uint8_t buffer[4];
    const auto size = utf8proc_encode_char(static_cast<utf8proc_int32_t>(c), buffer);
    out.append(reinterpret_cast<const char*>(buffer), static_cast<std::size_t>(size));
}

template <class String>
void append_le(std::uint32_t value, int bytes, String& out) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// str.encode(encoding) for clkhash's four encodings. Python's "utf-16" and "utf-32" codecs write a
// byte-order mark (little-endian on the machines clkhash runs on) before every string they encode,
// and clkhash encodes token by token, so every token carries one.
template <class String>
bool encode_text(const char32_t* begin, const char32_t* end, TextEncoding encoding, String& out) {
    out.clear();
    switch (encoding) {
        case TextEncoding::ascii:
            for (const char32_t* c = begin; c != end; ++c) {
                if (*c >= 0x80) return false;
                out.push_back(static_cast<char>(*c));
            }
            return true;
        case TextEncoding::utf8:
            for (const char32_t* c = begin; c != end; ++c) append_utf8(*c, out);
            return true;
        case TextEncoding::utf16:
            out.append("\xff\xfe", 2);
            for (const char32_t* c = begin; c != end; ++c) {
                if (*c >= 0x10000) {
                    const std::uint32_t v = *c - 0x10000;
                    append_le(0xd800 + (v >> 10), 2, out);
                    append_le(0xdc00 + (v & 0x3ff), 2, out);
                } else {
                    append_le(*c, 2, out);
                }
            }
            return true;
        case TextEncoding::utf32:
            out.append("\xff\xfe\x00\x00", 4);
            for (const char32_t* c = begin; c != end; ++c) append_le(*c, 4, out);
            return true;
    }
    return false;
}

// Python int(text, 10) for ASCII text: surrounding whitespace, a sign, digits with single
// underscores between them.
bool python_int(std::string_view text, cpp_int& value) {
    std::size_t begin = 0, end = text.size();
    while (begin < end && is_python_space(static_cast<unsigned char>(text[begin]))) ++begin;
    while (end > begin && is_python_space(static_cast<unsigned char>(text[end - 1]))) --end;
    bool negative = false;
    if (begin < end && (text[begin] == '+' || text[begin] == '-')) negative = text[begin++] == '-';
    if (begin == end) return false;
    std::string digits;
    for (std::size_t i = begin; i < end; ++i) {
        const char c = text[i];
        if (c >= '0' && c <= '9') {
            digits.push_back(c);
        } else if (c == '_' && i > begin && i + 1 < end && std::isdigit(static_cast<unsigned char>(text[i - 1])) &&
                   std::isdigit(static_cast<unsigned char>(text[i + 1]))) {
            continue;
        } else {
            return false;
        }
    }
    // Boost reads a leading 0 as octal; Python's base 10 does not.
    const std::size_t first = std::min(digits.find_first_not_of('0'), digits.size() - 1);
    value = cpp_int(digits.substr(first));
    if (negative) value = -value;
    return true;
}

// Python float(text) for ASCII text: whitespace, sign, decimal digits with an optional point and
// exponent (underscores only between digits), or inf/infinity/nan.
bool python_float(std::string_view text, double& value) {
    std::size_t begin = 0, end = text.size();
    while (begin < end && is_python_space(static_cast<unsigned char>(text[begin]))) ++begin;
    while (end > begin && is_python_space(static_cast<unsigned char>(text[end - 1]))) --end;
    std::string clean;
    std::size_t i = begin;
    if (i < end && (text[i] == '+' || text[i] == '-')) clean.push_back(text[i++]);
    std::string rest(text.substr(i, end - i));
    std::string lower = rest;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "inf" || lower == "infinity" || lower == "nan") {
        value = lower == "nan" ? std::nan("") : (clean == "-" ? -HUGE_VAL : HUGE_VAL);
        return true;
    }
    auto digits = [&](std::size_t& at) {  // digits with underscores between them; returns the count
        std::size_t count = 0;
        while (at < rest.size()) {
            if (std::isdigit(static_cast<unsigned char>(rest[at]))) {
                clean.push_back(rest[at++]);
                ++count;
            } else if (rest[at] == '_' && count > 0 && at + 1 < rest.size() &&
                       std::isdigit(static_cast<unsigned char>(rest[at + 1]))) {
                ++at;
            } else {
                break;
            }
        }
        return count;
    };
    std::size_t at = 0;
    std::size_t mantissa = digits(at);
    if (at < rest.size() && rest[at] == '.') {
        clean.push_back('.');
        ++at;
        mantissa += digits(at);
    }
    if (mantissa == 0) return false;
    if (at < rest.size() && (rest[at] == 'e' || rest[at] == 'E')) {
        clean.push_back('e');
        ++at;
        if (at < rest.size() && (rest[at] == '+' || rest[at] == '-')) clean.push_back(rest[at++]);
        if (digits(at) == 0) return false;
    }
    if (at != rest.size()) return false;
    value = std::strtod(clean.c_str(), nullptr);  // correctly rounded, as CPython's parser
    return true;
}

// 10^exponent as the nearest double (what Python's float(10 ** exponent) gives); inf if too large.
double power_of_ten(unsigned exponent) { return std::strtod(("1e" + std::to_string(exponent)).c_str(), nullptr); }

cpp_int power_of_ten_exact(unsigned exponent) {
    cpp_int value = 1;
    for (unsigned i = 0; i < exponent; ++i) value *= 10;
    return value;
}

// int(round(x)) for a finite double: round half to even, then exact.
cpp_int round_to_int(double x) { return cpp_int(std::nearbyint(x)); }

cpp_int distance_interval(const Feature& f) {
    if (f.threshold_is_integer) return cpp_int(f.threshold_integer) * power_of_ten_exact(f.fractional_precision);
    const double scaled = f.threshold_float * power_of_ten(f.fractional_precision);
    if (!std::isfinite(scaled)) return 0;
    return round_to_int(scaled);
}

// NumericComparison.tokenize: quantise v·2·resolution to the nearest multiple of the distance
// interval d (Python's floor modulo; ties go up), then the 2·resolution+1 values v + i·d.
bool numeric_tokens(std::string_view word, const Feature& f, const cpp_int& d, WipedVector<WipedString>& out,
                    std::size_t& count) {
    cpp_int v;
    if (python_int(word, v)) {
        if (f.fractional_precision > 0) v *= power_of_ten_exact(f.fractional_precision);
    } else {
        double x = 0;
        if (!python_float(word, x) || !std::isfinite(x)) return false;
        if (f.fractional_precision > 0) {
            const double scaled = x * power_of_ten(f.fractional_precision);
            if (!std::isfinite(scaled)) return false;
            v = round_to_int(scaled);
        } else {
            v = cpp_int(std::trunc(x));
        }
    }
    v *= 2 * static_cast<int>(f.resolution);
    cpp_int residue = v % d;
    if (residue < 0) residue += d;
    if (residue != 0) {
        if (2 * residue < d) v -= residue;
        else v += d - residue;
    }
    const int r = static_cast<int>(f.resolution);
    count = 0;
    for (int i = -r; i <= r; ++i) {
        std::string digits = cpp_int(v + i * d).str();
        if (count == out.size()) out.emplace_back();
        out[count++].assign(digits.data(), digits.size());
        secure_wipe(digits.data(), digits.size());
    }
    return true;
}

// Code points whose full (SpecialCasing) uppercase differs from themselves although their simple
// uppercase mapping, which utf8proc gives, does not: ß, ŉ, ǰ, ΐ, ΰ, և, ẖ–ẚ, Greek with ypogegrammeni
// or breathing, the Latin and Armenian ligatures.
bool special_upper(char32_t c) {
    static const std::pair<char32_t, char32_t> ranges[] = {
        {0x00df, 0x00df}, {0x0149, 0x0149}, {0x01f0, 0x01f0}, {0x0390, 0x0390}, {0x03b0, 0x03b0}, {0x0587, 0x0587},
        {0x1e96, 0x1e9a}, {0x1f50, 0x1f50}, {0x1f52, 0x1f52}, {0x1f54, 0x1f54}, {0x1f56, 0x1f56}, {0x1f80, 0x1faf},
        {0x1fb2, 0x1fb4}, {0x1fb6, 0x1fb7}, {0x1fbc, 0x1fbc}, {0x1fc2, 0x1fc4}, {0x1fc6, 0x1fc7}, {0x1fcc, 0x1fcc},
        {0x1fd2, 0x1fd3}, {0x1fd6, 0x1fd7}, {0x1fe2, 0x1fe4}, {0x1fe6, 0x1fe7}, {0x1ff2, 0x1ff4}, {0x1ff6, 0x1ff7},
        {0x1ffc, 0x1ffc}, {0xfb00, 0xfb06}, {0xfb13, 0xfb17}};
    for (const auto& [low, high] : ranges)
        if (c >= low && c <= high) return true;
    return false;
}

template <class U32String>
bool unchanged_by_upper(const U32String& s) {
    for (char32_t c : s)
        if (special_upper(c) || static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(c))) != c) return false;
    return true;
}

template <class U32String>
bool unchanged_by_lower(const U32String& s) {
    for (char32_t c : s)
        if (static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))) != c) return false;
    return true;
}

// Compares decimal strings of (possibly huge) integers.
int compare_integers(const cpp_int& value, const std::string& bound) {
    const cpp_int b(bound);
    return value < b ? -1 : (value > b ? 1 : 0);
}


}  // namespace

bool numeric_interval_valid(const Feature& feature) { return distance_interval(feature) > 0; }

namespace {

struct FeatureState {
    const Feature* spec = nullptr;
    std::unique_ptr<crypto::KeyedDigest> first, second;  // blake: first; doubleHash: SHA-1, MD5 HMACs
    std::vector<std::unique_ptr<crypto::KeyedDigest>> blake_salted;  // salt str(i) for i ≥ 1
    std::unique_ptr<Pattern> pattern;
    std::unique_ptr<DateParser> date;
    cpp_int interval;  // numeric
};

}  // namespace

struct RecordEncoder::Impl {
    Schema owned;
    std::vector<FeatureState> features;
    unsigned hash_bits = 0;
};

RecordEncoder::RecordEncoder(const Schema& schema, const SecretKey& secret) : impl_(std::make_unique<Impl>()) {
    if (secret.empty()) throw ValidationError("the secret is empty");
    impl_->owned = schema;
    const Schema& s = impl_->owned;
    impl_->hash_bits = s.hash_bits();
    const std::size_t key_size = s.key_size;
    const SecretKey keys = crypto::hkdf(s.kdf_hash, secret.data(), secret.size(), s.kdf_salt.data(), s.kdf_salt.size(),
                                        s.kdf_info.data(), s.kdf_info.size(), 2 * s.features.size() * key_size);
    for (std::size_t i = 0; i < s.features.size(); ++i) {
        const Feature& f = s.features[i];
        FeatureState state;
        state.spec = &f;
        if (!f.ignored) {
            const std::uint8_t* key0 = keys.data() + 2 * i * key_size;
            const std::uint8_t* key1 = key0 + key_size;
            if (f.hash == HashType::blake) {
                state.first = std::make_unique<crypto::KeyedDigest>(crypto::KeyedDigest::Kind::blake2b, key0, key_size, "0", 1);
                // More than 32 bits per token need further BLAKE2b outputs, salted "1", "2", ...
                const unsigned macs = (f.bits + 31) / 32;
                for (unsigned m = 1; m < macs; ++m) {
                    const std::string salt = std::to_string(m);
                    state.blake_salted.push_back(std::make_unique<crypto::KeyedDigest>(
                        crypto::KeyedDigest::Kind::blake2b, key0, key_size, salt.data(), salt.size()));
                }
            } else {
                state.first = std::make_unique<crypto::KeyedDigest>(crypto::KeyedDigest::Kind::hmac_sha1, key0, key_size);
                state.second = std::make_unique<crypto::KeyedDigest>(crypto::KeyedDigest::Kind::hmac_md5, key1, key_size);
            }
            if (f.pattern) state.pattern = std::make_unique<Pattern>(*f.pattern);
            if (f.format == Format::date) state.date = std::make_unique<DateParser>(f.date_format);
            if (f.comparison == Comparison::numeric) state.interval = distance_interval(f);
        }
        impl_->features.push_back(std::move(state));
    }
}

RecordEncoder::~RecordEncoder() = default;
RecordEncoder::RecordEncoder(RecordEncoder&&) noexcept = default;
RecordEncoder& RecordEncoder::operator=(RecordEncoder&&) noexcept = default;

namespace {

// Reads a big-endian digest as an integer and reduces it modulo l (Python: int.from_bytes(d, "big") % l).
std::uint64_t digest_mod(const std::uint8_t* digest, std::size_t size, unsigned l) {
    boost::multiprecision::uint256_t value;  // fixed width: no allocation per token
    boost::multiprecision::import_bits(value, digest, digest + size, 8, true);
    return static_cast<std::uint64_t>(value % l);
}

// A feature's k for its t-th of `count` tokens: bitsPerToken, or bitsPerFeature's int(b / n) each
// with the first b % n tokens one more.
unsigned bits_for_token(const Feature& f, std::size_t t, std::size_t count) {
    if (!f.bits_per_feature) return f.bits;
    return static_cast<unsigned>(f.bits / count + (t < f.bits % count ? 1 : 0));
}

enum class TokenState { cached, to_hash, unencodable };

// A token's bytes in the feature's encoding (into `bytes`) and its cache hash; when the cache holds
// its k positions they are set in `filter` at once.
TokenState prepare_token(const Feature& f, const WipedU32String& token, std::uint32_t feature, unsigned k,
                         const detail::TokenCache* cache, std::uint8_t* filter, WipedString& bytes, std::uint64_t& hash) {
    if (!encode_text(token.data(), token.data() + token.size(), f.encoding, bytes)) return TokenState::unencodable;
    if (cache == nullptr) return TokenState::to_hash;
    const std::string_view text(bytes.data(), bytes.size());
    hash = detail::TokenCache::hash(feature, k, text);
    const std::uint16_t* known = cache->find(hash, feature, k, text);
    if (known == nullptr) return TokenState::to_hash;
    for (unsigned j = 0; j < k; ++j) set_filter_bit(filter, known[j]);
    return TokenState::cached;
}

// For each of the feature's tokens: its bytes into bytes_for(t); the cache's positions set in the
// filter when it holds them, else hash(t, k, bytes, cache hash) is called. False at a token the
// feature's encoding cannot represent.
template <class BytesFor, class Hash>
bool for_each_uncached_token(const Feature& f, std::uint32_t feature, const detail::TokenCache* cache,
                             RecordEncoder::Scratch& scratch, BytesFor bytes_for, Hash hash) {
    const std::size_t count = scratch.token_count;
    for (std::size_t t = 0; t < count; ++t) {
        const unsigned k = bits_for_token(f, t, count);
        WipedString& bytes = bytes_for(t);
        std::uint64_t cache_hash = 0;
        const TokenState state =
            prepare_token(f, scratch.token_text[t], feature, k, cache, scratch.filter.data(), bytes, cache_hash);
        if (state == TokenState::unencodable) return false;
        if (state == TokenState::to_hash) hash(t, k, bytes, cache_hash);
    }
    return true;
}

// Validation of every feature comes first, as clkhash validates a row before hashing any of it:
// each present feature's value as clkhash formats it goes to scratch.formatted_values.
bool format_values(const std::vector<FeatureState>& features, const std::vector<const std::string*>& values,
                   RecordEncoder::Scratch& scratch, std::string& field, std::string& reason) {
    if (scratch.formatted_values.size() < values.size()) scratch.formatted_values.resize(values.size());
    scratch.present.assign(values.size(), 0);
    for (std::size_t i = 0; i < values.size(); ++i) {
        const FeatureState& state = features[i];
        const Feature& f = *state.spec;
        if (f.ignored) continue;
        auto reject = [&](std::string why) {
            field = f.identifier;
            reason = std::move(why);
            return false;
        };
        const std::string& raw = *values[i];
        WipedU32String& text = scratch.text;
        WipedString& formatted = scratch.formatted_values[i];
        if (!decode_utf8(raw, text)) return reject("not valid UTF-8");
        scratch.present[i] = 1;
        if (f.missing_sentinel && raw == *f.missing_sentinel) {
            formatted.assign(f.missing_replacement.data(), f.missing_replacement.size());
            continue;
        }
        if (f.encoding == TextEncoding::ascii && !is_ascii(text)) return reject("not encodable as ascii");
        switch (f.format) {
            case Format::string:
                if (state.pattern) {
                    if (!state.pattern->full_match(raw)) return reject("does not match the schema's pattern");
                } else {
                    if (f.min_length && text.size() < *f.min_length) return reject("shorter than minLength");
                    if (f.max_length && text.size() > *f.max_length) return reject("longer than maxLength");
                    if (f.letter_case == Case::upper && !unchanged_by_upper(text)) return reject("not upper case");
                    if (f.letter_case == Case::lower && !unchanged_by_lower(text)) return reject("not lower case");
                }
                formatted.assign(raw.data(), raw.size());
                break;
            case Format::integer: {
                cpp_int value;
                if (!is_ascii(text) || !python_int(raw, value)) return reject("not an integer");
                if (f.minimum && compare_integers(value, *f.minimum) < 0) return reject("below the minimum");
                if (f.maximum && compare_integers(value, *f.maximum) > 0) return reject("above the maximum");
                std::string digits = value.str();
                formatted.assign(digits.data(), digits.size());
                secure_wipe(digits.data(), digits.size());
                break;
            }
            case Format::date:
                if (!state.date->parse(raw, formatted)) return reject("not a date in the schema's format");
                break;
            case Format::enumeration:
                if (std::find(f.enum_values.begin(), f.enum_values.end(), raw) == f.enum_values.end())
                    return reject("not one of the enum values");
                formatted.assign(raw.data(), raw.size());
                break;
        }
    }
    return true;
}

// The feature's tokens, as code points, into scratch.token_text[0, token_count): n-grams over the
// value padded with n-1 spaces (positional: "i gram", 1-based), the whole value, or the numeric
// neighbourhood. False (with `reason`) where clkhash would refuse the value.
bool feature_tokens(const FeatureState& state, const WipedString& formatted, RecordEncoder::Scratch& scratch,
                    std::string& reason) {
    const Feature& f = *state.spec;
    scratch.token_count = 0;
    auto add = [&scratch]() -> WipedU32String& {
        if (scratch.token_count == scratch.token_text.size()) scratch.token_text.emplace_back();
        WipedU32String& token = scratch.token_text[scratch.token_count++];
        token.clear();
        return token;
    };
    WipedU32String& text = scratch.formatted_text;
    if (!decode_utf8(formatted, text)) {
        reason = "replacement value is not valid UTF-8";
        return false;
    }
    if (text.empty()) return true;
    switch (f.comparison) {
        case Comparison::ngram: {
            WipedU32String& word = scratch.word;
            word.clear();
            if (f.n > 1) word.append(f.n - 1, U' ');
            word.append(text);
            if (f.n > 1) word.append(f.n - 1, U' ');
            if (word.size() < f.n) return true;
            for (std::size_t p = 0; p + f.n <= word.size(); ++p) {
                WipedU32String& token = add();
                if (f.positional) {
                    char number[24];
                    const int length = std::snprintf(number, sizeof number, "%zu ", p + 1);
                    for (int c = 0; c < length; ++c) token.push_back(static_cast<char32_t>(number[c]));
                }
                token.append(word, p, f.n);
            }
            return true;
        }
        case Comparison::exact:
            add().assign(text);
            return true;
        case Comparison::numeric: {
            std::size_t count = 0;
            if (!is_ascii(text) ||
                !numeric_tokens(std::string_view(formatted.data(), formatted.size()), f, state.interval, scratch.numeric,
                                count)) {
                reason = "not a number";
                return false;
            }
            for (std::size_t t = 0; t < count; ++t) add().assign(scratch.numeric[t].begin(), scratch.numeric[t].end());
            return true;
        }
    }
    return true;
}

// blakeHash: every BLAKE2b digest of the feature's tokens at once (eight at a time where AVX-512 is
// there); token t needs ceil(k / 32) of them, salted "0", "1", ...; each gives 32 16-bit words,
// each mod l (a power of two, so a mask).
bool hash_blake(const FeatureState& state, std::uint32_t feature, unsigned l, RecordEncoder::Scratch& scratch,
                detail::TokenCache* cache, std::string& reason) {
    const Feature& f = *state.spec;
    const std::size_t count = scratch.token_count;
    std::uint8_t* filter = scratch.filter.data();
    if (scratch.blake_tokens.size() < count) scratch.blake_tokens.resize(count);
    scratch.blake_requests.clear();
    scratch.blake_words.clear();
    scratch.misses.clear();
    const bool encodable = for_each_uncached_token(
        f, feature, cache, scratch, [&](std::size_t t) -> WipedString& { return scratch.blake_tokens[t]; },
        [&](std::size_t t, unsigned k, const WipedString& bytes, std::uint64_t hash) {
            scratch.misses.push_back({t, k, hash, scratch.blake_requests.size()});
            for (unsigned mac = 0; 32 * mac < k; ++mac) {
                scratch.blake_requests.push_back(
                    {mac == 0 ? state.first.get() : state.blake_salted[mac - 1].get(), bytes.data(), bytes.size()});
                scratch.blake_words.push_back(std::min(32u, k - 32 * mac));
            }
        });
    if (!encodable) {
        reason = "not encodable as ascii";
        return false;
    }
    scratch.blake_digests.resize(64 * scratch.blake_requests.size());
    crypto::KeyedDigest::digest_many(scratch.blake_requests.data(), scratch.blake_requests.size(),
                                     scratch.blake_digests.data());
    for (const RecordEncoder::Scratch::Miss& miss : scratch.misses) {
        scratch.positions.clear();
        for (std::size_t r = miss.first_request; scratch.positions.size() < miss.k; ++r) {
            const std::uint8_t* digest = scratch.blake_digests.data() + 64 * r;
            for (unsigned w = 0; w < scratch.blake_words[r]; ++w) {
                const unsigned position = (digest[2 * w] | (static_cast<unsigned>(digest[2 * w + 1]) << 8)) & (l - 1);
                set_filter_bit(filter, position);
                scratch.positions.push_back(static_cast<std::uint16_t>(position));
            }
        }
        if (cache != nullptr) {
            const WipedString& bytes = scratch.blake_tokens[miss.token];
            cache->insert(miss.hash, feature, miss.k, std::string_view(bytes.data(), bytes.size()),
                          scratch.positions.data());
        }
    }
    return true;
}

// doubleHash: (h1 + j·h2) mod l, j < k, over the HMAC-SHA1 and HMAC-MD5 digests read as big-endian
// integers; with prevent_singularity the MD5 step is re-hashed with chr(j) appended until h2 ≠ 0.
bool hash_double(const FeatureState& state, std::uint32_t feature, unsigned l, RecordEncoder::Scratch& scratch,
                 detail::TokenCache* cache, std::string& reason) {
    const Feature& f = *state.spec;
    std::uint8_t* filter = scratch.filter.data();
    const bool encodable = for_each_uncached_token(
        f, feature, cache, scratch, [&](std::size_t) -> WipedString& { return scratch.bytes; },
        [&](std::size_t, unsigned k, const WipedString& bytes, std::uint64_t hash) {
            const std::string_view text(bytes.data(), bytes.size());
            std::uint8_t sha1[20], md5[16];
            state.first->digest(bytes.data(), bytes.size(), sha1);
            state.second->digest(bytes.data(), bytes.size(), md5);
            const std::uint64_t h1 = digest_mod(sha1, sizeof sha1, l);
            std::uint64_t h2 = digest_mod(md5, sizeof md5, l);
            if (f.prevent_singularity) {
                for (char32_t j = 0; h2 == 0; ++j) {
                    scratch.extended.assign(bytes);
                    append_utf8(j, scratch.extended);
                    state.second->digest(scratch.extended.data(), scratch.extended.size(), md5);
                    h2 = digest_mod(md5, sizeof md5, l);
                }
            }
            secure_wipe(sha1, sizeof sha1);
            secure_wipe(md5, sizeof md5);
            // Stepping instead of dividing (h1, h2 < l).
            scratch.positions.clear();
            for (std::uint64_t j = 0, g = h1; j < k; ++j) {
                set_filter_bit(filter, g);
                if (cache != nullptr) scratch.positions.push_back(static_cast<std::uint16_t>(g));
                g += h2;
                if (g >= l) g -= l;
            }
            if (cache != nullptr) cache->insert(hash, feature, k, text, scratch.positions.data());
        });
    if (!encodable) {
        reason = "not encodable as ascii";
        return false;
    }
    return true;
}

}  // namespace

void RecordEncoder::Scratch::wipe() noexcept {
    pprl::wipe(filter);
    pprl::wipe(text);
    pprl::wipe(formatted_text);
    pprl::wipe(word);
    pprl::wipe(token_text);
    token_count = 0;
    pprl::wipe(numeric);
    pprl::wipe(bytes);
    pprl::wipe(extended);
    pprl::wipe(formatted_values);
    pprl::wipe(present);
    pprl::wipe(blake_tokens);
    blake_requests.clear();
    blake_words.clear();
    pprl::wipe(blake_digests);
    pprl::wipe(misses);
    pprl::wipe(positions);
}

bool RecordEncoder::encode(const std::vector<const std::string*>& values, std::uint8_t* out, std::string& field,
                           std::string& reason, std::uint64_t& tokens, Scratch& scratch,
                           detail::TokenCache* cache) const {
    const unsigned l = impl_->hash_bits;
    if (l > 65536) cache = nullptr;  // the cache holds positions as 16-bit numbers
    if (values.size() != impl_->features.size()) {
        field.clear();
        reason = "has " + std::to_string(values.size()) + " values for " + std::to_string(impl_->features.size()) + " features";
        return false;
    }
    if (!format_values(impl_->features, values, scratch, field, reason)) return false;
    scratch.filter.assign((l + 7) / 8, 0);
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (!scratch.present[i]) continue;
        const FeatureState& state = impl_->features[i];
        const auto feature = static_cast<std::uint32_t>(i);
        bool ok = feature_tokens(state, scratch.formatted_values[i], scratch, reason);
        if (ok && scratch.token_count > 0) {
            tokens += scratch.token_count;
            ok = state.spec->hash == HashType::blake ? hash_blake(state, feature, l, scratch, cache, reason)
                                                     : hash_double(state, feature, l, scratch, cache, reason);
        }
        if (!ok) {
            field = state.spec->identifier;
            return false;
        }
    }
    // XOR folding: the first half XOR the second, `xor_folds` times; bytewise while a half is whole
    // bytes, bit by bit once it is not (l = 100, say), the bits past the half cleared each time.
    std::uint8_t* filter = scratch.filter.data();
    std::size_t bits = l;
    for (unsigned fold = 0; fold < impl_->owned.xor_folds; ++fold) {
        bits /= 2;
        if (bits % 8 == 0) {
            for (std::size_t b = 0; b < bits / 8; ++b) filter[b] ^= filter[bits / 8 + b];
        } else {
            for (std::size_t bit = 0; bit < bits; ++bit)
                if (filter_bit(filter, bits + bit)) filter[bit / 8] ^= static_cast<std::uint8_t>(0x80u >> (bit % 8));
        }
        for (std::size_t bit = bits; bit < (bits + 7) / 8 * 8; ++bit)
            filter[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
    }
    std::memcpy(out, filter, (bits + 7) / 8);
    return true;
}

}  // namespace pprl::clkhash
