// Fuzz target: the pprl file reader (inspect and load, every header field and section).
#include "fuzz_target.hpp"
#include "pprl/format.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string path = pprl::fuzz::as_file(data, size, ".pprl");
    pprl::fuzz::refusal_allowed([&] {
        const pprl::FileReport report = pprl::inspect_encoded_file(path);
        (void)report;
        const pprl::FilterMatrix matrix = pprl::load_encoded_file(path);
        std::uint64_t sum = 0;
        for (std::uint32_t count : matrix.popcounts()) sum += count;
        for (const auto& id : matrix.ids()) sum += id.size();
        if (sum == UINT64_MAX) std::abort();
    });
    return 0;
}
