"""Import networks saved as ONNX (see :func:`from_onnx`): dense networks as an
:class:`~netdream.MLP`, convolutional ones as a :class:`~netdream.Network`.

Two handler tables (see :mod:`._handlers`), keyed by ``op_type``:

- :data:`CONSTANT_OPS` compute a constant from constants (``Constant``, an
  ``Identity`` of a weight): ``handler(node, ctx)`` returns the value of the
  node's output, which joins ``ctx.consts``. A node is handled here when its
  op is in this table and all its inputs are constants.
- :data:`OPS` read the nodes of the chain: ``handler(node, ctx)`` returns the
  node's steps and sets ``ctx.shape`` when the node changes the per-sample
  shape.

ONNX feature maps are channels first, like netdream's, so a ``Flatten`` needs
no reordering — unless a ``Transpose`` made the data channels last (tf2onnx
does this to Keras models). The context then records the layout, and the
handlers put every per-feature constant and the columns of the first linear
layer after the flatten into netdream's channels-first order
(:func:`_netdream_order`).

The driver (:func:`_chain_steps`) walks ``graph.node`` in order, checks that
every node of the chain takes the previous node's output and constants only,
and refuses an op that neither table holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..layers import Conv2D, MaxPool2D, output_shape
from ..model import MLP, Encoding, Network
from .._validation import check_path
from . import _steps as steps_
from ._handlers import Context, Handlers

__all__ = ["from_onnx", "OPS", "CONSTANT_OPS"]

_STANDARD_DOMAINS = ("", "ai.onnx")


def from_onnx(path, *, encoding: Encoding | None = None,
              output: str | None = None) -> MLP | Network:
    """A netdream :class:`MLP` (a dense network) or :class:`Network` (a
    convolutional one) computing the same function as an ONNX model.

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
        linear layer, or the convolution before it, so ``MatMul`` + ``Add``
        is one layer); ``Relu``, ``LeakyRelu``, ``Sigmoid``, ``Tanh``,
        ``Identity``, ``Dropout`` (inference); ``Softmax``/``LogSoftmax`` over
        the last axis at the end; ``Flatten`` (axis 1) and ``Reshape`` to
        ``(batch, features)``. The input is ``(N, 784)``, or ``(N, 28, 28)``/
        ``(N, 1, 28, 28)`` followed by Flatten or Reshape.

        A graph with convolutions or pooling becomes a :class:`Network` on
        images of the input's (fixed) per-sample shape ``(C, H, W)``; it may
        also hold ``Conv`` (2-D, one group, no dilation, equal strides along
        y and x, explicit pads or auto_pad VALID, SAME_UPPER or SAME_LOWER;
        a per-channel ``BatchNormalization``, ``Add``, ``Mul``... after it is
        folded into it), ``MaxPool`` and ``AveragePool`` (square windows,
        equal strides, no padding or dilation; ceil_mode only where it adds
        no partial window), ``GlobalAveragePool`` and ``GlobalMaxPool`` (of a
        square map) and ``Transpose`` between channels first and
        channels last (a channels-last flatten is reordered into the linear
        layer after it). The input may be ``(N, H, W)`` or ``(N, H*W)``
        reshaped to ``(N, 1, H, W)``, or channels last ``(N, H, W, C)``
        transposed to ``(N, C, H, W)``; netdream takes the images as the
        first Conv reads them, ``(C, H, W)``. A per-channel ``Sub``/``Div``
        (or ``Add``/``Mul``) of the input before the first Conv — an image
        pipeline's normalisation in the graph — becomes the encoding's mean
        and std (``net.metadata["input_normalisation"]`` names the node).
        Other ops are refused with the node's index, name and op type.
    encoding : :class:`Encoding` of the model's input (default: [0, 1], ink
        high, row-major).
    output : as for :func:`netdream.importers.from_torch`: the output activation when the graph
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
        from onnx import numpy_helper
    except ImportError:
        raise ImportError("netdream.MLP.from_onnx needs the onnx package: pip install onnx") from None
    model, source = _load(onnx, path)
    opset = next((o.version for o in model.opset_import if o.domain in _STANDARD_DOMAINS), None)
    if opset is None:
        raise ValueError("the model does not import the default ONNX operator set")
    graph = model.graph
    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    name, dims = _graph_input(graph, consts)
    sample = tuple(dims[1:]) if len(dims) >= 2 else (None,)
    ctx = OnnxContext(shape=sample, opset=int(opset), consts=consts, current=name,
                      input_dims=dims, input_name=name, image_shape=sample)
    steps, names = _chain_steps(graph, ctx)
    metadata = {"source": "onnx", "onnx_file": str(source), "opset": int(opset),
                "producer": f"{model.producer_name} {model.producer_version}".strip(),
                "layers": names}
    if any(st.kind in ("conv", "maxpool", "avgpool") for st in steps):
        return steps_.assemble_network(steps, output, encoding, metadata, ctx.image_shape)
    return steps_.assemble([st for st in steps if st.kind != "flatten"], output, encoding,
                           metadata)


