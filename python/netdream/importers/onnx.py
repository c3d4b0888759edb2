"""Import dense networks saved as ONNX (see :func:`from_onnx`)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ..model import MLP, Encoding
from .._validation import check_path
from . import _steps as steps_

__all__ = ["from_onnx"]


# ---------------------------------------------------------------------- onnx
def from_onnx(path, *, encoding: Encoding | None = None, output: str | None = None) -> MLP:
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
            steps.append(steps_.linear(where, w, bias))
            feat = (w.shape[0],)
        elif op == "MatMul":
            if node.input[0] != current:
                raise ValueError(f"{where} has the data as its second input; netdream needs "
                                 "Y = X @ W (the data first)")
            w = const(node.input[1], where)
            if w.ndim != 2:
                raise ValueError(f"{where} has a weight of shape {w.shape}; netdream needs 2-D")
            steps.append(steps_.linear(where, w.T))
            feat = (w.shape[1],)
        elif op in ("Add", "Sub", "Mul", "Div"):
            data_first = node.input[0] == current
            c = per_feature(const(node.input[1] if data_first else node.input[0], where), where)
            if op == "Add":
                steps.append(steps_.affine(where, 1.0, c))
            elif op == "Sub":
                steps.append(steps_.affine(where, 1.0, -c) if data_first else steps_.affine(where, -1.0, c))
            elif op == "Mul":
                steps.append(steps_.affine(where, c, 0.0))
            elif data_first:
                steps.append(steps_.affine(where, 1.0 / c, 0.0))
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
            steps.append(steps_.batchnorm(where, mean, var, attrs.get("epsilon", 1e-5), scale, b))
        elif op in ("Relu", "Sigmoid", "Tanh", "Identity"):
            steps.append(steps_.act(where, {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh",
                                      "Identity": "identity"}[op]))
        elif op == "LeakyRelu":
            steps.append(steps_.act(where, "leaky_relu", attrs.get("alpha", 0.01)))
        elif op in ("Softmax", "LogSoftmax"):
            axis = attrs.get("axis", 1 if opset < 13 else -1)
            if not flat or axis not in (1, -1):
                raise ValueError(f"{where} is taken over axis {axis} of data of per-sample shape "
                                 f"{feat}; netdream's softmax is over the classes (the last axis "
                                 "of flat data)")
            steps.append(steps_.softmax(where, log=op == "LogSoftmax"))
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
            raise ValueError(f"{where} is not supported: {steps_.NOT_DENSE}")
        current = node.output[0]
    if current != graph.output[0].name:
        raise ValueError(f"the graph output '{graph.output[0].name}' is not the end of the chain "
                         f"('{current}'); netdream imports only a simple chain")
    metadata = {"source": "onnx", "onnx_file": str(source), "opset": int(opset),
                "producer": f"{model.producer_name} {model.producer_version}".strip(),
                "layers": names}
    return steps_.assemble(steps, output, encoding, metadata)
