#include "agency/tokenize.hpp"

#include <cstdio>
#include <limits>

namespace pprl {
namespace {

constexpr char boundary_marker = '\x02';

// Byte offsets of each code point start, plus the end offset.
void code_point_offsets(std::string_view text, std::vector<std::size_t>& offsets) {
    offsets.clear();
    for (std::size_t i = 0; i < text.size(); ++i)
        if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) offsets.push_back(i);
    offsets.push_back(text.size());
}

bool is_leap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int days_in_month(int year, int month) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && is_leap(year) ? 29 : days[month - 1];
}

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

void tokenize(std::string_view value, const TokenizerSpec& spec, std::vector<std::string>& out) {
    switch (spec.kind) {
        case TokenizerKind::exact:
            out.emplace_back(value);
            return;
        case TokenizerKind::date_parts:
            for (DatePart part : spec.date_parts) {
                if (value.size() != 10) return;
                if (part == DatePart::year) out.push_back("y" + std::string(value.substr(0, 4)));
                if (part == DatePart::month) out.push_back("m" + std::string(value.substr(5, 2)));
                if (part == DatePart::day) out.push_back("d" + std::string(value.substr(8, 2)));
            }
            return;
        case TokenizerKind::qgram:
        case TokenizerKind::positional_qgram: {
            const bool positional = spec.kind == TokenizerKind::positional_qgram;
            thread_local std::string padded;
            if (spec.padding) {
                padded.assign(static_cast<std::size_t>(spec.q - 1), boundary_marker);
                padded.append(value);
                padded.append(static_cast<std::size_t>(spec.q - 1), boundary_marker);
                value = padded;
            }
            thread_local std::vector<std::size_t> offsets;
            code_point_offsets(value, offsets);
            const std::size_t points = offsets.size() - 1;
            const std::size_t q = static_cast<std::size_t>(spec.q);
            if (points == 0) return;
            if (points < q) {
                out.push_back(positional ? "0:" + std::string(value) : std::string(value));
                return;
            }
            for (std::size_t i = 0; i + q <= points; ++i) {
                std::string_view gram = value.substr(offsets[i], offsets[i + q] - offsets[i]);
                if (positional) out.push_back(std::to_string(i) + ":" + std::string(gram));
                else out.emplace_back(gram);
            }
            return;
        }
    }
}

bool parse_date(std::string_view text, std::string_view format, std::string& canonical) {
    int year = -1, month = -1, day = -1;
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
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return false;
    canonical.assign("0000-00-00");
    for (int i = 3, y = year; i >= 0; --i, y /= 10) canonical[static_cast<std::size_t>(i)] = static_cast<char>('0' + y % 10);
    canonical[5] = static_cast<char>('0' + month / 10);
    canonical[6] = static_cast<char>('0' + month % 10);
    canonical[8] = static_cast<char>('0' + day / 10);
    canonical[9] = static_cast<char>('0' + day % 10);
    return true;
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
