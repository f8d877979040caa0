// Encoding throughput on one million generated youth rows with the example schema: records/s and
// tokens/s for 1 and 2 threads (CSV parsing, normalisation, tokenising, keyed hashing; output
// discarded). A micro-benchmark beside it compares the precomputed HMAC key schedule against
// OpenSSL's one-shot HMAC() per token, the simple baseline.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "pprl/crypto.hpp"
#include "pprl/encode.hpp"
#include "pprl/io.hpp"

namespace {

using namespace pprl;

constexpr std::size_t rows = 1'000'000;

const char* first_names[] = {"Aaliyah", "José", "Liam", "Mei", "Darnell", "Sofía", "Noah", "Zoë", "Amara", "Ethan",
                             "Jayden", "Xiomara", "Mohammed", "Olivia", "DeShawn", "Guadalupe", "Nguyen", "Isabella",
                             "Kwame", "Emma", "Santiago", "Fatima", "Jamal", "Chloe", "Mateo", "Aisha", "Lucas", "Ava"};
const char* last_names[] = {"Johnson", "García-López", "O'Neal", "Chen", "Washington", "Müller", "Smith", "Okafor",
                            "Nguyen", "Hernández", "Williams", "Brown", "Jones", "Davis", "Rodríguez", "Martínez",
                            "Kim", "Patel", "Jackson", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis-Smith"};
const char* streets[] = {"Elm St", "W Madison Ave", "Lake Shore Dr", "S Halsted St", "Pine Ct", "N Ashland Ave",
                         "Oak Park Blvd", "E 71st St", "W Lawrence Ave", "Birch Rd"};

bool input_written = false;

const std::string& input_csv() {
    static const std::string path = [] {
        input_written = true;
        const std::string p = (std::filesystem::temp_directory_path() / ("pprl-bench-youth-" + std::to_string(::getpid()) + ".csv")).string();
        std::ofstream out(p);
        out << "record_id,first_name,last_name,dob,sex,address,zip\n";
        std::mt19937_64 rng(1);
        char line[256];
        for (std::size_t i = 0; i < rows; ++i) {
            std::snprintf(line, sizeof line, "r%zu,%s,%s,%04d-%02d-%02d,%c,%d %s,%05d\n", i,
                          first_names[rng() % std::size(first_names)], last_names[rng() % std::size(last_names)],
                          2008 + static_cast<int>(rng() % 18), 1 + static_cast<int>(rng() % 12),
                          1 + static_cast<int>(rng() % 28), "FMX"[rng() % 3], 1 + static_cast<int>(rng() % 9999),
                          streets[rng() % std::size(streets)], 60600 + static_cast<int>(rng() % 60));
            out << line;
        }
        return p;
    }();
    return path;
}

SecretKey bench_key() {
    std::uint8_t raw[32];
    for (int i = 0; i < 32; ++i) raw[i] = static_cast<std::uint8_t>(i * 7 + 1);
    return SecretKey(raw, 32);
}

// The example schema as shipped (with its BLIP hardening), or without its hardening steps.
Schema example_schema(bool hardened) {
    std::string text = read_file(std::string(PPRL_SOURCE_DIR) + "/examples/youth_schema.json");
    if (!hardened) {
        const std::string steps = R"(, "hardening": [{"step": "blip", "epsilon": 3}])";
        if (const auto at = text.find(steps); at != std::string::npos) text.erase(at, steps.size());
    }
    return Schema::from_json(text);
}

void encode_csv_bench(benchmark::State& state, bool hardened) {
    const Schema schema = example_schema(hardened);
    const SecretKey key = bench_key();
    EncodeOptions options;
    options.threads = static_cast<unsigned>(state.range(0));
    std::uint64_t tokens = 0, records = 0;
    const std::string& input = input_csv();  // generated once, before the timed loop
    for (auto _ : state) {
        const EncodeSummary summary = encode_csv(input, schema, key, options, [](const FilterMatrix& part) {
            benchmark::DoNotOptimize(part.data());
        });
        tokens += summary.tokens;
        records += summary.rows_encoded;
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(records));
    state.counters["records_per_s"] = benchmark::Counter(static_cast<double>(records), benchmark::Counter::kIsRate);
    state.counters["tokens_per_s"] = benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
    state.counters["records_per_s_per_core"] =
        benchmark::Counter(static_cast<double>(records) / static_cast<double>(state.range(0)), benchmark::Counter::kIsRate);
}
void BM_EncodeCsv(benchmark::State& state) { encode_csv_bench(state, true); }
void BM_EncodeCsvUnhardened(benchmark::State& state) { encode_csv_bench(state, false); }
BENCHMARK(BM_EncodeCsv)->Arg(1)->Arg(2)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();
BENCHMARK(BM_EncodeCsvUnhardened)->Arg(1)->Arg(2)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

void BM_TokenHmacPrecomputed(benchmark::State& state) {
    const SecretKey key = bench_key();
    const crypto::HmacSha256 mac(key);
    const std::string token = "an";
    for (auto _ : state) benchmark::DoNotOptimize(mac.mac(0, token.data(), token.size()));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TokenHmacPrecomputed);

void BM_TokenHmacOneShotBaseline(benchmark::State& state) {
    const SecretKey key = bench_key();
    const std::string token = "an";
    for (auto _ : state) benchmark::DoNotOptimize(crypto::hmac_sha256(key.data(), key.size(), token.data(), token.size()));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TokenHmacOneShotBaseline);

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    if (input_written) std::filesystem::remove(input_csv());
    return 0;
}
