"""The MLP model: layers, activations and the model's own input encoding.

Weights follow the ``W @ x`` convention: ``weights[l]`` has shape
``(n_out, n_in)``. A model also records how *it* wants its input encoded
(:class:`Encoding`): value range, which end is ink, and whether the 28x28
image is flattened row by row or column by column. Every public function
takes images in one convention — ``(28, 28)`` or ``(N, 28, 28)``, uint8
0..255 or float 0..1, ink high — and the model encodes them itself.

The ``.npz`` format (read with ``allow_pickle=False``)
------------------------------------------------------
============== =========================================================
key            content
============== =========================================================
format         ``"netdream-mlp"``
version        ``1``
n_layers       number of weight layers L (hidden layers + 1)
W0 .. W{L-1}   float32 or float64, shape ``(n_out, n_in)``
b0 .. b{L-1}   shape ``(n_out,)``
activations    L strings: the hidden activations, then the output one
               (hidden: identity, relu, leaky_relu, sigmoid, tanh;
               output: softmax, sigmoid, identity)
leaky_slope    float
enc_range      ``[low, high]``: the encoded values of the two ends
enc_ink        ``"high"`` (ink is ``high``) or ``"low"``
enc_order      ``"row"`` or ``"column"`` (flattening of the image)
image_shape    ``[28, 28]``
metadata       a JSON object as a string (name, model card, ...)
============== =========================================================
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from importlib import resources

import numpy as np

from . import _core
from ._validation import as_images, check_path, check_threads

__all__ = ["MLP", "Encoding", "HIDDEN_ACTIVATIONS", "OUTPUT_ACTIVATIONS"]

HIDDEN_ACTIVATIONS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh")
OUTPUT_ACTIVATIONS = ("softmax", "sigmoid", "identity")
_ALIASES = {"logistic": "sigmoid", "linear": "identity", "leaky": "leaky_relu"}
FORMAT_NAME = "netdream-mlp"
FORMAT_VERSION = 1


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
        self.image_shape = tuple(int(s) for s in image_shape)
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
                self.activations, self.leaky_slope)
        return self._core_net

    # ---------------------------------------------------------------- predict
    def predict_proba(self, images, *, threads=None) -> np.ndarray:
        """Output activations (probabilities for softmax): ``(N, K)`` float32,
        or ``(K,)`` for one image."""
        x, single = as_images(images, shape=self.image_shape)
        out = self.core.forward(x.reshape(x.shape[0], -1), check_threads(threads), False)
        return out[0] if single else out

    def logits(self, images, *, threads=None) -> np.ndarray:
        """The output layer's pre-activations, ``(N, K)`` float32."""
        x, single = as_images(images, shape=self.image_shape)
        out = self.core.forward(x.reshape(x.shape[0], -1), check_threads(threads), True)
        return out[0] if single else out

    def predict(self, images, *, threads=None) -> np.ndarray:
        """Predicted class, ``(N,)`` int64 (a scalar for one image)."""
        p = self.predict_proba(images, threads=threads)
        return np.argmax(p, axis=-1)

    def encode(self, images) -> np.ndarray:
        """The model's own input vectors for images, ``(N, n_in)`` float64."""
        x, _ = as_images(images, shape=self.image_shape, keep_float64=True)
        x = x.astype(np.float64) / 255.0 if x.dtype == np.uint8 else x.astype(np.float64)
        return self.encoding.encode(x)

    # -------------------------------------------------------------------- I/O
    def save(self, path) -> None:
        """Write the documented ``.npz`` format (see the module docstring)."""
        path = check_path(path)
        arrays = {
            "format": np.array(FORMAT_NAME),
            "version": np.array(FORMAT_VERSION),
            "n_layers": np.array(len(self.weights)),
            "activations": np.array(self.activations),
            "leaky_slope": np.array(self.leaky_slope),
            "enc_range": np.array([self.encoding.low, self.encoding.high], dtype=np.float64),
            "enc_ink": np.array(self.encoding.ink),
            "enc_order": np.array(self.encoding.order),
            "image_shape": np.array(self.image_shape),
            "metadata": np.array(json.dumps(self.metadata)),
        }
        for l, (w, b) in enumerate(zip(self.weights, self.biases)):
            dtype = self.metadata.get("storage_dtype", "float32")
            arrays[f"W{l}"] = w.astype(dtype)
            arrays[f"b{l}"] = b.astype(dtype)
        tmp = path + ".tmp.npz" if not path.endswith(".npz") else path[:-4] + ".tmp.npz"
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path) -> "MLP":
        """Read a model: netdream ``.npz``, or the seed network's ``net.js``."""
        path = check_path(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"no model file at {path!r}")
        with open(path, "rb") as fh:
            head = fh.read(4)
        if head.startswith(b"PK"):
            return _load_npz(cls, path)
        if path.endswith(".npz"):
            raise ValueError(f"{path!r} is not a valid .npz file (no zip header)")
        return cls.from_netjs(path)

    @classmethod
    def from_netjs(cls, path) -> "MLP":
        """The seed network's JavaScript file: arrays ``w12``, ``bias2``,
        ``w23``, ``bias3`` (784-200-10, logistic hidden, softmax output).

        The arrays are parsed as data; the JavaScript is never evaluated. The
        file's comment says the input is in [-1, 1] with background 1,
        flattened column by column. The column order is right, but the
        published 9,808/10,000 is reached only with background -1 (ink +1):
        with background 1 the network scores 32/10,000.
        """
        path = check_path(path)
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except UnicodeDecodeError:
            raise ValueError(f"{path!r} is not a text file") from None
        w12 = _js_array(text, "w12", 2, path)
        bias2 = _js_array(text, "bias2", 1, path)
        w23 = _js_array(text, "w23", 2, path)
        bias3 = _js_array(text, "bias3", 1, path)
        if w12.shape[1] != 784:
            raise ValueError(f"{path!r}: w12 has {w12.shape[1]} inputs, expected 784")
        if bias2.shape != (w12.shape[0],):
            raise ValueError(f"{path!r}: bias2 has {bias2.size} values, w12 has {w12.shape[0]} rows")
        if w23.shape[1] != w12.shape[0]:
            raise ValueError(f"{path!r}: w23 has {w23.shape[1]} columns, w12 has {w12.shape[0]} rows")
        if bias3.shape != (w23.shape[0],):
            raise ValueError(f"{path!r}: bias3 has {bias3.size} values, w23 has {w23.shape[0]} rows")
        return cls([w12, w23], [bias2, bias3], hidden="sigmoid", output="softmax",
                   encoding=Encoding(-1.0, 1.0, ink="high", order="column"),
                   metadata={"name": "seed net.js", "source": os.path.basename(path)})

    @classmethod
    def from_sklearn(cls, clf, encoding=None) -> "MLP":
        """A fitted ``sklearn.neural_network.MLPClassifier`` as an MLP (see
        :func:`netdream._sklearn.mlp_from_sklearn`). ``encoding`` describes
        the input the classifier was trained on (default: [0, 1], ink high,
        row-major)."""
        from ._sklearn import mlp_from_sklearn
        return mlp_from_sklearn(clf, encoding=encoding)

    @classmethod
    def from_torch(cls, module_or_state_dict, layers=None, *, encoding=None, output=None) -> "MLP":
        """A PyTorch ``nn.Sequential`` of Linear and activation layers, or a
        module / state dict plus ``layers=[...]`` (see
        :func:`netdream._imports.mlp_from_torch`). ``encoding``: the input the
        network was trained on (default [0, 1], ink high, row-major)."""
        from ._imports import mlp_from_torch
        return mlp_from_torch(module_or_state_dict, layers, encoding=encoding, output=output)

    @classmethod
    def from_keras(cls, model, *, encoding=None, output=None) -> "MLP":
        """A Keras 3 ``Sequential`` of Dense layers (see :func:`netdream._imports.mlp_from_keras`)."""
        from ._imports import mlp_from_keras
        return mlp_from_keras(model, encoding=encoding, output=output)

    @classmethod
    def from_onnx(cls, path, *, encoding=None, output=None) -> "MLP":
        """An ONNX file of Gemm/MatMul+Add and Relu/Sigmoid/Tanh/Softmax nodes
        (see :func:`netdream._imports.mlp_from_onnx`)."""
        from ._imports import mlp_from_onnx
        return mlp_from_onnx(path, encoding=encoding, output=output)

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


