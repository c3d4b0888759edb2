"""Looking inside a network: receptive fields, activations, distinctive
neurons, the weights of a network without hidden layers, and its mistakes.

Layers are numbered like ``net.weights``: layer ``l`` is the units computed
by ``weights[l]``, so layer 0 is the first hidden layer and layer
``len(net.weights) - 1`` is the output layer (for a network without hidden
layers, layer 0 *is* the output layer). Every function works for any depth.

Maps of weights are in image orientation (row, column) with their sign
relative to ink, like :func:`netdream.causal_index`: a positive value means
more ink at that pixel raises the unit's input. Drawn with the package's
diverging map (:func:`netdream.images.grid_image`), positive is red and
negative blue.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

from ._validation import (as_images, as_unit_float, check_int, check_labels, check_mlp, check_net,
                          check_path, unit_float)
from .causal import path_product

__all__ = ["activations", "forward64", "receptive_fields", "ReceptiveFields", "compare_activations",
           "ActivationComparison", "LayerComparison", "distinctive_neurons",
           "DistinctiveNeurons", "weight_images", "misclassified", "Misclassified",
           "save_misclassified", "feature_maps", "FeatureMaps"]

_MAX_DRAWN = 32  # cells drawn by the Jupyter previews


def _check_layer(net, layer) -> int:
    layer = check_int(layer, "layer", 0)
    n = len(net.layers)
    if layer >= n:
        raise ValueError(f"layer must lie in 0..{n - 1} (layer {n - 1} is the output layer), "
                         f"got {layer}")
    return layer


def _png(im) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


# --------------------------------------------------------------------------
# Activations: the one double-precision forward pass
# --------------------------------------------------------------------------

def activations(net, images) -> list[np.ndarray]:
    """Every layer's activations for ``images``, in double precision: a list
    with one float64 array per layer of ``net.layers``, the hidden layers
    first and the output (its activation applied, e.g. softmax
    probabilities) last; (N, width) for a dense layer or a flatten, (N, C,
    H, W) for a convolution or pooling layer. Computed by the core's one
    float64 forward pass."""
    net = check_net(net)
    x, _ = as_unit_float(images, shape=net.image_shape)
    n = x.shape[0]
    _, post = net.core.forward64(np.ascontiguousarray(x.reshape(n, -1)))
    return [a.reshape(n, *shape) for a, shape in zip(post, net.layer_shapes)]


def forward64(net, images) -> np.ndarray:
    """The output of ``net`` in double precision (the reference for the
    compiled float32 forward pass): (N, K) float64."""
    return activations(net, images)[-1]


# --------------------------------------------------------------------------
# Receptive fields and their focus
# --------------------------------------------------------------------------

@dataclass
class ReceptiveFields:
    """What each unit of one layer looks at, as images.

    ``images``: (n_units, H, W) float64, the unit's (path-summed) weights on
    the pixels, in image orientation, sign relative to ink. ``focus``:
    (n_units,) in [0, 1], the fraction of the unit's absolute weight mass
    inside its best-placed ``window`` x ``window`` square (see
    :func:`receptive_fields`). ``window_origin``: (n_units, 2), the (row,
    column) of that square's top-left pixel.
    """

    images: np.ndarray
    focus: np.ndarray
    window_origin: np.ndarray
    layer: int
    window: int

    def __repr__(self) -> str:
        f = self.focus
        return (f"ReceptiveFields(layer={self.layer}, units={len(self.images)}, "
                f"window={self.window}, focus min/median/max="
                f"{f.min():.3f}/{np.median(f):.3f}/{f.max():.3f})")

    def most_focused(self, n: int | None = None) -> np.ndarray:
        """Unit indices by focus, highest first (ties: lower index first);
        the first ``n`` of them, or all."""
        order = np.argsort(-self.focus, kind="stable")
        if n is None:
            return order
        return order[:check_int(n, "n", 0)]

    def grid_image(self, units=None, **kwargs):
        """Draw the fields of ``units`` (default: the 32 most focused) with the
        diverging map, labelled ``unit: focus``. Keyword arguments go to
        :func:`netdream.images.grid_image`."""
        from .images import grid_image
        idx = self.most_focused(_MAX_DRAWN) if units is None else _check_indices(
            units, len(self.images), "units")
        kwargs.setdefault("cmap", "diverging")
        kwargs.setdefault("labels", [f"{j}: {self.focus[j]:.2f}" for j in idx])
        return grid_image(self.images[idx], **kwargs)

    def _repr_png_(self) -> bytes:
        return _png(self.grid_image())


def _check_indices(idx, n: int, name: str) -> np.ndarray:
    arr = np.asarray(idx)
    if arr.dtype.kind not in "iu" or arr.ndim != 1 or arr.size == 0:
        raise TypeError(f"{name} must be a non-empty 1-D sequence of integers, got {idx!r}")
    if arr.min() < 0 or arr.max() >= n:
        raise ValueError(f"{name} must lie in 0..{n - 1}, got values in [{arr.min()}, {arr.max()}]")
    return arr.astype(np.int64)


def _focus(maps, window: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Focus of maps (N, H, W): ``(focus, window_origin)``; see
    :func:`receptive_fields`. All-zero maps score 0 with origin (0, 0)."""
    a = np.abs(np.asarray(maps, dtype=np.float64))
    n, h, w = a.shape
    # integral image with a zero first row and column: box sums in O(1)
    s = np.zeros((n, h + 1, w + 1))
    s[:, 1:, 1:] = a.cumsum(axis=1).cumsum(axis=2)
    k = window
    boxes = s[:, k:, k:] - s[:, :-k, k:] - s[:, k:, :-k] + s[:, :-k, :-k]
    flat = boxes.reshape(n, -1)
    best = flat.argmax(axis=1)
    top = flat[np.arange(n), best]
    total = a.reshape(n, -1).sum(axis=1)
    focus = np.divide(top, total, out=np.zeros(n), where=total > 0)
    focus = np.clip(focus, 0.0, 1.0)  # rounding in the running sums
    origin = np.stack(np.unravel_index(best, boxes.shape[1:]), axis=1).astype(np.int64)
    origin[total == 0] = 0
    return focus, origin


