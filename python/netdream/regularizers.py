"""Regularisers for the searches: priors on what an image should look like.

A regulariser has a full value ``R(image)`` and an O(1) delta (the change of
``R`` when one pixel changes), both Numba kernels. The C++ hill climber calls
the delta for every candidate without the GIL, through a C function pointer.

Built in: :func:`smoothness` (the seed's), :func:`total_variation`,
:func:`l2`. Your own: write two ``numba.njit`` functions and wrap them with
:func:`custom`::

    @numba.njit
    def value(img, params):            # img: (28, 28) float64, params: float64[:]
        return ((img - params[0]) ** 2).sum()

    @numba.njit
    def delta(img, row, col, new, params):
        old = img[row, col]
        return (new - params[0]) ** 2 - (old - params[0]) ** 2

    reg = netdream.regularizers.custom(value, delta, weight=1e-3, params=[0.5])
    netdream.hill_climb(net, 3, regularizer=reg)

Images are in the public convention (row-major, ink high, [0, 1]).
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _kernels

__all__ = ["Regularizer", "smoothness", "total_variation", "l2", "custom"]


class Regularizer:
    """A weighted regulariser: ``weight * R(image)``, with its Numba kernels."""

    def __init__(self, name, value, delta, weight=1.0, params=None):
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real):
            raise TypeError(f"weight must be a number, got {type(weight).__name__}")
        if not np.isfinite(weight) or weight < 0:
            raise ValueError(f"weight must be finite and >= 0, got {weight}")
        for fn, what in ((value, "value"), (delta, "delta")):
            if not hasattr(fn, "py_func"):
                raise TypeError(f"{what} must be a numba.njit function, got {type(fn).__name__}")
        self.name = str(name)
        self.weight = float(weight)
        p = np.zeros(1) if params is None else np.array(params, dtype=np.float64).ravel()
        if p.size == 0:
            p = np.zeros(1)
        if not np.all(np.isfinite(p)):
            raise ValueError("params contains NaN or infinite values")
        self.params = p
        self._value = value
        self._delta = delta
        self._cfuncs = None

    def __repr__(self):
        return f"{self.name}(weight={self.weight:g})"

    def scaled(self, factor: float) -> "Regularizer":
        """The same regulariser with its weight multiplied by ``factor``."""
        r = Regularizer(self.name, self._value, self._delta, self.weight * factor, self.params)
        r._cfuncs = self._cfuncs
        return r

    def value(self, images) -> np.ndarray | float:
        """``R`` (without the weight) of one (h, w) image or of each of (N, h, w)."""
        x = np.asarray(images, dtype=np.float64)
        if x.ndim == 2:
            return float(self._value(np.ascontiguousarray(x), self.params))
        if x.ndim != 3:
            raise ValueError(f"images must have shape (h, w) or (N, h, w), got {x.shape}")
        return np.array([self._value(np.ascontiguousarray(im), self.params) for im in x])

    def delta(self, image, index: int, new: float) -> float:
        """Change of ``R`` when pixel ``index`` (row-major) of ``image`` becomes ``new``."""
        x = np.ascontiguousarray(image, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"image must have shape (h, w), got {x.shape}")
        r, c = divmod(int(index), x.shape[1])
        return float(self._delta(x, r, c, float(new), self.params))

    def gradient(self, image, eps: float = 1e-6) -> np.ndarray:
        """dR/dx of one (h, w) image (without the weight), by central
        differences of the O(1) delta (exact for quadratic regularisers)."""
        x = np.ascontiguousarray(image, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"image must have shape (h, w), got {x.shape}")
        return _kernels.delta_gradient(self._delta, x, self.params, float(eps))

    @property
    def addresses(self) -> tuple[int, int]:
        """C addresses of the (value, delta) cfuncs, compiled on first use."""
        if self._cfuncs is None:
            key = (self._value, self._delta, self.params.size)
            if key not in _CFUNCS:
                _CFUNCS[key] = _kernels.make_cfuncs(self._value, self._delta, self.params.size)
            self._cfuncs = _CFUNCS[key]
        v, d = self._cfuncs
        return v.address, d.address


# Compiled C wrappers, one pair per (value, delta, number of params): they
# stay alive here for as long as the process, so their addresses stay valid.
_CFUNCS: dict = {}


def smoothness(weight: float = 1e-5) -> Regularizer:
    """The seed's smoothness prior: ``sum over interior pixels (avg - x)^2``
    with ``avg`` the weighted mean of the 8 neighbours (1 for the 4 direct,
    0.7 for the diagonals, divided by 6.8)."""
    return Regularizer("smoothness", _kernels.smoothness_value, _kernels.smoothness_delta, weight)


def total_variation(weight: float = 1e-3) -> Regularizer:
    """Anisotropic total variation: ``sum |x[r,c+1]-x[r,c]| + |x[r+1,c]-x[r,c]|``."""
    return Regularizer("total_variation", _kernels.tv_value, _kernels.tv_delta, weight)


def l2(weight: float = 1e-3) -> Regularizer:
    """Sum of squared pixel values: a cost on ink."""
    return Regularizer("l2", _kernels.l2_value, _kernels.l2_delta, weight)


def custom(value, delta, weight: float = 1.0, params=None, name: str = "custom") -> Regularizer:
    """Your own regulariser from two ``numba.njit`` functions:
    ``value(img, params) -> float`` on a (h, w) float64 image and
    ``delta(img, row, col, new, params) -> float``, the change of ``value``
    when pixel (row, col) becomes ``new``. ``params`` is a float64 vector."""
    return Regularizer(name, value, delta, weight, params)
