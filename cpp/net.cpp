#include "netdream/net.hpp"
#include "netdream/objective.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

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
    std::size_t w = 0;
    for (const auto& L : layers) {
        w = std::max(w, static_cast<std::size_t>(L.out_pad));
        if (conv) w = std::max(w, L.out.size());
    }
    return static_cast<int>(w);
}

namespace {
std::uint64_t next_uid() {
    static std::atomic<std::uint64_t> counter{0};
    return ++counter;
}
}  // namespace

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
    net.uid = next_uid();
    return net;
}

namespace {

// The values of every layer's output for one image, added up as the
// layers are read, at most kMaxLayerValues (the model checks the same,
// naming the layer): the forward pass keeps about twice that per thread and
// the hill climber about six times, so a network with, say, 64 channels on
// a 4096x4096 image (17 GB of activations per image) is refused before
// anything is allocated for it.
void hold(std::size_t& held, const Shape& out, const std::string& where) {
    held += out.size();
    if (held > kMaxLayerValues)
        throw std::invalid_argument(where + ": the layers up to here hold more than " +
                                    std::to_string(kMaxLayerValues) +
                                    " values for one image; use smaller images or fewer channels");
}

void check_finite(const std::vector<double>& v, const std::string& where, const char* what) {
    for (double x : v)
        if (!std::isfinite(static_cast<float>(x)))
            throw std::invalid_argument(where + ": " + what + " contain NaN or inf (in float32)");
}

Shape channels_last(int c, int h, int w) {
    Shape s;
    s.c = c;
    s.h = h;
    s.w = w;
    s.cp = padded(c);
    return s;
}

}  // namespace

