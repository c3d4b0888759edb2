#include "netdream/ga.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "netdream/kernels.hpp"
#include "netdream/objective.hpp"
#include "netdream/parallel.hpp"
#include "netdream/rng.hpp"

namespace netdream {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Stream of child i in generation g of run `run`: distinct from the hill
// climber's streams (which are run indices) by a high tag. check_ga keeps
// generations x population below 2^44, so runs never share a stream.
std::uint64_t stream_of(std::int64_t run, std::int64_t g, std::int64_t i, std::int64_t population) {
    return (std::uint64_t{1} << 62) + (static_cast<std::uint64_t>(run) << 44) +
           static_cast<std::uint64_t>(g) * population + i;
}

double sample_cdf(Rng& rng, const double* cdf, int bins) {
    const double u = rng.uniform();
    int b = static_cast<int>(std::upper_bound(cdf + 1, cdf + bins + 1, u) - (cdf + 1));
    b = std::min(b, bins - 1);
    return (b + rng.uniform()) / bins;
}

// y^(eta + 1): by repeated squaring when eta is a small whole number (the
// usual case), else by pow.
inline double pow_eta1(double y, double eta) {
    const double e = eta + 1.0;
    if (e == std::floor(e) && e <= 64.0) {
        double r = 1.0, b = y;
        for (unsigned n = static_cast<unsigned>(e); n; n >>= 1, b *= b)
            if (n & 1u) r *= b;
        return r;
    }
    return std::pow(y, e);
}

// Deb's polynomial mutation on [0, 1] with distribution index eta.
double poly_mutate(double x, double u, double eta) {
    const double pw = 1.0 / (eta + 1.0);
    double dq;
    if (u < 0.5) {
        const double val = 2.0 * u + (1.0 - 2.0 * u) * pow_eta1(1.0 - x, eta);
        dq = std::pow(val, pw) - 1.0;
    } else {
        const double val = 2.0 * (1.0 - u) + 2.0 * (u - 0.5) * pow_eta1(x, eta);
        dq = 1.0 - std::pow(val, pw);
    }
    return std::min(1.0, std::max(0.0, x + dq));
}

double normal(Rng& rng) {
    const double u1 = 1.0 - rng.uniform(), u2 = rng.uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * kPi * u2);
}

struct Breeder {
    const GaSpec& s;
    int n;

    const double* cdf() const { return s.cdf.empty() ? nullptr : s.cdf.data(); }
    int bins() const { return static_cast<int>(s.cdf.size()) - 1; }

    void random_image(Rng& rng, float* x) const {
        for (int k = 0; k < n; ++k)
            x[k] = static_cast<float>(s.start == GaStart::Prior ? sample_cdf(rng, cdf(), bins())
                                                                : rng.uniform());
    }

    void cross(Rng& rng, const float* a, const float* b, float* child) const {
        if (s.crossover == Crossover::Uniform) {  // one random bit per pixel
            for (int k0 = 0; k0 < n; k0 += 64) {
                const std::uint64_t bits = rng.next();
                const int m = std::min(64, n - k0);
                for (int j = 0; j < m; ++j) child[k0 + j] = (bits >> j) & 1 ? b[k0 + j] : a[k0 + j];
            }
            return;
        }
        // simulated binary crossover, gene by gene with probability 1/2
        const double eta = s.eta_crossover;
        for (int k = 0; k < n; ++k) {
            const double u = rng.uniform(), v = rng.uniform();
            if (v >= 0.5 || a[k] == b[k]) {
                child[k] = a[k];
                continue;
            }
            const double beta = u <= 0.5 ? std::pow(2.0 * u, 1.0 / (eta + 1.0))
                                         : std::pow(1.0 / (2.0 * (1.0 - u)), 1.0 / (eta + 1.0));
            const double c = 0.5 * ((1.0 + beta) * a[k] + (1.0 - beta) * b[k]);
            child[k] = static_cast<float>(std::min(1.0, std::max(0.0, c)));
        }
    }