def receptive_fields(net, layer: int = 0, *, window: int = 7) -> ReceptiveFields:
    """The receptive field of every unit of ``layer``, and how focused it is.

    Parameters
    ----------
    net : MLP
    layer : int, default 0
        0 is the first hidden layer; ``len(net.weights) - 1`` the output layer.
        For layer 0 the field of unit ``j`` is its incoming weight row
        ``weights[0][j]``. For a deeper layer it is the *linear path sum*
        ``(W[layer] @ ... @ W[1] @ W[0])[j]``: the sum over every path from a
        pixel to the unit of the product of the weights along it, ignoring
        activations and biases (for the output layer this is
        :func:`netdream.causal_index`).
    window : int, default 7
        Side of the square used by the focus score.

    Returns
    -------
    ReceptiveFields
        ``images`` (n_units, 28, 28) float64: the fields in image orientation
        (row, column) with the sign relative to ink (flipped for a model whose
        encoding puts ink low); the magnitude is not rescaled by the encoding's
        span. ``focus`` and ``window_origin`` as defined below;
        ``most_focused(n)`` ranks the units.

    Notes
    -----
    **Focus.** With ``m = |field|`` (absolute weights, so excitatory and
    inhibitory weights both count as "looking"), the focus of a unit is

        focus = max over window positions P of  sum(m in P) / sum(m),

    where P ranges over the ``window`` x ``window`` squares lying wholly inside
    the image. It lies in [0, 1]: 1 when all the weight sits within one
    7x7 square (a local feature detector), ``1/n`` for ``n`` equal blobs far
    apart, and ``window**2 / 784`` (0.0625 for 7x7) for weight spread evenly
    over the image. It does not change when the field is moved (as long as the
    mass stays inside the image) or scaled, nor when its sign is flipped. A
    unit with no weight at all scores 0.
    """
    from .causal import _INSTEAD
    net = check_mlp(net, "receptive_fields (weight paths from pixels to a unit)", _INSTEAD)
    layer = _check_layer(net, layer)
    h, w = net.image_shape
    window = check_int(window, "window", 1)
    if window > min(h, w):
        raise ValueError(f"window must be at most {min(h, w)} (the image side), got {window}")
    m = path_product(net, layer) * np.sign(net.encoding.scale)
    images = np.ascontiguousarray(net.encoding.to_image_order(m, net.image_shape), dtype=np.float64)
    focus, origin = _focus(images, window)
    return ReceptiveFields(images, focus, origin, layer, window)