Net make_conv_net(const std::vector<LayerSpec>& specs, int channels, int height, int width,
                  const std::vector<double>& enc_scale, const std::vector<double>& enc_shift,
                  double leaky_slope) {
    if (specs.empty()) throw std::invalid_argument("a network needs at least one layer");
    if (channels <= 0 || height <= 0 || width <= 0)
        throw std::invalid_argument("image_shape: sizes must be positive");
    if (static_cast<long long>(channels) * height * width > (1 << 24))
        throw std::invalid_argument("image_shape: the image is too large");
    if (enc_scale.size() != static_cast<std::size_t>(channels) ||
        enc_shift.size() != static_cast<std::size_t>(channels))
        throw std::invalid_argument("the encoding needs one scale and one shift per channel");
    for (std::size_t c = 0; c < enc_scale.size(); ++c)
        if (!std::isfinite(enc_scale[c]) || !std::isfinite(enc_shift[c]) || enc_scale[c] == 0.0)
            throw std::invalid_argument("the encoding's scales must be finite and nonzero, its "
                                        "shifts finite");
    if (!std::isfinite(leaky_slope)) throw std::invalid_argument("leaky_slope must be finite");
    if (specs.front().kind != Kind::Conv)
        throw std::invalid_argument("layer 0: a convolutional network starts with a convolution");
    Net net;
    net.conv = true;
    net.leaky_slope = leaky_slope;
    net.channels = channels;
    net.height = height;
    net.width = width;
    // the image as layer 0's input: channels not padded, plane by plane
    Shape cur;
    cur.c = channels;
    cur.h = height;
    cur.w = width;
    cur.cp = channels;
    bool flat = false;  // past a Flatten (or a dense layer)
    std::size_t held = 0;  // values of the layers' outputs so far (see hold)
    const std::size_t n = specs.size();
    for (std::size_t l = 0; l < n; ++l) {
        const LayerSpec& sp = specs[l];
        const std::string where = "layer " + std::to_string(l);
        Layer L;
        L.kind = sp.kind;
        L.act = sp.act;
        L.in = cur;
        if (sp.act == Act::Softmax && l + 1 != n)
            throw std::invalid_argument(where + ": softmax is only allowed on the output layer");
        switch (sp.kind) {
            case Kind::Conv: {
                if (flat) throw std::invalid_argument(where + ": a convolution after a flatten or dense layer");
                if (sp.weight_shape.size() != 4)
                    throw std::invalid_argument(where + ": conv weight must be (out_c, in_c, kh, kw)");
                const int oc = sp.weight_shape[0], ic = sp.weight_shape[1];
                const int kh = sp.weight_shape[2], kw = sp.weight_shape[3];
                if (oc <= 0 || kh <= 0 || kw <= 0 || ic != cur.c)
                    throw std::invalid_argument(where + ": conv weight (" + std::to_string(oc) + ", " +
                                                std::to_string(ic) + ", " + std::to_string(kh) + ", " +
                                                std::to_string(kw) + ") does not take the " +
                                                std::to_string(cur.c) + " channels before it");
                if (sp.weight.size() != static_cast<std::size_t>(oc) * ic * kh * kw)
                    throw std::invalid_argument(where + ": conv weight has the wrong size");
                if (sp.bias.size() != static_cast<std::size_t>(oc))
                    throw std::invalid_argument(where + ": conv bias must have one value per output channel");
                if (sp.stride < 1 || sp.stride > 16) throw std::invalid_argument(where + ": stride must lie in 1..16");
                for (int p : sp.padding)
                    if (p < 0 || p > 64) throw std::invalid_argument(where + ": padding must lie in 0..64");
                check_finite(sp.weight, where, "weights");
                check_finite(sp.bias, where, "biases");
                const int ph = cur.h + sp.padding[0] + sp.padding[1];
                const int pw = cur.w + sp.padding[2] + sp.padding[3];
                if (ph < kh || pw < kw)
                    throw std::invalid_argument(where + ": the " + std::to_string(kh) + "x" +
                                                std::to_string(kw) + " kernel is larger than its padded " +
                                                std::to_string(ph) + "x" + std::to_string(pw) + " input");
                L.kh = kh;
                L.kw = kw;
                L.stride = sp.stride;
                L.pad_t = sp.padding[0];
                L.pad_l = sp.padding[2];
                L.out = channels_last(oc, (ph - kh) / sp.stride + 1, (pw - kw) / sp.stride + 1);
                hold(held, L.out, where);
                const int cin = cur.cp, cout = L.out.cp;
                L.w64.assign(static_cast<std::size_t>(kh) * kw * cin * cout, 0.0);
                L.b64.assign(cout, 0.0);
                for (int o = 0; o < oc; ++o) L.b64[o] = sp.bias[o];
                for (int o = 0; o < oc; ++o)
                    for (int c = 0; c < ic; ++c)
                        for (int y = 0; y < kh; ++y)
                            for (int x = 0; x < kw; ++x) {
                                double v = sp.weight[((static_cast<std::size_t>(o) * ic + c) * kh + y) * kw + x];
                                if (l == 0) v *= enc_scale[c];  // the encoding, folded in
                                L.w64[((static_cast<std::size_t>(y) * kw + x) * cin + c) * cout + o] = v;
                            }
                if (l == 0) {
                    // bias at each output position: b + the encoding's shift seen through
                    // the taps that fall inside the image (zero padding is of the encoded
                    // input, so the shift does not reach the padded taps)
                    L.bias_map64.assign(L.out.positions() * cout, 0.0);
                    for (int oy = 0; oy < L.out.h; ++oy)
                        for (int ox = 0; ox < L.out.w; ++ox) {
                            double* bm = L.bias_map64.data() + (static_cast<std::size_t>(oy) * L.out.w + ox) * cout;
                            for (int o = 0; o < oc; ++o) bm[o] = sp.bias[o];
                            for (int y = 0; y < kh; ++y) {
                                const int iy = oy * sp.stride - L.pad_t + y;
                                if (iy < 0 || iy >= cur.h) continue;
                                for (int x = 0; x < kw; ++x) {
                                    const int ix = ox * sp.stride - L.pad_l + x;
                                    if (ix < 0 || ix >= cur.w) continue;
                                    for (int c = 0; c < ic; ++c)
                                        for (int o = 0; o < oc; ++o)
                                            bm[o] += enc_shift[c] *
                                                     sp.weight[((static_cast<std::size_t>(o) * ic + c) * kh + y) * kw + x];
                                }
                            }
                        }
                    L.bias_map.assign(L.bias_map64.begin(), L.bias_map64.end());
                }
                L.w.assign(L.w64.begin(), L.w64.end());
                L.b.assign(L.b64.begin(), L.b64.end());
                break;
            }
            case Kind::MaxPool:
            case Kind::AvgPool: {
                if (flat) throw std::invalid_argument(where + ": pooling after a flatten or dense layer");
                if (sp.size < 1 || sp.size > 64 || sp.stride < 1 || sp.stride > 64)
                    throw std::invalid_argument(where + ": pool size and stride must lie in 1..64");
                if (sp.size > cur.h || sp.size > cur.w)
                    throw std::invalid_argument(where + ": the " + std::to_string(sp.size) +
                                                "x" + std::to_string(sp.size) + " pool is larger than its " +
                                                std::to_string(cur.h) + "x" + std::to_string(cur.w) + " input");
                if (l == 0) throw std::invalid_argument(where + ": a convolutional network starts with a convolution");
                L.kh = L.kw = sp.size;
                L.stride = sp.stride;
                L.out = channels_last(cur.c, (cur.h - sp.size) / sp.stride + 1,
                                      (cur.w - sp.size) / sp.stride + 1);
                hold(held, L.out, where);
                L.act = Act::Identity;
                break;
            }
            case Kind::Flatten: {
                if (flat) throw std::invalid_argument(where + ": a second flatten");
                L.out = Shape{static_cast<int>(cur.size()), 1, 1, static_cast<int>(cur.size())};
                L.act = Act::Identity;
                flat = true;
                break;
            }
            case Kind::Dense: {
                if (!flat) throw std::invalid_argument(where + ": a dense layer needs a flatten before it");
                if (sp.weight_shape.size() != 2)
                    throw std::invalid_argument(where + ": dense weight must be (n_out, n_in)");
                const int n_out = sp.weight_shape[0], n_in_pub = sp.weight_shape[1];
                // the inputs in public order: channels x height x width of the layer before
                const Shape& src = specs[l - 1].kind == Kind::Flatten ? net.layers.back().in : cur;
                const bool after_flatten = specs[l - 1].kind == Kind::Flatten;
                const int expected = after_flatten ? src.c * src.h * src.w : cur.c;
                if (n_out <= 0 || n_in_pub != expected)
                    throw std::invalid_argument(where + ": dense weight takes " + std::to_string(n_in_pub) +
                                                " inputs, the layer before gives " + std::to_string(expected));
                if (sp.weight.size() != static_cast<std::size_t>(n_out) * n_in_pub)
                    throw std::invalid_argument(where + ": dense weight has the wrong size");
                if (sp.bias.size() != static_cast<std::size_t>(n_out))
                    throw std::invalid_argument(where + ": dense bias must have one value per output");
                check_finite(sp.weight, where, "weights");
                check_finite(sp.bias, where, "biases");
                L.n_in = static_cast<int>(cur.size());
                L.in_pad = padded(L.n_in);
                L.n_out = n_out;
                L.out_pad = padded(n_out);
                L.out = Shape{n_out, 1, 1, L.out_pad};
                hold(held, L.out, where);
                L.w64.assign(static_cast<std::size_t>(n_out) * L.in_pad, 0.0);
                L.b64.assign(L.out_pad, 0.0);
                for (int o = 0; o < n_out; ++o) L.b64[o] = sp.bias[o];
                for (int o = 0; o < n_out; ++o)
                    for (int i = 0; i < n_in_pub; ++i) {
                        // public index i = (c, y, x) of the flattened layer -> stored (y, x, c)
                        std::size_t stored = static_cast<std::size_t>(i);
                        if (after_flatten) {
                            const int c = i / (src.h * src.w), rest = i % (src.h * src.w);
                            stored = static_cast<std::size_t>(rest) * src.cp + c;
                        }
                        L.w64[static_cast<std::size_t>(o) * L.in_pad + stored] =
                            sp.weight[static_cast<std::size_t>(o) * n_in_pub + i];
                    }
                L.w.assign(L.w64.begin(), L.w64.end());
                L.b.assign(L.b64.begin(), L.b64.end());
                L.wt.assign(static_cast<std::size_t>(L.n_in) * L.out_pad, 0.0f);
                for (int o0 = 0; o0 < n_out; o0 += 64)  // in tiles (a plain loop missed the cache on every write)
                    for (int i0 = 0; i0 < L.n_in; i0 += 64)
                        for (int o = o0; o < std::min(o0 + 64, n_out); ++o)
                            for (int i = i0; i < std::min(i0 + 64, L.n_in); ++i)
                                L.wt[static_cast<std::size_t>(i) * L.out_pad + o] =
                                    L.w[static_cast<std::size_t>(o) * L.in_pad + i];
                if (after_flatten) {
                    const std::size_t P = src.positions();
                    L.peak.assign(P * L.out_pad, 0.0f);
                    L.norm.assign(P * L.out_pad, 0.0f);
                    for (int o = 0; o < n_out; ++o)
                        for (std::size_t p = 0; p < P; ++p) {
                            const float* w = L.w.data() + static_cast<std::size_t>(o) * L.in_pad + p * src.cp;
                            float m = 0.0f;
                            double s = 0.0;
                            for (int c = 0; c < src.c; ++c) {
                                m = std::max(m, std::fabs(w[c]));
                                s += static_cast<double>(w[c]) * w[c];
                            }
                            L.peak[p * L.out_pad + o] = m;
                            const double n = std::sqrt(s);
                            float f = static_cast<float>(n);
                            if (f < n) f = std::nextafter(f, std::numeric_limits<float>::infinity());
                            L.norm[p * L.out_pad + o] = f;
                        }
                }
                break;
            }
        }
        cur = L.out;
        net.layers.push_back(std::move(L));
    }
    if (net.layers.back().kind != Kind::Dense)
        throw std::invalid_argument("the last layer of a convolutional network must be dense");
    net.uid = next_uid();
    return net;
}

