// Convolutional networks in float32: the batched forward pass, and the
// incremental single-pixel re-evaluation of the hill climber. Included by
// kernels.inl inside its instruction-set namespace (uses its vector helpers
// and GEMM). Activations are stored channels last (see net.hpp's Shape).

namespace {

// ----------------------------------------------------------------- layers

// The rows and columns of a convolution's input, zero-bordered for its
// padding, that out_h x out_w outputs (and the input itself) reach.
int padded_height(const Layer& L, int out_h) {
    return std::max(L.in.h, (out_h - 1) * L.stride - L.pad_t + L.kh) + L.pad_t;
}
int padded_width(const Layer& L, int out_w) {
    return std::max(L.in.w, (out_w - 1) * L.stride - L.pad_l + L.kw) + L.pad_l;
}

// The input of a convolution, channels last, in a PH x PW buffer (this
// thread's) with a border of zeros: rows and columns [-pad, ...) of the
// input. From the image plane by plane for layer 0.
const std::vector<float>& padded_input(const Layer& L, const float* in, bool image, int PH, int PW) {
    const int IH = L.in.h, IW = L.in.w, IC = L.in.c, ICP = L.in.cp;
    thread_local std::vector<float> padded;
    padded.assign(static_cast<std::size_t>(PH) * PW * ICP, 0.0f);
    for (int y = 0; y < IH; ++y) {
        float* dst = padded.data() + (static_cast<std::size_t>(y + L.pad_t) * PW + L.pad_l) * ICP;
        if (image) {
            for (int c = 0; c < IC; ++c) {
                const float* src = in + (static_cast<std::size_t>(c) * IH + y) * IW;
                for (int x = 0; x < IW; ++x) dst[static_cast<std::size_t>(x) * ICP + c] = src[x];
            }
        } else {
            std::memcpy(dst, in + static_cast<std::size_t>(y) * IW * ICP, sizeof(float) * IW * ICP);
        }
    }
    return padded;
}

// Layer 0 (an image: few channels, so few taps per output) summed directly
// from the padded input, kR positions by up to kC vectors of output channels
// in registers: each weight vector loaded serves kR positions (AVX-512's 32
// registers hold 4 x 4 and the 4 weight vectors; with 16, 4 x 4 spilled to
// the stack, and 6 x 2 takes AVX2 half the time: 7% of a genetic search on
// Deep-MNIST in place of 14%). The sum of
// each output is the GEMM's below (the bias, then the taps in (ky, kx, ic)
// order, one fused multiply-add each), so both give the same bits.
void conv_direct(const Layer& L, const float* padded, int PW, float* out, std::size_t p0,
                 std::size_t p1) {
    constexpr int kR = W == 16 ? 4 : 6, kC = W == 16 ? 4 : 2;
    const int OW = L.out.w, ICP = L.in.cp, CP = L.out.cp, S = L.stride;
    const int taps = L.kh * L.kw * ICP;
    thread_local std::vector<int> off;  // each tap's offset in the padded input
    off.resize(static_cast<std::size_t>(taps));
    for (int ky = 0, t = 0; ky < L.kh; ++ky)
        for (int kx = 0; kx < L.kw; ++kx)
            for (int c = 0; c < ICP; ++c) off[t++] = (ky * PW + kx) * ICP + c;
    auto origin = [&](std::size_t p) {  // the padded input under position p's first tap
        const int oy = static_cast<int>(p / OW), ox = static_cast<int>(p % OW);
        return padded + (static_cast<std::size_t>(oy * S) * PW + ox * S) * ICP;
    };
    auto init = [&](std::size_t p) {
        return L.bias_map.empty() ? L.b.data() : L.bias_map.data() + p * CP;
    };
    for (int o0 = 0; o0 < CP; o0 += kC * W) by_vectors(std::min(kC, (CP - o0) / W), [&](auto nvc) {
        constexpr int NV = decltype(nvc)::value;
        const float* w = L.w.data() + o0;
        std::size_t p = p0;
        for (; p + kR <= p1; p += kR) {
            const float* x[kR];
            vf acc[kR][NV];
            ND_UNROLL for (int r = 0; r < kR; ++r) {
                x[r] = origin(p + r);
                ND_UNROLL for (int v = 0; v < NV; ++v) acc[r][v] = load(init(p + r) + o0 + v * W);
            }
            for (int t = 0; t < taps; ++t) {
                vf wv[NV];
                ND_UNROLL for (int v = 0; v < NV; ++v) wv[v] = load(w + static_cast<std::size_t>(t) * CP + v * W);
                ND_UNROLL for (int r = 0; r < kR; ++r) {
                    const vf xv = splat(x[r][off[t]]);
                    ND_UNROLL for (int v = 0; v < NV; ++v) acc[r][v] += xv * wv[v];
                }
            }
            ND_UNROLL for (int r = 0; r < kR; ++r)
                ND_UNROLL for (int v = 0; v < NV; ++v) store(out + (p + r) * CP + o0 + v * W, acc[r][v]);
        }
        for (; p < p1; ++p) {
            const float* x = origin(p);
            vf acc[NV];
            ND_UNROLL for (int v = 0; v < NV; ++v) acc[v] = load(init(p) + o0 + v * W);
            for (int t = 0; t < taps; ++t) {
                const vf xv = splat(x[off[t]]);
                ND_UNROLL for (int v = 0; v < NV; ++v) acc[v] += xv * load(w + static_cast<std::size_t>(t) * CP + v * W);
            }
            ND_UNROLL for (int v = 0; v < NV; ++v) store(out + p * CP + o0 + v * W, acc[v]);
        }
    });
}

// out (positions x out.cp) = bias (or layer 0's bias map) + patches . W,
// the patches of `in` (channels last) gathered row by row (im2col), then
// a GEMM, a chunk of positions at a time; output positions [p0, p1) (a
// position's result does not depend on the others, so neither on the
// chunks). The input is first copied, channels last, into a buffer with a
// border of zeros for the padding, so that each tap row of a patch is one
// contiguous run. Layer 0 (the image, plane by plane) is summed directly
// instead (conv_direct: the same sums).
void conv_rows(const Layer& L, const float* in, bool image, const PackedB& w, float* out,
               std::size_t p0, std::size_t p1) {
    const int OH = L.out.h, OW = L.out.w, ICP = L.in.cp;
    const int CP = L.out.cp, S = L.stride;
    const std::size_t K = static_cast<std::size_t>(L.kh) * L.kw * ICP;
    const int PW = padded_width(L, OW);
    const std::vector<float>& padded = padded_input(L, in, image, padded_height(L, OH), PW);
    if (image) {
        conv_direct(L, padded.data(), PW, out, p0, p1);
        return;
    }
    const std::size_t run = static_cast<std::size_t>(L.kw) * ICP;  // one tap row
    if (!L.bias_map.empty())
        std::memcpy(out + p0 * CP, L.bias_map.data() + p0 * CP, sizeof(float) * (p1 - p0) * CP);
    else
        for (std::size_t p = p0; p < p1; ++p) std::memcpy(out + p * CP, L.b.data(), sizeof(float) * CP);
    // the patches of at most about 4 MB (and at least 64 positions) at a time
    thread_local std::vector<float> patches;
    const std::size_t chunk = std::max<std::size_t>(64, (std::size_t{1} << 20) / K);
    patches.resize(std::min(chunk, p1 - p0) * K);
    for (std::size_t c0 = p0; c0 < p1; c0 += chunk) {
        const std::size_t c1 = std::min(p1, c0 + chunk);
        for (std::size_t p = c0; p < c1; ++p) {
            const int oy = static_cast<int>(p / OW), ox = static_cast<int>(p % OW);
            float* row = patches.data() + (p - c0) * K;
            for (int ky = 0; ky < L.kh; ++ky) {
                const float* src = padded.data() + (static_cast<std::size_t>(oy * S + ky) * PW + ox * S) * ICP;
                float* dst = row + ky * run;
                std::size_t t = 0;
                for (; t + W <= run; t += W) store(dst + t, load(src + t));
                for (; t < run; ++t) dst[t] = src[t];
            }
        }
        gemm_packed(static_cast<int>(c1 - c0), patches.data(), K, w, out + c0 * CP, CP);
    }
}

void conv_layer(const Layer& L, const float* in, bool image, const PackedB& w, float* out) {
    conv_rows(L, in, image, w, out, 0, L.out.positions());
}

// ---------------------------------------------- Winograd F(4x4, 5x5)
//
// The batched forward pass computes a 5x5, stride-1 convolution of a
// hidden layer (Deep-MNIST's conv2: about three quarters of its time) by
// Winograd's minimal filtering (Lavin & Gray 2016): each 4x4 block of
// outputs from the 8x8 block of inputs under it, as 64 products per
// channel pair in place of 400. For every block and input channel V =
// B^T d B; for each of the 64 points one GEMM, M = V . U over the channels
// (U = G g G^T, the weights transformed once in float64); the outputs
// A^T M A + bias. Interpolation points 0, 1, -1, 2, -2, 1/2, -1/2 and
// infinity. A 14x14 output (Deep-MNIST's) takes 4x4 blocks of which the
// last row and column are half used: 1,024 points per channel pair in
// place of F(2x2, 5x5)'s 1,764 (the batched pass 10-17% faster). Its
// float32 error is about 3x F(2x2)'s in conv2's outputs, and on the whole
// MNIST test set the probabilities stay within 2.4e-6 of float64 for a
// trained Deep-MNIST CNN (F(2x2): 1.9e-6) and 3.0e-6 for the shipped cnn
// (1.8e-6). B^T's rows are scaled to small integers, the scale moved into
// G. A block's outputs do not depend on the other blocks (nor, in the
// GEMM, on the other rows), so any split gives the same bits. The hill
// climber keeps the direct sum: its incremental updates are.
constexpr int kWino = 8;                    // inputs per block side
constexpr int kWinoOut = kWino - 4;         // outputs per block side
constexpr int kWinoPoints = kWino * kWino;  // 64
// B^T's rows divided by their scale (G carries it): B^T = diag(1/s) Bi^T
constexpr double kWinoScale[kWino] = {4.0, 18.0, 18.0, 360.0, 360.0, 45.0 / 16.0, 45.0 / 16.0, 4.0};
// G (8 x 5): the kernel's values at the points (infinity: its last tap)
constexpr double kWinoPt[kWino - 1] = {0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5};

bool winograd_fits(const Layer& L, bool image) {
    return L.kind == Kind::Conv && !image && L.kh == 5 && L.kw == 5 && L.stride == 1 &&
           L.bias_map.empty() && L.in.cp % W == 0 && L.out.cp % W == 0;
}

// Rows of blocks of a layer's Winograd pass.
inline int winograd_rows(const Layer& L) { return (L.out.h + kWinoOut - 1) / kWinoOut; }

// U for each point (xi, nu): in.cp x out.cp, packed for gemm_packed.
std::vector<PackedB> winograd_weights(const Layer& L) {
    double G[kWino][5];
    for (int a = 0; a < kWino; ++a)
        for (int k = 0; k < 5; ++k) {
            const double v = a == kWino - 1 ? (k == 4 ? 1.0 : 0.0) : std::pow(kWinoPt[a], k);
            G[a][k] = v / kWinoScale[a];
        }
    const int ICP = L.in.cp, CP = L.out.cp;
    std::vector<PackedB> u(kWinoPoints);
    std::vector<float> plane(static_cast<std::size_t>(ICP) * CP);
    for (int xi = 0; xi < kWino; ++xi)
        for (int nu = 0; nu < kWino; ++nu) {
            for (int c = 0; c < ICP; ++c)
                for (int o = 0; o < CP; ++o) {
                    double v = 0.0;
                    for (int ky = 0; ky < 5; ++ky) {
                        double row = 0.0;
                        for (int kx = 0; kx < 5; ++kx)
                            row += L.w64[((static_cast<std::size_t>(ky) * 5 + kx) * ICP + c) * CP + o] * G[nu][kx];
                        v += G[xi][ky] * row;
                    }
                    plane[static_cast<std::size_t>(c) * CP + o] = static_cast<float>(v);
                }
            u[xi * kWino + nu].pack(ICP, CP, plane.data(), CP);
        }
    return u;
}

// Bi^T d for eight vectors (Bi^T: B^T with its rows scaled to integers:
// 4 0 -21 0 21 0 -4 0 | 0 -4 -4 17 17 -4 -4 0 | 0 4 -4 -17 17 4 -4 0 |
// 0 2 1 -10 -5 8 4 0 | 0 -2 1 10 -5 -8 4 0 | 0 4 8 -5 -10 1 2 0 |
// 0 -4 8 5 -10 -1 2 0 | 0 -4 0 21 0 -21 0 4).
inline void winograd_in(const vf d[kWino], vf v[kWino]) {
    const vf two = splat(2.0f), four = splat(4.0f), five = splat(5.0f), eight = splat(8.0f),
             ten = splat(10.0f), c17 = splat(17.0f), c21 = splat(21.0f);
    v[0] = four * (d[0] - d[6]) + c21 * (d[4] - d[2]);
    v[7] = four * (d[7] - d[1]) + c21 * (d[3] - d[5]);
    v[1] = c17 * (d[3] + d[4]) - four * ((d[1] + d[5]) + (d[2] + d[6]));
    v[2] = c17 * (d[4] - d[3]) + four * ((d[1] + d[5]) - (d[2] + d[6]));
    const vf e3 = d[2] - five * d[4] + four * d[6], o3 = two * d[1] - ten * d[3] + eight * d[5];
    v[3] = e3 + o3;
    v[4] = e3 - o3;
    const vf e5 = eight * d[2] - ten * d[4] + two * d[6], o5 = four * d[1] - five * d[3] + d[5];
    v[5] = e5 + o5;
    v[6] = e5 - o5;
}

// A^T m for eight vectors: the four outputs of a row or column
// (A^T: 1 1 1 1 1 1 1 0 | 0 1 -1 2 -2 1/2 -1/2 0 | 0 1 1 4 4 1/4 1/4 0 |
// 0 1 -1 8 -8 1/8 -1/8 1).
inline void winograd_out(const vf m[kWino], vf y[kWinoOut]) {
    const vf a = m[1] + m[2], b = m[1] - m[2], c = m[3] + m[4], d = m[3] - m[4], e = m[5] + m[6],
             f = m[5] - m[6];
    y[0] = m[0] + a + c + e;
    y[1] = b + splat(2.0f) * d + splat(0.5f) * f;
    y[2] = a + splat(4.0f) * c + splat(0.25f) * e;
    y[3] = b + splat(8.0f) * d + splat(0.125f) * f + m[7];
}

// Output rows [4 ty0, 4 ty1) (at most out.h) of one image: out = bias + in * w.
void conv_winograd(const Layer& L, const float* in, const std::vector<PackedB>& u, float* out, int ty0,
                   int ty1) {
    constexpr int M = kWinoOut;
    const int OH = L.out.h, OW = L.out.w, ICP = L.in.cp, CP = L.out.cp;
    const int TW = (OW + M - 1) / M, TH = winograd_rows(L);
    const int PH = std::max(padded_height(L, OH), M * TH + 4);
    const int PW = std::max(padded_width(L, OW), M * TW + 4);
    const std::vector<float>& padded = padded_input(L, in, false, PH, PW);
    // a few rows of blocks at a time: V and M of at most about 4 MB (one
    // chunk for Deep-MNIST's conv2; a large image in many)
    const std::size_t per_row = static_cast<std::size_t>(TW) * kWinoPoints * (ICP + CP);
    const int chunk = static_cast<int>(std::max<std::size_t>(1, (std::size_t{1} << 20) / per_row));
    thread_local std::vector<float> v, m;
    for (int ta = ty0; ta < ty1; ta += chunk) {
        const int tb = std::min(ty1, ta + chunk);
        const std::size_t nt = static_cast<std::size_t>(tb - ta) * TW;  // blocks
        // one point's matrix, then kPad floats (a cache line): the 64
        // points of a block are read (written) together, and at a stride of
        // a multiple of 4 KB (Deep-MNIST's conv2: 16 blocks x 64 channels)
        // they all fell in one set of L1 (on AVX2 this pass was 19% of a
        // genetic search on Deep-MNIST; now 10%)
        const std::size_t vstep = nt * ICP + kPad, mstep = nt * CP + kPad;
        v.resize(kWinoPoints * vstep);
        m.resize(kWinoPoints * mstep);
        // V = B^T d B for every block and channel vector
        for (int ty = ta; ty < tb; ++ty)
            for (int tx = 0; tx < TW; ++tx) {
                const std::size_t t = static_cast<std::size_t>(ty - ta) * TW + tx;
                for (int c = 0; c < ICP; c += W) {
                    vf cols[kWino][kWino];  // Bi^T d: [xi][j]
                    for (int j = 0; j < kWino; ++j) {
                        vf d[kWino];
                        for (int i = 0; i < kWino; ++i)
                            d[i] = load(padded.data() +
                                        ((static_cast<std::size_t>(M * ty + i) * PW + M * tx + j) * ICP + c));
                        vf o[kWino];
                        winograd_in(d, o);
                        for (int xi = 0; xi < kWino; ++xi) cols[xi][j] = o[xi];
                    }
                    for (int xi = 0; xi < kWino; ++xi) {
                        vf o[kWino];
                        winograd_in(cols[xi], o);
                        for (int nu = 0; nu < kWino; ++nu)
                            store(v.data() + (xi * kWino + nu) * vstep + t * ICP + c, o[nu]);
                    }
                }
            }
        for (int p = 0; p < kWinoPoints; ++p)
            gemm_packed(static_cast<int>(nt), v.data() + p * vstep, static_cast<std::size_t>(ICP), u[p],
                        m.data() + p * mstep, static_cast<std::size_t>(CP), true);
        // out = A^T M A + bias
        for (int ty = ta; ty < tb; ++ty)
            for (int tx = 0; tx < TW; ++tx) {
                const std::size_t t = static_cast<std::size_t>(ty - ta) * TW + tx;
                for (int c = 0; c < CP; c += W) {
                    vf r[M][kWino];  // A^T M: [i][nu]
                    for (int nu = 0; nu < kWino; ++nu) {
                        vf col[kWino], y[M];
                        for (int xi = 0; xi < kWino; ++xi)
                            col[xi] = load(m.data() + (xi * kWino + nu) * mstep + t * CP + c);
                        winograd_out(col, y);
                        for (int i = 0; i < M; ++i) r[i][nu] = y[i];
                    }
                    const vf bias = load(L.b.data() + c);
                    for (int i = 0; i < M; ++i) {
                        const int oy = M * ty + i;
                        if (oy >= OH) break;
                        vf y[M];
                        winograd_out(r[i], y);
                        for (int j = 0; j < M; ++j) {
                            const int ox = M * tx + j;
                            if (ox < OW)
                                store(out + (static_cast<std::size_t>(oy) * OW + ox) * CP + c, y[j] + bias);
                        }
                    }
                }
            }
    }
}

// One output position of a pooling layer, channels last: max or mean of
// the size x size window, the taps in row order.
inline void pool_cell(const Layer& L, const float* in, int oy, int ox, float* o) {
    const int CP = L.in.cp, IW = L.in.w;
    const bool mx = L.kind == Kind::MaxPool;
    for (int c = 0; c < CP; c += W) store(o + c, splat(mx ? -std::numeric_limits<float>::infinity() : 0.0f));
    for (int ky = 0; ky < L.kh; ++ky)
        for (int kx = 0; kx < L.kw; ++kx) {
            const float* i = in + (static_cast<std::size_t>(oy * L.stride + ky) * IW + ox * L.stride + kx) * CP;
            for (int c = 0; c < CP; c += W) {
                const vf v = load(i + c), a = load(o + c);
                store(o + c, mx ? vmax(a, v) : a + v);
            }
        }
    if (!mx) {
        const vf inv = splat(1.0f / static_cast<float>(L.kh * L.kw));
        for (int c = 0; c < CP; c += W) store(o + c, load(o + c) * inv);
    }
}

void pool_layer(const Layer& L, const float* in, float* out) {
    for (int oy = 0; oy < L.out.h; ++oy)
        for (int ox = 0; ox < L.out.w; ++ox)
            pool_cell(L, in, oy, ox, out + (static_cast<std::size_t>(oy) * L.out.w + ox) * L.out.cp);
}

// A convolutional network's dense layers: every output is b[o] plus, for
// k = 0, 1, ... in order, h[k] * W[o, k] (one fused multiply-add each; exact
// zeros of h may be skipped, adding 0 * w changes nothing), whether a row is
// computed alone (dense_cols: the columns of W streamed, the outputs' sums in
// registers) or in a block of rows (dense_gemm: one GEMM, W . H^T). So a
// row's result depends neither on the path nor on the other rows or threads.

// z += d[e] * Wt[idx[e], :] for e = 0, 1, ..., m - 1 in order (Wt: a dense
// layer's transposed weights, out_pad floats per input): column by column,
// each column's contiguous floats streaming in while the running sums stay
// in L1. No software prefetch: for a Deep-MNIST column of 4 KB from L3,
// fetching the next columns ahead made each column 1.25x slower than the
// hardware's own prefetching (a microbenchmark of the hill climber's pattern).
void stream_columns(const Layer& L, const int* idx, const float* d, std::size_t m, float* z) {
    const std::size_t stride = static_cast<std::size_t>(L.out_pad);
    const float* wt = L.wt.data();
    for (std::size_t e = 0; e < m; ++e) {
        const vf dv = splat(d[e]);
        const float* w = wt + static_cast<std::size_t>(idx[e]) * stride;
        for (int o = 0; o < L.out_pad; o += W) store(z + o, load(z + o) + dv * load(w + o));
    }
}

// Outputs [o0, o1) (multiples of W; o1 at most out_pad) of one row h, over
// its nonzero inputs: all of them by streaming whole columns; a part (a
// thread's share) with that part's sums in registers, kMaxAcc vectors at a
// time (a thread then reads only its own part of each column).
void dense_cols(const Layer& L, const float* h, float* z, int o0, int o1) {
    thread_local std::vector<int> idx;
    thread_local std::vector<float> val;
    idx.resize(static_cast<std::size_t>(L.n_in));
    val.resize(static_cast<std::size_t>(L.n_in));
    const int nnz = gather_nonzero(h, L.n_in, 1.0f, idx.data(), val.data());
    if (o0 == 0 && o1 == L.out_pad) {
        std::memcpy(z, L.b.data(), sizeof(float) * L.out_pad);
        stream_columns(L, idx.data(), val.data(), static_cast<std::size_t>(nnz), z);
    } else {
        columns_accumulate(L.wt.data(), static_cast<std::size_t>(L.out_pad), L.b.data(), idx.data(),
                           val.data(), nnz, o0, o1, z);
    }
}

// Outputs [o0, o1) of m rows (h: row stride ldh; z: row stride ldz).
//
// After relu and pooling most inputs of the first dense layer are often
// zero in every row of the block (a trained Deep-MNIST CNN: about 80% of
// the columns, on digits and on noise alike). When few enough columns have
// a nonzero, the block is H' . W' over those columns only: H' the rows'
// values there, W' the picked rows of the transposed weights, packed piece
// by piece as the product goes (gemm_picked; worth it while the kept
// columns are a small enough share, m rows sharing each piece). A skipped
// column adds 0 * w to every row, so each row's result is the same either
// way.
void dense_gemm(const Layer& L, const float* h, std::size_t ldh, int m, float* z, std::size_t ldz,
                int o0, int o1) {
    thread_local std::vector<int> cols;
    thread_local std::vector<float> hc;
    thread_local PackedB hp;
    thread_local std::vector<float> any;  // |h| summed over the rows: nonzero where a row is
    cols.resize(static_cast<std::size_t>(L.n_in));
    any.assign(static_cast<std::size_t>(L.n_in), 0.0f);
    for (int r = 0; r < m; ++r) {
        const float* hr = h + static_cast<std::size_t>(r) * ldh;
        for (int k = 0; k < L.n_in; ++k) any[k] += std::fabs(hr[k]);
    }
    int kept = 0;
    for (int k = 0; k < L.n_in; ++k) {
        cols[kept] = k;
        kept += any[k] != 0.0f;
    }
    if (static_cast<long>(kept) * (m + 8) < static_cast<long>(L.n_in) * m) {
        const std::size_t kk = static_cast<std::size_t>(kept);
        hc.resize(static_cast<std::size_t>(m) * kk);
        for (int r = 0; r < m; ++r)
            for (std::size_t j = 0; j < kk; ++j)
                hc[r * kk + j] = h[static_cast<std::size_t>(r) * ldh + cols[j]];
        for (int r = 0; r < m; ++r)
            std::memcpy(z + static_cast<std::size_t>(r) * ldz + o0, L.b.data() + o0, sizeof(float) * (o1 - o0));
        gemm_picked(m, hc.data(), kk, kept, o1 - o0, L.wt.data() + o0, static_cast<std::size_t>(L.out_pad),
                    cols.data(), z + o0, ldz);
        return;
    }
    thread_local std::vector<float> ct;  // outputs x columns
    hp.pack_rows(L.n_in, m, h, ldh);
    const int real = std::max(0, std::min(o1, L.n_out) - o0);  // W's rows
    const std::size_t n = static_cast<std::size_t>(hp.n);
    ct.resize(static_cast<std::size_t>(real) * n);
    for (int o = 0; o < real; ++o) std::fill(ct.begin() + o * n, ct.begin() + (o + 1) * n, L.b[o0 + o]);
    gemm_packed(real, L.w.data() + static_cast<std::size_t>(o0) * L.in_pad, L.in_pad, hp, ct.data(), n);
    for (int r = 0; r < m; ++r) {
        float* zr = z + static_cast<std::size_t>(r) * ldz;
        for (int o = 0; o < real; ++o) zr[o0 + o] = ct[o * n + r];
        for (int o = o0 + real; o < o1; ++o) zr[o] = 0.0f;  // the padding
    }
}

// Rows at least this many go through the GEMM.
constexpr int kGemmRows = 4;

// Every layer's output for one image: pre[l] (conv, dense: pre-activations)
// and act[l] (the layer's output; a flatten's is its input's).
struct ConvBuffers {
    std::vector<std::vector<float>> pre, act;
    std::vector<PackedB> packed;  // the conv layers' weights, for the GEMM
    std::vector<std::vector<PackedB>> wino;  // Winograd's U, for the layers it fits
    const Net* net = nullptr;
    std::uint64_t uid = 0;  // the network's (a freed network's address may be reused)

