// format/atomic_file.hpp — files that appear whole or not at all, and inputs that are bounded.
//
// AtomicFile writes to a temporary file beside the destination (mkstemp) and renames it over the
// destination only in commit(), after flushing and fsync. If the writer throws or the process dies
// first, the destination is untouched and the destructor removes the temporary, so a crash never
// leaves a half-written file under the real name; a signal handler can remove the temporaries
// (remove_temporary_files). A symbolic link as destination is followed (the file it names is
// replaced, not the link); a device or FIFO (/dev/null, a pipe) is written through, never replaced;
// a directory is refused. The path "-" is standard output, written through as it comes (no temporary,
// so a failure part-way leaves what was already written); write_at is refused there.
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
    // The temporary file being written, for a writer that fills it by name (SQLite's online backup);
    // empty when the output is written through (standard output, a device).
    const std::string& temporary_path() const noexcept { return temp_path_; }

private:
    void flush_buffer();

    std::string path_;
    std::string target_;  // path_, or the file a symbolic link at path_ names
    std::string temp_path_;
    int temporary_slot_ = -1;
    bool direct_ = false;  // a device or FIFO, written in place
    bool standard_output_ = false;
    int fd_ = -1;
    unsigned mode_;
    std::uint64_t position_ = 0;
    std::string buffer_;
    bool committed_ = false;
};

// Removes every temporary file an AtomicFile has created and not yet renamed or removed.
// Async-signal-safe: the CLI calls it from its SIGINT/SIGTERM handler.
void remove_temporary_files() noexcept;

enum class InputKind {
    regular,            // a regular file: keys, schemas, encoded files (size known, never endless)
    regular_or_stream,  // also a pipe or FIFO (CSV input streamed from another program)
};

// The path that names standard input or output ("-") for CSV and JSON tables.
constexpr const char* standard_stream = "-";

// Opens an input for reading and returns its descriptor. Refuses (IoError, naming the path) a
// directory, a device such as /dev/zero, and, for InputKind::regular, a FIFO or socket, so no
// reader waits forever or reads an endless file. Never blocks while opening. "-" is a duplicate of
// standard input for InputKind::regular_or_stream (a file, pipe, socket or terminal) and refused for
// InputKind::regular.
int open_input(const std::string& path, InputKind kind, const std::string& shown_as = {});

// The whole of a regular file of at most `max_bytes` bytes; IoError naming the path otherwise.
// `shown_as` replaces the quoted path in messages (a secret file's path may be a mistyped key).
std::string read_file(const std::string& path, std::size_t max_bytes, const std::string& shown_as = {},
                      InputKind kind = InputKind::regular);

}  // namespace pprl
