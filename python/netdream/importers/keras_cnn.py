"""A Keras 3 ``Sequential`` with convolutions as a netdream
:class:`~netdream.Network` (see :func:`netdream.importers.keras.from_keras`).

Read layer by layer (``channels_last`` throughout, Keras's default):
``Conv2D`` (any kernel, strides equal along y and x, padding "valid" or
"same" -- TensorFlow's "same", which is netdream's; no dilation or groups),
``MaxPooling2D`` and ``AveragePooling2D`` (square windows, padding "valid"),
``GlobalAveragePooling2D`` and ``GlobalMaxPooling2D`` (of a square map),
``Flatten``, ``Dense``; ``BatchNormalization`` folded exactly into the
convolution or dense layer before it; activations given as a layer's
``activation`` or as ``Activation`` / ``ReLU`` / ``LeakyReLU`` layers
(linear, relu, leaky_relu, sigmoid, tanh; softmax last); ``Dropout`` and the
other layers inactive at inference. ``Rescaling`` and ``Normalization`` layers
(of one value or one per channel) before the first ``Conv2D`` — the input's
normalisation — become the encoding, after the caller's. Anything else is
refused, naming the layer.

Keras flattens a feature map in (height, width, channels) order, netdream
in (channels, height, width) order: the columns of the first dense layer
after ``Flatten`` are permuted to match, so the imported network computes
the same function on the same images, given to netdream as ``(H, W)`` (one
channel) or ``(C, H, W)``.
"""

from __future__ import annotations

import numpy as np

from ..layers import AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D, output_shape
from ..model import Encoding, Network
from ._steps import batchnorm_scale_shift, cnn_output, fold_batchnorm, normalised_encoding

__all__ = ["is_convolutional", "network_from_sequential"]

_CONV_KINDS = ("Conv2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
               "GlobalMaxPooling2D")
_ACTS = {"linear": None, "relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh",
         "leaky_relu": "leaky_relu", "softmax": "softmax"}
_INACTIVE = ("InputLayer", "Dropout", "SpatialDropout2D", "AlphaDropout", "GaussianDropout",
             "GaussianNoise", "ActivityRegularization")


