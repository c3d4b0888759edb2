// Python bindings of the core: they only convert, check and release the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "netdream/kernels.hpp"
#include "netdream/net.hpp"
#include "netdream/parallel.hpp"

namespace py = pybind11;
using netdream::Net;

namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using ByteArray = py::array_t<std::uint8_t, py::array::c_style>;

int resolve_threads(int threads) {
    if (threads > 0) return threads;
    unsigned hw = std::thread::hardware_concurrency();
    return hw ? static_cast<int>(hw) : 1;
}

Net build_net(const std::vector<FloatArray>& weights, const std::vector<FloatArray>& biases,
              const std::vector<std::string>& acts, float leaky_slope) {
    std::vector<std::vector<float>> w, b;
    std::vector<int> n_in, n_out;
    std::vector<netdream::Act> a;
    if (weights.size() != biases.size() || weights.size() != acts.size())
        throw std::invalid_argument("weights, biases and activations must have the same length");
    for (std::size_t l = 0; l < weights.size(); ++l) {
        const auto& W = weights[l];
        const auto& B = biases[l];
        if (W.ndim() != 2) throw std::invalid_argument("weights must be 2-D (n_out, n_in)");
        if (B.ndim() != 1) throw std::invalid_argument("biases must be 1-D");
        n_out.push_back(static_cast<int>(W.shape(0)));
        n_in.push_back(static_cast<int>(W.shape(1)));
        w.emplace_back(W.data(), W.data() + W.size());
        b.emplace_back(B.data(), B.data() + B.size());
        a.push_back(netdream::parse_act(acts[l]));
    }
    return netdream::make_net(w, b, n_in, n_out, a, leaky_slope);
}

template <class T>
py::array_t<float> forward_impl(const Net& net, const py::array_t<T, py::array::c_style>& x,
                                netdream::InputKind kind, int threads, bool logits) {
    if (x.ndim() != 2 || x.shape(1) != net.n_in())
        throw std::invalid_argument("x must have shape (N, " + std::to_string(net.n_in()) + ")");
    const std::size_t n = static_cast<std::size_t>(x.shape(0));
    py::array_t<float> out({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(net.n_out())});
    const void* src = x.data();
    float* dst = out.mutable_data();
    const std::size_t n_out = static_cast<std::size_t>(net.n_out());
    // Rows per thread below which splitting costs more than it saves.
    constexpr std::size_t kMinRows = 32;
    const int t = static_cast<int>(
        std::min<std::size_t>(resolve_threads(threads), std::max<std::size_t>(1, n / kMinRows)));
    const netdream::Kernels& k = netdream::kernels();
    {
        // Safe without the GIL: only the raw buffers of x and out (both kept
        // alive by references held in this frame) and the immutable Net are
        // touched.
        py::gil_scoped_release release;
        netdream::parallel_for(n, t, [&](std::size_t begin, std::size_t end, int) {
            k.forward_rows(net, src, kind, begin, end, dst + begin * n_out, logits);
        });
    }
    return out;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "netdream's compiled core (private: use the netdream package).";
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const std::invalid_argument& e) {
            PyErr_SetString(PyExc_ValueError, e.what());
        }
    });

    py::class_<Net>(m, "Net")
        .def(py::init(&build_net), py::arg("weights"), py::arg("biases"), py::arg("activations"),
             py::arg("leaky_slope") = 0.01f,
             "A dense MLP in float32. weights[l] has shape (n_out, n_in); activations[l] is "
             "the activation of layer l (the last one is the output).")
        .def_property_readonly("sizes",
                               [](const Net& net) {
                                   std::vector<int> s{net.n_in()};
                                   for (const auto& L : net.layers) s.push_back(L.n_out);
                                   return s;
                               })
        .def_property_readonly("activations",
                               [](const Net& net) {
                                   std::vector<std::string> s;
                                   for (const auto& L : net.layers) s.emplace_back(netdream::act_name(L.act));
                                   return s;
                               })
        .def_property_readonly("leaky_slope", [](const Net& net) { return net.leaky_slope; })
        .def(
            "forward",
            [](const Net& net, py::array x, int threads, bool logits) {
                if (py::isinstance<py::array_t<std::uint8_t>>(x))
                    return forward_impl<std::uint8_t>(net, ByteArray::ensure(x),
                                                      netdream::InputKind::Uint8, threads, logits);
                if (py::isinstance<py::array_t<float>>(x))
                    return forward_impl<float>(net, FloatArray::ensure(x),
                                               netdream::InputKind::Float32, threads, logits);
                throw py::type_error("x must be a float32 or uint8 array");
            },
            py::arg("x"), py::arg("threads") = 0, py::arg("logits") = false,
            "Forward pass of x (N, n_in), float32 in [0, 1] or uint8 (scaled by 1/255). "
            "Returns (N, n_out) float32: the output activation, or the logits. threads <= 0 "
            "uses every core.");

    m.def("isa", []() { return std::string(netdream::kernels().name); },
          "The instruction set of the kernels in use.");
    m.def("available_isas", []() {
        std::vector<std::string> out;
        for (const char* const* n = netdream::kernel_names(); *n; ++n)
            if (netdream::kernels_named(*n)) out.emplace_back(*n);
        return out;
    });
    m.def("set_isa", [](const std::string& name) { netdream::set_kernels(name.c_str()); },
          "Force one instruction set (for tests and benchmarks).");
}
