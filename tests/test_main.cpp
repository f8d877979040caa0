// The test program's main: GoogleTest, after checking PPRL_FORCE_BACKEND. A forced implementation
// this CPU (or build) cannot run makes the run a skip (exit 77, ctest's SKIP_RETURN_CODE for the
// per-implementation runs); any other problem with the variable fails the run.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "pprl/error.hpp"
#include "simd/isa.hpp"

int main(int argc, char** argv) {
    try {
        pprl::simd::check_override();
    } catch (const pprl::Error& error) {
        const std::string message = error.what();
        const bool unavailable = message.find("cannot run") != std::string::npos ||
                                 message.find("not compiled") != std::string::npos;
        std::fprintf(stderr, "%s: %s\n", unavailable ? "skipped" : "error", message.c_str());
        return unavailable ? 77 : 2;
    }
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
