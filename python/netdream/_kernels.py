"""Numba kernels of the regularisers (private; see netdream.regularizers).

Each regulariser has a full value on an ``(h, w)`` image and an O(1) delta:
the change of the value when pixel ``i`` (row-major) is set to ``new``. Both
are exposed to the C++ engines as C function pointers (``numba.cfunc``) with
the signatures

    double value(const double* img, int64 h, int64 w, const double* params)
    double delta(const double* img, int64 h, int64 w, int64 i, double new,
                 const double* params)

so the hill climber calls them without the GIL at native speed.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import types

VALUE_SIG = types.float64(types.CPointer(types.float64), types.int64, types.int64,
                          types.CPointer(types.float64))
DELTA_SIG = types.float64(types.CPointer(types.float64), types.int64, types.int64, types.int64,
                          types.float64, types.CPointer(types.float64))

_DIAG = 0.7
_NORM = 6.8


# --------------------------------------------------------------- smoothness
@numba.njit(cache=True, inline="always")
def _px(img, r, c, pr, pc, v):
    """img[r, c], reading v at (pr, pc)."""
    if r == pr and c == pc:
        return v
    return img[r, c]


@numba.njit(cache=True)
def _smooth_term(img, r, c, pr, pc, v):
    s = (_px(img, r - 1, c, pr, pc, v) + _px(img, r + 1, c, pr, pc, v)
         + _px(img, r, c - 1, pr, pc, v) + _px(img, r, c + 1, pr, pc, v))
    d = (_px(img, r - 1, c - 1, pr, pc, v) + _px(img, r - 1, c + 1, pr, pc, v)
         + _px(img, r + 1, c - 1, pr, pc, v) + _px(img, r + 1, c + 1, pr, pc, v))
    avg = (s + _DIAG * d) / _NORM
    e = avg - _px(img, r, c, pr, pc, v)
    return e * e


@numba.njit(cache=True)
def smoothness_value(img, params):
    """The seed's smoothness: sum over interior pixels of (avg - x)^2, avg the
    weighted mean of the 8 neighbours (1 for direct, 0.7 for diagonal, / 6.8)."""
    h, w = img.shape
    total = 0.0
    for r in range(1, h - 1):
        for c in range(1, w - 1):
            total += _smooth_term(img, r, c, -1, -1, 0.0)
    return total


def _smoothness_kernel():
    """K[u] = sum_q s[q, p] * s[q, p + u]: the 5x5 autocorrelation of the
    residual stencil s (e_q = avg_q - x_q = sum_v s[q, v] x_v)."""
    st = np.array([[_DIAG, 1.0, _DIAG], [1.0, -_NORM, 1.0], [_DIAG, 1.0, _DIAG]]) / _NORM
    k = np.zeros((5, 5))
    for dr in range(3):
        for dc in range(3):
            # q = p + (1 - dr, 1 - dc): s[q, p] = st[dr, dc]; s[q, v] = st[v - q + 1]
            k[2 - dr:5 - dr, 2 - dc:5 - dc] += st[dr, dc] * st
    return k, float(np.sum(st * st))


_SK, _SK2 = _smoothness_kernel()


@numba.njit(cache=True)
def smoothness_delta(img, pr, pc, new, params):
    """O(1): setting pixel p to new (a change d) changes the residual
    e_q = avg_q - x_q of p by -d and of each neighbour q by d * w_qp / 6.8;
    the sum of squares changes by sum_q delta_q (2 e_q + delta_q). Away from
    the border that is d * (2 K . x[p-2:p+3, p-2:p+3] + d * |s|^2) with K a
    fixed 5x5 kernel (25 reads instead of 81)."""
    h, w = img.shape
    d = new - img[pr, pc]
    if 2 <= pr < h - 2 and 2 <= pc < w - 2:
        acc = 0.0
        for i in range(5):
            for j in range(5):
                acc += _SK[i, j] * img[pr - 2 + i, pc - 2 + j]
        return d * (2.0 * acc + d * _SK2)
    total = 0.0
    for r in range(max(pr - 1, 1), min(pr + 2, h - 1)):
        for c in range(max(pc - 1, 1), min(pc + 2, w - 1)):
            direct = img[r - 1, c] + img[r + 1, c] + img[r, c - 1] + img[r, c + 1]
            diag = img[r - 1, c - 1] + img[r - 1, c + 1] + img[r + 1, c - 1] + img[r + 1, c + 1]
            e = (direct + _DIAG * diag) / _NORM - img[r, c]
            if r == pr and c == pc:
                dq = -d
            elif r == pr or c == pc:
                dq = d / _NORM
            else:
                dq = d * _DIAG / _NORM
            total += dq * (2.0 * e + dq)
    return total


# ---------------------------------------------------------- total variation
@numba.njit(cache=True)
def tv_value(img, params):
    """Anisotropic total variation: sum of |differences| of 4-neighbours."""
    h, w = img.shape
    total = 0.0
    for r in range(h):
        for c in range(w):
            if c + 1 < w:
                total += abs(img[r, c + 1] - img[r, c])
            if r + 1 < h:
                total += abs(img[r + 1, c] - img[r, c])
    return total


@numba.njit(cache=True)
def tv_delta(img, pr, pc, new, params):
    h, w = img.shape
    old = img[pr, pc]
    d = 0.0
    if pr > 0:
        d += abs(new - img[pr - 1, pc]) - abs(old - img[pr - 1, pc])
    if pr + 1 < h:
        d += abs(new - img[pr + 1, pc]) - abs(old - img[pr + 1, pc])
    if pc > 0:
        d += abs(new - img[pr, pc - 1]) - abs(old - img[pr, pc - 1])
    if pc + 1 < w:
        d += abs(new - img[pr, pc + 1]) - abs(old - img[pr, pc + 1])
    return d


# ----------------------------------------------------------------------- L2
@numba.njit(cache=True)
def l2_value(img, params):
    """Sum of squared pixel values (ink costs)."""
    return np.sum(img * img)


@numba.njit(cache=True)
def l2_delta(img, pr, pc, new, params):
    old = img[pr, pc]
    return new * new - old * old


# ----------------------------------------------------------------------- L1
@numba.njit(cache=True)
def l1_value(img, params):
    """Sum of absolute pixel values (ink costs, in proportion)."""
    return np.sum(np.abs(img))


@numba.njit(cache=True)
def l1_delta(img, pr, pc, new, params):
    return abs(new) - abs(img[pr, pc])


# ------------------------------------------------------------- C wrappers
def make_cfuncs(value, delta, n_params):
    """C-callable wrappers of a pair of njit kernels ``value(img2d, params)``
    and ``delta(img2d, row, col, new, params)``. A kernel that raises returns
    NaN through its wrapper (an exception cannot cross into C++); the engines
    stop on NaN and Python re-runs the kernel to raise its own error."""
    n_params = max(int(n_params), 1)

    @numba.cfunc(VALUE_SIG, nopython=True)
    def value_c(img_ptr, h, w, params_ptr):
        img = numba.carray(img_ptr, (h, w))
        params = numba.carray(params_ptr, (n_params,))
        try:
            return value(img, params)
        except Exception:
            return np.nan

    @numba.cfunc(DELTA_SIG, nopython=True)
    def delta_c(img_ptr, h, w, i, new, params_ptr):
        img = numba.carray(img_ptr, (h, w))
        params = numba.carray(params_ptr, (n_params,))
        try:
            return delta(img, i // w, i % w, new, params)
        except Exception:
            return np.nan

    return value_c, delta_c


# ------------------------------------------------- natural-image statistics
# params: [bins, norm, log q[0..bins), log r[0..bins)] where q is the pixel-
# value distribution and r the distribution of absolute differences between
# 4-neighbours, both over `bins` equal bins of [0, 1].
@numba.njit(cache=True, inline="always")
def _bin(v, bins):
    b = int(v * bins)
    return min(max(b, 0), bins - 1)


@numba.njit(cache=True)
def prior_value(img, params):
    """Mean negative log-likelihood of the pixel values and the absolute
    neighbour differences under the fitted histograms."""
    bins = int(params[0])
    norm = params[1]
    h, w = img.shape
    total = 0.0
    for r in range(h):
        for c in range(w):
            total -= params[2 + _bin(img[r, c], bins)]
            if c + 1 < w:
                total -= params[2 + bins + _bin(abs(img[r, c + 1] - img[r, c]), bins)]
            if r + 1 < h:
                total -= params[2 + bins + _bin(abs(img[r + 1, c] - img[r, c]), bins)]
    return total / norm


@numba.njit(cache=True)
def prior_delta(img, pr, pc, new, params):
    bins = int(params[0])
    norm = params[1]
    h, w = img.shape
    old = img[pr, pc]
    d = params[2 + _bin(old, bins)] - params[2 + _bin(new, bins)]
    for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        r = pr + dr
        c = pc + dc
        if 0 <= r < h and 0 <= c < w:
            v = img[r, c]
            d += (params[2 + bins + _bin(abs(old - v), bins)]
                  - params[2 + bins + _bin(abs(new - v), bins)])
    return d / norm


@numba.njit(cache=True)
def prior_histograms(images, bins):
    """Counts of pixel values and of absolute 4-neighbour differences."""
    q = np.zeros(bins)
    r = np.zeros(bins)
    n, h, w = images.shape
    for k in range(n):
        for i in range(h):
            for j in range(w):
                q[_bin(images[k, i, j], bins)] += 1
                if j + 1 < w:
                    r[_bin(abs(images[k, i, j + 1] - images[k, i, j]), bins)] += 1
                if i + 1 < h:
                    r[_bin(abs(images[k, i + 1, j] - images[k, i, j]), bins)] += 1
    return q, r


@numba.njit(cache=True, parallel=False)
def prior_batch(images, params):
    out = np.empty(images.shape[0])
    for k in range(images.shape[0]):
        out[k] = prior_value(images[k], params)
    return out


@numba.njit(cache=True)
def delta_gradient(delta, img, params, eps):
    """Central-difference gradient of a regulariser from its O(1) delta:
    (R(x + eps e_i) - R(x - eps e_i)) / 2 eps for every pixel i."""
    h, w = img.shape
    g = np.empty((h, w))
    for r in range(h):
        for c in range(w):
            v = img[r, c]
            g[r, c] = (delta(img, r, c, v + eps, params) - delta(img, r, c, v - eps, params)) / (2 * eps)
    return g
