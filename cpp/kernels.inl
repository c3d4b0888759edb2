// Kernels compiled once per instruction set. Included by kernels_<isa>.cpp,
// each of which defines ND_ISA_NS (the namespace) and ND_ISA_NAME, and is
// built with that instruction set's compiler flags. Loops are written so that
// GCC and Clang vectorise them, so the same source serves every target;
// intrinsics only where a compiler gets it wrong (the broadcast, the clamp
// that keeps NaN).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <numeric>
#include <type_traits>
#include <vector>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "netdream/parallel.hpp"
#include "netdream/rng.hpp"

#if defined(__SSE2__) || defined(__AVX__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "netdream/kernels.hpp"

namespace netdream {
namespace ND_ISA_NS {

namespace {

inline float bits_to_float(std::int32_t i) {
    float f;
    std::memcpy(&f, &i, sizeof f);
    return f;
}
inline std::int32_t float_to_bits(float f) {
    std::int32_t i;
    std::memcpy(&i, &f, sizeof i);
    return i;
}

// exp(x) for float, branch-free so that loops over it vectorise (Cephes
// polynomial, about 2 ulp). Arguments are clamped to [-87.3, 88.3], which
// keeps the result finite and normal.
inline float exp_f(float x) {
    x = x < -87.3f ? -87.3f : x;  // NaN stays NaN
    x = x > 88.3f ? 88.3f : x;
    const float magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
    float t = x * 1.44269504088896341f + magic;
    float n = t - magic;
    // The exponent, in unsigned arithmetic: a NaN argument gives arbitrary
    // bits here (and NaN below), never a signed overflow or a shift of a
    // negative value.
    std::uint32_t ni = static_cast<std::uint32_t>(float_to_bits(t)) -
                       static_cast<std::uint32_t>(float_to_bits(magic));
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * (r * r) + r + 1.0f;
    return y * bits_to_float(static_cast<std::int32_t>((ni + 127u) << 23));
}

inline float sigmoid_f(float x) { return 1.0f / (1.0f + exp_f(-x)); }

// One native SIMD register of floats (ND_VEC_FLOATS: 16 for AVX-512, 8 for
// AVX2, 4 for SSE2), with GCC/Clang vector extensions, so one source serves
// every target. kPad (the padding of every vector in the Net) is a multiple
// of every width.
constexpr int W = ND_VEC_FLOATS;
typedef float vf __attribute__((vector_size(W * sizeof(float))));
typedef std::int32_t vi __attribute__((vector_size(W * sizeof(float))));
typedef std::uint32_t vu __attribute__((vector_size(W * sizeof(float))));
static_assert(kPad % W == 0, "the padding must be a multiple of the vector width");
// Before a loop over a compile-time number of vectors (or rows, taps) of
// accumulators: unroll it fully, so that they stay in registers. Without
// it GCC 12 kept such arrays on the stack in AVX2's hottest loops (a load,
// an FMA from memory and a store per vector; zeroed with `rep stos`).
#define ND_UNROLL _Pragma("GCC unroll 16")
// Accumulators the register file holds comfortably in the hot loops.
constexpr int kMaxAcc = W == 4 ? 8 : (W == 8 ? 8 : 4);

inline vf load(const float* p) {
    vf v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline void store(float* p, vf v) { std::memcpy(p, &v, sizeof v); }
// x in every lane (a plain broadcast: a register or memory operand, no arithmetic)
// (the instruction itself where there is one: GCC 12 turns the plain loop
// into stores to the stack and a reload in some hot loops)
inline vf splat(float x) {
    vf r;
#if ND_VEC_FLOATS == 16 && defined(__AVX512F__)
    const __m512 v = _mm512_set1_ps(x);
    std::memcpy(&r, &v, sizeof r);
#elif ND_VEC_FLOATS == 8 && defined(__AVX__)
    const __m256 v = _mm256_set1_ps(x);
    std::memcpy(&r, &v, sizeof r);
#elif ND_VEC_FLOATS == 4 && defined(__SSE__)
    const __m128 v = _mm_set1_ps(x);
    std::memcpy(&r, &v, sizeof r);
#else
    for (int i = 0; i < W; ++i) r[i] = x;
#endif
    return r;
}
inline vf vmin(vf a, vf b) { return a < b ? a : b; }
inline vf vmax(vf a, vf b) { return a > b ? a : b; }

// Bit j set where lane j of a is below b's (a NaN lane is not).
inline std::uint32_t less_mask(vf a, vf b) {
#if ND_VEC_FLOATS == 16 && defined(__AVX512F__)
    __m512 x, y;
    std::memcpy(&x, &a, sizeof x);
    std::memcpy(&y, &b, sizeof y);
    return _cvtmask16_u32(_mm512_cmp_ps_mask(x, y, _CMP_LT_OQ));
#elif ND_VEC_FLOATS == 8 && defined(__AVX__)
    __m256 x, y;
    std::memcpy(&x, &a, sizeof x);
    std::memcpy(&y, &b, sizeof y);
    return static_cast<std::uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(x, y, _CMP_LT_OQ)));
#elif ND_VEC_FLOATS == 4 && defined(__SSE2__)
    __m128 x, y;
    std::memcpy(&x, &a, sizeof x);
    std::memcpy(&y, &b, sizeof y);
    return static_cast<std::uint32_t>(_mm_movemask_ps(_mm_cmplt_ps(x, y)));
#else
    std::uint32_t m = 0;
    for (int j = 0; j < W; ++j) m |= static_cast<std::uint32_t>(a[j] < b[j]) << j;
    return m;
#endif
}
constexpr std::uint32_t kAllLanes = W >= 32 ? ~0u : (1u << W) - 1u;

// Bit j set where lane j of a differs from b's (a NaN lane differs): one
// compare-to-mask where the instruction set has one.
inline std::uint32_t differ_mask(vf a, vf b) {
#if ND_VEC_FLOATS == 16 && defined(__AVX512F__)
    __m512 x, y;
    std::memcpy(&x, &a, sizeof x);
    std::memcpy(&y, &b, sizeof y);
    // in a general register at once: GCC 12 (an -O2 build with the
    // sanitizers) spilled the mask register with a 16-bit store and
    // reloaded 32 bits, garbage above the 16 lanes
    std::uint32_t m = _cvtmask16_u32(_mm512_cmp_ps_mask(x, y, _CMP_NEQ_UQ));
    asm("" : "+r"(m));
    return m;
#elif ND_VEC_FLOATS == 8 && defined(__AVX__)
    __m256 x, y;
    std::memcpy(&x, &a, sizeof x);
    std::memcpy(&y, &b, sizeof y);
    return static_cast<std::uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(x, y, _CMP_NEQ_UQ)));
#elif ND_VEC_FLOATS == 4 && defined(__SSE2__)
    __m128 x, y;
    std::memcpy(&x, &a, sizeof x);
    std::memcpy(&y, &b, sizeof y);
    return static_cast<std::uint32_t>(_mm_movemask_ps(_mm_cmpneq_ps(x, y)));
#else
    std::uint32_t m = 0;
    for (int j = 0; j < W; ++j) m |= static_cast<std::uint32_t>(a[j] != b[j]) << j;
    return m;
#endif
}