@dataclass
class OnnxContext(Context):
    """What the ONNX handlers share. ``shape`` is the per-sample shape of the
    data entering the node (``None`` entries: unknown sizes)."""

    opset: int = 0
    consts: dict = field(default_factory=dict)  # tensor name -> value (initializers, folded nodes)
    current: str = ""  # the name of the data tensor entering the node
    input_dims: list = field(default_factory=list)  # the graph input's shape, batch axis first
    attrs: dict = field(default_factory=dict)  # the node's attributes, by name
    input_name: str = ""  # the graph's data input
    image_shape: tuple = ()  # netdream's image: the per-sample input, as the first Conv reads it
    layout: str = "nchw"  # "nhwc" after a Transpose to channels last: shape is (h, w, c)
    order: np.ndarray | None = None  # after a channels-last flatten: netdream's feature j is
    #                                  the data's feature order[j] (until the next linear layer)

    def enter(self, idx, node):
        """Make the context describe ``node``, the ``idx``-th of the graph."""
        from onnx import helper
        self.op = node.op_type
        self.where = (f"node {idx} '{node.name}' ({node.op_type})" if node.name
                      else f"node {idx} ({node.op_type})")
        self.attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        self.attrs = {k: v.decode() if isinstance(v, bytes) else v for k, v in self.attrs.items()}

    @property
    def at_input(self) -> bool:
        """Whether the node reads the graph input itself."""
        return self.current == self.input_name

    @property
    def flat(self) -> bool:
        """Whether the data is flat: one feature axis per sample."""
        return len(self.shape) == 1

    def const(self, name) -> np.ndarray:
        """The constant ``name`` as float64; refused when it is not a constant."""
        if name not in self.consts:
            raise ValueError(f"{self.where} takes '{name}', which is neither the previous node's "
                             "output nor a constant; netdream imports only a simple chain")
        return np.asarray(self.consts[name], dtype=np.float64)


def _load(onnx, path):
    """The ``ModelProto`` and a description of where it came from."""
    if isinstance(path, onnx.ModelProto):
        return path, "onnx.ModelProto"
    p = check_path(path)
    try:
        return onnx.load(p), p
    except FileNotFoundError:
        raise
    except Exception as exc:  # protobuf's DecodeError and friends
        raise ValueError(f"{p} is not a readable ONNX model: {exc}") from None


def _graph_input(graph, consts):
    """The name and dimensions (``None`` for symbolic ones) of the one data input."""
    inputs = [v for v in graph.input if v.name not in consts]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise ValueError(f"the graph has {len(inputs)} inputs and {len(graph.output)} outputs; "
                         "netdream imports a chain from one input to one output")
    tensor_type = inputs[0].type.tensor_type
    dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim]
    if tensor_type.HasField("shape") and len(dims) < 2:
        raise ValueError(f"the graph input '{inputs[0].name}' has shape {dims}; netdream needs "
                         "a batch axis first: (N, 784), (N, 28, 28) or (N, 1, 28, 28)")
    return inputs[0].name, dims


# -------------------------------------------------------------------- driver
def _chain_steps(graph, ctx):
    """The steps and layer names of the chain ``graph.node``."""
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    steps, names = [], []
    for idx, node in enumerate(graph.node):
        ctx.enter(idx, node)
        if node.domain not in _STANDARD_DOMAINS:
            raise ValueError(f"{ctx.where} is from the operator domain '{node.domain}'; "
                             "netdream reads only standard ONNX operators")
        fold = CONSTANT_OPS.get(node.op_type)
        if fold is not None and all(name in ctx.consts for name in node.input):
            ctx.consts[node.output[0]] = fold(node, ctx)
            continue
        _check_in_chain(node, ctx, used)
        names.append(f"{node.name or idx}: {node.op_type}")
        handler = OPS.get(node.op_type)
        if handler is None:
            raise OPS.not_supported(ctx.where, also=[op for op in CONSTANT_OPS if op not in OPS])
        steps += handler(node, ctx)
        ctx.current = node.output[0]
    if ctx.current != graph.output[0].name:
        raise ValueError(f"the graph output '{graph.output[0].name}' is not the end of the chain "
                         f"('{ctx.current}'); netdream imports only a simple chain")
    return steps, names


