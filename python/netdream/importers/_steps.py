"""The steps every importer reads a framework's layers into, and how they
become a netdream :class:`MLP`.

Every importer reads the framework's layers into one small intermediate list
of steps — ``linear`` (a weight matrix in netdream's ``W @ x`` convention and a
bias), ``affine`` (a per-feature scale and shift: batch normalisation in
inference mode, a constant added or multiplied), ``act`` (an element-wise
activation) and ``softmax`` — which :func:`assemble` folds and checks into an
:class:`MLP`. A convolutional network adds ``conv``, ``pool`` and ``flatten``
steps (:func:`conv`, :func:`pool`, :func:`flatten`), which
:func:`assemble_network` folds the same way into a :class:`Network`; there
an ``affine`` step is a vector over the flattened ``(channels, height,
width)`` feature map, or one value. Each
layer is read by its framework's handler (see :mod:`._handlers`), which builds
its steps with :func:`linear`, :func:`affine`, :func:`batchnorm`, :func:`act`
and :func:`softmax`, naming the layer in ``where``. Layers that compute
nothing at inference (Flatten, Identity, Dropout in eval mode) give no steps;
every other layer is refused with a ``ValueError`` naming it, so a network is
never imported as something it is not.

Folding: an ``affine`` step directly after a linear layer is multiplied into
that layer (after a convolution, when it is one value per channel); otherwise,
when the next step is a linear layer (a ``flatten`` between them changes
nothing), into that one (``W (s * h + t) + b = (W diag s) h + (W t + b)``) —
exact either way. An affine step before a convolution is refused: the
convolution's zero padding would not be scaled with it. The exception is the
input's own normalisation, an affine step before the first convolution
(``(x - mean) / std`` written into the graph): it becomes the encoding's
per-channel mean and std, after the caller's encoding, and netdream pads the
normalised image as the framework does.

The output activation. A classifier trained with ``CrossEntropyLoss`` (or
Keras' ``from_logits=True``) ends in a linear layer whose outputs are logits;
what its user calls the class probabilities is their softmax. So a network
whose last layer is linear becomes an MLP with a **softmax** output unless
``output=`` says otherwise (``"identity"`` keeps the raw outputs, ``"sigmoid"``
for a network trained with ``BCEWithLogitsLoss``); ``net.metadata
["output_added"]`` records that the softmax was added. A network that ends in
an explicit Softmax, LogSoftmax (``exp`` of its output is the softmax) or
Sigmoid keeps it, and ``output=`` may only repeat it.

The frameworks are imported only inside the functions that need them; none is
a dependency of netdream.
"""

from __future__ import annotations

import numpy as np

from ..layers import AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D
from ..model import MLP, OUTPUT_ACTIVATIONS, Encoding, Network, _normalise_act

__all__ = ["Step", "linear", "affine", "batchnorm", "act", "softmax", "conv", "pool", "flatten",
           "assemble", "assemble_network", "normalised_encoding", "to_numpy", "NOT_DENSE"]

_N_PIXELS = 28 * 28
NOT_DENSE = ("netdream imports dense networks only (linear layers, per-feature "
              "affine layers and element-wise activations)")


# --------------------------------------------------------------------- steps
class Step:
    """One layer of the intermediate list. ``where`` names the original layer."""

    __slots__ = ("kind", "where", "w", "b", "s", "t", "act", "slope", "log", "stride",
                 "padding", "size")

    def __init__(self, kind, where, *, w=None, b=None, s=None, t=None, act=None, slope=None,
                 log=False, stride=None, padding=None, size=None):
        self.kind, self.where = kind, where
        self.w, self.b, self.s, self.t = w, b, s, t
        self.act, self.slope, self.log = act, slope, log
        self.stride, self.padding, self.size = stride, padding, size


def linear(where, w, b=None):
    w = np.asarray(w, dtype=np.float64)
    b = np.zeros(w.shape[0]) if b is None else np.asarray(b, dtype=np.float64).reshape(-1)
    return Step("linear", where, w=w, b=b)


