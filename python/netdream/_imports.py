"""Conversion of dense networks trained in PyTorch, Keras or saved as ONNX into
a netdream :class:`MLP`.

Every importer reads the framework's layers into one small intermediate list
of steps — ``linear`` (a weight matrix in netdream's ``W @ x`` convention and a
bias), ``affine`` (a per-feature scale and shift: batch normalisation in
inference mode, a constant added or multiplied), ``act`` (an element-wise
activation) and ``softmax`` — which :func:`_assemble` folds and checks. Layers
that compute nothing at inference (Flatten, Identity, Dropout in eval mode)
are dropped; every other layer is refused with a ``ValueError`` naming it, so a
network is never imported as something it is not.

Folding: an ``affine`` step directly after a linear layer is multiplied into
that layer; otherwise, when the next step is a linear layer, into that one
(``W (s * h + t) + b = (W diag s) h + (W t + b)``) — exact either way.

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

import math
from collections.abc import Mapping

import numpy as np

from ._model import MLP, OUTPUT_ACTIVATIONS, Encoding, _normalise_act
from ._validation import check_path

__all__ = ["mlp_from_torch", "mlp_from_keras", "mlp_from_onnx"]

_N_PIXELS = 28 * 28
_NOT_DENSE = ("netdream imports dense networks only (linear layers, per-feature "
              "affine layers and element-wise activations)")


# --------------------------------------------------------------------- steps
class _Step:
    """One layer of the intermediate list. ``where`` names the original layer."""

    __slots__ = ("kind", "where", "w", "b", "s", "t", "act", "slope", "log")

    def __init__(self, kind, where, *, w=None, b=None, s=None, t=None, act=None, slope=None,
                 log=False):
        self.kind, self.where = kind, where
        self.w, self.b, self.s, self.t = w, b, s, t
        self.act, self.slope, self.log = act, slope, log


def _linear(where, w, b=None):
    w = np.asarray(w, dtype=np.float64)
    b = np.zeros(w.shape[0]) if b is None else np.asarray(b, dtype=np.float64).reshape(-1)
    return _Step("linear", where, w=w, b=b)


def _affine(where, s=1.0, t=0.0):
    return _Step("affine", where, s=np.asarray(s, dtype=np.float64),
                 t=np.asarray(t, dtype=np.float64))


def _batchnorm(where, mean, var, eps, gamma=None, beta=None):
    """Inference-mode batch normalisation ``gamma * (x - mean) / sqrt(var + eps) + beta``."""
    mean = np.asarray(mean, dtype=np.float64).reshape(-1)
    var = np.asarray(var, dtype=np.float64).reshape(-1)
    s = 1.0 / np.sqrt(var + float(eps))
    if gamma is not None:
        s = s * np.asarray(gamma, dtype=np.float64).reshape(-1)
    t = -mean * s
    if beta is not None:
        t = t + np.asarray(beta, dtype=np.float64).reshape(-1)
    return _affine(where, s, t)


def _act(where, name, slope=None):
    return _Step("act", where, act=name, slope=None if slope is None else float(slope))


def _softmax(where, log=False):
    return _Step("softmax", where, log=log)


def _width(v, n, what, where):
    """A scalar or length-``n`` vector ``v`` as a length-``n`` vector."""
    v = np.asarray(v, dtype=np.float64)
    if v.size == 1:
        return np.full(n, float(v.reshape(-1)[0]))
    if v.shape != (n,):
        raise ValueError(f"{where} has {v.size} {what} values but the layer it folds into "
                         f"has {n} features")
    return v


def _assemble(steps, output, encoding, metadata) -> MLP:
    """Fold and check the steps of one network and build the MLP."""
    if output is not None:
        output = _normalise_act(output, OUTPUT_ACTIVATIONS, "output")
    if encoding is not None and not isinstance(encoding, Encoding):
        raise TypeError(f"encoding must be a netdream.Encoding or None, got {type(encoding).__name__}")
    steps = [s for s in steps if not (s.kind == "act" and s.act == "identity")]

    # merge runs of affine steps: s2 * (s1 * x + t1) + t2
    merged = []
    for st in steps:
        if st.kind == "affine" and merged and merged[-1].kind == "affine":
            prev = merged[-1]
            try:
                s, t = prev.s * st.s, prev.t * st.s + st.t
            except ValueError:
                raise ValueError(f"{st.where} has {st.s.size} features but {prev.where} has "
                                 f"{prev.s.size}") from None
            merged[-1] = _Step("affine", prev.where, s=s, t=t)
        else:
            merged.append(st)

    # fold each affine step into the linear layer before it, or else after it
    folded = []
    for i, st in enumerate(merged):
        if st.kind != "affine":
            folded.append(st)
            continue
        if folded and folded[-1].kind == "linear":
            lin = folded[-1]
            n = lin.w.shape[0]
            s, t = _width(st.s, n, "scale", st.where), _width(st.t, n, "shift", st.where)
            folded[-1] = _linear(lin.where, s[:, None] * lin.w, s * lin.b + t)
        elif i + 1 < len(merged) and merged[i + 1].kind == "linear":
            lin = merged[i + 1]
            n = lin.w.shape[1]
            s, t = _width(st.s, n, "scale", st.where), _width(st.t, n, "shift", st.where)
            merged[i + 1] = _linear(lin.where, lin.w * s[None, :], lin.w @ t + lin.b)
        else:
            raise ValueError(f"{st.where} cannot be folded into a linear layer: netdream "
                             "folds a per-feature affine layer (batch normalisation, a "
                             "constant scale or shift) only directly before or after a "
                             "linear layer")

    if not folded or folded[0].kind != "linear":
        if not any(st.kind == "linear" for st in folded):
            raise ValueError("the network has no linear (dense) layer")
        raise ValueError(f"{folded[0].where} comes before the first linear layer; netdream "
                         "networks start with a linear layer")
    first = folded[0]
    if first.w.shape[1] != _N_PIXELS:
        raise ValueError(f"{first.where} takes {first.w.shape[1]} inputs; netdream models take "
                         f"{_N_PIXELS} (a flattened 28x28 image)")

    weights, biases, hidden, slopes = [], [], [], []
    final = None  # the explicit output activation step, if any
    i = 0
    while i < len(folded):
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
        last_linear = not any(st.kind == "linear" for st in folded[i + 1:])
        if last_linear:
            if nxt is not None and i + 2 < len(folded):
                raise ValueError(f"{folded[i + 2].where} follows the output activation "
                                 f"{nxt.where}; netdream's output activation is the last layer")
            final = nxt
            break
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

    if final is None:
        out = output if output is not None else "softmax"
        metadata["output_added"] = output is None
    else:
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

    slope = 0.01
    if slopes:
        slope = slopes[0][0]
        for other, where in slopes[1:]:
            if other != slope:
                raise ValueError(f"{where} has negative slope {other:g} but {slopes[0][1]} has "
                                 f"{slope:g}; netdream uses one leaky_relu slope per network")
    return MLP(weights, biases, hidden=hidden, output=out, encoding=encoding, leaky_slope=slope,
               metadata=metadata)


def _to_numpy(x) -> np.ndarray:
    """A framework tensor (torch, TensorFlow, JAX, NumPy) as a float64 array."""
    if hasattr(x, "detach"):  # torch: np.asarray on a tensor warns under NumPy 2
        return x.detach().cpu().double().numpy()
    if hasattr(x, "numpy") and callable(x.numpy) and not isinstance(x, np.ndarray):
        x = x.numpy()  # TensorFlow
    return np.array(x, dtype=np.float64)


# --------------------------------------------------------------------- torch
def mlp_from_torch(module_or_state_dict, layers=None, *, encoding: Encoding | None = None,
                   output: str | None = None) -> MLP:
    """A netdream :class:`MLP` computing the same function as a PyTorch network.

    Parameters
    ----------
    module_or_state_dict : ``torch.nn.Sequential``, another ``nn.Module``, or
        a state dict (a mapping of names to tensors or arrays, as
        ``module.state_dict()`` or ``torch.load`` returns it).

        An ``nn.Sequential`` (nested ones are flattened) may hold:
        ``Linear``; ``ReLU``, ``LeakyReLU`` (its ``negative_slope`` is read),
        ``PReLU`` with one parameter, ``Sigmoid``, ``Tanh``, ``Identity``;
        ``Softmax``/``LogSoftmax`` over the last dimension as the last layer;
        ``Flatten`` (default dimensions); ``Dropout`` (and its alpha/feature
        variants) and ``BatchNorm1d`` in eval mode only (call
        ``module.eval()`` first) — a BatchNorm1d is folded into the linear
        layer before it, or else the one after it. Anything else — ``Conv2d``,
        recurrent layers, a module that overrides ``forward`` or has forward
        hooks — is refused.
    layers : list of str, required for a state dict or a module that is not an
        ``nn.Sequential`` (whose ``forward`` netdream cannot read); not allowed
        with an ``nn.Sequential``. The layers in forward order, each one of:

        ``"linear"``
            the next linear layer's parameters: a 2-D ``<prefix>.weight``
            ``(n_out, n_in)`` and an optional ``<prefix>.bias``.
        ``"batchnorm"`` or ``"batchnorm:EPS"``
            the next BatchNorm1d's ``<prefix>.running_mean``,
            ``<prefix>.running_var`` and optional ``weight``/``bias``;
            ``EPS`` defaults to PyTorch's 1e-5.
        ``"relu"``, ``"leaky_relu"`` or ``"leaky_relu:SLOPE"`` (default
        0.01, PyTorch's), ``"sigmoid"``, ``"tanh"``, ``"identity"``,
        ``"softmax"``, ``"log_softmax"``, ``"flatten"``, ``"dropout"``.

        Parameters are taken group by group (a group is all entries sharing
        the prefix before the last dot) in the state dict's order, which is
        the order the module created its layers; every group must be used.
        Example: ``layers=["flatten", "linear", "relu", "linear"]``.
    encoding : :class:`Encoding` of the network's input (default: [0, 1], ink
        high, flattened row by row — ``torchvision``'s ``ToTensor()`` on MNIST
        followed by ``Flatten``). For ``Normalize((0.1307,), (0.3081,))``
        pass ``Encoding(-0.1307 / 0.3081, (1 - 0.1307) / 0.3081)``.
    output : ``None`` (default), ``"softmax"``, ``"sigmoid"`` or
        ``"identity"``: the output activation when the network ends in a
        linear layer. ``None`` means softmax: such a network is taken to
        output logits, as one trained with ``CrossEntropyLoss`` does, and
        ``net.metadata["output_added"]`` is ``True``. Pass ``"identity"`` to
        keep the raw outputs, ``"sigmoid"`` for ``BCEWithLogitsLoss``. When
        the network ends in Softmax, LogSoftmax or Sigmoid, ``output`` may
        only name that activation.

    Returns
    -------
    MLP
        ``net.predict_proba(images)`` equals the softmax (or sigmoid) of the
        network's output on ``encoding``-encoded images, up to float32
        rounding. For a network ending in LogSoftmax it equals ``exp`` of the
        network's output.

    Raises
    ------
    ImportError
        a module is given and PyTorch is not installed.
    TypeError
        the argument is neither an ``nn.Module`` nor a mapping.
    ValueError
        a layer netdream cannot represent (named by its index and type), a
        layer in training mode, ``layers`` missing, malformed or not matching
        the state dict, or a network that does not take 784 inputs.
    """
    if isinstance(module_or_state_dict, Mapping):
        if layers is None:
            raise ValueError("layers is required with a state dict: list the layers in forward "
                             "order, e.g. layers=['linear', 'relu', 'linear']")
        steps = _torch_state_dict_steps(module_or_state_dict, layers)
        metadata = {"source": "torch state dict", "layers": list(layers)}
        return _assemble(steps, output, encoding, metadata)

    try:
        import torch
        from torch import nn
    except ImportError:
        raise ImportError("netdream.MLP.from_torch needs PyTorch: pip install torch") from None
    if not isinstance(module_or_state_dict, nn.Module):
        raise TypeError("module_or_state_dict must be a torch.nn.Module or a state dict "
                        f"(a mapping), got {type(module_or_state_dict).__name__}")
    module = module_or_state_dict
    if isinstance(module, nn.Sequential) and type(module).forward is nn.Sequential.forward:
        if layers is not None:
            raise ValueError("layers is only for a state dict or a module that is not an "
                             "nn.Sequential: an nn.Sequential describes its own layers")
        _check_no_hooks(module, "the module")
        steps, names = _torch_sequential_steps(module, nn, prefix="")
        metadata = {"source": "torch.nn.Sequential", "layers": names}
    else:
        if layers is None:
            raise ValueError(f"{type(module).__name__} is not an nn.Sequential, so netdream "
                             "cannot see what its forward() computes: pass layers=[...] in "
                             "forward order, e.g. layers=['linear', 'relu', 'linear']")
        stateful = [f"layer {name} ({type(m).__name__})" for name, m in module.named_modules()
                    if m.training and isinstance(m, (nn.modules.dropout._DropoutNd,
                                                     nn.modules.batchnorm._BatchNorm))]
        if stateful:
            raise ValueError(f"{stateful[0]} is in training mode, where it computes something "
                             "else than at inference: call module.eval() before converting")
        steps = _torch_state_dict_steps(module.state_dict(), layers)
        metadata = {"source": f"torch {type(module).__name__} state dict",
                    "layers": list(layers)}
    metadata["torch_version"] = str(torch.__version__)
    return _assemble(steps, output, encoding, metadata)


def _check_no_hooks(m, where):
    if getattr(m, "_forward_hooks", None) or getattr(m, "_forward_pre_hooks", None):
        raise ValueError(f"{where} has forward hooks, which may change what it computes; "
                         "remove them before converting")


def _torch_sequential_steps(seq, nn, prefix):
    def is_plain(m, cls):  # an instance whose forward is cls's own (a subclass may change it)
        return isinstance(m, cls) and type(m).forward is cls.forward

    dropouts = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
                nn.FeatureAlphaDropout)
    simple = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.Identity: "identity"}
    steps, names = [], []
    for name, m in seq.named_children():
        full = f"{prefix}{name}"
        where = f"layer {full} ({type(m).__name__})"
        _check_no_hooks(m, where)
        if is_plain(m, nn.Sequential):
            sub_steps, sub_names = _torch_sequential_steps(m, nn, prefix=f"{full}.")
            steps += sub_steps
            names += sub_names
            continue
        names.append(f"{full}: {m!r}")
        if is_plain(m, nn.Linear):
            steps.append(_linear(where, _to_numpy(m.weight),
                                 None if m.bias is None else _to_numpy(m.bias)))
        elif any(is_plain(m, cls) for cls in simple):
            act = next(v for cls, v in simple.items() if is_plain(m, cls))
            steps.append(_act(where, act))
        elif is_plain(m, nn.LeakyReLU):
            steps.append(_act(where, "leaky_relu", m.negative_slope))
        elif is_plain(m, nn.PReLU):
            if m.weight.numel() != 1:
                raise ValueError(f"{where} has {m.weight.numel()} slopes (one per feature); "
                                 "netdream supports one negative slope per network")
            steps.append(_act(where, "leaky_relu", float(_to_numpy(m.weight).reshape(-1)[0])))
        elif is_plain(m, nn.Softmax) or is_plain(m, nn.LogSoftmax):
            if m.dim not in (None, 1, -1):
                raise ValueError(f"{where} is taken over dimension {m.dim}; netdream's softmax "
                                 "is over the classes (dim=1 or -1)")
            steps.append(_softmax(where, log=is_plain(m, nn.LogSoftmax)))
        elif is_plain(m, nn.Flatten):
            if (m.start_dim, m.end_dim) != (1, -1):
                raise ValueError(f"{where} flattens dimensions {m.start_dim}..{m.end_dim}; "
                                 "netdream needs the default Flatten(start_dim=1, end_dim=-1)")
        elif any(is_plain(m, cls) for cls in dropouts):
            if m.training:
                raise ValueError(f"{where} is in training mode, where it drops units at random: "
                                 "call module.eval() before converting")
        elif is_plain(m, nn.BatchNorm1d):
            if m.training:
                raise ValueError(f"{where} is in training mode, where it normalises with the "
                                 "batch's statistics: call module.eval() before converting")
            if m.running_mean is None or m.running_var is None:
                raise ValueError(f"{where} has track_running_stats=False, so it normalises with "
                                 "each batch's statistics even in eval mode; netdream cannot "
                                 "represent that")
            steps.append(_batchnorm(where, _to_numpy(m.running_mean), _to_numpy(m.running_var),
                                    m.eps, None if m.weight is None else _to_numpy(m.weight),
                                    None if m.bias is None else _to_numpy(m.bias)))
        else:
            raise ValueError(f"{where} is not supported: {_NOT_DENSE}")
    return steps, names


_SD_ACTS = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "identity": "identity",
            "leaky_relu": "leaky_relu"}


def _torch_state_dict_steps(state_dict, layers):
    if isinstance(layers, str) or not isinstance(layers, (list, tuple)):
        raise TypeError(f"layers must be a list of strings, got {type(layers).__name__}")
    groups = {}  # prefix -> {parameter name: value}, in the state dict's order
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise TypeError(f"state dict keys must be strings, got {type(key).__name__}")
        prefix, _, pname = key.rpartition(".")
        groups.setdefault(prefix, {})[pname] = value
    queue = list(groups.items())

    def take(i, spec, needs):
        if not queue:
            raise ValueError(f"layers[{i}] is {spec!r} but the state dict has no parameters "
                             "left for it")
        prefix, params = queue.pop(0)
        label = f"'{prefix}.*'" if prefix else "the top-level entries"
        if not needs <= params.keys():
            raise ValueError(f"layers[{i}] is {spec!r} but the next parameters in the state "
                             f"dict, {label} ({', '.join(params)}), lack "
                             f"{', '.join(sorted(needs - params.keys()))}")
        return f"layers[{i}] ({spec}, parameters {label})", params

    steps = []
    for i, spec in enumerate(layers):
        if not isinstance(spec, str):
            raise TypeError(f"layers[{i}] must be a string, got {type(spec).__name__}")
        kind, _, arg = spec.strip().lower().partition(":")
        kind = kind.strip()
        where = f"layers[{i}] ({spec})"
        if arg and kind not in ("leaky_relu", "batchnorm"):
            raise ValueError(f"layers[{i}] = {spec!r}: only 'leaky_relu' and 'batchnorm' take "
                             "an argument after ':'")
        if arg:
            try:
                arg = float(arg)
            except ValueError:
                raise ValueError(f"layers[{i}] = {spec!r}: the argument after ':' must be a "
                                 "number") from None
            if not math.isfinite(arg) or (kind == "batchnorm" and arg < 0):
                raise ValueError(f"layers[{i}] = {spec!r}: the argument must be finite"
                                 + (" and >= 0" if kind == "batchnorm" else ""))
        if kind == "linear":
            where, p = take(i, spec, {"weight"})
            extra = set(p) - {"weight", "bias"}
            w = _to_numpy(p["weight"])
            if w.ndim != 2 or extra:
                what = (f"a {w.ndim}-D weight of shape {tuple(w.shape)}" if w.ndim != 2
                        else f"extra entries {', '.join(sorted(extra))}")
                raise ValueError(f"{where} is not a linear layer: it has {what}")
            b = _to_numpy(p["bias"]) if "bias" in p else None
            if b is not None and b.shape != (w.shape[0],):
                raise ValueError(f"{where} has a bias of shape {tuple(b.shape)} for a weight of "
                                 f"shape {tuple(w.shape)}")
            steps.append(_linear(where, w, b))
        elif kind == "batchnorm":
            where, p = take(i, spec, {"running_mean", "running_var"})
            extra = set(p) - {"running_mean", "running_var", "weight", "bias",
                              "num_batches_tracked"}
            if extra:
                raise ValueError(f"{where} is not a BatchNorm1d: it has extra entries "
                                 f"{', '.join(sorted(extra))}")
            mean, var = _to_numpy(p["running_mean"]), _to_numpy(p["running_var"])
            if mean.ndim != 1 or var.shape != mean.shape:
                raise ValueError(f"{where} has running statistics of shapes {tuple(mean.shape)} "
                                 f"and {tuple(var.shape)}; a BatchNorm1d has two equal 1-D ones")
            steps.append(_batchnorm(where, mean, var, 1e-5 if arg == "" else arg,
                                    _to_numpy(p["weight"]) if "weight" in p else None,
                                    _to_numpy(p["bias"]) if "bias" in p else None))
        elif kind in _SD_ACTS:
            slope = (0.01 if arg == "" else arg) if kind == "leaky_relu" else None
            steps.append(_act(where, _SD_ACTS[kind], slope))
        elif kind in ("softmax", "log_softmax"):
            steps.append(_softmax(where, log=kind == "log_softmax"))
        elif kind in ("flatten", "dropout"):
            pass
        else:
            raise ValueError(f"layers[{i}] = {spec!r} is not a known layer; use linear, "
                             "batchnorm, relu, leaky_relu, sigmoid, tanh, identity, softmax, "
                             "log_softmax, flatten or dropout")
    if queue:
        prefix, params = queue[0]
        label = f"'{prefix}.*'" if prefix else "the top-level entries"
        raise ValueError(f"the state dict has parameters that layers does not use, starting "
                         f"with {label} ({', '.join(params)}); list every linear and batchnorm "
                         "layer")
    return steps


# --------------------------------------------------------------------- keras
def mlp_from_keras(model, *, encoding: Encoding | None = None, output: str | None = None) -> MLP:
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
    output : as for :func:`mlp_from_torch`: the output activation when the last
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
            steps.append(_linear(where, kernel.T, bias))
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
            steps.append(_act(where, "leaky_relu", slope) if slope else _act(where, "relu"))
        elif cls is L.LeakyReLU:
            slope = getattr(layer, "negative_slope", getattr(layer, "alpha", None))
            steps.append(_act(where, "leaky_relu", slope))
        elif cls is L.Softmax:
            axis = layer.axis
            if axis not in (-1, 1, [-1], [1], (-1,), (1,)):
                raise ValueError(f"{where} is taken over axis {axis}; netdream's softmax is over "
                                 "the classes (the last axis)")
            steps.append(_softmax(where))
        elif cls is L.BatchNormalization:
            if layer.axis not in (-1, 1, [-1], [1]):
                raise ValueError(f"{where} normalises axis {layer.axis}; netdream needs the "
                                 "feature axis (-1)")
            steps.append(_batchnorm(
                where, _keras_numpy(layer.moving_mean), _keras_numpy(layer.moving_variance),
                layer.epsilon, _keras_numpy(layer.gamma) if layer.scale else None,
                _keras_numpy(layer.beta) if layer.center else None))
        elif cls is L.Rescaling:
            scale, offset = np.asarray(layer.scale, float), np.asarray(layer.offset, float)
            if scale.size != 1 or offset.size != 1:
                raise ValueError(f"{where} has per-channel scale or offset; netdream folds only "
                                 "a scalar Rescaling")
            steps.append(_affine(where, scale.reshape(()), offset.reshape(())))
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
            raise ValueError(f"{where} is not supported: {_NOT_DENSE}")
    metadata = {"source": "keras.Sequential", "keras_version": str(keras.__version__),
                "keras_backend": str(keras.backend.backend()), "layers": names}
    return _assemble(steps, output, encoding, metadata)


def _keras_numpy(v) -> np.ndarray:
    """A Keras variable's value as a float64 array, whatever the backend."""
    value = getattr(v, "value", v)
    if callable(value):  # a tf.Variable's value() is a method
        value = value()
    return _to_numpy(value)


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
        return _act(where, name)
    if name == "leaky_relu":  # keras.activations.leaky_relu's default slope
        return _act(where, "leaky_relu", 0.2)
    if name in ("softmax", "log_softmax"):
        return _softmax(where, log=name == "log_softmax")
    raise ValueError(f"{where} has activation {name!r}, which netdream does not support; "
                     "supported: linear, relu, leaky_relu, sigmoid, tanh, softmax, log_softmax")


