// The dense MLP held by the core. Plain C++: no Python, no pybind11.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace netdream {

enum class Act : int { Identity = 0, Relu = 1, LeakyRelu = 2, Sigmoid = 3, Tanh = 4, Softmax = 5 };

Act parse_act(const std::string& name);
const char* act_name(Act a);

// Vectors in the core are padded to a multiple of kPad floats (with zero
// weights and biases), so that every loop runs over whole SIMD vectors.
constexpr int kPad = 16;
inline int padded(int n) { return (n + kPad - 1) / kPad * kPad; }

struct Layer {
    int n_in = 0;
    int n_out = 0;
    int in_pad = 0;   // padded(n_in) for layers > 0; n_in for layer 0
    int out_pad = 0;  // padded(n_out)
    Act act = Act::Identity;
    // Layer 0 is stored transposed, (n_in x out_pad): the column W[:, i] that
    // a change of input i adds to the pre-activations is contiguous. This is
    // what the batched forward (which skips zero pixels) and the incremental
    // hill climber both want. Later layers are stored (n_out x in_pad), so
    // each output is a contiguous dot product. b has out_pad entries.
    std::vector<float> w;
    std::vector<float> b;
    // The same weights in double precision and the same layout, for the
    // float64 engines (exact reproduction of published recipes).
    std::vector<double> w64;
    std::vector<double> b64;
};

struct Net {
    std::vector<Layer> layers;
    double leaky_slope = 0.01;  // in float for the float32 kernels
    // The input image: channels x height x width, flattened plane by plane
    // (row-major within a plane), values in [0, 1]; n_in() == c * h * w.
    int channels = 1, height = 0, width = 0;

    int n_in() const { return layers.front().n_in; }
    int n_out() const { return layers.back().n_out; }
    int max_width() const;  // the largest out_pad
    // Floats of scratch one thread needs for a forward pass from layer 0's
    // pre-activations to the output.
    std::size_t scratch_size() const { return 2 * static_cast<std::size_t>(max_width()) + 16; }
};

// Builds a Net from weights given as (n_out x n_in) row-major matrices, the
// usual W @ x convention. Throws std::invalid_argument on inconsistent shapes
// or values that are not finite in float32.
Net make_net(const std::vector<std::vector<double>>& weights,
             const std::vector<std::vector<double>>& biases,
             const std::vector<int>& n_ins, const std::vector<int>& n_outs,
             const std::vector<Act>& acts, double leaky_slope, int channels, int height,
             int width);

}  // namespace netdream
