// Fuzz target: the schema reader, both dialects (pprl's and clkhash's, chosen by the document).
#include "fuzz_target.hpp"
#include "pprl/schema.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    pprl::fuzz::refusal_allowed([&] {
        const pprl::Schema schema = pprl::Schema::from_json(text, "fuzz");
        if (schema.canonical_json().empty()) std::abort();
    });
    return 0;
}
