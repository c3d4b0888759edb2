// Hill climbing on the input of an MLP: perturb one pixel at a time, keep the
// change if the objective improves. Plain C++: no Python.
//
// The core trick: a change of pixel i by d moves layer 0's pre-activations
// by d * W[:, i] (a contiguous row of the transposed layer 0), so a candidate
// costs O(hidden) plus the remaining layers instead of a full forward pass.
#pragma once

#include <atomic>
#include <cstdint>

#include "netdream/net.hpp"
#include "netdream/rng.hpp"

namespace netdream {

enum class Objective : int { Prob = 0, LogProb = 1, Margin = 2, Hidden = 3 };
enum class Start : int { Given = 0, Sparse = 1, Uniform = 2 };

// Change in a regulariser's value when pixel i (row-major in an h x w image)
// is set to new_value: a Numba cfunc or any C function. Must be thread-safe
// (it only reads img and params).
using RegDeltaFn = double (*)(const double* img, std::int64_t h, std::int64_t w, std::int64_t i,
                              double new_value, const double* params);
// A regulariser's full value on an h x w image.
using RegValueFn = double (*)(const double* img, std::int64_t h, std::int64_t w,
                              const double* params);

struct HillSpec {
    Objective objective = Objective::LogProb;
    int target = 0;        // class, or unit of target_layer for Objective::Hidden
    int target_layer = 0;  // hidden layer (0 = first) for Objective::Hidden
    std::int64_t steps = 0;
    double step = 0.1;     // a candidate moves a pixel by U(-step, step), clamped to [0, 1]
    Start start = Start::Given;
    double sparse_fraction = 0.1;  // Start::Sparse: this share of pixels gets U(0, sparse_amount)
    double sparse_amount = 0.1;
    bool float64 = false;  // evaluate in double precision (exact recipes)
    double reg_weight = 0.0;
    RegDeltaFn reg_delta = nullptr;  // both or neither
    RegValueFn reg_value = nullptr;
    const double* reg_params = nullptr;
    int height = 28, width = 28;
    std::int64_t record_every = 0;  // 0: no trajectory
    std::int64_t refresh_every = 0; // recompute the kept state from scratch every so many steps (0: never)
    std::uint64_t seed = 0;
};

// One run's input and output. image: in, the start (Start::Given), out, the
// final image; n_in doubles in [0, 1], row-major, ink high.
struct HillRun {
    double* image = nullptr;
    std::int64_t accepted = 0;       // out
    double objective = 0.0;          // out: final objective (without the regulariser)
    double total = 0.0;              // out: objective + reg_weight * regulariser
    float* trace_images = nullptr;   // out (optional): records x n_in
    double* trace_values = nullptr;  // out (optional): records (total)
};

inline std::int64_t hill_records(const HillSpec& s) {
    return s.record_every > 0 ? s.steps / s.record_every + 1 : 0;
}

// Runs one hill climb (run index r decides the random stream). Returns false
// if stop became true before the end (the run is then incomplete).
using HillFn = bool (*)(const Net& net, const HillSpec& spec, std::int64_t r, HillRun& run,
                        const std::atomic<bool>& stop, std::atomic<std::int64_t>& steps_done);

}  // namespace netdream
