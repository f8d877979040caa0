// All-pairs Dice matching at 1024 bits, 10k x 100k, t = 0.8 (issue 4's acceptance table).
//
// Each entry reports comparisons/s: the number of (a, b) pairs the run decides, pruned or not,
// divided by wall time — the figure a user sees. `x_baseline` divides it by the anonlink-style loop's
// rate measured first in the same process, on the same data. `per_core` divides by the thread count.
#include <benchmark/benchmark.h>

#include <chrono>

#include "anonlink_baseline.hpp"
#include "bench_data.hpp"
#include "pprl/match.hpp"
#include "pprl/simd.hpp"

namespace {

using namespace pprl;

constexpr std::size_t a_rows = 10'000, b_rows = 100'000;
constexpr unsigned bits = 1024;

struct Inputs {
    FilterMatrix a, b;
};

const Inputs& inputs() {
    static const Inputs data = [] {
        Inputs d{bench::clk_like(a_rows, bits, 1, "a"), bench::clk_like(b_rows, bits, 2, "b")};
        bench::plant_matches(d.a, d.b, a_rows / 2, 3);
        return d;
    }();
    return data;
}

double baseline_rate = 0;

void BM_AnonlinkStyleBaseline(benchmark::State& state) {
    const Inputs& d = inputs();
    std::size_t found = 0;
    const auto start = std::chrono::steady_clock::now();
    for (auto _ : state) {
        std::vector<std::pair<std::uint32_t, std::uint32_t>> out;
        found = bench::anonlink_style_match(d.a, d.b, 0.8, out);
        benchmark::DoNotOptimize(out.data());
    }
    const double pairs = static_cast<double>(a_rows) * b_rows;
    // Entries run in registration order, so every later entry can divide by this rate.
    baseline_rate = pairs * state.iterations() /
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.SetItemsProcessed(static_cast<std::int64_t>(pairs * state.iterations()));
    state.counters["candidates"] = static_cast<double>(found);
    state.counters["per_core"] = benchmark::Counter(pairs * state.iterations(), benchmark::Counter::kIsRate);
}

void run_match(benchmark::State& state, const std::string& backend, unsigned threads, bool prune) {
    const Inputs& d = inputs();
    simd::ScopedBackend guard(backend);
    MatchOptions options;
    options.threshold = Threshold::parse("0.8");
    options.threads = threads;
    options.prune = prune;
    std::size_t found = 0;
    const auto start = std::chrono::steady_clock::now();
    for (auto _ : state) {
        const Candidates c = match(d.a, d.b, options);
        found = c.size();
        benchmark::DoNotOptimize(c.a_index.data());
    }
    const double pairs = static_cast<double>(a_rows) * b_rows * state.iterations();
    state.SetItemsProcessed(static_cast<std::int64_t>(pairs));
    state.counters["candidates"] = static_cast<double>(found);
    state.counters["per_core"] = benchmark::Counter(pairs / threads, benchmark::Counter::kIsRate);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (baseline_rate > 0) state.counters["x_baseline"] = pairs / seconds / baseline_rate;
}

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    // The baseline runs first so that every later entry can report its ratio against it.
    benchmark::RegisterBenchmark("match/anonlink_style_baseline/threads:1", BM_AnonlinkStyleBaseline)
        ->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();
    for (const auto& backend : simd::available_backends())
        for (bool prune : {false, true})
            benchmark::RegisterBenchmark(
                ("match/backend:" + backend + "/prune:" + (prune ? "on" : "off") + "/threads:1").c_str(),
                [backend, prune](benchmark::State& s) { run_match(s, backend, 1, prune); })
                ->Unit(benchmark::kMillisecond)->MinTime(1.0)->UseRealTime();
    const std::string dispatched = simd::active_backend();
    for (unsigned threads : {1u, 2u})
        for (bool prune : {false, true})
            benchmark::RegisterBenchmark(
                ("match/dispatched/prune:" + std::string(prune ? "on" : "off") + "/threads:" + std::to_string(threads)).c_str(),
                [dispatched, threads, prune](benchmark::State& s) { run_match(s, dispatched, threads, prune); })
                ->Unit(benchmark::kMillisecond)->MinTime(1.0)->UseRealTime();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