def _check_in_chain(node, ctx, used):
    """Refuse a node that does not take exactly the previous node's output (and
    constants), or that has a second output something uses."""
    data = [name for name in node.input if name and name not in ctx.consts]
    if data != [ctx.current]:
        raise ValueError(f"{ctx.where} does not take exactly the previous node's output "
                         f"'{ctx.current}' (it takes {list(node.input)}); netdream imports "
                         "only a simple chain")
    for extra in node.output[1:]:
        if extra and extra in used:
            raise ValueError(f"{ctx.where} has a second output '{extra}' that is used; netdream "
                             "imports only a simple chain")


# ------------------------------------------------------------ shared checks
def _require_flat(ctx):
    if not ctx.flat:
        raise ValueError(f"{ctx.where} receives data of per-sample shape {ctx.shape}; flatten it "
                         "(Flatten or Reshape) before the first linear layer")


def _require_data_first(node, ctx):
    if node.input[0] != ctx.current:
        raise ValueError(f"{ctx.where} has the data as its second input; netdream needs "
                         "Y = X @ W (the data first)")


def _require_feature_map(ctx):
    """The (channels, height, width) of a channels-first feature map entering
    the node; refused for other data."""
    if len(ctx.shape) != 3 or None in ctx.shape or ctx.layout != "nchw":
        got = "channels last" if ctx.layout == "nhwc" else f"of per-sample shape {ctx.shape}"
        raise ValueError(f"{ctx.where} receives data {got}; netdream convolves and pools "
                         "feature maps (channels, height, width) of known sizes")
    return ctx.shape


def _netdream_order(v, ctx):
    """A per-sample vector ``v`` in the order of the data entering the node,
    in netdream's order: channels first, flattened."""
    if ctx.layout == "nhwc":
        h, w, c = ctx.shape
        return v.reshape(h, w, c).transpose(2, 0, 1).reshape(-1)
    if ctx.order is None:
        return v
    if v.size != ctx.order.size:
        raise ValueError(f"{ctx.where} has {v.size} values for data of {ctx.order.size} features")
    return v[ctx.order]


def _netdream_columns(w, ctx):
    """The weight ``w`` (n_out, n_in) of a linear layer, its columns in
    netdream's order (see :data:`OnnxContext.order`)."""
    if ctx.order is None:
        return w
    if w.shape[1] != ctx.order.size:
        raise ValueError(f"{ctx.where} takes {w.shape[1]} inputs but the data has "
                         f"{ctx.order.size} features")
    w, ctx.order = w[:, ctx.order], None
    return w


def _to_flat(ctx):
    """Flatten the data (Flatten, or a Reshape to (batch, features)): the
    steps, and ``ctx`` describing flat data."""
    n = _n_features(ctx)
    if ctx.flat:
        return []
    if ctx.layout == "nhwc":
        ctx.order = _netdream_order(np.arange(n), ctx)
        ctx.layout = "nchw"
    ctx.shape = (n,)
    return [steps_.flatten(ctx.where)]


def _constant_operand(node, ctx):
    """The constant operand of a binary element-wise node as a scalar or a
    per-feature vector (in netdream's order), and whether the data is the
    first operand."""
    data_first = node.input[0] == ctx.current
    c = ctx.const(node.input[1] if data_first else node.input[0])
    if c.size == 1:
        return c.reshape(()), data_first
    feat = ctx.shape
    full = (1, *feat)
    if None in feat or c.ndim > len(full):
        raise ValueError(f"{ctx.where} uses a constant of shape {c.shape} on data of shape "
                         f"(N, {', '.join('?' if d is None else str(d) for d in feat)}); "
                         "netdream folds only scalars or per-feature constants")
    try:
        ok = np.broadcast_shapes(c.shape, full) == full
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{ctx.where} uses a constant of shape {c.shape} that does not "
                         f"broadcast per sample over data of shape (N, {feat})")
    return _netdream_order(np.broadcast_to(c, full).reshape(-1), ctx), data_first


def _n_features(ctx):
    """The number of values per sample (``None`` when unknown)."""
    return None if None in ctx.shape else int(np.prod(ctx.shape))


# ---------------------------------------------------------- constant folding
CONSTANT_OPS = Handlers("ONNX ops computing constants")


