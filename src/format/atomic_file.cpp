#include "format/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "pprl/error.hpp"

namespace pprl {
namespace {

// Writes are gathered into this much memory before a write(2) call.
constexpr std::size_t write_buffer_bytes = 1 << 20;

// `what` and a name already quoted or described (a path in quotes, "the secret file").
std::string os_error(const std::string& what, const std::string& name) { return what + " " + name + ": " + std::strerror(errno); }

std::string quoted(const std::string& path) { return "'" + path + "'"; }

// Temporary files not yet renamed, so that a signal handler can remove them: fixed slots of fixed
// size, since the handler may only call async-signal-safe functions (unlink) and read plain memory.
constexpr int max_temporary_files = 64;
constexpr std::size_t max_temporary_path = 4096;
char temporary_paths[max_temporary_files][max_temporary_path];
volatile std::sig_atomic_t temporary_used[max_temporary_files];
std::mutex temporary_mutex;

int register_temporary(const std::string& path) {
    if (path.size() >= max_temporary_path) return -1;
    std::lock_guard<std::mutex> lock(temporary_mutex);
    for (int i = 0; i < max_temporary_files; ++i)
        if (!temporary_used[i]) {
            std::memcpy(temporary_paths[i], path.c_str(), path.size() + 1);
            temporary_used[i] = 1;
            return i;
        }
    return -1;
}

void unregister_temporary(int slot) {
    if (slot < 0) return;
    std::lock_guard<std::mutex> lock(temporary_mutex);
    temporary_used[slot] = 0;
}

}  // namespace

void remove_temporary_files() noexcept {
    for (int i = 0; i < max_temporary_files; ++i)
        if (temporary_used[i]) ::unlink(temporary_paths[i]);
}

AtomicFile::AtomicFile(std::string path, unsigned mode) : path_(std::move(path)), mode_(mode) {
    if (path_.empty()) throw UsageError("output path is empty");
    if (path_ == standard_stream) {
        fd_ = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0);
        if (fd_ < 0) throw IoError(os_error("cannot write to", "standard output"));
        direct_ = standard_output_ = true;
        buffer_.reserve(write_buffer_bytes);
        return;
    }
    // A symbolic link is followed: the file it names is written (atomically, beside itself), never
    // the link replaced by a regular file. A device or FIFO (/dev/null, a pipe) is written through.
    struct stat link {};
    if (::lstat(path_.c_str(), &link) == 0 && S_ISLNK(link.st_mode)) {
        char* resolved = ::realpath(path_.c_str(), nullptr);
        if (resolved != nullptr) {
            target_ = resolved;
            std::free(resolved);
        } else {
            // A dangling link: the file it names is created.
            std::vector<char> text(max_temporary_path);
            const ssize_t n = ::readlink(path_.c_str(), text.data(), text.size() - 1);
            if (n <= 0) throw IoError(os_error("cannot follow the link", quoted(path_)));
            target_.assign(text.data(), static_cast<std::size_t>(n));
            if (target_[0] != '/' && path_.find('/') != std::string::npos)
                target_ = path_.substr(0, path_.rfind('/') + 1) + target_;
        }
    } else {
        target_ = path_;
    }
    struct stat info {};
    if (::stat(target_.c_str(), &info) == 0 && !S_ISREG(info.st_mode)) {
        if (!S_ISCHR(info.st_mode) && !S_ISFIFO(info.st_mode))
            throw UsageError("the output " + quoted(path_) + " is " +
                             (S_ISDIR(info.st_mode) ? "a directory" : "not a regular file"));
        fd_ = ::open(target_.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd_ < 0) throw IoError(os_error("cannot open", quoted(path_)));
        direct_ = true;
        buffer_.reserve(write_buffer_bytes);
        return;
    }
    std::vector<char> pattern(target_.begin(), target_.end());
    const char suffix[] = ".tmp.XXXXXX";
    pattern.insert(pattern.end(), suffix, suffix + sizeof(suffix));  // includes the NUL
    fd_ = ::mkstemp(pattern.data());
    if (fd_ < 0) throw IoError(os_error("cannot create a temporary file for", quoted(path_)));
    temp_path_ = pattern.data();
    temporary_slot_ = register_temporary(temp_path_);
    buffer_.reserve(write_buffer_bytes);
}

AtomicFile::~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
    unregister_temporary(temporary_slot_);
}

void AtomicFile::flush_buffer() {
    std::size_t done = 0;
    while (done < buffer_.size()) {
        ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw IoError(os_error("cannot write", quoted(path_)));
        }
        done += static_cast<std::size_t>(n);
    }
    buffer_.clear();
}

