// tests/fuzz/fuzz_target.hpp — what every fuzz target shares.
//
// Each target defines LLVMFuzzerTestOneInput and feeds the bytes to one reader of untrusted input.
// A reader may refuse its input only with a pprl::Error (the documented exit codes); anything else
// (another exception, a crash, a sanitizer report) is a finding. Built two ways: with clang's
// libFuzzer (PPRL_FUZZ, `make fuzz`, and a short run in `make test`), and with a plain main
// (driver.cpp) that replays the committed corpus under gcc's ASan/UBSan as regression tests.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "pprl/error.hpp"

namespace pprl::fuzz {

// The input as a file (the readers take paths): one per process, rewritten for every input and
// removed when the process exits normally (libFuzzer's end of -max_total_time, the driver's return).
inline std::string& input_path() {
    static std::string path;
    return path;
}

inline void remove_input_file() {
    if (!input_path().empty()) std::remove(input_path().c_str());
}

inline std::string as_file(const std::uint8_t* data, std::size_t size, const char* suffix) {
    static const std::string& path = [suffix]() -> const std::string& {
        const char* dir = std::getenv("TMPDIR");
        input_path() = std::string(dir != nullptr ? dir : "/tmp") + "/pprl-fuzz-" + std::to_string(::getpid()) + suffix;
        std::atexit(remove_input_file);
        return input_path();
    }();
    std::FILE* file = std::fopen(path.c_str(), "wb");
    if (file == nullptr) std::abort();
    if (size > 0 && std::fwrite(data, 1, size, file) != size) std::abort();
    std::fclose(file);
    return path;
}

// Runs `read`; a pprl::Error is an accepted refusal.
template <class Read>
void refusal_allowed(Read&& read) {
    try {
        read();
    } catch (const pprl::Error&) {
    }
}

}  // namespace pprl::fuzz
