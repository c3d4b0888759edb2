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
#include <functional>
#include <unistd.h>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

namespace netdream {

// A small persistent pool, so that short batched calls (a forward pass of
// 64 images takes tens of microseconds) do not pay for starting threads.
// One job at a time: a caller that finds it busy (another Python thread)
// starts its own threads instead.
class Pool {
public:
    static Pool& instance() {
        static Pool* pool = new Pool();  // never destroyed: workers may outlive main
        return *pool;
    }

    // Runs job(k) for every k in [0, n): the caller takes k = 0 and the
    // pool's workers the others; returns false (having run nothing) if the
    // pool is busy or was inherited over fork. If the system refuses to start
    // as many workers as asked for, the ones that exist take what they can
    // and the caller runs the rest (results never depend on who runs a k).
    bool try_run(int n, const std::function<void(int)>& job) {
        std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
        if (!busy.owns_lock() || owner_ != ::getpid()) return false;
        int helpers;
        {
            std::lock_guard<std::mutex> lock(m_);
            try {
                while (static_cast<int>(workers_.size()) < n - 1)
                    workers_.emplace_back([this, k = static_cast<int>(workers_.size()) + 1] { loop(k); });
            } catch (const std::system_error&) {
                // fewer threads: run with the workers that started
            }
            helpers = std::min(n - 1, static_cast<int>(workers_.size()));
            job_ = &job;
            active_ = helpers + 1;
            pending_ = helpers;
            ++generation_;
        }
        cv_.notify_all();
        job(0);
        for (int k = helpers + 1; k < n; ++k) job(k);
        spin_until([&] { return pending_.load(std::memory_order_acquire) == 0; });
        std::unique_lock<std::mutex> lock(m_);
        done_.wait(lock, [&] { return pending_ == 0; });
        job_ = nullptr;
        return true;
    }

private:
    Pool() : owner_(::getpid()) {}

    // Waits briefly before sleeping: layer after layer of one image are
    // separate jobs, and waking a sleeping thread can take longer than a
    // layer (tens of microseconds on a virtual machine). After the first
    // spins it yields, so that on a busy machine the thread it waits for
    // gets the core.
    template <class Ready>
    static void spin_until(Ready ready) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(100);
        for (int i = 0; !ready(); ++i) {
            if (i < 64) {
#if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
#endif
                continue;
            }
            std::this_thread::yield();
            if (std::chrono::steady_clock::now() > until) return;
        }
    }

    void loop(int k) {
        std::uint64_t seen = 0;
        for (;;) {
            const std::function<void(int)>* job;
            spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; });
            {
                std::unique_lock<std::mutex> lock(m_);
                cv_.wait(lock, [&] { return generation_ != seen; });
                seen = generation_;
                if (k >= active_) continue;
                job = job_;
            }
            (*job)(k);
            std::lock_guard<std::mutex> lock(m_);
            if (--pending_ == 0) done_.notify_all();
        }
    }

    std::mutex busy_, m_;
    std::condition_variable cv_, done_;
    std::vector<std::thread> workers_;
    const std::function<void(int)>* job_ = nullptr;
    int active_ = 0;
    std::atomic<int> pending_{0};               // written under m_; read by spinners
    std::atomic<std::uint64_t> generation_{0};  // written under m_; read by spinners
    pid_t owner_;
};

// Calls fn(begin, end, thread_index) on disjoint ranges covering [0, n).
// An exception thrown by any worker is rethrown on the caller's thread after
// all workers have finished.
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
    const std::function<void(int)> run = [&](int k) {
        const std::size_t kk = static_cast<std::size_t>(k);
        std::size_t begin = n * kk / t, end = n * (kk + 1) / t;
        try {
            fn(begin, end, k);
        } catch (...) {
            std::lock_guard<std::mutex> lock(error_mutex);
            if (!error) error = std::current_exception();
        }
    };
    if (!Pool::instance().try_run(static_cast<int>(t), run)) {
        // the pool is busy (another Python thread): threads of our own, as
        // many as the system gives; the caller runs the ks of the others
        std::vector<std::thread> pool;
        pool.reserve(t - 1);
        try {
            for (std::size_t k = 1; k < t; ++k) pool.emplace_back(run, static_cast<int>(k));
        } catch (const std::system_error&) {
        }
        run(0);
        for (std::size_t k = pool.size() + 1; k < t; ++k) run(static_cast<int>(k));
        for (auto& th : pool) th.join();
    }
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
    const int t = static_cast<int>(std::min<std::size_t>(std::max(1, threads), std::max<std::size_t>(n, 1)));
    int running = 0;  // workers started and not yet done
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
    pool.reserve(t);
    for (int k = 0; k < t; ++k) {
        {
            std::lock_guard<std::mutex> lock(m);
            ++running;
        }
        try {
            pool.emplace_back(work);
        } catch (const std::system_error&) {
            // fewer threads than asked for: the ones that started take every item
            std::lock_guard<std::mutex> lock(m);
            --running;
            break;
        }
    }
    if (pool.empty())
        throw std::runtime_error("could not start a worker thread (the system refused; "
                                 "lower threads or free resources)");
    bool ticking = true;
    for (;;) {
        {
            std::unique_lock<std::mutex> lock(m);
            if (cv.wait_for(lock, period, [&] { return running == 0; })) break;
        }
        // once tick has asked to stop, it is not called again (a pending
        // Python exception must not meet another Python call)
        if (ticking && !tick()) {
            ticking = false;
            stop = true;
        }
    }
    for (auto& th : pool) th.join();
    if (error) std::rethrow_exception(error);
}

}  // namespace netdream