def affine(where, s=1.0, t=0.0):
    return Step("affine", where, s=np.asarray(s, dtype=np.float64),
                 t=np.asarray(t, dtype=np.float64))


def batchnorm_scale_shift(mean, var, eps, gamma=None, beta=None):
    """Inference-mode batch normalisation ``gamma * (x - mean) / sqrt(var +
    eps) + beta`` as ``s * x + t``: returns ``(s, t)``, one value per
    feature or channel."""
    mean = np.asarray(mean, dtype=np.float64).reshape(-1)
    var = np.asarray(var, dtype=np.float64).reshape(-1)
    s = 1.0 / np.sqrt(var + float(eps))
    if gamma is not None:
        s = s * np.asarray(gamma, dtype=np.float64).reshape(-1)
    t = -mean * s
    if beta is not None:
        t = t + np.asarray(beta, dtype=np.float64).reshape(-1)
    return s, t


def fold_batchnorm(weight, bias, s, t):
    """The weight and bias of a linear or conv layer (output units or
    channels first) followed by ``s * x + t``."""
    return weight * s.reshape(-1, *([1] * (weight.ndim - 1))), bias * s + t


def batchnorm(where, mean, var, eps, gamma=None, beta=None):
    """Inference-mode batch normalisation ``gamma * (x - mean) / sqrt(var + eps) + beta``."""
    return affine(where, *batchnorm_scale_shift(mean, var, eps, gamma, beta))


def act(where, name, slope=None):
    return Step("act", where, act=name, slope=None if slope is None else float(slope))


def softmax(where, log=False):
    return Step("softmax", where, log=log)


def conv(where, w, b, stride, padding):
    """A 2-D convolution: weight ``(out, in, kh, kw)``, padding as
    :class:`~netdream.layers.Conv2D` takes it."""
    w = np.asarray(w, dtype=np.float64)
    b = np.zeros(w.shape[0]) if b is None else np.asarray(b, dtype=np.float64).reshape(-1)
    return Step("conv", where, w=w, b=b, stride=int(stride), padding=padding)


def pool(where, kind, size, stride):
    """Max (``kind="max"``) or average (``"avg"``) pooling without padding."""
    return Step(f"{kind}pool", where, size=int(size), stride=int(stride))


def flatten(where):
    """A feature map flattened channels first (what :class:`~netdream.layers.Flatten` does)."""
    return Step("flatten", where)


def _width(v, n, what, where):
    """A scalar or length-``n`` vector ``v`` as a length-``n`` vector."""
    v = np.asarray(v, dtype=np.float64)
    if v.size == 1:
        return np.full(n, float(v.reshape(-1)[0]))
    if v.shape != (n,):
        raise ValueError(f"{where} has {v.size} {what} values but the layer it folds into "
                         f"has {n} features")
    return v


def assemble(steps, output, encoding, metadata) -> MLP:
    """Fold and check the steps of one network and build the MLP."""
    output = _check_output_and_encoding(output, encoding)
    steps = [s for s in steps if not (s.kind == "act" and s.act == "identity")]
    folded = _fold_affine(_merge_affine(steps))
    _check_first_layer(folded)
    weights, biases, hidden, slopes, final = _layers(folded)
    out = _output_activation(final, output, metadata)
    return MLP(weights, biases, hidden=hidden, output=out, encoding=encoding,
               leaky_slope=_one_slope(slopes), metadata=metadata)


