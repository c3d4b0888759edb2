#include "netdream/forward64.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

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
        const std::size_t n = net.conv ? L.out.size() : static_cast<std::size_t>(L.out_pad);
        pre.emplace_back(n, 0.0);
        post.emplace_back(n, 0.0);
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

void conv_forward64(const Net& net, const double* x, Acts64& a, int upto) {
    const int last = static_cast<int>(net.layers.size()) - 1;
    for (int l = 0; l <= upto; ++l) {
        const Layer& L = net.layers[l];
        const double* in = l == 0 ? x : a.post[l - 1].data();
        double* pre = a.pre[l].data();
        double* post = a.post[l].data();
        switch (L.kind) {
            case Kind::Conv: {
                const int IH = L.in.h, IW = L.in.w, IC = L.in.c, ICP = L.in.cp, CP = L.out.cp;
                for (int oy = 0; oy < L.out.h; ++oy)
                    for (int ox = 0; ox < L.out.w; ++ox) {
                        const std::size_t p = static_cast<std::size_t>(oy) * L.out.w + ox;
                        double* o = pre + p * CP;
                        const double* b = L.bias_map64.empty() ? L.b64.data() : L.bias_map64.data() + p * CP;
                        std::copy(b, b + CP, o);
                        for (int ky = 0; ky < L.kh; ++ky) {
                            const int iy = oy * L.stride - L.pad_t + ky;
                            if (iy < 0 || iy >= IH) continue;
                            for (int kx = 0; kx < L.kw; ++kx) {
                                const int ix = ox * L.stride - L.pad_l + kx;
                                if (ix < 0 || ix >= IW) continue;
                                for (int c = 0; c < IC; ++c) {
                                    const double v = l == 0 ? in[(static_cast<std::size_t>(c) * IH + iy) * IW + ix]
                                                            : in[(static_cast<std::size_t>(iy) * IW + ix) * ICP + c];
                                    if (v == 0.0) continue;
                                    const double* w = L.w64.data() + ((static_cast<std::size_t>(ky) * L.kw + kx) * ICP + c) * CP;
                                    for (int k = 0; k < CP; ++k) o[k] += v * w[k];
                                }
                            }
                        }
                    }
                for (std::size_t i = 0; i < L.out.size(); ++i) post[i] = act64(L.act, pre[i], net.leaky_slope);
                break;
            }
            case Kind::MaxPool:
            case Kind::AvgPool: {
                const int CP = L.in.cp, IW = L.in.w;
                const bool mx = L.kind == Kind::MaxPool;
                for (int oy = 0; oy < L.out.h; ++oy)
                    for (int ox = 0; ox < L.out.w; ++ox)
                        for (int c = 0; c < CP; ++c) {
                            double v = mx ? -std::numeric_limits<double>::infinity() : 0.0;
                            for (int ky = 0; ky < L.kh; ++ky)
                                for (int kx = 0; kx < L.kw; ++kx) {
                                    const double u = in[((static_cast<std::size_t>(oy) * L.stride + ky) * IW +
                                                         ox * L.stride + kx) * CP + c];
                                    v = mx ? std::max(v, u) : v + u;
                                }
                            post[(static_cast<std::size_t>(oy) * L.out.w + ox) * CP + c] =
                                mx ? v : v / (L.kh * L.kw);
                        }
                break;
            }
            case Kind::Flatten:
                std::copy(in, in + L.out.size(), post);
                break;
            case Kind::Dense:
                dense64(L, in, pre);
                if (l < last)
                    for (int j = 0; j < L.n_out; ++j) post[j] = act64(L.act, pre[j], net.leaky_slope);
                else
                    output64(L.act, pre, post, L.n_out);
                break;
        }
    }
}

void forward64(const Net& net, const double* x, Acts64& a) {
    if (net.conv) {
        conv_forward64(net, x, a, static_cast<int>(net.layers.size()) - 1);
        return;
    }
    layer0_pre64(net, x, a.pre[0].data());
    forward64_from_pre0(net, a, static_cast<int>(net.layers.size()) - 1);
}

}  // namespace netdream
