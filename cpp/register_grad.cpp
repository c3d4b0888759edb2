// Bindings of the input gradient.
#include <string>
#include <vector>

#include "bindings.hpp"
#include "netdream/grad.hpp"

namespace netdream::bind {
namespace {

py::tuple input_gradient_py(const Net& net, const DoubleArray& x, const Goal& goal,
                            const py::array_t<std::int64_t>& indices, int threads) {
    if (x.ndim() != 2 || x.shape(1) != net.n_in())
        throw std::invalid_argument("x must have shape (N, " + std::to_string(net.n_in()) + ")");
    const std::size_t n = static_cast<std::size_t>(x.shape(0));
    if (indices.ndim() != 1 || static_cast<std::size_t>(indices.shape(0)) != n)
        throw std::invalid_argument("indices must have one entry per row of x");
    const std::int64_t* t = indices.data();
    std::vector<Goal> goals(n, goal);
    for (std::size_t r = 0; r < n; ++r) {
        goals[r].index = static_cast<int>(t[r]);
        if (t[r] < 0 || t[r] > (std::int64_t{1} << 30)) throw std::invalid_argument("target out of range");
        check_goal(goals[r], net);
    }
    py::array_t<double> grad({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(net.n_in())});
    py::array_t<double> score(static_cast<py::ssize_t>(n));
    const double* src = x.data();
    double* g = grad.mutable_data();
    double* v = score.mutable_data();
    const int n_in = net.n_in();
    {
        // raw buffers (kept alive by this frame) and the immutable Net only
        py::gil_scoped_release release;
        parallel_for(n, std::min<int>(resolve_threads(threads), std::max<std::size_t>(1, n / 8)),
                     [&](std::size_t b, std::size_t e, int) {
                         for (std::size_t r = b; r < e; ++r)
                             v[r] = input_gradient(net, src + r * n_in, goals[r], g + r * n_in);
                     });
    }
    return py::make_tuple(grad, score);
}

}  // namespace

void register_grad(py::module_& m) {
    m.def("input_gradient", &input_gradient_py, py::arg("net"), py::arg("x"), py::arg("goal"),
          py::arg("indices"), py::arg("threads"),
          "d score / dx of each row of x (N, n_in) in double precision, for `goal` with its "
          "index replaced by indices[r] (a class or a unit). Returns (grad, score).");
}

}  // namespace netdream::bind