def weight_images(net) -> np.ndarray:
    """The weights of a network without hidden layers (multinomial logistic
    regression, as in the TensorFlow MNIST tutorial) as images.

    Returns ``(K, 28, 28)`` float64: ``weights[0][k]`` in image orientation,
    sign relative to ink (a positive weight: ink there is evidence *for*
    class ``k``). Draw them as the TensorFlow notebook does, blue positive and
    red negative: ``netdream.images.save_grid(weight_images(net), "w.png",
    cmap="diverging_r")`` (``cmap="diverging"`` is the package's usual map,
    red positive). For a network with hidden layers use
    :func:`receptive_fields` or :func:`netdream.causal_index`.
    """
    net = check_mlp(net, "weight_images", "feature_maps(net, image, layer) for the filters")
    n_hidden = len(net.weights) - 1
    if n_hidden:
        raise ValueError(f"net has {n_hidden} hidden layer{'s' if n_hidden > 1 else ''}; "
                         "weight_images needs a network without hidden layers (use "
                         "receptive_fields(net, layer) or causal_index(net))")
    return receptive_fields(net, 0).images


# --------------------------------------------------------------------------
# Activations of a real image and an ideal one
# --------------------------------------------------------------------------

@dataclass
class LayerComparison:
    """One layer of :class:`ActivationComparison`.

    ``real``, ``ideal``, ``difference = ideal - real``: (width,) float64.
    ``correlation``: Pearson correlation of ``real`` and ``ideal`` across the
    layer's units (NaN when either is constant, e.g. a layer of one unit).
    ``most_different``: unit indices by ``|difference|``, largest first.
    """

    layer: int
    real: np.ndarray
    ideal: np.ndarray
    difference: np.ndarray
    correlation: float
    most_different: np.ndarray


@dataclass
class ActivationComparison:
    """Per layer (hidden layers first, output last), the activations of a real
    image and an ideal one. Index it by layer: ``cmp[0]``, ``cmp[-1]``."""

    layers: list
    real_image: np.ndarray = field(repr=False)
    ideal_image: np.ndarray = field(repr=False)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, layer) -> LayerComparison:
        return self.layers[layer]

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self) -> str:
        parts = ", ".join(f"{c.layer}: r={c.correlation:.3f}" for c in self.layers)
        return f"ActivationComparison({parts})"

    def _repr_html_(self) -> str:
        rows = []
        for c in self.layers:
            units = ", ".join(f"{j} ({c.real[j]:.3g} &rarr; {c.ideal[j]:.3g})"
                              for j in c.most_different)
            rows.append(f"<tr><td>{c.layer}</td><td>{c.real.size}</td>"
                        f"<td>{c.correlation:.3f}</td><td>{units}</td></tr>")
        return ("<b>activations, real &rarr; ideal</b><table><tr><th>layer</th><th>units</th>"
                "<th>correlation</th><th>most different units (real &rarr; ideal)</th></tr>"
                + "".join(rows) + "</table>")


def _one_image(image, name: str, shape):
    x, _ = as_images(image, name=name, shape=shape, keep_float64=True)
    if x.shape[0] != 1:
        raise ValueError(f"{name} must be one image {tuple(shape)}, got {x.shape[0]} images")
    return x


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    da, db = a - a.mean(), b - b.mean()
    den = np.sqrt((da @ da) * (db @ db))
    return float(np.clip((da @ db) / den, -1.0, 1.0)) if den > 0 else float("nan")


def compare_activations(net, real, ideal, *, top: int = 5) -> ActivationComparison:
    """Compare what every layer computes for a real image and an ideal one.

    Parameters
    ----------
    net : MLP
    real, ideal : one image (28, 28) each, public convention
        E.g. a test digit and a dream of its class
        (``hill_climb(...).images[0]`` or ``.average()``).
    top : int, default 5
        How many of the most different units to list per layer (at most the
        layer's width).

    Returns
    -------
    ActivationComparison
        One :class:`LayerComparison` per layer (every hidden layer, then the
        output layer): both activation vectors, their difference
        ``ideal - real``, their Pearson correlation across units, and the
        ``top`` units with the largest ``|ideal - real|``.
    """
    net = check_net(net)
    top = check_int(top, "top", 1)
    x_real = _one_image(real, "real", net.image_shape)
    x_ideal = _one_image(ideal, "ideal", net.image_shape)
    acts = activations(net, np.concatenate([unit_float(x_real), unit_float(x_ideal)]))
    layers = []
    for l, a in enumerate(acts):
        r, i = a[0].ravel(), a[1].ravel()
        d = i - r
        order = np.argsort(-np.abs(d), kind="stable")[:min(top, d.size)]
        layers.append(LayerComparison(l, r, i, d, _pearson(r, i), order))
    return ActivationComparison(layers, unit_float(x_real)[0], unit_float(x_ideal)[0])


