#include "agency/tokenize.hpp"

#include <cstdio>
#include <limits>

#include "runtime/calendar.hpp"
#include "pprl/normalize.hpp"
#include "pprl/secret.hpp"

namespace pprl {
namespace {

bool read_digits(std::string_view text, std::size_t& pos, std::size_t min_digits, std::size_t max_digits,
                 int& value) {
    std::size_t count = 0;
    value = 0;
    while (pos < text.size() && count < max_digits && text[pos] >= '0' && text[pos] <= '9') {
        value = value * 10 + (text[pos] - '0');
        ++pos;
        ++count;
    }
    return count >= min_digits;
}

}  // namespace

void tokenize(std::string_view value, const TokenizerSpec& spec, TokenList& out) {
    switch (spec.kind) {
        case TokenizerKind::exact:
            out.add().assign(value.data(), value.size());
            return;
        case TokenizerKind::date_parts:
            for (DatePart part : spec.date_parts) {
                if (value.size() != 10) return;
                WipedString& token = out.add();
                if (part == DatePart::year) token.assign("y").append(value.substr(0, 4));
                if (part == DatePart::month) token.assign("m").append(value.substr(5, 2));
                if (part == DatePart::day) token.assign("d").append(value.substr(8, 2));
            }
            return;
        case TokenizerKind::qgram:
        case TokenizerKind::positional_qgram: {
            // Grams over the code points of the value with q-1 boundary markers on each side when
            // padded; the markers are written into each gram, never into a padded copy of the value.
            const bool positional = spec.kind == TokenizerKind::positional_qgram;
            const std::size_t q = static_cast<std::size_t>(spec.q);
            const std::size_t pad = spec.padding ? q - 1 : 0;
            const std::size_t values_points = count_code_points(value);
            const std::size_t points = values_points + 2 * pad;
            if (points == 0) return;
            auto gram_into = [&](WipedString& token, std::size_t first, std::size_t length, std::size_t& byte,
                                 std::size_t& point) {
                // point/byte: a cursor into the value, advanced monotonically by successive grams.
                for (std::size_t p = first; p < first + length; ++p) {
                    if (p < pad || p >= pad + values_points) {
                        token.push_back(boundary_marker);
                        continue;
                    }
                    const std::size_t want = p - pad;
                    while (point < want) {
                        ++byte;
                        while (byte < value.size() && (static_cast<unsigned char>(value[byte]) & 0xC0) == 0x80) ++byte;
                        ++point;
                    }
                    std::size_t end = byte + 1;
                    while (end < value.size() && (static_cast<unsigned char>(value[end]) & 0xC0) == 0x80) ++end;
                    token.append(value.data() + byte, end - byte);
                }
            };
            if (values_points == value.size() && points >= q && q <= 16 && !positional) {
                // ASCII (a code point is a byte): a gram inside the value is one append, a gram
                // over a boundary is assembled in a small buffer, wiped afterwards.
                char gram[16];
                for (std::size_t i = 0; i + q <= points; ++i) {
                    WipedString& token = out.add();
                    if (i >= pad && i + q <= pad + values_points) {
                        token.append(value.data() + (i - pad), q);
                        continue;
                    }
                    for (std::size_t p = i; p < i + q; ++p)
                        gram[p - i] = (p < pad || p >= pad + values_points) ? boundary_marker : value[p - pad];
                    token.append(gram, q);
                }
                secure_wipe(gram, sizeof gram);
                return;
            }
            if (points < q) {
                WipedString& token = out.add();
                if (positional) token.assign("0:");
                std::size_t byte = 0, point = 0;
                gram_into(token, 0, points, byte, point);
                return;
            }
            std::size_t start_byte = 0, start_point = 0;  // cursor at the gram's first value code point
            for (std::size_t i = 0; i + q <= points; ++i) {
                WipedString& token = out.add();
                if (positional) {
                    char number[24];
                    const int length = std::snprintf(number, sizeof number, "%zu:", i);
                    token.assign(number, static_cast<std::size_t>(length));
                }
                std::size_t byte = start_byte, point = start_point;
                gram_into(token, i, q, byte, point);
                // The next gram starts one code point later: move the cursor there if it is in the value.
                if (i + 1 > pad && i + 1 - pad < values_points && start_point < i + 1 - pad) {
                    ++start_byte;
                    while (start_byte < value.size() && (static_cast<unsigned char>(value[start_byte]) & 0xC0) == 0x80)
                        ++start_byte;
                    ++start_point;
                }
            }
            return;
        }
    }
}

void tokenize(std::string_view value, const TokenizerSpec& spec, std::vector<std::string>& out) {
    TokenList tokens;
    tokenize(value, spec, tokens);
    for (std::size_t i = 0; i < tokens.size(); ++i) out.emplace_back(tokens[i].data(), tokens[i].size());
    tokens.wipe();
}

namespace {

// Reads a date under `format` into year, month and day (see parse_date).
bool parse_date_parts(std::string_view text, std::string_view format, int& year, int& month, int& day) {
    year = month = day = -1;
    std::size_t pos = 0;
    for (std::size_t f = 0; f < format.size(); ++f) {
        if (format[f] == '%' && f + 1 < format.size() && format[f + 1] != '%') {
            const char directive = format[++f];
            bool ok = false;
            if (directive == 'Y') ok = read_digits(text, pos, 4, 4, year);
            else if (directive == 'm') ok = read_digits(text, pos, 1, 2, month);
            else if (directive == 'd') ok = read_digits(text, pos, 1, 2, day);
            if (!ok) return false;
            continue;
        }
        if (format[f] == '%') ++f;  // "%%" is a literal percent sign
        if (pos >= text.size() || text[pos] != format[f]) return false;
        ++pos;
    }
    if (pos != text.size()) return false;
    return year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= days_in_month(year, month);
}

template <class String>
bool parse_date_into(std::string_view text, std::string_view format, String& canonical) {
    int year = 0, month = 0, day = 0;
    if (!parse_date_parts(text, format, year, month, day)) return false;
    canonical.assign("0000-00-00");
    for (int i = 3, y = year; i >= 0; --i, y /= 10) canonical[static_cast<std::size_t>(i)] = static_cast<char>('0' + y % 10);
    canonical[5] = static_cast<char>('0' + month / 10);
    canonical[6] = static_cast<char>('0' + month % 10);
    canonical[8] = static_cast<char>('0' + day / 10);
    canonical[9] = static_cast<char>('0' + day % 10);
    return true;
}

}  // namespace

bool parse_date(std::string_view text, std::string_view format, std::string& canonical) {
    return parse_date_into(text, format, canonical);
}
bool parse_date(std::string_view text, std::string_view format, WipedString& canonical) {
    return parse_date_into(text, format, canonical);
}

bool parse_integer(std::string_view text, std::int64_t& value) {
    std::size_t pos = 0;
    bool negative = false;
    if (pos < text.size() && (text[pos] == '-' || text[pos] == '+')) negative = text[pos++] == '-';
    if (pos == text.size()) return false;
    // Accumulate as a negative number so that INT64_MIN parses.
    std::int64_t result = 0;
    for (; pos < text.size(); ++pos) {
        if (text[pos] < '0' || text[pos] > '9') return false;
        const int digit = text[pos] - '0';
        if (result < (std::numeric_limits<std::int64_t>::min() + digit) / 10) return false;
        result = result * 10 - digit;
    }
    if (!negative) {
        if (result == std::numeric_limits<std::int64_t>::min()) return false;
        result = -result;
    }
    value = result;
    return true;
}

}  // namespace pprl