def _load_npz(cls, path):
    # Open the file ourselves: np.load leaks its handle when the zip is broken.
    with open(path, "rb") as fh:
        try:
            data = np.load(fh, allow_pickle=False)
        except Exception as exc:
            raise ValueError(f"{path!r} is not a readable .npz file: {exc}") from None
        with data:
            try:
                fields = _npz_fields(data, path)
            except ValueError:
                raise
            except Exception as exc:  # corrupt members, object arrays, bad JSON
                raise ValueError(f"{path!r} is not a valid netdream model: {exc}") from None
    weights, biases, acts, enc, slope, shape, meta = fields
    return cls(weights, biases, hidden=acts[:-1], output=acts[-1], encoding=enc,
               leaky_slope=slope, image_shape=shape, metadata=meta)


def _npz_fields(data, path):
    keys = set(data.files)
    if "format" not in keys or str(data["format"]) != FORMAT_NAME:
        raise ValueError(f"{path!r} is not a netdream model (no format={FORMAT_NAME!r})")
    version = int(data["version"])
    if version > FORMAT_VERSION:
        raise ValueError(f"{path!r} has format version {version}; this netdream reads "
                         f"up to {FORMAT_VERSION}")
    n = int(data["n_layers"])
    missing = [k for l in range(n) for k in (f"W{l}", f"b{l}") if k not in keys]
    if missing:
        raise ValueError(f"{path!r} lacks arrays {missing}")
    weights = [data[f"W{l}"] for l in range(n)]
    biases = [data[f"b{l}"] for l in range(n)]
    acts = [str(a) for a in data["activations"]]
    if len(acts) != n:
        raise ValueError(f"{path!r}: {len(acts)} activations for {n} layers")
    low, high = (float(v) for v in data["enc_range"])
    enc = Encoding(low, high, ink=str(data["enc_ink"]), order=str(data["enc_order"]))
    shape = tuple(int(s) for s in data["image_shape"])
    meta = json.loads(str(data["metadata"])) if "metadata" in keys else {}
    slope = float(data["leaky_slope"]) if "leaky_slope" in keys else 0.01
    return weights, biases, acts, enc, slope, shape, meta


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def _js_array(text, name, ndim, path):
    m = re.search(r"\bvar\s+" + name + r"\s*=\s*\[", text)
    if not m:
        raise ValueError(f"{path!r}: no array 'var {name} = [...]' found")
    start = m.end() - 1
    depth, end = 0, None
    for i in range(start, len(text)):
        c = text[i]
        if c == "[":
            depth += 1
            if depth > ndim:
                raise ValueError(f"{path!r}: {name} is nested deeper than {ndim} levels")
        elif c == "]":
            depth -= 1
            if depth == 0:
                end = i + 1
                break
    if end is None:
        raise ValueError(f"{path!r}: array {name} is not closed (truncated file?)")
    body = text[start:end]
    if ndim == 1:
        rows_text = [body[1:-1]]
    else:
        inner = body[1:-1]
        rows_text = re.findall(r"\[([^\[\]]*)\]", inner)
        leftover = re.sub(r"\[[^\[\]]*\]", "", inner)
        if leftover.replace(",", "").strip():
            raise ValueError(f"{path!r}: {name} has values outside its rows")
        if not rows_text:
            raise ValueError(f"{path!r}: {name} is empty")
    rows = []
    for r, row in enumerate(rows_text):
        items = [s.strip() for s in row.split(",")]
        if items and items[-1] == "":
            items.pop()  # trailing comma
        try:
            # float() accepts exactly the decimal literals JavaScript writes
            # (and nan/inf spellings, refused below as non-finite)
            rows.append(np.array([float(v) for v in items], dtype=np.float64))
        except ValueError:
            bad = next(v for v in items if not re.fullmatch(_NUMBER, v))
            raise ValueError(f"{path!r}: {name} row {r} has a value that is not a number: "
                             f"{bad[:30]!r}") from None
    lengths = {len(r) for r in rows}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(f"{path!r}: {name} rows have different or zero lengths {sorted(lengths)[:5]}")
    arr = np.stack(rows) if ndim == 2 else rows[0]
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{path!r}: {name} contains values that overflow to inf")
    return arr
