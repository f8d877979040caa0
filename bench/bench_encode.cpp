// Encoding throughput on one million synthetic youth rows with the example schema: records/s and
// tokens/s for 1 and 2 threads (CSV parsing, normalisation, tokenising, keyed hashing, BLIP; output
// discarded). Baselines in the same run: the same encoder with its token cache off (every token
// hashed), and the example schema without hardening. A micro-benchmark beside it compares the
// precomputed HMAC key schedule against OpenSSL's one-shot HMAC() per token.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>

#include "crypto/crypto.hpp"
#include "pprl/encode.hpp"
#include "pprl/harden.hpp"
#include "format/atomic_file.hpp"
#include "pprl/synth.hpp"

namespace {

using namespace pprl;

constexpr std::size_t rows = 1'000'000;

bool input_written = false;

// One million rows from the synthetic population (pprl::synthesize): one party that holds everyone,
// with city services' error profile (typos, nicknames, moved addresses, missing values, upper case),
// so names, dates and addresses vary as an agency's do rather than cycling through a short list.
const std::string& input_csv() {
    static const std::string path = [] {
        input_written = true;
        const std::filesystem::path dir =
            std::filesystem::temp_directory_path() / ("pprl-bench-youth-" + std::to_string(::getpid()));
        SynthOptions options;
        options.people = rows;
        options.seed = 7;
        options.parties = synth_parties({"city"});
        options.parties[0].errors.coverage = 1.0;
        write_synth(synthesize(options), dir.string());
        return (dir / "city.csv").string();
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
    std::string text = read_file(std::string(PPRL_SOURCE_DIR) + "/examples/youth_schema.json", Schema::max_file_bytes);
    if (!hardened) {
        const std::string steps = R"(, "hardening": [{"step": "blip", "epsilon": 3}])";
        if (const auto at = text.find(steps); at != std::string::npos) text.erase(at, steps.size());
    }
    return Schema::from_json(text);
}

void encode_csv_bench(benchmark::State& state, bool hardened, std::size_t token_cache_entries) {
    const Schema schema = example_schema(hardened);
    const SecretKey key = bench_key();
    EncodeOptions options;
    options.threads = static_cast<unsigned>(state.range(0));
    options.token_cache_entries = token_cache_entries;
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
// As shipped; the same without the token cache (every token hashed: the baseline); without hardening.
void BM_EncodeCsv(benchmark::State& state) { encode_csv_bench(state, true, default_token_cache_entries); }
void BM_EncodeCsvNoTokenCache(benchmark::State& state) { encode_csv_bench(state, true, 0); }
void BM_EncodeCsvUnhardened(benchmark::State& state) { encode_csv_bench(state, false, default_token_cache_entries); }
BENCHMARK(BM_EncodeCsv)->Arg(1)->Arg(2)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();
BENCHMARK(BM_EncodeCsvNoTokenCache)->Arg(1)->Arg(2)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();
BENCHMARK(BM_EncodeCsvUnhardened)->Arg(1)->Arg(2)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

// The shipped hardening step alone (BLIP ε = 3 on 1024-bit filters): one HMAC of id and filter, 2 KiB
// of AES-256-CTR keystream (VAES where the CPU has it; PPRL_FORCE_BACKEND=aes=openssl for OpenSSL's), the
// coin compare. Records/s.
void BM_BlipApply(benchmark::State& state) {
    const SecretKey key = bench_key();
    HardeningStep blip;
    blip.kind = HardeningKind::blip;
    blip.epsilon = 3;
    const Hardener hardener({blip}, 1024, key, Fingerprint{});
    std::vector<std::uint8_t> in(128), out(128);
    std::vector<std::string> ids(4096);
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = "city-" + std::to_string(1000000 + i);
    std::size_t i = 0;
    for (auto _ : state) {
        in[i % 128] ^= static_cast<std::uint8_t>(i);
        hardener.apply(in.data(), out.data(), ids[i % ids.size()]);
        benchmark::DoNotOptimize(out.data());
        ++i;
    }
    state.SetItemsProcessed(state.iterations());
    state.SetLabel(crypto::keystream_implementation());
}
BENCHMARK(BM_BlipApply);

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
    if (input_written) std::filesystem::remove_all(std::filesystem::path(input_csv()).parent_path());
    return 0;
}
