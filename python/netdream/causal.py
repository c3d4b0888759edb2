"""Which pixels drive which class: the causal index (Olden's connection
weights) and Garson's relative importance, read off the weights alone.

Maps are in image orientation (row, column). For the causal index the sign
is relative to ink: a positive value means more ink at that pixel pushes the
class up (for a model whose encoding puts ink low, the sign is flipped; the
magnitude is not rescaled).
"""

from __future__ import annotations

import numpy as np

from ._validation import check_choice, check_mlp

__all__ = ["causal_index", "garson", "GARSON_VARIANTS", "HeatMaps"]

#: The two Garson algorithms :func:`garson` offers.
GARSON_VARIANTS = ("class-weighted", "classic")


class HeatMaps(np.ndarray):
    """A stack of per-class maps, (K, H, W) float64: an ordinary NumPy array
    that Jupyter draws as a labelled grid (red positive, blue negative for
    signed maps; black to white for non-negative ones, each map scaled to its
    own largest value)."""

    def _repr_png_(self):
        import io

        from .images import grid_image
        maps = np.asarray(self, dtype=np.float64)
        if maps.ndim == 2:
            maps = maps[None]
        if maps.ndim != 3 or maps.size == 0 or not np.all(np.isfinite(maps)):
            return None
        if maps.min() >= 0:
            top = maps.max(axis=(1, 2), keepdims=True)
            im = grid_image(np.divide(maps, top, out=np.zeros_like(maps), where=top > 0),
                            cmap="gray", labels=[str(k) for k in range(len(maps))], scale=3)
        else:
            im = grid_image(maps, cmap="diverging", labels=[str(k) for k in range(len(maps))],
                            scale=3)
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        return buf.getvalue()


def _maps(arr) -> HeatMaps:
    return np.ascontiguousarray(arr, dtype=np.float64).view(HeatMaps)


def path_product(net, layer: int | None = None) -> np.ndarray:
    """``W[layer] @ ... @ W[1] @ W[0]`` (default: through the output layer):
    (n_units, n_in) in the model's input order. The *linear path sum*: the sum
    over every path from an input to a unit of the product of the weights
    along it (activations and biases ignored)."""
    last = len(net.weights) - 1 if layer is None else layer
    m = net.weights[0]
    for w in net.weights[1:last + 1]:
        m = w @ m
    return m


#: What to use on a convolutional network instead of the weight-product maps.
_INSTEAD = ("netdream.input_gradient(net, image, target) for where a given image's pixels "
            "drive a class, feature_maps(net, image, layer) for the filters, or "
            "hill_climb(net, target) for the network's idea of a class")


def causal_index(net) -> np.ndarray:
    """Per class, how strongly each pixel drives it: ``(K, 28, 28)`` float64.

    For one hidden layer this is exactly the seed's formula
    ``C[k, i] = sum_j W2[k, j] * W1[j, i]`` (Olden's connection weights); for
    deeper (or no hidden) layers it is the product of all weight matrices, the
    *linear path sum*: the sum over every path from pixel ``i`` to output
    ``k`` of the product of the weights along it (activations and biases
    ignored). Maps are in image orientation (row, column), and the sign is
    relative to ink: a positive value means more ink at that pixel pushes class
    ``k`` up (for a model whose encoding puts ink low, the sign is flipped; the
    magnitude is not rescaled).
    """
    net = check_mlp(net, "the causal index (a product of weight matrices)", _INSTEAD)
    c = path_product(net) * np.sign(net.encoding.scale)
    return _maps(net.encoding.to_image_order(c, net.image_shape))


def garson(net, variant: str = "class-weighted") -> np.ndarray:
    """Garson's relative importance of each pixel for each class, ``(K, 28, 28)``:
    non-negative, each class's map sums to 1. It ranks magnitude, not sign.

    With ``a[j, i] = |W1[j, i]|`` and ``b[k, j] = |W2[k, j]|`` for one hidden
    layer, two algorithms go by this name:

    ``variant="class-weighted"`` (the default; Garson 1991 as Goh 1995 writes
        it per output): ``Q[k, j, i] = b[k, j] * a[j, i] / sum_i' a[j, i']``,
        importance ``sum_j Q[k, j, i]``, normalised per class. Each hidden
        unit's share of a pixel is weighted by how strongly the unit drives
        class ``k``, so every class has its own map.
    ``variant="classic"`` (NeuralNetTools' ``garson``, caret's ``varImp``):
        ``Q[k, j, i] = a[j, i] * b[k, j] / sum_i' a[j, i'] * b[k, j]`` —
        normalised per hidden unit *after* multiplying by the output weight,
        which therefore cancels: every class gets the same map (the share of
        each pixel in every hidden unit's input weight, summed over units).

    The two differ whenever output weights differ between hidden units (by
    28-39% on the shipped model). Deeper nets: the class-weighted variant
    uses the product of the absolute, row-normalised matrices through every
    layer; the classic one is defined for one hidden layer only. Without a
    hidden layer both are the row-normalised ``|W|``.
    """
    net = check_mlp(net, "Garson importance (a product of weight matrices)", _INSTEAD)
    check_choice(variant, "variant", GARSON_VARIANTS)
    n_hidden = len(net.weights) - 1
    a = np.abs(net.weights[0])
    s = a.sum(axis=1, keepdims=True)
    m = np.divide(a, s, out=np.zeros_like(a), where=s > 0)
    if variant == "classic" and n_hidden == 1:
        # units whose output weight is 0 drop out (0/0 in the formula)
        m = (np.abs(net.weights[1]) > 0) @ m
    elif variant == "classic" and n_hidden > 1:
        raise ValueError(f"the classic Garson algorithm is defined for one hidden layer; this "
                         f"net has {n_hidden}: use variant='class-weighted'")
    else:
        for w in net.weights[1:]:
            m = np.abs(w) @ m
    totals = m.sum(axis=1, keepdims=True)
    m = np.divide(m, totals, out=np.zeros_like(m), where=totals > 0)
    return _maps(net.encoding.to_image_order(m, net.image_shape))
