// One exact all-pairs run at scale (default 1M x 1M, 1024 bits, t = 0.8, all cores) on CLK-like
// data generated here, 1% of B planted as true matches. Prints wall time, rate, candidates and peak
// resident memory (getrusage); scripts/bench.sh also wraps it in /usr/bin/time -v.
//   match_million [n_a] [n_b] [threshold] [threads]
//   match_million n_a n_b threshold threads A.pprl B.pprl   writes the two inputs instead of matching
//                                                          (bench/dask_match.py runs them)
//   match_million --files A.pprl B.pprl threshold threads   matches two encoded files instead (the
//                                                          kernel alone on real encodings: the roofline)
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench_data.hpp"
#include "pprl/format.hpp"
#include "pprl/match.hpp"
#include "pprl/simd.hpp"

int main(int argc, char** argv) {
    using namespace pprl;
    if (argc == 6 && std::string(argv[1]) == "--files") {
        const FilterMatrix a = load_encoded_file(argv[2]), b = load_encoded_file(argv[3]);
        MatchOptions options;
        options.threshold = Threshold::parse(argv[4]);
        options.threads = static_cast<unsigned>(std::atoi(argv[5]));
        const auto start = std::chrono::steady_clock::now();
        const Candidates c = match(a, b, options);
        const double run = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("match_million: %zu x %zu from files at t=%s, backend %s, threads %u\n", a.rows(), b.rows(), argv[4],
                    simd::active_backend().c_str(), options.threads);
        std::printf("  match %.3f s, %.2f G comparisons/s, %zu candidates, mean popcount %.1f\n", run,
                    static_cast<double>(a.rows()) * static_cast<double>(b.rows()) / run / 1e9, c.size(),
                    a.popcount_summary().mean);
        return 0;
    }
    const std::size_t na = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
    const std::size_t nb = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1'000'000;
    const std::string threshold = argc > 3 ? argv[3] : "0.8";
    const unsigned threads = argc > 4 ? static_cast<unsigned>(std::atoi(argv[4])) : 0;
    auto t0 = std::chrono::steady_clock::now();
    FilterMatrix a = bench::clk_like(na, 1024, 11, "a");
    FilterMatrix b = bench::clk_like(nb, 1024, 12, "b");
    bench::plant_matches(a, b, nb / 100, 13);
    auto t1 = std::chrono::steady_clock::now();
    if (argc > 6) {
        a.info().party = "a";
        b.info().party = "b";
        write_encoded_file(argv[5], a);
        write_encoded_file(argv[6], b);
        std::printf("match_million: wrote %zu and %zu filters to %s and %s\n", na, nb, argv[5], argv[6]);
        return 0;
    }
    MatchOptions options;
    options.threshold = Threshold::parse(threshold);
    options.threads = threads;
    const Candidates c = match(a, b, options);
    auto t2 = std::chrono::steady_clock::now();
    const double gen = std::chrono::duration<double>(t1 - t0).count();
    const double run = std::chrono::duration<double>(t2 - t1).count();
    struct rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    std::printf("match_million: %zu x %zu at t=%s, backend %s, threads %u\n", na, nb, threshold.c_str(),
                simd::active_backend().c_str(), threads);
    std::printf("  generate %.1f s, match %.1f s, %.2f G comparisons/s, %zu candidates, peak RSS %.0f MiB\n", gen, run,
                static_cast<double>(na) * nb / run / 1e9, c.size(), usage.ru_maxrss / 1024.0);
    return 0;
}
