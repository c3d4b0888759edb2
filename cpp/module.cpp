// The compiled module netdream._core (private: use the netdream package).
// One register_<area>.cpp per area; this file only puts them together.
#include "bindings.hpp"

#include <string>
#include <vector>

#include "netdream/kernels.hpp"
#include "netdream/rng.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
    m.doc() = "netdream's compiled core (private: use the netdream package).";
    netdream::bind::register_net(m);
    netdream::bind::register_search(m);
    netdream::bind::register_grad(m);

    m.def("rng_uniform", [](std::uint64_t seed, std::uint64_t stream, std::size_t n) {
        if (n > (std::size_t{1} << 28)) throw std::invalid_argument("n is too large");
        py::array_t<double> out(static_cast<py::ssize_t>(n));
        netdream::Rng rng(seed, stream);
        for (std::size_t i = 0; i < n; ++i) out.mutable_data()[i] = rng.uniform();
        return out;
    }, py::arg("seed"), py::arg("stream"), py::arg("n"),
       "The first n uniforms of a random stream (for tests and references).");
    m.def("isa", []() { return std::string(netdream::kernels().name); },
          "The instruction set of the kernels in use.");
    m.def("available_isas", []() {
        std::vector<std::string> out;
        for (const char* const* n = netdream::kernel_names(); *n; ++n)
            if (netdream::kernels_named(*n)) out.emplace_back(*n);
        return out;
    }, "The instruction sets built in that this CPU supports, best first.");
    m.def("set_isa", [](const std::string& name) { netdream::set_kernels(name.c_str()); },
          py::arg("name"), "Force one instruction set (for tests and benchmarks).");
    m.def("max_threads", []() { return netdream::bind::resolve_threads(1 << 30); },
          "The most threads an engine uses (four per core).");
}