// max(lo, x) and min(hi, x) lane by lane, NaN lanes of x staying NaN: the
// x86 max/min instructions return their second operand when either is NaN.
inline vf clamp_keep_nan(vf x, vf lo, vf hi) {
#if ND_VEC_FLOATS == 16 && defined(__AVX512F__)
#pragma GCC diagnostic push
// GCC's _mm512_max_ps passes _mm512_undefined_ps() as its (unused) merge source
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
    __m512 v = _mm512_max_ps(reinterpret_cast<__m512&>(lo), reinterpret_cast<__m512&>(x));
    v = _mm512_min_ps(reinterpret_cast<__m512&>(hi), v);
#pragma GCC diagnostic pop
    vf r;
    std::memcpy(&r, &v, sizeof r);
    return r;
#elif ND_VEC_FLOATS == 8 && defined(__AVX__)
    __m256 v = _mm256_max_ps(reinterpret_cast<__m256&>(lo), reinterpret_cast<__m256&>(x));
    v = _mm256_min_ps(reinterpret_cast<__m256&>(hi), v);
    vf r;
    std::memcpy(&r, &v, sizeof r);
    return r;
#elif ND_VEC_FLOATS == 4 && defined(__SSE2__)
    __m128 v = _mm_max_ps(reinterpret_cast<__m128&>(lo), reinterpret_cast<__m128&>(x));
    v = _mm_min_ps(reinterpret_cast<__m128&>(hi), v);
    vf r;
    std::memcpy(&r, &v, sizeof r);
    return r;
#else
    x = x < lo ? lo : x;
    return x > hi ? hi : x;
#endif
}