def assemble_network(steps, output, encoding, metadata, image_shape) -> Network:
    """Fold and check the steps of a convolutional network on images of
    ``image_shape`` and build the :class:`Network`: each convolution or
    linear layer takes the activation after it, the last linear layer the
    output activation."""
    output = _check_output_and_encoding(output, encoding)
    steps = [s for s in steps if not (s.kind == "act" and s.act == "identity")]
    merged, encoding = _input_normalisation(_merge_affine(_acts_before_max_pools(steps)),
                                            encoding, image_shape, metadata)
    folded = _fold_affine(merged)
    last = max((i for i, st in enumerate(folded) if st.kind == "linear"), default=None)
    if last is None:
        raise ValueError("the network has no linear (dense) layer for its class outputs")
    if last + 2 < len(folded):
        raise ValueError(f"{folded[last + 2].where} follows the output activation "
                         f"{folded[last + 1].where}; netdream's output activation is the last "
                         "layer")
    out = _output_activation(folded[last + 1] if last + 1 < len(folded) else None, output,
                             metadata)
    layers, slopes, i = [], [], 0
    while i <= last:
        st = folded[i]
        if st.kind in ("conv", "linear"):
            nxt = folded[i + 1] if i < last else None
            if nxt is not None and nxt.kind == "act":
                act, i = nxt.act, i + 1
                if act == "leaky_relu":
                    slopes.append((nxt.slope, nxt.where))
            elif nxt is not None and nxt.kind == "softmax":
                raise ValueError(f"{nxt.where} is a softmax between hidden layers; netdream "
                                 "supports softmax only as the output activation")
            else:
                act = out if i == last else "identity"
            layers.append(Conv2D(st.w, st.b, stride=st.stride, padding=st.padding, activation=act)
                          if st.kind == "conv" else Dense(st.w, st.b, act))
        elif st.kind in ("maxpool", "avgpool"):
            layers.append((MaxPool2D if st.kind == "maxpool" else AvgPool2D)(st.size, st.stride))
        elif st.kind == "flatten":
            layers.append(Flatten())
        else:
            raise ValueError(f"{st.where} follows {folded[i - 1].where if i else 'the input'}; "
                             "netdream needs one activation at most after a convolution or "
                             "linear layer")
        i += 1
    return Network(layers, image_shape=image_shape, encoding=encoding,
                   leaky_slope=_one_slope(slopes), metadata=metadata)


def _input_normalisation(merged, encoding, image_shape, metadata):
    """An affine step that the input meets before the first convolution —
    image pipelines' per-channel normalisation ``(x - mean) / std`` written
    into the graph — taken into the encoding (it cannot be folded into the
    convolution: the zero padding pads the normalised image, and so does
    netdream's encoding). Returns the other steps and the encoding: the
    given one (default: [0, 1]) followed by the normalisation."""
    if not merged or merged[0].kind != "affine":
        return merged, encoding
    nxt = next((st for st in merged[1:] if st.kind != "flatten"), None)
    if nxt is None or nxt.kind != "conv":
        return merged, encoding  # before a linear layer it folds into it exactly
    st = merged[0]
    encoding = normalised_encoding(encoding, st.s, st.t, image_shape, st.where)
    metadata["input_normalisation"] = st.where
    return merged[1:], encoding


def normalised_encoding(encoding, s, t, image_shape, where):
    """The encoding (default: [0, 1]) followed by ``s * x + t`` per channel
    (one value or one per channel each), which ``where`` computes."""
    channels = image_shape[0] if len(image_shape) == 3 else 1
    scale = _per_channel(s, channels, "scale", where)
    shift = _per_channel(t, channels, "shift", where)
    if not np.all(scale > 0):
        raise ValueError(f"{where} scales an input channel by {scale.min():g}; netdream "
                         "takes the input's normalisation into the encoding only with a "
                         "positive scale per channel")
    enc = encoding or Encoding()
    # the encoding gives (v - m) / d of the range-mapped pixel v; the graph
    # then s * that + t = (v - (m - t d / s)) / (d / s)
    m = np.zeros(channels) + (0.0 if enc.mean is None else np.asarray(enc.mean))
    d = np.ones(channels) * (1.0 if enc.std is None else np.asarray(enc.std))
    mean, std = m - shift * d / scale, d / scale
    one = channels == 1 or (np.all(mean == mean[0]) and np.all(std == std[0]))
    return Encoding(enc.low, enc.high, enc.ink, enc.order,
                    mean=float(mean[0]) if one else tuple(mean),
                    std=float(std[0]) if one else tuple(std))


