"""Import dense Keras 3 models (see :func:`from_keras`)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ..model import MLP, Encoding
from .._validation import check_path
from . import _steps as steps_

__all__ = ["from_keras"]


# --------------------------------------------------------------------- keras
def from_keras(model, *, encoding: Encoding | None = None, output: str | None = None) -> MLP:
    """A netdream :class:`MLP` computing the same function as a Keras 3
    ``keras.Sequential`` model of dense layers.

    Parameters
    ----------
    model : ``keras.Sequential`` holding ``Dense`` layers (activation
        ``linear``, ``relu``, ``leaky_relu``, ``sigmoid``, ``tanh``;
        ``softmax``/``log_softmax`` on the last one) and any of:
        ``InputLayer``, ``Flatten`` (channels_last), ``Reshape`` to one
        dimension, ``Dropout`` and the other noise layers (inactive at
        inference), ``Activation``, ``ReLU`` (no cap, no threshold),
        ``LeakyReLU``, ``Softmax`` (last axis), ``BatchNormalization`` and
        ``Rescaling`` with scalar scale and offset (both folded into the
        adjacent Dense layer). Kernels are stored ``(n_in, n_out)`` and are
        transposed. Other layers are refused.
    encoding : :class:`Encoding` of the model's input (default: [0, 1], ink
        high, row-major). A model starting with ``Rescaling(1 / 255)`` takes
        0..255: pass ``Encoding(0.0, 255.0)``.
    output : as for :func:`netdream.importers.from_torch`: the output activation when the last
        Dense layer is linear (default softmax).

    Raises
    ------
    ImportError
        Keras is not installed.
    TypeError
        ``model`` is not a ``keras.Sequential``.
    ValueError
        a layer netdream cannot represent, named by its index, name and type.
    """
    try:
        import keras
    except ImportError:
        raise ImportError("netdream.MLP.from_keras needs Keras 3 and a backend: "
                          "pip install keras torch (or tensorflow, or jax)") from None
    if not isinstance(model, keras.Sequential):
        raise TypeError("model must be a keras.Sequential (a functional or subclassed model is "
                        f"not read), got {type(model).__module__}.{type(model).__name__}")
    if not model.built:
        raise ValueError("model is not built: give it an input shape (keras.Input((784,))) or "
                         "call it once before converting")
    L = keras.layers
    noise = tuple(getattr(L, n) for n in ("Dropout", "AlphaDropout", "GaussianDropout",
                                          "GaussianNoise", "ActivityRegularization")
                  if hasattr(L, n))
    steps, names = [], []
    for i, layer in enumerate(model.layers):
        cls = type(layer)
        where = f"layer {i} '{layer.name}' ({cls.__name__})"
        names.append(f"{layer.name}: {cls.__name__}")
        if cls is L.Dense:
            if getattr(layer, "quantization_mode", None):
                raise ValueError(f"{where} is quantized ({layer.quantization_mode}); netdream "
                                 "reads float weights only")
            kernel = _keras_numpy(layer.kernel)
            bias = _keras_numpy(layer.bias) if layer.use_bias else None
            steps.append(steps_.linear(where, kernel.T, bias))
            act = _keras_activation(keras, layer.activation, where)
            if act is not None:
                steps.append(act)
        elif cls is L.Activation:
            act = _keras_activation(keras, layer.activation, where)
            if act is not None:
                steps.append(act)
        elif cls is L.ReLU:
            if layer.max_value is not None or float(layer.threshold) != 0.0:
                raise ValueError(f"{where} has max_value={layer.max_value}, "
                                 f"threshold={layer.threshold}; netdream supports only an "
                                 "uncapped ReLU at 0")
            slope = float(layer.negative_slope)
            steps.append(steps_.act(where, "leaky_relu", slope) if slope else steps_.act(where, "relu"))
        elif cls is L.LeakyReLU:
            slope = getattr(layer, "negative_slope", getattr(layer, "alpha", None))
            steps.append(steps_.act(where, "leaky_relu", slope))
        elif cls is L.Softmax:
            axis = layer.axis
            if axis not in (-1, 1, [-1], [1], (-1,), (1,)):
                raise ValueError(f"{where} is taken over axis {axis}; netdream's softmax is over "
                                 "the classes (the last axis)")
            steps.append(steps_.softmax(where))
        elif cls is L.BatchNormalization:
            if layer.axis not in (-1, 1, [-1], [1]):
                raise ValueError(f"{where} normalises axis {layer.axis}; netdream needs the "
                                 "feature axis (-1)")
            steps.append(steps_.batchnorm(
                where, _keras_numpy(layer.moving_mean), _keras_numpy(layer.moving_variance),
                layer.epsilon, _keras_numpy(layer.gamma) if layer.scale else None,
                _keras_numpy(layer.beta) if layer.center else None))
        elif cls is L.Rescaling:
            scale, offset = np.asarray(layer.scale, float), np.asarray(layer.offset, float)
            if scale.size != 1 or offset.size != 1:
                raise ValueError(f"{where} has per-channel scale or offset; netdream folds only "
                                 "a scalar Rescaling")
            steps.append(steps_.affine(where, scale.reshape(()), offset.reshape(())))
        elif cls is L.Flatten:
            if getattr(layer, "data_format", "channels_last") != "channels_last":
                raise ValueError(f"{where} has data_format={layer.data_format!r}, which reorders "
                                 "the pixels; netdream needs channels_last (set the order with "
                                 "encoding=Encoding(order=...))")
        elif cls is L.Reshape:
            if len(layer.target_shape) != 1:
                raise ValueError(f"{where} reshapes to {layer.target_shape}; netdream allows only "
                                 "a reshape to one dimension (a flattening)")
        elif cls is L.InputLayer or cls in noise:
            pass
        else:
            raise ValueError(f"{where} is not supported: {steps_.NOT_DENSE}")
    metadata = {"source": "keras.Sequential", "keras_version": str(keras.__version__),
                "keras_backend": str(keras.backend.backend()), "layers": names}
    return steps_.assemble(steps, output, encoding, metadata)


def _keras_numpy(v) -> np.ndarray:
    """A Keras variable's value as a float64 array, whatever the backend."""
    value = getattr(v, "value", v)
    if callable(value):  # a tf.Variable's value() is a method
        value = value()
    return steps_.to_numpy(value)


def _keras_activation(keras, fn, where):
    """The step for a Keras activation function (``None`` for linear)."""
    name = getattr(fn, "__name__", None)
    try:
        builtin = name is not None and keras.activations.get(name) is fn
    except (ValueError, TypeError):
        builtin = False
    if not builtin:
        raise ValueError(f"{where} has activation {name or fn!r}, which is not one of Keras' "
                         "built-in activations that netdream supports")
    if name == "linear":
        return None
    if name in ("relu", "sigmoid", "tanh"):
        return steps_.act(where, name)
    if name == "leaky_relu":  # keras.activations.leaky_relu's default slope
        return steps_.act(where, "leaky_relu", 0.2)
    if name in ("softmax", "log_softmax"):
        return steps_.softmax(where, log=name == "log_softmax")
    raise ValueError(f"{where} has activation {name!r}, which netdream does not support; "
                     "supported: linear, relu, leaky_relu, sigmoid, tanh, softmax, log_softmax")