    // Each pixel mutates with probability mutation_rate: the gaps between
    // mutated pixels are geometric, so only the mutated pixels cost draws.
    void mutate(Rng& rng, float* x) const {
        if (s.mutation_rate <= 0.0) return;
        const double log_keep = std::log1p(-std::min(s.mutation_rate, 1.0 - 1e-12));
        for (int k = -1;;) {
            const double gap = s.mutation_rate >= 1.0 ? 0.0
                                                      : std::floor(std::log(1.0 - rng.uniform()) / log_keep);
            if (gap >= static_cast<double>(n - k - 1)) break;
            k += 1 + static_cast<int>(gap);
            switch (s.mutation) {
                case Mutation::Polynomial:
                    x[k] = static_cast<float>(poly_mutate(x[k], rng.uniform(), s.eta_mutation));
                    break;
                case Mutation::Gaussian:
                    x[k] = static_cast<float>(
                        std::min(1.0, std::max(0.0, x[k] + s.sigma * normal(rng))));
                    break;
                case Mutation::Resample:
                    x[k] = static_cast<float>(cdf() ? sample_cdf(rng, cdf(), bins())
                                                    : rng.uniform());
                    break;
            }
        }
    }
};

// Evaluates child images incrementally where that pays. A child keeps its
// layer-0 pre-activations; one that differs from its first parent in few
// pixels starts from the parent's and adds delta * W[:, i] for each changed
// pixel i (the hill climber's trick, through the same Kernels::layer0_update),
// the others are computed in full.
struct Evaluator {
    const Net& net;
    const Regularizer& reg;
    const Kernels& k = kernels();
    int n = net.n_in();

    // Fills pre (layer 0), z (logits) and p (outputs) for image x;
    // parent/parent_pre may be null (full evaluation).
    void operator()(const float* x, const float* parent, const float* parent_pre, float* pre,
                    float* z, float* p, int* idx, float* val, float* scratch) const {
        int m = 0;
        bool full = parent == nullptr;
        if (!full) {
            for (int i = 0; i < n; ++i) {
                idx[m] = i;
                val[m] = x[i] - parent[i];
                m += x[i] != parent[i];
            }
            full = 2 * m > n;  // then the full pass (over nonzero pixels) is cheaper
        }
        if (full) {
            m = 0;
            for (int i = 0; i < n; ++i) {
                idx[m] = i;
                val[m] = x[i];
                m += x[i] != 0.0f;
            }
            k.layer0_update(net, net.layers.front().b.data(), idx, val, m, pre);
        } else {
            k.layer0_update(net, parent_pre, idx, val, m, pre);
        }
        k.forward_from_pre0(net, pre, z, p, scratch);
    }

    // The weighted regulariser of x.
    double penalty(const float* x) const {
        if (!reg.active()) return 0.0;
        std::vector<double> img(x, x + n);
        return reg.value(img.data());
    }
};

}  // namespace

