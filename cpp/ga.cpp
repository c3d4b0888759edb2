#include "netdream/ga.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "netdream/kernels.hpp"
#include "netdream/parallel.hpp"
#include "netdream/rng.hpp"

namespace netdream {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Stream of child i in generation g: distinct from the hill climber's
// streams (which are run indices) by a high tag.
std::uint64_t stream_of(std::int64_t g, std::int64_t i, std::int64_t population) {
    return (std::uint64_t{1} << 62) + static_cast<std::uint64_t>(g) * population + i;
}

double sample_cdf(Rng& rng, const double* cdf, int bins) {
    const double u = rng.uniform();
    int b = static_cast<int>(std::upper_bound(cdf + 1, cdf + bins + 1, u) - (cdf + 1));
    b = std::min(b, bins - 1);
    return (b + rng.uniform()) / bins;
}

double poly_mutate(double x, double u, double eta) {
    const double pw = 1.0 / (eta + 1.0);
    double dq;
    if (u < 0.5) {
        const double xy = 1.0 - x;
        const double val = 2.0 * u + (1.0 - 2.0 * u) * std::pow(xy, eta + 1.0);
        dq = std::pow(val, pw) - 1.0;
    } else {
        const double xy = x;  // 1 - (1 - x)
        const double val = 2.0 * (1.0 - u) + 2.0 * (u - 0.5) * std::pow(xy, eta + 1.0);
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

    void random_image(Rng& rng, float* x) const {
        for (int k = 0; k < n; ++k)
            x[k] = static_cast<float>(s.init_prior ? sample_cdf(rng, s.cdf, s.cdf_bins)
                                                   : rng.uniform());
    }

    void cross(Rng& rng, const float* a, const float* b, float* child) const {
        if (s.crossover == Crossover::Uniform) {
            for (int k = 0; k < n; ++k) child[k] = rng.uniform() < 0.5 ? a[k] : b[k];
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

    void mutate(Rng& rng, float* x) const {
        for (int k = 0; k < n; ++k) {
            if (rng.uniform() >= s.mutation_rate) continue;
            switch (s.mutation) {
                case Mutation::Polynomial:
                    x[k] = static_cast<float>(poly_mutate(x[k], rng.uniform(), s.eta_mutation));
                    break;
                case Mutation::Gaussian:
                    x[k] = static_cast<float>(
                        std::min(1.0, std::max(0.0, x[k] + s.sigma * normal(rng))));
                    break;
                case Mutation::Resample:
                    x[k] = static_cast<float>(s.cdf ? sample_cdf(rng, s.cdf, s.cdf_bins)
                                                    : rng.uniform());
                    break;
            }
        }
    }
};

// Probabilities (or outputs) of rows [begin, end) of x into p, and the
// regulariser of each row into reg.
void evaluate_rows(const Net& net, const GaSpec& s, const float* x, std::size_t begin,
                   std::size_t end, float* p, double* reg) {
    const int n = net.n_in(), k = net.n_out();
    kernels().forward_rows(net, x, InputKind::Float32, begin, end, p + begin * k, false);
    if (s.reg_value && s.reg_weight != 0.0) {
        std::vector<double> img(n);
        for (std::size_t r = begin; r < end; ++r) {
            for (int i = 0; i < n; ++i) img[i] = x[r * n + i];
            reg[r] = s.reg_value(img.data(), s.height, s.width, s.reg_params);
        }
    } else {
        for (std::size_t r = begin; r < end; ++r) reg[r] = 0.0;
    }
}

double fitness_of(const GaSpec& s, const float* p, int k, int cls, double reg) {
    double f;
    if (s.wanted) {
        f = 0.0;
        for (int j = 0; j < k; ++j) f -= std::fabs(static_cast<double>(p[j]) - s.wanted[j]);
    } else {
        f = p[cls];
    }
    return f - s.reg_weight * reg;
}

}  // namespace

GaResult evolve(const Net& net, const GaSpec& s, const std::atomic<bool>& stop,
                std::atomic<std::int64_t>& progress) {
    const int n = net.n_in(), k = net.n_out(), P = s.population;
    if (P < 2) throw std::invalid_argument("population must be at least 2");
    const bool elites_map = s.target < 0;
    Breeder br{s, n};
    std::vector<float> pop(static_cast<std::size_t>(P) * n), next(pop.size());
    std::vector<float> prob(static_cast<std::size_t>(P) * k);
    std::vector<double> reg(P), fit(P);

    // the first population
    parallel_for(P, s.threads, [&](std::size_t b, std::size_t e, int) {
        for (std::size_t i = b; i < e; ++i) {
            Rng rng(s.seed, stream_of(0, static_cast<std::int64_t>(i), P));
            br.random_image(rng, pop.data() + i * n);
        }
        evaluate_rows(net, s, pop.data(), b, e, prob.data(), reg.data());
    });

    // MAP-Elites archive: one elite per class
    std::vector<float> archive;
    std::vector<double> cell(k, -1e300), cell_conf(k, 0.0);
    auto update_archive = [&](const float* images) {
        for (int i = 0; i < P; ++i)
            for (int c = 0; c < k; ++c) {
                const double f = fitness_of(s, prob.data() + static_cast<std::size_t>(i) * k, k, c, reg[i]);
                if (f > cell[c]) {
                    cell[c] = f;
                    cell_conf[c] = prob[static_cast<std::size_t>(i) * k + c];
                    std::copy(images + static_cast<std::size_t>(i) * n,
                              images + static_cast<std::size_t>(i + 1) * n,
                              archive.begin() + static_cast<std::size_t>(c) * n);
                }
            }
    };
    GaResult out;
    auto record = [&]() -> bool {  // returns true when the goal is reached
        if (elites_map) {
            const double lo = *std::min_element(cell_conf.begin(), cell_conf.end());
            out.best.push_back(lo);
            out.mean.push_back(std::accumulate(cell_conf.begin(), cell_conf.end(), 0.0) / k);
            return lo >= s.stop_at;
        }
        double best = fit[0], sum = 0.0, conf = 0.0;
        for (int i = 0; i < P; ++i) {
            sum += fit[i];
            if (fit[i] > best) best = fit[i];
            if (!s.wanted) conf = std::max(conf, static_cast<double>(prob[static_cast<std::size_t>(i) * k + s.target]));
        }
        out.best.push_back(best);
        out.mean.push_back(sum / P);
        return !s.wanted && conf >= s.stop_at;
    };

    if (elites_map) {
        archive.assign(static_cast<std::size_t>(k) * n, 0.0f);
        update_archive(pop.data());
    } else {
        for (int i = 0; i < P; ++i)
            fit[i] = fitness_of(s, prob.data() + static_cast<std::size_t>(i) * k, k, s.target, reg[i]);
    }
    bool done = record();
    std::vector<int> order(P);
    int g = 0;
    for (; g < s.generations && !done; ++g) {
        if (stop.load()) {
            out.stopped = true;
            break;
        }
        const int elite = elites_map ? 0 : std::min(s.elite, P);
        if (!elites_map) {
            std::iota(order.begin(), order.end(), 0);
            std::stable_sort(order.begin(), order.end(),
                             [&](int a, int b) { return fit[a] > fit[b]; });
            for (int i = 0; i < elite; ++i)
                std::copy(pop.begin() + static_cast<std::size_t>(order[i]) * n,
                          pop.begin() + static_cast<std::size_t>(order[i] + 1) * n,
                          next.begin() + static_cast<std::size_t>(i) * n);
        }
        const int breeders = std::max(1, static_cast<int>(std::ceil(s.truncation * P)));
        auto pick = [&](Rng& rng) -> const float* {
            if (elites_map) return archive.data() + static_cast<std::size_t>(rng.below(k)) * n;
            if (s.selection == Selection::Truncation)
                return pop.data() + static_cast<std::size_t>(order[rng.below(breeders)]) * n;
            int best = static_cast<int>(rng.below(P));
            for (int t = 1; t < s.tournament; ++t) {
                const int c = static_cast<int>(rng.below(P));
                if (fit[c] > fit[best] || (fit[c] == fit[best] && c < best)) best = c;
            }
            return pop.data() + static_cast<std::size_t>(best) * n;
        };
        const std::size_t first = static_cast<std::size_t>(elite);
        parallel_for(P - first, s.threads, [&](std::size_t b, std::size_t e, int) {
            for (std::size_t j = b; j < e; ++j) {
                const std::size_t i = first + j;
                Rng rng(s.seed, stream_of(g + 1, static_cast<std::int64_t>(i), P));
                float* child = next.data() + i * n;
                const float* a = pick(rng);
                if (rng.uniform() < s.crossover_rate) {
                    const float* bb = pick(rng);
                    br.cross(rng, a, bb, child);
                } else {
                    std::copy(a, a + n, child);
                }
                br.mutate(rng, child);
            }
            evaluate_rows(net, s, next.data(), first + b, first + e, prob.data(), reg.data());
        });
        if (!elites_map) {
            // the elites' outputs (the same as before: the forward pass is
            // deterministic per image)
            evaluate_rows(net, s, next.data(), 0, elite, prob.data(), reg.data());
            for (int i = 0; i < P; ++i)
                fit[i] = fitness_of(s, prob.data() + static_cast<std::size_t>(i) * k, k, s.target, reg[i]);
        }
        pop.swap(next);
        if (elites_map) update_archive(pop.data());
        done = record();
        progress.fetch_add(1);
    }
    out.generations_run = g;
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
