"""Import networks trained in PyTorch (see :func:`from_torch`): dense ones
here; convolutional ``nn.Sequential`` models in :mod:`.torch_cnn`, and plain
modules with a straight-line forward turned into one by :mod:`.torch_fx`.

Two handler tables (see :mod:`._handlers`):

- :data:`MODULES`, keyed by ``torch.nn`` class name, reads the children of an
  ``nn.Sequential``: ``handler(module, ctx)`` returns the module's steps. A
  module matches the first registered class in its type's MRO, and only when
  it keeps that class's ``forward`` (a subclass that overrides it computes
  something else). Nested plain ``nn.Sequential`` containers are flattened by
  the driver (:func:`_sequential_steps`).
- :data:`LAYERS`, keyed by the kind of a ``layers=[...]`` entry
  (``"linear"``, ``"relu"``, ...), reads a state dict: ``handler(spec, ctx)``
  returns the entry's steps, taking its parameters with ``ctx.take``. The
  kinds in :data:`_ARGUMENTS` accept a number after ``':'`` (read into
  ``ctx.arg``).

PyTorch itself is imported only when a module is converted: a state dict of
NumPy arrays needs no torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..model import MLP, Encoding, Network, _check_image_shape
from . import _steps as steps_
from ._handlers import Context, Handlers

__all__ = ["from_torch", "MODULES", "LAYERS"]


def from_torch(module_or_state_dict, layers=None, *, encoding: Encoding | None = None,
               output: str | None = None, image_shape=(28, 28)) -> MLP | Network:
    """A netdream :class:`MLP` (or, for a convolutional network, a
    :class:`Network`) computing the same function as a PyTorch network.

    Parameters
    ----------
    module_or_state_dict : ``torch.nn.Sequential``, another ``nn.Module``, or
        a state dict (a mapping of names to tensors or arrays, as
        ``module.state_dict()`` or ``torch.load`` returns it).

        An ``nn.Sequential`` (nested ones are flattened) may hold:
        ``Linear``; ``ReLU``, ``LeakyReLU`` (its ``negative_slope`` is read),
        ``PReLU`` with one parameter, ``Sigmoid``, ``Tanh``, ``Identity``;
        ``Softmax``/``LogSoftmax`` over the last dimension as the last layer;
        ``Flatten`` (default dimensions); ``Dropout`` (and its variants
        ``Dropout1d``, ``Dropout2d``, ``Dropout3d``, ``AlphaDropout``,
        ``FeatureAlphaDropout``) and ``BatchNorm1d`` in eval mode only (call
        ``module.eval()`` first) — a BatchNorm1d is folded into the linear
        layer before it, or else the one after it. Anything else — recurrent
        layers, a module that overrides ``forward`` or has forward hooks — is
        refused, except that an nn.Sequential with 2-D convolutions, pooling
        or 2-D batch normalisation becomes a convolutional
        :class:`~netdream.Network`: see :mod:`netdream.importers.torch_cnn`
        for the layers it reads (batch norm folded into the layer before it).

        Another ``nn.Module`` holding 2-D convolutions, pooling or 2-D batch
        normalisation, given without ``layers``, is traced with torch.fx
        into the nn.Sequential its forward computes, then read as above. The
        forward must be a straight line — each step takes the previous
        step's output and constants; no branch, no residual connection — of
        calls to its submodules and to these functions and tensor methods:
        ``relu``, ``sigmoid``, ``tanh``, ``leaky_relu``, ``max_pool2d``,
        ``avg_pool2d``, ``adaptive_avg_pool2d``, ``adaptive_max_pool2d``,
        ``mean`` and ``amax`` over dimensions (2, 3) (global pooling),
        ``flatten``, ``view``, ``reshape`` (to
        ``(x.size(0), -1)``), ``softmax``, ``log_softmax``, ``dropout``
        (with training=self.training, in eval mode); each is read as the
        torch.nn module computing the same (see
        :mod:`netdream.importers.torch_fx`). Before the first layer, the
        forward may normalise its input — ``(x - self.mean) / self.std``
        with buffers of one value or one per channel, or numbers — which
        becomes the encoding, after ``encoding`` (``metadata
        ["input_normalisation"]`` names the nodes). Anything else is
        refused, naming the node.
    layers : list of str, required for a state dict or a dense module that
        is not an ``nn.Sequential`` (whose ``forward`` netdream does not
        trace); not allowed with an ``nn.Sequential``. The layers in forward order, each one of:

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

    image_shape : ``(H, W)`` or ``(C, H, W)``, the input of a convolutional
        network (default 28x28 grey).

    Returns
    -------
    MLP (or Network, for a convolutional network)
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
        the state dict, a network that does not take 784 inputs, or a traced
        forward that is not a straight line (naming the node).
    """
    if isinstance(module_or_state_dict, Mapping):
        if layers is None:
            raise ValueError("layers is required with a state dict: list the layers in forward "
                             "order, e.g. layers=['linear', 'relu', 'linear']")
        steps = _state_dict_steps(module_or_state_dict, layers)
        metadata = {"source": "torch state dict", "layers": list(layers)}
    else:
        try:
            import torch
            from torch import nn
        except ImportError:
            raise ImportError("netdream.from_torch needs PyTorch: pip install torch") from None
        if layers is None and isinstance(module_or_state_dict, nn.Module):
            net = _convolutional(module_or_state_dict, torch, image_shape=image_shape,
                                 encoding=encoding, output=output)
            if net is not None:
                return net
        steps, metadata = _module_steps(module_or_state_dict, layers)
    return steps_.assemble(steps, output, encoding, metadata)


def _convolutional(module, torch, **kw):
    """The :class:`~netdream.Network` of a convolutional nn.Sequential, or of
    a plain module holding convolutions, which torch.fx turns into one;
    ``None`` for a dense network."""
    from .torch_cnn import holds_convolutions, is_convolutional, network_from_sequential
    nn = torch.nn
    version = str(torch.__version__)
    if _is_plain(module, nn.Sequential):
        if not is_convolutional(module, nn):
            return None
        return network_from_sequential(module, nn, torch_version=version, **kw)
    if not holds_convolutions(module):
        return None
    from .torch_fx import sequential_from_module
    _check_no_hooks(module, "the module")
    seq, norm = sequential_from_module(module, torch, normalisation=True)
    if norm is not None:  # the input's normalisation: into the encoding
        first = next(iter(seq.children()), None)
        if type(first).__name__ != "Conv2d":
            raise ValueError(f"the input normalisation ({norm.where}) comes before "
                             f"{type(first).__name__ if first is not None else 'nothing'}; "
                             "netdream takes it into the encoding before a first Conv2d")
        kw["encoding"] = steps_.normalised_encoding(kw["encoding"], norm.scale, norm.shift,
                                                    _check_image_shape(kw["image_shape"]), norm.where)
    net = network_from_sequential(seq, nn, torch_version=version, **kw)
    net.metadata["source"] = f"torch {type(module).__name__}.forward, traced by torch.fx"
    if norm is not None:
        net.metadata["input_normalisation"] = norm.where
    return net


def _module_steps(module, layers):
    """The steps and metadata of an ``nn.Module``: an ``nn.Sequential`` read
    layer by layer, another module's state dict read with ``layers``."""
    try:
        import torch
        from torch import nn
    except ImportError:
        raise ImportError("netdream.MLP.from_torch needs PyTorch: pip install torch") from None
    if not isinstance(module, nn.Module):
        raise TypeError("module_or_state_dict must be a torch.nn.Module or a state dict "
                        f"(a mapping), got {type(module).__name__}")
    if _is_plain(module, nn.Sequential):
        if layers is not None:
            raise ValueError("layers is only for a state dict or a module that is not an "
                             "nn.Sequential: an nn.Sequential describes its own layers")
        _check_no_hooks(module, "the module")
        steps, names = _sequential_steps(module, TorchContext(nn=nn))
        metadata = {"source": "torch.nn.Sequential", "layers": names}
    else:
        if layers is None:
            raise ValueError(f"{type(module).__name__} is not an nn.Sequential, so netdream "
                             "cannot see what its forward() computes: pass layers=[...] in "
                             "forward order, e.g. layers=['linear', 'relu', 'linear']")
        _check_no_training_layers(module, nn)
        steps = _state_dict_steps(module.state_dict(), layers)
        metadata = {"source": f"torch {type(module).__name__} state dict",
                    "layers": list(layers)}
    metadata["torch_version"] = str(torch.__version__)
    return steps, metadata