@CONSTANT_OPS.register("Constant")
def _constant(node, ctx):
    attrs = ctx.attrs
    if "value" in attrs:
        from onnx import numpy_helper
        return numpy_helper.to_array(attrs["value"])
    if len(attrs) == 1 and next(iter(attrs)) in ("value_float", "value_floats", "value_int",
                                                 "value_ints"):
        return np.asarray(next(iter(attrs.values())))
    raise ValueError(f"{ctx.where} holds a kind of constant netdream cannot read "
                     f"({', '.join(attrs)})")


@CONSTANT_OPS.register("Identity")
def _identity_of_constant(node, ctx):  # torch.onnx.export aliases weights
    return ctx.consts[node.input[0]]


# ------------------------------------------------------------ ops of the chain
OPS = Handlers("ONNX ops", "netdream imports chains of convolutions, pooling, linear layers, "
                          "per-feature affine layers and element-wise activations")


@OPS.register("Gemm")
def _gemm(node, ctx):
    _require_flat(ctx)
    _require_data_first(node, ctx)
    if ctx.attrs.get("transA", 0):
        raise ValueError(f"{ctx.where} has transA=1, so it reads the data feature-first; "
                         "netdream needs batch-first data (transA=0)")
    b = ctx.const(node.input[1])
    if b.ndim != 2:
        raise ValueError(f"{ctx.where} has a weight of shape {b.shape}; Gemm needs 2-D")
    w = _netdream_columns(float(ctx.attrs.get("alpha", 1.0)) *
                          (b if ctx.attrs.get("transB", 0) else b.T), ctx)
    bias = None
    if len(node.input) > 2 and node.input[2]:
        bias = _gemm_bias(ctx.const(node.input[2]), w.shape[0], ctx) * float(
            ctx.attrs.get("beta", 1.0))
    ctx.shape = (w.shape[0],)
    return [steps_.linear(ctx.where, w, bias)]


def _gemm_bias(c, n_out, ctx):
    """Gemm's C as one bias per output."""
    if c.ndim > 2 or (c.ndim == 2 and c.shape[0] != 1):
        raise ValueError(f"{ctx.where} has a bias C of shape {c.shape}; netdream needs "
                         "one bias per output, shape (n_out,) or (1, n_out)")
    try:
        return np.broadcast_to(c.reshape(-1) if c.size > 1 else c.reshape(()), (n_out,))
    except ValueError:
        raise ValueError(f"{ctx.where} has a bias C of shape {c.shape} for "
                         f"{n_out} outputs") from None


@OPS.register("MatMul")
def _matmul(node, ctx):
    _require_flat(ctx)
    _require_data_first(node, ctx)
    w = ctx.const(node.input[1])
    if w.ndim != 2:
        raise ValueError(f"{ctx.where} has a weight of shape {w.shape}; netdream needs 2-D")
    ctx.shape = (w.shape[1],)
    return [steps_.linear(ctx.where, _netdream_columns(w.T, ctx))]


@OPS.register("Add")
def _add(node, ctx):
    c, _ = _constant_operand(node, ctx)
    return [steps_.affine(ctx.where, 1.0, c)]


@OPS.register("Sub")
def _sub(node, ctx):
    c, data_first = _constant_operand(node, ctx)
    return [steps_.affine(ctx.where, 1.0, -c) if data_first else steps_.affine(ctx.where, -1.0, c)]


@OPS.register("Mul")
def _mul(node, ctx):
    c, _ = _constant_operand(node, ctx)
    return [steps_.affine(ctx.where, c, 0.0)]


@OPS.register("Div")
def _div(node, ctx):
    c, data_first = _constant_operand(node, ctx)
    if not data_first:
        raise ValueError(f"{ctx.where} divides a constant by the data; netdream folds only "
                         "division by a constant")
    return [steps_.affine(ctx.where, 1.0 / c, 0.0)]


@OPS.register("BatchNormalization")
def _batch_normalization(node, ctx):
    if ctx.attrs.get("training_mode", 0):
        raise ValueError(f"{ctx.where} is in training mode; export the model in eval mode")
    scale, b, mean, var = (ctx.const(name) for name in node.input[1:5])
    if ctx.flat:
        s, t = steps_.batchnorm_scale_shift(mean, var, ctx.attrs.get("epsilon", 1e-5), scale, b)
        return [steps_.affine(ctx.where, _netdream_order(s, ctx), _netdream_order(t, ctx))]
    c, h, w = _require_feature_map(ctx)
    s, t = steps_.batchnorm_scale_shift(mean, var, ctx.attrs.get("epsilon", 1e-5), scale, b)
    if s.size != c:
        raise ValueError(f"{ctx.where} has {s.size} channels but its input has {c}")
    return [steps_.affine(ctx.where, np.repeat(s, h * w), np.repeat(t, h * w))]


