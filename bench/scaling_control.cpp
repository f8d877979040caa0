// A control for the two-thread targets: how well does this machine scale work that shares nothing?
//   scaling_control [repeats]
// Runs a register-only scalar integer kernel, a register-only AVX-512 (VPTERNLOGQ + VPOPCNTQ)
// kernel and a cache kernel (random reads and writes in a private 1 MiB table, the footprint of the
// encoder's per-thread working set) on one thread, then the same work on each of two threads, and
// prints the scaling (2 × one-thread time / two-thread time; 2.00 is perfect). Nothing is shared and
// nothing synchronises: any spread here is the machine's (host load, frequency, shared execution
// units and caches), not pprl's.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace {

std::uint64_t scalar_work(std::uint64_t n) {
    std::uint64_t a = 1, b = 2, c = 3, d = 4;
    for (std::uint64_t i = 0; i < n; ++i) {
        a = a * 6364136223846793005ULL + b;
        b ^= a >> 13;
        c += d * 3;
        d ^= c << 7;
    }
    return a + b + c + d;
}

// Random reads and writes within a table private to the thread: bound by the core's L2 cache.
std::uint64_t cache_work(std::uint64_t n) {
    constexpr std::size_t entries = std::size_t{1} << 17;  // 1 MiB of 64-bit words
    std::vector<std::uint64_t> table(entries);
    for (std::size_t i = 0; i < entries; ++i) table[i] = i * 0x9E3779B97F4A7C15ULL;
    std::uint64_t x = 1, sum = 0;
    for (std::uint64_t i = 0; i < n; ++i) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        sum += table[(x >> 40) & (entries - 1)];
        table[(x >> 20) & (entries - 1)] ^= sum;
    }
    return sum;
}

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512vpopcntdq"))) std::uint64_t vector_work(std::uint64_t n) {
    __m512i a = _mm512_set1_epi64(1), b = _mm512_set1_epi64(3), c = _mm512_set1_epi64(5), d = _mm512_set1_epi64(7);
    __m512i x = _mm512_setzero_si512(), y = _mm512_setzero_si512();
    for (std::uint64_t i = 0; i < n; ++i) {
        a = _mm512_ternarylogic_epi64(a, b, c, 0x96);
        b = _mm512_ternarylogic_epi64(b, c, d, 0xe8);
        c = _mm512_ternarylogic_epi64(c, d, a, 0x96);
        d = _mm512_ternarylogic_epi64(d, a, b, 0xe8);
        x = _mm512_add_epi64(x, _mm512_popcnt_epi64(a));
        y = _mm512_add_epi64(y, _mm512_popcnt_epi64(c));
    }
    alignas(64) std::uint64_t lanes[8];
    _mm512_store_si512(lanes, _mm512_add_epi64(x, y));
    std::uint64_t sum = 0;
    for (std::uint64_t lane : lanes) sum += lane;
    return sum;
}
#endif

double seconds(std::uint64_t (*work)(std::uint64_t), int threads, std::uint64_t n) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    std::vector<std::uint64_t> sink(static_cast<std::size_t>(threads));
    for (int t = 0; t < threads; ++t) pool.emplace_back([&, t] { sink[static_cast<std::size_t>(t)] = work(n); });
    for (auto& t : pool) t.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (sink[0] == 42) std::printf(" ");  // keeps the work observable
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    const int repeats = argc > 1 ? std::atoi(argv[1]) : 5;
#if defined(__x86_64__)
    __builtin_cpu_init();
    const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq");
#else
    const bool avx512 = false;
#endif
    for (int r = 0; r < repeats; ++r) {
        const std::uint64_t n = 200'000'000;
        const double s1 = seconds(scalar_work, 1, n), s2 = seconds(scalar_work, 2, n);
        std::printf("run %d: scalar scaling %.2f", r + 1, 2 * s1 / s2);
        const double c1 = seconds(cache_work, 1, n / 2), c2 = seconds(cache_work, 2, n / 2);
        std::printf(", cache scaling %.2f", 2 * c1 / c2);
#if defined(__x86_64__)
        if (avx512) {
            const double v1 = seconds(vector_work, 1, n / 4), v2 = seconds(vector_work, 2, n / 4);
            std::printf(", AVX-512 scaling %.2f", 2 * v1 / v2);
        }
#endif
        std::printf("\n");
    }
    return 0;
}
