#include "format/base64.hpp"

#include <algorithm>
#include <iterator>

#include "pprl/error.hpp"

namespace pprl {

namespace {
const char base64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}

std::string base64_encode(const std::uint8_t* data, std::size_t size) {
    std::string out;
    out.reserve((size + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= size; i += 3) {
        const std::uint32_t v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
        out += base64_alphabet[v >> 18];
        out += base64_alphabet[(v >> 12) & 63];
        out += base64_alphabet[(v >> 6) & 63];
        out += base64_alphabet[v & 63];
    }
    if (i < size) {
        std::uint32_t v = data[i] << 16;
        if (i + 1 < size) v |= data[i + 1] << 8;
        out += base64_alphabet[v >> 18];
        out += base64_alphabet[(v >> 12) & 63];
        out += i + 1 < size ? base64_alphabet[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::string base64_decode(const std::string& text) {
    int value_of[256];
    std::fill(std::begin(value_of), std::end(value_of), -1);
    for (int i = 0; i < 64; ++i) value_of[static_cast<unsigned char>(base64_alphabet[i])] = i;
    if (text.size() % 4 != 0) throw ValidationError("base64 text length is not a multiple of 4");
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        int v[4];
        int padding = 0;
        for (int j = 0; j < 4; ++j) {
            const char c = text[i + j];
            if (c == '=' && i + 4 == text.size() && j >= 2) {
                v[j] = 0;
                ++padding;
                continue;
            }
            if (padding > 0 || (v[j] = value_of[static_cast<unsigned char>(c)]) < 0)
                throw ValidationError("invalid base64 character");
        }
        const std::uint32_t bits = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
        out += static_cast<char>(bits >> 16);
        if (padding < 2) out += static_cast<char>((bits >> 8) & 255);
        if (padding < 1) out += static_cast<char>(bits & 255);
    }
    return out;
}

}  // namespace pprl