# ------------------------------------------------------------ shared checks
def _is_plain(m, cls) -> bool:
    """``m`` is a ``cls`` whose forward is ``cls``'s own (a subclass may change it)."""
    return isinstance(m, cls) and type(m).forward is cls.forward


def _check_no_hooks(m, where):
    if getattr(m, "_forward_hooks", None) or getattr(m, "_forward_pre_hooks", None):
        raise ValueError(f"{where} has forward hooks, which may change what it computes; "
                         "remove them before converting")


def _check_eval(m, where, why):
    """Refuse a module in training mode, where it ``why`` (e.g. "drops units at random")."""
    if m.training:
        raise ValueError(f"{where} is in training mode, where it {why}: call module.eval() "
                         "before converting")


def _check_no_training_layers(module, nn):
    """Refuse a module any of whose dropout or batch-norm layers is in training mode."""
    for name, m in module.named_modules():
        if isinstance(m, (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._BatchNorm)):
            _check_eval(m, f"layer {name} ({type(m).__name__})",
                        "computes something else than at inference")


# ------------------------------------------------- nn.Sequential: the driver
@dataclass
class TorchContext(Context):
    """What the ``nn.Module`` handlers share: ``nn`` is ``torch.nn``, and
    ``table`` the handlers that read the modules (:data:`MODULES`; a
    convolutional network's: :data:`.torch_cnn.CONV_MODULES`). The
    per-sample ``shape`` is not tracked here (``None``)."""

    nn: object = None
    table: object = None
    last: str = ""  # the kind of the module read before this one

    def refuse(self, where):
        """The error for a module no handler reads."""
        return (self.table or MODULES).not_supported(where)


