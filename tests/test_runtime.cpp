// Runtime helpers: threads that cannot be started, work that throws.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "runtime/parallel.hpp"

namespace pprl {
namespace {

// Starts `allowed` threads, then fails as the system does at its thread limit.
struct FailingStart {
    unsigned allowed;
    mutable unsigned started = 0;
    template <class Fn>
    std::thread operator()(Fn&& fn) const {
        if (started == allowed) throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again));
        ++started;
        return std::thread(std::forward<Fn>(fn));
    }
};

TEST(Parallel, EveryWorkerRunsOnceWhenThreadsCannotBeStarted) {
    for (unsigned allowed : {0u, 1u, 3u}) {
        std::vector<std::atomic<int>> runs(8);
        detail::run_workers(8, [&](unsigned id) { ++runs[id]; }, FailingStart{allowed});
        for (unsigned id = 0; id < 8; ++id) EXPECT_EQ(runs[id].load(), 1) << "worker " << id << ", " << allowed << " threads";
    }
}

TEST(Parallel, AThrowingCallerJoinsItsThreadsBeforeTheErrorLeaves) {
    std::atomic<int> finished{0};
    EXPECT_THROW(detail::run_workers(4,
                                     [&](unsigned id) {
                                         if (id == 0) throw std::runtime_error("caller failed");
                                         ++finished;
                                     }),
                 std::runtime_error);
    EXPECT_EQ(finished.load(), 3);  // joined, not abandoned (which would have terminated the process)
}

}  // namespace
}  // namespace pprl
