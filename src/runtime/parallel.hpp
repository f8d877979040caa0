// src/parallel.hpp — running work on a few threads (internal to the library).
//
// Every parallel step in pprl has the same shape: resolve "0 = all cores", cap by the amount of
// work, run one worker per thread with worker 0 on the calling thread, join. These helpers are that
// shape, so the encoder, the matcher and LSH do not each spell it out.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace pprl::detail {

// `requested` threads, or every hardware thread when 0; at most `work_items` (and at least 1).
inline unsigned thread_count(unsigned requested, std::size_t work_items) {
    const unsigned wanted = requested != 0 ? requested : std::max(1u, std::thread::hardware_concurrency());
    return static_cast<unsigned>(std::min<std::size_t>(wanted, std::max<std::size_t>(work_items, 1)));
}

// Calls work(id) for id = 0 .. threads-1, each on its own thread (id 0 on the caller), and joins.
template <class Work>
void run_workers(unsigned threads, Work&& work) {
    std::vector<std::thread> pool;
    for (unsigned id = 1; id < threads; ++id) pool.emplace_back([&work, id] { work(id); });
    work(0u);
    for (auto& thread : pool) thread.join();
}

// Calls body(i, worker) for i in [0, n) on `threads` threads; items are taken from a shared counter
// so uneven items balance out.
template <class Body>
void parallel_for(std::size_t n, unsigned threads, Body&& body) {
    std::atomic<std::size_t> next{0};
    run_workers(threads, [&](unsigned id) {
        for (std::size_t i; (i = next.fetch_add(1)) < n;) body(i, id);
    });
}

}  // namespace pprl::detail
