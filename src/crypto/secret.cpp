// crypto/secret.cpp — key material: the SecretKey type, key files, and random bytes.
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cctype>
#include <cstring>
#include <string>

#include "crypto/crypto.hpp"
#include "format/atomic_file.hpp"
#include "pprl/error.hpp"
#include "pprl/secret.hpp"
#include "pprl/wire.hpp"

namespace pprl {

void secure_wipe(void* data, std::size_t size) noexcept {
    if (data != nullptr && size != 0) OPENSSL_cleanse(data, size);
}

SecretKey::SecretKey(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return;
    data_ = new std::uint8_t[size];
    size_ = size;
    std::memcpy(data_, data, size);
}

SecretKey::~SecretKey() { release(); }

SecretKey::SecretKey(SecretKey&& other) noexcept : data_(other.data_), size_(other.size_) {
    other.data_ = nullptr;
    other.size_ = 0;
}

SecretKey& SecretKey::operator=(SecretKey&& other) noexcept {
    if (this != &other) {
        release();
        data_ = other.data_;
        size_ = other.size_;
        other.data_ = nullptr;
        other.size_ = 0;
    }
    return *this;
}

void SecretKey::release() noexcept {
    secure_wipe(data_, size_);
    delete[] data_;
    data_ = nullptr;
    size_ = 0;
}

SecretKey SecretKey::generate(std::size_t size) {
    if (size < min_bytes) throw UsageError("a generated key must have at least 16 bytes");
    std::string bytes(size, '\0');
    crypto::random_bytes(reinterpret_cast<std::uint8_t*>(bytes.data()), size);
    SecretKey key(reinterpret_cast<const std::uint8_t*>(bytes.data()), size);
    secure_wipe(bytes.data(), bytes.size());
    return key;
}

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// The whitespace bytes that end a raw secret once its one trailing newline is dropped, named ("\r",
// "space", ...); empty when it ends in anything else. Names whitespace only, never a secret byte.
std::string trailing_whitespace(const std::string& content, std::size_t size) {
    std::string names;
    std::size_t begin = size;
    while (begin > 0 && std::isspace(static_cast<unsigned char>(content[begin - 1]))) --begin;
    for (std::size_t i = begin; i < size; ++i) {
        if (!names.empty()) names += " ";
        switch (content[i]) {
            case '\r': names += "\\r"; break;
            case '\n': names += "\\n"; break;
            case '\t': names += "\\t"; break;
            case ' ': names += "space"; break;
            default: names += "0x" + hex(reinterpret_cast<const std::uint8_t*>(&content[i]), 1); break;
        }
    }
    return names;
}

}  // namespace

SecretKey SecretKey::from_file(const std::string& path, FileEncoding encoding, std::string* warning) {
    // Messages never name the path: given by mistake, it could be the key itself.
    std::string content = read_file(path, max_file_bytes, "the secret file");
    SecretKey key;
    if (encoding == FileEncoding::raw) {
        std::size_t size = content.size();
        if (size > 0 && content[size - 1] == '\n') --size;
        if (size == 0) {
            secure_wipe(content.data(), content.size());
            throw ValidationError("the secret file is empty");
        }
        if (warning != nullptr) {
            const std::string tail = trailing_whitespace(content, size);
            if (!tail.empty())
                *warning = "the secret ends in whitespace (" + tail +
                           ") once its one final newline is dropped; those bytes are part of the secret, so a "
                           "partner whose clkhash secret lacks them gets different CLKs";
        }
        key = SecretKey(reinterpret_cast<const std::uint8_t*>(content.data()), size);
    } else {
        std::size_t begin = 0, end = content.size();
        while (begin < end && std::isspace(static_cast<unsigned char>(content[begin]))) ++begin;
        while (end > begin && std::isspace(static_cast<unsigned char>(content[end - 1]))) --end;
        const std::size_t digits = end - begin;
        bool valid = digits % 2 == 0;
        std::string bytes(digits / 2, '\0');
        for (std::size_t i = 0; valid && i < digits / 2; ++i) {
            int hi = hex_value(content[begin + 2 * i]), lo = hex_value(content[begin + 2 * i + 1]);
            if (hi < 0 || lo < 0) valid = false;
            else bytes[i] = static_cast<char>(hi * 16 + lo);
        }
        secure_wipe(content.data(), content.size());
        if (!valid) {
            secure_wipe(bytes.data(), bytes.size());
            throw ValidationError("the secret file is not a hex key (expected an even number of hex digits, as "
                                  "written by `pprl keygen`)");
        }
        if (bytes.size() < min_bytes) {
            const std::size_t bits = bytes.size() * 8;
            secure_wipe(bytes.data(), bytes.size());
            throw ValidationError("the secret file holds a " + std::to_string(bits) +
                                  "-bit key; at least 128 bits are required");
        }
        key = SecretKey(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
        secure_wipe(bytes.data(), bytes.size());
    }
    secure_wipe(content.data(), content.size());
    return key;
}

void SecretKey::write_hex_file(const std::string& path) const {
    if (path == standard_stream) throw UsageError("a key is never written to standard output; name a file");
    std::string text = hex(data_, size_);
    text.push_back('\n');
    try {
        AtomicFile file(path, 0600);
        file.write(text);
        file.commit();
    } catch (...) {
        secure_wipe(text.data(), text.size());
        throw;
    }
    secure_wipe(text.data(), text.size());
}

namespace crypto {

void random_bytes(std::uint8_t* out, std::size_t size) {
    if (size > static_cast<std::size_t>(INT32_MAX) || RAND_bytes(out, static_cast<int>(size)) != 1)
        throw InternalError("OpenSSL RAND_bytes failed: no entropy available");
}


}  // namespace crypto
}  // namespace pprl