# ---------------------------------------------------------------------- onnx
def mlp_from_onnx(path, *, encoding: Encoding | None = None, output: str | None = None) -> MLP:
    """A netdream :class:`MLP` computing the same function as an ONNX model of
    a dense network.

    Parameters
    ----------
    path : str or os.PathLike of an ``.onnx`` file, or an ``onnx.ModelProto``.
        The graph must be a simple chain from its one input to its one
        output — each node takes the previous node's output and constants
        (initializers or ``Constant`` nodes) — of: ``Gemm`` (any ``alpha``,
        ``beta``, ``transB``; ``transA=0``: the data is batch-first) or
        ``MatMul`` with a constant right-hand side; ``Add``, ``Sub``, ``Mul``,
        ``Div`` by a per-feature or scalar constant and
        ``BatchNormalization`` in inference mode (folded into the adjacent
        linear layer, so ``MatMul`` + ``Add`` is one layer); ``Relu``,
        ``LeakyRelu``, ``Sigmoid``, ``Tanh``, ``Identity``, ``Dropout``
        (inference); ``Softmax``/``LogSoftmax`` over the last axis at the
        end; ``Flatten`` (axis 1) and ``Reshape`` to ``(batch, features)``.
        The input is ``(N, 784)``, or ``(N, 28, 28)``/``(N, 1, 28, 28)``
        followed by Flatten or Reshape. Other ops are refused with the node's
        index, name and op type.
    encoding : :class:`Encoding` of the model's input (default: [0, 1], ink
        high, row-major).
    output : as for :func:`mlp_from_torch`: the output activation when the graph
        ends in a linear layer (default softmax).

    Raises
    ------
    ImportError
        the ``onnx`` package is not installed.
    TypeError
        ``path`` is neither a path nor an ``onnx.ModelProto``.
    ValueError
        a node netdream cannot represent, or a graph that is not a chain.
    """
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError:
        raise ImportError("netdream.MLP.from_onnx needs the onnx package: pip install onnx") from None
    if isinstance(path, onnx.ModelProto):
        model, source = path, "onnx.ModelProto"
    else:
        p = check_path(path)
        try:
            model = onnx.load(p)
        except FileNotFoundError:
            raise
        except Exception as exc:  # protobuf's DecodeError and friends
            raise ValueError(f"{p} is not a readable ONNX model: {exc}") from None
        source = p
    graph = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is None:
        raise ValueError("the model does not import the default ONNX operator set")

    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    inputs = [v for v in graph.input if v.name not in consts]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise ValueError(f"the graph has {len(inputs)} inputs and {len(graph.output)} outputs; "
                         "netdream imports a chain from one input to one output")
    dims = [d.dim_value if d.HasField("dim_value") else None
            for d in inputs[0].type.tensor_type.shape.dim]
    if inputs[0].type.tensor_type.HasField("shape") and len(dims) < 2:
        raise ValueError(f"the graph input '{inputs[0].name}' has shape {dims}; netdream needs "
                         "a batch axis first: (N, 784), (N, 28, 28) or (N, 1, 28, 28)")
    feat = tuple(dims[1:]) if len(dims) >= 2 else (None,)  # per-sample shape, None = unknown
    consumed = {name for node in graph.node for name in node.input}

    def const(name, where):
        if name not in consts:
            raise ValueError(f"{where} takes '{name}', which is neither the previous node's "
                             "output nor a constant; netdream imports only a simple chain")
        return np.asarray(consts[name], dtype=np.float64)

    def per_feature(c, where):
        """A constant broadcast against the data: a scalar or a per-feature vector."""
        if c.size == 1:
            return c.reshape(())
        full = (1, *feat)
        if None in feat or c.ndim > len(full):
            raise ValueError(f"{where} uses a constant of shape {c.shape} on data of shape "
                             f"(N, {', '.join('?' if d is None else str(d) for d in feat)}); "
                             "netdream folds only scalars or per-feature constants")
        try:
            ok = np.broadcast_shapes(c.shape, full) == full
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"{where} uses a constant of shape {c.shape} that does not "
                             f"broadcast per sample over data of shape (N, {feat})")
        return np.broadcast_to(c, full).reshape(-1)

    current = inputs[0].name
    steps, names = [], []
    for idx, node in enumerate(graph.node):
        op = node.op_type
        where = f"node {idx} '{node.name}' ({op})" if node.name else f"node {idx} ({op})"
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.domain not in ("", "ai.onnx"):
            raise ValueError(f"{where} is from the operator domain '{node.domain}'; netdream "
                             "reads only standard ONNX operators")
        if op == "Constant":
            (out,) = node.output
            if "value" in attrs:
                consts[out] = numpy_helper.to_array(attrs["value"])
            elif len(attrs) == 1 and next(iter(attrs)) in ("value_float", "value_floats",
                                                            "value_int", "value_ints"):
                consts[out] = np.asarray(next(iter(attrs.values())))
            else:
                raise ValueError(f"{where} holds a kind of constant netdream cannot read "
                                 f"({', '.join(attrs)})")
            continue
        if op == "Identity" and node.input[0] in consts:  # torch.onnx.export aliases weights
            consts[node.output[0]] = consts[node.input[0]]
            continue
        data = [n for n in node.input if n and n not in consts]
        if data != [current]:
            raise ValueError(f"{where} does not take exactly the previous node's output "
                             f"'{current}' (it takes {list(node.input)}); netdream imports "
                             "only a simple chain")
        for extra in node.output[1:]:
            if extra and (extra in consumed or any(o.name == extra for o in graph.output)):
                raise ValueError(f"{where} has a second output '{extra}' that is used; netdream "
                                 "imports only a simple chain")
        names.append(f"{node.name or idx}: {op}")
        flat = len(feat) == 1
        if op in ("Gemm", "MatMul") and not flat:
            raise ValueError(f"{where} receives data of per-sample shape {feat}; flatten it "
                             "(Flatten or Reshape) before the first linear layer")
        if op == "Gemm":
            a, b_name = node.input[0], node.input[1]
            if a != current:
                raise ValueError(f"{where} has the data as its second input; netdream needs "
                                 "Y = X @ W (the data first)")
            if attrs.get("transA", 0):
                raise ValueError(f"{where} has transA=1, so it reads the data feature-first; "
                                 "netdream needs batch-first data (transA=0)")
            bmat = const(b_name, where)
            if bmat.ndim != 2:
                raise ValueError(f"{where} has a weight of shape {bmat.shape}; Gemm needs 2-D")
            w = bmat if attrs.get("transB", 0) else bmat.T  # -> (n_out, n_in)
            w = float(attrs.get("alpha", 1.0)) * w
            bias = None
            if len(node.input) > 2 and node.input[2]:
                c = const(node.input[2], where)
                if c.ndim > 2 or (c.ndim == 2 and c.shape[0] != 1):
                    raise ValueError(f"{where} has a bias C of shape {c.shape}; netdream needs "
                                     "one bias per output, shape (n_out,) or (1, n_out)")
                try:
                    bias = np.broadcast_to(c.reshape(-1) if c.size > 1 else c.reshape(()),
                                           (w.shape[0],)) * float(attrs.get("beta", 1.0))
                except ValueError:
                    raise ValueError(f"{where} has a bias C of shape {c.shape} for "
                                     f"{w.shape[0]} outputs") from None
            steps.append(_linear(where, w, bias))
            feat = (w.shape[0],)
        elif op == "MatMul":
            if node.input[0] != current:
                raise ValueError(f"{where} has the data as its second input; netdream needs "
                                 "Y = X @ W (the data first)")
            w = const(node.input[1], where)
            if w.ndim != 2:
                raise ValueError(f"{where} has a weight of shape {w.shape}; netdream needs 2-D")
            steps.append(_linear(where, w.T))
            feat = (w.shape[1],)
        elif op in ("Add", "Sub", "Mul", "Div"):
            data_first = node.input[0] == current
            c = per_feature(const(node.input[1] if data_first else node.input[0], where), where)
            if op == "Add":
                steps.append(_affine(where, 1.0, c))
            elif op == "Sub":
                steps.append(_affine(where, 1.0, -c) if data_first else _affine(where, -1.0, c))
            elif op == "Mul":
                steps.append(_affine(where, c, 0.0))
            elif data_first:
                steps.append(_affine(where, 1.0 / c, 0.0))
            else:
                raise ValueError(f"{where} divides a constant by the data; netdream folds only "
                                 "division by a constant")
        elif op == "BatchNormalization":
            if attrs.get("training_mode", 0):
                raise ValueError(f"{where} is in training mode; export the model in eval mode")
            if not flat:
                raise ValueError(f"{where} normalises data of per-sample shape {feat}; netdream "
                                 "folds it only on flattened data")
            scale, b, mean, var = (const(n, where) for n in node.input[1:5])
            steps.append(_batchnorm(where, mean, var, attrs.get("epsilon", 1e-5), scale, b))
        elif op in ("Relu", "Sigmoid", "Tanh", "Identity"):
            steps.append(_act(where, {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh",
                                      "Identity": "identity"}[op]))
        elif op == "LeakyRelu":
            steps.append(_act(where, "leaky_relu", attrs.get("alpha", 0.01)))
        elif op in ("Softmax", "LogSoftmax"):
            axis = attrs.get("axis", 1 if opset < 13 else -1)
            if not flat or axis not in (1, -1):
                raise ValueError(f"{where} is taken over axis {axis} of data of per-sample shape "
                                 f"{feat}; netdream's softmax is over the classes (the last axis "
                                 "of flat data)")
            steps.append(_softmax(where, log=op == "LogSoftmax"))
        elif op == "Dropout":
            if attrs.get("is_test", 1) == 0:  # opset < 7
                raise ValueError(f"{where} is in training mode (is_test=0)")
            if len(node.input) > 2 and node.input[2]:
                tm = node.input[2]
                if tm not in consts or bool(np.asarray(consts[tm]).reshape(-1)[0]):
                    raise ValueError(f"{where} may run in training mode (training_mode input "
                                     f"'{tm}'); export the model in eval mode")
        elif op == "Flatten":
            if attrs.get("axis", 1) != 1:
                raise ValueError(f"{where} flattens at axis {attrs['axis']}; netdream needs "
                                 "axis=1 (keep the batch axis)")
            feat = (None if None in feat else int(np.prod(feat)),)
        elif op == "Reshape":
            shape = [int(v) for v in const(node.input[1], where).reshape(-1)]
            n_feat = None if None in feat else int(np.prod(feat))
            keep_batch = shape[:1] == [0] or (len(shape) > 0 and len(dims) > 0
                                              and dims[0] is not None and shape[0] == dims[0])
            ok = (len(shape) == 2 and not (attrs.get("allowzero", 0) and 0 in shape)
                  and ((n_feat is not None and shape[1] == n_feat and shape[0] in (-1, 0))
                       or ((shape[1] == -1 or shape[1] == n_feat) and keep_batch)))
            if not ok:
                raise ValueError(f"{where} reshapes data of per-sample shape {feat} to {shape}; "
                                 "netdream allows only a flattening to (batch, features)")
            feat = (n_feat,)
        else:
            raise ValueError(f"{where} is not supported: {_NOT_DENSE}")
        current = node.output[0]
    if current != graph.output[0].name:
        raise ValueError(f"the graph output '{graph.output[0].name}' is not the end of the chain "
                         f"('{current}'); netdream imports only a simple chain")
    metadata = {"source": "onnx", "onnx_file": str(source), "opset": int(opset),
                "producer": f"{model.producer_name} {model.producer_version}".strip(),
                "layers": names}
    return _assemble(steps, output, encoding, metadata)
