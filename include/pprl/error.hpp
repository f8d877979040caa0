// pprl/error.hpp — the one exception family of pprl.
//
// Everything that can fail (I/O, OpenSSL, parsing, validation) throws a pprl::Error carrying a
// category. The CLI maps categories to exit codes and the Python bindings map them to exception
// classes. Messages say what was wrong and where (file, row, field, JSON pointer) and never contain
// the personal value that was being processed, nor any key material.
#pragma once

#include <stdexcept>
#include <string>

namespace pprl {

enum class ErrorCategory {
    usage,         // the caller asked for something impossible (bad option value, wrong API use)
    validation,    // input data or schema does not satisfy its rules
    key_mismatch,  // two encodings (or an encoding and a schema) were made with different keys/schemas
    format,        // an encoded file is malformed, truncated or corrupted
    io,            // the operating system refused a read or write
    internal,      // a library pprl relies on failed (OpenSSL), or memory ran out
};

// Exit codes documented in the README; the CLI returns these for each category.
constexpr int exit_code_for(ErrorCategory category) noexcept {
    switch (category) {
        case ErrorCategory::usage: return 2;
        case ErrorCategory::validation: return 3;
        case ErrorCategory::key_mismatch: return 4;
        case ErrorCategory::format: return 5;
        case ErrorCategory::io: return 5;
        case ErrorCategory::internal: return 5;
    }
    return 5;
}

constexpr const char* category_name(ErrorCategory category) noexcept {
    switch (category) {
        case ErrorCategory::usage: return "usage";
        case ErrorCategory::validation: return "validation";
        case ErrorCategory::key_mismatch: return "key/schema mismatch";
        case ErrorCategory::format: return "format";
        case ErrorCategory::io: return "io";
        case ErrorCategory::internal: return "internal";
    }
    return "unknown";
}

class Error : public std::runtime_error {
public:
    Error(ErrorCategory category, const std::string& message)
        : std::runtime_error(message), category_(category) {}
    ErrorCategory category() const noexcept { return category_; }

private:
    ErrorCategory category_;
};

class UsageError : public Error {
public:
    explicit UsageError(const std::string& message) : Error(ErrorCategory::usage, message) {}
};
class ValidationError : public Error {
public:
    explicit ValidationError(const std::string& message) : Error(ErrorCategory::validation, message) {}
};
class KeyMismatchError : public Error {
public:
    explicit KeyMismatchError(const std::string& message) : Error(ErrorCategory::key_mismatch, message) {}
};
class FormatError : public Error {
public:
    explicit FormatError(const std::string& message) : Error(ErrorCategory::format, message) {}
};
class IoError : public Error {
public:
    explicit IoError(const std::string& message) : Error(ErrorCategory::io, message) {}
};
class InternalError : public Error {
public:
    explicit InternalError(const std::string& message) : Error(ErrorCategory::internal, message) {}
};

}  // namespace pprl
