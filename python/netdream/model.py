"""Models: a :class:`Network` is a sequence of layers (:mod:`netdream.layers`)
— convolutions, pooling, a flatten, dense layers — and an :class:`MLP` is
the case of dense layers only, with today's constructor and attributes
(``weights``, ``biases``, ``hidden``, ``output``).

Weights follow the ``W @ x`` convention: a dense layer's weight has shape
``(n_out, n_in)``. A model also records how *it* wants its input encoded
(:class:`Encoding`): value range, which end is ink, per-channel
normalisation, and (for an MLP) whether the image is flattened row by row or
column by column. Every public function takes images in one convention —
``(H, W)`` / ``(N, H, W)`` for grey models, ``(C, H, W)`` / ``(N, C, H, W)``
for colour ones; uint8 0..255 or float 0..1; ink high — and the model
encodes them itself. A model also carries the names of its classes
(``class_names``, the digits by default).

Models are saved and loaded in netdream's ``.npz`` format, documented in
:mod:`netdream.formats` (read without pickle), or read from the seed demo's
``net.js`` (parsed as data, never evaluated).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from importlib import resources

import numpy as np

from . import _core
from ._validation import as_images, check_threads, unit_float
from .layers import (AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D, normalise_activation,
                     output_shape)

__all__ = ["Network", "MLP", "Encoding", "HIDDEN_ACTIVATIONS", "OUTPUT_ACTIVATIONS", "load",
           "pretrained"]

HIDDEN_ACTIVATIONS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh")
OUTPUT_ACTIVATIONS = ("softmax", "sigmoid", "identity")
_ALIASES = {"logistic": "sigmoid", "linear": "identity", "leaky": "leaky_relu"}


@dataclass(frozen=True)
class Encoding:
    """How a model wants an image turned into its input.

    ``low``/``high``: the encoded values of background and ink (for
    ``ink="high"``; swapped for ``ink="low"``). ``order``: ``"row"`` (C order,
    MNIST's) or ``"column"`` (Fortran/MATLAB order; MLPs only). ``mean`` and
    ``std``: per-channel normalisation after the range map, one value or one
    per channel (``torchvision.transforms.Normalize((0.1307,), (0.3081,))``
    after ``ToTensor()`` is ``Encoding(mean=0.1307, std=0.3081)``).
    """

    low: float = 0.0
    high: float = 1.0
    ink: str = "high"
    order: str = "row"
    mean: tuple | None = None
    std: tuple | None = None

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
        for name in ("mean", "std"):
            v = getattr(self, name)
            if v is None:
                continue
            try:
                t = tuple(float(x) for x in np.atleast_1d(np.asarray(v, dtype=np.float64)))
            except (TypeError, ValueError):
                raise TypeError(f"encoding {name} must be a number or one per channel, got {v!r}") from None
            if not t or len(t) > 64 or not all(np.isfinite(t)):
                raise ValueError(f"encoding {name} must be 1..64 finite numbers, got {v!r}")
            if name == "std" and min(t) <= 0:
                raise ValueError(f"encoding std must be positive, got {v!r}")
            object.__setattr__(self, name, t)
        if self.mean is not None and self.std is not None and \
                len(self.mean) != len(self.std) and 1 not in (len(self.mean), len(self.std)):
            raise ValueError(f"encoding mean and std have {len(self.mean)} and {len(self.std)} "
                             "channels")

    def channel_affine(self, channels: int) -> tuple[np.ndarray, np.ndarray]:
        """``(a, b)``, one value per channel: channel c of an image in [0, 1]
        (ink high) is encoded as ``a[c] * x + b[c]``: the range map, then
        ``(v - mean[c]) / std[c]`` (image pipelines' per-channel
        normalisation)."""
        span = float(self.high) - float(self.low)
        scale = span if self.ink == "high" else -span
        offset = float(self.low) if self.ink == "high" else float(self.high)
        mean = np.zeros(channels) if self.mean is None else np.broadcast_to(self.mean, channels) \
            if len(self.mean) in (1, channels) else None
        std = np.ones(channels) if self.std is None else np.broadcast_to(self.std, channels) \
            if len(self.std) in (1, channels) else None
        if mean is None or std is None:
            raise ValueError(f"the encoding's mean/std have {len(self.mean or ())}/"
                             f"{len(self.std or ())} values but the model has {channels} channels")
        return scale / std, (offset - mean) / std

    @property
    def scale(self) -> float:
        """d(encoded value)/d(ink in [0, 1]) of a grey image: positive when ink is high."""
        return float(self._grey_affine()[0][0])

    @property
    def offset(self) -> float:
        """The encoded value of a blank (background) pixel of a grey image."""
        return float(self._grey_affine()[1][0])

    def _grey_affine(self):
        if (self.mean is not None and len(self.mean) > 1) or \
                (self.std is not None and len(self.std) > 1):
            raise ValueError("this encoding normalises each colour channel apart: it has no one "
                             "scale and offset; use channel_affine(channels)")
        return self.channel_affine(1)

    def permutation(self, shape: tuple[int, int]) -> np.ndarray:
        """``perm[i]``: the model input that public (row-major) pixel ``i`` feeds."""
        h, w = shape
        idx = np.arange(h * w).reshape(h, w)
        if self.order == "row":
            return idx.ravel()
        # column order: pixel (r, c) is input c*h + r
        return (np.arange(w)[None, :] * h + np.arange(h)[:, None]).ravel()

    def encode(self, images: np.ndarray) -> np.ndarray:
        """Images (N, H, W) in [0, 1], ink high -> (N, H*W) float64 model
        inputs; colour images (N, C, H, W) -> (N, C, H, W)."""
        x = np.asarray(images, dtype=np.float64)
        n = x.shape[0]
        if x.ndim == 4:
            a, b = self.channel_affine(x.shape[1])
            return a[None, :, None, None] * x + b[None, :, None, None]
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
    return normalise_activation(name, allowed, f"{what} activation")


#: The most values a network's layers may output for one image, added up
#: (the C++ core's kMaxLayerValues).
MAX_LAYER_VALUES = 1 << 26

#: The names of MNIST's classes: the digits.
DIGITS = tuple(str(k) for k in range(10))


def _check_class_names(names, k: int, metadata) -> tuple[str, ...]:
    if names is None:
        names = (metadata or {}).get("class_names")
    if names is None:
        return DIGITS if k == 10 else tuple(str(i) for i in range(k))
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",")]
    try:
        names = tuple(str(n) for n in names)
    except TypeError:
        raise TypeError(f"class_names must be a list of {k} names, got {names!r}") from None
    if len(names) != k:
        raise ValueError(f"class_names must have one name per class ({k}), got {len(names)}")
    if any(not n or len(n) > 64 or any(ord(ch) < 32 for ch in n) for n in names):
        raise ValueError("class_names must be non-empty printable names of at most 64 characters")
    return names


class Network:
    """A network on images: a sequence of layers (:mod:`netdream.layers`).

    Parameters
    ----------
    layers : list of :class:`~netdream.layers.Conv2D`, :class:`~netdream.layers.MaxPool2D`,
        :class:`~netdream.layers.AvgPool2D`, :class:`~netdream.layers.Flatten`,
        :class:`~netdream.layers.Dense`; the last one dense, with the output
        activation (softmax, sigmoid or identity).
    image_shape : ``(height, width)`` for a grey model, ``(channels, height,
        width)`` for colour (at most 4096 per side).
    encoding : :class:`Encoding` of the model's input (default [0, 1], ink high).
    class_names : one name per output class (default the digits 0..9).
    leaky_slope : negative slope of leaky_relu.

    A network of dense layers only is an :class:`MLP` in all but name (and
    ``Network.load`` returns one).
    """

    def __init__(self, layers, *, image_shape=(28, 28), encoding=None, class_names=None,
                 leaky_slope=0.01, metadata=None):
        if not isinstance(layers, (list, tuple)) or not layers:
            raise TypeError("layers must be a non-empty list of netdream.layers objects")
        self.image_shape = _check_image_shape(image_shape)
        self.input_shape = (1, *self.image_shape) if len(self.image_shape) == 2 else self.image_shape
        self.layer_shapes = []
        shape = self.input_shape
        n = len(layers)
        held = 0  # values of the layers' outputs for one image (the core keeps a few copies)
        for l, layer in enumerate(layers):
            where = f"layers[{l}]"
            if l == 0 and isinstance(layer, Dense):
                shape = (int(np.prod(shape)),)  # a dense first layer sees the flat image
            shape = output_shape(layer, shape, where)
            if not isinstance(layer, Flatten):  # as the core stores them: channels padded to 16
                held += -(-shape[0] // 16) * 16 * int(np.prod(shape[1:]))
            if held > MAX_LAYER_VALUES:
                raise ValueError(
                    f"{where}: the layers up to here output {held:,} values for one image "
                    f"(channels rounded up to 16), more than netdream holds "
                    f"({MAX_LAYER_VALUES:,}: 256 MB in float32, kept a few times over by the "
                    "engines); use smaller images, fewer channels, or a stride or pooling earlier")
            act = getattr(layer, "activation", None)
            if act == "softmax" and l != n - 1:
                raise ValueError(f"{where}: softmax is only allowed on the last layer")
            self.layer_shapes.append(shape)
        last = layers[-1]
        if not isinstance(last, Dense):
            raise ValueError(f"layers[{n - 1}]: the last layer must be Dense (the class outputs), "
                             f"got {type(last).__name__}")
        if last.activation not in OUTPUT_ACTIVATIONS:
            raise ValueError(f"layers[{n - 1}]: the output activation must be one of "
                             f"{', '.join(OUTPUT_ACTIVATIONS)}, got {last.activation!r}")
        self.layers = tuple(layers)
        if encoding is None:
            encoding = Encoding()
        if not isinstance(encoding, Encoding):
            raise TypeError(f"encoding must be a netdream.Encoding, got {type(encoding).__name__}")
        self.encoding = encoding
        self.leaky_slope = float(leaky_slope)
        if not np.isfinite(self.leaky_slope):
            raise ValueError("leaky_slope must be finite")
        self.metadata = dict(metadata or {})
        self.class_names = _check_class_names(class_names, self.n_classes, self.metadata)
        if self.is_convolutional:
            if self.encoding.order != "row":
                raise ValueError("a convolutional network reads its image as it is: encoding "
                                 "order must be 'row'")
            self.encoding.channel_affine(self.input_shape[0])  # one mean/std per channel
        self._core_net = None

    # --------------------------------------------------------------- pickling
    def __getstate__(self):
        """A model pickles as its arrays and settings (for Dask, multiprocessing,
        joblib): the compiled core is not picklable and is rebuilt from them,
        on first use, where the model is unpickled."""
        state = self.__dict__.copy()
        state["_core_net"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)

    # ------------------------------------------------------------------ shape
    @property
    def is_convolutional(self) -> bool:
        """Whether the network has convolution or pooling layers."""
        return any(isinstance(l, (Conv2D, MaxPool2D)) for l in self.layers)

    @property
    def n_classes(self) -> int:
        return self.layers[-1].weight.shape[0]

    @property
    def output(self) -> str:
        """The output activation."""
        return self.layers[-1].activation

    @property
    def n_pixels(self) -> int:
        return math.prod(self.input_shape)  # (np.prod of a tuple: 4.5 us per forward call)

    def __repr__(self) -> str:
        name = self.metadata.get("name")
        parts = ", ".join(repr(l) if not isinstance(l, (Flatten, MaxPool2D)) else
                          (f"{type(l).__name__}({l.size})" if isinstance(l, MaxPool2D) else "Flatten")
                          for l in self.layers)
        shape = "x".join(map(str, self.input_shape))
        return f"Network({shape}: {parts}{', ' + repr(name) if name else ''})"

    # ------------------------------------------------------------------- core
    @property
    def core(self):
        """The compiled float32 network (with a float64 copy; the encoding
        folded into the first layer)."""
        if self._core_net is None:
            self._core_net = self._build_core()
        return self._core_net

    def _build_core(self):
        if not self.is_convolutional:  # dense layers only: the MLP's core
            dense = [l for l in self.layers if isinstance(l, Dense)]
            if len(self.input_shape) == 3 and self.input_shape[0] != 1:
                raise ValueError("a network of dense layers only takes grey images")
            return MLP([l.weight for l in dense], [l.bias for l in dense],
                       hidden=[l.activation for l in dense[:-1]], output=dense[-1].activation,
                       encoding=self.encoding, leaky_slope=self.leaky_slope,
                       image_shape=self.image_shape).core
        c, h, w = self.input_shape
        a, b = self.encoding.channel_affine(c)
        specs = []
        shape = self.input_shape
        acts = _core.Act.__members__
        for l, layer in enumerate(self.layers):
            if isinstance(layer, Conv2D):
                t, bo, le, r = layer.pads(shape[1], shape[2])
                specs.append(_core.LayerSpec(
                    kind=_core.Kind.conv, act=acts[layer.activation],
                    weight=layer.weight, weight_shape=list(layer.weight.shape),
                    bias=layer.bias, stride=layer.stride, padding=[t, bo, le, r]))
            elif isinstance(layer, MaxPool2D):
                kind = _core.Kind.avgpool if isinstance(layer, AvgPool2D) else _core.Kind.maxpool
                specs.append(_core.LayerSpec(kind=kind, size=layer.size, stride=layer.stride))
            elif isinstance(layer, Flatten):
                specs.append(_core.LayerSpec(kind=_core.Kind.flatten))
            else:
                specs.append(_core.LayerSpec(
                    kind=_core.Kind.dense, act=acts[layer.activation],
                    weight=layer.weight, weight_shape=list(layer.weight.shape),
                    bias=layer.bias))
            shape = self.layer_shapes[l]
        return _core.Net.convolutional(specs, c, h, w, a.tolist(), b.tolist(), self.leaky_slope)

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
        out = self.core.forward(x.reshape(x.shape[0], self.n_pixels), check_threads(threads),
                                logits)
        return out[0] if single else out

    def predict(self, images, *, threads=None) -> np.ndarray:
        """Predicted class, ``(N,)`` int64 (a scalar for one image)."""
        p = self.predict_proba(images, threads=threads)
        return np.argmax(p, axis=-1)

    def encode(self, images) -> np.ndarray:
        """The model's own input for images: ``(N, n_in)`` float64 for an MLP,
        ``(N, C, H, W)`` for a convolutional network."""
        x, _ = as_images(images, shape=self.image_shape, keep_float64=True)
        x = unit_float(x)
        if self.is_convolutional:
            return self.encoding.encode(x.reshape(x.shape[0], *self.input_shape))
        return self.encoding.encode(x)

    def with_class_names(self, class_names) -> "Network":
        """A copy of the model whose classes have these names (a list of
        ``n_classes`` names, or one string of names separated by commas):
        grids, GIFs, the report, :func:`netdream.evaluate` and the CLI show
        them, and ``save`` keeps them (``None``: the default names, the
        digits for ten classes). The copy computes exactly what the model
        does (it shares the compiled core); an :class:`MLP` stays one.

        >>> net = netdream.importers.from_torch(module, image_shape=(3, 32, 32))
        >>> net = net.with_class_names(["airplane", "automobile", ..., "truck"])
        """
        names = _check_class_names(class_names, self.n_classes, None)
        other = copy.copy(self)
        other.metadata = dict(self.metadata)
        other.metadata.pop("class_names", None)
        other.class_names = names
        return other

    # -------------------------------------------------------------------- I/O
    def save(self, path) -> None:
        """Write netdream's ``.npz`` format (see :mod:`netdream.formats`)."""
        from .formats import save_npz
        save_npz(self, path)

    @classmethod
    def load(cls, path) -> "Network":
        """Read a model: netdream ``.npz`` (:mod:`netdream.formats`), or the
        seed network's ``net.js``. An MLP comes back as an :class:`MLP`."""
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
    def from_sklearn(cls, clf, encoding=None, *, class_names=None) -> "MLP":
        """A fitted ``sklearn.neural_network.MLPClassifier`` as an MLP (see
        :func:`netdream.importers.from_sklearn`). ``encoding`` describes
        the input the classifier was trained on (default: [0, 1], ink high,
        row-major)."""
        from .importers import from_sklearn
        return from_sklearn(clf, encoding=encoding, class_names=class_names)

    @classmethod
    def from_torch(cls, module_or_state_dict, layers=None, *, encoding=None, output=None,
                   image_shape=(28, 28), class_names=None):
        """A PyTorch network (see :func:`netdream.importers.from_torch`).
        ``encoding``: the input the network was trained on (default [0, 1],
        ink high, row-major)."""
        from .importers import from_torch
        return from_torch(module_or_state_dict, layers, encoding=encoding, output=output,
                          image_shape=image_shape, class_names=class_names)

    @classmethod
    def from_keras(cls, model, *, encoding=None, output=None, class_names=None):
        """A Keras 3 model (see :func:`netdream.importers.from_keras`)."""
        from .importers import from_keras
        return from_keras(model, encoding=encoding, output=output, class_names=class_names)

    @classmethod
    def from_onnx(cls, path, *, encoding=None, output=None, class_names=None):
        """An ONNX model (see :func:`netdream.importers.from_onnx`)."""
        from .importers import from_onnx
        return from_onnx(path, encoding=encoding, output=output, class_names=class_names)

    @classmethod
    def pretrained(cls, name: str = "mlp") -> "Network":
        """A model shipped inside the package: ``"mlp"`` (the default
        784-384-10 MLP), ``"mlp-standard"``, ``"cnn"`` or ``"cnn-standard"``; see
        :func:`netdream.pretrained` and the model cards in ``netdream/data``."""
        return pretrained(name)

    # ----------------------------------------------------------------- Jupyter
    def _repr_html_(self) -> str:
        from html import escape
        rows = "".join(
            f"<tr><td>{l}</td><td>{escape(repr(layer))}</td><td>{'&times;'.join(map(str, shp))}</td></tr>"
            for l, (layer, shp) in enumerate(zip(self.layers, self.layer_shapes)))
        enc = self.encoding
        norm = ""
        if enc.mean is not None or enc.std is not None:  # an image pipeline's normalisation
            mean = ", ".join(f"{v:.4g}" for v in enc.mean or (0.0,))
            std = ", ".join(f"{v:.4g}" for v in enc.std or (1.0,))
            norm = f", then (x &minus; mean) / std per channel: mean ({mean}), std ({std})"
        return (f"<b>netdream.{type(self).__name__}</b> {escape(str(self.metadata.get('name', '')))}"
                f"<br>input: {'&times;'.join(map(str, self.input_shape))} &rarr; "
                f"[{enc.low:g}, {enc.high:g}], ink {enc.ink}{norm}; classes: "
                f"{escape(', '.join(self.class_names))}"
                f"<table><tr><th>layer</th><th></th><th>output</th></tr>{rows}</table>")


class MLP(Network):
    """A dense multilayer perceptron on images (28x28 by default).

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
    class_names : one name per output class (default the digits 0..9)
    """

    def __init__(self, weights, biases, hidden="relu", output="softmax", *, encoding=None,
                 leaky_slope=0.01, image_shape=(28, 28), metadata=None, class_names=None):
        if not isinstance(weights, (list, tuple)) or not isinstance(biases, (list, tuple)):
            raise TypeError("weights and biases must be lists of arrays")
        if len(weights) == 0:
            raise ValueError("weights: a network needs at least one layer")
        if len(weights) != len(biases):
            raise ValueError(f"weights has {len(weights)} layers but biases has {len(biases)}")
        image_shape = _check_image_shape(image_shape)
        if len(image_shape) != 2:
            raise ValueError(f"image_shape of an MLP must be a pair (height, width) of a greyscale "
                             f"image, got {image_shape!r}")
        n_pixels = image_shape[0] * image_shape[1]
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
        out = _normalise_act(output, OUTPUT_ACTIVATIONS, "output")
        layers = [Dense(w, b, a) for w, b, a in zip(ws, bs, [*self.hidden, out])]
        super().__init__(layers, image_shape=image_shape, encoding=encoding,
                         class_names=class_names, leaky_slope=leaky_slope, metadata=metadata)
        self.weights = [layer.weight for layer in self.layers]
        self.biases = [layer.bias for layer in self.layers]

    # ------------------------------------------------------------------ shape
    @property
    def sizes(self) -> list[int]:
        """Layer widths, input first: e.g. ``[784, 200, 10]``."""
        return [self.weights[0].shape[1]] + [w.shape[0] for w in self.weights]

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

    def _build_core(self):
        w_pub, b_pub = self.public_first_layer()
        ws = [w_pub] + list(self.weights[1:])
        bs = [b_pub] + list(self.biases[1:])
        for l, (w, b) in enumerate(zip(ws, bs)):
            if (np.abs(w).max() > np.finfo(np.float32).max or
                    np.abs(b).max() > np.finfo(np.float32).max):
                raise ValueError(f"weights[{l}] overflow float32")
        return _core.Net(
            [np.ascontiguousarray(w, dtype=np.float64) for w in ws],
            [np.ascontiguousarray(b, dtype=np.float64) for b in bs],
            [_core.Act.__members__[a] for a in self.activations],
            image_shape=(1, *self.image_shape), leaky_slope=self.leaky_slope)

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


def load(path) -> Network:
    """Read a model from a file: netdream ``.npz`` (:mod:`netdream.formats`)
    or the seed network's ``net.js``."""
    from .formats import load_model
    return load_model(path)


_PRETRAINED = {"mlp": "default.npz", "default": "default.npz", "mlp-standard": "standard.npz",
               "cnn": "cnn.npz", "cnn-standard": "cnn-standard.npz"}
# The shipped models' names, as errors and the command line list them.
SHIPPED = ("mlp", "mlp-standard", "cnn", "cnn-standard")


def pretrained(name: str = "mlp") -> Network:
    """A model shipped inside the package: ``"mlp"`` (the default MLP,
    adversarially trained: its dreams look like digits), ``"mlp-standard"``
    (the earlier default, trained on clean digits only: dreams like worms,
    fooled in a few dozen generations), ``"cnn"`` (a small convolutional
    network, adversarially trained as the MLP) or ``"cnn-standard"`` (the
    same convolutions trained on clean digits only: more accurate, its
    dreams stroke fragments that other networks rarely read as the digit).
    Their model cards are in ``netdream/data``."""
    if not isinstance(name, str) or name not in _PRETRAINED:
        raise ValueError(f"name must be one of {', '.join(map(repr, SHIPPED))}, got {name!r}")
    ref = resources.files("netdream") / "data" / _PRETRAINED[name]
    if not ref.is_file():
        raise FileNotFoundError(f"the pretrained model {name!r} is not in this installation")
    with resources.as_file(ref) as p:
        return load(p)


def _float_array(a, name):
    try:
        arr = np.array(a, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array: {exc}") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _check_image_shape(shape) -> tuple[int, ...]:
    """A model's image shape: (height, width) for grey images or (channels,
    height, width) for colour, positive integers (sides up to 4096,
    channels up to 64)."""
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(f"image_shape must be a pair (height, width) or (channels, height, "
                        f"width), got {shape!r}") from None
    if len(dims) not in (2, 3):
        raise ValueError(f"image_shape must be a pair (height, width) or (channels, height, "
                         f"width), got {dims!r}")
    out = []
    for d in dims:
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
            raise TypeError(f"image_shape must hold integers, got {dims!r}")
        out.append(int(d))
    if len(out) == 3 and out[0] == 1:
        out = out[1:]  # one channel: a grey image
    sides = out[-2:]
    if not all(1 <= v <= 4096 for v in sides) or (len(out) == 3 and not 1 <= out[0] <= 64):
        raise ValueError(f"image_shape sizes must lie in 1..4096 (channels 1..64), got {dims!r}")
    if int(np.prod(out)) > 1 << 24:
        raise ValueError(f"image_shape {dims!r} is too large")
    return tuple(out)
