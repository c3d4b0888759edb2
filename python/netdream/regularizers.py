"""Regularisers for the searches: priors on what an image should look like.

A regulariser is a weighted sum of terms, each ``weight * R(image)`` with a
full value and an O(1) single-pixel delta, both Numba kernels; the searches
subtract it from their score. The C++ hill climber calls the deltas for every
candidate without the GIL, through C function pointers. Regularisers add and
scale, as Lucent's objectives do::

    reg = regularizers.smoothness(1e-5) + 0.1 * priors.fit(train_images)
    netdream.hill_climb(net, 3, regularizer=reg)

Built in: :func:`smoothness` (the seed's), :func:`total_variation`,
:func:`l2`, :func:`l1` (a cost on ink). Your own: write two ``numba.njit`` functions and wrap them with
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

Images are in the public convention (row-major, ink high, [0, 1]). A kernel
that raises, or returns NaN or infinity, stops the search with its error.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _core, _kernels
from ._validation import check_real

__all__ = ["Regularizer", "smoothness", "total_variation", "l2", "l1", "default", "custom"]


class Regularizer:
    """A weighted regulariser: ``weight * R(image)``, with its Numba kernels.

    ``value``, ``delta`` and ``gradient`` give ``R`` without the weight;
    ``penalty`` and friends include it. ``a + b`` is a regulariser whose
    penalty is the sum of both; ``c * a`` scales the weight (of every term of a
    sum).
    """

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

    # ------------------------------------------------------------ pickling
    def __getstate__(self):
        """A regulariser pickles as its Numba kernels (by reference for
        netdream's own, by value for yours: Numba pickles njit functions) and
        its weight and params; the C wrappers the core calls are compiled
        again, on first use, where it is unpickled (e.g. on a Dask worker)."""
        state = self.__dict__.copy()
        state["_cfuncs"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)

    # ----------------------------------------------------------- combining
    @property
    def terms(self) -> list:
        """The single-term regularisers whose weighted values add up to this one."""
        return [self]

    def __repr__(self):
        return f"{self.name}(weight={self.weight:g})"

    def scaled(self, factor: float) -> "Regularizer":
        """The same regulariser with its weight multiplied by ``factor``."""
        factor = check_real(factor, "factor", low=0.0)
        r = object.__new__(type(self))
        r.__dict__.update(self.__dict__)
        r.weight = self.weight * factor
        return r

    def __mul__(self, factor):
        if isinstance(factor, bool) or not isinstance(factor, numbers.Real):
            return NotImplemented
        return self.scaled(factor)

    __rmul__ = __mul__

    def __add__(self, other):
        if not isinstance(other, Regularizer):
            return NotImplemented
        return Sum([*self.terms, *other.terms])

    # ------------------------------------------------------------- values
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

    def penalty(self, images):
        """The weighted penalty (what a search subtracts from its score) of one
        image or of each of (N, h, w)."""
        return sum(t.weight * t.value(images) for t in self.terms if t.weight)

    def penalty_gradient(self, image) -> np.ndarray:
        """The gradient of :meth:`penalty` for one (h, w) image."""
        x = np.asarray(image, dtype=np.float64)
        g = np.zeros_like(x)
        for t in self.terms:
            if t.weight:
                g += t.weight * t.gradient(x)
        return g

    # --------------------------------------------------------- for the core
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


class Sum(Regularizer):
    """The sum of several weighted regularisers (made by ``a + b``). Its
    ``value``, ``delta`` and ``gradient`` are the weighted sums (its own
    weight is 1)."""

    def __init__(self, terms):
        self._terms = list(terms)
        self.name = " + ".join(t.name for t in self._terms)
        self.weight = 1.0

    @property
    def terms(self) -> list:
        return list(self._terms)

    def __repr__(self):
        return " + ".join(repr(t) for t in self._terms)

    def scaled(self, factor: float) -> "Sum":
        return Sum([t.scaled(factor) for t in self._terms])

    def value(self, images):
        return self.penalty(images)

    def delta(self, image, index: int, new: float) -> float:
        return sum(t.weight * t.delta(image, index, new) for t in self._terms if t.weight)

    def gradient(self, image, eps: float = 1e-6) -> np.ndarray:
        return self.penalty_gradient(image)

    @property
    def addresses(self):
        raise AttributeError("a sum of regularisers has one pair of addresses per term: "
                             "use .terms")


# Compiled C wrappers, one pair per (value, delta, number of params): they
# stay alive here for as long as the process, so their addresses stay valid.
_CFUNCS: dict = {}


def core_terms(reg) -> list:
    """The core's RegTerm list for a regulariser (or None)."""
    if reg is None:
        return []
    out = []
    for t in reg.terms:
        if not t.weight:
            continue
        v, d = t.addresses
        out.append(_core.RegTerm(name=t.name, weight=t.weight, value=v, delta=d,
                                 params=t.params.tolist()))
    return out


def reraise(reg, err, shape) -> None:
    """Turn the core's RegularizerError into the term's own error: run the
    term's kernel on the (h, w) image it failed on, in Python, so that
    whatever it raises is raised here; if it merely returned NaN or infinity,
    say so."""
    terms = [t for t in reg.terms if t.weight]
    term = terms[err.term]
    img = np.asarray(err.image, dtype=np.float64).reshape(shape)
    where = "its value" if err.pixel < 0 else f"its delta at pixel {err.pixel} (new value {err.new_value:.6g})"
    try:
        if err.pixel < 0:
            result = term._value(img, term.params)
        else:
            r, c = divmod(int(err.pixel), img.shape[1])
            result = term._delta(img, r, c, float(err.new_value), term.params)
    except Exception as exc:
        if hasattr(exc, "add_note"):
            exc.add_note(f"raised by regularizer {term.name!r} ({where}) during a search")
        raise exc from None
    raise ValueError(f"regularizer {term.name!r} returned {result} for {where}: a "
                     "regulariser must return finite numbers; the search stopped") from None


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


def l1(weight: float = 1e-3) -> Regularizer:
    """Sum of pixel values: a cost on ink, in proportion to it. Unlike
    :func:`l2`, faint ink costs as much per unit as strong ink, so the pixels
    the network does not need fall back to background: the speckle a hill
    climb leaves where the objective is flat is gone, and the strokes stay.
    ``l1(3e-4)`` is part of the default dream (see :func:`default`)."""
    return Regularizer("l1", _kernels.l1_value, _kernels.l1_delta, weight)


def default() -> Regularizer:
    """The regulariser of the default dream (``netdream dream``, the report):
    ``total_variation(3e-4) + l1(3e-4)``: a cost on ink and on its edges,
    so what remains are the strokes the network needs, joined up. On the shipped model, dreams made with
    it are read as their class by independent networks (see
    :mod:`netdream.judges` and the model card). ``hill_climb`` itself runs
    the raw search unless given a regulariser."""
    return total_variation(3e-4) + l1(3e-4)


def custom(value, delta, weight: float = 1.0, params=None, name: str = "custom") -> Regularizer:
    """Your own regulariser from two ``numba.njit`` functions:
    ``value(img, params) -> float`` on a (h, w) float64 image and
    ``delta(img, row, col, new, params) -> float``, the change of ``value``
    when pixel (row, col) becomes ``new``. ``params`` is a float64 vector."""
    return Regularizer(name, value, delta, weight, params)
