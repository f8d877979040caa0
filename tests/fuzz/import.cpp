// Fuzz target: base64 import (CSV record_id,clk and clkhash JSON) and the base64 decoder.
#include "format/base64.hpp"
#include "fuzz_target.hpp"
#include "pprl/format.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string path = pprl::fuzz::as_file(data, size, ".import");
    for (unsigned bits : {64u, 1024u}) {
        pprl::fuzz::refusal_allowed([&] {
            const pprl::FilterMatrix matrix = pprl::import_base64(path, bits, "fuzz");
            if (matrix.rows() != matrix.ids().size()) std::abort();
        });
    }
    pprl::fuzz::refusal_allowed([&] {
        const std::string decoded = pprl::base64_decode(std::string(reinterpret_cast<const char*>(data), size));
        const std::string again = pprl::base64_encode(reinterpret_cast<const std::uint8_t*>(decoded.data()), decoded.size());
        if (pprl::base64_decode(again) != decoded) std::abort();
    });
    return 0;
}