// exp_f on W lanes: the same operations in the same order as the scalar one.
inline vf exp_v(vf x) {
    x = clamp_keep_nan(x, splat(-87.3f), splat(88.3f));  // NaN lanes stay NaN
    const vf magic = splat(12582912.0f);
    vf t = x * 1.44269504088896341f + magic;
    vf n = t - magic;
    vu ni = (vu)t - static_cast<std::uint32_t>(float_to_bits(12582912.0f));
    vf r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    vf p = splat(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    vf y = p * (r * r) + r + 1.0f;
    return y * (vf)((ni + 127u) << 23);
}

// 1 / d for d >= 1 (where the callers use it). A full-precision division
// has a throughput of 5-16 cycles per vector and dominated the hill
// climber; the hardware reciprocal estimate plus one Newton step is within
// 2 ulp of it.
inline vf recip_v(vf d) {
#if ND_VEC_FLOATS == 16 && defined(__AVX512F__)
    vf r;
    const __m512 e = _mm512_rcp14_ps(reinterpret_cast<__m512&>(d));  // 14 bits
    std::memcpy(&r, &e, sizeof r);
    return r * (2.0f - d * r);
#elif ND_VEC_FLOATS == 8 && defined(__AVX__)
    vf r;
    const __m256 e = _mm256_rcp_ps(reinterpret_cast<__m256&>(d));  // 12 bits
    std::memcpy(&r, &e, sizeof r);
    r = r * (2.0f - d * r);
    return r * (2.0f - d * r);
#else
    return 1.0f / d;
#endif
}

inline vf sigmoid_v(vf x) { return recip_v(1.0f + exp_v(-x)); }

inline vf tanh_v(vf x) {
    const vi sign_bit = (vi)splat(-0.0f);
    vi sign = (vi)x & sign_bit;
    vf ax = (vf)((vi)x & ~sign_bit);
    vf e = exp_v(-2.0f * ax);
    vf t = (1.0f - e) / (1.0f + e);
    return (vf)((vi)t | sign);
}

inline float hsum(vf v) {  // a fixed pairwise order
    float t[W];
    std::memcpy(t, &v, sizeof t);
    for (int n = W / 2; n >= 1; n /= 2)
        for (int l = 0; l < n; ++l) t[l] += t[l + n];
    return t[0];
}

// Hidden activation over n floats (a multiple of kPad).
template <Act A>
inline void apply_hidden_t(const float* z, float* h, int n, float slope) {
    for (int i = 0; i < n; i += W) {
        const vf x = load(z + i);
        vf y;
        if constexpr (A == Act::Relu) y = x > 0.0f ? x : splat(0.0f);
        else if constexpr (A == Act::LeakyRelu) y = x > 0.0f ? x : x * slope;
        else if constexpr (A == Act::Sigmoid) y = sigmoid_v(x);
        else if constexpr (A == Act::Tanh) y = tanh_v(x);
        else y = x;
        store(h + i, y);
    }
}

void apply_hidden(Act act, const float* z, float* h, int n, float slope) {
    switch (act) {
        case Act::Relu: apply_hidden_t<Act::Relu>(z, h, n, slope); break;
        case Act::LeakyRelu: apply_hidden_t<Act::LeakyRelu>(z, h, n, slope); break;
        case Act::Sigmoid: apply_hidden_t<Act::Sigmoid>(z, h, n, slope); break;
        case Act::Tanh: apply_hidden_t<Act::Tanh>(z, h, n, slope); break;
        default: apply_hidden_t<Act::Identity>(z, h, n, slope); break;
    }
}

// Output activation over the n real outputs.
void apply_output(Act act, const float* z, float* out, int n) {
    switch (act) {
        case Act::Sigmoid:
            for (int i = 0; i < n; ++i) out[i] = sigmoid_f(z[i]);
            break;
        case Act::Softmax: {
            float m = z[0];
            for (int i = 1; i < n; ++i) m = std::max(m, z[i]);
            float s = 0.0f;
            for (int i = 0; i < n; ++i) {
                out[i] = exp_f(z[i] - m);
                s += out[i];
            }
            const float inv = 1.0f / s;
            for (int i = 0; i < n; ++i) out[i] *= inv;
            break;
        }
        default:
            std::memcpy(out, z, sizeof(float) * n);
            break;
    }
}

// z[o..o+G) = b + W[o.., :] . h for G outputs of a layer stored
// (n_out x in_pad). Each output keeps two accumulators (even and odd
// vectors of its row), so 2G independent FMA chains hide the FMA latency.
// An output's arithmetic does not depend on G or on its neighbours, so the
// result never depends on grouping or threading.
template <int G>
inline void dense_group(const Layer& L, const float* h, float* z, int o) {
    const int n_in = L.in_pad;
    const float* w0 = L.w.data() + static_cast<std::size_t>(o) * n_in;
    vf a[G], b[G];
    ND_UNROLL for (int g = 0; g < G; ++g) a[g] = b[g] = vf{};
    int i = 0;
    for (; i + 2 * W <= n_in; i += 2 * W) {
        const vf x0 = load(h + i), x1 = load(h + i + W);
        ND_UNROLL for (int g = 0; g < G; ++g) {
            a[g] += load(w0 + g * n_in + i) * x0;
            b[g] += load(w0 + g * n_in + i + W) * x1;
        }
    }
    if (i < n_in) {
        const vf x0 = load(h + i);
        ND_UNROLL for (int g = 0; g < G; ++g) a[g] += load(w0 + g * n_in + i) * x0;
    }
    ND_UNROLL for (int g = 0; g < G; ++g) z[o + g] = L.b[o + g] + hsum(a[g] + b[g]);
}

void dense_rows(const Layer& L, const float* h, float* z) {
    const int n_out = L.n_out;
    int o = 0;
    for (; o + 4 <= n_out; o += 4) dense_group<4>(L, h, z, o);
    switch (n_out - o) {
        case 3: dense_group<3>(L, h, z, o); break;
        case 2: dense_group<2>(L, h, z, o); break;
        case 1: dense_group<1>(L, h, z, o); break;
        default: break;
    }
    for (o = n_out; o < L.out_pad; ++o) z[o] = 0.0f;
}

// The same as dense_rows for M rows at once (H: M x in_pad, row stride ldh;
// Z: M x out_pad, row stride ldz), R rows and G outputs per step, so that
// every weight vector loaded serves R rows. Each (row, output) keeps
// exactly dense_group's two accumulators, order of operations and final
// sum: the result of a row does not depend on the other rows of the block.
template <int R, int G>
inline void dense_block(const Layer& L, const float* h, std::size_t ldh, float* z,
                        std::size_t ldz, int o) {
    const int n_in = L.in_pad;
    const float* w0 = L.w.data() + static_cast<std::size_t>(o) * n_in;
    vf a[R][G], b[R][G];
    ND_UNROLL for (int r = 0; r < R; ++r)
        ND_UNROLL for (int g = 0; g < G; ++g) a[r][g] = b[r][g] = vf{};
    int i = 0;
    for (; i + 2 * W <= n_in; i += 2 * W) {
        vf x0[R], x1[R];
        ND_UNROLL for (int r = 0; r < R; ++r) {
            x0[r] = load(h + r * ldh + i);
            x1[r] = load(h + r * ldh + i + W);
        }
        ND_UNROLL for (int g = 0; g < G; ++g) {
            const vf wa = load(w0 + g * n_in + i), wb = load(w0 + g * n_in + i + W);
            ND_UNROLL for (int r = 0; r < R; ++r) {
                a[r][g] += wa * x0[r];
                b[r][g] += wb * x1[r];
            }
        }
    }
    if (i < n_in) {
        ND_UNROLL for (int g = 0; g < G; ++g) {
            const vf wa = load(w0 + g * n_in + i);
            ND_UNROLL for (int r = 0; r < R; ++r) a[r][g] += wa * load(h + r * ldh + i);
        }
    }
    ND_UNROLL for (int r = 0; r < R; ++r)
        ND_UNROLL for (int g = 0; g < G; ++g) z[r * ldz + o + g] = L.b[o + g] + hsum(a[r][g] + b[r][g]);
}

// outputs [o0, o1) of R rows; the padding too when o1 is the last output
template <int R>
inline void dense_rows_r(const Layer& L, const float* h, std::size_t ldh, float* z,
                         std::size_t ldz, int o0, int o1) {
    int o = o0;
    for (; o + 2 <= o1; o += 2) dense_block<R, 2>(L, h, ldh, z, ldz, o);
    if (o < o1) dense_block<R, 1>(L, h, ldh, z, ldz, o);
    if (o1 == L.n_out)
        ND_UNROLL for (int r = 0; r < R; ++r)
            for (o = o1; o < L.out_pad; ++o) z[r * ldz + o] = 0.0f;
}

// dense_rows for M rows (see dense_block): outputs [o0, o1), by default all.
// The outputs go in chunks whose weights stay in L2 while every row passes,
// so that a large layer's weights come from memory once per call, not once
// per R rows (the same arithmetic: an output's sum does not depend on them).
void dense_rows_batch(const Layer& L, const float* h, std::size_t ldh, int m, float* z,
                      std::size_t ldz, int o0 = 0, int o1 = -1) {
    constexpr int R = W == 16 ? 4 : 3;  // rows per step the registers hold
    if (o1 < 0) o1 = L.n_out;
    // outputs per chunk: about 256 KB of weights, an even number
    const int chunk = std::max(2, static_cast<int>((256 * 1024 / sizeof(float)) /
                                                    static_cast<std::size_t>(L.in_pad)) & ~1);
    for (int c0 = o0; c0 < o1; c0 += chunk) {
        const int c1 = std::min(o1, c0 + chunk);
        int r = 0;
        for (; r + R <= m; r += R) dense_rows_r<R>(L, h + r * ldh, ldh, z + r * ldz, ldz, c0, c1);
        for (; r < m; ++r) dense_rows_r<1>(L, h + r * ldh, ldh, z + r * ldz, ldz, c0, c1);
    }
}

// C (M x N, row stride ldc) += A (M x K, row stride lda) . B (K x N, row
// stride ldb), N a multiple of W: a register-blocked outer-product GEMM
// (BLIS's loop order: blocks of K; B packed into panels of kNR columns that
// stay in L1 while kMR rows of A at a time pass; a kMR x kNR block of C in
// registers). Every C[m, n] adds A[m, k] * B[k, n] for k = 0, 1, ...,
// K-1 in that order (one fused multiply-add each) to the value it starts
// with, whatever the blocking: a row's result does not depend on the other
// rows, and equals a sparse sum over the row's nonzero k in increasing order.
constexpr int kNV = 2;                                       // vectors of C per row
constexpr int kNR = kNV * W;                                 // columns of a B panel
constexpr int kMR = W == 16 ? 12 : (W == 8 ? 6 : 4);         // rows of an A micro-panel
constexpr int kKC = 256;                                     // K per block

// C[0..R) x [0..NV W) += A (R rows of stride lda, kc columns) . Bp (kc x NV W,
// packed); with Set, C = A . Bp (C's old values not read).
template <int R, int NV, bool Set = false>
inline void gemm_micro(int kc, const float* a, std::size_t lda, const float* bp, float* c,
                       std::size_t ldc) {
    vf acc[R][NV];
    ND_UNROLL for (int i = 0; i < R; ++i)
        ND_UNROLL for (int v = 0; v < NV; ++v) acc[i][v] = Set ? splat(0.0f) : load(c + i * ldc + v * W);
    for (int k = 0; k < kc; ++k) {
        vf bv[NV];
        ND_UNROLL for (int v = 0; v < NV; ++v) bv[v] = load(bp + k * NV * W + v * W);
        ND_UNROLL for (int i = 0; i < R; ++i) {
            const vf av = splat(a[i * lda + k]);
            ND_UNROLL for (int v = 0; v < NV; ++v) acc[i][v] += av * bv[v];
        }
    }
    ND_UNROLL for (int i = 0; i < R; ++i)
        ND_UNROLL for (int v = 0; v < NV; ++v) store(c + i * ldc + v * W, acc[i][v]);
}

template <int NV, bool Set, int R = kMR>
inline void gemm_edge(int rows, int kc, const float* a, std::size_t lda, const float* bp, float* c,
                      std::size_t ldc) {
    if constexpr (R > 0) {
        if (rows == R)
            gemm_micro<R, NV, Set>(kc, a, lda, bp, c, ldc);
        else
            gemm_edge<NV, Set, R - 1>(rows, kc, a, lda, bp, c, ldc);
    }
}

// B (K x N, row stride ldb, N a multiple of W) packed for gemm_packed:
// blocks of kKC rows, each in panels of kNR columns (then W), contiguous.
struct PackedB {
    int k = 0, n = 0;
    std::vector<float> data;  // k x n floats used (kept, not shrunk, from one packing to the next)
    // Room for `need` floats. Only grown: a thread's buffer packs blocks of
    // varying sizes, and resizing up again zero-filled the difference every
    // time (1.4% of a genetic search on a random Deep-MNIST CNN).
    void reserve(std::size_t need) {
        if (data.size() < need) data.resize(need);
    }
    void pack(int k_, int n_, const float* b, std::size_t ldb) {
        pack_by(k_, n_, [&](int kk) { return b + static_cast<std::size_t>(kk) * ldb; });
    }
    // Packed row by row (each row read once, in order, its pieces written
    // to the block's panels), not panel by panel, which read each of a
    // block's rows once per panel: for a large layer (256 rows of 2-4 KB a
    // block) from L3 each time (the picked columns of a Deep-MNIST CNN's
    // first dense layer: 12% of a genetic search on the random one). Row kk
    // is row(kk).
    template <class Row>
    void pack_by(int k_, int n_, Row&& row) {
        k = k_;
        n = n_;
        reserve(static_cast<std::size_t>(k) * n);
        float* p = data.data();
        for (int k0 = 0; k0 < k; k0 += kKC) {
            const int kc = std::min(kKC, k - k0);
            for (int kk = 0; kk < kc; ++kk) {
                const float* r = row(k0 + kk);
                float* q = p;
                int j = 0;
                for (; j + kNR <= n; j += kNR, q += static_cast<std::size_t>(kc) * kNR)
                    std::memcpy(q + kk * kNR, r + j, sizeof(float) * kNR);
                for (; j < n; j += W, q += static_cast<std::size_t>(kc) * W)
                    std::memcpy(q + kk * W, r + j, sizeof(float) * W);
            }
            p += static_cast<std::size_t>(kc) * n;
        }
    }
    // B = H^T for `rows` rows of H (k floats each, row stride ldh): n is
    // rows rounded up to W, the extra columns zero.
    void pack_rows(int k_, int rows, const float* h, std::size_t ldh) {
        k = k_;
        n = (rows + W - 1) / W * W;
        reserve(static_cast<std::size_t>(k) * n);
        float* p = data.data();
        auto panel = [&](int j, int width, int kc, int k0) {
            for (int jj = 0; jj < width; ++jj) {
                if (j + jj < rows) {
                    const float* src = h + static_cast<std::size_t>(j + jj) * ldh + k0;
                    for (int kk = 0; kk < kc; ++kk) p[kk * width + jj] = src[kk];
                } else {
                    for (int kk = 0; kk < kc; ++kk) p[kk * width + jj] = 0.0f;
                }
            }
            p += static_cast<std::size_t>(kc) * width;
        };
        for (int k0 = 0; k0 < k; k0 += kKC) {
            const int kc = std::min(kKC, k - k0);
            int j = 0;
            for (; j + kNR <= n; j += kNR) panel(j, kNR, kc, k0);
            for (; j < n; j += W) panel(j, W, kc, k0);
        }
    }
};

// C (m x B.n, row stride ldc) += A (m x B.k, row stride lda) . B; with
// set, C = A . B (the same bits as from zeros).
void gemm_packed(int m, const float* a, std::size_t lda, const PackedB& b, float* c,
                 std::size_t ldc, bool set = false) {
    const float* bp = b.data.data();
    for (int k0 = 0; k0 < b.k; k0 += kKC) {
        const int kc = std::min(kKC, b.k - k0);
        const bool first = set && k0 == 0;
        int j = 0;
        for (; j + kNR <= b.n; j += kNR, bp += kc * kNR)
            for (int i0 = 0; i0 < m; i0 += kMR) {
                const int rows = std::min(kMR, m - i0);
                const float* ai = a + i0 * lda + k0;
                float* ci = c + i0 * ldc + j;
                if (first)
                    gemm_edge<kNV, true>(rows, kc, ai, lda, bp, ci, ldc);
                else
                    gemm_edge<kNV, false>(rows, kc, ai, lda, bp, ci, ldc);
            }
        for (; j < b.n; j += W, bp += kc * W)
            for (int i0 = 0; i0 < m; i0 += kMR) {
                const int rows = std::min(kMR, m - i0);
                const float* ai = a + i0 * lda + k0;
                float* ci = c + i0 * ldc + j;
                if (first)
                    gemm_edge<1, true>(rows, kc, ai, lda, bp, ci, ldc);
                else
                    gemm_edge<1, false>(rows, kc, ai, lda, bp, ci, ldc);
            }
    }
}

// C (m x n, row stride ldc) += A (m x k, row stride lda) . B, B the rows
// rows[0..k) of a larger matrix (row kk at b + rows[kk] * ldb; n a multiple
// of W), packed a block of kKC rows by kGroup panels at a time as the
// product goes rather than all of it first: the part packed (128 KB) stays
// in L2 while every row of A passes, and B is neither written to memory
// nor read back. For the kept columns of a Deep-MNIST CNN's first dense
// layer (11 MB, in two threads' buffers at once) that made a genetic search
// on the random one about 10% faster (the same binary either way,
// alternating; the forward pass of a block on one thread, 4%). The same
// sums as gemm_packed over B packed whole.
constexpr int kGroup = 8;
void gemm_picked(int m, const float* a, std::size_t lda, int k, int n, const float* b, std::size_t ldb,
                 const int* rows, float* c, std::size_t ldc) {
    thread_local PackedB part;
    for (int k0 = 0; k0 < k; k0 += kKC) {
        const int kc = std::min(kKC, k - k0);
        for (int j0 = 0; j0 < n; j0 += kGroup * kNR) {
            const int j1 = std::min(n, j0 + kGroup * kNR);
            part.pack_by(kc, j1 - j0, [&](int kk) {
                return b + static_cast<std::size_t>(rows[k0 + kk]) * ldb + j0;
            });
            // (gemm_packed's loops, written out: with gemm_packed called
            // here, GCC's link-time inlining made the whole pass 1.45x slower)
            const float* bp = part.data.data();
            int j = j0;
            for (; j + kNR <= j1; j += kNR, bp += kc * kNR)
                for (int i0 = 0; i0 < m; i0 += kMR)
                    gemm_edge<kNV, false>(std::min(kMR, m - i0), kc, a + i0 * lda + k0, lda, bp,
                                          c + i0 * ldc + j, ldc);
            for (; j < j1; j += W, bp += kc * W)
                for (int i0 = 0; i0 < m; i0 += kMR)
                    gemm_edge<1, false>(std::min(kMR, m - i0), kc, a + i0 * lda + k0, lda, bp,
                                        c + i0 * ldc + j, ldc);
        }
    }
}

// f(NV) for NV = 1..8 known at compile time (accumulators in registers).
template <class F>
inline void by_vectors(int nv, F&& f) {
    switch (nv) {
        case 1: f(std::integral_constant<int, 1>{}); break;
        case 2: f(std::integral_constant<int, 2>{}); break;
        case 3: f(std::integral_constant<int, 3>{}); break;
        case 4: f(std::integral_constant<int, 4>{}); break;
        case 5: f(std::integral_constant<int, 5>{}); break;
        case 6: f(std::integral_constant<int, 6>{}); break;
        case 7: f(std::integral_constant<int, 7>{}); break;
        default: f(std::integral_constant<int, 8>{}); break;
    }
}

// pre[c : c + NV*W] = init + sum over the listed inputs of val * Wt[idx, c:]
// (Wt: the transposed weights, one row of `stride` floats per input; the
// inputs in the order listed, one fused multiply-add each), with the NV
// accumulators in registers.
template <int NV>
inline void columns_block(const float* Wt, std::size_t stride, const float* init, const int* idx,
                          const float* val, int nnz, int c, float* pre) {
    vf acc[NV];
    ND_UNROLL for (int v = 0; v < NV; ++v) acc[v] = load(init + c + v * W);
    for (int k = 0; k < nnz; ++k) {
        const vf x = splat(val[k]);
        const float* w = Wt + c + static_cast<std::size_t>(idx[k]) * stride;
        ND_UNROLL for (int v = 0; v < NV; ++v) acc[v] += x * load(w + v * W);
    }
    ND_UNROLL for (int v = 0; v < NV; ++v) store(pre + c + v * W, acc[v]);
}

// pre[c0:c1) = init + sum_k val[k] * Wt[idx[k], c0:c1) (c0, c1 multiples of W).
void columns_accumulate(const float* Wt, std::size_t stride, const float* init, const int* idx,
                        const float* val, int nnz, int c0, int c1, float* pre) {
    int c = c0;
    for (; c + kMaxAcc * W <= c1; c += kMaxAcc * W)
        columns_block<kMaxAcc>(Wt, stride, init, idx, val, nnz, c, pre);
    if (c < c1)
        by_vectors((c1 - c) / W, [&](auto nv) {
            columns_block<decltype(nv)::value>(Wt, stride, init, idx, val, nnz, c, pre);
        });
}

// pre = init + sum_k val[k] * W0T[idx[k], :] (init may equal pre).
void layer0_accumulate(const Layer& L, const float* init, const int* idx, const float* val,
                       int nnz, float* pre) {
    columns_accumulate(L.w.data(), static_cast<std::size_t>(L.out_pad), init, idx, val, nnz, 0,
                       L.out_pad, pre);
}

void layer0_sparse(const Layer& L, const int* idx, const float* val, int nnz, float* pre) {
    layer0_accumulate(L, L.b.data(), idx, val, nnz, pre);
}

// Lists the nonzero inputs of one row (value times scale). Runs of zeros 8
// bytes at a time are skipped (MNIST digits are mostly background), and the
// rest is compacted without branches, which mispredict on digit strokes.
template <class T>
int gather_nonzero(const T* row, int n, float scale, int* idx, float* val) {
    constexpr int group = static_cast<int>(8 / sizeof(T)) > 0 ? static_cast<int>(8 / sizeof(T)) : 1;
    int nnz = 0, i = 0;
    for (; i + group <= n; i += group) {
        std::uint64_t bits = 0;
        std::memcpy(&bits, row + i, sizeof(T) * group);
        if (bits == 0) continue;
        for (int g = 0; g < group; ++g) {
            idx[nnz] = i + g;
            val[nnz] = static_cast<float>(row[i + g]) * scale;
            nnz += row[i + g] != T(0);
        }
    }
    for (; i < n; ++i) {
        idx[nnz] = i;
        val[nnz] = static_cast<float>(row[i]) * scale;
        nnz += row[i] != T(0);
    }
    return nnz;
}

// Layer 0 for kRows samples at once: every weight vector loaded serves all
// of them (a small GEMM), over the union of their nonzero inputs. A sample's
// sum runs over its own nonzero inputs in increasing order, exactly as in
// layer0_sparse, plus exact zeros for the inputs only others have, so its
// result does not depend on which samples it is grouped with.
constexpr int kRows = 4;
// Vectors per row held in registers: on AVX2, 4 x 3 accumulators, the three
// weight vectors and the broadcast fill the 16 registers without a spill,
// and each input's broadcast serves 3 vectors, not 2 (7 loads per 12 FMAs,
// not 6 per 8): the seed net's forward pass of 64 to 10,000 MNIST images
// 7-15% faster than with 2 (A/B alternating, medians).
constexpr int kRowAcc = W == 16 ? 4 : 3;

template <int NV>
inline void layer0_rows_block(const Layer& L, const int* idx, const float* xs, int nu, int c,
                              float* pre) {
    const int n = L.n_in;
    const float* Wt = L.w.data() + c;
    const std::size_t stride = static_cast<std::size_t>(L.out_pad);
    vf acc[kRows][NV];
    ND_UNROLL for (int v = 0; v < NV; ++v) {
        const vf b = load(L.b.data() + c + v * W);
        ND_UNROLL for (int r = 0; r < kRows; ++r) acc[r][v] = b;
    }
    for (int k = 0; k < nu; ++k) {
        const float* w = Wt + static_cast<std::size_t>(idx[k]) * stride;
        vf wv[NV];
        ND_UNROLL for (int v = 0; v < NV; ++v) wv[v] = load(w + v * W);
        ND_UNROLL for (int r = 0; r < kRows; ++r) {
            const vf x = splat(xs[r * n + idx[k]]);
            ND_UNROLL for (int v = 0; v < NV; ++v) acc[r][v] += x * wv[v];
        }
    }
    ND_UNROLL for (int r = 0; r < kRows; ++r)
        ND_UNROLL for (int v = 0; v < NV; ++v) store(pre + r * L.out_pad + c + v * W, acc[r][v]);
}

template <int NV>
inline void layer0_rows_rest(const Layer& L, const int* idx, const float* xs, int nu, int c,
                             float* pre, int vectors) {
    if constexpr (NV > 0) {
        if (vectors == NV)
            layer0_rows_block<NV>(L, idx, xs, nu, c, pre);
        else
            layer0_rows_rest<NV - 1>(L, idx, xs, nu, c, pre, vectors);
    }
}

// rows: kRows pointers to input rows, converted into xs (kRows x n_in);
// the union of their nonzero inputs into idx. Returns its size.
template <class T>
int layer0_union(const Layer& L, const T* const* rows, float scale, int* idx, float* xs,
                 std::uint8_t* mask, float* mask_val) {
    const int n = L.n_in;
    // Dense rows first (vectorised conversions), then the union of the
    // nonzero inputs, compacted without branches.
    for (int r = 0; r < kRows; ++r)
        for (int i = 0; i < n; ++i) xs[r * n + i] = static_cast<float>(rows[r][i]) * scale;
    for (int i = 0; i < n; ++i)
        mask[i] = (xs[i] != 0.0f) | (xs[n + i] != 0.0f) | (xs[2 * n + i] != 0.0f) |
                  (xs[3 * n + i] != 0.0f);
    static_assert(kRows == 4, "the union above is written for four rows");
    return gather_nonzero(mask, n, 1.0f, idx, mask_val);
}

// Layer 0 for groups of kRows rows (group g: inputs xs + g kRows n_in,
// union idx + g n_in of nu[g], output pre + g kRows out_pad), a strip of
// kRowAcc vectors of outputs at a time for every group before the next
// strip: the strip's weights (n_in x 96 bytes on AVX2) stay in L2 for all
// the groups, where whole rows of weights, group after group, came from L3
// once a layer's weights outgrow L2 (the seed net's 650 KB, on a 512 KB L2).
void layer0_groups(const Layer& L, int groups, const int* idx, const int* nu, const float* xs,
                   float* pre) {
    const int n = L.n_in;
    const std::size_t gx = static_cast<std::size_t>(kRows) * n, gp = static_cast<std::size_t>(kRows) * L.out_pad;
    int c = 0;
    for (; c + kRowAcc * W <= L.out_pad; c += kRowAcc * W)
        for (int g = 0; g < groups; ++g)
            layer0_rows_block<kRowAcc>(L, idx + static_cast<std::size_t>(g) * n, xs + g * gx, nu[g], c, pre + g * gp);
    if (c < L.out_pad)
        for (int g = 0; g < groups; ++g)
            layer0_rows_rest<kRowAcc - 1>(L, idx + static_cast<std::size_t>(g) * n, xs + g * gx, nu[g], c,
                                          pre + g * gp, (L.out_pad - c) / W);
}

}  // namespace

