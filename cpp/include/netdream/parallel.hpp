// A minimal, exception-safe parallel-for over std::thread (no OpenMP, so it
// does not fight Numba's threading layer). Work is split into contiguous
// static chunks; since every item is computed independently of how the items
// are split, results do not depend on the number of threads.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
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

// Runs fn(item, stop) for every item in [0, n) on `threads` workers that take
// items in turn, while the calling thread wakes every `period` to call
// tick(); when tick returns false, `stop` is set and the workers are expected
// to return soon. Which worker runs which item does not affect any result:
// each item is computed on its own. Worker exceptions are rethrown here.
template <class F, class Tick>
void parallel_items_monitored(std::size_t n, int threads, F&& fn, Tick&& tick,
                              std::chrono::milliseconds period) {
    std::atomic<std::size_t> next{0};
    std::atomic<bool> stop{false};
    std::exception_ptr error;
    std::mutex m;
    std::condition_variable cv;
    int running = static_cast<int>(std::min<std::size_t>(std::max(1, threads), std::max<std::size_t>(n, 1)));
    auto work = [&]() {
        try {
            for (;;) {
                if (stop.load()) break;
                const std::size_t item = next.fetch_add(1);
                if (item >= n) break;
                fn(item, stop);
            }
        } catch (...) {
            std::lock_guard<std::mutex> lock(m);
            if (!error) error = std::current_exception();
            stop = true;
        }
        std::lock_guard<std::mutex> lock(m);
        --running;
        cv.notify_all();
    };
    std::vector<std::thread> pool;
    const int t = running;
    pool.reserve(t);
    for (int k = 0; k < t; ++k) pool.emplace_back(work);
    for (;;) {
        {
            std::unique_lock<std::mutex> lock(m);
            if (cv.wait_for(lock, period, [&] { return running == 0; })) break;
        }
        if (!tick()) stop = true;
    }
    for (auto& th : pool) th.join();
    if (error) std::rethrow_exception(error);
}

}  // namespace netdream
