"""Import dense Keras 3 models (see :func:`from_keras`).

Two handler tables (see :mod:`._handlers`):

- :data:`LAYERS`, keyed by ``keras.layers`` class name: ``handler(layer,
  ctx)`` returns the layer's steps. A layer matches only when its type *is*
  that Keras class (a subclass may compute something else).
- :data:`ACTIVATIONS`, keyed by the name of a built-in Keras activation
  function, used by the ``Dense`` and ``Activation`` handlers through
  :func:`_activation_steps`: ``handler(layer, ctx)`` returns the activation's
  steps (none for ``linear``).

The driver (:func:`_sequential_steps`) walks ``model.layers`` in order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model import MLP, Encoding
from . import _steps as steps_
from ._handlers import Context, Handlers

__all__ = ["from_keras", "LAYERS", "ACTIVATIONS"]


def from_keras(model, *, encoding: Encoding | None = None, output: str | None = None) -> MLP:
    """A netdream :class:`MLP` computing the same function as a Keras 3
    ``keras.Sequential`` model of dense layers -- or, when the model holds
    ``Conv2D`` or pooling layers, a :class:`~netdream.Network` (see
    :mod:`netdream.importers.keras_cnn` for the layers read). A functional
    ``keras.Model`` is read the same way when its graph is a straight line
    (each layer called once, on the output of the layer before it).

    Parameters
    ----------
    model : ``keras.Sequential`` holding ``Dense`` layers (activation
        ``linear``, ``relu``, ``leaky_relu``, ``sigmoid``, ``tanh``;
        ``softmax``/``log_softmax`` on the last one) and any of:
        ``InputLayer``, ``Flatten`` (channels_last), ``Reshape`` to one
        dimension, ``Dropout`` and the other noise layers (``AlphaDropout``,
        ``GaussianDropout``, ``GaussianNoise``, ``ActivityRegularization``:
        inactive at inference), ``Activation``, ``ReLU`` (no cap, no
        threshold), ``LeakyReLU``, ``Softmax`` (last axis),
        ``BatchNormalization`` and ``Rescaling`` with scalar scale and offset
        (both folded into the adjacent Dense layer). Kernels are stored
        ``(n_in, n_out)`` and are transposed. Other layers are refused.
    encoding : :class:`Encoding` of the model's input (default: [0, 1], ink
        high, row-major). A model starting with ``Rescaling(1 / 255)`` takes
        0..255: pass ``Encoding(0.0, 255.0)``. In a model with convolutions
        (see :mod:`netdream.importers.keras_cnn`), Rescaling and
        Normalization layers before the first Conv2D become the encoding,
        after this one.
    output : as for :func:`netdream.importers.from_torch`: the output activation when the last
        Dense layer is linear (default softmax).

    Raises
    ------
    ImportError
        Keras is not installed.
    TypeError
        ``model`` is not a ``keras.Sequential`` or functional ``keras.Model``.
    ValueError
        a layer netdream cannot represent, named by its index, name and type.
    """
    try:
        import keras
    except ImportError:
        raise ImportError("netdream.MLP.from_keras needs Keras 3 and a backend: "
                          "pip install keras torch (or tensorflow, or jax)") from None
    source = "keras.Sequential"
    if not isinstance(model, keras.Sequential):
        if not isinstance(model, keras.Model) or not hasattr(model, "_inbound_nodes") or \
                getattr(model, "inputs", None) is None:
            raise TypeError("model must be a keras.Sequential or a functional keras.Model (a "
                            "subclassed model is not read), got "
                            f"{type(model).__module__}.{type(model).__name__}")
        model, source = _StraightLine(model, keras), "keras.Model (functional)"
    if not model.built:
        raise ValueError("model is not built: give it an input shape (keras.Input((784,))) or "
                         "call it once before converting")
    from . import keras_cnn
    if keras_cnn.is_convolutional(model):
        return keras_cnn.network_from_sequential(model, keras, encoding=encoding, output=output,
                                                 to_numpy=_keras_numpy, source=source)
    steps, names = _sequential_steps(model, KerasContext(keras=keras))
    metadata = {"source": source, "keras_version": str(keras.__version__),
                "keras_backend": str(keras.backend.backend()), "layers": names}
    return steps_.assemble(steps, output, encoding, metadata)


class _StraightLine:
    """A functional model's layers as a Sequential's (``layers``, ``inputs``,
    ``built``), when its graph is a straight line; else a ValueError naming
    the first layer that is not."""

    def __init__(self, model, keras):
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise ValueError(f"the functional model has {len(model.inputs)} inputs and "
                             f"{len(model.outputs)} outputs; netdream reads one of each")
        self.inputs, self.built = model.inputs, True
        self.layers = [la for la in model.layers if not isinstance(la, keras.layers.InputLayer)]
        previous = model.inputs[0]
        for i, layer in enumerate(self.layers):
            if len(layer._inbound_nodes) != 1 or layer.input is not previous:
                raise ValueError(f"layer {i} '{layer.name}' ({type(layer).__name__}) does not "
                                 "take the output of the layer before it (or is called more "
                                 "than once): netdream reads straight-line models")
            previous = layer.output
        if previous is not model.outputs[0]:
            raise ValueError("the functional model's output is not its last layer's")


@dataclass
class KerasContext(Context):
    """What the Keras handlers share: ``keras`` is the keras module. The
    per-sample ``shape`` is not tracked yet (``None``)."""

    keras: object = None


def _sequential_steps(model, ctx):
    """The steps and layer names of ``model.layers``."""
    steps, names = [], []
    for i, layer in enumerate(model.layers):
        cls = type(layer)
        ctx.where, ctx.op = f"layer {i} '{layer.name}' ({cls.__name__})", cls.__name__
        names.append(f"{layer.name}: {cls.__name__}")
        handler = LAYERS.get(cls.__name__)
        if handler is None or getattr(ctx.keras.layers, cls.__name__, None) is not cls:
            raise LAYERS.not_supported(ctx.where)
        steps += handler(layer, ctx)
    return steps, names


def _keras_numpy(v) -> np.ndarray:
    """A Keras variable's value as a float64 array, whatever the backend."""
    value = getattr(v, "value", v)
    if callable(value):  # a tf.Variable's value() is a method
        value = value()
    return steps_.to_numpy(value)