    void prepare(const Net& n) {
        if (net == &n && uid == n.uid && pre.size() == n.layers.size()) return;
        net = &n;
        uid = n.uid;
        const std::size_t L = n.layers.size();
        pre.assign(L, {});
        act.assign(L, {});
        packed.assign(L, PackedB{});
        wino.clear();
        for (std::size_t l = 0; l < L; ++l) {
            const Layer& ly = n.layers[l];
            if (ly.kind == Kind::Conv || ly.kind == Kind::Dense) pre[l].assign(ly.out.size(), 0.0f);
            if (ly.kind != Kind::Flatten) act[l].assign(ly.out.size(), 0.0f);
            if (ly.kind == Kind::Conv) {
                const int K = ly.kh * ly.kw * ly.in.cp;
                packed[l].pack(K, ly.out.cp, ly.w.data(), ly.out.cp);
            }
        }
    }
    // Winograd's weights for the layers it fits (the batched pass's only:
    // not made for every hill climber).
    void prepare_winograd() {
        if (!wino.empty()) return;
        wino.assign(net->layers.size(), {});
        for (std::size_t l = 0; l < net->layers.size(); ++l)
            if (winograd_fits(net->layers[l], l == 0)) wino[l] = winograd_weights(net->layers[l]);
    }
    // The output of layer l (a flatten's is its input's).
    const float* output(std::size_t l) const {
        while (net->layers[l].kind == Kind::Flatten) --l;
        return act[l].data();
    }
    float* output(std::size_t l) {
        while (net->layers[l].kind == Kind::Flatten) --l;
        return act[l].data();
    }
};

// Layers [from, to) of one image, from the image x (plane by plane) or the
// outputs already in b: the hill climber's state. Its dense layers are dot
// products (dense_rows, as the hill climber's candidates compute them: its
// scores compare with each other), not the forward pass's dense_cols order.
void conv_forward_layers(const Net& net, const float* x, ConvBuffers& b, std::size_t from,
                         std::size_t to) {
    const float slope = static_cast<float>(net.leaky_slope);
    for (std::size_t l = from; l < to; ++l) {
        const Layer& L = net.layers[l];
        const float* in = l == 0 ? x : b.output(l - 1);
        switch (L.kind) {
            case Kind::Conv:
                conv_layer(L, in, l == 0, b.packed[l], b.pre[l].data());
                apply_hidden(L.act, b.pre[l].data(), b.act[l].data(), static_cast<int>(L.out.size()), slope);
                break;
            case Kind::MaxPool:
            case Kind::AvgPool:
                pool_layer(L, in, b.act[l].data());
                break;
            case Kind::Flatten:
                break;
            case Kind::Dense:
                dense_rows(L, in, b.pre[l].data());
                if (l + 1 < net.layers.size())
                    apply_hidden(L.act, b.pre[l].data(), b.act[l].data(), L.out_pad, slope);
                else
                    apply_output(L.act, b.pre[l].data(), b.act[l].data(), L.n_out);
                break;
        }
    }
}

// The index of the Flatten layer (a convolutional network has one).
std::size_t flatten_index(const Net& net) {
    for (std::size_t l = 0; l < net.layers.size(); ++l)
        if (net.layers[l].kind == Kind::Flatten) return l;
    return net.layers.size();
}

// Images whose dense layers run as one batched product. Larger blocks share
// the packing of the dense weights (the columns with a nonzero, picked for
// each block) among more images: 128 against 32 made the genetic search on
// Deep-MNIST 6-9% faster and the trained one's forward pass of 1,000 images
// 17% (256: no further gain on the search).
constexpr int kConvBlock = 128;

// Multiply-adds below which a convolution of one image is not split over
// the threads (the shipped CNNs' and Deep-MNIST's first layer, 0.2-0.6
// million: 8 us slower on two threads than on one).
constexpr std::size_t kSplitWork = std::size_t{1} << 21;

// Rows [begin, end) of x. With threads > 1 each image's layers are split
// over the threads (the positions of a convolution, the outputs of a dense
// layer): for batches too small to split by image; the same results.
template <class T>
void conv_forward_rows_t(const Net& net, const T* x, float scale, std::size_t begin,
                         std::size_t end, float* logits, float* probs, int threads) {
    thread_local ConvBuffers buffers;
    thread_local std::vector<float> img, ha, hb;
    ConvBuffers& b = buffers;  // this thread's (a lambda naming a thread_local finds its own thread's)
    b.prepare(net);
    b.prepare_winograd();
    const std::size_t n_in = static_cast<std::size_t>(net.n_in());
    const std::size_t fl = flatten_index(net);
    const std::size_t n_flat = net.layers[fl].out.size();
    const int n_out = net.n_out();
    std::size_t widest = n_flat;
    for (std::size_t l = fl + 1; l < net.layers.size(); ++l)
        widest = std::max<std::size_t>(widest, net.layers[l].out_pad);
    img.resize(n_in);
    // images per block: kConvBlock, fewer when the flattened layer is wide
    // (two blocks of its outputs at most about 32 MB)
    const std::size_t block = std::clamp<std::size_t>((std::size_t{1} << 22) / widest, 1, kConvBlock);
    ha.resize(widest * block);
    hb.resize(widest * block);
    const float slope = static_cast<float>(net.leaky_slope);
    for (std::size_t r0 = begin; r0 < end; r0 += block) {
        const int m = static_cast<int>(std::min<std::size_t>(block, end - r0));
        for (int r = 0; r < m; ++r) {
            const T* src = x + (r0 + r) * n_in;
            for (std::size_t i = 0; i < n_in; ++i) img[i] = static_cast<float>(src[i]) * scale;
            for (std::size_t l = 0; l < fl; ++l) {
                const Layer& L = net.layers[l];
                if (!b.wino[l].empty()) {
                    const float* in = b.output(l - 1);
                    const std::size_t row = static_cast<std::size_t>(L.out.w) * L.out.cp;
                    const int TH = winograd_rows(L);
                    parallel_for(static_cast<std::size_t>(TH), threads, [&](std::size_t t0, std::size_t t1, int) {
                        conv_winograd(L, in, b.wino[l], b.pre[l].data(), static_cast<int>(t0), static_cast<int>(t1));
                        const std::size_t y0 = kWinoOut * t0, y1 = std::min<std::size_t>(kWinoOut * t1, L.out.h);
                        apply_hidden(L.act, b.pre[l].data() + y0 * row, b.act[l].data() + y0 * row,
                                     static_cast<int>((y1 - y0) * row), slope);
                    });
                } else if (threads > 1 && L.kind == Kind::Conv &&
                           L.out.positions() * L.out.c * L.kh * L.kw * L.in.c >= kSplitWork) {
                    const float* in = l == 0 ? img.data() : b.output(l - 1);
                    const std::size_t CP = static_cast<std::size_t>(L.out.cp);
                    parallel_for(L.out.positions(), threads, [&](std::size_t p0, std::size_t p1, int) {
                        conv_rows(L, in, l == 0, b.packed[l], b.pre[l].data(), p0, p1);
                        apply_hidden(L.act, b.pre[l].data() + p0 * CP, b.act[l].data() + p0 * CP,
                                     static_cast<int>((p1 - p0) * CP), slope);
                    });
                } else {
                    conv_forward_layers(net, img.data(), b, l, l + 1);
                }
            }
            std::memcpy(ha.data() + r * n_flat, b.output(fl), sizeof(float) * n_flat);
        }
        // the dense layers, the block at once
        float* h = ha.data();
        float* z = hb.data();
        std::size_t ld = n_flat;
        for (std::size_t l = fl + 1; l < net.layers.size(); ++l) {
            const Layer& L = net.layers[l];
            parallel_for(static_cast<std::size_t>(L.out_pad / W), threads,
                         [&](std::size_t v0, std::size_t v1, int) {  // vectors of outputs
                const int o0 = static_cast<int>(v0) * W, o1 = static_cast<int>(v1) * W;
                if (m >= kGemmRows)
                    dense_gemm(L, h, ld, m, z, L.out_pad, o0, o1);
                else
                    for (int r = 0; r < m; ++r)
                        dense_cols(L, h + r * ld, z + static_cast<std::size_t>(r) * L.out_pad, o0, o1);
            });
            ld = L.out_pad;
            if (l + 1 < net.layers.size()) {
                apply_hidden(L.act, z, z, m * L.out_pad, slope);
                std::swap(h, z);
            }
        }
        const Layer& last = net.layers.back();
        for (int r = 0; r < m; ++r) {
            const float* zr = z + static_cast<std::size_t>(r) * last.out_pad;
            if (logits) std::memcpy(logits + (r0 + r - begin) * n_out, zr, sizeof(float) * n_out);
            if (probs) apply_output(last.act, zr, probs + (r0 + r - begin) * n_out, n_out);
        }
    }
}

template <class... A>
void conv_forward_any(const void* x, InputKind kind, const Net& net, A... args) {
    if (kind == InputKind::Uint8)
        conv_forward_rows_t(net, static_cast<const std::uint8_t*>(x), 1.0f / 255.0f, args...);
    else
        conv_forward_rows_t(net, static_cast<const float*>(x), 1.0f, args...);
}

}  // namespace