_ELEMENTWISE = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Identity": "identity"}


@OPS.register(*_ELEMENTWISE)
def _elementwise(node, ctx):
    return [steps_.act(ctx.where, _ELEMENTWISE[ctx.op])]


@OPS.register("LeakyRelu")
def _leaky_relu(node, ctx):
    return [steps_.act(ctx.where, "leaky_relu", ctx.attrs.get("alpha", 0.01))]


@OPS.register("Softmax", "LogSoftmax")
def _softmax(node, ctx):
    axis = ctx.attrs.get("axis", 1 if ctx.opset < 13 else -1)
    if not ctx.flat or axis not in (1, -1):
        raise ValueError(f"{ctx.where} is taken over axis {axis} of data of per-sample shape "
                         f"{ctx.shape}; netdream's softmax is over the classes (the last axis "
                         "of flat data)")
    return [steps_.softmax(ctx.where, log=ctx.op == "LogSoftmax")]


@OPS.register("Dropout")
def _dropout(node, ctx):
    if ctx.attrs.get("is_test", 1) == 0:  # opset < 7
        raise ValueError(f"{ctx.where} is in training mode (is_test=0)")
    if len(node.input) > 2 and node.input[2]:
        tm = node.input[2]
        if tm not in ctx.consts or bool(np.asarray(ctx.consts[tm]).reshape(-1)[0]):
            raise ValueError(f"{ctx.where} may run in training mode (training_mode input "
                             f"'{tm}'); export the model in eval mode")
    return []


@OPS.register("Flatten")
def _flatten(node, ctx):
    if ctx.attrs.get("axis", 1) != 1:
        raise ValueError(f"{ctx.where} flattens at axis {ctx.attrs['axis']}; netdream needs "
                         "axis=1 (keep the batch axis)")
    return _to_flat(ctx)


@OPS.register("Reshape")
def _reshape(node, ctx):
    shape = [int(v) for v in ctx.const(node.input[1]).reshape(-1)]
    n_feat, dims = _n_features(ctx), ctx.input_dims
    keep_batch = shape[:1] == [0] or (len(shape) > 0 and len(dims) > 0
                                      and dims[0] is not None and shape[0] == dims[0])
    if (len(shape) == 4 and ctx.at_input and shape[1] == 1 and min(shape[2:]) > 0
            and n_feat == shape[2] * shape[3] and (keep_batch or shape[0] == -1)):
        ctx.shape = ctx.image_shape = tuple(shape[1:])  # (N, H, W) or (N, H*W) -> (N, 1, H, W)
        return []
    ok = (len(shape) == 2 and not (ctx.attrs.get("allowzero", 0) and 0 in shape)
          and ((n_feat is not None and shape[1] == n_feat and shape[0] in (-1, 0))
               or ((shape[1] == -1 or shape[1] == n_feat) and keep_batch)))
    if not ok:
        raise ValueError(f"{ctx.where} reshapes data of per-sample shape {ctx.shape} to {shape}; "
                         "netdream allows only a flattening to (batch, features), or the "
                         "graph input to (batch, 1, height, width)")
    return _to_flat(ctx)


@OPS.register("Transpose")
def _transpose(node, ctx):
    perm = list(ctx.attrs.get("perm", []))
    if len(ctx.shape) == 3 and None not in ctx.shape:
        if perm == [0, 2, 3, 1] and ctx.layout == "nchw":
            c, h, w = ctx.shape
            ctx.shape, ctx.layout = (h, w, c), "nhwc"
            return []
        if perm == [0, 3, 1, 2] and (ctx.layout == "nhwc" or ctx.at_input):
            h, w, c = ctx.shape
            ctx.shape, ctx.layout = (c, h, w), "nchw"
            if ctx.at_input:  # channels-last images: netdream takes them channels first
                ctx.image_shape = ctx.shape
            return []
    raise ValueError(f"{ctx.where} permutes the axes {perm} of data of per-sample shape "
                     f"{ctx.shape}; netdream reads only a Transpose of a feature map between "
                     "channels first (0, 3, 1, 2) and channels last (0, 2, 3, 1)")