def _acts_before_max_pools(steps):
    """The steps with each activation that follows max pooling moved before
    it (``relu(max_pool(x)) == max_pool(relu(x))``: netdream's activations
    never decrease, except a leaky_relu with a negative slope)."""
    steps = list(steps)
    for i, st in enumerate(steps):
        if st.kind == "act" and st.act == "leaky_relu" and st.slope < 0 and i and \
                steps[i - 1].kind == "maxpool":
            raise ValueError(f"{st.where} has a negative slope, so it does not commute with "
                             f"the max pooling before it ({steps[i - 1].where}); put it before "
                             "the pooling")
        if st.kind == "act" and (st.act != "leaky_relu" or st.slope >= 0):
            j = i
            while j > 0 and steps[j - 1].kind == "maxpool":
                j -= 1
            steps.insert(j, steps.pop(i))
    return steps


def _check_output_and_encoding(output, encoding):
    """``output`` normalised; refuses an ``encoding`` that is not an Encoding."""
    if output is not None:
        output = _normalise_act(output, OUTPUT_ACTIVATIONS, "output")
    if encoding is not None and not isinstance(encoding, Encoding):
        raise TypeError(f"encoding must be a netdream.Encoding or None, got {type(encoding).__name__}")
    return output


def _merge_affine(steps):
    """The steps with each run of affine steps merged: ``s2 * (s1 * x + t1) + t2``."""
    merged = []
    for st in steps:
        if st.kind == "affine" and merged and merged[-1].kind == "affine":
            prev = merged[-1]
            try:
                s, t = prev.s * st.s, prev.t * st.s + st.t
            except ValueError:
                raise ValueError(f"{st.where} has {st.s.size} features but {prev.where} has "
                                 f"{prev.s.size}") from None
            merged[-1] = Step("affine", prev.where, s=s, t=t)
        else:
            merged.append(st)
    return merged


def _fold_affine(merged):
    """The steps with each affine step folded into the linear layer or
    convolution before it, or else the linear layer after it."""
    folded = []
    for i, st in enumerate(merged):
        if st.kind != "affine":
            folded.append(st)
            continue
        after = next((j for j in range(i + 1, len(merged)) if merged[j].kind != "flatten"), None)
        if folded and folded[-1].kind == "linear":
            lin = folded[-1]
            n = lin.w.shape[0]
            s, t = _width(st.s, n, "scale", st.where), _width(st.t, n, "shift", st.where)
            folded[-1] = linear(lin.where, *fold_batchnorm(lin.w, lin.b, s, t))
        elif folded and folded[-1].kind == "conv":
            cv = folded[-1]
            s, t = _per_channel(st.s, cv.w.shape[0], "scale", st.where), \
                _per_channel(st.t, cv.w.shape[0], "shift", st.where)
            w, b = fold_batchnorm(cv.w, cv.b, s, t)
            folded[-1] = conv(cv.where, w, b, cv.stride, cv.padding)
        elif after is not None and merged[after].kind == "linear":
            lin = merged[after]
            n = lin.w.shape[1]
            s, t = _width(st.s, n, "scale", st.where), _width(st.t, n, "shift", st.where)
            merged[after] = linear(lin.where, lin.w * s[None, :], lin.w @ t + lin.b)
        else:
            raise ValueError(f"{st.where} cannot be folded into a linear layer: netdream "
                             "folds a per-feature affine layer (batch normalisation, a "
                             "constant scale or shift) only directly before or after a "
                             "linear layer, or directly after a convolution")
    return folded


def _per_channel(v, channels, what, where):
    """A scalar, per-channel or per-value (``channels * h * w``) vector ``v``
    as one value per channel; refused when it varies within a channel."""
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    if v.size == 1:
        return np.full(channels, float(v[0]))
    if v.size % channels:
        raise ValueError(f"{where} has {v.size} {what} values for {channels} channels")
    per = v.reshape(channels, -1)
    if not np.all(per == per[:, :1]):
        raise ValueError(f"{where} has a {what} that varies within a channel; netdream folds "
                         "into a convolution only one value per channel")
    return per[:, 0].copy()


