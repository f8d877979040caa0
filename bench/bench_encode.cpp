// Encoding throughput on one million synthetic youth rows with the example schema: records/s and
// tokens/s for 1 and 2 threads (CSV parsing, normalisation, tokenising, keyed hashing, hardening;
// output discarded). Baselines in the same run: the same encoder with its token cache off (every token
// hashed), and the example schema without hardening. A micro-benchmark beside it compares the
// precomputed HMAC key schedule against OpenSSL's one-shot HMAC() per token.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

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

// The example schema as shipped (with its hardening), or without its hardening steps.
Schema example_schema(bool hardened) {
    const std::string text =
        read_file(std::string(PPRL_SOURCE_DIR) + "/examples/youth_schema.json", Schema::max_file_bytes);
    nlohmann::json json = nlohmann::json::parse(text);
    if (!hardened) json["filter"].erase("hardening");
    return Schema::from_json(json.dump());
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

// BLIP ε = 3 on 1024-bit filters alone (the example's hardening before diffusion, still offered):
// one HMAC of id and filter, 2 KiB of AES-256-CTR keystream (VAES where the CPU has it;
// PPRL_FORCE_BACKEND=aes=openssl for OpenSSL's), the coin compare. Records/s.
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

// The example schema's hardening, diffusion with t = 3 to 1024 bits, on 1024-bit filters with 40 %
// of their bits set (the example's encodings set about that many): records/s, with the diffusion
// kernel the CPU's best (PPRL_FORCE_BACKEND=diffusion=portable|avx2 to choose). The baseline
// in the same run sums the same images, obtained from the hardener one unit vector at a time, in
// memory word by word, as apply did before its sum moved into vector registers.
struct DiffusionCase {
    Hardener hardener;
    std::vector<std::vector<std::uint8_t>> filters;
    explicit DiffusionCase(const SecretKey& key) : hardener(diffusion_steps(), 1024, key, Fingerprint{}) {
        std::uint64_t state = 88172645463325252ull;  // xorshift: the filters need only be fixed and varied
        filters.assign(4096, std::vector<std::uint8_t>(128, 0));
        for (auto& filter : filters)
            for (unsigned bit = 0; bit < 1024; ++bit) {
                state ^= state << 13, state ^= state >> 7, state ^= state << 17;
                if (state % 5 < 2) filter[bit / 8] |= static_cast<std::uint8_t>(0x80u >> (bit % 8));
            }
    }
    static std::vector<HardeningStep> diffusion_steps() {
        HardeningStep diffusion;
        diffusion.kind = HardeningKind::diffusion;
        diffusion.t = 3;
        diffusion.output_bits = 1024;
        return {diffusion};
    }
};

void BM_DiffusionApply(benchmark::State& state) {
    const DiffusionCase c(bench_key());
    std::vector<std::uint8_t> out(128);
    Hardener::Workspace workspace;  // one per thread, as the encoder keeps it
    std::size_t i = 0;
    for (auto _ : state) {
        c.hardener.apply(c.filters[i++ % c.filters.size()].data(), out.data(), "", workspace);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DiffusionApply);

void BM_DiffusionSumInMemoryBaseline(benchmark::State& state) {
    const DiffusionCase c(bench_key());
    std::vector<std::uint64_t> images(1024 * 16);
    std::vector<std::uint8_t> unit(128, 0);
    for (unsigned bit = 0; bit < 1024; ++bit) {
        unit[bit / 8] = static_cast<std::uint8_t>(0x80u >> (bit % 8));
        c.hardener.apply(unit.data(), reinterpret_cast<std::uint8_t*>(images.data() + bit * 16), "");
        unit[bit / 8] = 0;
    }
    std::vector<std::uint64_t> sum(16);
    std::size_t i = 0;
    for (auto _ : state) {
        const std::uint8_t* f = c.filters[i++ % c.filters.size()].data();
        std::fill(sum.begin(), sum.end(), 0);
        std::uint64_t* const o = sum.data();
        for (unsigned word = 0; word < 16; ++word) {
            std::uint64_t w = 0;
            std::memcpy(&w, f + 8 * word, 8);
            for (w = __builtin_bswap64(w); w != 0; w &= w - 1) {
                const std::uint64_t* image = images.data() + (64 * word + 63 - __builtin_ctzll(w)) * 16;
                for (std::size_t q = 0; q < 16; ++q) o[q] ^= image[q];
            }
        }
        benchmark::DoNotOptimize(o);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DiffusionSumInMemoryBaseline);

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
