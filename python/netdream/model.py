"""The MLP model: layers, activations and the model's own input encoding.

Weights follow the ``W @ x`` convention: ``weights[l]`` has shape
``(n_out, n_in)``. A model also records how *it* wants its input encoded
(:class:`Encoding`): value range, which end is ink, and whether the 28x28
image is flattened row by row or column by column. Every public function
takes images in one convention — ``(28, 28)`` or ``(N, 28, 28)``, uint8
0..255 or float 0..1, ink high — and the model encodes them itself.

Models are saved and loaded in netdream's ``.npz`` format, documented in
:mod:`netdream.formats` (read without pickle), or read from the seed demo's
``net.js`` (parsed as data, never evaluated).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np

from . import _core
from ._validation import as_images, check_threads, unit_float

__all__ = ["MLP", "Encoding", "HIDDEN_ACTIVATIONS", "OUTPUT_ACTIVATIONS"]

HIDDEN_ACTIVATIONS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh")
OUTPUT_ACTIVATIONS = ("softmax", "sigmoid", "identity")
_ALIASES = {"logistic": "sigmoid", "linear": "identity", "leaky": "leaky_relu"}


@dataclass(frozen=True)
class Encoding:
    """How a model wants a 28x28 image turned into its input vector.

    ``low``/``high``: the encoded values of background and ink (for
    ``ink="high"``; swapped for ``ink="low"``). ``order``: ``"row"`` (C order,
    MNIST's) or ``"column"`` (Fortran/MATLAB order).
    """

    low: float = 0.0
    high: float = 1.0
    ink: str = "high"
    order: str = "row"

    def __post_init__(self):
        for name in ("low", "high"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
                raise TypeError(f"encoding {name} must be a number, got {type(v).__name__}")
            if not np.isfinite(v):
                raise ValueError(f"encoding {name} must be finite, got {v}")
        if not self.high > self.low:
            raise ValueError(f"encoding range must have high > low, got [{self.low}, {self.high}]")
        if self.ink not in ("high", "low"):
            raise ValueError(f"encoding ink must be 'high' or 'low', got {self.ink!r}")
        if self.order not in ("row", "column"):
            raise ValueError(f"encoding order must be 'row' or 'column', got {self.order!r}")

    @property
    def scale(self) -> float:
        """d(encoded value)/d(ink in [0, 1]): positive when ink is high."""
        span = float(self.high) - float(self.low)
        return span if self.ink == "high" else -span

    @property
    def offset(self) -> float:
        """The encoded value of a blank (background) pixel."""
        return float(self.low) if self.ink == "high" else float(self.high)

    def permutation(self, shape: tuple[int, int]) -> np.ndarray:
        """``perm[i]``: the model input that public (row-major) pixel ``i`` feeds."""
        h, w = shape
        idx = np.arange(h * w).reshape(h, w)
        if self.order == "row":
            return idx.ravel()
        # column order: pixel (r, c) is input c*h + r
        return (np.arange(w)[None, :] * h + np.arange(h)[:, None]).ravel()

    def encode(self, images: np.ndarray) -> np.ndarray:
        """Images (N, H, W) in [0, 1], ink high -> (N, H*W) float64 model inputs."""
        x = np.asarray(images, dtype=np.float64)
        n = x.shape[0]
        flat = x.reshape(n, -1) if self.order == "row" else x.transpose(0, 2, 1).reshape(n, -1)
        return self.offset + self.scale * flat

    def to_image_order(self, vectors: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """(..., H*W) vectors in model-input order -> (..., H, W) images."""
        v = np.asarray(vectors)
        h, w = shape
        if self.order == "row":
            return v.reshape(*v.shape[:-1], h, w)
        return np.swapaxes(v.reshape(*v.shape[:-1], w, h), -1, -2)


def _normalise_act(name, allowed, what):
    if not isinstance(name, str):
        raise TypeError(f"{what} activation must be a string, got {type(name).__name__}")
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in allowed:
        raise ValueError(f"{what} activation {name!r} is not supported; choose from {', '.join(allowed)}")
    return key


class MLP:
    """A dense multilayer perceptron on 28x28 images.

    Parameters
    ----------
    weights : list of arrays, ``weights[l]`` of shape ``(n_out, n_in)``
    biases : list of arrays, ``biases[l]`` of shape ``(n_out,)``
    hidden : activation of the hidden layers, one name or one per hidden layer
        (identity, relu, leaky_relu, sigmoid, tanh)
    output : output activation (softmax, sigmoid, identity)
    encoding : :class:`Encoding` of the model's input (default [0, 1], ink high,
        row-major)
    leaky_slope : negative slope of leaky_relu
    """

    def __init__(self, weights, biases, hidden="relu", output="softmax", *, encoding=None,
                 leaky_slope=0.01, image_shape=(28, 28), metadata=None):
        if not isinstance(weights, (list, tuple)) or not isinstance(biases, (list, tuple)):
            raise TypeError("weights and biases must be lists of arrays")
        if len(weights) == 0:
            raise ValueError("weights: a network needs at least one layer")
        if len(weights) != len(biases):
            raise ValueError(f"weights has {len(weights)} layers but biases has {len(biases)}")
        self.image_shape = _check_image_shape(image_shape)
        n_pixels = self.image_shape[0] * self.image_shape[1]
        ws, bs = [], []
        for l, (w, b) in enumerate(zip(weights, biases)):
            w = _float_array(w, f"weights[{l}]")
            b = _float_array(b, f"biases[{l}]")
            if w.ndim != 2:
                raise ValueError(f"weights[{l}] must be 2-D (n_out, n_in), got shape {w.shape}")
            if b.shape != (w.shape[0],):
                raise ValueError(f"biases[{l}] must have shape ({w.shape[0]},), got {b.shape}")
            expected_in = n_pixels if l == 0 else ws[-1].shape[0]
            if w.shape[1] != expected_in:
                what = f"{n_pixels} pixels" if l == 0 else f"the {expected_in} outputs of layer {l - 1}"
                raise ValueError(f"weights[{l}] has {w.shape[1]} inputs but must take {what}")
            if w.shape[0] == 0:
                raise ValueError(f"weights[{l}] has no outputs")
            ws.append(w)
            bs.append(b)
        n_hidden = len(ws) - 1
        if isinstance(hidden, str):
            hidden = [hidden] * n_hidden
        hidden = list(hidden)
        if len(hidden) != n_hidden:
            raise ValueError(f"hidden: {len(hidden)} activations given for {n_hidden} hidden layers")
        self.hidden = [_normalise_act(a, HIDDEN_ACTIVATIONS, "hidden") for a in hidden]
        self.output = _normalise_act(output, OUTPUT_ACTIVATIONS, "output")
        if encoding is None:
            encoding = Encoding()
        if not isinstance(encoding, Encoding):
            raise TypeError(f"encoding must be a netdream.Encoding, got {type(encoding).__name__}")
        self.encoding = encoding
        self.leaky_slope = float(leaky_slope)
        if not np.isfinite(self.leaky_slope):
            raise ValueError("leaky_slope must be finite")
        self.weights = ws
        self.biases = bs
        for arr in (*ws, *bs):
            arr.flags.writeable = False
        self.metadata = dict(metadata or {})
        self._core_net = None

    # ------------------------------------------------------------------ shape
    @property
    def sizes(self) -> list[int]:
        """Layer widths, input first: e.g. ``[784, 200, 10]``."""
        return [self.weights[0].shape[1]] + [w.shape[0] for w in self.weights]

    @property
    def n_classes(self) -> int:
        return self.weights[-1].shape[0]

    @property
    def activations(self) -> list[str]:
        return [*self.hidden, self.output]

    def __repr__(self) -> str:
        name = self.metadata.get("name")
        sizes = "-".join(map(str, self.sizes))
        acts = "/".join(self.activations)
        enc = self.encoding
        return (f"MLP({sizes}, {acts}, input [{enc.low:g}, {enc.high:g}] ink {enc.ink}, "
                f"{enc.order}-major{', ' + repr(name) if name else ''})")

    # --------------------------------------------------------- public layer 0
    def public_first_layer(self) -> tuple[np.ndarray, np.ndarray]:
        """Layer 0 folded with the encoding, in float64.

        Returns ``(W, b)`` with ``W`` of shape ``(n_hidden, H*W)`` acting on
        images in the public convention (row-major, [0, 1], ink high):
        ``W @ x + b`` equals the model's first-layer pre-activations.
        """
        w0, b0 = self.weights[0], self.biases[0]
        enc = self.encoding
        perm = enc.permutation(self.image_shape)
        w_pub = enc.scale * w0[:, perm]
        b_pub = b0 + enc.offset * w0.sum(axis=1)
        return w_pub, b_pub

    @property
    def core(self):
        """The compiled float32 network (encoding folded into layer 0)."""
        if self._core_net is None:
            w_pub, b_pub = self.public_first_layer()
            ws = [w_pub] + list(self.weights[1:])
            bs = [b_pub] + list(self.biases[1:])
            for l, (w, b) in enumerate(zip(ws, bs)):
                if (np.abs(w).max() > np.finfo(np.float32).max or
                        np.abs(b).max() > np.finfo(np.float32).max):
                    raise ValueError(f"weights[{l}] overflow float32")
            self._core_net = _core.Net(
                [np.ascontiguousarray(w, dtype=np.float64) for w in ws],
                [np.ascontiguousarray(b, dtype=np.float64) for b in bs],
                [_core.Act.__members__[a] for a in self.activations],
                image_shape=(1, *self.image_shape), leaky_slope=self.leaky_slope)
        return self._core_net

    # ---------------------------------------------------------------- predict
    def predict_proba(self, images, *, threads=None) -> np.ndarray:
        """Output activations (probabilities for softmax): ``(N, K)`` float32,
        or ``(K,)`` for one image."""
        return self._forward(images, threads, logits=False)

    def logits(self, images, *, threads=None) -> np.ndarray:
        """The output layer's pre-activations, ``(N, K)`` float32."""
        return self._forward(images, threads, logits=True)

    def _forward(self, images, threads, logits):
        x, single = as_images(images, shape=self.image_shape)
        # the core refuses outputs that overflow float32 (NaN or inf)
        out = self.core.forward(x.reshape(x.shape[0], -1) if x.shape[0] else
                                x.reshape(0, self.sizes[0]), check_threads(threads), logits)
        return out[0] if single else out

    def predict(self, images, *, threads=None) -> np.ndarray:
        """Predicted class, ``(N,)`` int64 (a scalar for one image)."""
        p = self.predict_proba(images, threads=threads)
        return np.argmax(p, axis=-1)

    def encode(self, images) -> np.ndarray:
        """The model's own input vectors for images, ``(N, n_in)`` float64."""
        x, _ = as_images(images, shape=self.image_shape, keep_float64=True)
        return self.encoding.encode(unit_float(x))

    # -------------------------------------------------------------------- I/O
    def save(self, path) -> None:
        """Write netdream's ``.npz`` format (see :mod:`netdream.formats`)."""
        from .formats import save_npz
        save_npz(self, path)

    @classmethod
    def load(cls, path) -> "MLP":
        """Read a model: netdream ``.npz`` (:mod:`netdream.formats`), or the
        seed network's ``net.js``."""
        from .formats import load_model
        return load_model(path)

    @classmethod
    def from_netjs(cls, path) -> "MLP":
        """The seed network's JavaScript file: arrays ``w12``, ``bias2``,
        ``w23``, ``bias3`` (784-200-10, logistic hidden, softmax output),
        parsed as data, never evaluated (see :func:`netdream.formats.read_netjs`)."""
        from .formats import read_netjs
        return read_netjs(path)

    @classmethod
    def from_sklearn(cls, clf, encoding=None) -> "MLP":
        """A fitted ``sklearn.neural_network.MLPClassifier`` as an MLP (see
        :func:`netdream.importers.from_sklearn`). ``encoding`` describes
        the input the classifier was trained on (default: [0, 1], ink high,
        row-major)."""
        from .importers import from_sklearn
        return from_sklearn(clf, encoding=encoding)

    @classmethod
    def from_torch(cls, module_or_state_dict, layers=None, *, encoding=None, output=None) -> "MLP":
        """A PyTorch ``nn.Sequential`` of Linear and activation layers, or a
        module / state dict plus ``layers=[...]`` (see
        :func:`netdream.importers.from_torch`). ``encoding``: the input the
        network was trained on (default [0, 1], ink high, row-major)."""
        from .importers import from_torch
        return from_torch(module_or_state_dict, layers, encoding=encoding, output=output)

    @classmethod
    def from_keras(cls, model, *, encoding=None, output=None) -> "MLP":
        """A Keras 3 ``Sequential`` of Dense layers (see :func:`netdream.importers.from_keras`)."""
        from .importers import from_keras
        return from_keras(model, encoding=encoding, output=output)

    @classmethod
    def from_onnx(cls, path, *, encoding=None, output=None) -> "MLP":
        """An ONNX file of Gemm/MatMul+Add and Relu/Sigmoid/Tanh/Softmax nodes
        (see :func:`netdream.importers.from_onnx`)."""
        from .importers import from_onnx
        return from_onnx(path, encoding=encoding, output=output)

    @classmethod
    def pretrained(cls) -> "MLP":
        """The default model shipped inside the package (see MODEL_CARD.md)."""
        ref = resources.files("netdream") / "data" / "default.npz"
        with resources.as_file(ref) as p:
            return cls.load(p)

    # ----------------------------------------------------------------- Jupyter
    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{l}</td><td>{w.shape[1]} &rarr; {w.shape[0]}</td><td>{a}</td></tr>"
            for l, (w, a) in enumerate(zip(self.weights, self.activations)))
        enc = self.encoding
        return (f"<b>netdream.MLP</b> {self.metadata.get('name', '')}<br>"
                f"input: {self.image_shape[0]}&times;{self.image_shape[1]} &rarr; "
                f"[{enc.low:g}, {enc.high:g}], ink {enc.ink}, {enc.order}-major"
                f"<table><tr><th>layer</th><th>shape</th><th>activation</th></tr>{rows}</table>")


def _float_array(a, name):
    try:
        arr = np.array(a, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array: {exc}") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _check_image_shape(shape) -> tuple[int, int]:
    """A model's image shape: (height, width), two positive integers."""
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(f"image_shape must be a pair (height, width), got {shape!r}") from None
    if len(dims) != 2:
        raise ValueError(f"image_shape must be a pair (height, width) of a greyscale image, got "
                         f"{dims!r}")
    out = []
    for d in dims:
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
            raise TypeError(f"image_shape must hold integers, got {dims!r}")
        if not 1 <= int(d) <= 4096:
            raise ValueError(f"image_shape sizes must lie in 1..4096, got {dims!r}")
        out.append(int(d))
    return tuple(out)
