"""A plain PyTorch ``nn.Module`` with a straight-line ``forward``, as the
``nn.Sequential`` it computes (see :func:`netdream.importers.torch.from_torch`).

The module is traced with ``torch.fx.symbolic_trace``. Its graph must be a
straight line: every node takes the previous node's output (and constants)
and nothing else uses that output — except ``x.size(0)`` / ``x.shape[0]``,
the batch size a ``view`` or ``reshape`` to ``(batch, -1)`` takes. Each
called submodule becomes a layer of the Sequential as it is; each torch
function or tensor method becomes the ``torch.nn`` module computing the
same, by the handlers of :data:`FUNCTIONS` (keyed by the function's name,
``handler(node, ctx)`` returns the module; ``ctx.args`` holds the call's
arguments after the data, by parameter name). The Sequential is then read by
the Sequential importer, which checks every layer; a branch, a residual
connection or a function without a handler is refused, naming the node.

Before the first layer, the forward may normalise its input with constants
— ``(x - self.mean) / self.std`` with tensors kept on the module (buffers or
parameters) of one value or one per channel (shape ``(C, 1, 1)`` or ``(1,
C, 1, 1)``), or numbers: subtraction, addition, multiplication and division
— as image pipelines do. That becomes the encoding (see
:class:`Normalisation`).
"""

from __future__ import annotations

import copy
import operator
from collections import OrderedDict
from dataclasses import dataclass, field

from ._handlers import Context, Handlers

__all__ = ["sequential_from_module", "Normalisation", "FUNCTIONS"]

_AFFINE = {"sub": "sub", "add": "add", "mul": "mul", "truediv": "div", "div": "div"}


@dataclass
class Normalisation:
    """``scale * x + shift`` per channel (numpy arrays of one value or C),
    and the nodes that compute it."""

    scale: object
    shift: object
    where: str


def sequential_from_module(module, torch, normalisation=False):
    """The ``nn.Sequential`` computing what ``module.forward`` computes
    (after its input normalisation, if any; with ``normalisation=True``, the
    pair of it and the :class:`Normalisation` or ``None``)."""
    try:
        graph = torch.fx.symbolic_trace(module).graph
    except Exception as exc:  # fx raises many kinds: TraceError, TypeError, ...
        raise ValueError(f"torch.fx cannot trace {type(module).__name__}.forward ({exc}); "
                         "netdream reads a straight-line forward") from None
    submodules = dict(module.named_modules())
    batch = {n for n in graph.nodes if _is_batch_size(n)}
    layers, seen, prev = OrderedDict(), set(), None
    ctx = FxContext(torch=torch)
    norm = None  # the input normalisation: [scale, shift, node names]
    for node in graph.nodes:
        if node in batch:
            continue
        if node.op == "get_attr" and all(_leading_affine(u, torch) for u in node.users):
            continue  # a constant of the input's normalisation (read there)
        if not layers and prev is not None and _leading_affine(node, torch):
            ctx.where = f"node '{node.name}' ({_describe(node)})"
            norm = _affine_step(node, prev, norm, module, torch, ctx)
            prev = node
            continue
        ctx.where = f"node '{node.name}' ({_describe(node)})"
        if node.op == "placeholder":
            if prev is not None:
                raise ValueError(f"{ctx.where} is a second input; netdream reads a forward "
                                 "of one input")
            prev = node
            continue
        if node.op == "output":
            if node.args[0] is not prev:
                raise ValueError(f"the forward does not return the last node's output "
                                 f"'{prev.name}'; netdream reads a straight-line forward")
            break
        takes = []
        torch.fx.node.map_arg((node.args, node.kwargs), takes.append)
        if node.op == "get_attr" or any(a.op == "get_attr" for a in takes):
            raise ValueError(f"{ctx.where} reads a tensor kept on the module; netdream reads "
                             "layers and functions of the data (with constant arguments such "
                             "as a kernel size), and, before the first layer, an input "
                             "normalisation such as (x - self.mean) / self.std (taken into the "
                             "encoding)")
        ctx.op = None if node.op == "call_module" else _function_name(node, torch)
        _check_straight(node, prev, batch if ctx.op in ("view", "reshape") else (), ctx)
        if node.op == "call_module":
            m = submodules[node.target]
            layers[node.name] = copy.copy(m) if id(m) in seen else m  # used twice: one each
            seen.add(id(m))
        else:
            handler = FUNCTIONS.get(ctx.op)
            if handler is None:
                raise FUNCTIONS.not_supported(ctx.where)
            ctx.args = _arguments(node)
            layers[node.name] = handler(node, ctx)
        prev = node
    seq = torch.nn.Sequential(layers)
    if not normalisation:
        return seq
    if norm is None:
        return seq, None
    return seq, Normalisation(norm[0], norm[1], "nodes " + ", ".join(f"'{n}'" for n in norm[2]))


