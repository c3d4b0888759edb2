// The network held by the core: a multilayer perceptron, or a convolutional
// network (a sequence of conv, pool, flatten and dense layers). Plain C++:
// no Python, no pybind11.
#pragma once

#include <array>
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

enum class Kind : int { Dense = 0, Conv = 1, MaxPool = 2, AvgPool = 3, Flatten = 4 };

// The output of a layer of a convolutional network, stored channels last
// ("HWC": position by position, the channels of a position contiguous and
// padded to cp = padded(c) with zeros that the next layer ignores). A dense
// layer's output is h = w = 1.
struct Shape {
    int c = 0, h = 1, w = 1, cp = 0;
    std::size_t positions() const { return static_cast<std::size_t>(h) * w; }
    std::size_t size() const { return positions() * cp; }  // floats stored
};

struct Layer {
    Kind kind = Kind::Dense;
    Act act = Act::Identity;
    // --- dense layers
    int n_in = 0;
    int n_out = 0;
    int in_pad = 0;   // padded(n_in) for layers > 0; n_in for layer 0 of an MLP
    int out_pad = 0;  // padded(n_out)
    // Layer 0 of an MLP is stored transposed, (n_in x out_pad): the column
    // W[:, i] that a change of input i adds to the pre-activations is
    // contiguous. This is what the batched forward (which skips zero pixels)
    // and the incremental hill climber both want. Other dense layers are
    // stored (n_out x in_pad), so each output is a contiguous dot product;
    // in a convolutional network they also keep the transposed copy wt
    // (n_in x out_pad) for the incremental updates of the hill climber.
    // b has out_pad entries.
    std::vector<float> w;
    std::vector<float> b;
    std::vector<float> wt;
    // The same weights in double precision and the same layout, for the
    // float64 engines (exact reproduction of published recipes).
    std::vector<double> w64;
    std::vector<double> b64;
    // --- convolutional networks: shapes, and conv / pool geometry
    Shape in, out;
    int kh = 0, kw = 0, stride = 1;
    int pad_t = 0, pad_l = 0;  // rows and columns of zeros before the input
    // conv: w is (kh * kw * in.cp) x out.cp, row (ky * kw + kx) * in.cp + ic
    // holding the output channels of tap (ky, kx, ic) (for layer 0, in.cp =
    // the image's channels and its input is the image, plane by plane).
    // Layer 0 folds the input encoding in: its weights are scaled per input
    // channel, and bias_map (positions x out.cp) holds its bias at every
    // output position (the encoding's offset seen through the valid taps).
    std::vector<float> bias_map;
    std::vector<double> bias_map64;
    // a dense layer after a flatten: for each position of the flattened grid
    // and each output (out_pad floats per position), the largest |weight|
    // from that position's channels (the hill climber's bound on a change),
    // and the norm of those weights (rounded up)
    std::vector<float> peak, norm;
};

// The most values a convolutional network's layers may output for one
// image, added up (2^26 floats: 256 MB; see make_conv_net).
constexpr std::size_t kMaxLayerValues = std::size_t{1} << 26;

struct Net {
    std::vector<Layer> layers;
    double leaky_slope = 0.01;  // in float for the float32 kernels
    // The input image: channels x height x width, flattened plane by plane
    // (row-major within a plane), values in [0, 1]; n_in() == c * h * w.
    int channels = 1, height = 0, width = 0;
    bool conv = false;  // a convolutional network (else an MLP of dense layers)
    // Unique to each network built (copies share it): what per-thread caches
    // of a network's derived data are keyed by (an address may be reused).
    std::uint64_t uid = 0;

    int n_in() const { return channels * height * width; }
    int n_out() const { return layers.back().n_out; }
    int max_width() const;  // the largest out_pad (MLP) or stored layer output
    // Floats of scratch one thread needs for a forward pass from layer 0's
    // pre-activations to the output (MLP).
    std::size_t scratch_size() const { return 2 * static_cast<std::size_t>(max_width()) + 16; }
};

// Builds an MLP from weights given as (n_out x n_in) row-major matrices, the
// usual W @ x convention. Throws std::invalid_argument on inconsistent shapes
// or values that are not finite in float32.
Net make_net(const std::vector<std::vector<double>>& weights,
             const std::vector<std::vector<double>>& biases,
             const std::vector<int>& n_ins, const std::vector<int>& n_outs,
             const std::vector<Act>& acts, double leaky_slope, int channels, int height,
             int width);

// One layer of a convolutional network as given from outside (PyTorch's
// conventions): conv weight (out_c, in_c, kh, kw), dense weight (n_out,
// n_in) with n_in in the public (channels, height, width) flattening order
// of the layer before; padding (top, bottom, left, right).
struct LayerSpec {
    Kind kind = Kind::Dense;
    Act act = Act::Identity;
    std::vector<double> weight;
    std::vector<int> weight_shape;
    std::vector<double> bias;
    int stride = 1;
    std::array<int, 4> padding{0, 0, 0, 0};
    int size = 2;  // pooling window (square)
};

// Builds a convolutional network. The image (channels x height x width in
// [0, 1]) is encoded per channel as enc_scale[c] * x + enc_shift[c] before
// the first layer, which must be a convolution (the encoding is folded into
// it exactly, borders included).
Net make_conv_net(const std::vector<LayerSpec>& specs, int channels, int height, int width,
                  const std::vector<double>& enc_scale, const std::vector<double>& enc_shift,
                  double leaky_slope);

}  // namespace netdream