// The batched forward pass of a convolutional network (see forward_rows).
void conv_forward_rows(const Net& net, const void* x, InputKind kind, std::size_t begin,
                       std::size_t end, float* logits, float* probs) {
    conv_forward_any(x, kind, net, begin, end, logits, probs, 1);
}

void conv_forward_split(const Net& net, const void* x, InputKind kind, std::size_t n,
                        float* logits, float* probs, int threads) {
    conv_forward_any(x, kind, net, std::size_t{0}, n, logits, probs, threads);
}

// ------------------------------------------------------ the hill climber's
//
// The incremental re-evaluation of one image under a one-pixel change. The
// state holds every layer's pre-activations and outputs. A change of pixel
// (c, y, x) moves the first conv layer's pre-activations at the kh x kw
// output positions whose window holds the pixel (every output channel: one
// vector of weights per tap); each layer then passes on only the outputs
// that really changed — a relu that stays off, a max-pool cell whose
// maximum did not move, passes on nothing — and the first dense layer after
// the flatten adds the changed inputs' columns. Nothing is written to the
// state until the candidate is accepted.

namespace {

struct Changes {  // outputs of one layer that a candidate changes
    std::vector<int> idx;          // index in the layer's output (channels last)
    std::vector<int> y, x, c;      // ... as position and channel (no division needed downstream)
    std::vector<float> val, old;
    std::size_t n = 0;             // how many (the vectors hold as many as the layer has)
    // Or, from a conv layer into a pooling layer, by position: the positions
    // where some output changed, and the candidate's outputs at every
    // touched position (vals + position * cp; the pool reads whole vectors).
    bool by_pos = false;
    std::vector<int> pos;
    const float* vals = nullptr;
    bool empty() const { return by_pos ? pos.empty() : n == 0; }
    void reserve(std::size_t most) {
        idx.resize(most);
        y.resize(most);
        x.resize(most);
        c.resize(most);
        val.resize(most);
        old.resize(most);
    }
    void clear() {
        n = 0;
        pos.clear();
    }
    void add(int i, int yy, int xx, int cc, float v, float o) {
        idx[n] = i;
        y[n] = yy;
        x[n] = xx;
        c[n] = cc;
        val[n] = v;
        old[n] = o;
        ++n;
    }
    std::size_t size() const { return n; }
};

// Memory for large buffers read at random (a lazy layer's weights, 13 MB
// for Deep-MNIST): in 2 MB pages where the system gives them on request
// (Linux's transparent huge pages in "madvise" mode), so that reading 64
// bytes from each of hundreds of rows does not miss the TLB every time.
template <class T>
struct HugeAlloc {
    using value_type = T;
    static constexpr std::size_t kHuge = std::size_t{1} << 21;
    HugeAlloc() = default;
    template <class U>
    HugeAlloc(const HugeAlloc<U>&) {}
    T* allocate(std::size_t n) {
        const std::size_t bytes = n * sizeof(T);
        if (bytes < kHuge) return std::allocator<T>().allocate(n);
        const std::size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
        void* p = std::aligned_alloc(kHuge, rounded);
        if (!p) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
        madvise(p, rounded, MADV_HUGEPAGE);  // a hint: nothing changes if refused
#endif
        return static_cast<T*>(p);
    }
    void deallocate(T* p, std::size_t n) {
        if (n * sizeof(T) < kHuge)
            std::allocator<T>().deallocate(p, n);
        else
            std::free(p);
    }
    template <class U>
    bool operator==(const HugeAlloc<U>&) const { return true; }
    template <class U>
    bool operator!=(const HugeAlloc<U>&) const { return false; }
};
using HugeVector = std::vector<float, HugeAlloc<float>>;

// Large buffers kept from one hill climber to the next (a fresh 13 MB
// buffer costs its page faults on every run): at most four, any thread.
struct BufferPool {
    std::mutex mu;
    std::vector<HugeVector> kept;
    HugeVector take(std::size_t n) {
        std::lock_guard<std::mutex> lock(mu);
        for (auto it = kept.begin(); it != kept.end(); ++it)
            if (it->capacity() >= n) {
                HugeVector v = std::move(*it);
                kept.erase(it);
                v.resize(n);
                return v;
            }
        return HugeVector(n);
    }
    void give(HugeVector&& v) {
        if (v.empty()) return;
        std::lock_guard<std::mutex> lock(mu);
        if (kept.size() < 4) kept.push_back(std::move(v));
    }
};
BufferPool& buffer_pool() {
    static BufferPool pool;
    return pool;
}

struct ConvProbeImpl {
    const Net& net;
    const Goal goal;
    ConvBuffers base;                 // the current image's layers
    std::vector<float> img;           // the current image, plane by plane
    std::size_t top;                  // the last layer the goal needs
    // per layer, for a candidate
    std::vector<Changes> ch;
    Changes pixel;                    // the candidate's change of the image
    std::vector<std::vector<std::uint32_t>> mark;  // conv: per position; pool: per output
    std::vector<std::vector<int>> touched;         // conv: positions touched
    struct Grouped {  // conv: the input changes grouped by input position (pool: changed only)
        std::vector<std::uint32_t> mark;  // per input position: changed in this candidate
        std::vector<int> start, count;    // ... where its changes are in c, d
        std::vector<int> changed;         // the changed positions
        std::vector<int> c;               // the changes' channels ...
        std::vector<float> d;             // ... and differences, position by position
    };
    std::vector<Grouped> grouped;
    std::vector<std::vector<float>> dpre;          // conv: pre-activation changes, then new values
    std::vector<std::vector<float>> cact;          // conv: the candidate's outputs at the touched positions
    std::vector<std::vector<std::uint32_t>> in_mark;  // pool: which input positions the candidate changed
    std::vector<std::vector<float>> in_val;           // ... and the candidate's input there
    std::vector<std::vector<float>> full_pre, full_act;  // dense: the candidate's whole vectors
    std::vector<float> lanes;         // conv, pool: one position's candidate outputs
    std::vector<bool> full;           // dense layer l's candidate is a whole vector
    // The first dense layer after the flatten, when it has relu and lies
    // below the goal's layer ("lazy"). A candidate changes a few of its
    // inputs, and streaming their columns of weights was most of its cost
    // (Deep-MNIST: about 80 columns of 4 KB from L3). But most units are off
    // and provably stay off: |the change of unit j| <= the sum over the
    // changed input positions P of (the sum of |d| there) * peak[P, j], the
    // largest |weight| of j from P's channels (or the norm of the d there
    // times the norm of those weights, if smaller); a unit whose sum stays
    // below 0 outputs 0 whatever its exact sum, so the score does not need
    // it.
    // The units are kept in an order (slots) with those that are on first,
    // set from the state at a reset, and the weights in that order, so that
    // a line of W slots all provably off is not read at all.
    // An accepted candidate's changes are added to every line at once
    // (lazy_accept: the lines read hold them already), so the bounds start
    // from the state's exact sums, float rounding apart. (They used to be
    // added to a line only when it was next read, a history of accepted
    // changes owed, bounded by a slack in between: the slack's loose bounds
    // kept lines from settling, and hill climbing from a blank or grey
    // start is 10-40% faster without it on the random and the trained
    // Deep-MNIST CNNs.) A reset (refresh_every) starts afresh.
    //
    // When the next layer is a narrow dense layer (the classes), the lazy
    // layer's units that are on and provably stay on need not be read
    // either ("fold"): the next layer's sums change by M . dx, where M =
    // W2 diag(set) W1 (n_in x the next layer's width) sums W2[:, j] W1[j, :]
    // over a set of units (those on when it was last set), plus, for each
    // unit of a line that is read, W2[:, j] (its output's change - its
    // sum's change if in the set). A line is read when one of its slots is
    // in the set but not provably on, or out of it but not provably off.
    // The next layer's sums are then kept by adding their changes (float
    // rounding apart, the same sums; a reset starts afresh).
    struct Lazy {
        bool on = false;
        int lines = 0;                    // out_pad / W
        int src_w = 0;                    // width of the flattened layer's grid
        std::vector<int> perm;            // the unit in each slot
        HugeVector wtp;                   // wt, its columns in slot order (n_in x out_pad) ...
        std::vector<std::uint32_t> row_version;  // ... where a row's version is the order's
        HugeVector wl;                    // the same weights by line (lines x n_in x W: a line's
                                          // W slots' weights for each input side by side) ...
        std::vector<std::uint32_t> line_version;  // ... where a line's version is the order's
        std::vector<float> zeros;         // n_in zeros: the weights of a padding slot
        std::uint32_t version = 0;
        std::vector<float> peak, norm;    // the layer's peak and norm (positions x out_pad), in slot order
        int lines_pad = 0;                // lines, rounded up to whole vectors
        std::vector<float> peak_line;     // positions x lines_pad: a line's largest peak
        std::vector<float> bound_line;    // by line: a candidate's bound from peak_line
        std::vector<float> z;             // by slot: the state's sums
        std::vector<float> zc;            // by slot: a candidate's sums (live lines)
        std::vector<float> spos, spos2;   // per position: sum of |d|, of d^2, of a candidate's changes
        std::vector<float> sp, sp2;       // ... by touched position, in order (sp2: the root)
        std::vector<int> touched_pos, live, rest;  // rest: the lines not live
        std::vector<float> dv;            // the candidate's changes: differences
        std::vector<int> at;              // ... their inputs' offsets in a line (idx * W)
        std::vector<const float*> rows;   // ... and their rows of weights (slot order)
        // Which of the two the sums read (see lazy_sums), chosen from the
        // candidates so far: their changes, and the room for changes at the
        // positions they touched (positions x padded channels)
        bool by_row = false;
        std::size_t changes = 0, room = 0;
        std::size_t accepted = 0;
        bool whole = false;               // the candidate took the whole product instead
        // fold (see above)
        bool fold = false;
        int nx = 0;                       // the next layer's out_pad
        std::vector<float> M;             // n_in x nx
        std::vector<char> in_set;         // by unit
        std::vector<std::uint32_t> set_bits;  // by line: bit k for slot k in the set
        std::size_t set_updates = 0;      // rank-1 updates since M was made
    };
    std::vector<Lazy> lazy;
    // Narrower layers are read whole (stream_columns): measured on an AVX2
    // machine, the lazy layer's bookkeeping cost the shipped CNNs' dense
    // layers (1568 -> 128 and -> 64 units) more than it saved (their hill
    // climbing 5-14% slower with it), even on trained Deep-MNIST-like
    // layers of 256 to 1024 units, faster on the random Deep-MNIST (10%).
    static constexpr int kLazyUnits = 256;
    // Per conv or pooling layer, what the candidates' bookkeeping would
    // otherwise divide for (tens of integer divisions per candidate: 5-10%
    // of a trained Deep-MNIST CNN's candidate): each position's row and
    // column, and for each input row (column) the output rows (columns) it
    // reaches.
    struct Grid {
        std::vector<int> in_y, in_x;    // input position -> row, column
        std::vector<int> out_y, out_x;  // output position -> row, column
        std::vector<int> tap_y, tap_x;  // conv: input row * kh + ky -> output row (-1: none); columns alike
        std::vector<int> cell_y0, cell_y1, cell_x0, cell_x1;  // pooling: input row -> cell rows [y0, y1]; columns alike
    };
    std::vector<Grid> grid;
    std::size_t reached = 0;          // the candidate changed layers up to here
    std::size_t folded = 0;           // a dense layer whose candidate sums came with the lazy one below (0: none)
    std::uint32_t stamp = 0;
    int sums_by = -1;                 // see the constructor
    int read_by = -1;                 // ... likewise
    double channel_sum = 0.0, cand_channel_sum = 0.0;  // Channel goal
    double score = 0.0;

