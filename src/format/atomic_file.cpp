#include "format/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "pprl/error.hpp"

namespace pprl {
namespace {

// Writes are gathered into this much memory before a write(2) call.
constexpr std::size_t write_buffer_bytes = 1 << 20;

std::string os_error(const std::string& what, const std::string& path) {
    return what + " '" + path + "': " + std::strerror(errno);
}

}  // namespace

AtomicFile::AtomicFile(std::string path, unsigned mode) : path_(std::move(path)), mode_(mode) {
    if (path_.empty()) throw UsageError("output path is empty");
    std::vector<char> pattern(path_.begin(), path_.end());
    const char suffix[] = ".tmp.XXXXXX";
    pattern.insert(pattern.end(), suffix, suffix + sizeof(suffix));  // includes the NUL
    fd_ = ::mkstemp(pattern.data());
    if (fd_ < 0) throw IoError(os_error("cannot create a temporary file for", path_));
    temp_path_ = pattern.data();
    buffer_.reserve(write_buffer_bytes);
}

AtomicFile::~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
}

void AtomicFile::flush_buffer() {
    std::size_t done = 0;
    while (done < buffer_.size()) {
        ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw IoError(os_error("cannot write", path_));
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
    flush_buffer();
    const char* bytes = static_cast<const char*>(data);
    std::size_t done = 0;
    while (done < size) {
        ssize_t n = ::pwrite(fd_, bytes + done, size - done, static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw IoError(os_error("cannot write", path_));
        }
        done += static_cast<std::size_t>(n);
    }
}

void AtomicFile::commit() {
    flush_buffer();
    if (::fchmod(fd_, mode_) != 0) throw IoError(os_error("cannot set permissions of", path_));
    if (::fsync(fd_) != 0) throw IoError(os_error("cannot flush", path_));
    if (::close(fd_) != 0) {
        fd_ = -1;
        throw IoError(os_error("cannot close", path_));
    }
    fd_ = -1;
    if (::rename(temp_path_.c_str(), path_.c_str()) != 0) throw IoError(os_error("cannot rename onto", path_));
    committed_ = true;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw IoError(os_error("cannot open", path));
    std::ostringstream content;
    content << in.rdbuf();
    if (in.bad()) throw IoError(os_error("cannot read", path));
    return content.str();
}

}  // namespace pprl
