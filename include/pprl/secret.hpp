// pprl/secret.hpp — key material that wipes itself and cannot be printed.
//
// A SecretKey owns a heap buffer that is overwritten with OPENSSL_cleanse when the key is destroyed
// or moved from. It is move-only, has no stream operator, no to_string and no accessor that returns
// a std::string, so it cannot end up in a log line, an error message or a Python repr by accident.
// The CLI reads it from a file (never a command-line value); nothing in pprl ever writes it except
// `write_hex_file`, which `pprl keygen` uses with mode 0600.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace pprl {

// Overwrite memory in a way the compiler may not optimise away (OPENSSL_cleanse).
void secure_wipe(void* data, std::size_t size) noexcept;

class SecretKey {
public:
    // How a key file's bytes are interpreted.
    enum class FileEncoding {
        hex,  // pprl keys: hex digits (as written by `pprl keygen`), surrounding whitespace ignored
        raw,  // clkhash-style secrets: the file's bytes, less one trailing newline
    };

    // Smallest key pprl accepts for its own encodings (128 bits).
    static constexpr std::size_t min_bytes = 16;
    // Largest key file read: far above any key or clkhash secret, so a wrong file is refused early.
    static constexpr std::size_t max_file_bytes = 4096;

    SecretKey() noexcept = default;
    SecretKey(const std::uint8_t* data, std::size_t size);
    ~SecretKey();
    SecretKey(SecretKey&& other) noexcept;
    SecretKey& operator=(SecretKey&& other) noexcept;
    SecretKey(const SecretKey&) = delete;
    SecretKey& operator=(const SecretKey&) = delete;

    // `size` bytes from the operating system's CSPRNG (OpenSSL RAND_bytes).
    static SecretKey generate(std::size_t size = 32);

    // Reads a key file: a regular file of at most max_file_bytes. Throws IoError if it cannot be read
    // (a directory, a FIFO or a device is refused, never waited on), ValidationError if it is
    // malformed or (for hex keys) shorter than min_bytes. Messages name neither the path (which may
    // be a key typed by mistake) nor the content. For a raw secret that still ends in whitespace once its
    // one final newline is dropped (a file saved with "\r\n", "\n\n" or a trailing space), `warning`, if
    // given, receives a message naming those whitespace bytes: they stay part of the secret, as in
    // clkhash, and are the usual reason two agencies' CLKs silently differ.
    static SecretKey from_file(const std::string& path, FileEncoding encoding = FileEncoding::hex,
                               std::string* warning = nullptr);

    // Writes the key as lowercase hex plus a newline, atomically, with permissions 0600.
    void write_hex_file(const std::string& path) const;

    const std::uint8_t* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }

private:
    void release() noexcept;

    std::uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace pprl