def _leading_affine(node, torch):
    """Whether a node is +, -, * or / (an operator, a torch function or a
    tensor method) of which one side is a constant: a tensor kept on the
    module or a number."""
    if node.op not in ("call_function", "call_method"):
        return False
    if _affine_name(node, torch) is None or len(node.args) != 2 or node.kwargs:
        return False
    return sum(isinstance(a, torch.fx.Node) and a.op != "get_attr" for a in node.args) == 1


def _affine_name(node, torch):
    """"sub", "add", "mul" or "div" for such a call (operator, torch
    function or tensor method), else ``None``."""
    if node.op == "call_function" and node.target in (operator.sub, operator.add, operator.mul,
                                                      operator.truediv):
        return _AFFINE[node.target.__name__]
    return _AFFINE.get(_function_name(node, torch))


def _affine_step(node, prev, norm, module, torch, ctx):
    """``norm`` (scale, shift, names) after the step ``node`` on the data."""
    import numpy as np
    op = _affine_name(node, torch)
    a, b = node.args
    data_first = a is prev
    if not data_first and b is not prev:
        raise ValueError(f"{ctx.where} does not take the previous node's output '{prev.name}'; "
                         "netdream reads a straight-line forward")
    if not data_first and op in ("sub", "div"):
        raise ValueError(f"{ctx.where} computes constant {'-' if op == 'sub' else '/'} input; "
                         "netdream takes an input normalisation x - c, x + c, x * c or x / c "
                         "into the encoding")
    c = _constant(b if data_first else a, module, torch, ctx)
    s, t = (np.ones(1), np.zeros(1)) if norm is None else (norm[0], norm[1])
    if op == "sub":
        t = t - c
    elif op == "add":
        t = t + c
    elif op == "mul":
        s, t = s * c, t * c
    else:
        if np.any(c == 0):
            raise ValueError(f"{ctx.where} divides by 0")
        s, t = s / c, t / c
    names = ([] if norm is None else norm[2]) + [node.name]
    return [s, t, names]


def _constant(arg, module, torch, ctx):
    """A normalisation's constant as a float64 array of one value or one per
    channel (a tensor of shape (C, 1, 1) or (1, C, 1, 1), or of one value)."""
    import numpy as np
    if isinstance(arg, (int, float)) and not isinstance(arg, bool):
        return np.array([float(arg)])
    if not isinstance(arg, torch.fx.Node):
        raise ValueError(f"{ctx.where} takes {arg!r}; netdream reads a number or a tensor kept "
                         "on the module")
    value = module
    for part in arg.target.split("."):
        value = getattr(value, part)
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{ctx.where} takes {arg.target}, not a tensor")
    shape = tuple(value.shape)
    flat = value.detach().cpu().double().reshape(-1).numpy()
    if flat.size != 1 and not (len(shape) in (3, 4) and all(n == 1 for n in shape[-2:]) and
                               (len(shape) == 3 or shape[0] == 1)):
        raise ValueError(f"{ctx.where} takes {arg.target} of shape {shape}; netdream reads an "
                         "input normalisation with one value, or one per channel (shape (C, 1, "
                         "1) or (1, C, 1, 1))")
    if not np.all(np.isfinite(flat)):
        raise ValueError(f"{ctx.where} takes {arg.target}, which is not finite")
    return flat


