// A minimal, exception-safe parallel-for over std::thread (no OpenMP, so it
// does not fight Numba's threading layer). Work is split into contiguous
// static chunks; since every item is computed independently of how the items
// are split, results do not depend on the number of threads.
#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace netdream {

// Calls fn(begin, end, thread_index) on disjoint ranges covering [0, n).
// An exception thrown by any worker is rethrown on the caller's thread after
// all workers have joined.
template <class F>
void parallel_for(std::size_t n, int threads, F&& fn) {
    if (n == 0) return;
    std::size_t t = static_cast<std::size_t>(std::max(1, threads));
    t = std::min(t, n);
    if (t == 1) {
        fn(std::size_t{0}, n, 0);
        return;
    }
    std::exception_ptr error;
    std::mutex error_mutex;
    auto run = [&](std::size_t k) {
        std::size_t begin = n * k / t, end = n * (k + 1) / t;
        try {
            fn(begin, end, static_cast<int>(k));
        } catch (...) {
            std::lock_guard<std::mutex> lock(error_mutex);
            if (!error) error = std::current_exception();
        }
    };
    std::vector<std::thread> pool;
    pool.reserve(t - 1);
    for (std::size_t k = 1; k < t; ++k) pool.emplace_back(run, k);
    run(0);
    for (auto& th : pool) th.join();
    if (error) std::rethrow_exception(error);
}

}  // namespace netdream