void forward_from_pre0(const Net& net, const float* pre0, float* logits, float* out,
                       float* scratch) {
    const int n_layers = static_cast<int>(net.layers.size());
    const int width = net.max_width();
    float* a = scratch;
    float* b = scratch + width;
    const float* z = pre0;
    for (int l = 0; l + 1 < n_layers; ++l) {
        const Layer& L = net.layers[l];
        apply_hidden(L.act, z, a, L.out_pad, static_cast<float>(net.leaky_slope));
        dense_rows(net.layers[l + 1], a, b);
        z = b;
        std::swap(a, b);
    }
    const Layer& last = net.layers.back();
    if (logits) std::memcpy(logits, z, sizeof(float) * last.n_out);
    if (out) apply_output(last.act, z, out, last.n_out);
}

// Rows of the batched forward pass handled together: layer 0 as one GEMM
// (or sparse groups) and every later layer as one batched dense product.
constexpr int kBlock = 128;

namespace {

// A thread's buffers for forward_rows, grown as needed and never shrunk.
struct Scratch {
    std::vector<int> idx;
    std::vector<int> gidx, nu;  // layer 0's groups of kRows rows: the union of their nonzero inputs, its size
    std::vector<float> xs, val, za, zb, h;
    std::vector<std::uint8_t> mask;
    PackedB w0;
    std::uint64_t w0_uid = 0;  // the network whose layer 0 w0 holds (0: none)
    void reserve(int n_in, std::size_t width) {
        const std::size_t n = static_cast<std::size_t>(n_in);
        if (idx.size() < n) {
            idx.resize(n);
            val.resize(n);
            mask.resize(n);
        }
        if (xs.size() < n * kBlock) {
            xs.resize(n * kBlock);
            gidx.resize(n * (kBlock / kRows));
            nu.resize(kBlock / kRows);
        }
        if (za.size() < width * kBlock) {
            za.resize(width * kBlock);
            zb.resize(width * kBlock);
            h.resize(width * kBlock);
        }
    }
};

}  // namespace

