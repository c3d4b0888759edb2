"""Principal components of digit images ("eigendigits") and the seed's
baseline classifier: project onto a few of them, pick the nearest class mean.

Images are taken in the package's convention (``(N, 28, 28)``, uint8 0..255
or float 0..1, ink high) and analysed as float64 vectors of 784 values in
[0, 1], row-major; other sizes and colour images ``(N, 3, H, W)`` alike
(the components then have their shape). Everything here is deterministic:
the components come from an exact symmetric eigendecomposition (no
randomised SVD), so no ``seed`` is needed: of the covariance matrix for
images of at most 4,096 values, of the images' Gram matrix for larger ones
(then from at most :func:`max_images` images).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

from ._validation import as_images, check_int

__all__ = ["eigendigits", "Eigendigits", "PCAClassifier", "max_images"]


#: The most values an image may have for the covariance route: the
#: covariance matrix is that squared (4,096: 134 MB in float64, and a few
#: seconds' eigendecomposition). Larger images go through their Gram matrix.
MAX_VALUES = 4096
#: Larger images: the most values of all the images together (2 GiB in float64).
MAX_GRAM_VALUES = 1 << 28


def max_images(values: int) -> int | None:
    """The most images principal components are computed from here for
    images of ``values`` values each: None (any number) up to
    :data:`MAX_VALUES`; above, the Gram matrix's side, at most 4,096 and
    :data:`MAX_GRAM_VALUES` values in all."""
    return None if values <= MAX_VALUES else min(MAX_VALUES, MAX_GRAM_VALUES // values)


def _vectors(images, name: str = "images", shape=None) -> tuple[np.ndarray, tuple[int, ...]]:
    """Validated images -> (N, H*W) float64 in [0, 1] (colour: (N, 3*H*W)).
    Their shape is ``shape``, else the array's: (N, H, W) grey or (N, 3, H,
    W) colour."""
    if shape is None:
        nd = np.ndim(images)
        shape = np.shape(images)[1:] if nd in (3, 4) else (28, 28)
    x, _ = as_images(images, name=name, shape=shape, keep_float64=True)
    values = int(np.prod(x.shape[1:]))
    most = max_images(values)
    if most is not None and x.shape[0] > most:
        size = "x".join(map(str, x.shape[1:]))
        if most < 2:
            raise ValueError(f"{name}: images of {size} = {values:,} values are too large for "
                             "principal components here")
        raise ValueError(f"{name}: principal components of images of {size} = {values:,} values "
                         f"come from at most {most:,} images here (the Gram matrix of the "
                         f"images), got {x.shape[0]:,}; pass a subset")
    v = x.reshape(x.shape[0], -1).astype(np.float64)
    if x.dtype == np.uint8:
        v /= 255.0
    return v, x.shape[1:]


@dataclass
class Eigendigits:
    """The first ``k`` principal components of a set of images.

    ``components``: (k, 28, 28) float64, orthonormal as 784-vectors
    (``sum(components[i] * components[j]) == (i == j)``), in order of
    decreasing variance, each with its largest-magnitude pixel positive (the
    sign of a component is otherwise arbitrary). ``mean``: (28, 28), the mean
    image in [0, 1]. ``explained_variance``: (k,), the variance of the images
    along each component (pixel values in [0, 1], divided by ``N - 1``);
    ``explained_variance_ratio``: the same as a fraction of the total
    variance.
    """

    components: np.ndarray
    mean: np.ndarray
    explained_variance: np.ndarray
    explained_variance_ratio: np.ndarray
    n_samples: int = field(default=0, repr=False)

    @property
    def k(self) -> int:
        return len(self.components)

    def __repr__(self) -> str:
        return (f"Eigendigits(k={self.k}, n_samples={self.n_samples}, explained variance "
                f"{100 * self.explained_variance_ratio.sum():.1f}%)")

    def transform(self, images) -> np.ndarray:
        """Coordinates of ``images`` on the components: (N, k) float64 (one
        image gives (k,))."""
        v, single = self._flat(images)
        codes = (v - self.mean.ravel()) @ self.components.reshape(self.k, -1).T
        return codes[0] if single else codes

    def inverse_transform(self, codes) -> np.ndarray:
        """Images (N, 28, 28) float64 from coordinates (N, k): ``mean +
        codes @ components``. The values are not clipped to [0, 1]."""
        c = np.asarray(codes, dtype=np.float64)
        single = c.ndim == 1
        if single:
            c = c[None]
        if c.ndim != 2 or c.shape[1] != self.k:
            raise ValueError(f"codes must have shape ({self.k},) or (N, {self.k}), got "
                             f"{np.shape(codes)}")
        if not np.all(np.isfinite(c)):
            raise ValueError("codes contains NaN or infinite values")
        out = self.mean.ravel() + c @ self.components.reshape(self.k, -1)
        out = out.reshape(-1, *self.mean.shape)
        return out[0] if single else out

    def reconstruct(self, images) -> np.ndarray:
        """Project ``images`` onto the components and back: (N, 28, 28) float64."""
        return self.inverse_transform(self.transform(images))

    def _flat(self, images):
        x, single = as_images(images, shape=self.mean.shape, keep_float64=True)
        v = x.reshape(x.shape[0], -1).astype(np.float64)
        if x.dtype == np.uint8:
            v /= 255.0
        return v, single

    def grid_image(self, n: int = 16, **kwargs):
        """The first ``n`` components drawn with the diverging map (colour
        components in colour: grey is zero, each on its own scale; see
        :func:`netdream.images.signed_colour`), labelled with their share
        of the variance."""
        from .images import grid_image, signed_colour
        n = min(check_int(n, "n", 1), self.k)
        kwargs.setdefault("labels", [f"{i + 1}: {100 * r:.1f}%"
                                     for i, r in enumerate(self.explained_variance_ratio[:n])])
        comps = self.components[:n]
        if comps.ndim == 4 and comps.shape[1] == 3:
            return grid_image(signed_colour(comps, each=True), **kwargs)
        kwargs.setdefault("cmap", "diverging")
        return grid_image(comps, **kwargs)

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.grid_image().save(buf, format="PNG")
        return buf.getvalue()


def eigendigits(images, k: int = 10) -> Eigendigits:
    """The ``k`` leading principal components of ``images``.

    Parameters
    ----------
    images : (N, 28, 28), uint8 0..255 or float 0..1, ink high; N >= 2
        (other sizes (N, H, W) and colour (N, 3, H, W) alike; images of
        more than 4,096 values: at most :func:`max_images` of them)
    k : int, default 10
        Number of components, 1..784 (the number of values per image; for
        images of more than 4,096 values, at most N - 1).

    Returns
    -------
    Eigendigits
        ``components`` (k, 28, 28), ``mean`` (28, 28),
        ``explained_variance_ratio`` (k,) and ``explained_variance`` (k,);
        ``transform``/``inverse_transform``/``reconstruct`` map between images
        and coordinates.

    Notes
    -----
    Computed from the 784x784 covariance matrix of the centred images with
    ``numpy.linalg.eigh`` (float64): for N much larger than 784 this is far
    cheaper than an SVD of the N x 784 data and gives the same components.
    Where eigenvalues repeat (e.g. directions of zero variance, like the
    always-blank corner pixels of MNIST) the components within that
    eigenspace are one valid orthonormal choice among many. Images of more
    than 4,096 values (e.g. colour 64x64) go through the N x N Gram matrix
    of the centred images instead, whose eigenvectors u give the same
    components, C^T u normalised: exact, for up to :func:`max_images`
    images.
    """
    v, shape = _vectors(images)
    return _eigendigits(v, shape, check_int(k, "k", 1))


def _eigendigits(v: np.ndarray, shape, k: int, gram: bool | None = None) -> Eigendigits:
    n, d = v.shape
    if k > d:
        raise ValueError(f"k must be at most {d} (the number of pixels), got {k}")
    if n < 2:
        raise ValueError(f"images: need at least 2 images for principal components, got {n}")
    mean = v.mean(axis=0)
    c = v - mean
    if gram is None:
        gram = d > MAX_VALUES
    if gram:
        # the eigenvectors u of C C^T (n x n) give those of C^T C: C^T u,
        # with the same eigenvalues; the centred images span at most n - 1
        if k > n - 1:
            raise ValueError(f"k must be at most {n - 1} (one less than the number of images) "
                             f"for images of more than {MAX_VALUES:,} values, got {k}")
        values, u = np.linalg.eigh(c @ c.T)  # ascending
        values, u = values[::-1][:k], u[:, ::-1][:, :k]
        comps = (c.T @ u).T
        norms = np.linalg.norm(comps, axis=1)
        if not np.all(norms > 1e-9 * max(float(norms[0]), 1e-300)):
            raise ValueError(f"images: they vary in fewer than {k} directions; ask for fewer "
                             "components (k)")
        comps /= norms[:, None]
        values = np.clip(values, 0.0, None) / (n - 1)
        total = float(np.einsum("ij,ij->", c, c)) / (n - 1)
    else:
        cov = (c.T @ c) / (n - 1)
        values, vectors = np.linalg.eigh(cov)  # ascending
        values = np.clip(values[::-1][:k], 0.0, None)  # rounding can leave tiny negatives
        comps = vectors[:, ::-1][:, :k].T.copy()
        total = float(np.trace(cov))
    # fix the arbitrary sign: the largest-magnitude entry of each component positive
    big = np.argmax(np.abs(comps), axis=1)
    comps *= np.where(comps[np.arange(k), big] < 0, -1.0, 1.0)[:, None]
    ratio = values / total if total > 0 else np.zeros(k)
    return Eigendigits(comps.reshape(k, *shape), mean.reshape(shape), values, ratio, n)


def _labels(labels, n: int) -> np.ndarray:
    y = np.asarray(labels)
    if y.dtype.kind not in "iu":
        raise TypeError(f"labels must be integers, got dtype {y.dtype}")
    if y.shape != (n,):
        raise ValueError(f"labels must have shape ({n},) to match images, got {y.shape}")
    return y


class PCAClassifier:
    """The seed's PCA baseline: nearest class centroid among the ``n_components``
    leading principal components.

    ``fit(images, labels)`` computes :func:`eigendigits` of the training
    images, projects them, and keeps each class's mean coordinates;
    ``predict(images)`` projects and returns the class whose mean is nearest
    (Euclidean; ties go to the smaller label). Deterministic, no randomness.

    Attributes after fitting: ``pca_`` (:class:`Eigendigits`), ``classes_``
    (the sorted labels seen), ``centroids_`` (n_classes, n_components).
    """

    def __init__(self, n_components: int = 10):
        self.n_components = n_components

    def get_params(self, deep: bool = True) -> dict:
        return {"n_components": self.n_components}

    def set_params(self, **params) -> "PCAClassifier":
        for key, value in params.items():
            if key != "n_components":
                raise ValueError(f"invalid parameter {key!r} for PCAClassifier")
            self.n_components = value
        return self

    def __repr__(self) -> str:
        return f"PCAClassifier(n_components={self.n_components!r})"

    def fit(self, images, labels) -> "PCAClassifier":
        k = check_int(self.n_components, "n_components", 1)
        v, shape = _vectors(images)
        y = _labels(labels, v.shape[0])
        return self._fit(_eigendigits(v, shape, k), v, y)

    def _fit_with(self, pca: Eigendigits, images, labels) -> "PCAClassifier":
        """fit, with ``pca`` already computed by :func:`eigendigits` from these
        images with ``n_components`` components (the report's eigen-images:
        not computed twice)."""
        v, _ = _vectors(images)
        if pca.components.shape[0] != self.n_components or pca.mean.size != v.shape[1]:
            raise ValueError("pca must have n_components components of these images")
        return self._fit(pca, v, _labels(labels, v.shape[0]))

    def _fit(self, pca: Eigendigits, v: np.ndarray, y: np.ndarray) -> "PCAClassifier":
        k = pca.components.shape[0]
        codes = (v - pca.mean.ravel()) @ pca.components.reshape(k, -1).T
        classes, inverse = np.unique(y, return_inverse=True)
        sums = np.zeros((classes.size, k))
        np.add.at(sums, inverse, codes)
        self.pca_ = pca
        self.classes_ = classes
        self.centroids_ = sums / np.bincount(inverse)[:, None]
        return self

    def _check_fitted(self):
        if not hasattr(self, "centroids_"):
            raise ValueError("this PCAClassifier is not fitted yet; call fit(images, labels) first")

    def transform(self, images) -> np.ndarray:
        """Coordinates on the components, (N, n_components)."""
        self._check_fitted()
        return self.pca_.transform(images)

    def predict(self, images) -> np.ndarray:
        """The nearest centroid's class for each image, (N,) (a scalar for one)."""
        self._check_fitted()
        codes = self.pca_.transform(images)
        single = codes.ndim == 1
        codes = np.atleast_2d(codes)
        # |x - c|^2 = |x|^2 - 2 x.c + |c|^2; |x|^2 is the same for every class
        dist = (self.centroids_ ** 2).sum(axis=1) - 2.0 * codes @ self.centroids_.T
        pred = self.classes_[np.argmin(dist, axis=1)]
        return pred[0] if single else pred

    def score(self, images, labels) -> float:
        """Accuracy on ``images`` with ``labels``."""
        pred = np.atleast_1d(self.predict(images))
        y = np.asarray(labels).reshape(-1)
        if y.shape != pred.shape:
            raise ValueError(f"labels must have shape {pred.shape} to match images, got "
                             f"{np.shape(labels)}")
        return float(np.mean(pred == y)) if y.size else float("nan")
