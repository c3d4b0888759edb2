"""Priors on natural-image statistics, learnt from real digits.

:func:`fit` learns two histograms from real images: the distribution of
pixel values, and the distribution of absolute differences between
neighbouring pixels along rows and columns (a variogram-like statistic at lag
one). The prior's value on an image is the mean negative log-likelihood of
its pixels and neighbour differences under them: low for images with digit-
like statistics (mostly background, some ink, smooth strokes), high for noise.

A :class:`Prior` is a :class:`netdream.regularizers.Regularizer`, so it has a
full value, a batch value for a whole population, and an O(1) single-pixel
delta; the genetic search and the hill climber both use it::

    prior = netdream.priors.fit(train_images, weight=0.05)
    netdream.evolve(net, 3, prior=prior, init="prior", mutation="resample")
    netdream.hill_climb(net, 3, regularizer=prior)
"""

from __future__ import annotations

import numpy as np

from . import _kernels
from ._validation import as_images, check_int
from .regularizers import Regularizer

__all__ = ["Prior", "fit"]


class Prior(Regularizer):
    """Fitted pixel-value and neighbour-difference histograms (see :func:`fit`)."""

    def __init__(self, pixel_hist, diff_hist, weight=1.0, shape=(28, 28)):
        pixel_hist = np.asarray(pixel_hist, dtype=np.float64)
        diff_hist = np.asarray(diff_hist, dtype=np.float64)
        if pixel_hist.ndim != 1 or pixel_hist.shape != diff_hist.shape or pixel_hist.size < 2:
            raise ValueError("pixel_hist and diff_hist must be 1-D with the same number of bins (>= 2)")
        if np.any(pixel_hist <= 0) or np.any(diff_hist <= 0) or not (
                np.all(np.isfinite(pixel_hist)) and np.all(np.isfinite(diff_hist))):
            raise ValueError("histogram probabilities must be finite and positive")
        self.pixel_hist = pixel_hist / pixel_hist.sum()
        self.diff_hist = diff_hist / diff_hist.sum()
        self.bins = pixel_hist.size
        h, w = shape
        norm = h * w + h * (w - 1) + (h - 1) * w
        params = np.concatenate([[self.bins, norm], np.log(self.pixel_hist), np.log(self.diff_hist)])
        super().__init__("prior", _kernels.prior_value, _kernels.prior_delta, weight, params)

    @property
    def cdf(self) -> np.ndarray:
        """Cumulative pixel-value distribution, ``bins + 1`` values from 0 to 1."""
        return np.concatenate([[0.0], np.cumsum(self.pixel_hist)])

    def value(self, images):
        """Mean negative log-likelihood of one image or of each of (N, 28, 28)."""
        x = np.asarray(images, dtype=np.float64)
        if x.ndim == 3:
            return _kernels.prior_batch(np.ascontiguousarray(x), self.params)
        return super().value(x)

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` images with independent pixels drawn from the pixel histogram."""
        n = check_int(n, "n", 1)
        rng = np.random.default_rng(seed)
        b = rng.choice(self.bins, size=(n, 28, 28), p=self.pixel_hist)
        return ((b + rng.random(b.shape)) / self.bins).astype(np.float32)

    def __repr__(self):
        return f"Prior(bins={self.bins}, weight={self.weight:g})"


def fit(images, *, bins: int = 16, weight: float = 1.0, smoothing: float = 1.0) -> Prior:
    """Learn a :class:`Prior` from real images (``(N, 28, 28)``, public convention).

    ``bins`` equal bins of [0, 1] for both histograms; ``smoothing`` is added
    to every count (Laplace) so no value is impossible; ``weight`` is the
    prior's weight in a search's objective.
    """
    x, _ = as_images(images)
    bins = check_int(bins, "bins", 2)
    if not smoothing > 0:
        raise ValueError(f"smoothing must be > 0, got {smoothing!r}")
    x = x.astype(np.float64) / 255.0 if x.dtype == np.uint8 else x.astype(np.float64)
    q, r = _kernels.prior_histograms(x, bins)
    return Prior(q + smoothing, r + smoothing, weight)