void AtomicFile::write(const void* data, std::size_t size) {
    if (committed_) throw UsageError("write after commit to '" + path_ + "'");
    const char* bytes = static_cast<const char*>(data);
    if (buffer_.size() + size > write_buffer_bytes) flush_buffer();
    if (size >= write_buffer_bytes) {
        buffer_.assign(bytes, size);
        flush_buffer();
    } else {
        buffer_.append(bytes, size);
    }
    position_ += size;
}

void AtomicFile::write_at(std::uint64_t offset, const void* data, std::size_t size) {
    if (standard_output_) throw UsageError("this output cannot go to standard output (it is patched once complete)");
    flush_buffer();
    const char* bytes = static_cast<const char*>(data);
    std::size_t done = 0;
    while (done < size) {
        ssize_t n = ::pwrite(fd_, bytes + done, size - done, static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw IoError(os_error("cannot write", quoted(path_)));
        }
        done += static_cast<std::size_t>(n);
    }
}

void AtomicFile::commit() {
    flush_buffer();
    if (direct_) {
        if (::close(fd_) != 0) {
            fd_ = -1;
            throw IoError(os_error("cannot close", quoted(path_)));
        }
        fd_ = -1;
        committed_ = true;
        return;
    }
    if (::fchmod(fd_, mode_) != 0) throw IoError(os_error("cannot set permissions of", quoted(path_)));
    if (::fsync(fd_) != 0) throw IoError(os_error("cannot flush", quoted(path_)));
    if (::close(fd_) != 0) {
        fd_ = -1;
        throw IoError(os_error("cannot close", quoted(path_)));
    }
    fd_ = -1;
    if (::rename(temp_path_.c_str(), target_.c_str()) != 0) throw IoError(os_error("cannot rename onto", quoted(path_)));
    committed_ = true;
    unregister_temporary(temporary_slot_);
    temporary_slot_ = -1;
}

int open_input(const std::string& path, InputKind kind, const std::string& shown_as) {
    const std::string name = shown_as.empty() ? "'" + path + "'" : shown_as;
    if (path == standard_stream) {
        if (kind == InputKind::regular) throw UsageError(name + ": standard input is read only for CSV and JSON tables");
        const int fd = ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0);
        if (fd < 0) throw IoError(os_error("cannot read", "standard input"));
        struct stat info {};
        if (::fstat(fd, &info) != 0 || S_ISDIR(info.st_mode) || (S_ISCHR(info.st_mode) && !::isatty(fd)) ||
            S_ISBLK(info.st_mode)) {
            ::close(fd);
            throw IoError("standard input is not a file, pipe or terminal");
        }
        return fd;
    }
    // O_NONBLOCK so that opening a FIFO never waits for a writer; cleared again once the kind of
    // file is known.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) throw IoError(os_error("cannot open", name));
    struct stat info {};
    if (::fstat(fd, &info) != 0) {
        const std::string message = os_error("cannot stat", name);
        ::close(fd);
        throw IoError(message);
    }
    const bool regular = S_ISREG(info.st_mode);
    const bool stream = S_ISFIFO(info.st_mode) || S_ISSOCK(info.st_mode);
    if (!regular && !(stream && kind == InputKind::regular_or_stream)) {
        ::close(fd);
        throw IoError(name + " is " +
                      (S_ISDIR(info.st_mode) ? "a directory" : stream ? "a pipe, not a file" : "not a regular file") +
                      (kind == InputKind::regular_or_stream ? "" : " (a regular file is needed)"));
    }
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    return fd;
}

std::string read_file(const std::string& path, std::size_t max_bytes, const std::string& shown_as, InputKind kind) {
    const std::string name = shown_as.empty() ? "'" + path + "'" : shown_as;
    const int fd = open_input(path, kind, shown_as);
    std::string content;
    // Small files (keys) are read into one buffer that never moves, so no copy is left behind.
    if (max_bytes <= sizeof(char[1 << 16])) content.reserve(max_bytes);
    char chunk[1 << 16];
    for (;;) {
        const ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR) continue;
            const std::string message = os_error("cannot read", name);
            ::close(fd);
            throw IoError(message);
        }
        if (n == 0) break;
        if (content.size() + static_cast<std::size_t>(n) > max_bytes) {
            ::close(fd);
            std::fill(content.begin(), content.end(), '\0');
            throw IoError(name + " is larger than " + std::to_string(max_bytes) + " bytes, the most read here");
        }
        content.append(chunk, static_cast<std::size_t>(n));
    }
    ::close(fd);
    std::fill(chunk, chunk + sizeof chunk, '\0');
    return content;
}

}  // namespace pprl
