"""A PyTorch ``nn.Sequential`` with convolutions as a netdream
:class:`~netdream.Network` (see :func:`netdream.importers.torch.from_torch`).

Read layer by layer: ``Conv2d`` (any kernel, stride, zero padding given as a
number, a pair or "same"/"valid"; no dilation or groups), ``MaxPool2d`` and
``AvgPool2d`` (no padding or ceil mode; AvgPool2d then never counts padding),
``AdaptiveAvgPool2d`` and ``AdaptiveMaxPool2d`` on a square map whose side the
output size divides (global pooling: ``output_size=1``),
``Flatten``, ``Linear``; ``BatchNorm2d`` / ``BatchNorm1d`` in eval mode,
folded exactly into the convolution or linear layer before them; the
element-wise activations, which become the activation of the layer before
them (also across max pooling, with which they commute); ``Dropout`` in eval mode (nothing at inference); a last ``Softmax`` /
``LogSoftmax`` / ``Sigmoid``. Anything else is refused, naming the layer.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..layers import AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D, output_shape
from ..model import Encoding, Network, _check_image_shape
from ._steps import batchnorm_scale_shift, cnn_output, fold_batchnorm

__all__ = ["is_convolutional", "holds_convolutions", "network_from_sequential"]

_CONV_KINDS = ("Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm2d", "AdaptiveAvgPool2d",
               "AdaptiveMaxPool2d")
_ACTS = {"ReLU": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "LeakyReLU": "leaky_relu",
         "Identity": None}


def _children(seq, nn, prefix=""):
    for name, m in seq.named_children():
        if type(m) is nn.Sequential:
            yield from _children(m, nn, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", m


def is_convolutional(seq, nn) -> bool:
    """Whether a Sequential holds a convolution or pooling layer."""
    return any(type(m).__name__ in _CONV_KINDS for _, m in _children(seq, nn))


def _conv_before_max_pools(layers):
    """The index of the convolution without activation that the last layers,
    max pooling only, follow; ``None`` when there is none."""
    i = len(layers) - 1
    while i >= 0 and type(layers[i]) is MaxPool2D:
        i -= 1
    if i < len(layers) - 1 and i >= 0 and isinstance(layers[i], Conv2D) and \
            layers[i].activation == "identity":
        return i
    return None


def _feature_map(layers, image_shape, where):
    """The (channels, height, width) that ``layers`` make of an image."""
    shape = _check_image_shape(image_shape)
    shape = (1, *shape) if len(shape) == 2 else shape
    for l, layer in enumerate(layers):
        shape = output_shape(layer, shape, f"layer {l}")
    if len(shape) != 3:
        raise ValueError(f"{where} pools a vector: it must come before the Flatten")
    return shape


def _adaptive_window(h, w, oh, ow, where):
    """(size, stride) of the pooling that adaptive pooling of an h x w map
    to oh x ow is: exact when the map is square and oh divides it (global
    pooling: oh = 1)."""
    if h != w or oh != ow or h % oh:
        raise ValueError(f"{where} pools a {h}x{w} map to {oh}x{ow}; netdream pools square "
                         "windows with equal strides, so it reads adaptive pooling of a square "
                         "map whose side the output size divides (global pooling: "
                         "output_size=1)")
    return h // oh, h // oh


def holds_convolutions(module) -> bool:
    """Whether a module or any module inside it is a convolution, pooling or
    2-D batch normalisation layer."""
    return any(type(m).__name__ in _CONV_KINDS for m in module.modules())


def _np(t):
    return t.detach().cpu().double().numpy()


def network_from_sequential(seq, nn, *, image_shape, encoding, output, torch_version) -> Network:
    """The Network of ``seq`` on images of ``image_shape``."""
    shape = _check_image_shape(image_shape)
    layers, names = [], []
    pending = None  # [kind, weight, bias, activation, extra] of the layer being built
    slope = None
    out_act = None
    log_softmax = False

    def flush():
        nonlocal pending
        if pending is None:
            return
        kind, w, b, a, extra = pending
        if kind == "conv":
            layers.append(Conv2D(w, b, stride=extra[0], padding=extra[1], activation=a or "identity"))
        else:
            layers.append(Dense(w, b, a or "identity"))
        pending = None

    children = list(_children(seq, nn))
    for i, (name, m) in enumerate(children):
        kind = type(m).__name__
        where = f"layer {name} ({kind})"
        if getattr(m, "_forward_hooks", None) or getattr(m, "_forward_pre_hooks", None):
            raise ValueError(f"{where} has forward hooks, which may change what it computes")
        if getattr(nn, kind, None) is not type(m):
            raise ValueError(f"{where} is not a torch.nn layer (a subclass may change forward)")
        names.append(f"{name}: {m!r}")
        if kind == "Conv2d":
            flush()
            if m.dilation != (1, 1) or m.groups != 1 or m.padding_mode != "zeros":
                raise ValueError(f"{where} uses dilation, groups or non-zero padding, which "
                                 "netdream does not represent")
            if m.stride[0] != m.stride[1]:
                raise ValueError(f"{where} has different strides along y and x: {m.stride}")
            pad = m.padding
            if not isinstance(pad, str):
                pad = (pad[0], pad[0], pad[1], pad[1])
            w = _np(m.weight)
            b = np.zeros(w.shape[0]) if m.bias is None else _np(m.bias)
            pending = ["conv", w, b, None, (m.stride[0], pad)]
        elif kind == "Linear":
            flush()
            if not layers or not isinstance(layers[-1], (Flatten, Dense)):
                raise ValueError(f"{where} follows a feature map: add nn.Flatten() before it")
            w = _np(m.weight)
            pending = ["dense", w, np.zeros(w.shape[0]) if m.bias is None else _np(m.bias), None,
                       None]
        elif kind in ("BatchNorm2d", "BatchNorm1d"):
            if m.training:
                raise ValueError(f"{where} is in training mode: call module.eval() first")
            if pending is None or pending[3] is not None or m.running_mean is None:
                raise ValueError(f"{where} must directly follow a Conv2d or Linear layer (before "
                                 "its activation) and track running statistics, to be folded "
                                 "into it")
            s, t = batchnorm_scale_shift(_np(m.running_mean), _np(m.running_var), m.eps,
                                         None if m.weight is None else _np(m.weight),
                                         None if m.bias is None else _np(m.bias))
            pending[1], pending[2] = fold_batchnorm(pending[1], pending[2], s, t)
        elif kind in _ACTS:
            a = _ACTS[kind]
            if a is None:
                continue
            pooled = _conv_before_max_pools(layers) if pending is None else None
            if (pending is None or pending[3] is not None) and pooled is None:
                raise ValueError(f"{where} must follow a Conv2d or Linear layer")
            if kind == "LeakyReLU":
                if slope is not None and slope != m.negative_slope:
                    raise ValueError(f"{where}: netdream supports one negative slope per network")
                slope = m.negative_slope
                if pooled is not None and slope < 0:
                    raise ValueError(f"{where} has a negative slope, so it does not commute "
                                     "with the max pooling before it")
            if pooled is not None:  # act(max_pool(conv)) == max_pool(act(conv)): acts never decrease
                layers[pooled] = dataclasses.replace(layers[pooled], activation=a)
                continue
            last = i == len(children) - 1 or all(
                type(c).__name__.startswith("Dropout") for _, c in children[i + 1:])
            if kind == "Sigmoid" and last and pending[0] == "dense":
                out_act = "sigmoid"
            pending[3] = a
        elif kind in ("MaxPool2d", "AvgPool2d"):
            flush()
            k, s, p = m.kernel_size, m.stride, m.padding
            k = k if isinstance(k, int) else k[0] if k[0] == k[1] else None
            s = s if isinstance(s, int) else s[0] if s[0] == s[1] else None
            if k is None or s is None or p not in (0, (0, 0)) or m.ceil_mode or \
                    (kind == "MaxPool2d" and m.dilation not in (1, (1, 1))) or \
                    getattr(m, "divisor_override", None):
                raise ValueError(f"{where}: netdream pools square windows with equal strides, "
                                 "no padding, dilation, ceil mode or divisor override")
            layers.append((MaxPool2D if kind == "MaxPool2d" else AvgPool2D)(k, s))
        elif kind in ("AdaptiveAvgPool2d", "AdaptiveMaxPool2d"):
            flush()
            _, h, w = _feature_map(layers, shape, where)
            out = m.output_size
            oh, ow = (out, out) if isinstance(out, int) else (out[0] or h, out[1] or w)
            layers.append((MaxPool2D if kind == "AdaptiveMaxPool2d" else AvgPool2D)(
                *_adaptive_window(h, w, oh, ow, where)))
        elif kind == "Flatten":
            flush()
            if (m.start_dim, m.end_dim) != (1, -1):
                raise ValueError(f"{where} must flatten all but the batch dimension")
            if not any(isinstance(l, Flatten) for l in layers):  # later ones: flat already
                layers.append(Flatten())
        elif kind.startswith("Dropout"):
            if m.training:
                raise ValueError(f"{where} is in training mode: call module.eval() first")
        elif kind in ("Softmax", "LogSoftmax"):
            if i != len(children) - 1:
                raise ValueError(f"{where} must be the last layer")
            if m.dim not in (None, 1, -1):
                raise ValueError(f"{where} is taken over dimension {m.dim}; netdream's softmax "
                                 "is over the classes (dim=1 or -1)")
            out_act = "softmax"
            log_softmax = kind == "LogSoftmax"
        else:
            raise ValueError(f"{where} is not supported in a convolutional network: netdream "
                             "reads Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, "
                             "AdaptiveMaxPool2d, BatchNorm2d/1d, Flatten, Linear, ReLU, "
                             "LeakyReLU, Sigmoid, Tanh, Dropout, Softmax")
    if pending is None or pending[0] != "dense":
        raise ValueError("the network must end in a Linear layer (the class outputs)")
    out_act, added = cnn_output(out_act, pending[3], output, "Linear")
    pending[3] = out_act
    flush()
    if len(shape) == 2:
        shape = (1, *shape)
    first = next((l for l in layers if isinstance(l, Conv2D)), None)
    if first is not None and first.weight.shape[1] != shape[0]:
        raise ValueError(f"the first Conv2d takes {first.weight.shape[1]} channels; give "
                         f"image_shape=(channels, height, width) (got {image_shape!r})")
    metadata = {"source": "torch.nn.Sequential", "layers": names, "torch_version": torch_version,
                "output_added": added}
    if log_softmax:
        metadata["log_softmax"] = True  # exp(network output) == predict_proba
    return Network(layers, image_shape=shape, encoding=encoding or Encoding(),
                   leaky_slope=0.01 if slope is None else slope, metadata=metadata)
