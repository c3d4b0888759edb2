// The hill-climbing engine: one loop, generic over the incremental state of
// an image (a "probe"), which knows how to score a one-pixel change without a
// full forward pass.
#include "netdream/hill.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "netdream/forward64.hpp"
#include "netdream/kernels.hpp"
#include "netdream/rng.hpp"

namespace netdream {
namespace {

// The incremental state of one image of an MLP in float32: layer 0's
// pre-activations. A change of pixel i by d is one column update
// (Kernels::layer0_update) plus the remaining layers.
class MlpProbe32 {
public:
    MlpProbe32(const Net& net, const Goal& goal)
        : net_(net), goal_(goal), k_(kernels()), pre_(net.layers.front().out_pad),
          cand_(pre_.size()), scratch_(net.scratch_size()), idx_(net.n_in()), val_(net.n_in()) {}

    double reset(const double* x) {
        int m = 0;
        for (int i = 0; i < net_.n_in(); ++i) {
            idx_[m] = i;
            val_[m] = static_cast<float>(x[i]);
            m += x[i] != 0.0;
        }
        k_.layer0_update(net_, net_.layers.front().b.data(), idx_.data(), val_.data(), m, pre_.data());
        return k_.score_from_pre0(net_, pre_.data(), goal_, scratch_.data());
    }
    double propose(int i, double d) {
        return k_.score_candidate(net_, pre_.data(), i, static_cast<float>(d), cand_.data(), goal_,
                                  scratch_.data());
    }
    void accept() { pre_.swap(cand_); }

private:
    const Net& net_;
    const Goal& goal_;
    const Kernels& k_;
    std::vector<float> pre_, cand_, scratch_;
    std::vector<int> idx_;
    std::vector<float> val_;
};

// The same in double precision (the exact path for published recipes).
class MlpProbe64 {
public:
    MlpProbe64(const Net& net, const Goal& goal) : net_(net), goal_(goal), a_(net), cand_(net) {}

    double reset(const double* x) {
        layer0_pre64(net_, x, a_.pre[0].data());
        return score(a_);
    }
    double propose(int i, double d) {
        layer0_update64(net_, a_.pre[0].data(), &i, &d, 1, cand_.pre[0].data());
        return score(cand_);
    }
    void accept() { std::swap(a_, cand_); }

private:
    double score(Acts64& a) const {
        const int last = static_cast<int>(net_.layers.size()) - 1;
        if (goal_.kind == TargetKind::Unit) {
            forward64_from_pre0(net_, a, goal_.layer);
            return a.pre[goal_.layer][goal_.index];
        }
        forward64_from_pre0(net_, a, last);
        return class_score<double>(goal_, net_.layers[last].act, a.pre[last].data(),
                                   net_.layers[last].n_out);
    }

    const Net& net_;
    const Goal& goal_;
    Acts64 a_, cand_;
};

// The incremental state of one image of a convolutional network (in
// float32; see conv.inl): the kernels of this CPU's instruction set.
class ConvProbe {
public:
    ConvProbe(const Net& net, const Goal& goal, int lazy = -1, int sums = -1)
        : k_(kernels()), p_(k_.conv_probe_new(net, goal, lazy, sums)) {}
    ~ConvProbe() { k_.conv_probe_free(p_); }
    ConvProbe(const ConvProbe&) = delete;
    ConvProbe& operator=(const ConvProbe&) = delete;