@dataclass
class FxContext(Context):
    """What the function handlers share: ``torch``, and the call's arguments
    after the data, by position (``int`` keys) and by name."""

    torch: object = None
    args: dict = field(default_factory=dict)

    def arg(self, position, name, default=None):
        """The argument ``name``, passed at ``position`` (after the data) or by name."""
        return self.args.get(name, self.args.get(position, default))


def _describe(node):
    if node.op == "call_module":
        return f"module {node.target}"
    if node.op == "call_method":
        return f"method .{node.target}()"
    if node.op == "call_function":
        return f"function {getattr(node.target, '__name__', node.target)}"
    if node.op == "get_attr":
        return f"attribute {node.target}"
    return node.op


def _function_name(node, torch):
    """The name under which :data:`FUNCTIONS` reads a function or method
    call: a tensor method's name, a torch or torch.nn.functional function's
    name; ``None`` for anything else (refused)."""
    if node.op == "call_method":
        return node.target
    if node.op == "call_function":
        name = getattr(node.target, "__name__", None)
        for namespace in (torch, torch.nn.functional):
            if name and getattr(namespace, name, None) is node.target:
                return name
    return None


def _is_batch_size(node) -> bool:
    """``x.size(0)``, ``x.size()[0]``, ``x.shape[0]``, and the ``x.size()``
    or ``x.shape`` they index: the batch size, which only a view or reshape
    to ``(batch, -1)`` may use."""
    if node.op == "call_method" and node.target == "size":
        return node.args[1:] == (0,) or (len(node.args) == 1 and all(
            _indexes_0(u) for u in node.users))
    if node.op == "call_function" and node.target is getattr and node.args[1:] == ("shape",):
        return all(_indexes_0(u) for u in node.users)
    return _indexes_0(node) and hasattr(node.args[0], "op") and _is_batch_size(node.args[0])


def _indexes_0(node) -> bool:
    return node.op == "call_function" and node.target is operator.getitem and \
        node.args[1:] == (0,)


def _check_straight(node, prev, batch, ctx):
    """Refuse a node that takes anything but the previous node's output (and
    constants, and the batch size nodes ``batch``), or a previous node whose
    output something else uses too (the batch size aside)."""
    data = []
    ctx.torch.fx.node.map_arg((node.args, node.kwargs), data.append)  # the nodes it takes
    if not node.args or node.args[0] is not prev or any(
            a is not prev and a not in batch for a in data) or data.count(prev) != 1:
        raise ValueError(f"{ctx.where} does not take exactly the previous node's output "
                         f"'{prev.name}' (it takes {', '.join(a.name for a in data) or 'none'}); "
                         "netdream reads a straight-line forward: no branches or residual "
                         "connections")
    users = [u for u in prev.users if not _is_batch_size(u)]
    if users != [node]:
        raise ValueError(f"the output of node '{prev.name}' is used by "
                         f"{', '.join(u.name for u in users)}; netdream reads a straight-line "
                         "forward: no branches or residual connections")


def _arguments(node):
    """The call's arguments after the data: by position (0 = the first after
    the data) and by keyword."""
    return {**dict(enumerate(node.args[1:])), **node.kwargs}


# ---------------------------------------------------------------- handlers
FUNCTIONS = Handlers("torch functions and tensor methods",
                     "netdream reads convolutions, pooling, flattening, linear layers and "
                     "element-wise activations")


@FUNCTIONS.register("relu")
def _relu(node, ctx):
    return ctx.torch.nn.ReLU()


@FUNCTIONS.register("sigmoid")
def _sigmoid(node, ctx):
    return ctx.torch.nn.Sigmoid()


@FUNCTIONS.register("tanh")
def _tanh(node, ctx):
    return ctx.torch.nn.Tanh()


@FUNCTIONS.register("leaky_relu")
def _leaky_relu(node, ctx):
    return ctx.torch.nn.LeakyReLU(ctx.arg(0, "negative_slope", 0.01))


