// runtime/parallel.hpp — running work on a few threads (internal to the library).
//
// Every parallel step in pprl has the same shape: resolve "0 = all cores", cap by the amount of
// work, run one worker per thread with worker 0 on the calling thread, join. These helpers are that
// shape, so the encoder, the matcher and LSH do not each spell it out; overlap is the other shape,
// two different jobs at once (the encoder's pipeline, the registry's solving beside its writes).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace pprl::detail {

// `requested` threads, or every hardware thread when 0; at most `work_items` (and at least 1).
inline unsigned thread_count(unsigned requested, std::size_t work_items) {
    const unsigned wanted = requested != 0 ? requested : std::max(1u, std::thread::hardware_concurrency());
    return static_cast<unsigned>(std::min<std::size_t>(wanted, std::max<std::size_t>(work_items, 1)));
}

// Starts a thread running `fn` (the default for run_workers; tests pass one that fails).
struct StartThread {
    template <class Fn>
    std::thread operator()(Fn&& fn) const {
        return std::thread(std::forward<Fn>(fn));
    }
};

// Calls work(id) for id = 0 .. threads-1, each on its own thread (id 0 on the caller), and joins.
// If a thread cannot be started (the system's thread or memory limit), the ids it would have run
// run on the calling thread after its own, so all the work is done, only more slowly. Every started
// thread is joined before an exception from the calling thread's work propagates.
template <class Work, class Start = StartThread>
void run_workers(unsigned threads, Work&& work, Start&& start = Start{}) {
    std::vector<std::thread> pool;
    pool.reserve(threads);
    unsigned started = 1;
    try {
        for (; started < threads; ++started) {
            const unsigned id = started;
            pool.push_back(start([&work, id] { work(id); }));
        }
    } catch (const std::system_error&) {
        // fewer threads than asked: the rest of the ids run below, on this thread
    }
    try {
        work(0u);
        for (unsigned id = started; id < threads; ++id) work(id);
    } catch (...) {
        for (auto& thread : pool) thread.join();
        throw;
    }
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

// One step of a pipeline: `background` (if any) on a thread of its own when `own_thread` (else, or
// when no thread can be had, first, here) while `foreground` runs on this thread. Both have ended
// when it returns; a failure of foreground is rethrown first, then one of background.
inline void overlap(const std::function<void()>& background, bool own_thread, const std::function<void()>& foreground) {
    std::exception_ptr failure;
    const auto run = [&] {
        try {
            if (background) background();
        } catch (...) {
            failure = std::current_exception();
        }
    };
    std::thread thread;
    if (own_thread && background) {
        try {
            thread = std::thread(run);
        } catch (const std::system_error&) {
            run();  // no thread to be had: the two run in turn
        }
    } else {
        run();
    }
    try {
        foreground();
    } catch (...) {
        if (thread.joinable()) thread.join();
        throw;
    }
    if (thread.joinable()) thread.join();
    if (failure) std::rethrow_exception(failure);
}

}  // namespace pprl::detail
