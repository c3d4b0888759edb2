// What a search maximises: one definition of every objective, with one sign
// convention (higher is better), shared by hill climbing, the genetic search
// and the input gradient. Plain C++: no Python.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "netdream/net.hpp"

namespace netdream {

// Scores of a class target t, from the logits z (the output layer's
// pre-activations) of a network whose output activation is out_act:
//   LogProb    log p_t            (written to keep its precision near p = 1)
//   Prob       p_t
//   Margin     z_t - max_{k != t} z_k
//   Logit      z_t
//   Wanted     -sum_k |p_k - wanted_k|  (a whole wanted output vector)
//   SeedError  -(1 - p_t), computed as the seed demo does, as the others'
//              share of the mass: it saturates at -1 where p_t is about 0
//              (what recipe="seed" reproduces)
// For an identity output, LogProb, Prob and SeedError are z_t.
enum class Objective : int { LogProb = 0, Prob = 1, Margin = 2, Logit = 3, Wanted = 4, SeedError = 5 };

// What is targeted: a class (through an Objective); a hidden unit of a
// dense layer, whose pre-activation is the score (it is monotone in the
// unit's activation and never stalls where a relu is off); or a channel of
// a convolutional layer, whose mean activation over the positions is the
// score (the filter visualisation of feature maps).
enum class TargetKind : int { Class = 0, Unit = 1, Channel = 2 };

struct Goal {
    TargetKind kind = TargetKind::Class;
    Objective objective = Objective::LogProb;
    int index = 0;                // the class, or the unit
    int layer = 0;                // the unit's or channel's layer (the core's layer index)
    std::vector<double> wanted;   // Objective::Wanted: one value per output
};

// Throws std::invalid_argument when the goal does not fit the network.
void check_goal(const Goal& goal, const Net& net);

namespace detail {
inline double exp64(double x) { return std::exp(x); }
}  // namespace detail

// The softmax scores from the target's share: others = sum of exp(z_k - m)
// over k != t, all = the sum over every k, et = exp(z_t - m), zt_m = z_t - m
// (m the largest logit). log p_t = -log1p(others) when t holds the maximum
// (e_t = 1), which keeps its precision near p = 1.
inline double softmax_score(Objective obj, double others, double all, double et, double zt_m) {
    if (obj == Objective::Prob) return et / all;
    if (obj == Objective::SeedError) return -(others / all);
    if (zt_m == 0.0) return -std::log1p(others);
    return zt_m - std::log(all);
}

// The score of goal g (a class goal) from the logits z of n outputs.
// T is float or double; the arithmetic of the result is double.
template <class T>
double class_score(const Goal& g, Act out_act, const T* z, int n) {
    const int t = g.index;
    switch (g.objective) {
        case Objective::Logit:
            return static_cast<double>(z[t]);
        case Objective::Margin: {
            double best = -std::numeric_limits<double>::infinity();
            for (int k = 0; k < n; ++k)
                if (k != t) best = std::max(best, static_cast<double>(z[k]));
            return n > 1 ? static_cast<double>(z[t]) - best : static_cast<double>(z[t]);
        }
        case Objective::Wanted: {
            // probabilities in double from the logits
            std::vector<double> p(n);
            if (out_act == Act::Softmax) {
                double m = z[0];
                for (int k = 1; k < n; ++k) m = std::max(m, static_cast<double>(z[k]));
                double s = 0.0;
                for (int k = 0; k < n; ++k) s += (p[k] = detail::exp64(z[k] - m));
                for (int k = 0; k < n; ++k) p[k] /= s;
            } else if (out_act == Act::Sigmoid) {
                for (int k = 0; k < n; ++k) p[k] = 1.0 / (1.0 + detail::exp64(-static_cast<double>(z[k])));
            } else {
                for (int k = 0; k < n; ++k) p[k] = z[k];
            }
            double cost = 0.0;
            for (int k = 0; k < n; ++k) cost += std::fabs(p[k] - g.wanted[k]);
            return -cost;
        }
        case Objective::LogProb:
        case Objective::Prob:
        case Objective::SeedError:
            break;
    }
    if (out_act == Act::Identity) return static_cast<double>(z[t]);
    if (out_act == Act::Sigmoid) {
        const double zt = z[t];
        if (g.objective == Objective::Prob) return 1.0 / (1.0 + detail::exp64(-zt));
        if (g.objective == Objective::SeedError) return -1.0 / (1.0 + detail::exp64(zt));
        // log sigmoid(zt) = -softplus(-zt)
        return zt >= 0 ? -std::log1p(detail::exp64(-zt)) : zt - std::log1p(detail::exp64(zt));
    }
    // softmax, in the precision of T
    T m = z[0];
    for (int k = 1; k < n; ++k) m = std::max(m, z[k]);
    T others = 0, all = 0, et = 0;
    for (int k = 0; k < n; ++k) {
        const T e = static_cast<T>(std::exp(z[k] - m));
        all += e;
        if (k != t) others += e;
        else et = e;
    }
    return softmax_score(g.objective, static_cast<double>(others), static_cast<double>(all),
                         static_cast<double>(et), static_cast<double>(z[t] - m));
}


}  // namespace netdream