@FUNCTIONS.register("max_pool2d")
def _max_pool2d(node, ctx):
    if ctx.arg(5, "return_indices", False):
        raise ValueError(f"{ctx.where} returns indices; netdream reads the pooled values only")
    return ctx.torch.nn.MaxPool2d(ctx.arg(0, "kernel_size"), ctx.arg(1, "stride"),
                                  ctx.arg(2, "padding", 0), ctx.arg(3, "dilation", 1),
                                  ceil_mode=ctx.arg(4, "ceil_mode", False))


@FUNCTIONS.register("avg_pool2d")
def _avg_pool2d(node, ctx):
    return ctx.torch.nn.AvgPool2d(ctx.arg(0, "kernel_size"), ctx.arg(1, "stride"),
                                  ctx.arg(2, "padding", 0), ctx.arg(3, "ceil_mode", False),
                                  ctx.arg(4, "count_include_pad", True),
                                  ctx.arg(5, "divisor_override"))


@FUNCTIONS.register("adaptive_avg_pool2d", "adaptive_max_pool2d")
def _adaptive_pool2d(node, ctx):
    if ctx.op == "adaptive_max_pool2d" and ctx.arg(1, "return_indices", False):
        raise ValueError(f"{ctx.where} returns indices; netdream reads the pooled values only")
    cls = ctx.torch.nn.AdaptiveMaxPool2d if ctx.op == "adaptive_max_pool2d" else \
        ctx.torch.nn.AdaptiveAvgPool2d
    return cls(ctx.arg(0, "output_size"))


@FUNCTIONS.register("mean", "amax")
def _global_pool(node, ctx):
    """x.mean((2, 3)) / torch.amax(x, (2, 3)): global pooling over the map,
    then flat (with keepdim=True, the 1x1 map)."""
    dims = ctx.arg(0, "dim")
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    if sorted(d % 4 for d in dims if isinstance(d, int)) != [2, 3] or len(dims) != 2:
        raise ValueError(f"{ctx.where} takes the {ctx.op} over dimensions {dims}; netdream reads "
                         "it over the map (dimensions 2 and 3: global pooling)")
    nn = ctx.torch.nn
    pool = (nn.AdaptiveAvgPool2d if ctx.op == "mean" else nn.AdaptiveMaxPool2d)(1)
    return pool if ctx.arg(1, "keepdim", False) else nn.Sequential(pool, nn.Flatten())


@FUNCTIONS.register("flatten")
def _flatten(node, ctx):
    return ctx.torch.nn.Flatten(ctx.arg(0, "start_dim", 0), ctx.arg(1, "end_dim", -1))


@FUNCTIONS.register("view", "reshape")
def _view(node, ctx):
    shape = list(node.args[1:])
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = list(shape[0])
    first = shape[0] if shape else None
    batch = not isinstance(first, int) or first == -1  # x.size(0) / x.shape[0], or -1
    if len(shape) != 2 or not batch or shape[1] == 0 or not isinstance(shape[1], int) or \
            (first == -1 and shape[1] == -1):
        raise ValueError(f"{ctx.where} reshapes to {shape}; netdream reads only a flattening "
                         "view(x.size(0), -1)")
    return ctx.torch.nn.Flatten()


@FUNCTIONS.register("softmax", "log_softmax")
def _softmax(node, ctx):
    if ctx.args.get("dtype") is not None:
        raise ValueError(f"{ctx.where} converts to dtype {ctx.args['dtype']}")
    module = ctx.torch.nn.Softmax if ctx.op == "softmax" else ctx.torch.nn.LogSoftmax
    return module(dim=ctx.arg(0, "dim"))


@FUNCTIONS.register("dropout")
def _dropout(node, ctx):
    if ctx.arg(1, "training", True):
        raise ValueError(f"{ctx.where} drops units at random (training=True, the default of "
                         "F.dropout): pass training=self.training and call module.eval()")
    return ctx.torch.nn.Identity()