void check_ga(const Net& net, const GaSpec& s) {
    if (!s.map_elites) check_goal(s.goal, net);
    if (s.map_elites && s.goal.objective == Objective::Wanted)
        throw std::invalid_argument("MAP-Elites does not combine with a wanted output vector");
    if (s.goal.kind != TargetKind::Class)
        throw std::invalid_argument("the genetic search targets classes only");
    if (s.population < 2) throw std::invalid_argument("population must be at least 2");
    if (s.steps < 0) throw std::invalid_argument("steps (generations) must be >= 0");
    if (s.elite < 0 || s.elite >= s.population)
        throw std::invalid_argument("elite must lie in 0..population - 1");
    if (s.tournament < 1 || s.tournament > s.population)
        throw std::invalid_argument("tournament must lie in 1..population");
    if (!(s.truncation > 0.0 && s.truncation <= 1.0))
        throw std::invalid_argument("truncation must lie in (0, 1]");
    for (double v : {s.crossover_rate, s.mutation_rate})
        if (!(v >= 0.0 && v <= 1.0))
            throw std::invalid_argument("crossover_rate and mutation_rate must lie in [0, 1]");
    for (double v : {s.eta_mutation, s.eta_crossover, s.sigma})
        if (!(v > 0.0) || !std::isfinite(v))
            throw std::invalid_argument("eta and sigma must be positive and finite");
    if (!s.cdf.empty()) {
        if (s.cdf.size() < 2) throw std::invalid_argument("cdf needs at least two entries");
        for (std::size_t i = 1; i < s.cdf.size(); ++i)
            if (!(s.cdf[i] >= s.cdf[i - 1])) throw std::invalid_argument("cdf must be non-decreasing");
    }
    if (s.start == GaStart::Prior && s.cdf.empty())
        throw std::invalid_argument("a first population drawn from the prior needs a cdf");
    if (std::isnan(s.stop_at)) throw std::invalid_argument("stop_at must not be NaN");
    if (s.record_every < 0) throw std::invalid_argument("record_every must be >= 0");
    if (s.run < 0 || s.run >= (std::int64_t{1} << 17))
        throw std::invalid_argument("run must lie in 0..131071");
    // streams: generations x population must stay below 2^44 (see stream_of)
    if (static_cast<double>(s.steps + 1) * s.population >= 17592186044416.0)
        throw std::invalid_argument("steps x population is too large (at most 2^44)");
}