# ---------------------------------------------------------- convolutional ops
@OPS.register("Conv")
def _conv(node, ctx):
    c, h, w = _require_feature_map(ctx)
    k = ctx.const(node.input[1])
    attrs = ctx.attrs
    if k.ndim != 4:
        raise ValueError(f"{ctx.where} has a weight of shape {k.shape}; netdream reads 2-D "
                         "convolutions, weight (out, in, kh, kw)")
    if attrs.get("group", 1) != 1:
        raise ValueError(f"{ctx.where} has group={attrs['group']}; netdream's convolutions "
                         "have one group")
    if any(d != 1 for d in attrs.get("dilations", ())):
        raise ValueError(f"{ctx.where} has dilations {list(attrs['dilations'])}; netdream's "
                         "convolutions have none")
    if list(attrs.get("kernel_shape", k.shape[2:])) != list(k.shape[2:]):
        raise ValueError(f"{ctx.where} has kernel_shape {list(attrs['kernel_shape'])} but a "
                         f"weight of shape {k.shape}")
    stride = _square(attrs.get("strides", [1, 1]), "strides", ctx)
    bias = ctx.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    try:
        layer = Conv2D(k, np.zeros(k.shape[0]) if bias is None else bias.reshape(-1), stride,
                       _conv_padding(k, stride, ctx))
    except ValueError as exc:
        raise ValueError(f"{ctx.where}: {exc}") from None
    ctx.shape = output_shape(layer, ctx.shape, ctx.where)
    return [steps_.conv(ctx.where, layer.weight, layer.bias, stride, layer.padding)]


def _square(pair, name, ctx):
    """The one value of an attribute ``name`` that must be equal along y and x."""
    if len(pair) != 2 or pair[0] != pair[1]:
        raise ValueError(f"{ctx.where} has {name} {list(pair)}; netdream needs 2-D, equal "
                         "along y and x")
    return int(pair[0])


def _conv_padding(k, stride, ctx):
    """Conv's padding as netdream's ``Conv2D`` takes it."""
    auto = ctx.attrs.get("auto_pad", "NOTSET")
    if auto == "VALID":
        return "valid"
    if auto == "SAME_UPPER":  # the extra row and column after: netdream's "same"
        return "same"
    if auto == "SAME_LOWER":  # the extra row and column before
        top, bottom, left, right = Conv2D(k, np.zeros(k.shape[0]), stride, "same").pads(
            *ctx.shape[1:])
        return (bottom, top, right, left)
    if auto != "NOTSET":
        raise ValueError(f"{ctx.where} has auto_pad {auto!r}")
    pads = list(ctx.attrs.get("pads", [0, 0, 0, 0]))  # y begin, x begin, y end, x end
    if len(pads) != 4:
        raise ValueError(f"{ctx.where} has pads {pads}; a 2-D convolution needs 4")
    return (pads[0], pads[2], pads[1], pads[3])


@OPS.register("MaxPool", "AveragePool")
def _pool(node, ctx):
    c, h, w = _require_feature_map(ctx)
    attrs = ctx.attrs
    size = _square(attrs.get("kernel_shape", ()), "kernel_shape", ctx)
    stride = _square(attrs.get("strides", [1, 1]), "strides", ctx)
    if any(attrs.get("pads", ())) or attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise ValueError(f"{ctx.where} pads its input; netdream pools without padding")
    if any(d != 1 for d in attrs.get("dilations", ())):
        raise ValueError(f"{ctx.where} has dilations {list(attrs['dilations'])}; netdream "
                         "pools without dilation")
    if attrs.get("ceil_mode", 0) and ((h - size) % stride or (w - size) % stride):
        raise ValueError(f"{ctx.where} has ceil_mode=1, which pools a partial window at the "
                         f"border of its {h}x{w} input; netdream drops partial windows")
    ctx.shape = output_shape(MaxPool2D(size, stride), ctx.shape, ctx.where)
    return [steps_.pool(ctx.where, "max" if ctx.op == "MaxPool" else "avg", size, stride)]


@OPS.register("GlobalMaxPool", "GlobalAveragePool")
def _global_pool(node, ctx):
    c, h, w = _require_feature_map(ctx)
    if h != w:
        raise ValueError(f"{ctx.where} pools a {h}x{w} map; netdream pools square windows, so "
                         "it reads global pooling of a square map")
    ctx.shape = output_shape(MaxPool2D(h, h), ctx.shape, ctx.where)  # (C, 1, 1)
    return [steps_.pool(ctx.where, "max" if ctx.op == "GlobalMaxPool" else "avg", h, h)]