    ~ConvProbeImpl() {
        for (Lazy& z : lazy) {
            buffer_pool().give(std::move(z.wtp));
            buffer_pool().give(std::move(z.wl));
        }
    }
    ConvProbeImpl(const ConvProbeImpl&) = delete;
    ConvProbeImpl& operator=(const ConvProbeImpl&) = delete;

    // use_lazy: the lazy dense layer (see Lazy) for a layer of kLazyUnits
    // units or more (-1), for none (0), for every layer it can serve (1:
    // tests; 2 and 3 its weights always read by row and by line, see
    // lazy_sums). sums: conv_step's sums gathered or scattered as it
    // chooses (-1), always gathered (0), always scattered (1: tests).
    ConvProbeImpl(const Net& n, const Goal& g, int use_lazy, int sums)
        : net(n), goal(g), sums_by(sums), read_by(use_lazy >= 2 ? use_lazy - 2 : -1) {
        base.prepare(net);
        const std::size_t L = net.layers.size();
        top = goal.kind == TargetKind::Class ? L - 1 : static_cast<std::size_t>(goal.layer);
        img.assign(net.n_in(), 0.0f);
        ch.assign(L, Changes{});
        mark.assign(L, {});
        touched.assign(L, {});
        grouped.assign(L, {});
        dpre.assign(L, {});
        cact.assign(L, {});
        in_mark.assign(L, {});
        in_val.assign(L, {});
        full_pre.assign(L, {});
        full_act.assign(L, {});
        full.assign(L, false);
        pixel.reserve(1);
        std::size_t widest = 0;
        for (const Layer& ly : net.layers) widest = std::max<std::size_t>(widest, ly.out.cp);
        lanes.assign(widest, 0.0f);
        for (std::size_t l = 0; l < L; ++l) {
            const Layer& ly = net.layers[l];
            if (ly.kind == Kind::Conv || ly.kind == Kind::MaxPool || ly.kind == Kind::AvgPool)
                ch[l].reserve(ly.out.size());  // each output changes at most once
            if (ly.kind == Kind::Conv) {
                mark[l].assign(ly.out.positions(), 0);
                dpre[l].assign(ly.out.size(), 0.0f);
                cact[l].assign(ly.out.size(), 0.0f);
                // into a pooling layer below the goal's: changes by position
                ch[l].by_pos = l < top && (net.layers[l + 1].kind == Kind::MaxPool ||
                                           net.layers[l + 1].kind == Kind::AvgPool);
                ch[l].vals = cact[l].data();
                Grouped& g = grouped[l];
                g.mark.assign(ly.in.positions(), 0);
                g.start.assign(ly.in.positions(), 0);
                g.count.assign(ly.in.positions(), 0);
                g.c.assign(ly.in.size(), 0);
                g.d.assign(ly.in.size(), 0.0f);
            } else if (ly.kind == Kind::MaxPool || ly.kind == Kind::AvgPool) {
                mark[l].assign(ly.out.size(), 0);
                in_mark[l].assign(ly.in.size(), 0);
                in_val[l].assign(ly.in.size(), 0.0f);
            } else if (ly.kind == Kind::Dense) {
                full_pre[l].assign(ly.out_pad, 0.0f);
                full_act[l].assign(ly.out_pad, 0.0f);
                in_val[l].assign(ly.in_pad, 0.0f);
            }
        }
        grid.assign(L, Grid{});
        for (std::size_t l = 0; l < L; ++l) {
            const Layer& ly = net.layers[l];
            if (ly.kind == Kind::Conv || ly.kind == Kind::MaxPool || ly.kind == Kind::AvgPool)
                prepare_grid(ly, grid[l]);
        }
        lazy.assign(L, Lazy{});
        for (std::size_t l = 2; l < top; ++l)
            if (net.layers[l].kind == Kind::Dense && net.layers[l].act == Act::Relu &&
                net.layers[l - 1].kind == Kind::Flatten && use_lazy != 0 &&
                (use_lazy > 0 || net.layers[l].n_out >= kLazyUnits))
                prepare_lazy(l);
    }

