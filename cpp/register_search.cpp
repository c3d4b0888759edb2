// Bindings of the searches: goals, regularisers, hill climbing, the genetic
// search. Specs are bound structs and settings bound enums, so a call from
// Python names everything it passes.
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "netdream/ga.hpp"
#include "netdream/hill.hpp"
#include "netdream/objective.hpp"
#include "netdream/regularizer.hpp"

namespace netdream::bind {
namespace {

// Objects whose fields are set one by one from Python keywords: Spec(a=1, b=2).
template <class T>
T* from_kwargs(const py::kwargs& kw) {
    auto* obj = new T();
    py::object self = py::cast(obj, py::return_value_policy::reference);
    for (auto item : kw) py::setattr(self, item.first, item.second);
    return obj;
}

py::dict hill_climb_py(const Net& net, const HillSpec& spec, const DoubleArray& images, int threads,
                       const py::object& progress, const py::object& callback) {
    const HillClimber climber(net, spec);  // checks the spec
    const int n_in = net.n_in();
    if (images.ndim() != 2 || images.shape(1) != n_in)
        throw std::invalid_argument("images must have shape (runs, " + std::to_string(n_in) + ")");
    const py::ssize_t runs = images.shape(0);
    py::array_t<double> out({runs, static_cast<py::ssize_t>(n_in)});
    if (runs) std::memcpy(out.mutable_data(), images.data(), sizeof(double) * images.size());
    py::array_t<std::int64_t> accepted(runs), steps(runs);
    py::array_t<double> score(runs), total(runs);
    const std::int64_t records = hill_records(spec);
    py::object trace_images = py::none(), trace_scores = py::none();
    float* ti = nullptr;
    double* tv = nullptr;
    if (records > 0) {
        py::array_t<float> a({runs, static_cast<py::ssize_t>(records), static_cast<py::ssize_t>(n_in)});
        py::array_t<double> b({runs, static_cast<py::ssize_t>(records)});
        ti = a.mutable_data();
        tv = b.mutable_data();
        trace_images = a;
        trace_scores = b;
    }
    double* img = out.mutable_data();
    std::int64_t* acc = accepted.mutable_data();
    std::int64_t* stp = steps.mutable_data();
    double* sc = score.mutable_data();
    double* tot = total.mutable_data();
    std::atomic<std::int64_t> done{0};
    // runs that never start (a search stopped early) keep their start image
    std::fill(acc, acc + runs, 0);
    std::fill(stp, stp + runs, 0);
    std::fill(sc, sc + runs, std::numeric_limits<double>::quiet_NaN());
    std::fill(tot, tot + runs, std::numeric_limits<double>::quiet_NaN());
    LiveView view;
    std::uint64_t seen = 0;
    if (!callback.is_none()) view.configure(static_cast<std::size_t>(runs), n_in);
    // The workers touch only raw buffers owned by arrays referenced in this
    // frame, the immutable Net, the climber and the view (which locks);
    // regularisers are compiled functions that do not need the GIL.
    const bool stopped = run_monitored(
        static_cast<std::size_t>(runs), threads,
        [&](std::size_t r, const std::atomic<bool>& stop) {
            HillRun run;
            run.image = img + r * n_in;
            if (ti) {
                run.trace_images = ti + r * records * n_in;
                run.trace_scores = tv + r * records;
            }
            climber.run(static_cast<std::int64_t>(r), run, stop, done,
                        callback.is_none() ? nullptr : &view);
            acc[r] = run.accepted;
            stp[r] = run.steps;
            sc[r] = run.score;
            tot[r] = run.total;
        },
        progress, done, live_callback(callback, view, seen));
    py::dict d;
    d["images"] = out;
    d["accepted"] = accepted;
    d["steps"] = steps;
    d["score"] = score;
    d["total"] = total;
    d["trace_images"] = trace_images;
    d["trace_scores"] = trace_scores;
    d["stopped"] = stopped;
    return d;
}

py::dict evolve_py(const Net& net, const GaSpec& spec, int threads, const py::object& progress,
                   const py::object& callback) {
    check_ga(net, spec);
    GaResult res;
    std::atomic<std::int64_t> done{0};
    const int t = resolve_threads(threads);
    LiveView view;
    std::uint64_t seen = 0;
    if (!callback.is_none())
        view.configure(spec.map_elites ? static_cast<std::size_t>(net.n_out()) : 1, net.n_in());
    // One item: the generation loop, which spreads each generation over the
    // pool; the caller's thread watches for Ctrl-C meanwhile.
    const bool stopped = run_monitored(
        1, 1,
        [&](std::size_t, const std::atomic<bool>& stop) {
            res = evolve(net, spec, t, stop, done, callback.is_none() ? nullptr : &view);
        },
        progress, done, live_callback(callback, view, seen));
    const py::ssize_t n_in = net.n_in();
    const py::ssize_t rows = static_cast<py::ssize_t>(res.fitness.size());
    py::array_t<float> images({rows, n_in});
    std::copy(res.images.begin(), res.images.end(), images.mutable_data());
    const py::ssize_t records = static_cast<py::ssize_t>(res.trace_steps.size());
    const py::ssize_t per = records ? static_cast<py::ssize_t>(res.trace_scores.size()) / records : 0;
    py::array_t<float> trace_images({records, per, n_in});
    std::copy(res.trace_images.begin(), res.trace_images.end(), trace_images.mutable_data());
    py::array_t<double> trace_scores({records, per});
    std::copy(res.trace_scores.begin(), res.trace_scores.end(), trace_scores.mutable_data());
    py::dict d;
    d["images"] = images;
    d["fitness"] = py::array(py::cast(res.fitness));
    d["best"] = py::array(py::cast(res.best));
    d["mean"] = py::array(py::cast(res.mean));
    d["trace_images"] = trace_images;
    d["trace_scores"] = trace_scores;
    d["trace_steps"] = py::array(py::cast(res.trace_steps));
    d["generations"] = res.generations_run;
    d["stopped"] = stopped;
    return d;
}

}  // namespace

void register_search(py::module_& m) {
    py::enum_<Objective>(m, "Objective", py::module_local(),
                         "What a class goal maximises (higher is better).")
        .value("logprob", Objective::LogProb)
        .value("prob", Objective::Prob)
        .value("margin", Objective::Margin)
        .value("logit", Objective::Logit)
        .value("wanted", Objective::Wanted)
        .value("seed_error", Objective::SeedError);
    py::enum_<TargetKind>(m, "TargetKind", py::module_local())
        .value("output", TargetKind::Class)
        .value("unit", TargetKind::Unit)
        .value("channel", TargetKind::Channel);
    py::enum_<Start>(m, "Start", py::module_local())
        .value("given", Start::Given)
        .value("sparse", Start::Sparse)
        .value("noise", Start::Noise);
    py::enum_<Precision>(m, "Precision", py::module_local())
        .value("float32", Precision::Float32)
        .value("float64", Precision::Float64);
    py::enum_<Selection>(m, "Selection", py::module_local())
        .value("tournament", Selection::Tournament)
        .value("truncation", Selection::Truncation);
    py::enum_<Crossover>(m, "Crossover", py::module_local())
        .value("uniform", Crossover::Uniform)
        .value("sbx", Crossover::Sbx);
    py::enum_<Mutation>(m, "Mutation", py::module_local())
        .value("polynomial", Mutation::Polynomial)
        .value("gaussian", Mutation::Gaussian)
        .value("resample", Mutation::Resample);
    py::enum_<GaStart>(m, "GaStart", py::module_local())
        .value("noise", GaStart::Noise)
        .value("prior", GaStart::Prior);

    py::class_<Goal>(m, "Goal", py::module_local(), "What a search maximises (objective.hpp).")
        .def(py::init(&from_kwargs<Goal>))
        .def_readwrite("kind", &Goal::kind)
        .def_readwrite("objective", &Goal::objective)
        .def_readwrite("index", &Goal::index)
        .def_readwrite("layer", &Goal::layer)
        .def_readwrite("wanted", &Goal::wanted);

    py::class_<RegTerm>(m, "RegTerm", py::module_local(),
                        "One weighted regulariser term: C addresses of its value and delta functions.")
        .def(py::init(&from_kwargs<RegTerm>))
        .def_readwrite("name", &RegTerm::name)
        .def_readwrite("weight", &RegTerm::weight)
        .def_readwrite("value", &RegTerm::value)
        .def_readwrite("delta", &RegTerm::delta)
        .def_readwrite("params", &RegTerm::params);

    py::class_<HillSpec>(m, "HillSpec", py::module_local(), "Settings of a hill climb (hill.hpp).")
        .def(py::init(&from_kwargs<HillSpec>))
        .def_readwrite("goal", &HillSpec::goal)
        .def_readwrite("steps", &HillSpec::steps)
        .def_readwrite("step_size", &HillSpec::step_size)
        .def_readwrite("start", &HillSpec::start)
        .def_readwrite("sparse_fraction", &HillSpec::sparse_fraction)
        .def_readwrite("sparse_amount", &HillSpec::sparse_amount)
        .def_readwrite("precision", &HillSpec::precision)
        .def_readwrite("regularizer", &HillSpec::regularizer)
        .def_readwrite("record_every", &HillSpec::record_every)
        .def_readwrite("refresh_every", &HillSpec::refresh_every)
        .def_readwrite("stop_score", &HillSpec::stop_score)
        .def_readwrite("seed", &HillSpec::seed)
        .def_readwrite("first_run", &HillSpec::first_run);

    py::class_<GaSpec>(m, "GaSpec", py::module_local(), "Settings of a genetic search (ga.hpp).")
        .def(py::init(&from_kwargs<GaSpec>))
        .def_readwrite("goal", &GaSpec::goal)
        .def_readwrite("map_elites", &GaSpec::map_elites)
        .def_readwrite("population", &GaSpec::population)
        .def_readwrite("steps", &GaSpec::steps)
        .def_readwrite("elite", &GaSpec::elite)
        .def_readwrite("selection", &GaSpec::selection)
        .def_readwrite("tournament", &GaSpec::tournament)
        .def_readwrite("truncation", &GaSpec::truncation)
        .def_readwrite("crossover", &GaSpec::crossover)
        .def_readwrite("crossover_rate", &GaSpec::crossover_rate)
        .def_readwrite("mutation_rate", &GaSpec::mutation_rate)
        .def_readwrite("mutation", &GaSpec::mutation)
        .def_readwrite("eta_mutation", &GaSpec::eta_mutation)
        .def_readwrite("eta_crossover", &GaSpec::eta_crossover)
        .def_readwrite("sigma", &GaSpec::sigma)
        .def_readwrite("start", &GaSpec::start)
        .def_readwrite("cdf", &GaSpec::cdf)
        .def_readwrite("regularizer", &GaSpec::regularizer)
        .def_readwrite("stop_at", &GaSpec::stop_at)
        .def_readwrite("incremental", &GaSpec::incremental)
        .def_readwrite("record_every", &GaSpec::record_every)
        .def_readwrite("seed", &GaSpec::seed)
        .def_readwrite("run", &GaSpec::run);

    // A regulariser term that returned NaN or infinity (a Numba kernel that
    // raised returns NaN through its wrapper): Python re-runs the term on
    // .image to raise the term's own error.
    static PyObject* reg_error = PyErr_NewException("netdream._core.RegularizerError",
                                                    PyExc_ValueError, nullptr);
    m.add_object("RegularizerError", py::handle(reg_error));
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const RegularizerError& e) {
            py::array_t<double> image(static_cast<py::ssize_t>(e.image.size()));
            std::copy(e.image.begin(), e.image.end(), image.mutable_data());
            py::object err = py::reinterpret_borrow<py::object>(reg_error)(e.what());
            err.attr("term") = e.term;
            err.attr("image") = image;
            err.attr("pixel") = e.pixel;
            err.attr("new_value") = e.new_value;
            PyErr_SetObject(reg_error, err.ptr());
        }
    });

    m.def("hill_climb", &hill_climb_py, py::arg("net"), py::arg("spec"), py::arg("images"),
          py::arg("threads"), py::arg("progress") = py::none(), py::arg("callback") = py::none(),
          "Hill-climbing runs, one per row of images (the starts for Start.given). "
          "callback(images, scores, steps), when given, is called about every 50 ms with the "
          "newest image of every run; returning False stops the search. Returns a dict: "
          "images, accepted, steps, score, total, trace_images, trace_scores, stopped.");
    m.def(
        "_conv_probe_replay",
        [](const Net& net, const Goal& goal, const DoubleArray& image,
           const py::array_t<int, py::array::c_style | py::array::forcecast>& pixels,
           const DoubleArray& deltas, const py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>& accept,
           int check_every, int lazy, int sums) {
            const std::size_t n = static_cast<std::size_t>(pixels.size());
            if (image.size() != net.n_in() || static_cast<std::size_t>(deltas.size()) != n ||
                static_cast<std::size_t>(accept.size()) != n)
                throw std::invalid_argument("image, pixels, deltas and accept do not match");
            py::gil_scoped_release nogil;
            return conv_probe_replay(net, goal, image.data(), pixels.data(), deltas.data(), accept.data(), n,
                                     check_every, lazy, sums);
        },
        py::arg("net"), py::arg("goal"), py::arg("image"), py::arg("pixels"), py::arg("deltas"),
        py::arg("accept"), py::arg("check_every"), py::arg("lazy") = -1, py::arg("sums") = -1,
        "For tests: the hill climber's incremental state of a CNN through the given proposals "
        "(accepted where accept); the largest relative difference from a full recomputation. "
        "lazy: the lazy dense layer as hill climbing chooses (-1), never (0), wherever it "
        "can serve (1; 2, 3: its weights always read by row, by line); sums: each conv "
        "layer's changed sums gathered or scattered as hill climbing chooses (-1), always "
        "gathered (0), always scattered (1).");
    m.def("evolve", &evolve_py, py::arg("net"), py::arg("spec"), py::arg("threads"),
          py::arg("progress") = py::none(), py::arg("callback") = py::none(),
          "A genetic search. callback(images, scores, steps), when given, is called about every "
          "50 ms with the best individual (MAP-Elites: the archive); returning False stops the "
          "search. Returns a dict: images, fitness, best, mean, trace_images, trace_scores, "
          "trace_steps, generations, stopped.");
}

}  // namespace netdream::bind
