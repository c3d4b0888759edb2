#include "netdream/grad.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace netdream {
namespace {

double act(Act a, double z, double slope) {
    switch (a) {
        case Act::Relu: return z > 0.0 ? z : 0.0;
        case Act::LeakyRelu: return z > 0.0 ? z : slope * z;
        case Act::Sigmoid: return 0.5 * (1.0 + std::tanh(0.5 * z));
        case Act::Tanh: return std::tanh(z);
        default: return z;
    }
}

// d act / d z, from z and the activation h = act(z).
double dact(Act a, double z, double h, double slope) {
    switch (a) {
        case Act::Relu: return z > 0.0 ? 1.0 : 0.0;
        case Act::LeakyRelu: return z > 0.0 ? 1.0 : slope;
        case Act::Sigmoid: return h * (1.0 - h);
        case Act::Tanh: return 1.0 - h * h;
        default: return 1.0;
    }
}

}  // namespace

double input_gradient(const Net& net, const double* x, int t, GradObjective obj, double* grad) {
    const int L = static_cast<int>(net.layers.size());
    std::vector<std::vector<double>> pre(L), post(L);
    // forward, keeping every layer
    for (int l = 0; l < L; ++l) {
        const Layer& ly = net.layers[l];
        pre[l].assign(ly.b64.begin(), ly.b64.begin() + ly.n_out);
        if (l == 0) {
            for (int i = 0; i < ly.n_in; ++i) {
                if (x[i] == 0.0) continue;
                const double* w = ly.w64.data() + static_cast<std::size_t>(i) * ly.out_pad;
                for (int j = 0; j < ly.n_out; ++j) pre[0][j] += x[i] * w[j];
            }
        } else {
            for (int j = 0; j < ly.n_out; ++j) {
                const double* w = ly.w64.data() + static_cast<std::size_t>(j) * ly.in_pad;
                double s = 0.0;
                for (int i = 0; i < ly.n_in; ++i) s += w[i] * post[l - 1][i];
                pre[l][j] += s;
            }
        }
        post[l].resize(ly.n_out);
        if (l + 1 < L)
            for (int j = 0; j < ly.n_out; ++j) post[l][j] = act(ly.act, pre[l][j], net.leaky_slope);
    }
    // the objective and its gradient with respect to the logits z
    const Layer& last = net.layers.back();
    const int K = last.n_out;
    const std::vector<double>& z = pre[L - 1];
    std::vector<double> g(K, 0.0);
    double J;
    if (obj == GradObjective::Logit) {
        J = z[t];
        g[t] = 1.0;
    } else if (obj == GradObjective::Margin) {
        int best = -1;
        for (int k = 0; k < K; ++k)
            if (k != t && (best < 0 || z[k] > z[best])) best = k;
        J = best < 0 ? z[t] : z[t] - z[best];
        g[t] = 1.0;
        if (best >= 0) g[best] = -1.0;
    } else if (last.act == Act::Softmax) {
        const double m = *std::max_element(z.begin(), z.end());
        double s = 0.0;
        std::vector<double> p(K);
        for (int k = 0; k < K; ++k) s += (p[k] = std::exp(z[k] - m));
        for (int k = 0; k < K; ++k) p[k] /= s;
        const double logp = (z[t] - m) - std::log(s);
        // d log p_t / dz = e_t - p;  d p_t / dz = p_t (e_t - p)
        const double scale = obj == GradObjective::Prob ? p[t] : 1.0;
        for (int k = 0; k < K; ++k) g[k] = scale * ((k == t ? 1.0 : 0.0) - p[k]);
        J = obj == GradObjective::Prob ? p[t] : logp;
    } else if (last.act == Act::Sigmoid) {
        const double s = act(Act::Sigmoid, z[t], 0.0);
        if (obj == GradObjective::Prob) {
            J = s;
            g[t] = s * (1.0 - s);
        } else {  // log sigmoid(z) = -softplus(-z)
            J = z[t] >= 0 ? -std::log1p(std::exp(-z[t])) : z[t] - std::log1p(std::exp(z[t]));
            g[t] = 1.0 - s;
        }
    } else {  // identity output: the output itself
        J = z[t];
        g[t] = 1.0;
    }
    // backward
    std::vector<double> up = g, down;
    for (int l = L - 1; l >= 1; --l) {
        const Layer& ly = net.layers[l];
        const Layer& below = net.layers[l - 1];
        down.assign(ly.n_in, 0.0);
        for (int j = 0; j < ly.n_out; ++j) {
            if (up[j] == 0.0) continue;
            const double* w = ly.w64.data() + static_cast<std::size_t>(j) * ly.in_pad;
            for (int i = 0; i < ly.n_in; ++i) down[i] += up[j] * w[i];
        }
        for (int i = 0; i < ly.n_in; ++i)
            down[i] *= dact(below.act, pre[l - 1][i], post[l - 1][i], net.leaky_slope);
        up.swap(down);
    }
    const Layer& first = net.layers.front();
    for (int i = 0; i < first.n_in; ++i) {
        const double* w = first.w64.data() + static_cast<std::size_t>(i) * first.out_pad;
        double s = 0.0;
        for (int j = 0; j < first.n_out; ++j) s += w[j] * up[j];
        grad[i] = s;
    }
    return J;
}

}  // namespace netdream