    static void prepare_grid(const Layer& ly, Grid& g) {
        const int IH = ly.in.h, IW = ly.in.w, OH = ly.out.h, OW = ly.out.w, S = ly.stride;
        for (int y = 0; y < IH; ++y)
            for (int x = 0; x < IW; ++x) {
                g.in_y.push_back(y);
                g.in_x.push_back(x);
            }
        for (int y = 0; y < OH; ++y)
            for (int x = 0; x < OW; ++x) {
                g.out_y.push_back(y);
                g.out_x.push_back(x);
            }
        if (ly.kind == Kind::Conv) {
            // the output row whose window holds input row i at tap k: i + pad - k, over S
            auto taps = [&](int n_in, int k_n, int pad, int n_out, std::vector<int>& t) {
                t.assign(static_cast<std::size_t>(n_in) * k_n, -1);
                for (int i = 0; i < n_in; ++i)
                    for (int k = 0; k < k_n; ++k) {
                        const int o = i + pad - k;
                        if (o >= 0 && o % S == 0 && o / S < n_out) t[static_cast<std::size_t>(i) * k_n + k] = o / S;
                    }
            };
            taps(IH, ly.kh, ly.pad_t, OH, g.tap_y);
            taps(IW, ly.kw, ly.pad_l, OW, g.tap_x);
        } else {
            // the cells whose window [o S, o S + k) holds input row i
            auto cells = [&](int n_in, int k, int n_out, std::vector<int>& lo, std::vector<int>& hi) {
                lo.assign(static_cast<std::size_t>(n_in), 0);
                hi.assign(static_cast<std::size_t>(n_in), -1);
                for (int i = 0; i < n_in; ++i) {
                    int a = n_out, b = -1;
                    for (int o = 0; o < n_out; ++o)
                        if (o * S <= i && i < o * S + k) {
                            a = std::min(a, o);
                            b = std::max(b, o);
                        }
                    if (b >= 0) {
                        lo[i] = a;
                        hi[i] = b;
                    }
                }
            };
            cells(IH, ly.kh, OH, g.cell_y0, g.cell_y1);
            cells(IW, ly.kw, OW, g.cell_x0, g.cell_x1);
        }
    }

    void prepare_lazy(std::size_t l) {
        const Layer& L = net.layers[l];
        const Shape& src = net.layers[l - 2].out;  // the flattened grid
        if (src.size() != static_cast<std::size_t>(L.n_in) || L.out_pad % W ||
            L.peak.size() != src.positions() * L.out_pad || L.norm.size() != L.peak.size())
            return;
        Lazy& z = lazy[l];
        z.on = true;
        z.lines = L.out_pad / W;
        z.src_w = src.w;
        const std::size_t P = src.positions(), op = static_cast<std::size_t>(L.out_pad);
        z.perm.clear();  // the first reset orders the slots and their weights
        z.z.assign(op, 0.0f);
        z.zc.assign(op, 0.0f);
        z.spos.assign(P, 0.0f);
        z.spos2.assign(P, 0.0f);
        z.zeros.assign(static_cast<std::size_t>(L.n_in), 0.0f);
        const Layer& N = net.layers[l + 1];
        if (l + 1 <= top && N.kind == Kind::Dense && N.n_in == L.n_out && 4 * N.out_pad <= L.out_pad &&
            N.wt.size() == static_cast<std::size_t>(N.n_in) * N.out_pad) {
            z.fold = true;
            z.nx = N.out_pad;
            z.M.assign(static_cast<std::size_t>(L.n_in) * z.nx, 0.0f);
            z.in_set.assign(op, 0);
            z.set_bits.assign(op / W, 0);
        }
    }

    // M += s W2[:, j] W1[j, :] for the units js[0..n) (n <= 4) with signs s.
    void fold_units(std::size_t l, const int* js, const float* s, int n) {
        const Layer& L = net.layers[l];
        const Layer& N = net.layers[l + 1];
        Lazy& z = lazy[l];
        const int nx = z.nx;
        const float* w1[4];
        for (int t = 0; t < n; ++t) w1[t] = L.w.data() + static_cast<std::size_t>(js[t]) * L.in_pad;
        for (int o = 0; o < nx; o += W) {
            vf w2[4];
            for (int t = 0; t < n; ++t) w2[t] = splat(s[t]) * load(N.wt.data() + static_cast<std::size_t>(js[t]) * nx + o);
            // four rows at a time (each row's sum a chain of n: four chains side by side)
            float* m = z.M.data() + o;
            int i = 0;
            for (; i + 4 <= L.n_in; i += 4, m += 4 * nx) {
                vf acc[4];
                ND_UNROLL for (int r = 0; r < 4; ++r) acc[r] = load(m + r * nx);
                for (int t = 0; t < n; ++t)
                    ND_UNROLL for (int r = 0; r < 4; ++r) acc[r] += splat(w1[t][i + r]) * w2[t];
                ND_UNROLL for (int r = 0; r < 4; ++r) store(m + r * nx, acc[r]);
            }
            for (; i < L.n_in; ++i, m += nx) {
                vf acc = load(m);
                for (int t = 0; t < n; ++t) acc += splat(w1[t][i]) * w2[t];
                store(m, acc);
            }
        }
    }

    // The fold's set: the units that are on (pre, in unit order, above 0),
    // M made anew (fresh) or updated by the units that joined or left.
    void fold_set(std::size_t l, const float* pre, bool fresh) {
        Lazy& z = lazy[l];
        const std::size_t op = z.in_set.size();
        std::vector<int> js;
        std::vector<float> sg;
        std::size_t moved = 0;
        for (std::size_t j = 0; j < op; ++j) moved += z.in_set[j] != (pre[j] > 0.0f);
        if (fresh || z.set_updates + moved > op / 2) {  // made anew (bounds the rounding of updates)
            std::fill(z.M.begin(), z.M.end(), 0.0f);
            std::fill(z.in_set.begin(), z.in_set.end(), 0);
            z.set_updates = 0;
        } else {
            z.set_updates += moved;
        }
        for (std::size_t j = 0; j < op; ++j) {
            const char want = pre[j] > 0.0f;
            if (z.in_set[j] == want) continue;
            z.in_set[j] = want;
            js.push_back(static_cast<int>(j));
            sg.push_back(want ? 1.0f : -1.0f);
        }
        for (std::size_t t = 0; t < js.size(); t += 4)
            fold_units(l, js.data() + t, sg.data() + t, static_cast<int>(std::min<std::size_t>(4, js.size() - t)));
        std::fill(z.set_bits.begin(), z.set_bits.end(), 0u);
        for (std::size_t k = 0; k < op; ++k)
            if (z.in_set[z.perm[k]]) z.set_bits[k / W] |= 1u << (k % W);
    }

    // Whether the lines holding a unit that is on (pre, in unit order, above
    // 0: a sum or a relu output) have become too many for how many are on.
    bool lazy_scattered(const Lazy& z, const float* pre) const {
        if (z.perm.empty()) return true;
        int on = 0, lines_on = 0;
        for (int ln = 0; ln < z.lines; ++ln) {
            int here = 0;
            for (int k = 0; k < W; ++k) here += pre[z.perm[ln * W + k]] > 0.0f;
            on += here;
            lines_on += here > 0;
        }
        const int least = (on + W - 1) / W;
        return lines_on > least + std::max(2, least / 4);
    }

