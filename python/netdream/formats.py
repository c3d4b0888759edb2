"""netdream's model files: the ``.npz`` format, and the seed demo's ``net.js``.

The ``.npz`` format (read with ``allow_pickle=False``)
------------------------------------------------------
============== =========================================================
key            content
============== =========================================================
format         ``"netdream-mlp"``
version        ``1``
n_layers       number of weight layers L (hidden layers + 1)
W0 .. W{L-1}   float32 or float64, shape ``(n_out, n_in)``
b0 .. b{L-1}   shape ``(n_out,)``
activations    L strings: the hidden activations, then the output one
               (hidden: identity, relu, leaky_relu, sigmoid, tanh;
               output: softmax, sigmoid, identity)
leaky_slope    float
enc_range      ``[low, high]``: the encoded values of the two ends
enc_ink        ``"high"`` (ink is ``high``) or ``"low"``
enc_order      ``"row"`` or ``"column"`` (flattening of the image)
image_shape    ``[28, 28]``
metadata       a JSON object as a string (name, model card, ...)
============== =========================================================
"""

from __future__ import annotations

import json
import os
import re

import numpy as np

from ._validation import check_path

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "save_npz", "load_model", "read_netjs"]

FORMAT_NAME = "netdream-mlp"
FORMAT_VERSION = 1


