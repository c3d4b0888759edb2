// Helpers shared by the register_<area>.cpp files (the Python bindings).
// The bindings only convert, check and release the GIL; the algorithms live
// in include/netdream and never see Python.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "netdream/live.hpp"
#include "netdream/parallel.hpp"

namespace netdream::bind {

namespace py = pybind11;

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using ByteArray = py::array_t<std::uint8_t, py::array::c_style>;

// The threads to use: threads <= 0 means every core; never more than four
// per core (more only costs memory and switching).
inline int resolve_threads(int threads) {
    // asked once: hardware_concurrency reads /sys, which costs more than a
    // small forward pass
    static const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    const int most = static_cast<int>(4 * hw);
    if (threads <= 0) return static_cast<int>(hw);
    return std::min(threads, most);
}

// Runs fn(item, stop) for items [0, n) on `threads` workers with the GIL
// released; every 50 ms the caller's thread takes the GIL to check for
// Ctrl-C, to call progress(done) with the work done so far, and to call
// on_tick() (if given), which returns false to stop the search early. A
// Python exception (KeyboardInterrupt, or one from progress or on_tick)
// stops the workers and is raised here; a C++ exception from a worker is
// rethrown here. Returns true if on_tick stopped the search.
template <class F>
bool run_monitored(std::size_t n, int threads, F&& fn, const py::object& progress,
                   const std::atomic<std::int64_t>& done,
                   const std::function<bool()>& on_tick = nullptr) {
    bool py_error = false, stopped = false;
    {
        py::gil_scoped_release release;
        parallel_items_monitored(
            n, resolve_threads(threads), fn,
            [&]() {
                py::gil_scoped_acquire acquire;
                if (PyErr_CheckSignals() != 0) {
                    py_error = true;
                    return false;
                }
                try {
                    if (!progress.is_none()) progress(done.load());
                    if (on_tick && !on_tick()) {
                        stopped = true;
                        return false;
                    }
                } catch (py::error_already_set& e) {
                    e.restore();
                    py_error = true;
                    return false;
                }
                return true;
            },
            std::chrono::milliseconds(50));
    }
    if (py_error) throw py::error_already_set();
    if (!progress.is_none()) progress(done.load());
    if (on_tick && !stopped) on_tick();  // the final snapshot
    return stopped;
}

// The on_tick of a search with a Python callback: when the view has a new
// snapshot, callback(images (rows, n) float32, scores (rows,), steps (rows,))
// is called; it returns False to stop the search (anything else goes on).
inline std::function<bool()> live_callback(const py::object& callback, LiveView& view,
                                           std::uint64_t& seen) {
    if (callback.is_none()) return nullptr;
    return [&callback, &view, &seen]() {
        std::vector<float> images;
        std::vector<double> scores;
        std::vector<std::int64_t> steps;
        if (!view.read(seen, images, scores, steps)) return true;
        const auto rows = static_cast<py::ssize_t>(view.rows());
        py::array_t<float> im({rows, static_cast<py::ssize_t>(view.n())});
        std::copy(images.begin(), images.end(), im.mutable_data());
        py::object r = callback(im, py::array(py::cast(scores)), py::array(py::cast(steps)));
        return !(r.ptr() == Py_False);
    };
}

void register_net(py::module_& m);
void register_search(py::module_& m);
void register_grad(py::module_& m);

}  // namespace netdream::bind