    // The state's sums (pre, in unit order) by slot; the slots reordered
    // first (units that are on first, then by decreasing sum) when they
    // have become scattered. At a reset, and when the state's units have
    // moved on during a run.
    void arrange_lazy(std::size_t l, const float* pre, bool fresh = false) {
        const Layer& L = net.layers[l];
        Lazy& z = lazy[l];
        const std::size_t op = static_cast<std::size_t>(L.out_pad);
        if (lazy_scattered(z, pre)) {
            z.peak.resize(L.peak.size());
            z.norm.resize(L.norm.size());
            std::vector<int> order(op);
            std::iota(order.begin(), order.end(), 0);
            auto key = [&](int j) { return std::isnan(pre[j]) ? std::numeric_limits<float>::infinity() : pre[j]; };
            std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return key(a) > key(b); });
            z.perm = order;
            const std::size_t P = z.spos.size();
            z.row_version.resize(static_cast<std::size_t>(L.n_in));
            z.line_version.resize(static_cast<std::size_t>(z.lines));
            if (++z.version == 0) {  // wrapped: every row and line is out of date
                std::fill(z.row_version.begin(), z.row_version.end(), 0);
                std::fill(z.line_version.begin(), z.line_version.end(), 0);
                z.version = 1;
            }
            for (std::size_t p = 0; p < P; ++p)
                for (std::size_t j = 0; j < op; ++j) {
                    z.peak[p * op + j] = L.peak[p * op + z.perm[j]];
                    z.norm[p * op + j] = L.norm[p * op + z.perm[j]];
                }
            z.lines_pad = (z.lines + W - 1) / W * W;
            z.peak_line.assign(P * static_cast<std::size_t>(z.lines_pad), 0.0f);
            z.bound_line.assign(static_cast<std::size_t>(z.lines_pad), 0.0f);
            for (std::size_t p = 0; p < P; ++p)
                for (int ln = 0; ln < z.lines; ++ln) {
                    float m = 0.0f;
                    for (int k = 0; k < W; ++k) m = std::max(m, z.peak[p * op + ln * W + k]);
                    z.peak_line[p * z.lines_pad + ln] = m;
                }
        }
        for (std::size_t j = 0; j < op; ++j) z.z[j] = pre[z.perm[j]];
        if (z.fold) fold_set(l, pre, fresh);
    }

    // Row k of the weights in slot order (reordered when first needed).
    const float* lazy_row(Lazy& z, const Layer& L, int k) {
        const std::size_t op = static_cast<std::size_t>(L.out_pad);
        float* to = z.wtp.data() + static_cast<std::size_t>(k) * op;
        if (z.row_version[k] != z.version) {
            const float* from = L.wt.data() + static_cast<std::size_t>(k) * op;
            for (std::size_t j = 0; j < op; ++j) to[j] = from[z.perm[j]];
            z.row_version[k] = z.version;
        }
        return to;
    }

    // Line ln of the weights by line, made anew (after the order changed).
    void lazy_line(Lazy& z, const Layer& L, int ln) {
        z.line_version[ln] = z.version;
        const std::size_t n = static_cast<std::size_t>(L.n_in);
        float* to = z.wl.data() + static_cast<std::size_t>(ln) * n * W;
        const float* from[W];
        for (int k = 0; k < W; ++k) {
            const int j = z.perm[ln * W + k];  // (w has n_out rows: a padding slot's are 0)
            from[k] = j < L.n_out ? L.w.data() + static_cast<std::size_t>(j) * L.in_pad : z.zeros.data();
        }
        for (std::size_t i = 0; i < n; ++i, to += W)
            ND_UNROLL for (int k = 0; k < W; ++k) to[k] = from[k][i];
    }

    // The lines' sums plus the candidate's changes (z.dv, z.at), into
    // `to` (by slot): up to 8 lines at a time, their sums in registers, so
    // each piece of a row read costs one load and one fused multiply-add,
    // not also a load and a store of the sum. The weights are read from
    // one of two copies, the same sums in the same order from either: by
    // row (an input's weights for every slot side by side) where the
    // candidates change few of the channels at the positions they touch,
    // by line (a line's weights for every input side by side) where they
    // change many. Measured on an AVX2 machine, both builds at once on the
    // two cores, swapping: the random Deep-MNIST CNN (candidates change
    // 447 inputs at 11.7 positions of 64 channels, 37 of 128 lines read)
    // 0.98-1.54x by line, the trained one (100 inputs at 11.6 positions,
    // 2 lines read; nearly all the lines at an accepted candidate, where a
    // row is read whole) 0.64-0.83x by line, 0.88-1.37x with the choice.
    void lazy_sums(Lazy& z, const Layer& L, const std::vector<int>& lines_of, float* to) {
        const std::size_t m = z.dv.size();
        const int nl = static_cast<int>(lines_of.size());
        if (z.by_row) {
            if (z.wtp.size() != L.wt.size()) {  // made when first read (its rows all out of date)
                z.wtp = buffer_pool().take(L.wt.size());
                std::fill(z.row_version.begin(), z.row_version.end(), 0);
            }
            z.rows.resize(m);
            for (std::size_t e = 0; e < m; ++e) z.rows[e] = lazy_row(z, L, z.at[e] / W);
        } else {
            if (z.wl.size() != L.wt.size()) {  // likewise
                z.wl = buffer_pool().take(L.wt.size());
                std::fill(z.line_version.begin(), z.line_version.end(), 0);
            }
            for (int ln : lines_of)
                if (z.line_version[ln] != z.version) lazy_line(z, L, ln);
        }
        const std::size_t stride = static_cast<std::size_t>(L.n_in) * W;
        for (int i = 0; i < nl; i += 8) by_vectors(std::min(8, nl - i), [&](auto nc) {
            constexpr int N = decltype(nc)::value;
            const int* lines = lines_of.data() + i;
            vf acc[N];
            ND_UNROLL for (int j = 0; j < N; ++j) acc[j] = load(z.z.data() + lines[j] * W);
            if (z.by_row) {
                for (std::size_t e = 0; e < m; ++e) {
                    const vf dv = splat(z.dv[e]);
                    const float* w = z.rows[e];
                    ND_UNROLL for (int j = 0; j < N; ++j) acc[j] += dv * load(w + lines[j] * W);
                }
            } else {
                const float* w[N];
                ND_UNROLL for (int j = 0; j < N; ++j) w[j] = z.wl.data() + static_cast<std::size_t>(lines[j]) * stride;
                for (std::size_t e = 0; e < m; ++e) {
                    const vf dv = splat(z.dv[e]);
                    const int at = z.at[e];
                    ND_UNROLL for (int j = 0; j < N; ++j) acc[j] += dv * load(w[j] + at);
                }
            }
            ND_UNROLL for (int j = 0; j < N; ++j) store(to + lines[j] * W, acc[j]);
        });
    }

    // dense_step for a lazy layer, its input changed at a few positions.
    void lazy_step(std::size_t l, const Changes& in) {
        const Layer& L = net.layers[l];
        Lazy& z = lazy[l];
        const std::size_t op = static_cast<std::size_t>(L.out_pad), m = in.size();
        z.whole = false;
        z.dv.resize(m);
        z.touched_pos.clear();
        for (std::size_t e = 0; e < m; ++e) {
            z.dv[e] = in.val[e] - in.old[e];
            const int p = in.y[e] * z.src_w + in.x[e];
            if (z.spos[p] == 0.0f) z.touched_pos.push_back(p);
            z.spos[p] += std::fabs(z.dv[e]);
            z.spos2[p] += z.dv[e] * z.dv[e];
        }
        // the bound on each slot's change: first one for a whole line, from
        // the line's largest peak at each position (vectors of lines, four
        // at a time, summed over the positions in registers); each slot's
        // own only for a line that the line's bound leaves unsettled (a
        // trained Deep-MNIST CNN: most lines are far from 0, and the slots'
        // bounds for every line were half the lazy layer's time), at each
        // position the smaller of (the sum of |d|) * peak and (the root of
        // the sum of d^2) * norm (Cauchy-Schwarz: on the random Deep-MNIST
        // CNN, 38 lines of 128 left to read per candidate, where the peaks
        // alone left 49)
        const std::size_t np = z.touched_pos.size();
        z.sp.resize(np);
        z.sp2.resize(np);
        for (std::size_t t = 0; t < np; ++t) {
            z.sp[t] = z.spos[z.touched_pos[t]];
            z.sp2[t] = std::sqrt(z.spos2[z.touched_pos[t]]);
            z.spos[z.touched_pos[t]] = 0.0f;
            z.spos2[z.touched_pos[t]] = 0.0f;
        }
        const int lp = z.lines_pad;
        for (int g0 = 0; g0 < lp; g0 += 4 * W) by_vectors(std::min(4, (lp - g0) / W), [&](auto nvc) {
            constexpr int NV = decltype(nvc)::value;
            vf acc[NV] = {};
            for (std::size_t t = 0; t < np; ++t) {
                const vf sp = splat(z.sp[t]);
                const float* pk = z.peak_line.data() + static_cast<std::size_t>(z.touched_pos[t]) * lp + g0;
                ND_UNROLL for (int v = 0; v < NV; ++v) acc[v] += sp * load(pk + v * W);
            }
            ND_UNROLL for (int v = 0; v < NV; ++v) store(z.bound_line.data() + g0 + v * W, acc[v]);
        });
        // A slot is off for sure when z + (1 + eps) bound + eps |z| < 0:
        // eps covers the float rounding of the bound and of the sums (the
        // candidate's m terms: at most m + 1 roundings of 2^-24 each), with
        // a margin of 2 and more.
        const float e = 1e-4f + static_cast<float>(m) * 0x1p-22f;
        const vf one_eps = splat(1.0f + e), eps = splat(e), zero = splat(0.0f);
        // (fold: on for sure when z - (1 + eps) bound - eps |z| > 0)
        auto settled = [&](int ln, vf bound) {
            const vf zz = load(z.z.data() + ln * W);
            const vf margin = one_eps * bound + eps * vmax(zz, -zz);
            std::uint32_t sure = less_mask(zz + margin, zero);  // off for sure (NaN: not)
            if (z.fold) {  // in the set: on for sure instead
                const std::uint32_t in = z.set_bits[ln];
                sure = (sure & ~in) | (less_mask(zero, zz - margin) & in);
            }
            return sure == kAllLanes;
        };
        z.live.clear();
        for (int ln = 0; ln < z.lines; ++ln) {
            if (settled(ln, splat(z.bound_line[ln]))) continue;
            vf acc[2] = {};
            std::size_t t = 0;
            auto term = [&](std::size_t u) {
                const std::size_t at = static_cast<std::size_t>(z.touched_pos[u]) * op + ln * W;
                return vmin(splat(z.sp[u]) * load(z.peak.data() + at), splat(z.sp2[u]) * load(z.norm.data() + at));
            };
            for (; t + 2 <= np; t += 2)
                ND_UNROLL for (int u = 0; u < 2; ++u) acc[u] += term(t + u);
            if (t < np) acc[0] += term(t);
            if (!settled(ln, acc[0] + acc[1])) z.live.push_back(ln);
        }
        // the live lines' sums
        z.at.resize(m);
        for (std::size_t e = 0; e < m; ++e) z.at[e] = in.idx[e] * W;
        z.changes += m;
        z.room += np * (static_cast<std::size_t>(L.n_in) / z.spos.size());
        z.by_row = read_by >= 0 ? read_by == 0 : 3 * z.changes < z.room;  // under a third of the room changed
        lazy_sums(z, L, z.live, z.zc.data());
        // the outputs: the state's (0 at every slot off for sure), the live ones anew
        float* act = full_act[l].data();
        std::memcpy(act, base.act[l].data(), sizeof(float) * op);
        float* lanes_out = lanes.data();
        for (int ln : z.live) {
            apply_hidden(Act::Relu, z.zc.data() + ln * W, lanes_out, W, 0.0f);
            for (int k = 0; k < W; ++k) act[z.perm[ln * W + k]] = lanes_out[k];
        }
        full[l] = true;
        if (z.fold) fold_step(l, in);
    }

    // The next layer's candidate sums (fold, see Lazy): the state's, plus
    // M . dx, plus the read units' corrections.
    void fold_step(std::size_t l, const Changes& in) {
        Lazy& z = lazy[l];
        const Layer& N = net.layers[l + 1];
        const int nx = z.nx;
        float* y = full_pre[l + 1].data();
        std::memcpy(y, base.pre[l + 1].data(), sizeof(float) * nx);
        by_vectors(nx / W, [&](auto nvc) {
            constexpr int NV = decltype(nvc)::value;
            vf acc[NV];
            ND_UNROLL for (int v = 0; v < NV; ++v) acc[v] = load(y + v * W);
            for (std::size_t e = 0; e < in.size(); ++e) {
                const vf d = splat(z.dv[e]);
                const float* m = z.M.data() + static_cast<std::size_t>(in.idx[e]) * nx;
                ND_UNROLL for (int v = 0; v < NV; ++v) acc[v] += d * load(m + v * W);
            }
            for (int ln : z.live) {
                const vf zc = load(z.zc.data() + ln * W), zo = load(z.z.data() + ln * W);
                const vf zero = splat(0.0f);
                const vf dh = vmax(zc, zero) - vmax(zo, zero);  // the output's change
                const vf dh_set = dh - (zc - zo);               // ... less the sum's (in the set)
                const std::uint32_t set = z.set_bits[ln];
                for (int k = 0; k < W; ++k) {
                    const float ek = set >> k & 1u ? dh_set[k] : dh[k];
                    if (ek == 0.0f) continue;
                    const vf ck = splat(ek);
                    const float* w2 = N.wt.data() + static_cast<std::size_t>(z.perm[ln * W + k]) * nx;
                    ND_UNROLL for (int v = 0; v < NV; ++v) acc[v] += ck * load(w2 + v * W);
                }
            }
            ND_UNROLL for (int v = 0; v < NV; ++v) store(y + v * W, acc[v]);
        });
        if (l + 2 < net.layers.size())
            apply_hidden(N.act, y, full_act[l + 1].data(), N.out_pad, static_cast<float>(net.leaky_slope));
        full[l + 1] = true;
        folded = l + 1;
    }

    void lazy_accept(std::size_t l) {
        const Layer& L = net.layers[l];
        Lazy& z = lazy[l];
        const std::size_t op = static_cast<std::size_t>(L.out_pad);
        if (z.whole) {  // the whole product, in unit order: a fresh start
            base.pre[l].swap(full_pre[l]);
            arrange_lazy(l, base.pre[l].data());
        } else {
            // the live lines hold the candidate's sums already; the others
            // add its changes now
            std::size_t next = 0;
            z.rest.clear();
            for (int ln = 0; ln < z.lines; ++ln) {
                if (next < z.live.size() && z.live[next] == ln) {
                    store(z.z.data() + ln * W, load(z.zc.data() + ln * W));
                    ++next;
                } else {
                    z.rest.push_back(ln);
                }
            }
            lazy_sums(z, L, z.rest, z.z.data());
            // base.pre[l] is not kept for a lazy layer (a reset makes it anew)
        }
        base.act[l].swap(full_act[l]);
        // now and then, the slots are reordered if the units that are on
        // have scattered (a dream's first thousands of steps change them)
        if (++z.accepted % 32 == 0) {
            if (lazy_scattered(z, base.act[l].data())) {
                for (std::size_t j = 0; j < op; ++j) z.zc[z.perm[j]] = z.z[j];  // unit order
                arrange_lazy(l, z.zc.data());
            } else if (z.fold) {
                // the set follows the units that turned on or off (the
                // outputs' signs are right: a line not read is on or off
                // for sure)
                fold_set(l, base.act[l].data(), false);
            }
        }
    }

    void next_stamp() {
        if (++stamp == 0) {  // wrapped: clear every mark
            for (auto& m : mark) std::fill(m.begin(), m.end(), 0);
            for (auto& m : in_mark) std::fill(m.begin(), m.end(), 0);
            for (auto& g : grouped) std::fill(g.mark.begin(), g.mark.end(), 0);
            stamp = 1;
        }
    }

    double channel_mean(const float* act) const {
        const Layer& L = net.layers[top];
        double s = 0.0;
        for (std::size_t p = 0; p < L.out.positions(); ++p) s += act[p * L.out.cp + goal.index];
        return s;
    }

    double score_of(const float* pre_top, const float* act_top, double chan_sum) const {
        const Layer& L = net.layers[top];
        if (goal.kind == TargetKind::Unit) return static_cast<double>(pre_top[goal.index]);
        if (goal.kind == TargetKind::Channel) return chan_sum / static_cast<double>(L.out.positions());
        (void)act_top;
        if (L.act == Act::Softmax && (goal.objective == Objective::LogProb ||
                                      goal.objective == Objective::Prob ||
                                      goal.objective == Objective::SeedError))
            return softmax_score_f(goal.objective, pre_top, L.n_out, goal.index);
        return class_score<float>(goal, L.act, pre_top, L.n_out);
    }

    double reset(const double* x) {
        for (std::size_t i = 0; i < img.size(); ++i) img[i] = static_cast<float>(x[i]);
        conv_forward_layers(net, img.data(), base, 0, top + 1);
        for (std::size_t l = 0; l < lazy.size(); ++l)
            if (lazy[l].on) arrange_lazy(l, base.pre[l].data(), true);
        if (goal.kind == TargetKind::Channel) channel_sum = channel_mean(base.act[top].data());
        score = score_of(base.pre[top].data(), base.act[top].data(), channel_sum);
        return score;
    }

    // --- one layer of a candidate: from the changes of its input

    // conv_step's sums (see there), kB vectors of output channels at a time.
    // Gather: each touched position looks at every tap of its window and adds
    // the changes there (taps in order, then the changes at the tap's
    // position), in registers; dp at the touched positions tp.
    void conv_gather(std::size_t l, const Grouped& g, const std::vector<int>& tp, float* dp,
                     const float* base_pre) const {
        const Layer& L = net.layers[l];
        const int ICP = L.in.cp, IH = L.in.h, IW = L.in.w;
        const int CP = L.out.cp, S = L.stride;
        const Grid& gr = grid[l];
        constexpr int kB = 8;
        for (int o0 = 0; o0 < CP; o0 += kB * W) by_vectors(std::min(kB, (CP - o0) / W), [&](auto nvc) {
            constexpr int NV = decltype(nvc)::value;
            for (int p : tp) {
                const int oy = gr.out_y[p], ox = gr.out_x[p];
                const float* bp = base_pre + static_cast<std::size_t>(p) * CP + o0;
                vf acc[NV];
                ND_UNROLL for (int v = 0; v < NV; ++v) acc[v] = load(bp + v * W);
                for (int ky = 0; ky < L.kh; ++ky) {
                    const int iy = oy * S - L.pad_t + ky;
                    if (iy < 0 || iy >= IH) continue;
                    for (int kx = 0; kx < L.kw; ++kx) {
                        const int ix = ox * S - L.pad_l + kx;
                        if (ix < 0 || ix >= IW) continue;
                        const int q = iy * IW + ix;
                        if (g.mark[q] != stamp) continue;
                        const float* wt = L.w.data() + static_cast<std::size_t>((ky * L.kw + kx) * ICP) * CP + o0;
                        for (int k = g.start[q], end = k + g.count[q]; k < end; ++k) {
                            const vf d = splat(g.d[k]);
                            const float* w = wt + static_cast<std::size_t>(g.c[k]) * CP;
                            ND_UNROLL for (int v = 0; v < NV; ++v) acc[v] += d * load(w + v * W);
                        }
                    }
                }
                float* out = dp + static_cast<std::size_t>(p) * CP + o0;
                ND_UNROLL for (int v = 0; v < NV; ++v) store(out + v * W, acc[v]);
            }
        });
    }

    // f(t, p) for each tap of the window that input position q of layer l
    // lies in: t, the tap (ky * kw + kx), and p, the output position whose
    // window it is.
    template <class F>
    void for_each_tap(std::size_t l, int q, F&& f) const {
        const Layer& L = net.layers[l];
        const Grid& g = grid[l];
        const int OW = L.out.w;
        const int* ty = g.tap_y.data() + static_cast<std::size_t>(g.in_y[q]) * L.kh;
        const int* tx = g.tap_x.data() + static_cast<std::size_t>(g.in_x[q]) * L.kw;
        for (int ky = 0; ky < L.kh; ++ky) {
            const int oy = ty[ky];
            if (oy < 0) continue;
            for (int kx = 0; kx < L.kw; ++kx) {
                const int ox = tx[kx];
                if (ox < 0) continue;
                f(ky * L.kw + kx, oy * OW + ox);
            }
        }
    }

    // T taps' sums of the changes k0..k1 of one input position (weights'
    // rows w[t], NV vectors of channels), in registers, added to out[t].
    template <int T, int NV>
    static void scatter_taps(const Grouped& g, int k0, int k1, const float* const* w, float* const* out,
                             int CP) {
        vf acc[T][NV] = {};
        for (int k = k0; k < k1; ++k) {
            const vf d = splat(g.d[k]);
            const std::size_t c = static_cast<std::size_t>(g.c[k]) * CP;
            ND_UNROLL for (int t = 0; t < T; ++t)
                ND_UNROLL for (int v = 0; v < NV; ++v) acc[t][v] += d * load(w[t] + c + v * W);
        }
        ND_UNROLL for (int t = 0; t < T; ++t)
            ND_UNROLL for (int v = 0; v < NV; ++v) store(out[t] + v * W, load(out[t] + v * W) + acc[t][v]);
    }

    // Scatter: each changed input position, for each tap, sums its changes
    // times the tap's weights in registers and adds that to the output
    // position the tap reaches; dp at the touched positions already holds
    // the state's pre-activations. Taps two at a time (a tap's sum is a
    // chain of dependent additions, and two chains interleaved keep the FMA
    // units busy), each pair over every changed position before the next
    // pair, so that the pair's weights (2 x in.cp x out.cp floats: 16 KB for
    // Deep-MNIST's conv2) stay in L1 while they are used.
    void conv_scatter(std::size_t l, const Grouped& g, float* dp) const {
        const Layer& L = net.layers[l];
        const int CP = L.out.cp, T = L.kh * L.kw, ICP = L.in.cp;
        const int nq = static_cast<int>(g.changed.size());
        constexpr int kB = 4;
        thread_local std::vector<int> tap_o;  // by changed position and tap: the output reached (-1: none)
        tap_o.assign(static_cast<std::size_t>(nq) * T, -1);
        for (int i = 0; i < nq; ++i)
            for_each_tap(l, g.changed[i], [&](int t, int p) { tap_o[static_cast<std::size_t>(i) * T + t] = p; });
        for (int o0 = 0; o0 < CP; o0 += kB * W) by_vectors(std::min(kB, (CP - o0) / W), [&](auto nvc) {
            constexpr int NV = decltype(nvc)::value;
            auto wrow = [&](int t) { return L.w.data() + o0 + static_cast<std::size_t>(t) * ICP * CP; };
            auto out = [&](int p) { return dp + static_cast<std::size_t>(p) * CP + o0; };
            for (int t = 0; t < T; t += 2) {
                for (int i = 0; i < nq; ++i) {
                    const int q = g.changed[i], k0 = g.start[q], k1 = k0 + g.count[q];
                    const int* to = tap_o.data() + static_cast<std::size_t>(i) * T;
                    const int p0 = to[t], p1 = t + 1 < T ? to[t + 1] : -1;
                    if (p0 >= 0 && p1 >= 0) {
                        const float* w[2] = {wrow(t), wrow(t + 1)};
                        float* o[2] = {out(p0), out(p1)};
                        scatter_taps<2, NV>(g, k0, k1, w, o, CP);
                    } else if (p0 >= 0 || p1 >= 0) {
                        const int tt = p0 >= 0 ? t : t + 1;
                        const float* w[1] = {wrow(tt)};
                        float* o[1] = {out(p0 >= 0 ? p0 : p1)};
                        scatter_taps<1, NV>(g, k0, k1, w, o, CP);
                    }
                }
            }
        });
    }

    // conv: input changes (position and channel) -> touched output positions
    // -> changed outputs. The changes are grouped by input position, the
    // positions whose window holds one are listed, and each touched
    // position's pre-activations are summed (gather or scatter, below).
    // dpre[l] holds the candidate's pre-activations at the touched positions.
    void conv_step(std::size_t l, const Changes& in) {
        const Layer& L = net.layers[l];
        const float slope = static_cast<float>(net.leaky_slope);
        const int IW = L.in.w, CP = L.out.cp;
        // the input changes, grouped by position (in the order they came)
        Grouped& g = grouped[l];
        g.changed.clear();
        for (std::size_t e = 0; e < in.size(); ++e) {
            const int q = in.y[e] * IW + in.x[e];
            if (g.mark[q] != stamp) {
                g.mark[q] = stamp;
                g.count[q] = 0;
                g.changed.push_back(q);
            }
            ++g.count[q];
        }
        int at = 0;
        for (int q : g.changed) {
            g.start[q] = at;
            at += g.count[q];
            g.count[q] = 0;
        }
        for (std::size_t e = 0; e < in.size(); ++e) {
            const int q = in.y[e] * IW + in.x[e];
            const int k = g.start[q] + g.count[q]++;
            g.c[k] = in.c[e];
            g.d[k] = in.val[e] - in.old[e];
        }
        // the output positions whose window holds a changed input position
        auto& tp = touched[l];
        tp.clear();
        for (int q : g.changed)
            for_each_tap(l, q, [&](int, int p) {
                if (mark[l][p] != stamp) {
                    mark[l][p] = stamp;
                    tp.push_back(p);
                }
            });
        // each touched position's pre-activations: the state's, plus the
        // changed inputs under its window: gathered (for many changed input
        // positions per touched output) or scattered (for few: e.g. one
        // pixel), whichever looks at fewer taps, the scatter's taps
        // counted at half (its weights come from L1; the gather's from L2
        // when the layer's exceed L1: Deep-MNIST's conv2, 8 changed input
        // positions and 38 touched outputs, scattered rather than gathered,
        // made the trained CNN's and the shipped cnn's hill climbing 4-5%
        // faster, A/B alternating on an AVX2 machine). The same sums, in
        // different orders.
        float* dp = dpre[l].data();
        const float* base_pre = base.pre[l].data();
        const bool scatter = sums_by >= 0 ? sums_by == 1
                                          : g.changed.size() * (4 + 2 * static_cast<std::size_t>(CP / W)) <
                                                8 * tp.size();
        if (scatter) {
            for (int p : tp)
                std::memcpy(dp + static_cast<std::size_t>(p) * CP, base_pre + static_cast<std::size_t>(p) * CP,
                            sizeof(float) * CP);
            conv_scatter(l, g, dp);
        } else {
            conv_gather(l, g, tp, dp, base_pre);
        }
        // changed outputs: the activation of each touched position, compared
        // with the state's, W channels at a time
        Changes& out = ch[l];
        out.clear();
        for (int p : tp) {
            const float* q = dp + static_cast<std::size_t>(p) * CP;
            const float* act = base.act[l].data() + static_cast<std::size_t>(p) * CP;
            const int oy = grid[l].out_y[p], ox = grid[l].out_x[p];
            float* a = cact[l].data() + static_cast<std::size_t>(p) * CP;
            apply_hidden(L.act, q, a, CP, slope);
            if (out.by_pos) {
                std::uint32_t any = 0;
                for (int o = 0; o < CP; o += W) any |= differ_mask(load(a + o), load(act + o));
                if (any) out.pos.push_back(p);  // (padding channels stay 0 on both sides)
                continue;
            }
            for (int o = 0; o < L.out.c; o += W) {
                std::uint32_t m = differ_mask(load(a + o), load(act + o));
                if (L.out.c - o < W) m &= (1u << (L.out.c - o)) - 1u;
                for (; m; m &= m - 1) {
                    const int j = __builtin_ctz(m);
                    out.add(p * CP + o + j, oy, ox, o + j, a[o + j], act[o + j]);
                }
            }
        }
    }

    // layer 0: the pixel (c, y, x) of the image
    void image_change(int i, float nv, float ov) {
        const int HW = net.height * net.width;
        const int c = i / HW, rest = i - c * HW, y = rest / net.width;
        pixel.clear();
        pixel.add(i, y, rest - y * net.width, c, nv, ov);
    }

    // pooling: input changes -> the cells that hold them -> changed outputs
    void pool_step(std::size_t l, const Changes& in) {
        const Layer& L = net.layers[l];
        const int IW = L.in.w, CP = L.in.cp, OW = L.out.w, S = L.stride;
        const float* src = base.output(l - 1);
        // the candidate's input at each changed position (every channel): the
        // state's, with the changes
        auto& pm = in_mark[l];  // per input position
        const float* cand = in_val[l].data();
        auto& changed = grouped[l].changed;
        changed.clear();
        if (in.by_pos) {  // whole vectors from the conv below
            cand = in.vals;
            for (int q : in.pos) {
                pm[q] = stamp;
                changed.push_back(q);
            }
        }
        float* cv = in_val[l].data();  // (changes one by one: the state's vectors, with the changes)
        for (std::size_t e = 0; e < in.size(); ++e) {
            const int q = in.y[e] * IW + in.x[e];
            if (pm[q] != stamp) {
                pm[q] = stamp;
                std::memcpy(cv + static_cast<std::size_t>(q) * CP, src + static_cast<std::size_t>(q) * CP,
                            sizeof(float) * CP);
                changed.push_back(q);
            }
            cv[static_cast<std::size_t>(q) * CP + in.c[e]] = in.val[e];
        }
        // the cells whose window holds a changed position
        auto& cells = touched[l];
        cells.clear();
        const Grid& gr = grid[l];
        for (int q : changed) {
            const int iy = gr.in_y[q], ix = gr.in_x[q];
            const int oy0 = gr.cell_y0[iy], oy1 = gr.cell_y1[iy];
            const int ox0 = gr.cell_x0[ix], ox1 = gr.cell_x1[ix];
            for (int oy = oy0; oy <= oy1; ++oy) {
                for (int ox = ox0; ox <= ox1; ++ox) {
                    const int p = oy * OW + ox;
                    if (mark[l][p] != stamp) {
                        mark[l][p] = stamp;
                        cells.push_back(p);
                    }
                }
            }
        }
        // each cell again, W channels at a time, as the forward pass pools
        // (pool_cell); the outputs that differ from the state's are the changes
        Changes& out = ch[l];
        out.clear();
        const bool mx = L.kind == Kind::MaxPool;
        const vf first = splat(mx ? -std::numeric_limits<float>::infinity() : 0.0f);
        const vf inv = splat(1.0f / static_cast<float>(L.kh * L.kw));
        const float* act = base.act[l].data();
        for (int p : cells) {
            const int oy = gr.out_y[p], ox = gr.out_x[p];
            for (int c0 = 0; c0 < CP; c0 += W) {
                vf v = first;
                for (int ky = 0; ky < L.kh; ++ky)
                    for (int kx = 0; kx < L.kw; ++kx) {
                        const int q = (oy * S + ky) * IW + ox * S + kx;
                        const vf u = load((pm[q] == stamp ? cand : src) + static_cast<std::size_t>(q) * CP + c0);
                        v = mx ? vmax(v, u) : v + u;
                    }
                if (!mx) v = v * inv;
                const float* now = act + static_cast<std::size_t>(p) * CP + c0;
                std::uint32_t m = differ_mask(v, load(now));
                if (L.out.c - c0 < W) m &= (1u << (L.out.c - c0)) - 1u;
                if (!m) continue;
                float* vv = lanes.data();
                store(vv, v);
                for (; m; m &= m - 1) {
                    const int j = __builtin_ctz(m);
                    out.add(p * CP + c0 + j, oy, ox, c0 + j, vv[j], now[j]);
                }
            }
        }
    }

    // dense: changed inputs (or the whole candidate input) -> whole vectors
    void dense_step(std::size_t l, const Changes* in_changes, const float* in_full) {
        const Layer& L = net.layers[l];
        const float slope = static_cast<float>(net.leaky_slope);
        float* pre = full_pre[l].data();
        const float* in_base = base.output(l - 1);
        if (in_full) {
            dense_rows(L, in_full, pre);
        } else if (lazy[l].on && 10 * in_changes->size() < 9 * static_cast<std::size_t>(L.n_in)) {
            lazy_step(l, *in_changes);
            return;
        } else if (10 * in_changes->size() < 9 * static_cast<std::size_t>(L.n_in)) {
            // the changed inputs' columns, added to the state's sums
            const std::size_t m = in_changes->size();
            thread_local std::vector<float> dv;
            dv.resize(m);
            for (std::size_t e = 0; e < m; ++e) dv[e] = in_changes->val[e] - in_changes->old[e];
            std::memcpy(pre, base.pre[l].data(), sizeof(float) * L.out_pad);
            stream_columns(L, in_changes->idx.data(), dv.data(), m, pre);
        } else {  // many changed: the whole product from the candidate input
            float* cin = in_val[l].data();
            std::memcpy(cin, in_base, sizeof(float) * L.n_in);
            for (std::size_t e = 0; e < in_changes->size(); ++e) cin[in_changes->idx[e]] = in_changes->val[e];
            dense_rows(L, cin, pre);
            lazy[l].whole = true;
        }
        if (l + 1 < net.layers.size())
            apply_hidden(L.act, pre, full_act[l].data(), L.out_pad, slope);
        full[l] = true;
    }

    double propose(int i, double d) {
        next_stamp();
        for (std::size_t l = 0; l <= top; ++l) full[l] = false;
        folded = 0;
        image_change(i, img[i] + static_cast<float>(d), img[i]);
        const Changes* prev = &pixel;  // the changes entering each layer
        const float* prev_full = nullptr;
        reached = 0;
        for (std::size_t l = 0; l <= top; ++l) {
            const Layer& L = net.layers[l];
            if (prev_full == nullptr && prev->empty()) break;  // nothing changes from here on
            reached = l + 1;
            switch (L.kind) {
                case Kind::Conv:
                    conv_step(l, *prev);
                    break;
                case Kind::MaxPool:
                case Kind::AvgPool:
                    pool_step(l, *prev);
                    break;
                case Kind::Flatten:  // the same outputs, flat (the same memory order)
                    break;
                case Kind::Dense:
                    if (l != folded) dense_step(l, prev_full ? nullptr : prev, prev_full);
                    break;
            }
            if (L.kind == Kind::Dense) {
                prev_full = full_act[l].data();
                prev = nullptr;
            } else if (L.kind != Kind::Flatten) {
                prev = &ch[l];
            }
        }
        if (reached <= top) return score;  // the goal's layer did not change
        const Layer& T = net.layers[top];
        if (goal.kind == TargetKind::Channel) {
            cand_channel_sum = channel_sum;
            for (std::size_t e = 0; e < ch[top].size(); ++e)
                if (ch[top].c[e] == goal.index)
                    cand_channel_sum += static_cast<double>(ch[top].val[e]) - ch[top].old[e];
            return score_of(nullptr, nullptr, cand_channel_sum);
        }
        (void)T;
        return score_of(full_pre[top].data(), nullptr, 0.0);
    }

    void accept(int i, double d, double new_score) {
        img[i] += static_cast<float>(d);
        for (std::size_t l = 0; l < reached; ++l) {
            const Layer& L = net.layers[l];
            switch (L.kind) {
                case Kind::Conv: {
                    const int CP = L.out.cp;
                    for (int p : touched[l])
                        std::memcpy(base.pre[l].data() + static_cast<std::size_t>(p) * CP,
                                    dpre[l].data() + static_cast<std::size_t>(p) * CP, sizeof(float) * CP);
                    if (ch[l].by_pos)
                        for (int p : ch[l].pos)
                            std::memcpy(base.act[l].data() + static_cast<std::size_t>(p) * CP,
                                        cact[l].data() + static_cast<std::size_t>(p) * CP, sizeof(float) * CP);
                    else
                        for (std::size_t e = 0; e < ch[l].size(); ++e) base.act[l][ch[l].idx[e]] = ch[l].val[e];
                    break;
                }
                case Kind::MaxPool:
                case Kind::AvgPool:
                    for (std::size_t e = 0; e < ch[l].size(); ++e) base.act[l][ch[l].idx[e]] = ch[l].val[e];
                    break;
                case Kind::Flatten:
                    break;
                case Kind::Dense:
                    if (lazy[l].on) {
                        lazy_accept(l);
                        break;
                    }
                    base.pre[l].swap(full_pre[l]);
                    if (l + 1 < net.layers.size()) base.act[l].swap(full_act[l]);
                    break;
            }
        }
        if (goal.kind == TargetKind::Channel) channel_sum = cand_channel_sum;
        score = new_score;
    }

    // For tests: the largest |state - full recomputation| / (1 + |full|)
    // over every value the state keeps.
    double check() {
        ConvBuffers fresh;
        fresh.prepare(net);
        conv_forward_layers(net, img.data(), fresh, 0, top + 1);
        double worst = 0.0;
        auto compare = [&](const float* a, const float* b, std::size_t n) {
            for (std::size_t i = 0; i < n; ++i)
                worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]) / (1.0 + std::fabs(b[i])));
        };
        for (std::size_t l = 0; l <= top; ++l) {
            const Layer& L = net.layers[l];
            if (L.kind == Kind::Flatten) continue;
            const std::size_t n = L.kind == Kind::Dense ? static_cast<std::size_t>(L.out_pad) : L.out.size();
            if (L.kind == Kind::Dense && lazy[l].on) {
                const Lazy& z = lazy[l];
                std::vector<float> unit(n);
                for (std::size_t j = 0; j < n; ++j) unit[z.perm[j]] = z.z[j];
                compare(unit.data(), fresh.pre[l].data(), n);
                if (z.fold) {  // the outputs kept are only right in sign where lines were not read
                    for (std::size_t j = 0; j < n; ++j) {
                        if ((base.act[l][j] > 0.0f) != (unit[j] > 0.0f)) worst = std::max(worst, 1.0);
                        unit[j] = std::max(unit[j], 0.0f);
                    }
                    compare(unit.data(), fresh.act[l].data(), n);
                    continue;
                }
            } else if (L.kind == Kind::Conv || L.kind == Kind::Dense) {
                compare(base.pre[l].data(), fresh.pre[l].data(), n);
            }
            if (L.kind != Kind::Dense || l + 1 < net.layers.size())
                compare(base.act[l].data(), fresh.act[l].data(), n);
        }
        return worst;
    }
};

}  // namespace

void* conv_probe_new(const Net& net, const Goal& goal, int lazy, int sums) {
    return new ConvProbeImpl(net, goal, lazy, sums);
}
void conv_probe_free(void* p) { delete static_cast<ConvProbeImpl*>(p); }
double conv_probe_reset(void* p, const double* x) { return static_cast<ConvProbeImpl*>(p)->reset(x); }
double conv_probe_propose(void* p, int i, double d) { return static_cast<ConvProbeImpl*>(p)->propose(i, d); }
void conv_probe_accept(void* p, int i, double d, double score) {
    static_cast<ConvProbeImpl*>(p)->accept(i, d, score);
}
double conv_probe_check(void* p) { return static_cast<ConvProbeImpl*>(p)->check(); }