def save_npz(net, path) -> None:
    """Write ``net`` in the ``.npz`` format above (atomically: a temporary
    file beside ``path`` is renamed into place)."""
    path = check_path(path)
    arrays = {
        "format": np.array(FORMAT_NAME),
        "version": np.array(FORMAT_VERSION),
        "n_layers": np.array(len(net.weights)),
        "activations": np.array(net.activations),
        "leaky_slope": np.array(net.leaky_slope),
        "enc_range": np.array([net.encoding.low, net.encoding.high], dtype=np.float64),
        "enc_ink": np.array(net.encoding.ink),
        "enc_order": np.array(net.encoding.order),
        "image_shape": np.array(net.image_shape),
        "metadata": np.array(json.dumps(net.metadata)),
    }
    for l, (w, b) in enumerate(zip(net.weights, net.biases)):
        dtype = net.metadata.get("storage_dtype", "float32")
        arrays[f"W{l}"] = w.astype(dtype)
        arrays[f"b{l}"] = b.astype(dtype)
    tmp = path + ".tmp.npz" if not path.endswith(".npz") else path[:-4] + ".tmp.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def load_model(path):
    """Read a model: netdream ``.npz``, or the seed network's ``net.js``."""
    path = check_path(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head.startswith(b"PK"):
        return _load_npz(path)
    if path.endswith(".npz"):
        raise ValueError(f"{path!r} is not a valid .npz file (no zip header)")
    return read_netjs(path)


def read_netjs(path):
    """The seed network's JavaScript file: arrays ``w12``, ``bias2``,
    ``w23``, ``bias3`` (784-200-10, logistic hidden, softmax output).

    The arrays are parsed as data; the JavaScript is never evaluated. The
    file's comment says the input is in [-1, 1] with background 1,
    flattened column by column. The column order is right, but the
    published 9,808/10,000 is reached only with background -1 (ink +1):
    with background 1 the network scores 32/10,000.
    """
    path = check_path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except UnicodeDecodeError:
        raise ValueError(f"{path!r} is not a text file") from None
    w12 = _js_array(text, "w12", 2, path)
    bias2 = _js_array(text, "bias2", 1, path)
    w23 = _js_array(text, "w23", 2, path)
    bias3 = _js_array(text, "bias3", 1, path)
    if w12.shape[1] != 784:
        raise ValueError(f"{path!r}: w12 has {w12.shape[1]} inputs, expected 784")
    if bias2.shape != (w12.shape[0],):
        raise ValueError(f"{path!r}: bias2 has {bias2.size} values, w12 has {w12.shape[0]} rows")
    if w23.shape[1] != w12.shape[0]:
        raise ValueError(f"{path!r}: w23 has {w23.shape[1]} columns, w12 has {w12.shape[0]} rows")
    if bias3.shape != (w23.shape[0],):
        raise ValueError(f"{path!r}: bias3 has {bias3.size} values, w23 has {w23.shape[0]} rows")
    from .model import MLP, Encoding
    return MLP([w12, w23], [bias2, bias3], hidden="sigmoid", output="softmax",
               encoding=Encoding(-1.0, 1.0, ink="high", order="column"),
               metadata={"name": "seed net.js", "source": os.path.basename(path)})


def _load_npz(path):
    # Open the file ourselves: np.load leaks its handle when the zip is broken.
    with open(path, "rb") as fh:
        try:
            data = np.load(fh, allow_pickle=False)
        except Exception as exc:
            raise ValueError(f"{path!r} is not a readable .npz file: {exc}") from None
        with data:
            try:
                fields = _npz_fields(data, path)
            except ValueError:
                raise
            except Exception as exc:  # corrupt members, object arrays, bad JSON
                raise ValueError(f"{path!r} is not a valid netdream model: {exc}") from None
    weights, biases, acts, enc, slope, shape, meta = fields
    from .model import MLP
    return MLP(weights, biases, hidden=acts[:-1], output=acts[-1], encoding=enc,
               leaky_slope=slope, image_shape=shape, metadata=meta)


def _npz_fields(data, path):
    keys = set(data.files)
    if "format" not in keys or str(data["format"]) != FORMAT_NAME:
        raise ValueError(f"{path!r} is not a netdream model (no format={FORMAT_NAME!r})")
    version = int(data["version"])
    if version > FORMAT_VERSION:
        raise ValueError(f"{path!r} has format version {version}; this netdream reads "
                         f"up to {FORMAT_VERSION}")
    n = int(data["n_layers"])
    missing = [k for l in range(n) for k in (f"W{l}", f"b{l}") if k not in keys]
    if missing:
        raise ValueError(f"{path!r} lacks arrays {missing}")
    weights = [data[f"W{l}"] for l in range(n)]
    biases = [data[f"b{l}"] for l in range(n)]
    acts = [str(a) for a in data["activations"]]
    if len(acts) != n:
        raise ValueError(f"{path!r}: {len(acts)} activations for {n} layers")
    low, high = (float(v) for v in data["enc_range"])
    from .model import Encoding
    enc = Encoding(low, high, ink=str(data["enc_ink"]), order=str(data["enc_order"]))
    shape = tuple(int(s) for s in data["image_shape"])
    meta = json.loads(str(data["metadata"])) if "metadata" in keys else {}
    slope = float(data["leaky_slope"]) if "leaky_slope" in keys else 0.01
    return weights, biases, acts, enc, slope, shape, meta


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def _js_array(text, name, ndim, path):
    m = re.search(r"\bvar\s+" + name + r"\s*=\s*\[", text)
    if not m:
        raise ValueError(f"{path!r}: no array 'var {name} = [...]' found")
    start = m.end() - 1
    depth, end = 0, None
    for i in range(start, len(text)):
        c = text[i]
        if c == "[":
            depth += 1
            if depth > ndim:
                raise ValueError(f"{path!r}: {name} is nested deeper than {ndim} levels")
        elif c == "]":
            depth -= 1
            if depth == 0:
                end = i + 1
                break
    if end is None:
        raise ValueError(f"{path!r}: array {name} is not closed (truncated file?)")
    body = text[start:end]
    if ndim == 1:
        rows_text = [body[1:-1]]
    else:
        inner = body[1:-1]
        rows_text = re.findall(r"\[([^\[\]]*)\]", inner)
        leftover = re.sub(r"\[[^\[\]]*\]", "", inner)
        if leftover.replace(",", "").strip():
            raise ValueError(f"{path!r}: {name} has values outside its rows")
        if not rows_text:
            raise ValueError(f"{path!r}: {name} is empty")
    rows = []
    for r, row in enumerate(rows_text):
        items = [s.strip() for s in row.split(",")]
        if items and items[-1] == "":
            items.pop()  # trailing comma
        try:
            # float() accepts exactly the decimal literals JavaScript writes
            # (and nan/inf spellings, refused below as non-finite)
            rows.append(np.array([float(v) for v in items], dtype=np.float64))
        except ValueError:
            bad = next(v for v in items if not re.fullmatch(_NUMBER, v))
            raise ValueError(f"{path!r}: {name} row {r} has a value that is not a number: "
                             f"{bad[:30]!r}") from None
    lengths = {len(r) for r in rows}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(f"{path!r}: {name} rows have different or zero lengths {sorted(lengths)[:5]}")
    arr = np.stack(rows) if ndim == 2 else rows[0]
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{path!r}: {name} contains values that overflow to inf")
    return arr