def _sequential_steps(seq, ctx, prefix=""):
    """The steps and layer names of the children of ``seq``, nested plain
    ``nn.Sequential`` containers flattened."""
    steps, names = [], []
    for name, m in seq.named_children():
        full = f"{prefix}{name}"
        where = f"layer {full} ({type(m).__name__})"
        _check_no_hooks(m, where)
        if _is_plain(m, ctx.nn.Sequential):
            sub_steps, sub_names = _sequential_steps(m, ctx, prefix=f"{full}.")
            steps += sub_steps
            names += sub_names
            continue
        names.append(f"{full}: {m!r}")
        table = ctx.table or MODULES
        ctx.where, ctx.op = where, _module_kind(m, ctx.nn, table)
        handler = table.get(ctx.op)
        if handler is None:
            raise ctx.refuse(where)
        steps += handler(m, ctx)
        ctx.last = ctx.op
    return steps, names


def _module_kind(m, nn, table):
    """The name in ``table`` that reads ``m``: that of the first registered
    ``torch.nn`` class in its type's MRO, provided ``m`` keeps its forward;
    otherwise ``None``."""
    for cls in type(m).__mro__:
        if cls.__name__ in table and getattr(nn, cls.__name__, None) is cls:
            return cls.__name__ if type(m).forward is cls.forward else None
    return None


# ----------------------------------------------------- nn.Module handlers
MODULES = Handlers("torch.nn modules")


@MODULES.register("Linear")
def _linear_module(m, ctx):
    return [steps_.linear(ctx.where, steps_.to_numpy(m.weight),
                          None if m.bias is None else steps_.to_numpy(m.bias))]


