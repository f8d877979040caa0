// pprl/io.hpp — files that appear whole or not at all.
//
// AtomicFile writes to a temporary file beside the destination (mkstemp) and renames it over the
// destination only in commit(), after flushing and fsync. If the writer throws or the process dies
// first, the destination is untouched and the destructor removes the temporary, so a crash never
// leaves a half-written file under the real name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace pprl {

class AtomicFile {
public:
    // `mode` is applied to the final file (0600 for keys, 0644 otherwise).
    explicit AtomicFile(std::string path, unsigned mode = 0644);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    void write(const void* data, std::size_t size);
    void write(const std::string& text) { write(text.data(), text.size()); }
    // Overwrite bytes already written (used to patch a header once the record count is known).
    void write_at(std::uint64_t offset, const void* data, std::size_t size);
    std::uint64_t position() const noexcept { return position_; }
    void commit();
    const std::string& path() const noexcept { return path_; }

private:
    void flush_buffer();

    std::string path_;
    std::string temp_path_;
    int fd_ = -1;
    unsigned mode_;
    std::uint64_t position_ = 0;
    std::string buffer_;
    bool committed_ = false;
};

// Whole file into memory; IoError naming the path on failure.
std::string read_file(const std::string& path);

}  // namespace pprl
