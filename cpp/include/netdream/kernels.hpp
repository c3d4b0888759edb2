// Hot loops, compiled once per instruction set (base x86-64 / SSE2, AVX2+FMA,
// AVX-512) and chosen at run time, so the default build runs on any machine
// of its architecture. Plain C++: no Python.
#pragma once

#include <cstddef>
#include <cstdint>

#include "netdream/net.hpp"
#include "netdream/objective.hpp"

namespace netdream {

enum class InputKind : int { Float32 = 0, Uint8 = 1 };

struct Kernels {
    const char* name;
    // Forward pass of rows [begin, end) of x (row stride n_in; uint8 input is
    // scaled by 1/255). Writes (end - begin) x n_out values to out: the output
    // activation (probabilities for softmax) or, with logits=true, the last
    // layer's pre-activations.
    void (*forward_rows)(const Net& net, const void* x, InputKind kind, std::size_t begin,
                         std::size_t end, float* out, bool logits);
    // From layer 0's pre-activations to the output (logits and/or output
    // activation; either may be null). scratch holds net.scratch_size() floats.
    void (*forward_from_pre0)(const Net& net, const float* pre0, float* logits, float* out,
                              float* scratch);
    // The one incremental update of layer 0 (the hill climber's candidate, the
    // genetic search's child from its parent, a full pass from the bias):
    // pre = init + sum_k val[k] * W0[:, idx[k]] (init may equal pre).
    void (*layer0_update)(const Net& net, const float* init, const int* idx, const float* val,
                          int n, float* pre);
    // The score of a goal (objective.hpp) from layer 0's pre-activations.
    double (*score_from_pre0)(const Net& net, const float* pre0, const Goal& goal, float* scratch);
    // The hill climber's candidate: cand = pre + d * W0[:, i] (layer0_update
    // for one column) and score_from_pre0(cand), in one call.
    double (*score_candidate)(const Net& net, const float* pre, int i, float d, float* cand,
                              const Goal& goal, float* scratch);
    // --- convolutional networks
    // The batched forward pass of rows [begin, end): logits and/or outputs
    // (either may be null), n_out values per row.
    void (*conv_forward_rows)(const Net& net, const void* x, InputKind kind, std::size_t begin,
                              std::size_t end, float* logits, float* probs);
    // The same for n images, each image's layers split over `threads`
    // threads (for batches too small to split by image); the same results.
    void (*conv_forward_split)(const Net& net, const void* x, InputKind kind, std::size_t n,
                               float* logits, float* probs, int threads);
    // The hill climber's incremental state of one image (an opaque object):
    // reset from an image (returns its score), propose a change d of pixel
    // i (returns the candidate's score; the state is unchanged), accept the
    // last proposal.
    void* (*conv_probe_new)(const Net& net, const Goal& goal, int lazy, int sums);
    void (*conv_probe_free)(void* probe);
    double (*conv_probe_reset)(void* probe, const double* x);
    double (*conv_probe_propose)(void* probe, int i, double d);
    void (*conv_probe_accept)(void* probe, int i, double d, double score);
    // For tests: the largest relative difference between the state and a
    // full recomputation of the current image.
    double (*conv_probe_check)(void* probe);
};

const Kernels& kernels();                        // the best for this CPU (or NETDREAM_ISA)
const Kernels* kernels_named(const char* name);  // nullptr if unsupported here
const char* const* kernel_names();               // null-terminated list built in
void set_kernels(const char* name);              // for tests: force one instruction set

}  // namespace netdream