template <class T>
void forward_rows_t(const Net& net, const T* x, float scale, std::size_t begin, std::size_t end,
                    float* out, bool logits) {
    const int n_in = net.n_in(), n_out = net.n_out();
    const Layer& L0 = net.layers.front();
    const int n_layers = static_cast<int>(net.layers.size());
    const std::size_t width = static_cast<std::size_t>(net.max_width());
    // scratch kept by the thread between calls: a small batch must not pay
    // for allocating and zeroing buffers sized for large ones
    thread_local Scratch sc;
    sc.reserve(n_in, width);
    int* idx = sc.idx.data();
    float* xs = sc.xs.data();
    float* val = sc.val.data();
    std::uint8_t* mask = sc.mask.data();
    float* h = sc.h.data();
    // layer 0's weights for the GEMM, packed when a dense block needs them
    // and kept by the thread for the next calls on the same network (a
    // network's uid is never reused, unlike its address)
    PackedB& w0 = sc.w0;
    if (sc.w0_uid != net.uid) w0.data.clear();
    for (std::size_t r0 = begin; r0 < end; r0 += kBlock) {
        const int m = static_cast<int>(std::min<std::size_t>(kBlock, end - r0));
        // layer 0: a GEMM over every input when the block is dense, else
        // sparse groups over the nonzero inputs (the same sums either way)
        const T* src = x + r0 * n_in;
        std::size_t nnz = 0;
        for (std::size_t i = 0; i < static_cast<std::size_t>(m) * n_in; ++i) nnz += src[i] != T(0);
        const std::size_t P0 = static_cast<std::size_t>(L0.out_pad);
        if (4 * nnz > static_cast<std::size_t>(m) * n_in) {
            const float* a = xs;
            if constexpr (std::is_same_v<T, float>) {
                if (scale == 1.0f) a = src;  // float32 input: used as it is
            }
            if (a == xs)
                for (std::size_t i = 0; i < static_cast<std::size_t>(m) * n_in; ++i)
                    xs[i] = static_cast<float>(src[i]) * scale;
            for (int r = 0; r < m; ++r) std::memcpy(sc.za.data() + r * P0, L0.b.data(), sizeof(float) * P0);
            if (w0.data.empty()) {
                w0.pack(n_in, L0.out_pad, L0.w.data(), P0);
                sc.w0_uid = net.uid;
            }
            gemm_packed(m, a, n_in, w0, sc.za.data(), P0);
        } else {
            int r = 0, groups = 0;
            for (; r + kRows <= m; r += kRows, ++groups) {
                const T* rows[kRows];
                for (int k = 0; k < kRows; ++k) rows[k] = src + (r + k) * n_in;
                sc.nu[groups] = layer0_union(L0, rows, scale, sc.gidx.data() + static_cast<std::size_t>(groups) * n_in,
                                             xs + static_cast<std::size_t>(r) * n_in, mask, val);
            }
            layer0_groups(L0, groups, sc.gidx.data(), sc.nu.data(), xs, sc.za.data());
            for (; r < m; ++r) {
                const int k = gather_nonzero(src + r * n_in, n_in, scale, idx, xs);
                layer0_sparse(L0, idx, xs, k, sc.za.data() + r * P0);
            }
        }
        // later layers, the block at once
        float* z = sc.za.data();
        float* zn = sc.zb.data();
        for (int l = 0; l + 1 < n_layers; ++l) {
            const Layer& L = net.layers[l];
            const Layer& next = net.layers[l + 1];
            apply_hidden(L.act, z, h, m * L.out_pad, static_cast<float>(net.leaky_slope));
            dense_rows_batch(next, h, next.in_pad, m, zn, next.out_pad);
            std::swap(z, zn);
        }
        const Layer& last = net.layers.back();
        for (int r = 0; r < m; ++r) {
            float* o = out + (r0 + r - begin) * n_out;
            const float* zr = z + static_cast<std::size_t>(r) * last.out_pad;
            if (logits)
                std::memcpy(o, zr, sizeof(float) * n_out);
            else
                apply_output(last.act, zr, o, n_out);
        }
    }
}

