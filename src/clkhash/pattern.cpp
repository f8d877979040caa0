// clkhash/pattern.cpp — clkhash's regular expressions, matched in linear time.
//
// Two places of clkhash use Python's `re`: a string feature's `pattern` (the value must match it in
// full) and `datetime.strptime`, which builds a regular expression from the date format. pprl runs
// both on RE2 (Debian's libre2): automata, linear in the input, with no recursion, so neither a long
// value nor a pattern such as (a|a)*b can exhaust the stack or the clock as a backtracking engine
// (std::regex) did.
//
// Patterns are Python's syntax read as RE2's, with the differences closed or refused:
//   \w \d \s   Python's str patterns mean Unicode word characters, decimal digits and whitespace;
//              they become [\p{L}\p{N}_], \p{Nd} and Python's whitespace set (str.isspace()).
//   \W \D \S   their complements; inside a bracketed class they are refused (RE2 cannot negate a
//              set inside a class).
//   \uXXXX     becomes \x{XXXX}; \UXXXXXXXX likewise.
//   refused    \b and \B (Unicode word boundaries), back-references (\1), \N{...}, {,n}, and all
//              that RE2 does not parse (look-around); the schema reader names the pattern's JSON
//              pointer and says why.
// The schema reader refuses Python-only constructs before this (see check_pattern in schema.cpp).
#include <re2/re2.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <vector>

#include "runtime/calendar.hpp"
#include "clkhash/internal.hpp"
#include "pprl/error.hpp"