def _check_first_layer(folded):
    """Refuse a network that does not start with a linear layer taking 784 inputs."""
    if not folded or folded[0].kind != "linear":
        if not any(st.kind == "linear" for st in folded):
            raise ValueError("the network has no linear (dense) layer")
        raise ValueError(f"{folded[0].where} comes before the first linear layer; netdream "
                         "networks start with a linear layer")
    first = folded[0]
    if first.w.shape[1] != _N_PIXELS:
        raise ValueError(f"{first.where} takes {first.w.shape[1]} inputs; netdream models take "
                         f"{_N_PIXELS} (a flattened 28x28 image)")


def _layers(folded):
    """The linear layers of the folded steps, each followed by one activation
    at most: (weights, biases, hidden activations, leaky_relu slopes as
    (slope, where), the explicit output activation step or None)."""
    weights, biases, hidden, slopes = [], [], [], []
    i = 0
    while True:
        lin = folded[i]
        if lin.kind != "linear":
            raise ValueError(f"{lin.where} follows {folded[i - 1].where}; netdream needs one "
                             "activation at most between two linear layers")
        if weights and lin.w.shape[1] != weights[-1].shape[0]:
            raise ValueError(f"{lin.where} takes {lin.w.shape[1]} inputs but the layer before "
                             f"it has {weights[-1].shape[0]} outputs")
        weights.append(lin.w)
        biases.append(lin.b)
        nxt = folded[i + 1] if i + 1 < len(folded) else None
        if not any(st.kind == "linear" for st in folded[i + 1:]):  # the last linear layer
            if nxt is not None and i + 2 < len(folded):
                raise ValueError(f"{folded[i + 2].where} follows the output activation "
                                 f"{nxt.where}; netdream's output activation is the last layer")
            return weights, biases, hidden, slopes, nxt
        if nxt.kind == "linear":  # two linear layers in a row
            hidden.append("identity")
            i += 1
        elif nxt.kind == "softmax":
            raise ValueError(f"{nxt.where} is a softmax between hidden layers; netdream "
                             "supports softmax only as the output activation")
        else:
            hidden.append(nxt.act)
            if nxt.act == "leaky_relu":
                slopes.append((nxt.slope, nxt.where))
            i += 2


def _output_activation(final, output, metadata):
    """netdream's output activation, from the network's explicit last step
    ``final`` (or None) and the caller's ``output=``; records in
    ``metadata`` whether a softmax was added."""
    if final is None:
        metadata["output_added"] = output is None
        return output if output is not None else "softmax"
    if final.kind == "softmax":
        out = "softmax"
    elif final.act == "sigmoid":
        out = "sigmoid"
    else:
        raise ValueError(f"{final.where} ({final.act}) is the network's last layer; "
                         "netdream's output activation must be softmax, sigmoid or none")
    if output is not None and output != out:
        raise ValueError(f"output={output!r} contradicts the network's last layer "
                         f"{final.where}, which computes {out}")
    metadata["output_added"] = False
    if final.kind == "softmax" and final.log:
        metadata["log_softmax"] = True  # exp(network output) == predict_proba
    return out


def _one_slope(slopes):
    """The network's one leaky_relu slope (0.01 when it has none)."""
    if not slopes:
        return 0.01
    slope = slopes[0][0]
    for other, where in slopes[1:]:
        if other != slope:
            raise ValueError(f"{where} has negative slope {other:g} but {slopes[0][1]} has "
                             f"{slope:g}; netdream uses one leaky_relu slope per network")
    return slope


def to_numpy(x) -> np.ndarray:
    """A framework tensor (torch, TensorFlow, JAX, NumPy) as a float64 array."""
    if hasattr(x, "detach"):  # torch: np.asarray on a tensor warns under NumPy 2
        return x.detach().cpu().double().numpy()
    if hasattr(x, "numpy") and callable(x.numpy) and not isinstance(x, np.ndarray):
        x = x.numpy()  # TensorFlow
    return np.array(x, dtype=np.float64)


