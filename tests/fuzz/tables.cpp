// Fuzz target: the readers of the hub's tables: truth, entities and pairs (both layouts), and the
// evaluation over what they read.
#include "fuzz_target.hpp"
#include "pprl/evaluate.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string path = pprl::fuzz::as_file(data, size, ".table");
    pprl::Truth truth;
    pprl::fuzz::refusal_allowed([&] { truth = pprl::Truth::from_file(path); });
    pprl::fuzz::refusal_allowed([&] {
        const auto rows = pprl::read_entities(path);
        pprl::evaluate_entities(truth, rows);
    });
    pprl::fuzz::refusal_allowed([&] {
        const auto pairs = pprl::read_pairs(path, "a", "b");
        pprl::evaluate_pairs(truth, pairs, 0.5);
        pprl::threshold_sweep(truth, pairs, {0.1, 0.5, 0.9});
    });
    return 0;
}
