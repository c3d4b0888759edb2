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

// d score / d x for a convolutional network: up holds d score / d (the
// output of layer top), and flows back layer by layer.
double conv_input_gradient(const Net& net, const double* x, const Goal& goal, double* grad) {
    const int L = static_cast<int>(net.layers.size());
    const int top = goal.kind == TargetKind::Class ? L - 1 : goal.layer;
    Acts64 a(net);
    conv_forward64(net, x, a, top);
    const Layer& T = net.layers[top];
    double score;
    // up: d score / d pre[top] (dense, conv) or d score / d post[top] (pool)
    std::vector<double> up(T.out.size(), 0.0);
    bool up_is_pre = true;
    if (goal.kind == TargetKind::Class) {
        std::vector<double> z(a.pre[top].begin(), a.pre[top].begin() + T.n_out), g(T.n_out);
        score = class_score_gradient(goal, T.act, z, T.n_out, g);
        std::copy(g.begin(), g.end(), up.begin());
    } else if (goal.kind == TargetKind::Unit) {
        score = a.pre[top][goal.index];
        up[goal.index] = 1.0;
    } else {  // Channel: the mean of the channel's outputs
        const double n = static_cast<double>(T.out.positions());
        score = 0.0;
        for (std::size_t p = 0; p < T.out.positions(); ++p) {
            score += a.post[top][p * T.out.cp + goal.index];
            up[p * T.out.cp + goal.index] = 1.0 / n;
        }
        score /= n;
        up_is_pre = false;
    }
    std::vector<double> down;
    for (int l = top; l >= 0; --l) {
        const Layer& ly = net.layers[l];
        // up -> d score / d pre[l] for the layers with an activation
        if ((ly.kind == Kind::Conv || ly.kind == Kind::Dense) && !up_is_pre)
            for (std::size_t i = 0; i < up.size(); ++i)
                up[i] *= dact64(ly.act, a.pre[l][i], a.post[l][i], net.leaky_slope);
        up_is_pre = false;
        const std::size_t n_in = l == 0 ? static_cast<std::size_t>(net.n_in()) : ly.in.size();
        down.assign(n_in, 0.0);
        switch (ly.kind) {
            case Kind::Dense:
                for (int o = 0; o < ly.n_out; ++o) {
                    if (up[o] == 0.0) continue;
                    const double* w = ly.w64.data() + static_cast<std::size_t>(o) * ly.in_pad;
                    for (int i = 0; i < ly.n_in; ++i) down[i] += up[o] * w[i];
                }
                break;
            case Kind::Flatten:
                std::copy(up.begin(), up.end(), down.begin());
                break;
            case Kind::MaxPool:
            case Kind::AvgPool: {
                const int CP = ly.in.cp, IW = ly.in.w;
                const double* in = a.post[l - 1].data();
                for (int oy = 0; oy < ly.out.h; ++oy)
                    for (int ox = 0; ox < ly.out.w; ++ox)
                        for (int c = 0; c < CP; ++c) {
                            const double g = up[(static_cast<std::size_t>(oy) * ly.out.w + ox) * CP + c];
                            if (g == 0.0) continue;
                            auto at = [&](int ky, int kx) {
                                return ((static_cast<std::size_t>(oy) * ly.stride + ky) * IW +
                                        ox * ly.stride + kx) * CP + c;
                            };
                            if (ly.kind == Kind::AvgPool) {
                                const double share = g / (ly.kh * ly.kw);
                                for (int ky = 0; ky < ly.kh; ++ky)
                                    for (int kx = 0; kx < ly.kw; ++kx) down[at(ky, kx)] += share;
                            } else {  // to the first maximum, in the taps' order
                                std::size_t best = at(0, 0);
                                for (int ky = 0; ky < ly.kh; ++ky)
                                    for (int kx = 0; kx < ly.kw; ++kx)
                                        if (in[at(ky, kx)] > in[best]) best = at(ky, kx);
                                down[best] += g;
                            }
                        }
                break;
            }
            case Kind::Conv: {
                const int IH = ly.in.h, IW = ly.in.w, IC = ly.in.c, ICP = ly.in.cp, CP = ly.out.cp;
                for (int oy = 0; oy < ly.out.h; ++oy)
                    for (int ox = 0; ox < ly.out.w; ++ox) {
                        const double* g = up.data() + (static_cast<std::size_t>(oy) * ly.out.w + ox) * CP;
                        for (int ky = 0; ky < ly.kh; ++ky) {
                            const int iy = oy * ly.stride - ly.pad_t + ky;
                            if (iy < 0 || iy >= IH) continue;
                            for (int kx = 0; kx < ly.kw; ++kx) {
                                const int ix = ox * ly.stride - ly.pad_l + kx;
                                if (ix < 0 || ix >= IW) continue;
                                for (int c = 0; c < IC; ++c) {
                                    const double* w = ly.w64.data() + ((static_cast<std::size_t>(ky) * ly.kw + kx) * ICP + c) * CP;
                                    double s = 0.0;
                                    for (int k = 0; k < ly.out.c; ++k) s += g[k] * w[k];
                                    const std::size_t i = l == 0 ? (static_cast<std::size_t>(c) * IH + iy) * IW + ix
                                                                 : (static_cast<std::size_t>(iy) * IW + ix) * ICP + c;
                                    down[i] += s;
                                }
                            }
                        }
                    }
                break;
            }
        }
        up.swap(down);
    }
    std::copy(up.begin(), up.begin() + net.n_in(), grad);
    return score;
}

}  // namespace

double input_gradient(const Net& net, const double* x, const Goal& goal, double* grad) {
    if (net.conv) return conv_input_gradient(net, x, goal, grad);
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
