#include "netdream/net.hpp"
#include "netdream/objective.hpp"

#include <algorithm>
#include <cmath>

namespace netdream {

Act parse_act(const std::string& name) {
    if (name == "identity" || name == "linear") return Act::Identity;
    if (name == "relu") return Act::Relu;
    if (name == "leaky_relu") return Act::LeakyRelu;
    if (name == "sigmoid" || name == "logistic") return Act::Sigmoid;
    if (name == "tanh") return Act::Tanh;
    if (name == "softmax") return Act::Softmax;
    throw std::invalid_argument("unknown activation '" + name + "'");
}

const char* act_name(Act a) {
    switch (a) {
        case Act::Identity: return "identity";
        case Act::Relu: return "relu";
        case Act::LeakyRelu: return "leaky_relu";
        case Act::Sigmoid: return "sigmoid";
        case Act::Tanh: return "tanh";
        case Act::Softmax: return "softmax";
    }
    return "?";
}

int Net::max_width() const {
    int w = 0;
    for (const auto& L : layers) w = std::max(w, L.out_pad);
    return w;
}

Net make_net(const std::vector<std::vector<double>>& weights,
             const std::vector<std::vector<double>>& biases, const std::vector<int>& n_ins,
             const std::vector<int>& n_outs, const std::vector<Act>& acts, double leaky_slope,
             int channels, int height, int width) {
    const std::size_t n = weights.size();
    if (n == 0) throw std::invalid_argument("a network needs at least one layer");
    if (biases.size() != n || n_ins.size() != n || n_outs.size() != n || acts.size() != n)
        throw std::invalid_argument("weights, biases, sizes and activations differ in length");
    if (!std::isfinite(leaky_slope)) throw std::invalid_argument("leaky_slope must be finite");
    if (channels <= 0 || height <= 0 || width <= 0)
        throw std::invalid_argument("image_shape: sizes must be positive");
    if (static_cast<long long>(channels) * height * width != n_ins.front())
        throw std::invalid_argument("image_shape: channels * height * width must equal the input size " +
                                    std::to_string(n_ins.front()));
    Net net;
    net.leaky_slope = leaky_slope;
    net.channels = channels;
    net.height = height;
    net.width = width;
    for (std::size_t l = 0; l < n; ++l) {
        const int n_in = n_ins[l], n_out = n_outs[l];
        const std::string where = "layer " + std::to_string(l);
        if (n_in <= 0 || n_out <= 0) throw std::invalid_argument(where + ": sizes must be positive");
        if (l > 0 && n_in != n_outs[l - 1])
            throw std::invalid_argument(where + ": input size does not match the previous layer");
        if (weights[l].size() != static_cast<std::size_t>(n_in) * n_out)
            throw std::invalid_argument(where + ": weight matrix has the wrong size");
        if (biases[l].size() != static_cast<std::size_t>(n_out))
            throw std::invalid_argument(where + ": bias has the wrong size");
        for (double v : weights[l])
            if (!std::isfinite(static_cast<float>(v)))
                throw std::invalid_argument(where + ": weights contain NaN or inf (in float32)");
        for (double v : biases[l])
            if (!std::isfinite(static_cast<float>(v)))
                throw std::invalid_argument(where + ": biases contain NaN or inf (in float32)");
        if (acts[l] == Act::Softmax && l + 1 != n)
            throw std::invalid_argument(where + ": softmax is only allowed on the output layer");
        Layer L;
        L.n_in = n_in;
        L.n_out = n_out;
        L.act = acts[l];
        L.out_pad = padded(n_out);
        L.in_pad = l == 0 ? n_in : padded(n_in);
        L.b64.assign(L.out_pad, 0.0);
        std::copy(biases[l].begin(), biases[l].end(), L.b64.begin());
        L.w64.assign(static_cast<std::size_t>(L.in_pad) * L.out_pad, 0.0);
        for (int j = 0; j < n_out; ++j)
            for (int i = 0; i < n_in; ++i) {
                const double v = weights[l][static_cast<std::size_t>(j) * n_in + i];
                if (l == 0)  // transposed: W0T[i, j] = W[j, i]
                    L.w64[static_cast<std::size_t>(i) * L.out_pad + j] = v;
                else
                    L.w64[static_cast<std::size_t>(j) * L.in_pad + i] = v;
            }
        L.w.assign(L.w64.begin(), L.w64.end());
        L.b.assign(L.b64.begin(), L.b64.end());
        net.layers.push_back(std::move(L));
    }
    return net;
}

void check_goal(const Goal& g, const Net& net) {
    const int n_layers = static_cast<int>(net.layers.size());
    if (g.kind == TargetKind::Unit) {
        if (g.layer < 0 || g.layer >= n_layers - 1)
            throw std::invalid_argument("target layer " + std::to_string(g.layer) +
                                        " is not a hidden layer (the net has " +
                                        std::to_string(n_layers - 1) + ")");
        if (g.index < 0 || g.index >= net.layers[g.layer].n_out)
            throw std::invalid_argument("target unit " + std::to_string(g.index) +
                                        " out of range: hidden layer " + std::to_string(g.layer) +
                                        " has " + std::to_string(net.layers[g.layer].n_out) + " units");
        return;
    }
    if (g.index < 0 || g.index >= net.n_out())
        throw std::invalid_argument("target class " + std::to_string(g.index) + " out of range 0.." +
                                    std::to_string(net.n_out() - 1));
    if (g.objective == Objective::Wanted && g.wanted.size() != static_cast<std::size_t>(net.n_out()))
        throw std::invalid_argument("wanted must have one value per output (" +
                                    std::to_string(net.n_out()) + ")");
    for (double v : g.wanted)
        if (!std::isfinite(v)) throw std::invalid_argument("wanted contains NaN or infinite values");
}

}  // namespace netdream
