"""A PyTorch ``nn.Sequential`` with convolutions as a netdream
:class:`~netdream.Network` (see :func:`netdream.importers.torch.from_torch`).

Read module by module into the importers' steps (:mod:`._steps`), one
handler per ``torch.nn`` class (:data:`CONV_MODULES`), and assembled as every
importer's convolutional network is (:func:`._steps.assemble_network`):
``Conv2d`` (any kernel, stride, zero padding given as a number, a pair or
"same"/"valid"; no dilation or groups), ``MaxPool2d`` and ``AvgPool2d`` (no
padding or ceil mode; AvgPool2d then never counts padding),
``AdaptiveAvgPool2d`` and ``AdaptiveMaxPool2d`` on a square map whose side the
output size divides (global pooling: ``output_size=1``), ``Flatten``,
``Linear``; ``BatchNorm2d`` / ``BatchNorm1d`` in eval mode, folded exactly
into the convolution or linear layer before them (or the linear layer after
them); the element-wise activations of the dense importer (``ReLU``,
``LeakyReLU``, ``PReLU`` with one parameter, ``Sigmoid``, ``Tanh``,
``Identity``), which become the activation of the layer before them (also
across max pooling, with which they commute); ``Dropout`` in eval mode
(nothing at inference); a last ``Softmax`` / ``LogSoftmax`` / ``Sigmoid``.
Anything else is refused, naming the layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..layers import AvgPool2D, Conv2D, MaxPool2D, output_shape
from ..model import Encoding, Network, _check_image_shape
from . import _steps as steps_
from ._handlers import Handlers
from .torch import MODULES, TorchContext, _check_no_hooks, _sequential_steps

__all__ = ["is_convolutional", "holds_convolutions", "network_from_sequential", "CONV_MODULES"]

_CONV_KINDS = ("Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm2d", "AdaptiveAvgPool2d",
               "AdaptiveMaxPool2d")


def _children(seq, nn):
    for m in seq.children():
        if type(m) is nn.Sequential:
            yield from _children(m, nn)
        else:
            yield m


def is_convolutional(seq, nn) -> bool:
    """Whether a Sequential holds a convolution or pooling layer."""
    return any(type(m).__name__ in _CONV_KINDS for m in _children(seq, nn))


def holds_convolutions(module) -> bool:
    """Whether a module or any module inside it is a convolution, pooling or
    2-D batch normalisation layer."""
    return any(type(m).__name__ in _CONV_KINDS for m in module.modules())


def network_from_sequential(seq, nn, *, image_shape, encoding, output, torch_version) -> Network:
    """The Network of ``seq`` on images of ``image_shape``."""
    shape = _check_image_shape(image_shape)
    shape = (1, *shape) if len(shape) == 2 else shape
    _check_no_hooks(seq, "the module")
    ctx = ConvContext(nn=nn, shape=shape, table=CONV_MODULES, image_shape=image_shape)
    steps, names = _sequential_steps(seq, ctx)
    metadata = {"source": "torch.nn.Sequential", "layers": names, "torch_version": torch_version}
    return steps_.assemble_network(steps, output, encoding or Encoding(), metadata, shape)


# ------------------------------------------------------------ the handlers
@dataclass
class ConvContext(TorchContext):
    """What the convolutional network's handlers share besides the dense
    importer's: ``shape`` is tracked ((channels, height, width), then (n,)
    after the Flatten), ``image_shape`` is the caller's and ``convs`` counts
    the convolutions read."""

    image_shape: object = None
    convs: int = 0

    def refuse(self, where):
        return ValueError(f"{where} is not supported in a convolutional network: netdream "
                          f"reads {', '.join(CONV_MODULES.names())}")


CONV_MODULES = Handlers("torch.nn modules")
for _name in MODULES:  # the dense importer's (Linear, Flatten and BatchNorm1d below)
    if _name not in ("Linear", "Flatten", "BatchNorm1d"):
        CONV_MODULES.register(_name)(MODULES.get(_name))


def _feature_map(ctx):
    """The (channels, height, width) entering the node; refuses a vector."""
    if len(ctx.shape) != 3:
        raise ValueError(f"{ctx.where} follows the Flatten: it must come before it")
    return ctx.shape


@CONV_MODULES.register("Conv2d")
def _conv_module(m, ctx):
    if m.dilation != (1, 1) or m.groups != 1 or m.padding_mode != "zeros":
        raise ValueError(f"{ctx.where} uses dilation, groups or non-zero padding, which "
                         "netdream does not represent")
    if m.stride[0] != m.stride[1]:
        raise ValueError(f"{ctx.where} has different strides along y and x: {m.stride}")
    channels = _feature_map(ctx)[0]
    if m.in_channels != channels:
        if not ctx.convs:
            raise ValueError(f"the first Conv2d takes {m.in_channels} channels; give "
                             f"image_shape=(channels, height, width) (got {ctx.image_shape!r})")
        raise ValueError(f"{ctx.where} takes {m.in_channels} channels but the layer before it "
                         f"gives {channels}")
    pad = m.padding if isinstance(m.padding, str) else (m.padding[0], m.padding[0],
                                                        m.padding[1], m.padding[1])
    w = steps_.to_numpy(m.weight)
    b = np.zeros(w.shape[0]) if m.bias is None else steps_.to_numpy(m.bias)
    ctx.shape = output_shape(Conv2D(w, b, stride=m.stride[0], padding=pad), ctx.shape, ctx.where)
    ctx.convs += 1
    return [steps_.conv(ctx.where, w, b, m.stride[0], pad)]


@CONV_MODULES.register("MaxPool2d", "AvgPool2d")
def _pool_module(m, ctx):
    k, s, p = m.kernel_size, m.stride, m.padding
    k = k if isinstance(k, int) else k[0] if k[0] == k[1] else None
    s = s if isinstance(s, int) else s[0] if s[0] == s[1] else None
    if k is None or s is None or p not in (0, (0, 0)) or m.ceil_mode or \
            (ctx.op == "MaxPool2d" and m.dilation not in (1, (1, 1))) or \
            getattr(m, "divisor_override", None):
        raise ValueError(f"{ctx.where}: netdream pools square windows with equal strides, "
                         "no padding, dilation, ceil mode or divisor override")
    return _pool(ctx, "max" if ctx.op == "MaxPool2d" else "avg", k, s)


@CONV_MODULES.register("AdaptiveAvgPool2d", "AdaptiveMaxPool2d")
def _adaptive_pool_module(m, ctx):
    _, h, w = _feature_map(ctx)
    out = m.output_size
    oh, ow = (out, out) if isinstance(out, int) else (out[0] or h, out[1] or w)
    if h != w or oh != ow or h % oh:
        raise ValueError(f"{ctx.where} pools a {h}x{w} map to {oh}x{ow}; netdream pools square "
                         "windows with equal strides, so it reads adaptive pooling of a square "
                         "map whose side the output size divides (global pooling: "
                         "output_size=1)")
    return _pool(ctx, "max" if ctx.op == "AdaptiveMaxPool2d" else "avg", h // oh, h // oh)


def _pool(ctx, kind, size, stride):
    _feature_map(ctx)
    ctx.shape = output_shape((MaxPool2D if kind == "max" else AvgPool2D)(size, stride),
                             ctx.shape, ctx.where)
    return [steps_.pool(ctx.where, kind, size, stride)]


@CONV_MODULES.register("BatchNorm2d", "BatchNorm1d")
def _batchnorm_module(m, ctx):
    if ctx.op == "BatchNorm2d":
        _feature_map(ctx)
        if ctx.last not in ("", "Conv2d", "BatchNorm2d"):  # first: the input's normalisation
            raise ValueError(f"{ctx.where} must directly follow a Conv2d (before its "
                             "activation), to be folded into it, or come first (the input's "
                             "normalisation)")
    return MODULES.get("BatchNorm1d")(m, ctx)


@CONV_MODULES.register("Flatten")
def _flatten_module(m, ctx):
    if (m.start_dim, m.end_dim) != (1, -1):
        raise ValueError(f"{ctx.where} must flatten all but the batch dimension")
    if len(ctx.shape) == 1:  # flat already: nothing to do
        return []
    ctx.shape = (ctx.shape[0] * ctx.shape[1] * ctx.shape[2],)
    return [steps_.flatten(ctx.where)]


@CONV_MODULES.register("Linear")
def _linear_module(m, ctx):
    if len(ctx.shape) != 1:
        raise ValueError(f"{ctx.where} follows a feature map: add nn.Flatten() before it")
    ctx.shape = (m.out_features,)
    return MODULES.get("Linear")(m, ctx)