void check_goal(const Goal& g, const Net& net) {
    const int n_layers = static_cast<int>(net.layers.size());
    if (g.kind == TargetKind::Unit) {
        if (g.layer < 0 || g.layer >= n_layers - 1 || net.layers[g.layer].kind != Kind::Dense)
            throw std::invalid_argument("target layer " + std::to_string(g.layer) +
                                        " is not a hidden dense layer");
        if (g.index < 0 || g.index >= net.layers[g.layer].n_out)
            throw std::invalid_argument("target unit " + std::to_string(g.index) +
                                        " out of range: hidden layer " + std::to_string(g.layer) +
                                        " has " + std::to_string(net.layers[g.layer].n_out) + " units");
        return;
    }
    if (g.kind == TargetKind::Channel) {
        if (!net.conv || g.layer < 0 || g.layer >= n_layers || net.layers[g.layer].kind == Kind::Dense ||
            net.layers[g.layer].kind == Kind::Flatten)
            throw std::invalid_argument("target layer " + std::to_string(g.layer) +
                                        " is not a convolution or pooling layer");
        if (g.index < 0 || g.index >= net.layers[g.layer].out.c)
            throw std::invalid_argument("target channel " + std::to_string(g.index) +
                                        " out of range: layer " + std::to_string(g.layer) + " has " +
                                        std::to_string(net.layers[g.layer].out.c) + " channels");
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
