// Python bindings of the core: they only convert, check and release the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "netdream/ga.hpp"
#include "netdream/grad.hpp"
#include "netdream/hill.hpp"
#include "netdream/kernels.hpp"
#include "netdream/net.hpp"
#include "netdream/parallel.hpp"

namespace py = pybind11;
using netdream::Net;

namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using ByteArray = py::array_t<std::uint8_t, py::array::c_style>;

int resolve_threads(int threads) {
    if (threads > 0) return threads;
    unsigned hw = std::thread::hardware_concurrency();
    return hw ? static_cast<int>(hw) : 1;
}

Net build_net(const std::vector<DoubleArray>& weights, const std::vector<DoubleArray>& biases,
              const std::vector<std::string>& acts, float leaky_slope) {
    std::vector<std::vector<double>> w, b;
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
    constexpr std::size_t kMinRows = 16;
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

// Runs fn(item, stop) for items [0, n) on `threads` workers with the GIL
// released; every 50 ms the caller's thread takes the GIL to check for
// Ctrl-C and to call progress(done) with the steps done so far. A Python
// exception (KeyboardInterrupt, or one from progress) stops the workers and
// is raised here.
template <class F>
void run_monitored(std::size_t n, int threads, F&& fn, const py::object& progress,
                   const std::atomic<std::int64_t>& done) {
    bool py_error = false;
    {
        py::gil_scoped_release release;
        netdream::parallel_items_monitored(
            n, resolve_threads(threads), fn,
            [&]() {
                py::gil_scoped_acquire acquire;
                if (PyErr_CheckSignals() != 0) {
                    py_error = true;
                    return false;
                }
                if (!progress.is_none()) {
                    try {
                        progress(done.load());
                    } catch (py::error_already_set& e) {
                        e.restore();
                        py_error = true;
                        return false;
                    }
                }
                return true;
            },
            std::chrono::milliseconds(50));
    }
    if (py_error) throw py::error_already_set();
    if (!progress.is_none()) progress(done.load());
}

py::tuple hill_climb_py(const Net& net, const DoubleArray& images, int objective, int target,
                        int target_layer, std::int64_t steps, double step, int start,
                        double sparse_fraction, double sparse_amount, bool float64,
                        double reg_weight, std::uintptr_t reg_delta, std::uintptr_t reg_value,
                        const DoubleArray& reg_params, int height, int width,
                        std::int64_t record_every, std::int64_t refresh_every,
                        std::uint64_t seed, int threads, const py::object& progress) {
    using netdream::HillSpec;
    const int n_in = net.n_in();
    if (images.ndim() != 2 || images.shape(1) != n_in)
        throw std::invalid_argument("images must have shape (runs, " + std::to_string(n_in) + ")");
    if (objective < 0 || objective > 3) throw std::invalid_argument("unknown objective");
    if (start < 0 || start > 2) throw std::invalid_argument("unknown start");
    if (steps < 0) throw std::invalid_argument("steps must be >= 0");
    if (!(step > 0.0) || !std::isfinite(step)) throw std::invalid_argument("step must be positive");
    if (height * width != n_in) throw std::invalid_argument("height * width must equal the input size");
    if ((reg_delta == 0) != (reg_value == 0))
        throw std::invalid_argument("a regulariser needs both a delta and a value function");
    const int n_layers = static_cast<int>(net.layers.size());
    if (objective == 3) {
        if (target_layer < 0 || target_layer >= n_layers - 1)
            throw std::invalid_argument("target layer is not a hidden layer");
        if (target < 0 || target >= net.layers[target_layer].n_out)
            throw std::invalid_argument("target unit out of range");
    } else if (target < 0 || target >= net.n_out()) {
        throw std::invalid_argument("target class out of range");
    }
    HillSpec spec;
    spec.objective = static_cast<netdream::Objective>(objective);
    spec.target = target;
    spec.target_layer = target_layer;
    spec.steps = steps;
    spec.step = step;
    spec.start = static_cast<netdream::Start>(start);
    spec.sparse_fraction = sparse_fraction;
    spec.sparse_amount = sparse_amount;
    spec.float64 = float64;
    spec.reg_weight = reg_weight;
    spec.reg_delta = reinterpret_cast<netdream::RegDeltaFn>(reg_delta);
    spec.reg_value = reinterpret_cast<netdream::RegValueFn>(reg_value);
    spec.reg_params = reg_params.size() ? reg_params.data() : nullptr;
    spec.height = height;
    spec.width = width;
    spec.record_every = record_every;
    spec.refresh_every = refresh_every;
    spec.seed = seed;

    const py::ssize_t runs = images.shape(0);
    py::array_t<double> out({runs, static_cast<py::ssize_t>(n_in)});
    std::memcpy(out.mutable_data(), images.data(), sizeof(double) * images.size());
    py::array_t<std::int64_t> accepted(runs);
    py::array_t<double> objective_out(runs), total_out(runs);
    const std::int64_t records = netdream::hill_records(spec);
    py::object trace_images = py::none(), trace_values = py::none();
    float* ti = nullptr;
    double* tv = nullptr;
    if (records > 0) {
        py::array_t<float> a({runs, static_cast<py::ssize_t>(records), static_cast<py::ssize_t>(n_in)});
        py::array_t<double> b({runs, static_cast<py::ssize_t>(records)});
        ti = a.mutable_data();
        tv = b.mutable_data();
        trace_images = a;
        trace_values = b;
    }
    double* img = out.mutable_data();
    std::int64_t* acc = accepted.mutable_data();
    double* obj = objective_out.mutable_data();
    double* tot = total_out.mutable_data();
    const netdream::Kernels& k = netdream::kernels();
    std::atomic<std::int64_t> done{0};
    // The workers touch only raw buffers owned by arrays referenced in this
    // frame and the immutable Net; the regulariser is a compiled function.
    run_monitored(
        static_cast<std::size_t>(runs), threads,
        [&](std::size_t r, const std::atomic<bool>& stop) {
            netdream::HillRun run;
            run.image = img + r * n_in;
            if (ti) {
                run.trace_images = ti + r * records * n_in;
                run.trace_values = tv + r * records;
            }
            k.hill_climb(net, spec, static_cast<std::int64_t>(r), run, stop, done);
            acc[r] = run.accepted;
            obj[r] = run.objective;
            tot[r] = run.total;
        },
        progress, done);
    return py::make_tuple(out, accepted, objective_out, total_out, trace_images, trace_values);
}

py::tuple evolve_py(const Net& net, int population, int generations, int elite, int selection,
                    int tournament, double truncation, int crossover, double crossover_rate,
                    double mutation_rate, int mutation, double eta_mutation, double eta_crossover,
                    double sigma, bool init_prior, const DoubleArray& cdf, int target,
                    const DoubleArray& wanted, double reg_weight, std::uintptr_t reg_value,
                    const DoubleArray& reg_params, int height, int width, double stop_at,
                    std::uint64_t seed, int threads, const py::object& progress, bool incremental) {
    netdream::GaSpec s;
    s.incremental = incremental;
    if (population < 2) throw std::invalid_argument("population must be at least 2");
    if (generations < 0) throw std::invalid_argument("generations must be >= 0");
    if (selection < 0 || selection > 1 || crossover < 0 || crossover > 1 || mutation < 0 ||
        mutation > 2)
        throw std::invalid_argument("unknown selection, crossover or mutation");
    if (target >= net.n_out()) throw std::invalid_argument("target class out of range");
    if (wanted.size() && wanted.size() != net.n_out())
        throw std::invalid_argument("wanted must have one value per output");
    if (cdf.size() == 1) throw std::invalid_argument("cdf needs at least two entries");
    if (height * width != net.n_in()) throw std::invalid_argument("height * width must equal the input size");
    s.population = population;
    s.generations = generations;
    s.elite = std::max(0, elite);
    s.selection = static_cast<netdream::Selection>(selection);
    s.tournament = std::max(1, tournament);
    s.truncation = truncation;
    s.crossover = static_cast<netdream::Crossover>(crossover);
    s.crossover_rate = crossover_rate;
    s.mutation_rate = mutation_rate;
    s.mutation = static_cast<netdream::Mutation>(mutation);
    s.eta_mutation = eta_mutation;
    s.eta_crossover = eta_crossover;
    s.sigma = sigma;
    s.init_prior = init_prior;
    s.cdf = cdf.size() ? cdf.data() : nullptr;
    s.cdf_bins = cdf.size() ? static_cast<int>(cdf.size()) - 1 : 0;
    if (init_prior && !s.cdf) throw std::invalid_argument("init from the prior needs a cdf");
    s.target = target;
    s.wanted = wanted.size() ? wanted.data() : nullptr;
    s.reg_weight = reg_weight;
    s.reg_value = reinterpret_cast<netdream::RegValueFn>(reg_value);
    s.reg_params = reg_params.size() ? reg_params.data() : nullptr;
    s.height = height;
    s.width = width;
    s.stop_at = stop_at;
    s.seed = seed;
    s.threads = resolve_threads(threads);
    netdream::GaResult res;
    std::atomic<std::int64_t> done{0};
    // One item: the generation loop, which spreads each generation over the
    // pool; the caller's thread watches for Ctrl-C meanwhile.
    run_monitored(
        1, 1,
        [&](std::size_t, const std::atomic<bool>& stop) { res = netdream::evolve(net, s, stop, done); },
        progress, done);
    const py::ssize_t rows = static_cast<py::ssize_t>(res.fitness.size());
    py::array_t<float> images({rows, static_cast<py::ssize_t>(net.n_in())});
    std::copy(res.images.begin(), res.images.end(), images.mutable_data());
    return py::make_tuple(images, py::array(py::cast(res.fitness)), py::array(py::cast(res.best)),
                          py::array(py::cast(res.mean)), res.generations_run);
}

py::tuple input_gradient_py(const Net& net, const DoubleArray& x, const py::array_t<std::int64_t>& targets,
                            int objective, int threads) {
    if (x.ndim() != 2 || x.shape(1) != net.n_in())
        throw std::invalid_argument("x must have shape (N, " + std::to_string(net.n_in()) + ")");
    const std::size_t n = static_cast<std::size_t>(x.shape(0));
    if (targets.ndim() != 1 || static_cast<std::size_t>(targets.shape(0)) != n)
        throw std::invalid_argument("targets must have one entry per row of x");
    if (objective < 0 || objective > 3) throw std::invalid_argument("unknown objective");
    const std::int64_t* t = targets.data();
    for (std::size_t r = 0; r < n; ++r)
        if (t[r] < 0 || t[r] >= net.n_out()) throw std::invalid_argument("target class out of range");
    py::array_t<double> grad({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(net.n_in())});
    py::array_t<double> value(static_cast<py::ssize_t>(n));
    const double* src = x.data();
    double* g = grad.mutable_data();
    double* v = value.mutable_data();
    const int n_in = net.n_in();
    {
        // raw buffers and the immutable Net only
        py::gil_scoped_release release;
        netdream::parallel_for(n, std::min<int>(resolve_threads(threads), std::max<std::size_t>(1, n / 8)),
                               [&](std::size_t b, std::size_t e, int) {
            for (std::size_t r = b; r < e; ++r)
                v[r] = netdream::input_gradient(net, src + r * n_in, static_cast<int>(t[r]),
                                                static_cast<netdream::GradObjective>(objective),
                                                g + r * n_in);
        });
    }
    return py::make_tuple(grad, value);
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
             "A dense MLP (float32, with a float64 copy). weights[l] has shape (n_out, n_in); activations[l] is "
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

    m.def("hill_climb", &hill_climb_py, py::arg("net"), py::arg("images"), py::arg("objective"),
          py::arg("target"), py::arg("target_layer"), py::arg("steps"), py::arg("step"),
          py::arg("start"), py::arg("sparse_fraction"), py::arg("sparse_amount"),
          py::arg("float64"), py::arg("reg_weight"), py::arg("reg_delta"), py::arg("reg_value"),
          py::arg("reg_params"), py::arg("height"), py::arg("width"), py::arg("record_every"),
          py::arg("refresh_every"), py::arg("seed"), py::arg("threads"), py::arg("progress"),
          "Hill climbing runs (see netdream.hill_climb). Returns (images, accepted, "
          "objective, total, trace_images, trace_values).");
    m.def("evolve", &evolve_py, py::arg("net"), py::arg("population"), py::arg("generations"),
          py::arg("elite"), py::arg("selection"), py::arg("tournament"), py::arg("truncation"),
          py::arg("crossover"), py::arg("crossover_rate"), py::arg("mutation_rate"),
          py::arg("mutation"), py::arg("eta_mutation"), py::arg("eta_crossover"),
          py::arg("sigma"), py::arg("init_prior"), py::arg("cdf"), py::arg("target"),
          py::arg("wanted"), py::arg("reg_weight"), py::arg("reg_value"), py::arg("reg_params"),
          py::arg("height"), py::arg("width"), py::arg("stop_at"), py::arg("seed"),
          py::arg("threads"), py::arg("progress"), py::arg("incremental") = true,
          "Genetic search (see netdream.evolve). Returns (images, fitness, best, mean, "
          "generations_run).");
    m.def("input_gradient", &input_gradient_py, py::arg("net"), py::arg("x"), py::arg("targets"),
          py::arg("objective"), py::arg("threads"),
          "Gradients of the objective (0 log p, 1 p, 2 margin, 3 logit) with respect to x "
          "(N, n_in) in double precision. Returns (grad, value).");
    m.def("rng_uniform", [](std::uint64_t seed, std::uint64_t stream, std::size_t n) {
        py::array_t<double> out(static_cast<py::ssize_t>(n));
        netdream::Rng rng(seed, stream);
        for (std::size_t i = 0; i < n; ++i) out.mutable_data()[i] = rng.uniform();
        return out;
    }, "The first n uniforms of a random stream (for tests and references).");
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
