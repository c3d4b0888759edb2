// Bindings of the network: construction, batched forward passes.
#include <cmath>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "netdream/forward64.hpp"
#include "netdream/kernels.hpp"
#include "netdream/net.hpp"

namespace netdream::bind {
namespace {

Net build_net(const std::vector<DoubleArray>& weights, const std::vector<DoubleArray>& biases,
              const std::vector<Act>& acts, const std::vector<int>& image_shape, double leaky_slope) {
    std::vector<std::vector<double>> w, b;
    std::vector<int> n_in, n_out;
    if (weights.size() != biases.size() || weights.size() != acts.size())
        throw std::invalid_argument("weights, biases and activations must have the same length");
    if (image_shape.size() != 3)
        throw std::invalid_argument("image_shape must be (channels, height, width)");
    for (std::size_t l = 0; l < weights.size(); ++l) {
        const auto& W = weights[l];
        const auto& B = biases[l];
        if (W.ndim() != 2) throw std::invalid_argument("weights must be 2-D (n_out, n_in)");
        if (B.ndim() != 1) throw std::invalid_argument("biases must be 1-D");
        n_out.push_back(static_cast<int>(W.shape(0)));
        n_in.push_back(static_cast<int>(W.shape(1)));
        w.emplace_back(W.data(), W.data() + W.size());
        b.emplace_back(B.data(), B.data() + B.size());
    }
    return make_net(w, b, n_in, n_out, acts, leaky_slope, image_shape[0], image_shape[1],
                    image_shape[2]);
}

template <class T>
py::array_t<float> forward_impl(const Net& net, const py::array_t<T, py::array::c_style>& x,
                                InputKind kind, int threads, bool logits) {
    if (x.ndim() != 2 || x.shape(1) != net.n_in())
        throw std::invalid_argument("x must have shape (N, " + std::to_string(net.n_in()) + ")");
    const std::size_t n = static_cast<std::size_t>(x.shape(0));
    py::array_t<float> out({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(net.n_out())});
    const void* src = x.data();
    float* dst = out.mutable_data();
    const std::size_t n_out = static_cast<std::size_t>(net.n_out());
    // Rows per thread below which splitting costs more than it saves.
    constexpr std::size_t kMinRows = 16;
    const int t = static_cast<int>(
        std::min<std::size_t>(resolve_threads(threads), std::max<std::size_t>(1, n / kMinRows)));
    const Kernels& k = kernels();
    {
        // Safe without the GIL: only the raw buffers of x and out (both kept
        // alive by references held in this frame) and the immutable Net are
        // touched.
        py::gil_scoped_release release;
        const int all = resolve_threads(threads);
        if (net.conv && t < all && n < 4 * kMinRows)  // too few images: split each one's layers
            k.conv_forward_split(net, src, kind, n, logits ? dst : nullptr, logits ? nullptr : dst,
                                 std::min(all, 64));
        else
            parallel_for(n, t, [&](std::size_t begin, std::size_t end, int) {
                k.forward_rows(net, src, kind, begin, end, dst + begin * n_out, logits);
            });
    }
    // A forward pass that overflows float32 gives NaN or inf: say so rather
    // than let an argmax call it class 0.
    std::size_t bad = 0, first = 0;
    for (std::size_t r = 0; r < n; ++r) {
        bool ok = true;
        for (std::size_t j = 0; j < n_out; ++j) ok &= std::isfinite(dst[r * n_out + j]);
        if (!ok && bad++ == 0) first = r;
    }
    if (bad)
        throw std::invalid_argument(
            "the model's output is NaN or infinite for " + std::to_string(bad) + " image" +
            (bad == 1 ? "" : "s") + " (the first: image " + std::to_string(first) +
            "): its forward pass overflows float32 (weights or activations too large for float32)");
    return out;
}

// One layer's values (pre-activations or outputs) for row r of the Python
// result: conv and pool layers as (c, h, w) planes, a flatten as its
// channels-first vector, a dense layer as its n_out values.
std::size_t public_size(const Net& net, const Layer& L) {
    if (!net.conv) return static_cast<std::size_t>(L.n_out);
    if (L.kind == Kind::Dense) return static_cast<std::size_t>(L.n_out);
    if (L.kind == Kind::Flatten) return static_cast<std::size_t>(L.in.c) * L.in.h * L.in.w;
    return static_cast<std::size_t>(L.out.c) * L.out.h * L.out.w;
}

void to_public(const Net& net, const Layer& L, const double* v, double* out) {
    if (!net.conv || L.kind == Kind::Dense) {
        std::copy(v, v + L.n_out, out);
        return;
    }
    const Shape& s = L.kind == Kind::Flatten ? L.in : L.out;
    for (int c = 0; c < s.c; ++c)
        for (std::size_t p = 0; p < s.positions(); ++p)
            out[static_cast<std::size_t>(c) * s.positions() + p] = v[p * s.cp + c];
}

py::list layer_shapes(const Net& net) {
    py::list out;
    for (const Layer& L : net.layers) {
        if (!net.conv || L.kind == Kind::Dense)
            out.append(py::make_tuple(L.n_out));
        else if (L.kind == Kind::Flatten)
            out.append(py::make_tuple(L.in.c * L.in.h * L.in.w));
        else
            out.append(py::make_tuple(L.out.c, L.out.h, L.out.w));
    }
    return out;
}

// A LayerSpec's weights or biases from any array-like of numbers (flattened, C order).
template <std::vector<double> LayerSpec::*field>
void set_values(LayerSpec& s, const py::array_t<double, py::array::c_style | py::array::forcecast>& a) {
    (s.*field).assign(a.data(), a.data() + a.size());
}

}  // namespace

void register_net(py::module_& m) {
    py::enum_<Kind>(m, "Kind", py::module_local(), "Kinds of layer.")
        .value("dense", Kind::Dense)
        .value("conv", Kind::Conv)
        .value("maxpool", Kind::MaxPool)
        .value("avgpool", Kind::AvgPool)
        .value("flatten", Kind::Flatten);
    py::class_<LayerSpec>(m, "LayerSpec", py::module_local(),
                          "One layer of a convolutional network (net.hpp): conv weight (out_c, "
                          "in_c, kh, kw), dense weight (n_out, n_in) in the channels-first order of "
                          "the layer before; padding (top, bottom, left, right).")
        .def(py::init([](const py::kwargs& kw) {
            LayerSpec s;
            py::object self = py::cast(&s, py::return_value_policy::reference);
            for (auto item : kw) py::setattr(self, item.first, item.second);
            return s;
        }))
        .def_readwrite("kind", &LayerSpec::kind)
        .def_readwrite("act", &LayerSpec::act)
        // (weights and biases as arrays, copied at once: a list of 3 million
        // Python floats took a tenth of a second)
        .def_property("weight", [](const LayerSpec& s) { return s.weight; }, &set_values<&LayerSpec::weight>)
        .def_readwrite("weight_shape", &LayerSpec::weight_shape)
        .def_property("bias", [](const LayerSpec& s) { return s.bias; }, &set_values<&LayerSpec::bias>)
        .def_readwrite("stride", &LayerSpec::stride)
        .def_readwrite("padding", &LayerSpec::padding)
        .def_readwrite("size", &LayerSpec::size);
    py::enum_<Act>(m, "Act", py::module_local(), "Activations of the core's layers.")
        .value("identity", Act::Identity)
        .value("relu", Act::Relu)
        .value("leaky_relu", Act::LeakyRelu)
        .value("sigmoid", Act::Sigmoid)
        .value("tanh", Act::Tanh)
        .value("softmax", Act::Softmax);

    py::class_<Net>(m, "Net", py::module_local())
        .def(py::init(&build_net), py::arg("weights"), py::arg("biases"), py::arg("activations"),
             py::arg("image_shape"), py::arg("leaky_slope") = 0.01,
             "A dense network (float32, with a float64 copy). weights[l] has shape (n_out, n_in); "
             "activations[l] is the activation of layer l (the last one is the output); "
             "image_shape = (channels, height, width) of the input, in [0, 1].")
        .def_static("convolutional", &make_conv_net, py::arg("layers"), py::arg("channels"),
                    py::arg("height"), py::arg("width"), py::arg("enc_scale"), py::arg("enc_shift"),
                    py::arg("leaky_slope") = 0.01,
                    "A convolutional network from LayerSpecs; the image (channels x height x "
                    "width in [0, 1]) is encoded per channel as enc_scale * x + enc_shift before "
                    "the first layer (a convolution, which folds the encoding in).")
        .def_property_readonly("is_convolutional", [](const Net& net) { return net.conv; })
        .def_property_readonly("layer_shapes", &layer_shapes,
                               "Each layer's output shape: (c, h, w) for conv and pool layers, "
                               "(n,) for flatten and dense layers.")
        .def_property_readonly("sizes",
                               [](const Net& net) {
                                   std::vector<int> s{net.n_in()};
                                   for (const auto& L : net.layers) s.push_back(L.n_out);
                                   return s;
                               })
        .def_property_readonly("activations",
                               [](const Net& net) {
                                   std::vector<Act> s;
                                   for (const auto& L : net.layers) s.push_back(L.act);
                                   return s;
                               })
        .def_property_readonly("leaky_slope", [](const Net& net) { return net.leaky_slope; })
        .def_property_readonly("image_shape", [](const Net& net) {
            return py::make_tuple(net.channels, net.height, net.width);
        })
        .def(
            "forward",
            [](const Net& net, py::array x, int threads, bool logits) {
                if (py::isinstance<py::array_t<std::uint8_t>>(x))
                    return forward_impl<std::uint8_t>(net, ByteArray::ensure(x), InputKind::Uint8,
                                                      threads, logits);
                if (py::isinstance<py::array_t<float>>(x))
                    return forward_impl<float>(net, FloatArray::ensure(x), InputKind::Float32,
                                               threads, logits);
                throw py::type_error("x must be a float32 or uint8 array");
            },
            py::arg("x"), py::arg("threads") = 0, py::arg("logits") = false,
            "Forward pass of x (N, n_in), float32 in [0, 1] or uint8 (scaled by 1/255). "
            "Returns (N, n_out) float32: the output activation, or the logits. threads <= 0 "
            "uses every core.")
        .def(
            "forward64",
            [](const Net& net, const DoubleArray& x) {
                if (x.ndim() != 2 || x.shape(1) != net.n_in())
                    throw std::invalid_argument("x must have shape (N, " + std::to_string(net.n_in()) + ")");
                const py::ssize_t n = x.shape(0);
                py::list pre, post;
                std::vector<double*> pre_p, post_p;
                std::vector<std::size_t> width;
                for (const Layer& L : net.layers) {
                    const std::size_t w = public_size(net, L);
                    py::array_t<double> a({n, static_cast<py::ssize_t>(w)});
                    py::array_t<double> b({n, static_cast<py::ssize_t>(w)});
                    pre_p.push_back(a.mutable_data());
                    post_p.push_back(b.mutable_data());
                    width.push_back(w);
                    pre.append(a);
                    post.append(b);
                }
                const double* src = x.data();
                const int n_in = net.n_in();
                {
                    // raw buffers (kept alive by the lists above) and the immutable Net only
                    py::gil_scoped_release release;
                    Acts64 acts(net);
                    for (py::ssize_t r = 0; r < n; ++r) {
                        forward64(net, src + r * n_in, acts);
                        for (std::size_t l = 0; l < net.layers.size(); ++l) {
                            const Layer& L = net.layers[l];
                            // a flatten's values are its input's
                            const std::size_t from = net.conv && L.kind == Kind::Flatten ? l - 1 : l;
                            const bool has_pre = !net.conv || L.kind == Kind::Conv || L.kind == Kind::Dense;
                            to_public(net, L, (has_pre ? acts.pre[from] : acts.post[from]).data(),
                                      pre_p[l] + r * width[l]);
                            to_public(net, L, acts.post[from].data(), post_p[l] + r * width[l]);
                        }
                    }
                }
                return py::make_tuple(pre, post);
            },
            py::arg("x"),
            "The double-precision forward pass of x (N, n_in) in [0, 1]: (pre, post), one "
            "(N, width) array per layer: pre-activations and activations (the last: the output "
            "activation); a conv or pool layer's values flattened channels first (c, h, w), a "
            "pool's pre the same as its post.");
}

}  // namespace netdream::bind