def is_convolutional(model) -> bool:
    """Whether a Keras Sequential holds a convolution or pooling layer."""
    return any(type(layer).__name__ in _CONV_KINDS for layer in model.layers)


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
    layers, names = [], []
    pending = None  # [kind, weight, bias, activation, extra]
    shape = image_shape  # netdream's shape of what the next layer receives
    slope = None
    out_act = None
    keras_flatten_shape = None  # (h, w, c) at the Flatten, for the dense layer after it
    norm = None  # the input's normalisation: [scale, shift, layer names]

    def flush():
        nonlocal pending, shape
        if pending is None:
            return
        kind, wt, b, a, extra = pending
        layer = (Conv2D(wt, b, stride=extra[0], padding=extra[1], activation=a or "identity")
                 if kind == "conv" else Dense(wt, b, a or "identity"))
        shape = output_shape(layer, shape, f"layer {len(layers)}")
        layers.append(layer)
        pending = None

    def set_activation(a, where, layer=None, last=False):
        nonlocal slope, out_act
        if a is None:
            return
        if pending is None or pending[3] is not None:
            raise ValueError(f"{where}: an activation must follow a Conv2D or Dense layer")
        if a == "softmax":
            if not last or pending[0] != "dense":
                raise ValueError(f"{where}: softmax only on the last Dense layer")
            out_act = "softmax"
            return
        if a == "leaky_relu":
            s = float(getattr(layer, "negative_slope", 0.2)) if layer is not None else 0.2
            if slope is not None and slope != s:
                raise ValueError(f"{where}: netdream supports one negative slope per network")
            slope = s
        if a == "sigmoid" and last and pending[0] == "dense":
            out_act = "sigmoid"
            return
        pending[3] = a

    all_layers = list(model.layers)
    first = all_layers[0] if all_layers else None
    if first is not None and type(first).__name__ == "Reshape" and len(shape_in) == 3 and \
            len(tuple(model.inputs[0].shape[1:])) == 2 and tuple(first.target_shape) == (h, w, 1):
        all_layers = all_layers[1:]  # (H, W) -> (H, W, 1): only names the channel axis

    def is_last(i):
        return all(type(x).__name__ in _INACTIVE for x in all_layers[i + 1:])

    for i, layer in enumerate(all_layers):
        kind = type(layer).__name__
        where = f"layer {i} '{layer.name}' ({kind})"
        if getattr(keras.layers, kind, None) is not type(layer):
            raise ValueError(f"{where} is not a keras.layers layer (a subclass may compute "
                             "something else)")
        names.append(f"{layer.name}: {kind}")
        if getattr(layer, "data_format", "channels_last") != "channels_last":
            raise ValueError(f"{where} has data_format={layer.data_format!r}; netdream reads "
                             "channels_last Keras models")
        act = getattr(layer, "activation", None)
        act = (getattr(act, "__name__", None) or str(act)) if act is not None else None
        if act is not None and act not in _ACTS:
            raise ValueError(f"{where} has activation {act!r}; netdream supports "
                             f"{', '.join(_ACTS)}")
        if kind in ("Rescaling", "Normalization"):
            if layers or pending is not None:
                raise ValueError(f"{where} comes after the first layer; netdream takes a "
                                 "Rescaling or Normalization only before the first Conv2D, as "
                                 "the input's normalisation (the encoding)")
            norm = _normalisation_step(layer, kind, c, norm, where, to_numpy)
            continue
        if kind == "Conv2D":
            if norm is not None and not layers and pending is None:  # into the encoding
                where_norm = ", ".join(norm[2])
                encoding = normalised_encoding(encoding, norm[0], norm[1], image_shape,
                                               where_norm)
            flush()
            if tuple(layer.dilation_rate) != (1, 1) or getattr(layer, "groups", 1) != 1:
                raise ValueError(f"{where} uses dilation or groups, which netdream does not "
                                 "represent")
            sy, sx = layer.strides
            if sy != sx:
                raise ValueError(f"{where} has different strides along y and x: {layer.strides}")
            if layer.padding not in ("valid", "same"):
                raise ValueError(f"{where} has padding {layer.padding!r}")
            k = to_numpy(layer.kernel)  # (kh, kw, in, out)
            b = to_numpy(layer.bias) if layer.use_bias else np.zeros(k.shape[3])
            pending = ["conv", k.transpose(3, 2, 0, 1), b, None, (int(sy), layer.padding)]
            set_activation(_ACTS[act], where, last=is_last(i))
        elif kind == "Dense":
            flush()
            if len(shape) != 1:
                raise ValueError(f"{where} follows a feature map: add a Flatten before it")
            k = to_numpy(layer.kernel).T  # (out, in)
            if keras_flatten_shape is not None:
                fh, fw, fc = keras_flatten_shape
                # netdream's input j = (c, y, x) is Keras's input (y, x, c)
                cc, yy, xx = np.meshgrid(np.arange(fc), np.arange(fh), np.arange(fw),
                                         indexing="ij")
                k = k[:, ((yy * fw + xx) * fc + cc).ravel()]
                keras_flatten_shape = None
            b = to_numpy(layer.bias) if layer.use_bias else np.zeros(k.shape[0])
            pending = ["dense", k, b, None, None]
            set_activation(_ACTS[act], where, last=is_last(i))
        elif kind == "BatchNormalization":
            if pending is None or pending[3] is not None:
                raise ValueError(f"{where} must directly follow a Conv2D or Dense layer (before "
                                 "its activation), to be folded into it")
            if layer.axis not in (-1, 3, [-1], [3]) and not (pending[0] == "dense" and
                                                             layer.axis in (1, [1])):
                raise ValueError(f"{where} normalises axis {layer.axis}; netdream needs the "
                                 "channel axis (-1)")
            s, t = batchnorm_scale_shift(to_numpy(layer.moving_mean),
                                         to_numpy(layer.moving_variance), layer.epsilon,
                                         to_numpy(layer.gamma) if layer.scale else None,
                                         to_numpy(layer.beta) if layer.center else None)
            pending[1], pending[2] = fold_batchnorm(pending[1], pending[2], s, t)
        elif kind in ("Activation", "ReLU", "LeakyReLU", "Softmax"):
            if kind == "ReLU":
                if layer.max_value is not None or float(layer.threshold) != 0.0 or \
                        float(layer.negative_slope) != 0.0:
                    raise ValueError(f"{where}: netdream supports only a plain ReLU layer")
                a = "relu"
            elif kind == "LeakyReLU":
                a = "leaky_relu"
            elif kind == "Softmax":
                a = "softmax"
            else:
                a = _ACTS[act]
            set_activation(a, where, layer, last=is_last(i))
        elif kind in ("MaxPooling2D", "AveragePooling2D"):
            flush()
            ps, st = tuple(layer.pool_size), tuple(layer.strides)
            if ps[0] != ps[1] or st[0] != st[1] or layer.padding != "valid":
                raise ValueError(f"{where}: netdream pools square windows with equal strides "
                                 "and padding 'valid'")
            pool = (MaxPool2D if kind == "MaxPooling2D" else AvgPool2D)(int(ps[0]), int(st[0]))
            shape = output_shape(pool, shape, f"layer {len(layers)}")
            layers.append(pool)
        elif kind in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
            flush()
            if getattr(layer, "data_format", "channels_last") != "channels_last" or \
                    len(shape) != 3:
                raise ValueError(f"{where} must pool a channels_last feature map")
            if shape[1] != shape[2]:
                raise ValueError(f"{where} pools a {shape[1]}x{shape[2]} map; netdream pools "
                                 "square windows, so it reads global pooling of a square map")
            pool = (MaxPool2D if kind == "GlobalMaxPooling2D" else AvgPool2D)(shape[1], shape[1])
            shape = output_shape(pool, shape, f"layer {len(layers)}")
            layers.append(pool)
            if not getattr(layer, "keepdims", False):  # (N, C): flat (1x1: the same order)
                layers.append(Flatten())
                shape = output_shape(layers[-1], shape, f"layer {len(layers) - 1}")
        elif kind == "Flatten":
            flush()
            if len(shape) == 3:
                keras_flatten_shape = (shape[1], shape[2], shape[0])
            layers.append(Flatten())
            shape = output_shape(layers[-1], shape, f"layer {len(layers) - 1}")
        elif kind in _INACTIVE:
            continue
        elif kind == "Reshape":
            raise ValueError(f"{where} reshapes to {tuple(layer.target_shape)}; netdream reads "
                             "a Reshape only as the first layer, adding the channel axis "
                             "((H, W) -> (H, W, 1))")
        else:
            raise ValueError(f"{where} is not supported in a convolutional network: netdream "
                             "reads Conv2D, MaxPooling2D, AveragePooling2D, "
                             "GlobalAveragePooling2D, GlobalMaxPooling2D, "
                             "BatchNormalization, Flatten, Dense, Activation, ReLU, LeakyReLU, "
                             "Softmax, Dropout")
    if norm is not None and (not layers or not isinstance(layers[0], Conv2D)):
        raise ValueError(f"{', '.join(norm[2])} must come right before a Conv2D: netdream "
                         "takes the input's normalisation into the encoding there")
    if pending is None or pending[0] != "dense":
        raise ValueError("the network must end in a Dense layer (the class outputs)")
    out_act, added = cnn_output(out_act, pending[3], output, "Dense")
    pending[3] = out_act
    flush()
    metadata = {"source": source, "layers": names, "keras_version": str(keras.__version__),
                "output_added": added}
    if norm is not None:
        metadata["input_normalisation"] = ", ".join(norm[2])
    return Network(layers, image_shape=image_shape, encoding=encoding or Encoding(),
                   leaky_slope=0.01 if slope is None else slope, metadata=metadata)


def _normalisation_step(layer, kind, channels, norm, where, to_numpy):
    """``norm`` (scale, shift, names) after a Rescaling (x * scale +
    offset) or Normalization ((x - mean) / max(sqrt(variance), 1e-7), as
    Keras 3 computes it) layer, of one value or one per channel."""
    if kind == "Rescaling":
        a = np.asarray(to_numpy(layer.scale) if hasattr(layer.scale, "shape") else layer.scale,
                       float).ravel()
        b = np.asarray(to_numpy(layer.offset) if hasattr(layer.offset, "shape") else layer.offset,
                       float).ravel()
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
    s, t = (np.ones(1), np.zeros(1)) if norm is None else (norm[0], norm[1])
    return [s * a, t * a + b, ([] if norm is None else norm[2]) + [where]]
