#include "netdream/forward64.hpp"

#include <algorithm>
#include <cmath>

namespace netdream {

double act64(Act a, double z, double slope) {
    switch (a) {
        case Act::Relu: return z > 0.0 ? z : 0.0;
        case Act::LeakyRelu: return z > 0.0 ? z : slope * z;
        case Act::Sigmoid: return 1.0 / (1.0 + std::exp(-z));
        case Act::Tanh: return std::tanh(z);
        default: return z;
    }
}

double dact64(Act a, double z, double h, double slope) {
    switch (a) {
        case Act::Relu: return z > 0.0 ? 1.0 : 0.0;
        case Act::LeakyRelu: return z > 0.0 ? 1.0 : slope;
        case Act::Sigmoid: return h * (1.0 - h);
        case Act::Tanh: return 1.0 - h * h;
        default: return 1.0;
    }
}

Acts64::Acts64(const Net& net) {
    for (const Layer& L : net.layers) {
        pre.emplace_back(L.out_pad, 0.0);
        post.emplace_back(L.out_pad, 0.0);
    }
}

void layer0_update64(const Net& net, const double* init, const int* idx, const double* val, int n,
                     double* pre) {
    const Layer& L = net.layers.front();
    const int P = L.out_pad;
    if (init != pre) std::copy(init, init + P, pre);
    for (int k = 0; k < n; ++k) {
        const double v = val[k];
        const double* w = L.w64.data() + static_cast<std::size_t>(idx[k]) * P;
        for (int j = 0; j < P; ++j) pre[j] += v * w[j];
    }
}

void layer0_pre64(const Net& net, const double* x, double* pre0) {
    const Layer& L = net.layers.front();
    std::copy(L.b64.begin(), L.b64.end(), pre0);
    for (int i = 0; i < L.n_in; ++i) {
        if (x[i] == 0.0) continue;
        const double v = x[i];
        layer0_update64(net, pre0, &i, &v, 1, pre0);
    }
}

namespace {

// z = b + W h for a layer stored (n_out x in_pad).
void dense64(const Layer& L, const double* h, double* z) {
    for (int o = 0; o < L.n_out; ++o) {
        const double* w = L.w64.data() + static_cast<std::size_t>(o) * L.in_pad;
        double s = 0.0;
        for (int i = 0; i < L.n_in; ++i) s += w[i] * h[i];
        z[o] = L.b64[o] + s;
    }
    for (int o = L.n_out; o < L.out_pad; ++o) z[o] = 0.0;
}

void output64(Act act, const double* z, double* out, int n) {
    if (act == Act::Softmax) {
        const double m = *std::max_element(z, z + n);
        double s = 0.0;
        for (int k = 0; k < n; ++k) s += (out[k] = std::exp(z[k] - m));
        for (int k = 0; k < n; ++k) out[k] /= s;
    } else {
        for (int k = 0; k < n; ++k) out[k] = act64(act, z[k], 0.0);
    }
}

}  // namespace

void forward64_from_pre0(const Net& net, Acts64& a, int upto) {
    const int last = static_cast<int>(net.layers.size()) - 1;
    for (int l = 0; l < upto; ++l) {
        const Layer& L = net.layers[l];
        for (int j = 0; j < L.n_out; ++j) a.post[l][j] = act64(L.act, a.pre[l][j], net.leaky_slope);
        dense64(net.layers[l + 1], a.post[l].data(), a.pre[l + 1].data());
    }
    if (upto == last) output64(net.layers[last].act, a.pre[last].data(), a.post[last].data(),
                               net.layers[last].n_out);
}

void forward64(const Net& net, const double* x, Acts64& a) {
    layer0_pre64(net, x, a.pre[0].data());
    forward64_from_pre0(net, a, static_cast<int>(net.layers.size()) - 1);
}

}  // namespace netdream