namespace pprl::clkhash {
namespace {

// Python's str.isspace() characters, as the body of an RE2 class.
constexpr const char* python_space_set =
    "\\t\\n\\x0b\\f\\r\\x1c-\\x1f \\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}"
    "\\x{3000}";
constexpr const char* python_word_set = "\\p{L}\\p{N}_";

RE2::Options engine_options(bool case_sensitive) {
    RE2::Options options;
    options.set_encoding(RE2::Options::EncodingUTF8);
    options.set_log_errors(false);  // the library never prints; errors are returned to the caller
    options.set_case_sensitive(case_sensitive);
    return options;
}

// CPython's _strptime month names (calendar.month_name, lower-cased for case-insensitive matching).
const char* const month_names[] = {"january", "february", "march",     "april",   "may",      "june",
                                   "july",    "august",   "september", "october", "november", "december"};

// CPython's __seqToRE: longest first (stable among equals), then the empty alternative that
// calendar.month_name[0] contributes.
std::string month_alternation(bool abbreviated) {
    std::vector<std::string> names;
    for (const char* name : month_names) names.push_back(abbreviated ? std::string(name, 3) : std::string(name));
    std::stable_sort(names.begin(), names.end(),
                     [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    std::string out = "(";
    for (const auto& name : names) out += name + "|";
    return out + ")";
}

int month_index(const std::string& name, bool abbreviated) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (int i = 0; i < 12; ++i)
        if ((abbreviated ? std::string(month_names[i], 3) : std::string(month_names[i])) == lower) return i + 1;
    return 0;
}

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

}  // namespace

bool translate_pattern(const std::string& pattern, std::string& out, std::string& problem) {
    out.clear();
    bool in_class = false;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        const char c = pattern[i];
        if (c == '[' && !in_class) {
            in_class = true;
            out += c;
            if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
            if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += "\\]", ++i;  // a leading ] is literal
            continue;
        }
        if (c == ']' && in_class) {
            in_class = false;
            out += c;
            continue;
        }
        if (c == '{' && !in_class && i + 1 < pattern.size() && pattern[i + 1] == ',') {
            problem = "a pattern without \"{,n}\" (Python reads it as {0,n}, RE2 as literal text)";
            return false;
        }
        if (c != '\\') {
            out += c;
            continue;
        }
        if (i + 1 >= pattern.size()) {
            problem = "a pattern that does not end in a lone backslash";
            return false;
        }
        const char e = pattern[++i];
        switch (e) {
            case 'w': out += in_class ? std::string(python_word_set) : "[" + std::string(python_word_set) + "]"; break;
            case 'd': out += "\\p{Nd}"; break;
            case 'D': out += "\\P{Nd}"; break;
            case 's': out += in_class ? std::string(python_space_set) : "[" + std::string(python_space_set) + "]"; break;
            case 'W':
            case 'S':
                if (in_class) {
                    problem = std::string("a pattern without \\") + e + " inside [...] (RE2 cannot reproduce it exactly)";
                    return false;
                }
                out += std::string("[^") + (e == 'W' ? python_word_set : python_space_set) + "]";
                break;
            case 'b':
            case 'B':
                problem = std::string("a pattern without \\") + e +
                          " (Python's word boundaries are Unicode-aware; pprl cannot reproduce them exactly)";
                return false;
            case 'N':
                problem = "a pattern without \\N{...} (named characters)";
                return false;
            case 'u':
            case 'U': {
                const std::size_t digits = e == 'u' ? 4 : 8;
                std::string hex = pattern.substr(i + 1, digits);
                if (hex.size() != digits || !std::all_of(hex.begin(), hex.end(), is_hex)) {
                    problem = "a complete \\u or \\U escape";
                    return false;
                }
                out += "\\x{" + hex + "}";
                i += digits;
                break;
            }
            default:
                if (e >= '1' && e <= '9') {
                    problem = "a pattern without back-references (\\1 ...), which no linear-time engine has";
                    return false;
                }
                out += '\\';
                out += e;
        }
    }
    return true;
}

Pattern::Pattern(const std::string& pattern) {
    std::string translated, problem;
    if (!translate_pattern(pattern, translated, problem)) throw ValidationError(problem);
    engine_ = std::make_unique<RE2>(translated, engine_options(true));
    if (!engine_->ok())
        throw ValidationError("a regular expression RE2 accepts (linear-time matching; no look-around): " +
                              engine_->error());
}

Pattern::~Pattern() = default;

bool Pattern::full_match(std::string_view utf8) const {
    return RE2::FullMatch(re2::StringPiece(utf8.data(), utf8.size()), *engine_);
}

bool DateParser::check(const std::string& format, std::string& problem) {
    std::set<char> seen;
    for (std::size_t i = 0; i < format.size(); ++i) {
        const auto c = static_cast<unsigned char>(format[i]);
        if (c >= 0x80) {
            problem = "an ASCII strptime format";
            return false;
        }
        if (c != '%') continue;
        if (i + 1 >= format.size()) {
            problem = "a format that does not end in a lone %";
            return false;
        }
        const char d = format[++i];
        if (std::string("YymdbB%").find(d) == std::string::npos) {
            problem = std::string("only the directives %Y %y %m %d %b %B %% (found %") + d +
                      ", which pprl does not reproduce)";
            return false;
        }
        if (d != '%' && !seen.insert(d).second) {
            problem = std::string("each directive once (%") + d + " repeats; Python refuses that too)";
            return false;
        }
    }
    return true;
}

DateParser::DateParser(const std::string& format) {
    std::string pattern;
    int group = 0;
    for (std::size_t i = 0; i < format.size(); ++i) {
        const char c = format[i];
        if (is_python_space(static_cast<unsigned char>(c))) {
            while (i + 1 < format.size() && is_python_space(static_cast<unsigned char>(format[i + 1]))) ++i;
            pattern += "[ \\t\\n\\r\\f\\v\\x1c-\\x1f]+";
        } else if (c == '%') {
            switch (format[++i]) {
                case 'd': pattern += "(3[01]|[12][0-9]|0[1-9]|[1-9]| [1-9])"; day_ = ++group; break;
                case 'm': pattern += "(1[0-2]|0[1-9]|[1-9])"; month_ = ++group; break;
                case 'y': pattern += "([0-9][0-9])"; short_year_ = ++group; break;
                case 'Y': pattern += "([0-9][0-9][0-9][0-9])"; year_ = ++group; break;
                case 'B': pattern += month_alternation(false); month_name_ = ++group; break;
                case 'b': pattern += month_alternation(true); month_abbr_ = ++group; break;
                default: pattern += "%"; break;
            }
        } else {
            if (std::string("\\.^$*+?(){}[]|").find(c) != std::string::npos) pattern += '\\';
            pattern += c;
        }
    }
    engine_ = std::make_unique<RE2>(pattern, engine_options(false));
    if (!engine_->ok()) throw ValidationError("the date format could not be compiled: " + engine_->error());
    groups_ = group;
}

DateParser::~DateParser() = default;

bool DateParser::parse(const std::string& value, WipedString& out) const {
    for (unsigned char c : value)
        if (c >= 0x80) return false;  // Python's \d and \s also take non-ASCII digits and spaces
    // Python's re.match (anchored at the start, leftmost-first like RE2's default semantics), then
    // "unconverted data remains" unless the match is the whole value.
    re2::StringPiece match[7];
    const re2::StringPiece text(value.data(), value.size());
    if (!engine_->Match(text, 0, text.size(), RE2::ANCHOR_START, match, groups_ + 1)) return false;
    if (match[0].size() != value.size()) return false;
    auto group = [&](int index) { return std::string(match[index].data(), match[index].size()); };
    long year = 1900;
    int month = 1, day = 1;
    if (year_ != 0) year = std::stol(group(year_));
    else if (short_year_ != 0) {
        year = std::stol(group(short_year_));
        year += year <= 68 ? 2000 : 1900;
    }
    if (month_ != 0) month = std::stoi(group(month_));
    if (month_name_ != 0) month = month_index(group(month_name_), false);
    if (month_abbr_ != 0) month = month_index(group(month_abbr_), true);
    if (day_ != 0) day = std::stoi(group(day_));
    if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return false;
    char buffer[16];
    const int length = std::snprintf(buffer, sizeof buffer, "%ld%02d%02d", year, month, day);
    out.assign(buffer, static_cast<std::size_t>(length));
    secure_wipe(buffer, sizeof buffer);
    return true;
}

}  // namespace pprl::clkhash