void conv_forward_rows(const Net& net, const void* x, InputKind kind, std::size_t begin,
                       std::size_t end, float* logits, float* probs);
void conv_forward_split(const Net& net, const void* x, InputKind kind, std::size_t n,
                        float* logits, float* probs, int threads);

void forward_rows(const Net& net, const void* x, InputKind kind, std::size_t begin,
                  std::size_t end, float* out, bool logits) {
    if (net.conv) {
        conv_forward_rows(net, x, kind, begin, end, logits ? out : nullptr, logits ? nullptr : out);
        return;
    }
    if (kind == InputKind::Uint8)
        forward_rows_t(net, static_cast<const std::uint8_t*>(x), 1.0f / 255.0f, begin, end, out,
                       logits);
    else
        forward_rows_t(net, static_cast<const float*>(x), 1.0f, begin, end, out, logits);
}


// ------------------------------------------------------------------- scores

namespace {

// Pre-activations of layer `upto` from layer 0's; a pointer into scratch
// (or pre0 itself).
const float* forward_upto(const Net& net, const float* pre0, int upto, float* scratch) {
    const int width = net.max_width();
    float* a = scratch;
    float* b = scratch + width;
    const float* z = pre0;
    for (int l = 0; l < upto; ++l) {
        apply_hidden(net.layers[l].act, z, a, net.layers[l].out_pad, static_cast<float>(net.leaky_slope));
        dense_rows(net.layers[l + 1], a, b);
        z = b;
        std::swap(a, b);
    }
    return z;
}

// The softmax scores in float, W lanes at a time (the scalar version spends
// ten exp calls per candidate of the hill climber).
double softmax_score_f(Objective obj, const float* z, int n, int t) {
    float m = z[0];
    for (int k = 1; k < n; ++k) m = std::max(m, z[k]);
    float all = 0.0f, others = 0.0f, et = 0.0f;
    for (int k0 = 0; k0 < n; k0 += W) {
        float lanes[W];
        for (int l = 0; l < W; ++l) lanes[l] = k0 + l < n ? z[k0 + l] - m : -100.0f;
        vf e = exp_v(load(lanes));
        float ev[W];
        store(ev, e);
        for (int l = 0; l < W && k0 + l < n; ++l) {
            all += ev[l];
            if (k0 + l != t) others += ev[l];
            else et = ev[l];
        }
    }
    return softmax_score(obj, static_cast<double>(others), static_cast<double>(all),
                         static_cast<double>(et), static_cast<double>(z[t] - m));
}

}  // namespace

