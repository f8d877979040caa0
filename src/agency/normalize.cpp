#include "pprl/normalize.hpp"

#include "agency/tokenize.hpp"
#include "pprl/secret.hpp"

#include <utf8proc.h>

#include <cstdlib>

namespace pprl {
namespace {

bool is_punctuation(utf8proc_category_t category) {
    switch (category) {
        case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
        case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
        case UTF8PROC_CATEGORY_PO: case UTF8PROC_CATEGORY_SM: case UTF8PROC_CATEGORY_SC:
        case UTF8PROC_CATEGORY_SK: case UTF8PROC_CATEGORY_SO:
            return true;
        default:
            return false;
    }
}

bool is_space(utf8proc_int32_t code_point, utf8proc_category_t category) {
    switch (category) {
        case UTF8PROC_CATEGORY_ZS: case UTF8PROC_CATEGORY_ZL: case UTF8PROC_CATEGORY_ZP:
        case UTF8PROC_CATEGORY_CC:
            return true;
        default:
            return code_point == 0x200B;  // zero-width space (category Cf) is whitespace to a clerk
    }
}

bool is_ascii_plain(std::string_view input) {
    for (unsigned char c : input)
        if (c >= 0x80) return false;
    return true;
}

// Trims and collapses (or removes) runs of ' ' in place.
template <class String>
void apply_whitespace_rule(WhitespaceRule rule, String& text) {
    if (rule == WhitespaceRule::keep) return;
    std::size_t out = 0;
    bool pending_space = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == ' ') {
            pending_space = true;
            continue;
        }
        if (pending_space && rule == WhitespaceRule::collapse && out > 0) text[out++] = ' ';
        pending_space = false;
        text[out++] = c;
    }
    text.resize(out);
}

// Fast path for ASCII input, which is nearly all of it: identical result to the utf8proc path
// (NFKC and stripping are identities on ASCII; case folding is A-Z → a-z), with the whitespace
// rule applied in the same pass, in place (a byte in gives at most one byte out).
template <class String>
void normalize_ascii(std::string_view input, const NormalizeOptions& options, String& out) {
    out.resize(input.size());
    char* const o = &out[0];
    std::size_t length = 0;
    bool pending_space = false;
    for (unsigned char c : input) {
        const bool punctuation = (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
                                 (c >= 0x7B && c <= 0x7E);
        bool space = c == ' ' || c < 0x20 || c == 0x7F;
        if (punctuation && options.punctuation != PunctuationRule::keep) {
            if (options.punctuation == PunctuationRule::remove) continue;
            space = true;
        }
        if (space) {
            if (options.whitespace == WhitespaceRule::keep) o[length++] = ' ';
            else pending_space = true;
            continue;
        }
        if (pending_space && options.whitespace == WhitespaceRule::collapse && length > 0) o[length++] = ' ';
        pending_space = false;
        if (options.case_fold && c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c - 'A' + 'a');
        o[length++] = static_cast<char>(c);
    }
    out.resize(length);
}

template <class String>
bool normalize_into(std::string_view input, const NormalizeOptions& options, String& out) {
    out.clear();
    if (is_ascii_plain(input)) {
        normalize_ascii(input, options, out);
        return true;
    }
    int flags = UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
    if (options.case_fold) flags |= UTF8PROC_CASEFOLD;
    if (options.strip_accents) flags |= UTF8PROC_STRIPMARK;
    utf8proc_uint8_t* mapped = nullptr;
    const utf8proc_ssize_t length = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(input.data()),
                                                 static_cast<utf8proc_ssize_t>(input.size()), &mapped,
                                                 static_cast<utf8proc_option_t>(flags));
    if (length < 0) return false;  // UTF8PROC_ERROR_INVALIDUTF8 and friends
    const utf8proc_uint8_t* cursor = mapped;
    utf8proc_ssize_t remaining = length;
    while (remaining > 0) {
        utf8proc_int32_t code_point = 0;
        const utf8proc_ssize_t step = utf8proc_iterate(cursor, remaining, &code_point);
        if (step <= 0) {
            secure_wipe(mapped, static_cast<std::size_t>(length));
            std::free(mapped);
            return false;
        }
        const utf8proc_category_t category = utf8proc_category(code_point);
        bool space = is_space(code_point, category);
        if (!space && is_punctuation(category) && options.punctuation != PunctuationRule::keep) {
            if (options.punctuation == PunctuationRule::remove) {
                cursor += step;
                remaining -= step;
                continue;
            }
            space = true;
        }
        if (space) out.push_back(' ');
        else out.append(reinterpret_cast<const char*>(cursor), static_cast<std::size_t>(step));
        cursor += step;
        remaining -= step;
    }
    // utf8proc's buffer holds the normalised value: wiped before it goes back to the heap.
    secure_wipe(mapped, static_cast<std::size_t>(length));
    std::free(mapped);
    apply_whitespace_rule(options.whitespace, out);
    return true;
}

}  // namespace

bool normalize(std::string_view input, const NormalizeOptions& options, std::string& out) {
    return normalize_into(input, options, out);
}
bool normalize(std::string_view input, const NormalizeOptions& options, WipedString& out) {
    return normalize_into(input, options, out);
}

std::size_t count_code_points(std::string_view utf8) noexcept {
    std::size_t count = 0;
    for (unsigned char c : utf8)
        if ((c & 0xC0) != 0x80) ++count;
    return count;
}

}  // namespace pprl