# --------------------------------------------------------------------------
# Distinctive neurons
# --------------------------------------------------------------------------

_METHODS = ("cohen_d", "auc")
_DIRECTIONS = ("higher", "lower", "either")


@dataclass
class DistinctiveNeurons:
    """Per class, the units of ``layer`` that best tell it from the others.

    ``indices[k]``: the ``top`` units for class ``k``, most distinctive first;
    ``scores[k]``: their scores; ``all_scores``: (K, width) the score of
    every unit for every class. See :func:`distinctive_neurons`.
    """

    indices: np.ndarray
    scores: np.ndarray
    all_scores: np.ndarray = field(repr=False)
    layer: int = 0
    method: str = "cohen_d"
    direction: str = "higher"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th>{k}</th>" + "".join(f"<td>{j} ({s:.2f})</td>"
                                          for j, s in zip(self.indices[k], self.scores[k]))
            + "</tr>" for k in range(len(self.indices)))
        return (f"<b>distinctive units of layer {self.layer}</b> ({self.method}, "
                f"{self.direction}): unit (score)<table>{rows}</table>")


def _cohen_d(a: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    n = a.shape[0]
    out = np.empty((k, a.shape[1]))
    for c in range(k):
        inside = y == c
        a1, a0 = a[inside], a[~inside]
        m1, m0 = a1.mean(axis=0), a0.mean(axis=0)
        ss = ((a1 - m1) ** 2).sum(axis=0) + ((a0 - m0) ** 2).sum(axis=0)
        sd = np.sqrt(ss / (n - 2))
        diff = m1 - m0
        # sd == 0: the unit is constant within both groups, so a mean
        # difference is a perfect separation (+-inf); no difference is 0
        d = np.divide(diff, sd, out=np.zeros_like(diff), where=sd > 0)
        d[(sd == 0) & (diff > 0)] = np.inf
        d[(sd == 0) & (diff < 0)] = -np.inf
        out[c] = d
    return out


def _average_ranks(a: np.ndarray) -> np.ndarray:
    """Ranks 1..N of each column, ties sharing their average rank."""
    n, h = a.shape
    order = np.argsort(a, axis=0, kind="stable")
    s = np.take_along_axis(a, order, axis=0)
    ranks = np.empty((n, h))
    for j in range(h):
        col = s[:, j]
        starts = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
        ends = np.r_[starts[1:], n]  # exclusive
        avg = (starts + ends + 1) / 2.0  # mean of the 1-based ranks starts+1..ends
        ranks[order[:, j], j] = np.repeat(avg, ends - starts)
    return ranks


def _auc(a: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    ranks = _average_ranks(a)
    out = np.empty((k, a.shape[1]))
    n = a.shape[0]
    for c in range(k):
        inside = y == c
        n1 = int(inside.sum())
        n0 = n - n1
        r1 = ranks[inside].sum(axis=0)
        out[c] = (r1 - n1 * (n1 + 1) / 2.0) / (n1 * n0)
    return out


def distinctive_neurons(net, images, labels, layer: int = 0, top: int = 10, *,
                        method: str = "cohen_d", direction: str = "higher") -> DistinctiveNeurons:
    """For each class, the units of ``layer`` that most separate its images
    from the images of the other classes.

    Parameters
    ----------
    net : MLP
    images : (N, 28, 28), public convention
    labels : (N,) integers in 0..K-1; every class must occur, and at least
        three images in all.
    layer : int, default 0
        0 is the first hidden layer, ``len(net.weights) - 1`` the output
        layer (the only layer of a network without hidden layers).
    top : int, default 10
        Units returned per class (at most the layer's width).
    method : {"cohen_d", "auc"}
        The score of unit ``j`` for class ``k``, from the unit's activations
        ``a`` over ``images``, split into the class (``n1`` images, mean
        ``m1``) and the rest (``n0``, ``m0``):

        - "cohen_d" (default): the standardised mean difference
          ``d = (m1 - m0) / s``, with the pooled standard deviation
          ``s = sqrt((SS1 + SS0) / (n1 + n0 - 2))`` (``SS``: sum of squared
          deviations from the group's mean). ``d = 1``: the class mean is one
          standard deviation above the rest. When ``s = 0`` (the unit is
          constant within both groups) ``d`` is ``+-inf`` if the means differ
          (a perfect separation) and 0 otherwise.
        - "auc": the area under the ROC curve of the unit's activation as a
          detector of the class, ``P(a of a class image > a of another image)
          + P(tie) / 2`` over all pairs (Mann-Whitney U / (n1 n0)): 1 means
          the unit is higher on every class image than on every other image,
          0.5 means no separation. Insensitive to outliers and to any monotone
          rescaling of the activation.
    direction : {"higher", "lower", "either"}
        Rank the units that are more active for the class ("higher", the
        score in descending order), less active ("lower", ascending), or
        either way (by the distance from no separation: ``|d|`` or
        ``|auc - 0.5|``).

    Returns
    -------
    DistinctiveNeurons
        ``indices`` (K, top) int64 and ``scores`` (K, top) float64 (the signed
        scores of those units), plus ``all_scores`` (K, width). Ties keep the
        lower unit index first.
    """
    net = check_net(net)
    layer = _check_layer(net, layer)
    top = check_int(top, "top", 1)
    if method not in _METHODS:
        raise ValueError(f"method must be 'cohen_d' or 'auc', got {method!r}")
    if direction not in _DIRECTIONS:
        raise ValueError(f"direction must be 'higher', 'lower' or 'either', got {direction!r}")
    x, _ = as_images(images, shape=net.image_shape, keep_float64=True)
    k = net.n_classes
    y = check_labels(labels, x.shape[0], k)
    counts = np.bincount(y, minlength=k)
    if (counts == 0).any():
        raise ValueError(f"labels: classes {np.flatnonzero(counts == 0).tolist()} have no images; "
                         f"every class 0..{k - 1} must occur")
    if x.shape[0] < 3 or (counts == x.shape[0]).any():
        raise ValueError("images: need at least three images and two classes")
    a = activations(net, x)[layer]
    a = a.reshape(len(a), -1)  # a map's units in (channel, row, column) order
    scores = _cohen_d(a, y, k) if method == "cohen_d" else _auc(a, y, k)
    neutral = 0.0 if method == "cohen_d" else 0.5
    key = {"higher": -scores, "lower": scores, "either": -np.abs(scores - neutral)}[direction]
    top = min(top, a.shape[1])
    idx = np.argsort(key, axis=1, kind="stable")[:, :top]
    return DistinctiveNeurons(idx, np.take_along_axis(scores, idx, axis=1), scores, layer,
                              method, direction)


# --------------------------------------------------------------------------
# Mistakes
# --------------------------------------------------------------------------

@dataclass
class Misclassified:
    """Images the network gets wrong, most confident mistakes first.

    ``images``: (m, 28, 28), uint8, float32 or float64 as given; ``true``, ``predicted``:
    (m,) int64; ``confidence``: (m,) float64, the network's output for the
    predicted class (its probability, for a softmax output); ``indices``:
    (m,) positions in the input. ``n_wrong`` of ``n_total`` images were
    wrong (``m = min(n, n_wrong)``).
    """

    images: np.ndarray
    true: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray
    indices: np.ndarray
    n_wrong: int
    n_total: int
    percent: bool = True

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        return (f"Misclassified({self.n_wrong}/{self.n_total} wrong, showing {len(self)})")

    def labels(self) -> list[str]:
        """Texts ``"true->predicted confidence"``, e.g. ``"7->2 98%"`` (the
        confidence as a percentage for softmax and sigmoid outputs, else the
        raw output)."""
        if self.percent:
            return [f"{t}->{p} {100 * c:.0f}%"
                    for t, p, c in zip(self.true, self.predicted, self.confidence)]
        return [f"{t}->{p} {c:.3g}" for t, p, c in zip(self.true, self.predicted, self.confidence)]

    def grid_image(self, **kwargs):
        """A labelled grid (:func:`netdream.images.grid_image`, gray map)."""
        if not len(self):
            raise ValueError("no misclassified images to draw")
        from .images import grid_image
        kwargs.setdefault("cmap", "gray")
        kwargs.setdefault("labels", self.labels())
        return grid_image(self.images, **kwargs)

    def save(self, path, **kwargs):
        """Write :meth:`grid_image` to ``path`` (PNG) and return it."""
        path = check_path(path)
        im = self.grid_image(**kwargs)
        im.save(path)
        return im

    def _repr_png_(self):
        return _png(_first(self, _MAX_DRAWN).grid_image()) if len(self) else None


def _first(m: Misclassified, n: int) -> Misclassified:
    return Misclassified(m.images[:n], m.true[:n], m.predicted[:n], m.confidence[:n],
                         m.indices[:n], m.n_wrong, m.n_total, m.percent)


def misclassified(net, images, labels, n: int | None = None, *,
                  threads=None) -> Misclassified:
    """The images ``net`` classifies wrongly, sorted by the network's
    confidence in its wrong answer, highest first (ties: input order).

    ``n`` keeps only the first ``n`` (None: all). Predictions are those of
    :func:`netdream.evaluate` (the compiled float32 forward pass).
    """
    net = check_net(net)
    x, _ = as_images(images, shape=net.image_shape, keep_float64=True)
    y = check_labels(labels, x.shape[0], net.n_classes)
    if n is not None:
        n = check_int(n, "n", 0)
    proba = np.asarray(net.predict_proba(x, threads=threads), dtype=np.float64).reshape(
        x.shape[0], net.n_classes)
    pred = proba.argmax(axis=1)
    wrong = np.flatnonzero(pred != y)
    conf = proba[wrong, pred[wrong]]
    order = np.argsort(-conf, kind="stable")
    if n is not None:
        order = order[:n]
    sel = wrong[order]
    return Misclassified(x[sel], y[sel], pred[sel].astype(np.int64), conf[order],
                         sel.astype(np.int64), int(wrong.size), int(x.shape[0]),
                         net.output in ("softmax", "sigmoid"))


def save_misclassified(net, images, labels, path, *, n: int = 100, ncols: int = 10,
                       scale: int = 3, threads=None):
    """Draw the ``n`` most confident mistakes of ``net`` as a labelled PNG grid
    (labels like ``"7->2 98%"``: true class, predicted class, confidence) and
    return the Pillow image. Raises ValueError if there is no mistake."""
    path = check_path(path)
    m = misclassified(net, images, labels, n=n, threads=threads)
    if not len(m):
        raise ValueError("net classifies every image correctly: nothing to draw")
    return m.save(path, ncols=ncols, scale=scale)


# --------------------------------------------------------------------------
# Feature maps of a convolutional network
# --------------------------------------------------------------------------

@dataclass
class FeatureMaps:
    """What each channel of a conv or pool layer looks for and where it fires
    on one image (see :func:`feature_maps`).

    ``image``: the image, (H, W) or (3, H, W). ``maps``: (C, h, w) float64,
    the layer's activations on it. ``filters``: (C, kh, kw) float64 (for a
    colour first layer (C, 3, kh, kw)): the weights of the convolution that
    computes the channels (the one at ``layer`` or, for a pooling layer, the
    one before), sign relative to ink; for a convolution on feature maps (not
    on the image) each tap's norm over the input channels, ``sqrt(sum_c
    w[c]**2)``: where in its window the filter looks. ``layer``: the index in
    ``net.layers``; ``names``: one caption per channel.
    """

    image: np.ndarray = field(repr=False)
    maps: np.ndarray = field(repr=False)
    filters: np.ndarray = field(repr=False)
    layer: int = 0
    on_image: bool = True

    def to_image(self, *, scale: int = 4, ncols: int | None = None):
        """One picture: the image, and per channel its filter (red: ink there
        raises the channel, blue: lowers it; a colour filter in its own
        colours) directly above where it fires on the image (black: not at
        all, white: most), each map scaled to its own maximum."""
        from PIL import Image
        from .images import _colourise, grid_image
        c = len(self.maps)
        h, w = self.image.shape[-2:]
        ncols = min(c, 8) if ncols is None else check_int(ncols, "ncols", 1)
        if self.filters.ndim == 4:  # colour filters of a colour image: as colours
            fil = np.rint(255 * self.colour_filters().transpose(0, 2, 3, 1)).astype(np.uint8)
        else:
            fil = _colourise(self.filters, "diverging" if self.on_image else "gray", None, True)
        fires = _colourise(np.maximum(self.maps, 0), "gray", None, True)
        cells = []
        for k in range(c):
            top = np.asarray(Image.fromarray(fil[k]).resize((w, h), Image.Resampling.NEAREST))
            bottom = np.asarray(Image.fromarray(fires[k]).resize((w, h), Image.Resampling.NEAREST))
            gap = np.full((1, w, 3), 255, np.uint8)
            cells.append(np.concatenate([top, gap, bottom]).transpose(2, 0, 1))
        peaks = self.maps.reshape(c, -1).max(axis=1)
        grid = grid_image(np.stack(cells), scale=scale, ncols=ncols,
                          labels=[f"{k}: max {m:.3g}" for k, m in enumerate(peaks)])
        img = grid_image(self.image[None], scale=scale, labels=["image"])
        sheet = Image.new("RGB", (img.width + grid.width, max(img.height, grid.height)),
                          (255, 255, 255))
        sheet.paste(img, (0, 0))
        sheet.paste(grid, (img.width, 0))
        return sheet

    def colour_filters(self) -> np.ndarray:
        """Colour filters (C, 3, kh, kw) as colour images in [0, 1]: grey 0.5
        is a zero weight, all filters on one scale."""
        from .images import signed_colour
        return signed_colour(self.filters)

    def save(self, path, *, scale: int = 4):
        """Write :meth:`to_image` to ``path`` (PNG) and return it."""
        im = self.to_image(scale=scale)
        im.save(check_path(path, "path"))
        return im

    def _repr_png_(self) -> bytes:
        return _png(self.to_image(scale=3))


def image_filters(net, layer: int = 0) -> np.ndarray:
    """The weights (out, in, kh, kw) of a convolution on the image, signed so
    that a positive weight means ink (a brighter value) there raises the
    channel, whichever way each input channel is encoded."""
    w = np.asarray(net.layers[layer].weight, dtype=np.float64)
    a, _ = net.encoding.channel_affine(w.shape[1])
    return w * np.sign(a)[None, :, None, None]


def feature_maps(net, image, layer: int | None = None) -> FeatureMaps:
    """Each filter of a conv layer beside where it fires on ``image``.

    Parameters
    ----------
    net : Network
        A convolutional network.
    image : one image, (H, W) or (3, H, W), the public convention.
    layer : int, optional
        A convolution or pooling layer of ``net.layers`` (default: the first
        convolution).

    Returns
    -------
    FeatureMaps
        ``maps`` (the layer's activations on the image), ``filters``, and
        ``to_image()`` / ``save(path)`` / a picture in Jupyter.
    """
    from .layers import Conv2D, MaxPool2D
    net = check_net(net)
    convs = [l for l, lay in enumerate(net.layers) if isinstance(lay, Conv2D)]
    maps_at = [l for l, lay in enumerate(net.layers) if isinstance(lay, (Conv2D, MaxPool2D))]
    if not convs:
        raise ValueError("feature_maps needs a convolutional network; for an MLP use "
                         "receptive_fields(net) or causal_index(net)")
    layer = convs[0] if layer is None else check_int(layer, "layer", 0)
    if layer not in maps_at:
        raise ValueError(f"layer {layer} is not a convolution or pooling layer (those are "
                         f"{', '.join(map(str, maps_at))})")
    x = _one_image(image, "image", net.image_shape)
    source = max(l for l in convs if l <= layer) if any(l <= layer for l in convs) else None
    if source is None:
        raise ValueError(f"layer {layer} pools the image itself: no filter before it; pick a "
                         f"convolution ({', '.join(map(str, convs))})")
    w = net.layers[source].weight
    on_image = source == convs[0] and not any(
        isinstance(lay, Conv2D) for lay in net.layers[:source])
    if on_image:
        filters = image_filters(net, source)
        filters = filters[:, 0] if filters.shape[1] == 1 else filters
    else:
        filters = np.sqrt((w ** 2).sum(axis=1))
    maps = activations(net, x)[layer][0]
    return FeatureMaps(unit_float(x)[0].reshape(net.image_shape), maps,
                       np.ascontiguousarray(filters, dtype=np.float64), layer, on_image)