double score_from_pre0(const Net& net, const float* pre0, const Goal& goal, float* scratch);

// The hill climber's candidate in one call: cand = pre + d * W0[:, i] (the
// one layer-0 update, inlined here for a single column) and its score.
double score_candidate(const Net& net, const float* pre, int i, float d, float* cand,
                       const Goal& goal, float* scratch) {
    layer0_accumulate(net.layers.front(), pre, &i, &d, 1, cand);
    return score_from_pre0(net, cand, goal, scratch);
}

double score_from_pre0(const Net& net, const float* pre0, const Goal& goal, float* scratch) {
    if (goal.kind == TargetKind::Unit)
        return static_cast<double>(forward_upto(net, pre0, goal.layer, scratch)[goal.index]);
    const Layer& last = net.layers.back();
    const float* z = forward_upto(net, pre0, static_cast<int>(net.layers.size()) - 1, scratch);
    if (last.act == Act::Softmax &&
        (goal.objective == Objective::LogProb || goal.objective == Objective::Prob ||
         goal.objective == Objective::SeedError))
        return softmax_score_f(goal.objective, z, last.n_out, goal.index);
    return class_score<float>(goal, last.act, z, last.n_out);
}
void layer0_update(const Net& net, const float* init, const int* idx, const float* val, int n,
                   float* pre) {
    layer0_accumulate(net.layers.front(), init, idx, val, n, pre);
}

#include "conv.inl"

extern const Kernels table;
const Kernels table = {ND_ISA_NAME,       &forward_rows,       &forward_from_pre0,
                       &layer0_update,    &score_from_pre0,    &score_candidate,
                       &conv_forward_rows, &conv_forward_split, &conv_probe_new, &conv_probe_free,
                       &conv_probe_reset, &conv_probe_propose, &conv_probe_accept,
                       &conv_probe_check};

}  // namespace ND_ISA_NS
}  // namespace netdream
