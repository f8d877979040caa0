// Three parties end to end (issue 5's benchmark): 300k, 100k and 50k CLK-like filters of 1024 bits,
// with 50k people present in all three and 30k more in the first two; link = all-pairs matching of
// every party pair + greedy clustering, exact or with LSH blocking.
//   link_parties exact|lsh [threads]
// Prints seconds, comparisons, entities and recall of the planted people; run under /usr/bin/time -v
// for peak memory (scripts/bench.sh does).
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench_data.hpp"
#include "pprl/link.hpp"

int main(int argc, char** argv) {
    using namespace pprl;
    const std::string mode = argc > 1 ? argv[1] : "exact";
    const unsigned threads = argc > 2 ? static_cast<unsigned>(std::atoi(argv[2])) : 0;
    FilterMatrix a = bench::clk_like(300'000, 1024, 31, "a");
    FilterMatrix b = bench::clk_like(100'000, 1024, 32, "b");
    FilterMatrix c = bench::clk_like(50'000, 1024, 33, "c");
    bench::plant_matches(a, b, 80'000, 34);  // b[0..80k) are noisy copies of a[0..80k)
    bench::plant_matches(a, c, 50'000, 35);  // c[0..50k) are noisy copies of a[0..50k)
    a.info().party = "a";
    b.info().party = "b";
    c.info().party = "c";
    LinkOptions options;
    options.threshold = Threshold::parse("0.8");
    options.threads = threads;
    options.blocking = mode == "lsh";
    const auto start = std::chrono::steady_clock::now();
    const LinkResult r = link({&a, &b, &c}, options);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::size_t together = 0;  // planted people whose three records share an entity
    for (std::size_t i = 0; i < 50'000; ++i)
        together += r.entities.entity_id[i] == r.entities.entity_id[300'000 + i] &&
                    r.entities.entity_id[i] == r.entities.entity_id[400'000 + i];
    struct rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    std::printf("link_parties %s: 300k + 100k + 50k, %.1f s, %llu of %llu pairs compared, %zu candidates, "
                "%.4f of 50k three-party people fully linked, peak RSS %.0f MiB\n",
                mode.c_str(), seconds, static_cast<unsigned long long>(r.comparisons),
                static_cast<unsigned long long>(r.possible_pairs), r.candidates.size(), together / 50'000.0,
                usage.ru_maxrss / 1024.0);
    return 0;
}
