"""Evaluation and the causal index."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._model import MLP
from ._validation import as_images

__all__ = ["evaluate", "EvaluationResult", "causal_index", "garson", "activations", "forward64"]


def _act64(name, z, slope):
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, slope * z)
    if name == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * z))  # = 1 / (1 + exp(-z)), without overflow
    if name == "tanh":
        return np.tanh(z)
    if name == "softmax":
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    return z


def activations(net: MLP, images) -> list[np.ndarray]:
    """Every layer's activations for ``images``, in float64 NumPy: a list of
    (N, width) arrays, the hidden layers first and the output last."""
    if not isinstance(net, MLP):
        raise TypeError(f"net must be a netdream.MLP, got {type(net).__name__}")
    x = net.encode(images)
    out = []
    for w, b, a in zip(net.weights, net.biases, net.activations):
        x = _act64(a, x @ w.T + b, net.leaky_slope)
        out.append(x)
    return out


def forward64(net: MLP, images) -> np.ndarray:
    """The output of ``net`` in plain float64 NumPy (the reference for the
    compiled float32 core)."""
    return activations(net, images)[-1]


@dataclass(frozen=True)
class EvaluationResult:
    """Accuracy of a model on labelled images.

    ``confusion[t, p]`` counts images of true class ``t`` predicted as ``p``.
    """

    correct: int
    total: int
    confusion: np.ndarray
    predictions: np.ndarray

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else float("nan")

    def __str__(self) -> str:
        return f"accuracy: {self.correct}/{self.total} ({100 * self.accuracy:.2f}%)"

    def _repr_html_(self) -> str:
        k = self.confusion.shape[0]
        head = "".join(f"<th>{p}</th>" for p in range(k))
        body = "".join(
            "<tr><th>{}</th>{}</tr>".format(
                t, "".join(
                    f"<td style='text-align:right;{'font-weight:bold' if t == p else ''}'>"
                    f"{self.confusion[t, p]}</td>" for p in range(k)))
            for t in range(k))
        return (f"<p>{self}</p><table><tr><th>true \\ predicted</th>{head}</tr>{body}</table>")


def evaluate(net: MLP, images, labels, *, threads=None) -> EvaluationResult:
    """Accuracy and confusion matrix of ``net`` on ``images`` with ``labels``."""
    if not isinstance(net, MLP):
        raise TypeError(f"net must be a netdream.MLP, got {type(net).__name__}")
    x, _ = as_images(images, shape=net.image_shape)
    y = np.asarray(labels)
    if y.dtype.kind not in "iu":
        raise TypeError(f"labels must be integers, got dtype {y.dtype}")
    if y.shape != (x.shape[0],):
        raise ValueError(f"labels must have shape ({x.shape[0]},) to match images, got {y.shape}")
    k = net.n_classes
    if y.size and (y.min() < 0 or y.max() >= k):
        raise ValueError(f"labels must lie in 0..{k - 1}, got values in [{y.min()}, {y.max()}]")
    pred = net.predict(x, threads=threads)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (y.astype(np.int64), pred), 1)
    return EvaluationResult(int(np.trace(confusion)), int(y.size), confusion, pred)


def _path_product(net: MLP) -> np.ndarray:
    """Product of the weight matrices, (K, n_in) in the model's input order."""
    m = net.weights[0]
    for w in net.weights[1:]:
        m = w @ m
    return m


def causal_index(net: MLP) -> np.ndarray:
    """Per class, how strongly each pixel drives it: ``(K, 28, 28)`` float64.

    For one hidden layer this is exactly the seed's formula
    ``C[k, i] = sum_j W2[k, j] * W1[j, i]``; for deeper (or no hidden) layers it
    is the product of all weight matrices, the *linear path sum*: the sum over
    every path from pixel ``i`` to output ``k`` of the product of the weights
    along it (activations and biases ignored). Maps are in image orientation
    (row, column), and the sign is relative to ink: a positive value means
    more ink at that pixel pushes class ``k`` up (for a model whose encoding
    puts ink low, the sign is flipped; the magnitude is not rescaled).
    """
    if not isinstance(net, MLP):
        raise TypeError(f"net must be a netdream.MLP, got {type(net).__name__}")
    c = _path_product(net) * np.sign(net.encoding.scale)
    return net.encoding.to_image_order(c, net.image_shape)


def garson(net: MLP) -> np.ndarray:
    """Garson's relative importance of each pixel for each class, ``(K, 28, 28)``.

    For one hidden layer (Garson 1991; Goh 1995): with ``a[j, i] = |W1[j, i]|``
    and ``b[k, j] = |W2[k, j]|``, ``Q[k, j, i] = a[j, i] * b[k, j] / sum_i' a[j, i']``
    and the importance is ``sum_j Q[k, j, i]``, normalised so each class's
    map sums to 1. Deeper nets use the product of the absolute, row-normalised
    matrices through every layer. Non-negative; it ranks magnitude, not sign.
    """
    if not isinstance(net, MLP):
        raise TypeError(f"net must be a netdream.MLP, got {type(net).__name__}")
    m = None
    for w in net.weights:
        a = np.abs(w)
        if m is None:
            s = a.sum(axis=1, keepdims=True)
            m = np.divide(a, s, out=np.zeros_like(a), where=s > 0)
        else:
            m = a @ m
    totals = m.sum(axis=1, keepdims=True)
    m = np.divide(m, totals, out=np.zeros_like(m), where=totals > 0)
    return net.encoding.to_image_order(m, net.image_shape)
