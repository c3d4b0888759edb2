#include "netdream/grad.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "netdream/forward64.hpp"

namespace netdream {
namespace {

// d score / d z for a class goal, from the logits z (K values) and the
// output activation; returns the score.
double class_score_gradient(const Goal& goal, Act out_act, const std::vector<double>& z, int K,
                            std::vector<double>& g) {
    const int t = goal.index;
    std::fill(g.begin(), g.end(), 0.0);
    const double score = class_score<double>(goal, out_act, z.data(), K);
    switch (goal.objective) {
        case Objective::Logit:
            g[t] = 1.0;
            return score;
        case Objective::Margin: {
            int best = -1;
            for (int k = 0; k < K; ++k)
                if (k != t && (best < 0 || z[k] > z[best])) best = k;
            g[t] = 1.0;
            if (best >= 0) g[best] = -1.0;
            return score;
        }
        default:
            break;
    }
    if (out_act == Act::Identity && goal.objective != Objective::Wanted) {
        g[t] = 1.0;
        return score;
    }
    // the output activation's values p and dp_k/dz_j
    std::vector<double> p(K);
    if (out_act == Act::Softmax) {
        const double m = *std::max_element(z.begin(), z.begin() + K);
        double s = 0.0;
        for (int k = 0; k < K; ++k) s += (p[k] = std::exp(z[k] - m));
        for (int k = 0; k < K; ++k) p[k] /= s;
    } else {
        for (int k = 0; k < K; ++k) p[k] = act64(out_act, z[k], 0.0);
    }
    // dscore/dp for the probability objectives
    std::vector<double> dp(K, 0.0);
    if (goal.objective == Objective::Wanted) {
        for (int k = 0; k < K; ++k) {
            const double d = p[k] - goal.wanted[k];
            dp[k] = d > 0 ? -1.0 : (d < 0 ? 1.0 : 0.0);
        }
    } else if (goal.objective == Objective::Prob || goal.objective == Objective::SeedError) {
        dp[t] = 1.0;
    } else {  // log p_t
        if (out_act == Act::Softmax) {  // d log p_t / dz = e_t - p
            for (int k = 0; k < K; ++k) g[k] = (k == t ? 1.0 : 0.0) - p[k];
            return score;
        }
        if (out_act == Act::Sigmoid) {  // d log sigmoid(z) / dz = 1 - sigmoid(z)
            g[t] = 1.0 - p[t];
            return score;
        }
        dp[t] = 1.0 / p[t];
    }
    if (out_act == Act::Softmax) {  // dp_k/dz_j = p_k (delta_kj - p_j)
        double s = 0.0;
        for (int k = 0; k < K; ++k) s += dp[k] * p[k];
        for (int j = 0; j < K; ++j) g[j] = p[j] * (dp[j] - s);
    } else if (out_act == Act::Sigmoid) {
        for (int k = 0; k < K; ++k) g[k] = dp[k] * p[k] * (1.0 - p[k]);
    } else {
        for (int k = 0; k < K; ++k) g[k] = dp[k];
    }
    return score;
}

}  // namespace

double input_gradient(const Net& net, const double* x, const Goal& goal, double* grad) {
    const int L = static_cast<int>(net.layers.size());
    Acts64 a(net);
    layer0_pre64(net, x, a.pre[0].data());
    // the layer whose pre-activations the score reads
    const int top = goal.kind == TargetKind::Unit ? goal.layer : L - 1;
    forward64_from_pre0(net, a, top);
    std::vector<double> up(net.layers[top].n_out, 0.0), down;
    double score;
    if (goal.kind == TargetKind::Unit) {
        score = a.pre[top][goal.index];
        up[goal.index] = 1.0;
    } else {
        std::vector<double> z(a.pre[top].begin(), a.pre[top].begin() + net.layers[top].n_out);
        score = class_score_gradient(goal, net.layers[top].act, z, net.layers[top].n_out, up);
    }
    // backward: up holds d score / d pre[l]
    for (int l = top; l >= 1; --l) {
        const Layer& ly = net.layers[l];
        const Layer& below = net.layers[l - 1];
        down.assign(ly.n_in, 0.0);
        for (int j = 0; j < ly.n_out; ++j) {
            if (up[j] == 0.0) continue;
            const double* w = ly.w64.data() + static_cast<std::size_t>(j) * ly.in_pad;
            for (int i = 0; i < ly.n_in; ++i) down[i] += up[j] * w[i];
        }
        for (int i = 0; i < ly.n_in; ++i)
            down[i] *= dact64(below.act, a.pre[l - 1][i], a.post[l - 1][i], net.leaky_slope);
        up.swap(down);
    }
    const Layer& first = net.layers.front();
    for (int i = 0; i < first.n_in; ++i) {
        const double* w = first.w64.data() + static_cast<std::size_t>(i) * first.out_pad;
        double s = 0.0;
        for (int j = 0; j < first.n_out; ++j) s += w[j] * up[j];
        grad[i] = s;
    }
    return score;
}

}  // namespace netdream
