"""The layers a :class:`netdream.Network` is made of.

A network is a sequence of layers on an image of ``(channels, height,
width)``: :class:`Conv2D`, :class:`MaxPool2D`, :class:`AvgPool2D`,
:class:`Flatten` and :class:`Dense`, in PyTorch's conventions — a
convolution's weight is ``(out_channels, in_channels, kh, kw)``, a dense
layer's ``(n_out, n_in)`` with ``n_in`` in the channels-first order
``(c, y, x)`` of the layer before (what ``torch.nn.Flatten`` gives; Keras
flattens channels last, which the Keras importer reorders). A layer that
computes its outputs carries its activation: the hidden ones ``identity``,
``relu``, ``leaky_relu``, ``sigmoid``, ``tanh``; the last layer's
``softmax``, ``sigmoid`` or ``identity``. Dropout computes nothing at
inference and has no layer; batch normalisation is folded into the
convolution or dense layer next to it by the importers.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

__all__ = ["Dense", "Conv2D", "MaxPool2D", "AvgPool2D", "Flatten", "ACTIVATIONS",
           "OUTPUT_ACTIVATIONS", "normalise_activation", "output_shape"]

#: Activations of hidden layers.
ACTIVATIONS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh")
#: Activations of the last layer.
OUTPUT_ACTIVATIONS = ("softmax", "sigmoid", "identity")
_ALIASES = {"logistic": "sigmoid", "linear": "identity", "leaky": "leaky_relu", "none": "identity"}


def normalise_activation(name, allowed=ACTIVATIONS + ("softmax",), what="activation") -> str:
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a string, got {type(name).__name__}")
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in allowed:
        raise ValueError(f"{what} {name!r} is not supported; choose from {', '.join(allowed)}")
    return key


def _array(a, name, ndim) -> np.ndarray:
    try:
        arr = np.array(a, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array: {exc}") from None
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    arr.flags.writeable = False
    return arr


def _positive_int(v, name, most=4096) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or not 1 <= int(v) <= most:
        raise ValueError(f"{name} must be a whole number in 1..{most}, got {v!r}")
    return int(v)


@dataclass(frozen=True, eq=False)
class Dense:
    """``activation(weight @ x + bias)``: weight ``(n_out, n_in)``, bias ``(n_out,)``."""

    weight: np.ndarray
    bias: np.ndarray
    activation: str = "identity"

    def __post_init__(self):
        w = _array(self.weight, "Dense weight", 2)
        b = _array(self.bias, "Dense bias", 1)
        if b.shape != (w.shape[0],):
            raise ValueError(f"Dense bias must have shape ({w.shape[0]},), got {b.shape}")
        if 0 in w.shape:
            raise ValueError(f"Dense weight has no outputs or inputs: shape {w.shape}")
        object.__setattr__(self, "weight", w)
        object.__setattr__(self, "bias", b)
        object.__setattr__(self, "activation", normalise_activation(self.activation))

    def __repr__(self):
        return f"Dense({self.weight.shape[1]} -> {self.weight.shape[0]}, {self.activation})"


@dataclass(frozen=True, eq=False)
class Conv2D:
    """A 2-D convolution (cross-correlation, as every framework computes it):
    weight ``(out_channels, in_channels, kh, kw)`` (any sizes, odd or even),
    bias ``(out_channels,)``, ``stride`` (1 or more), ``padding``: "valid"
    (none), "same" (TensorFlow's: the output has ceil(size / stride)
    positions, the smaller half of the padding before), a number of rows and
    columns on every side, or ``(top, bottom, left, right)``."""

    weight: np.ndarray
    bias: np.ndarray
    stride: int = 1
    padding: object = "valid"
    activation: str = "identity"

    def __post_init__(self):
        w = _array(self.weight, "Conv2D weight", 4)
        b = _array(self.bias, "Conv2D bias", 1)
        if b.shape != (w.shape[0],):
            raise ValueError(f"Conv2D bias must have shape ({w.shape[0]},), got {b.shape}")
        if 0 in w.shape:
            raise ValueError(f"Conv2D weight is empty: shape {w.shape}")
        object.__setattr__(self, "weight", w)
        object.__setattr__(self, "bias", b)
        object.__setattr__(self, "stride", _positive_int(self.stride, "Conv2D stride", 16))
        p = self.padding
        if isinstance(p, str):
            if p not in ("valid", "same"):
                raise ValueError(f"Conv2D padding must be 'valid', 'same', a number or "
                                 f"(top, bottom, left, right), got {p!r}")
        elif isinstance(p, numbers.Integral) and not isinstance(p, bool):
            p = (int(p),) * 4
        else:
            try:
                p = tuple(int(v) for v in p)
            except (TypeError, ValueError):
                raise ValueError(f"Conv2D padding must be 'valid', 'same', a number or "
                                 f"(top, bottom, left, right), got {p!r}") from None
            if len(p) == 2:  # (rows, columns)
                p = (p[0], p[0], p[1], p[1])
        if not isinstance(p, str) and (len(p) != 4 or min(p) < 0 or max(p) > 64):
            raise ValueError(f"Conv2D padding must be 4 numbers in 0..64, got {p!r}")
        object.__setattr__(self, "padding", p)
        object.__setattr__(self, "activation", normalise_activation(self.activation))

    def pads(self, h: int, w: int) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) on an input of h x w."""
        if self.padding == "valid":
            return (0, 0, 0, 0)
        if self.padding == "same":
            kh, kw = self.weight.shape[2:]
            s = self.stride
            th = max((-(-h // s) - 1) * s + kh - h, 0)
            tw = max((-(-w // s) - 1) * s + kw - w, 0)
            return (th // 2, th - th // 2, tw // 2, tw - tw // 2)
        return tuple(self.padding)

    def __repr__(self):
        o, i, kh, kw = self.weight.shape
        return (f"Conv2D({i} -> {o}, {kh}x{kw}, stride {self.stride}, padding "
                f"{self.padding!r}, {self.activation})")


@dataclass(frozen=True)
class MaxPool2D:
    """The maximum of each ``size`` x ``size`` window, every ``stride``
    (default ``size``) positions, no padding (a partial window at the border
    is dropped, as PyTorch and Keras do by default)."""

    size: int = 2
    stride: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "size", _positive_int(self.size, f"{type(self).__name__} size", 64))
        stride = self.size if self.stride is None else self.stride
        object.__setattr__(self, "stride", _positive_int(stride, f"{type(self).__name__} stride", 64))


@dataclass(frozen=True)
class AvgPool2D(MaxPool2D):
    """The mean of each ``size`` x ``size`` window (see :class:`MaxPool2D`)."""


@dataclass(frozen=True)
class Flatten:
    """(channels, height, width) -> one vector, channels first (PyTorch's order)."""


def output_shape(layer, shape: tuple[int, ...], where: str = "layer") -> tuple[int, ...]:
    """The output shape of ``layer`` on an input of ``shape``: (c, h, w) for
    images, (n,) for vectors. Raises a ValueError naming ``where`` when the
    layer does not fit."""
    if isinstance(layer, Dense):
        n_in = layer.weight.shape[1]
        if len(shape) != 1:
            raise ValueError(f"{where}: a Dense layer needs a vector (add a Flatten before it), got "
                             f"an input of shape {shape}")
        if shape[0] != n_in:
            raise ValueError(f"{where}: Dense weight takes {n_in} inputs but the layer before gives "
                             f"{shape[0]}")
        return (layer.weight.shape[0],)
    if isinstance(layer, Flatten):
        return (int(np.prod(shape)),)
    if len(shape) != 3:
        raise ValueError(f"{where}: {type(layer).__name__} needs an image (channels, height, width), "
                         f"got an input of shape {shape}")
    c, h, w = shape
    if isinstance(layer, Conv2D):
        oc, ic, kh, kw = layer.weight.shape
        if ic != c:
            raise ValueError(f"{where}: Conv2D takes {ic} input channels but the layer before gives {c}")
        t, b, l, r = layer.pads(h, w)
        if h + t + b < kh or w + l + r < kw:
            raise ValueError(f"{where}: the {kh}x{kw} kernel is larger than its padded "
                             f"{h + t + b}x{w + l + r} input")
        s = layer.stride
        return (oc, (h + t + b - kh) // s + 1, (w + l + r - kw) // s + 1)
    if isinstance(layer, MaxPool2D):  # and AvgPool2D
        if layer.size > h or layer.size > w:
            raise ValueError(f"{where}: the {layer.size}x{layer.size} pool is larger than its "
                             f"{h}x{w} input")
        return (c, (h - layer.size) // layer.stride + 1, (w - layer.size) // layer.stride + 1)
    raise TypeError(f"{where}: not a netdream layer: {type(layer).__name__}")
