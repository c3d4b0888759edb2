// Hill climbing on the input of a network: perturb one pixel at a time, keep
// the change if the score improves. Plain C++: no Python.
//
// The core trick: the engine keeps a per-image state from which a one-pixel
// change is re-evaluated incrementally (for an MLP, layer 0's
// pre-activations: a change of pixel i by d moves them by d * W[:, i], a
// contiguous row of the transposed layer 0), so a candidate costs a sliver
// of a forward pass.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <vector>

#include "netdream/live.hpp"
#include "netdream/net.hpp"
#include "netdream/objective.hpp"
#include "netdream/regularizer.hpp"

namespace netdream {

enum class Start : int { Given = 0, Sparse = 1, Noise = 2 };
enum class Precision : int { Float32 = 0, Float64 = 1 };

struct HillSpec {
    Goal goal;
    std::int64_t steps = 0;        // candidates per run
    double step_size = 0.1;        // a candidate moves a pixel by U(-step_size, step_size), clamped to [0, 1]
    Start start = Start::Given;
    double sparse_fraction = 0.1;  // Start::Sparse: this share of pixels gets U(0, sparse_amount)
    double sparse_amount = 0.1;
    Precision precision = Precision::Float32;
    std::vector<RegTerm> regularizer;  // score -= sum of weight * term
    std::int64_t record_every = 0;   // 0: no trajectory
    std::int64_t refresh_every = 0;  // recompute the kept state from scratch this often (0: never)
    // Stop a run once its objective score (without the regulariser) reaches
    // this (checked after every accepted candidate; +inf: never).
    double stop_score = std::numeric_limits<double>::infinity();
    std::uint64_t seed = 0;
    std::int64_t first_run = 0;      // run r of a call uses random stream first_run + r
};

// One run's input and output. image: in, the start (Start::Given), out, the
// final image; n_in doubles in [0, 1], ink high.
struct HillRun {
    double* image = nullptr;
    std::int64_t accepted = 0;       // out
    std::int64_t steps = 0;          // out: candidates tried (fewer than spec.steps after a stop_score stop)
    double score = 0.0;              // out: the final objective score, without the regulariser
    double total = 0.0;              // out: score - the weighted regulariser
    float* trace_images = nullptr;   // out (optional): records x n_in
    double* trace_scores = nullptr;  // out (optional): records (total)
};

inline std::int64_t hill_records(const HillSpec& s) {
    return s.record_every > 0 ? s.steps / s.record_every + 1 : 0;
}

// The engine of one call: checks the spec against the network once, then
// runs are independent (run r of the call uses random stream first_run + r),
// so they can be spread over threads in any way.
class HillClimber {
public:
    HillClimber(const Net& net, const HillSpec& spec);  // std::invalid_argument if they do not fit
    // Runs one hill climb. Returns false if stop became true before the end
    // (the run then holds what it reached: image, score, steps and accepted so
    // far). steps_done counts candidates across runs. view (optional) gets the
    // run's image every 8192 candidates and at the end, as row r.
    bool run(std::int64_t r, HillRun& run, const std::atomic<bool>& stop,
             std::atomic<std::int64_t>& steps_done, LiveView* view = nullptr) const;

private:
    const Net& net_;
    HillSpec spec_;
    Regularizer reg_;
};

// For tests: a convolutional network's incremental state (the hill
// climber's) from image x, through n proposals (pixel, delta), each
// accepted where accept[k]; returns the largest relative difference between
// the state and a full recomputation, checked every check_every accepted
// proposals and at the end.
double conv_probe_replay(const Net& net, const Goal& goal, const double* x, const int* pixels,
                         const double* deltas, const std::uint8_t* accept, std::size_t n,
                         int check_every, int lazy = -1, int sums = -1);

}  // namespace netdream