# ------------------------------------------------------------ layer handlers
LAYERS = Handlers("Keras layers")


@LAYERS.register("Dense")
def _dense(layer, ctx):
    if getattr(layer, "quantization_mode", None):
        raise ValueError(f"{ctx.where} is quantized ({layer.quantization_mode}); netdream "
                         "reads float weights only")
    kernel = _keras_numpy(layer.kernel)
    bias = _keras_numpy(layer.bias) if layer.use_bias else None
    return [steps_.linear(ctx.where, kernel.T, bias), *_activation_steps(layer, ctx)]


@LAYERS.register("Activation")
def _activation(layer, ctx):
    return _activation_steps(layer, ctx)


@LAYERS.register("ReLU")
def _relu(layer, ctx):
    if layer.max_value is not None or float(layer.threshold) != 0.0:
        raise ValueError(f"{ctx.where} has max_value={layer.max_value}, "
                         f"threshold={layer.threshold}; netdream supports only an "
                         "uncapped ReLU at 0")
    slope = float(layer.negative_slope)
    return [steps_.act(ctx.where, "leaky_relu", slope) if slope else steps_.act(ctx.where, "relu")]


@LAYERS.register("LeakyReLU")
def _leaky_relu(layer, ctx):
    slope = getattr(layer, "negative_slope", getattr(layer, "alpha", None))
    return [steps_.act(ctx.where, "leaky_relu", slope)]


@LAYERS.register("Softmax")
def _softmax(layer, ctx):
    if layer.axis not in (-1, 1, [-1], [1], (-1,), (1,)):
        raise ValueError(f"{ctx.where} is taken over axis {layer.axis}; netdream's softmax is "
                         "over the classes (the last axis)")
    return [steps_.softmax(ctx.where)]


@LAYERS.register("BatchNormalization")
def _batch_normalization(layer, ctx):
    if layer.axis not in (-1, 1, [-1], [1]):
        raise ValueError(f"{ctx.where} normalises axis {layer.axis}; netdream needs the "
                         "feature axis (-1)")
    return [steps_.batchnorm(
        ctx.where, _keras_numpy(layer.moving_mean), _keras_numpy(layer.moving_variance),
        layer.epsilon, _keras_numpy(layer.gamma) if layer.scale else None,
        _keras_numpy(layer.beta) if layer.center else None)]


@LAYERS.register("Rescaling")
def _rescaling(layer, ctx):
    scale, offset = np.asarray(layer.scale, float), np.asarray(layer.offset, float)
    if scale.size != 1 or offset.size != 1:
        raise ValueError(f"{ctx.where} has per-channel scale or offset; netdream folds only "
                         "a scalar Rescaling")
    return [steps_.affine(ctx.where, scale.reshape(()), offset.reshape(()))]


@LAYERS.register("Flatten")
def _flatten(layer, ctx):
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise ValueError(f"{ctx.where} has data_format={layer.data_format!r}, which reorders "
                         "the pixels; netdream needs channels_last (set the order with "
                         "encoding=Encoding(order=...))")
    return []


@LAYERS.register("Reshape")
def _reshape(layer, ctx):
    if len(layer.target_shape) != 1:
        raise ValueError(f"{ctx.where} reshapes to {layer.target_shape}; netdream allows only "
                         "a reshape to one dimension (a flattening)")
    return []


@LAYERS.register("InputLayer", "Dropout", "AlphaDropout", "GaussianDropout", "GaussianNoise",
                 "ActivityRegularization")
def _inactive_at_inference(layer, ctx):
    return []


# ------------------------------------------------------- activation handlers
ACTIVATIONS = Handlers("Keras activations")


def _activation_steps(layer, ctx):
    """The steps of ``layer.activation``, a built-in Keras activation."""
    fn = layer.activation
    name = getattr(fn, "__name__", None)
    try:
        builtin = name is not None and ctx.keras.activations.get(name) is fn
    except (ValueError, TypeError):
        builtin = False
    if not builtin:
        raise ValueError(f"{ctx.where} has activation {name or fn!r}, which is not one of Keras' "
                         "built-in activations that netdream supports")
    handler = ACTIVATIONS.get(name)
    if handler is None:
        raise ValueError(f"{ctx.where} has activation {name!r}, which netdream does not support; "
                         f"supported: {', '.join(ACTIVATIONS)}")
    return handler(layer, ctx)


@ACTIVATIONS.register("linear")
def _linear_activation(layer, ctx):
    return []


@ACTIVATIONS.register("relu", "sigmoid", "tanh")
def _elementwise_activation(layer, ctx):
    return [steps_.act(ctx.where, layer.activation.__name__)]


@ACTIVATIONS.register("leaky_relu")
def _leaky_relu_activation(layer, ctx):  # keras.activations.leaky_relu's default slope
    return [steps_.act(ctx.where, "leaky_relu", 0.2)]


@ACTIVATIONS.register("softmax", "log_softmax")
def _softmax_activation(layer, ctx):
    return [steps_.softmax(ctx.where, log=layer.activation.__name__ == "log_softmax")]