GaResult evolve(const Net& net, const GaSpec& s, int threads, const std::atomic<bool>& stop,
                std::atomic<std::int64_t>& progress, LiveView* view) {
    check_ga(net, s);
    const int n = net.n_in(), k = net.n_out(), P = s.population;
    const int P0 = net.layers.front().out_pad;
    // Full recomputation of every child this often, so that the float32
    // rounding of incremental updates never accumulates for long.
    constexpr int kRefresh = 16;
    const bool elites_map = s.map_elites;
    const Regularizer reg(s.regularizer, net.channels, net.height, net.width);
    Breeder br{s, n};
    Evaluator ev{net, reg};
    const std::size_t sn = static_cast<std::size_t>(n), sp = static_cast<std::size_t>(P0),
                      sk = static_cast<std::size_t>(k);
    std::vector<float> pop(P * sn), next(P * sn), pre(P * sp), pre_next(P * sp);
    std::vector<float> logit(P * sk), logit_next(P * sk), prob(P * sk), prob_next(P * sk);
    std::vector<double> pen(P), pen_next(P), fit(P);
    // one scratch per thread that will run (never more than there are children)
    const int T = std::max(1, std::min(threads, P));
    struct Scratch {
        std::vector<int> idx;
        std::vector<float> val, tail;
    };
    std::vector<Scratch> scratch(T);
    for (auto& sc : scratch) {
        sc.idx.resize(n);
        sc.val.resize(n);
        sc.tail.resize(net.scratch_size());
    }
    const Act out_act = net.layers.back().act;
    auto score_of = [&](std::size_t i, int cls) {
        Goal g = s.goal;
        g.index = cls;
        return class_score<float>(g, out_act, logit.data() + i * sk, k) - pen[i];
    };
    // An MLP evaluates each child as it is bred (incrementally from its
    // parent where that pays); a convolutional network evaluates the new
    // children together afterwards, through the batched forward pass.
    auto evaluate = [&](std::size_t i, const float* x, const float* parent, const float* parent_pre,
                        Scratch& sc, std::vector<float>& pre_v, std::vector<float>& z_v,
                        std::vector<float>& p_v, std::vector<double>& pen_v) {
        if (!net.conv)
            ev(x, parent, parent_pre, pre_v.data() + i * sp, z_v.data() + i * sk,
               p_v.data() + i * sk, sc.idx.data(), sc.val.data(), sc.tail.data());
        pen_v[i] = ev.penalty(x);
    };
    auto evaluate_batch = [&](const std::vector<float>& images, std::size_t first,
                              std::vector<float>& z_v, std::vector<float>& p_v) {
        if (!net.conv) return;
        const Kernels& kn = kernels();
        parallel_for(P - first, T, [&](std::size_t b, std::size_t e, int) {
            kn.conv_forward_rows(net, images.data(), InputKind::Float32, first + b, first + e,
                                 z_v.data() + (first + b) * sk, p_v.data() + (first + b) * sk);
        });
    };

    // the first population
    parallel_for(P, T, [&](std::size_t b, std::size_t e, int t) {
        Scratch& sc = scratch[t];
        for (std::size_t i = b; i < e; ++i) {
            Rng rng(s.seed, stream_of(s.run, 0, static_cast<std::int64_t>(i), P));
            float* x = pop.data() + i * sn;
            br.random_image(rng, x);
            evaluate(i, x, nullptr, nullptr, sc, pre, logit, prob, pen);
        }
    });
    evaluate_batch(pop, 0, logit, prob);

    // MAP-Elites archive: one elite per class, with its pre-activations
    std::vector<float> archive, archive_pre;
    std::vector<double> cell(k, -1e300), cell_conf(k, 0.0);
    auto update_archive = [&]() {
        for (int i = 0; i < P; ++i)
            for (int c = 0; c < k; ++c) {
                const double f = score_of(i, c);
                if (f > cell[c]) {
                    cell[c] = f;
                    cell_conf[c] = prob[i * sk + c];
                    std::copy(pop.begin() + i * sn, pop.begin() + (i + 1) * sn,
                              archive.begin() + c * sn);
                    std::copy(pre.begin() + i * sp, pre.begin() + (i + 1) * sp,
                              archive_pre.begin() + c * sp);
                }
            }
    };
    GaResult out;
    // the trace: the best individual (MAP-Elites: the whole archive) at generation g
    auto push_trace = [&](std::int64_t g) {
        out.trace_steps.push_back(g);
        if (elites_map) {
            out.trace_images.insert(out.trace_images.end(), archive.begin(), archive.end());
            out.trace_scores.insert(out.trace_scores.end(), cell.begin(), cell.end());
            return;
        }
        const std::size_t b = static_cast<std::size_t>(
            std::max_element(fit.begin(), fit.end()) - fit.begin());  // first of the best
        out.trace_images.insert(out.trace_images.end(), pop.begin() + b * sn,
                                pop.begin() + (b + 1) * sn);
        out.trace_scores.push_back(fit[b]);
    };
    auto trace = [&](std::int64_t g) {
        if (s.record_every > 0 && g % s.record_every == 0) push_trace(g);
        if (!view) return;
        if (elites_map) {
            for (int c = 0; c < k; ++c)
                view->publish(static_cast<std::size_t>(c), archive.data() + c * sn, cell[c], g);
        } else {
            const std::size_t b = static_cast<std::size_t>(
                std::max_element(fit.begin(), fit.end()) - fit.begin());
            view->publish(0, pop.data() + b * sn, fit[b], g);
        }
    };
    auto record = [&]() -> bool {  // true when the goal is reached
        if (elites_map) {
            const double lo = *std::min_element(cell_conf.begin(), cell_conf.end());
            out.best.push_back(lo);
            out.mean.push_back(std::accumulate(cell_conf.begin(), cell_conf.end(), 0.0) / k);
            return lo >= s.stop_at;
        }
        double best = fit[0], sum = 0.0, conf = 0.0;
        for (int i = 0; i < P; ++i) {
            sum += fit[i];
            best = std::max(best, fit[i]);
            if (s.goal.objective != Objective::Wanted)
                conf = std::max(conf, static_cast<double>(prob[i * sk + s.goal.index]));
        }
        out.best.push_back(best);
        out.mean.push_back(sum / P);
        return s.goal.objective != Objective::Wanted && conf >= s.stop_at;
    };
    auto compute_fitness = [&]() {
        for (int i = 0; i < P; ++i) fit[i] = score_of(i, s.goal.index);
    };

    if (elites_map) {
        archive.assign(static_cast<std::size_t>(k) * sn, 0.0f);
        archive_pre.assign(static_cast<std::size_t>(k) * sp, 0.0f);
        update_archive();
    } else {
        compute_fitness();
    }
    bool done = record();
    trace(0);
    std::vector<int> order(P);
    std::int64_t g = 0;
    for (; g < s.steps && !done; ++g) {
        if (stop.load()) {
            out.stopped = true;
            break;
        }
        const int elite = elites_map ? 0 : s.elite;
        if (!elites_map) {
            std::iota(order.begin(), order.end(), 0);
            std::stable_sort(order.begin(), order.end(),
                             [&](int a, int b) { return fit[a] > fit[b]; });
            for (int i = 0; i < elite; ++i) {  // copied with their outputs
                const std::size_t o = static_cast<std::size_t>(order[i]);
                std::copy(pop.begin() + o * sn, pop.begin() + (o + 1) * sn, next.begin() + i * sn);
                std::copy(pre.begin() + o * sp, pre.begin() + (o + 1) * sp, pre_next.begin() + i * sp);
                std::copy(logit.begin() + o * sk, logit.begin() + (o + 1) * sk, logit_next.begin() + i * sk);
                std::copy(prob.begin() + o * sk, prob.begin() + (o + 1) * sk, prob_next.begin() + i * sk);
                pen_next[i] = pen[o];
            }
        }
        const int breeders = std::max(1, static_cast<int>(std::ceil(s.truncation * P)));
        // a parent: (image, pre-activations)
        auto pick = [&](Rng& rng) -> std::pair<const float*, const float*> {
            std::size_t j;
            if (elites_map) {
                j = static_cast<std::size_t>(rng.below(k));
                return {archive.data() + j * sn, archive_pre.data() + j * sp};
            }
            if (s.selection == Selection::Truncation) {
                j = static_cast<std::size_t>(order[rng.below(breeders)]);
            } else {
                int best = static_cast<int>(rng.below(P));
                for (int t = 1; t < s.tournament; ++t) {
                    const int c = static_cast<int>(rng.below(P));
                    if (fit[c] > fit[best] || (fit[c] == fit[best] && c < best)) best = c;
                }
                j = static_cast<std::size_t>(best);
            }
            return {pop.data() + j * sn, pre.data() + j * sp};
        };
        const bool refresh = (g + 1) % kRefresh == 0;
        const std::size_t first = static_cast<std::size_t>(elite);
        parallel_for(P - first, T, [&](std::size_t b, std::size_t e, int t) {
            Scratch& sc = scratch[t];
            for (std::size_t j = b; j < e; ++j) {
                const std::size_t i = first + j;
                Rng rng(s.seed, stream_of(s.run, g + 1, static_cast<std::int64_t>(i), P));
                float* child = next.data() + i * sn;
                const auto a = pick(rng);
                if (rng.uniform() < s.crossover_rate) {
                    const auto bb = pick(rng);
                    br.cross(rng, a.first, bb.first, child);
                } else {
                    std::copy(a.first, a.first + n, child);
                }
                br.mutate(rng, child);
                evaluate(i, child, refresh || !s.incremental ? nullptr : a.first, a.second, sc,
                         pre_next, logit_next, prob_next, pen_next);
            }
        });
        evaluate_batch(next, first, logit_next, prob_next);
        pop.swap(next);
        pre.swap(pre_next);
        logit.swap(logit_next);
        prob.swap(prob_next);
        pen.swap(pen_next);
        if (elites_map)
            update_archive();
        else
            compute_fitness();
        done = record();
        trace(g + 1);
        progress.fetch_add(1);
    }
    out.generations_run = g;
    // the last generation is always in the trace
    if (s.record_every > 0 && (out.trace_steps.empty() || out.trace_steps.back() != g)) push_trace(g);
    if (elites_map) {
        out.images = archive;
        out.fitness = cell;
    } else {
        out.images = pop;
        out.fitness = fit;
    }
    return out;
}

}  // namespace netdream
