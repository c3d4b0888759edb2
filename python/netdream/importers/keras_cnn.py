"""A Keras 3 ``Sequential`` with convolutions as a netdream
:class:`~netdream.Network` (see :func:`netdream.importers.keras.from_keras`).

Read layer by layer into the importers' steps (:mod:`._steps`), one handler
per ``keras.layers`` class (:data:`CONV_LAYERS`, sharing the dense
importer's), and assembled as every importer's convolutional network is
(:func:`._steps.assemble_network`). ``channels_last`` throughout, Keras's
default: ``Conv2D`` (any kernel, strides equal along y and x, padding
"valid" or "same" -- TensorFlow's "same", which is netdream's; no dilation
or groups), ``MaxPooling2D`` and ``AveragePooling2D`` (square windows,
padding "valid"), ``GlobalAveragePooling2D`` and ``GlobalMaxPooling2D`` (of
a square map), ``Flatten``, ``Dense``; ``BatchNormalization`` folded exactly
into the convolution or dense layer before it; activations given as a
layer's ``activation`` or as ``Activation`` / ``ReLU`` / ``LeakyReLU`` /
``Softmax`` layers (linear, relu, leaky_relu, sigmoid, tanh; softmax last);
``Dropout`` and the other layers inactive at inference. ``Rescaling`` and
``Normalization`` layers (of one value or one per channel) before the first
``Conv2D`` — the input's normalisation — become the encoding, after the
caller's. Anything else is refused, naming the layer.

Keras flattens a feature map in (height, width, channels) order, netdream
in (channels, height, width) order: the columns of the first dense layer
after ``Flatten`` are permuted to match, so the imported network computes
the same function on the same images, given to netdream as ``(H, W)`` (one
channel) or ``(C, H, W)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..layers import AvgPool2D, Conv2D, MaxPool2D, output_shape
from ..model import Encoding, Network
from . import _steps as steps_
from ._handlers import Handlers
from .keras import LAYERS, KerasContext, _activation_steps

__all__ = ["is_convolutional", "network_from_sequential", "CONV_LAYERS"]

_CONV_KINDS = ("Conv2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
               "GlobalMaxPooling2D")
_NORMALISATION = ("Rescaling", "Normalization")
_INACTIVE = ("InputLayer", "Dropout", "SpatialDropout2D", "AlphaDropout", "GaussianDropout",
             "GaussianNoise", "ActivityRegularization")


def is_convolutional(model) -> bool:
    """Whether a Keras Sequential holds a convolution or pooling layer."""
    return any(type(layer).__name__ in _CONV_KINDS for layer in model.layers)


@dataclass
class ConvContext(KerasContext):
    """What the convolutional network's handlers share besides the dense
    importer's: ``shape``, netdream's (channels, height, width) of what the
    layer receives (then (n,)), ``flattened`` Keras's (height, width,
    channels) at the Flatten until the dense layer after it reads it,
    ``norm`` the input's normalisation read so far ([scale, shift, names]),
    ``tail`` the kind of the last step made, ``layers_read`` how many layers
    that compute something were read, ``names`` the layers' names for the
    metadata and ``to_numpy`` the reader of Keras variables."""

    to_numpy: object = None
    flattened: tuple | None = None
    norm: list | None = None
    tail: str = ""
    layers_read: int = 0
    names: list = field(default_factory=list)


def network_from_sequential(model, keras, *, encoding, output, to_numpy,
                            source="keras.Sequential") -> Network:
    """The Network of a built Keras Sequential ``model`` with convolutions."""
    shape_in = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else None
    if shape_in is None or len(shape_in) not in (2, 3) or any(s is None for s in shape_in):
        raise ValueError("the model's input must be images of a fixed size, (H, W, C) or (H, W) "
                         f"(give it keras.Input((28, 28, 1))), got {shape_in}")
    if len(shape_in) == 2:
        shape_in = (*shape_in, 1)
    h, w, c = (int(s) for s in shape_in)
    image_shape = (c, h, w)
    all_layers = list(model.layers)
    first = all_layers[0] if all_layers else None
    if first is not None and type(first).__name__ == "Reshape" and \
            len(tuple(model.inputs[0].shape[1:])) == 2 and tuple(first.target_shape) == (h, w, 1):
        all_layers = all_layers[1:]  # (H, W) -> (H, W, 1): only names the channel axis
    ctx = ConvContext(keras=keras, shape=image_shape, to_numpy=to_numpy)
    steps = []
    for i, layer in enumerate(all_layers):
        kind = type(layer).__name__
        ctx.where, ctx.op = f"layer {i} '{layer.name}' ({kind})", kind
        if getattr(keras.layers, kind, None) is not type(layer):
            raise ValueError(f"{ctx.where} is not a keras.layers layer (a subclass may compute "
                             "something else)")
        ctx.names.append(f"{layer.name}: {kind}")
        if getattr(layer, "data_format", "channels_last") != "channels_last":
            raise ValueError(f"{ctx.where} has data_format={layer.data_format!r}; netdream "
                             "reads channels_last Keras models")
        if ctx.norm is not None and kind not in ("Conv2D", *_NORMALISATION, *_INACTIVE):
            _normalisation_misplaced(ctx)
        handler = CONV_LAYERS.get(kind)
        if handler is None:
            raise ValueError(f"{ctx.where} is not supported in a convolutional network: "
                             f"netdream reads {', '.join(CONV_LAYERS.names())}")
        made = handler(layer, ctx)
        steps += made
        if made:
            ctx.tail = made[-1].kind
        if kind not in _INACTIVE:
            ctx.layers_read += 1
    if ctx.norm is not None:
        _normalisation_misplaced(ctx)
    metadata = {"source": source, "layers": ctx.names, "keras_version": str(keras.__version__)}
    return steps_.assemble_network(steps, output, encoding or Encoding(), metadata, image_shape)


def _normalisation_misplaced(ctx):
    raise ValueError(f"{', '.join(ctx.norm[2])} must come right before a Conv2D: netdream "
                     "takes the input's normalisation into the encoding there")


# ------------------------------------------------------------ the handlers
CONV_LAYERS = Handlers("Keras layers")
for _name in ("Activation", "ReLU", "LeakyReLU", "Softmax"):  # the dense importer's
    CONV_LAYERS.register(_name)(LAYERS.get(_name))


@CONV_LAYERS.register(*_INACTIVE)
def _inactive_at_inference(layer, ctx):
    return []


@CONV_LAYERS.register("Conv2D")
def _conv(layer, ctx):
    if tuple(layer.dilation_rate) != (1, 1) or getattr(layer, "groups", 1) != 1:
        raise ValueError(f"{ctx.where} uses dilation or groups, which netdream does not "
                         "represent")
    sy, sx = layer.strides
    if sy != sx:
        raise ValueError(f"{ctx.where} has different strides along y and x: {layer.strides}")
    if layer.padding not in ("valid", "same"):
        raise ValueError(f"{ctx.where} has padding {layer.padding!r}")
    _feature_map(ctx)
    made = []
    if ctx.norm is not None:  # the input's normalisation, for the encoding
        scale, shift, names = ctx.norm
        made.append(steps_.affine(", ".join(names), scale, shift))
        ctx.norm = None
    k = ctx.to_numpy(layer.kernel).transpose(3, 2, 0, 1)  # (kh, kw, in, out) -> (out, in, kh, kw)
    b = ctx.to_numpy(layer.bias) if layer.use_bias else np.zeros(k.shape[0])
    ctx.shape = output_shape(Conv2D(k, b, stride=int(sy), padding=layer.padding), ctx.shape,
                             ctx.where)
    made.append(steps_.conv(ctx.where, k, b, int(sy), layer.padding))
    return made + _activation_steps(layer, ctx)


@CONV_LAYERS.register("Dense")
def _dense(layer, ctx):
    if len(ctx.shape) != 1:
        raise ValueError(f"{ctx.where} follows a feature map: add a Flatten before it")
    made = LAYERS.get("Dense")(layer, ctx)
    if ctx.flattened is not None:  # netdream's input j = (c, y, x) is Keras's input (y, x, c)
        fh, fw, fc = ctx.flattened
        cc, yy, xx = np.meshgrid(np.arange(fc), np.arange(fh), np.arange(fw), indexing="ij")
        made[0].w = made[0].w[:, ((yy * fw + xx) * fc + cc).ravel()]
        ctx.flattened = None
    ctx.shape = (made[0].w.shape[0],)
    return made


@CONV_LAYERS.register("BatchNormalization")
def _batch_normalization(layer, ctx):
    if ctx.tail not in ("conv", "linear", "affine"):
        raise ValueError(f"{ctx.where} must directly follow a Conv2D or Dense layer (before "
                         "its activation), to be folded into it")
    axes = (-1, 3, [-1], [3]) if len(ctx.shape) == 3 else (-1, 1, [-1], [1])
    if layer.axis not in axes:
        raise ValueError(f"{ctx.where} normalises axis {layer.axis}; netdream needs the "
                         "channel axis (-1)")
    to_numpy = ctx.to_numpy
    return [steps_.batchnorm(
        ctx.where, to_numpy(layer.moving_mean), to_numpy(layer.moving_variance), layer.epsilon,
        to_numpy(layer.gamma) if layer.scale else None,
        to_numpy(layer.beta) if layer.center else None)]


@CONV_LAYERS.register("MaxPooling2D", "AveragePooling2D")
def _pooling(layer, ctx):
    ps, st = tuple(layer.pool_size), tuple(layer.strides)
    if ps[0] != ps[1] or st[0] != st[1] or layer.padding != "valid":
        raise ValueError(f"{ctx.where}: netdream pools square windows with equal strides "
                         "and padding 'valid'")
    return _pool(ctx, "max" if ctx.op == "MaxPooling2D" else "avg", int(ps[0]), int(st[0]))


@CONV_LAYERS.register("GlobalAveragePooling2D", "GlobalMaxPooling2D")
def _global_pooling(layer, ctx):
    if len(ctx.shape) != 3:
        raise ValueError(f"{ctx.where} must pool a channels_last feature map")
    _, h, w = ctx.shape
    if h != w:
        raise ValueError(f"{ctx.where} pools a {h}x{w} map; netdream pools square windows, "
                         "so it reads global pooling of a square map")
    made = _pool(ctx, "max" if ctx.op == "GlobalMaxPooling2D" else "avg", h, h)
    if not getattr(layer, "keepdims", False):  # (N, C): flat (1x1: the same order)
        ctx.shape = (ctx.shape[0],)
        made.append(steps_.flatten(ctx.where))
    return made


def _pool(ctx, kind, size, stride):
    _feature_map(ctx)
    ctx.shape = output_shape((MaxPool2D if kind == "max" else AvgPool2D)(size, stride),
                             ctx.shape, ctx.where)
    return [steps_.pool(ctx.where, kind, size, stride)]


@CONV_LAYERS.register("Flatten")
def _flatten(layer, ctx):
    if len(ctx.shape) == 1:  # flat already
        return []
    c, h, w = ctx.shape
    ctx.flattened = (h, w, c)
    ctx.shape = (c * h * w,)
    return [steps_.flatten(ctx.where)]


@CONV_LAYERS.register("Reshape")
def _reshape(layer, ctx):
    raise ValueError(f"{ctx.where} reshapes to {tuple(layer.target_shape)}; netdream reads "
                     "a Reshape only as the first layer, adding the channel axis "
                     "((H, W) -> (H, W, 1))")


@CONV_LAYERS.register(*_NORMALISATION)
def _normalisation(layer, ctx):
    """The input's normalisation, kept in ``ctx.norm`` for the first Conv2D:
    a Rescaling (x * scale + offset) or Normalization ((x - mean) /
    max(sqrt(variance), 1e-7), as Keras 3 computes it), of one value or one
    per channel."""
    if ctx.layers_read > (0 if ctx.norm is None else len(ctx.norm[2])):
        raise ValueError(f"{ctx.where} comes after the first layer; netdream takes a "
                         "Rescaling or Normalization only before the first Conv2D, as the "
                         "input's normalisation (the encoding)")
    to_numpy, where, channels = ctx.to_numpy, ctx.where, ctx.shape[0]
    if ctx.op == "Rescaling":
        a = np.asarray(to_numpy(layer.scale) if hasattr(layer.scale, "shape") else layer.scale,
                       float).ravel()
        b = np.asarray(to_numpy(layer.offset) if hasattr(layer.offset, "shape") else
                       layer.offset, float).ravel()
    else:
        if getattr(layer, "invert", False):
            raise ValueError(f"{where} inverts a normalisation; netdream reads (x - mean) / std")
        if tuple(np.atleast_1d(layer.axis)) not in ((-1,), (3,)):
            raise ValueError(f"{where} normalises axis {layer.axis}; netdream reads the channel "
                             "axis (-1)")
        mean = np.asarray(to_numpy(layer.mean), float).ravel()
        var = np.asarray(to_numpy(layer.variance), float).ravel()
        a = 1.0 / np.maximum(np.sqrt(var), 1e-7)
        b = -mean * a
    for v, what in ((a, "scale"), (b, "offset")):
        if v.size not in (1, channels):
            raise ValueError(f"{where} has {v.size} values of its {what}; netdream reads one, or "
                             f"one per channel ({channels})")
        if not np.all(np.isfinite(v)):
            raise ValueError(f"{where} has a {what} that is not finite")
    s, t, names = (np.ones(1), np.zeros(1), []) if ctx.norm is None else ctx.norm
    ctx.norm = [s * a, t * a + b, names + [where]]
    return []


def _feature_map(ctx):
    """Refuses a layer of images after the Flatten."""
    if len(ctx.shape) != 3:
        raise ValueError(f"{ctx.where} follows the Flatten: it must come before it")
