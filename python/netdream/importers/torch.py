"""Import dense networks trained in PyTorch (see :func:`from_torch`)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ..model import MLP, Encoding
from .._validation import check_path
from . import _steps as steps_

__all__ = ["from_torch"]


# --------------------------------------------------------------------- torch
def from_torch(module_or_state_dict, layers=None, *, encoding: Encoding | None = None,
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
        return steps_.assemble(steps, output, encoding, metadata)

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
    return steps_.assemble(steps, output, encoding, metadata)


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
            steps.append(steps_.linear(where, steps_.to_numpy(m.weight),
                                 None if m.bias is None else steps_.to_numpy(m.bias)))
        elif any(is_plain(m, cls) for cls in simple):
            act = next(v for cls, v in simple.items() if is_plain(m, cls))
            steps.append(steps_.act(where, act))
        elif is_plain(m, nn.LeakyReLU):
            steps.append(steps_.act(where, "leaky_relu", m.negative_slope))
        elif is_plain(m, nn.PReLU):
            if m.weight.numel() != 1:
                raise ValueError(f"{where} has {m.weight.numel()} slopes (one per feature); "
                                 "netdream supports one negative slope per network")
            steps.append(steps_.act(where, "leaky_relu", float(steps_.to_numpy(m.weight).reshape(-1)[0])))
        elif is_plain(m, nn.Softmax) or is_plain(m, nn.LogSoftmax):
            if m.dim not in (None, 1, -1):
                raise ValueError(f"{where} is taken over dimension {m.dim}; netdream's softmax "
                                 "is over the classes (dim=1 or -1)")
            steps.append(steps_.softmax(where, log=is_plain(m, nn.LogSoftmax)))
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
            steps.append(steps_.batchnorm(where, steps_.to_numpy(m.running_mean), steps_.to_numpy(m.running_var),
                                    m.eps, None if m.weight is None else steps_.to_numpy(m.weight),
                                    None if m.bias is None else steps_.to_numpy(m.bias)))
        else:
            raise ValueError(f"{where} is not supported: {steps_.NOT_DENSE}")
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
            w = steps_.to_numpy(p["weight"])
            if w.ndim != 2 or extra:
                what = (f"a {w.ndim}-D weight of shape {tuple(w.shape)}" if w.ndim != 2
                        else f"extra entries {', '.join(sorted(extra))}")
                raise ValueError(f"{where} is not a linear layer: it has {what}")
            b = steps_.to_numpy(p["bias"]) if "bias" in p else None
            if b is not None and b.shape != (w.shape[0],):
                raise ValueError(f"{where} has a bias of shape {tuple(b.shape)} for a weight of "
                                 f"shape {tuple(w.shape)}")
            steps.append(steps_.linear(where, w, b))
        elif kind == "batchnorm":
            where, p = take(i, spec, {"running_mean", "running_var"})
            extra = set(p) - {"running_mean", "running_var", "weight", "bias",
                              "num_batches_tracked"}
            if extra:
                raise ValueError(f"{where} is not a BatchNorm1d: it has extra entries "
                                 f"{', '.join(sorted(extra))}")
            mean, var = steps_.to_numpy(p["running_mean"]), steps_.to_numpy(p["running_var"])
            if mean.ndim != 1 or var.shape != mean.shape:
                raise ValueError(f"{where} has running statistics of shapes {tuple(mean.shape)} "
                                 f"and {tuple(var.shape)}; a BatchNorm1d has two equal 1-D ones")
            steps.append(steps_.batchnorm(where, mean, var, 1e-5 if arg == "" else arg,
                                    steps_.to_numpy(p["weight"]) if "weight" in p else None,
                                    steps_.to_numpy(p["bias"]) if "bias" in p else None))
        elif kind in _SD_ACTS:
            slope = (0.01 if arg == "" else arg) if kind == "leaky_relu" else None
            steps.append(steps_.act(where, _SD_ACTS[kind], slope))
        elif kind in ("softmax", "log_softmax"):
            steps.append(steps_.softmax(where, log=kind == "log_softmax"))
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