_ELEMENTWISE = {"ReLU": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Identity": "identity"}


@MODULES.register(*_ELEMENTWISE)
def _elementwise_module(m, ctx):
    return [steps_.act(ctx.where, _ELEMENTWISE[ctx.op])]


@MODULES.register("LeakyReLU")
def _leaky_relu_module(m, ctx):
    return [steps_.act(ctx.where, "leaky_relu", m.negative_slope)]


@MODULES.register("PReLU")
def _prelu_module(m, ctx):
    if m.weight.numel() != 1:
        raise ValueError(f"{ctx.where} has {m.weight.numel()} slopes (one per feature); "
                         "netdream supports one negative slope per network")
    return [steps_.act(ctx.where, "leaky_relu", float(steps_.to_numpy(m.weight).reshape(-1)[0]))]


@MODULES.register("Softmax", "LogSoftmax")
def _softmax_module(m, ctx):
    if m.dim not in (None, 1, -1):
        raise ValueError(f"{ctx.where} is taken over dimension {m.dim}; netdream's softmax "
                         "is over the classes (dim=1 or -1)")
    return [steps_.softmax(ctx.where, log=ctx.op == "LogSoftmax")]


@MODULES.register("Flatten")
def _flatten_module(m, ctx):
    if (m.start_dim, m.end_dim) != (1, -1):
        raise ValueError(f"{ctx.where} flattens dimensions {m.start_dim}..{m.end_dim}; "
                         "netdream needs the default Flatten(start_dim=1, end_dim=-1)")
    return []


@MODULES.register("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
                  "FeatureAlphaDropout")
def _dropout_module(m, ctx):
    _check_eval(m, ctx.where, "drops units at random")
    return []


@MODULES.register("BatchNorm1d")
def _batchnorm_module(m, ctx):
    _check_eval(m, ctx.where, "normalises with the batch's statistics")
    if m.running_mean is None or m.running_var is None:
        raise ValueError(f"{ctx.where} has track_running_stats=False, so it normalises with "
                         "each batch's statistics even in eval mode; netdream cannot "
                         "represent that")
    return [steps_.batchnorm(ctx.where, steps_.to_numpy(m.running_mean),
                             steps_.to_numpy(m.running_var), m.eps,
                             None if m.weight is None else steps_.to_numpy(m.weight),
                             None if m.bias is None else steps_.to_numpy(m.bias))]


# ------------------------------------------------ state dict: the driver
@dataclass
class StateDictContext(Context):
    """What the ``layers=[...]`` handlers share: the state dict's parameter
    groups not yet taken (``queue``: (prefix, {name: value}) in the state
    dict's order), and the entry being read (``index``, ``spec``, its number
    ``arg`` or ``None``). The per-sample ``shape`` is not tracked (``None``)."""

    queue: list = field(default_factory=list)
    index: int = 0
    spec: str = ""
    arg: float | None = None

    def take(self, needs):
        """The next parameter group, which must hold ``needs``: (where, params)."""
        i, spec = self.index, self.spec
        if not self.queue:
            raise ValueError(f"layers[{i}] is {spec!r} but the state dict has no parameters "
                             "left for it")
        prefix, params = self.queue.pop(0)
        label = _group_label(prefix)
        if not needs <= params.keys():
            raise ValueError(f"layers[{i}] is {spec!r} but the next parameters in the state "
                             f"dict, {label} ({', '.join(params)}), lack "
                             f"{', '.join(sorted(needs - params.keys()))}")
        return f"layers[{i}] ({spec}, parameters {label})", params


def _group_label(prefix):
    return f"'{prefix}.*'" if prefix else "the top-level entries"


def _state_dict_steps(state_dict, layers):
    """The steps of ``layers`` (a list of str) reading ``state_dict``'s parameters."""
    if isinstance(layers, str) or not isinstance(layers, (list, tuple)):
        raise TypeError(f"layers must be a list of strings, got {type(layers).__name__}")
    ctx = StateDictContext(queue=list(_parameter_groups(state_dict).items()))
    steps = []
    for i, spec in enumerate(layers):
        if not isinstance(spec, str):
            raise TypeError(f"layers[{i}] must be a string, got {type(spec).__name__}")
        kind, arg = _parse_spec(i, spec)
        ctx.where, ctx.op, ctx.index, ctx.spec, ctx.arg = f"layers[{i}] ({spec})", kind, i, spec, arg
        handler = LAYERS.get(kind)
        if handler is None:
            names = LAYERS.names()
            raise ValueError(f"layers[{i}] = {spec!r} is not a known layer; use "
                             f"{', '.join(names[:-1])} or {names[-1]}")
        steps += handler(spec, ctx)
    if ctx.queue:
        prefix, params = ctx.queue[0]
        raise ValueError(f"the state dict has parameters that layers does not use, starting "
                         f"with {_group_label(prefix)} ({', '.join(params)}); list every linear "
                         "and batchnorm layer")
    return steps


def _parameter_groups(state_dict):
    """prefix -> {parameter name: value}, in the state dict's order."""
    groups = {}
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise TypeError(f"state dict keys must be strings, got {type(key).__name__}")
        prefix, _, pname = key.rpartition(".")
        groups.setdefault(prefix, {})[pname] = value
    return groups


def _parse_spec(i, spec):
    """A ``layers`` entry ``"kind"`` or ``"kind:NUMBER"`` as (kind, number or None)."""
    kind, _, arg = spec.strip().lower().partition(":")
    kind = kind.strip()
    if not arg:
        return kind, None
    if kind not in _ARGUMENTS:
        raise ValueError(f"layers[{i}] = {spec!r}: only "
                         f"{' and '.join(map(repr, _ARGUMENTS))} take an argument after ':'")
    try:
        number = float(arg)
    except ValueError:
        raise ValueError(f"layers[{i}] = {spec!r}: the argument after ':' must be a "
                         "number") from None
    minimum = _ARGUMENTS[kind]
    if not math.isfinite(number) or number < minimum:
        raise ValueError(f"layers[{i}] = {spec!r}: the argument must be finite"
                         + (f" and >= {minimum:g}" if minimum > -math.inf else ""))
    return kind, number


# ------------------------------------------------ state dict: the handlers
LAYERS = Handlers("state-dict layers")

# the kinds that take a number after ':' ("leaky_relu:0.1"), and its least value
_ARGUMENTS = {"leaky_relu": -math.inf, "batchnorm": 0.0}


@LAYERS.register("linear")
def _linear_layer(spec, ctx):
    where, p = ctx.take({"weight"})
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
    return [steps_.linear(where, w, b)]


@LAYERS.register("batchnorm")
def _batchnorm_layer(spec, ctx):
    where, p = ctx.take({"running_mean", "running_var"})
    extra = set(p) - {"running_mean", "running_var", "weight", "bias", "num_batches_tracked"}
    if extra:
        raise ValueError(f"{where} is not a BatchNorm1d: it has extra entries "
                         f"{', '.join(sorted(extra))}")
    mean, var = steps_.to_numpy(p["running_mean"]), steps_.to_numpy(p["running_var"])
    if mean.ndim != 1 or var.shape != mean.shape:
        raise ValueError(f"{where} has running statistics of shapes {tuple(mean.shape)} "
                         f"and {tuple(var.shape)}; a BatchNorm1d has two equal 1-D ones")
    return [steps_.batchnorm(where, mean, var, 1e-5 if ctx.arg is None else ctx.arg,
                             steps_.to_numpy(p["weight"]) if "weight" in p else None,
                             steps_.to_numpy(p["bias"]) if "bias" in p else None)]


@LAYERS.register("relu", "leaky_relu", "sigmoid", "tanh", "identity")
def _activation_layer(spec, ctx):
    if ctx.op == "leaky_relu":  # PyTorch's default negative slope
        return [steps_.act(ctx.where, "leaky_relu", 0.01 if ctx.arg is None else ctx.arg)]
    return [steps_.act(ctx.where, ctx.op)]


@LAYERS.register("softmax", "log_softmax")
def _softmax_layer(spec, ctx):
    return [steps_.softmax(ctx.where, log=ctx.op == "log_softmax")]


@LAYERS.register("flatten", "dropout")
def _no_op_layer(spec, ctx):
    return []
