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
//
// The parts of a job are claimed, not assigned: the caller claims parts
// too, and when it has run out of parts it waits only for the parts that
// workers claimed. So a worker that starts late (asleep, or its core busy
// with another process) leaves its part to the caller rather than making it
// wait; when it gets to run, it finds the job over.
class Pool {
public:
    static Pool& instance() {
        static Pool* pool = new Pool();  // never destroyed: workers may outlive main
        return *pool;
    }

    // Runs job(k, slot) once for every part k in [0, n), on the calling
    // thread (slot 0) and workers 1 .. n - 1, whichever claims k first: no
    // two parts run at once with the same slot. Returns false (having run
    // nothing) if the pool is busy or was inherited over fork. If the system
    // refuses to start as many workers as asked for, the ones that exist take
    // what they can (results never depend on who runs a part).
    bool try_run(int n, const std::function<void(int, int)>& job) {
        std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
        if (!busy.owns_lock() || owner_ != ::getpid()) return false;
        std::uint32_t gen;
        {
            std::lock_guard<std::mutex> lock(m_);
            try {
                while (static_cast<int>(workers_.size()) < n - 1)
                    workers_.emplace_back([this, slot = static_cast<int>(workers_.size()) + 1] { loop(slot); });
            } catch (const std::system_error&) {
                // fewer threads: run with the workers that started
            }
            job_ = &job;
            n_.store(n, std::memory_order_relaxed);
            done_.store(0, std::memory_order_relaxed);
            gen = generation(state_.load(std::memory_order_relaxed)) + 1;
            state_.store(static_cast<std::uint64_t>(gen) << 32, std::memory_order_release);
        }
        cv_.notify_all();
        run_claimed(gen, 0);
        spin_until([&] { return done_.load(std::memory_order_acquire) == n; });
        std::unique_lock<std::mutex> lock(m_);
        finished_.wait(lock, [&] { return done_.load(std::memory_order_acquire) == n; });
        job_ = nullptr;
        return true;
    }

private:
    Pool() : owner_(::getpid()) {}

    static std::uint32_t generation(std::uint64_t state) { return static_cast<std::uint32_t>(state >> 32); }

    // Claims and runs parts of job `gen` until none is left (or the job is
    // another's: a worker that woke late).
    void run_claimed(std::uint32_t gen, int slot) {
        std::uint64_t s = state_.load(std::memory_order_acquire);
        for (;;) {
            const int n = n_.load(std::memory_order_relaxed);
            if (generation(s) != gen || static_cast<int>(s & 0xffffffffu) >= n) return;
            if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire))
                continue;
            // claimed part k of the current job: the caller waits for it, so
            // the job is alive until done_ reaches n
            (*job_)(static_cast<int>(s & 0xffffffffu), slot);
            if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == n) {
                std::lock_guard<std::mutex> lock(m_);
                finished_.notify_all();
            }
            s = state_.load(std::memory_order_acquire);
        }
    }

    // Waits briefly before sleeping (for up to `spin`): layer after layer of
    // one image are separate jobs, and waking a sleeping thread can take
    // longer than a layer (tens of microseconds on a virtual machine). After
    // the first spins it yields, so that on a busy machine the thread it
    // waits for gets the core.
    template <class Ready>
    static void spin_until(Ready ready, std::chrono::microseconds spin = std::chrono::microseconds(100)) {
        const auto until = std::chrono::steady_clock::now() + spin;
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

    void loop(int slot) {
        std::uint32_t seen = 0;
        for (;;) {
            auto current = [&] { return generation(state_.load(std::memory_order_acquire)); };
            // Workers wait for the next job longer than the caller waits
            // for a part (as OpenMP's and BLAS's threads do): Linux wakes a
            // sleeping worker on the waker's own core, so a job that finds
            // its workers asleep runs on one core (and a call every few
            // hundred microseconds, a loop over batches, would always find
            // them asleep).
            spin_until([&] { return current() != seen; }, kWorkerSpin);
            {
                std::unique_lock<std::mutex> lock(m_);
                cv_.wait(lock, [&] { return current() != seen; });
                seen = current();
                if (slot >= n_.load(std::memory_order_relaxed)) continue;  // a job for fewer threads
            }
            run_claimed(seen, slot);
        }
    }

    static constexpr std::chrono::microseconds kWorkerSpin{2000};

    std::mutex busy_, m_;
    std::condition_variable cv_, finished_;
    std::vector<std::thread> workers_;
    const std::function<void(int, int)>* job_ = nullptr;  // written before state_'s release
    std::atomic<int> n_{0};                          // the current job's parts (and threads)
    std::atomic<int> done_{0};                       // parts of it finished
    std::atomic<std::uint64_t> state_{0};            // generation << 32 | next unclaimed part
    pid_t owner_;
};

// Calls fn(begin, end, thread_index) on `threads` disjoint ranges covering
// [0, n), at most `threads` at a time, each with its own thread_index in
// [0, threads) (for per-thread buffers). The ranges are claimed in turn, so
// a range whose thread has not started when the caller is done with its own
// is the caller's (finer parts, four per thread, measured no faster and
// cost the genetic search 4%). An exception thrown by any part is rethrown
// on the caller's thread after all parts have finished.
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
    const std::function<void(int, int)> run = [&](int k, int slot) {
        const std::size_t kk = static_cast<std::size_t>(k);
        std::size_t begin = n * kk / t, end = n * (kk + 1) / t;
        try {
            fn(begin, end, slot);
        } catch (...) {
            std::lock_guard<std::mutex> lock(error_mutex);
            if (!error) error = std::current_exception();
        }
    };
    if (!Pool::instance().try_run(static_cast<int>(t), run)) {
        // the pool is busy (another Python thread): threads of our own, as
        // many as the system gives, claiming parts in turn
        std::atomic<std::size_t> next{0};
        auto claim = [&](int slot) {
            for (std::size_t k; (k = next.fetch_add(1)) < t;) run(static_cast<int>(k), slot);
        };
        std::vector<std::thread> pool;
        pool.reserve(t - 1);
        try {
            for (std::size_t k = 1; k < t; ++k) pool.emplace_back(claim, static_cast<int>(k));
        } catch (const std::system_error&) {
        }
        claim(0);
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