    double reset(const double* x) { return k_.conv_probe_reset(p_, x); }
    double propose(int i, double d) {
        i_ = i;
        d_ = d;
        return last_ = k_.conv_probe_propose(p_, i, d);
    }
    void accept() { k_.conv_probe_accept(p_, i_, d_, last_); }
    double check() { return k_.conv_probe_check(p_); }

private:
    const Kernels& k_;
    void* p_;
    int i_ = 0;
    double d_ = 0.0, last_ = 0.0;
};

template <class Probe>
bool climb(Probe& probe, const Net& net, const HillSpec& sp, const Regularizer& reg,
           std::int64_t r, HillRun& run, const std::atomic<bool>& stop,
           std::atomic<std::int64_t>& steps_done, LiveView* view) {
    const int n = net.n_in();
    Rng rng(sp.seed, static_cast<std::uint64_t>(sp.first_run + r));
    double* x = run.image;
    if (sp.start == Start::Sparse) {
        for (int i = 0; i < n; ++i) {
            x[i] = 0.0;
            if (rng.uniform() < sp.sparse_fraction) x[i] += sp.sparse_amount * rng.uniform();
        }
    } else if (sp.start == Start::Noise) {
        for (int i = 0; i < n; ++i) x[i] = rng.uniform();
    }
    double score = probe.reset(x);
    if (std::isnan(score))
        throw std::invalid_argument(
            "the network's output is NaN for the start image of run " +
            std::to_string(sp.first_run + r) +
            ": its forward pass overflows float32 (try precision='float64')");
    const bool use_reg = reg.active();
    std::vector<double> R(reg.size(), 0.0), D(reg.size(), 0.0);
    if (use_reg) reg.values(x, R.data());
    double total = score - reg.penalty(R.data());
    std::int64_t rec = 0;
    const std::int64_t records = hill_records(sp);
    auto record = [&]() {
        if (!run.trace_images || rec >= records) return;
        float* dst = run.trace_images + static_cast<std::size_t>(rec) * n;
        for (int i = 0; i < n; ++i) dst[i] = static_cast<float>(x[i]);
        run.trace_scores[rec++] = total;
    };
    if (sp.record_every > 0) record();

    const double lo = -sp.step_size, span = 2.0 * sp.step_size;
    std::int64_t accepted = 0, pending = 0, s = 1;
    bool reached = score >= sp.stop_score;
    for (; s <= sp.steps && !reached; ++s) {
        const int i = static_cast<int>(rng.below(n));
        const double delta = span * rng.uniform() + lo;
        const double old = x[i];
        const double nv = std::min(1.0, std::max(0.0, old + delta));
        const double d = nv - old;
        if (d != 0.0) {
            const double o = probe.propose(i, d);
            if (use_reg) reg.deltas(x, i, nv, D.data());
            const double t = o - reg.penalty(R.data(), D.data());
            if (t > total) {
                probe.accept();
                x[i] = nv;
                score = o;
                for (std::size_t k = 0; k < R.size(); ++k) R[k] += D[k];
                total = t;
                ++accepted;
                reached = score >= sp.stop_score;
            }
        }
        if (sp.refresh_every > 0 && s % sp.refresh_every == 0) {
            score = probe.reset(x);
            if (use_reg) reg.values(x, R.data());
            total = score - reg.penalty(R.data());
        }
        if (sp.record_every > 0 && s % sp.record_every == 0) record();
        if (++pending == 8192) {
            steps_done.fetch_add(pending, std::memory_order_relaxed);
            pending = 0;
            if (view) view->publish(static_cast<std::size_t>(r), x, total, s);
            if (stop.load(std::memory_order_relaxed)) {
                run.steps = s;
                run.accepted = accepted;
                run.score = score;
                run.total = total;
                return false;
            }
        }
    }
    run.steps = s - 1;
    if (view) view->publish(static_cast<std::size_t>(r), x, total, run.steps);
    // a run stopped at stop_score keeps its final image in the remaining records
    while (sp.record_every > 0 && rec < records) record();
    steps_done.fetch_add(pending + (sp.steps - run.steps), std::memory_order_relaxed);
    run.accepted = accepted;
    run.score = score;
    run.total = total;
    return true;
}

}  // namespace

HillClimber::HillClimber(const Net& net, const HillSpec& spec)
    : net_(net), spec_(spec),
      reg_(spec.regularizer, net.channels, net.height, net.width) {
    check_goal(spec_.goal, net_);
    if (spec_.steps < 0) throw std::invalid_argument("steps must be >= 0");
    if (!(spec_.step_size > 0.0 && spec_.step_size <= 1.0))
        throw std::invalid_argument("step_size must lie in (0, 1]");
    if (!(spec_.sparse_fraction >= 0.0 && spec_.sparse_fraction <= 1.0) ||
        !(spec_.sparse_amount >= 0.0 && spec_.sparse_amount <= 1.0))
        throw std::invalid_argument("sparse_fraction and sparse_amount must lie in [0, 1]");
    if (spec_.record_every < 0) throw std::invalid_argument("record_every must be >= 0");
    if (spec_.refresh_every < 0) throw std::invalid_argument("refresh_every must be >= 0");
    if (spec_.first_run < 0) throw std::invalid_argument("first_run must be >= 0");
    if (std::isnan(spec_.stop_score)) throw std::invalid_argument("stop_score must not be NaN");
    if (net_.conv && spec_.precision == Precision::Float64)
        throw std::invalid_argument("precision='float64' is for multilayer perceptrons; a "
                                    "convolutional network climbs in float32");
    if (reg_.active() && !reg_.has_delta())
        throw std::invalid_argument("hill climbing needs every regularizer term's delta function");
}

bool HillClimber::run(std::int64_t r, HillRun& run, const std::atomic<bool>& stop,
                      std::atomic<std::int64_t>& steps_done, LiveView* view) const {
    if (net_.conv) {
        ConvProbe probe(net_, spec_.goal);
        return climb(probe, net_, spec_, reg_, r, run, stop, steps_done, view);
    }
    if (spec_.precision == Precision::Float64) {
        MlpProbe64 probe(net_, spec_.goal);
        return climb(probe, net_, spec_, reg_, r, run, stop, steps_done, view);
    }
    MlpProbe32 probe(net_, spec_.goal);
    return climb(probe, net_, spec_, reg_, r, run, stop, steps_done, view);
}

double conv_probe_replay(const Net& net, const Goal& goal, const double* x, const int* pixels,
                         const double* deltas, const std::uint8_t* accept, std::size_t n,
                         int check_every, int lazy, int sums) {
    if (!net.conv) throw std::invalid_argument("conv_probe_replay needs a convolutional network");
    check_goal(goal, net);
    ConvProbe probe(net, goal, lazy, sums);
    probe.reset(x);
    double worst = 0.0;
    std::int64_t accepted = 0;
    for (std::size_t k = 0; k < n; ++k) {
        if (pixels[k] < 0 || pixels[k] >= net.n_in()) throw std::invalid_argument("pixel out of range");
        probe.propose(pixels[k], deltas[k]);
        if (accept[k]) {
            probe.accept();
            if (check_every > 0 && ++accepted % check_every == 0) worst = std::max(worst, probe.check());
        }
    }
    return std::max(worst, probe.check());
}

}  // namespace netdream
