"""netdream's model files: the ``.npz`` format, and the seed demo's ``net.js``.

The ``.npz`` format (read with ``allow_pickle=False``)
------------------------------------------------------
Two versions. Version 2 describes any :class:`~netdream.Network` (layers,
colour, per-channel normalisation, class names); version 1 an MLP. netdream
writes version 1 for an MLP that needs nothing more (so that older
netdream releases read it) and version 2 otherwise, and reads both.

Version 2:

============== =========================================================
key            content
============== =========================================================
format         ``"netdream"``
version        ``2``
layers         a JSON list, one object per layer, in order:
               ``{"type": "conv2d", "stride": s, "padding": "same" |
               "valid" | [top, bottom, left, right], "activation": a}``,
               ``{"type": "maxpool2d" | "avgpool2d", "size": k,
               "stride": s}``, ``{"type": "flatten"}``,
               ``{"type": "dense", "activation": a}``
W{l}, b{l}     the weights of layer ``l`` (conv2d: ``(out, in, kh, kw)``;
               dense: ``(n_out, n_in)``, inputs in (channel, row, column)
               order) and its bias ``(out,)``; float32 or float64
image_shape    ``[H, W]`` (grey) or ``[C, H, W]``
enc_range, enc_ink, enc_order   as in version 1
enc_mean, enc_std               optional: per-channel normalisation
class_names    one string per class
leaky_slope    float
metadata       a JSON object as a string
============== =========================================================

Version 1:

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

Reading never trusts a count in the file: ``n_layers`` is bounded by the
arrays the file holds, each array's declared size by its member's size and
:data:`MAX_MODEL_BYTES`, and every error is a ValueError naming the file.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
import zlib

import numpy as np

from ._validation import check_memory, check_path

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "MAX_MODEL_BYTES", "MAX_NETJS_BYTES",
           "ACCEPTED_FORMATS", "save_npz",
           "load_model", "read_netjs"]

FORMAT_NAME = "netdream-mlp"  # version 1
FORMAT_VERSION = 1
FORMAT_NAME_2 = "netdream"
FORMAT_VERSION_2 = 2
_MAX_LAYERS = 256

#: The most bytes of arrays (decompressed) a model file may declare.
MAX_MODEL_BYTES = 1 << 31
#: The largest net.js file read (the seed's is 1.8 MB).
MAX_NETJS_BYTES = 64 << 20

#: What :func:`load_model` reads, and where other networks come in.
ACCEPTED_FORMATS = (
    "netdream reads a .npz written by netdream (MLP.save) or the seed demo's net.js; "
    "networks from PyTorch, Keras, ONNX or scikit-learn are converted in Python with "
    "MLP.from_torch, MLP.from_keras, MLP.from_onnx or MLP.from_sklearn and then saved "
    "with .save(path)")

# File endings of other frameworks' models -> the importer that reads them.
_FOREIGN = {".onnx": "MLP.from_onnx(path)", ".pt": "MLP.from_torch", ".pth": "MLP.from_torch",
            ".keras": "MLP.from_keras", ".h5": "MLP.from_keras",
            ".pkl": "MLP.from_sklearn", ".joblib": "MLP.from_sklearn"}


def save_npz(net, path) -> None:
    """Write ``net`` in the ``.npz`` format above (atomically: a temporary
    file beside ``path`` is renamed into place)."""
    path = check_path(path)
    from .model import DIGITS, MLP
    enc = net.encoding
    if not isinstance(net, MLP) or enc.mean is not None or enc.std is not None or \
            net.class_names != (DIGITS if net.n_classes == 10 else
                                tuple(str(i) for i in range(net.n_classes))):
        arrays = _arrays_v2(net)
    else:
        arrays = _arrays_v1(net)
    tmp = path + ".tmp.npz" if not path.endswith(".npz") else path[:-4] + ".tmp.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def _arrays_v2(net) -> dict:
    from .layers import AvgPool2D, Conv2D, Dense, MaxPool2D
    dtype = net.metadata.get("storage_dtype", "float32")
    enc = net.encoding
    arrays = {
        "format": np.array(FORMAT_NAME_2),
        "version": np.array(FORMAT_VERSION_2),
        "leaky_slope": np.array(net.leaky_slope),
        "enc_range": np.array([enc.low, enc.high], dtype=np.float64),
        "enc_ink": np.array(enc.ink),
        "enc_order": np.array(enc.order),
        "image_shape": np.array(net.image_shape),
        "class_names": np.array(net.class_names),
        "metadata": np.array(json.dumps(net.metadata)),
    }
    if enc.mean is not None:
        arrays["enc_mean"] = np.array(enc.mean, dtype=np.float64)
    if enc.std is not None:
        arrays["enc_std"] = np.array(enc.std, dtype=np.float64)
    described = []
    for l, layer in enumerate(net.layers):
        if isinstance(layer, Conv2D):
            pad = layer.padding if isinstance(layer.padding, str) else list(layer.padding)
            described.append({"type": "conv2d", "stride": layer.stride, "padding": pad,
                              "activation": layer.activation})
        elif isinstance(layer, MaxPool2D):
            described.append({"type": "avgpool2d" if isinstance(layer, AvgPool2D) else "maxpool2d",
                              "size": layer.size, "stride": layer.stride})
        elif isinstance(layer, Dense):
            described.append({"type": "dense", "activation": layer.activation})
        else:
            described.append({"type": "flatten"})
        if isinstance(layer, (Conv2D, Dense)):
            arrays[f"W{l}"] = layer.weight.astype(dtype)
            arrays[f"b{l}"] = layer.bias.astype(dtype)
    arrays["layers"] = np.array(json.dumps(described))
    return arrays


def _arrays_v1(net) -> dict:
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
    return arrays


def load_model(path):
    """Read a model: netdream ``.npz``, or the seed network's ``net.js``.

    Any other file is a ValueError that says so and lists the formats
    accepted (:data:`ACCEPTED_FORMATS`)."""
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


def _not_a_model(path, why: str) -> ValueError:
    """The error for a file that is no netdream model at all."""
    ext = os.path.splitext(path)[1].lower()
    hint = f"; for this file try {_FOREIGN[ext]}" if ext in _FOREIGN else ""
    return ValueError(f"{path!r} is not a netdream model ({why}); {ACCEPTED_FORMATS}{hint}")


# --------------------------------------------------------------------------
# net.js
# --------------------------------------------------------------------------

_NETJS_NAMES = ("w12", "bias2", "w23", "bias3")


def read_netjs(path):
    """The seed network's JavaScript file: arrays ``w12``, ``bias2``,
    ``w23``, ``bias3`` (784-200-10, logistic hidden, softmax output).

    The arrays are parsed as data; the JavaScript is never evaluated, and
    parsing takes time linear in the file's length (at most
    :data:`MAX_NETJS_BYTES`). The file's comment says the input is in [-1, 1]
    with background 1, flattened column by column. The column order is right,
    but the published 9,808/10,000 is reached only with background -1 (ink
    +1): with background 1 the network scores 32/10,000.
    """
    path = check_path(path)
    text = _read_text(path)
    if not re.search(r"\bvar\s+(?:w12|bias2|w23|bias3)\s*=", text):
        raise _not_a_model(path, "a text file without net.js's arrays w12, bias2, w23, bias3")
    w12, bias2, w23, bias3 = (_js_array(text, name, 2 if name[0] == "w" else 1, path)
                              for name in _NETJS_NAMES)
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


def _read_text(path) -> str:
    """The file as text, refusing binary files and files too large to be a net.js."""
    with open(path, "rb") as fh:
        raw = fh.read(MAX_NETJS_BYTES + 1)
    if len(raw) > MAX_NETJS_BYTES:
        raise ValueError(f"{path!r} is larger than {MAX_NETJS_BYTES:,} bytes: too large for a "
                         "net.js (the seed's is 1.8 MB)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _not_a_model(path, "a binary file, not a .npz") from None


def _network_v2(data, path):
    from .layers import AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D
    from .model import Encoding, Network
    keys = set(data.sizes)
    version = data.integer("version", 1, 1 << 30, "a format version")
    if version > FORMAT_VERSION_2:
        raise ValueError(f"{path!r} has format version {version}; this netdream reads up to "
                         f"{FORMAT_VERSION_2}")
    for key in ("layers", "image_shape", "enc_range", "enc_ink", "enc_order"):
        if key not in keys:
            raise ValueError(f"{path!r} lacks the array {key!r}")
    text = data.one_text("layers")
    if len(text) > 1 << 20:
        raise ValueError(f"{path!r}: the layer list is longer than 1 MB")
    described = json.loads(text)
    if not isinstance(described, list) or not 1 <= len(described) <= _MAX_LAYERS:
        raise ValueError(f"{path!r}: 'layers' must be a list of 1..{_MAX_LAYERS} layers")
    layers = []
    for l, d in enumerate(described):
        if not isinstance(d, dict) or not isinstance(d.get("type"), str):
            raise ValueError(f"{path!r}: layers[{l}] is not a layer description")
        kind = d["type"]
        if kind in ("conv2d", "dense"):
            if f"W{l}" not in keys or f"b{l}" not in keys:
                raise ValueError(f"{path!r}: layers[{l}] ({kind}) has no arrays W{l}, b{l}")
            w, b = data[f"W{l}"], data[f"b{l}"]
            try:
                if kind == "conv2d":
                    layers.append(Conv2D(w, b, stride=d.get("stride", 1),
                                         padding=d.get("padding", "valid"),
                                         activation=d.get("activation", "identity")))
                else:
                    layers.append(Dense(w, b, d.get("activation", "identity")))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{path!r}: layers[{l}]: {exc}") from None
        elif kind in ("maxpool2d", "avgpool2d"):
            cls = MaxPool2D if kind == "maxpool2d" else AvgPool2D
            layers.append(cls(d.get("size", 2), d.get("stride")))
        elif kind == "flatten":
            layers.append(Flatten())
        else:
            raise ValueError(f"{path!r}: layers[{l}] has an unknown type {kind!r}")
    low, high = (float(v) for v in data.numbers("enc_range", shape=(2,)))
    enc = Encoding(low, high, ink=data.one_text("enc_ink", 8), order=data.one_text("enc_order", 8),
                   mean=data["enc_mean"] if "enc_mean" in keys else None,
                   std=data["enc_std"] if "enc_std" in keys else None)
    shape = data.numbers("image_shape", "iu")
    if shape.ndim != 1 or len(shape) not in (2, 3):
        raise ValueError(f"{path!r}: image_shape must be 2 or 3 integers, got {shape!r}")
    names = None
    if "class_names" in keys:
        names = data.text("class_names", 64)
    meta = json.loads(data.one_text("metadata")) if "metadata" in keys else {}
    if not isinstance(meta, dict):
        raise ValueError(f"{path!r}: metadata must be a JSON object")
    slope = float(data.numbers("leaky_slope", "f").reshape(-1)[0]) if "leaky_slope" in keys else 0.01
    net = Network(layers, image_shape=tuple(int(v) for v in shape), encoding=enc,
                  class_names=names, leaky_slope=slope, metadata=meta)
    if not net.is_convolutional:  # dense layers only: an MLP
        from .model import MLP
        dense = [l for l in layers if isinstance(l, Dense)]
        return MLP([l.weight for l in dense], [l.bias for l in dense],
                   hidden=[l.activation for l in dense[:-1]], output=dense[-1].activation,
                   encoding=enc, leaky_slope=slope, image_shape=net.image_shape,
                   metadata=meta, class_names=names)
    return net


# A decimal literal. Written so that no two ways of matching overlap: a
# failed match backtracks in time linear in the token's length.
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_BRACKET = re.compile(r"[\[\]]")
_ROW = re.compile(r"\[([^\[\]]*)\]")


def _js_array(text, name, ndim, path):
    m = re.search(r"\bvar\s+" + name + r"\s*=\s*\[", text)
    if not m:
        raise ValueError(f"{path!r}: no array 'var {name} = [...]' found")
    start = m.end() - 1
    depth, end = 0, None
    for b in _BRACKET.finditer(text, start):
        if b.group() == "[":
            depth += 1
            if depth > ndim:
                raise ValueError(f"{path!r}: {name} is nested deeper than {ndim} levels")
        else:
            depth -= 1
            if depth == 0:
                end = b.end()
                break
    if end is None:
        raise ValueError(f"{path!r}: array {name} is not closed (truncated file?)")
    body = text[start:end]
    if ndim == 1:
        rows_text = [body[1:-1]]
    else:
        inner = body[1:-1]
        rows_text = _ROW.findall(inner)
        if _ROW.sub("", inner).replace(",", "").strip():
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
            bad = next((v for v in items if not _NUMBER.fullmatch(v)), "")
            raise ValueError(f"{path!r}: {name} row {r} has a value that is not a number: "
                             f"{bad[:30]!r}") from None
    lengths = {len(r) for r in rows}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(f"{path!r}: {name} rows have different or zero lengths {sorted(lengths)[:5]}")
    arr = np.stack(rows) if ndim == 2 else rows[0]
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{path!r}: {name} contains values that overflow to inf")
    return arr


# --------------------------------------------------------------------------
# .npz
# --------------------------------------------------------------------------

def _load_npz(path):
    # Open the file ourselves: np.load leaks its handle when the zip is broken.
    with open(path, "rb") as fh:
        try:
            data = np.load(fh, allow_pickle=False)
        except Exception as exc:
            raise ValueError(f"{path!r} is not a readable .npz file: {exc}") from None
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError(f"{path!r} is not a valid .npz file (a single array, not an archive)")
        with data:
            try:
                members = _Members(data, path)
                if "format" in members and members.one_text("format", 64) == FORMAT_NAME_2:
                    return _network_v2(members, path)
                fields = _npz_fields(members, path)
            except ValueError as exc:
                msg = str(exc)
                raise ValueError(msg if repr(path) in msg else f"{path!r}: {msg}") from None
            except Exception as exc:  # corrupt members, bad zip entries, bad JSON
                raise ValueError(f"{path!r} is not a valid netdream model: "
                                 f"{type(exc).__name__}: {exc}") from None
    weights, biases, acts, enc, slope, shape, meta = fields
    from .model import MLP
    try:
        return MLP(weights, biases, hidden=acts[:-1], output=acts[-1], encoding=enc,
                   leaky_slope=slope, image_shape=shape, metadata=meta)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path!r} is not a valid netdream model: {exc}") from None


class _Members:
    """The arrays of an open ``.npz``, each read only after its declared shape
    was checked against the member's size, and all of them against
    :data:`MAX_MODEL_BYTES` and the memory free."""

    def __init__(self, data, path):
        self.zip, self.path = data.zip, path
        self.sizes = {}
        for info in self.zip.infolist():
            if info.filename.endswith(".npy"):
                self.sizes[info.filename[:-4]] = info.file_size
        total = sum(self.sizes.values())
        if total > MAX_MODEL_BYTES:
            raise ValueError(f"{path!r} declares {total:,} bytes of arrays, more than a model "
                             f"may hold ({MAX_MODEL_BYTES:,})")
        check_memory(total, f"{path!r}: its arrays")

    def __contains__(self, key) -> bool:
        return key in self.sizes

    def __getitem__(self, key) -> np.ndarray:
        if key not in self.sizes:
            raise ValueError(f"{self.path!r} lacks the array {key!r}")
        version, shape, dtype = self._numpy(key, _npy_header)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"{self.path!r}: {key} is in .npy version {version}, which "
                             "netdream does not read")
        if dtype.hasobject:
            raise ValueError(f"{self.path!r}: {key} holds Python objects (a pickle); "
                             "netdream never reads pickles")
        declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if declared > self.sizes[key]:
            raise ValueError(f"{self.path!r}: {key} declares shape {shape} of {dtype} "
                             f"({declared:,} bytes) but its member holds "
                             f"{self.sizes[key]:,} bytes")
        return self._numpy(key, lambda fh: np.lib.format.read_array(fh, allow_pickle=False))

    def _numpy(self, key, read):
        """``read`` (a NumPy reader) applied to member ``key``; its errors,
        and the zip's, become ValueErrors naming the file and the array."""
        try:
            with self.zip.open(key + ".npy") as fh:
                return read(fh)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise ValueError(f"{self.path!r}: {key} is not a readable array "
                             f"({type(exc).__name__}: {exc})") from None

    def text(self, key, max_len: int = 1 << 20) -> list[str]:
        """A text array's strings (one for a scalar), refusing code points no
        string may hold (beyond U+10FFFF, or surrogates)."""
        arr = self[key]
        if arr.dtype.kind != "U":
            raise ValueError(f"{self.path!r}: {key} must be text, got dtype {arr.dtype}")
        if arr.dtype.itemsize // 4 > max_len:
            raise ValueError(f"{self.path!r}: {key} is longer than {max_len:,} characters")
        codes = np.frombuffer(np.ascontiguousarray(arr).tobytes(),
                              dtype=np.dtype("u4").newbyteorder(arr.dtype.byteorder))
        if codes.size and (codes.max() > 0x10FFFF or
                           np.any((codes >= 0xD800) & (codes <= 0xDFFF))):
            raise ValueError(f"{self.path!r}: {key} holds invalid characters (code points "
                             "beyond U+10FFFF or surrogates)")
        return [str(s) for s in arr.reshape(-1)]

    def one_text(self, key, max_len: int = 1 << 20) -> str:
        values = self.text(key, max_len)
        if len(values) != 1:
            raise ValueError(f"{self.path!r}: {key} must be one string, got {len(values)}")
        return values[0]

    def numbers(self, key, kinds: str = "iuf", shape=None) -> np.ndarray:
        """A real array (integers when ``kinds`` is "iu") of the given shape."""
        arr = self[key]
        if arr.dtype.kind not in kinds:
            what = "integers" if kinds == "iu" else "real numbers"
            raise ValueError(f"{self.path!r}: {key} must hold {what}, got dtype {arr.dtype}")
        if shape is not None and arr.shape != shape:
            raise ValueError(f"{self.path!r}: {key} must have shape {shape}, got {arr.shape}")
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise ValueError(f"{self.path!r}: {key} contains NaN or infinite values")
        return arr

    def integer(self, key, low: int, high: int, what: str) -> int:
        """One integer in ``low..high``; ``what`` says where ``high`` comes from."""
        arr = self[key]
        if arr.dtype.kind not in "iu" or arr.size != 1 or arr.ndim > 1:
            raise ValueError(f"{self.path!r}: {key} must be one integer, got {arr.dtype} of "
                             f"shape {arr.shape}")
        value = int(arr.reshape(-1)[0])
        if not low <= value <= high:
            raise ValueError(f"{self.path!r}: {key} = {value} must lie in {low}..{high} ({what})")
        return value


def _npy_header(fh):
    """``(version, shape, dtype)`` from the start of a ``.npy`` stream
    (shape and dtype None for versions netdream does not read)."""
    version = np.lib.format.read_magic(fh)
    readers = {(1, 0): np.lib.format.read_array_header_1_0,
               (2, 0): np.lib.format.read_array_header_2_0}
    if version not in readers:
        return version, None, None
    shape, _, dtype = readers[version](fh)
    return version, shape, dtype


def _npz_fields(data: _Members, path):
    if "format" not in data:
        raise _not_a_model(path, f"a .npz without format={FORMAT_NAME!r}")
    fmt = data.one_text("format", max_len=64)
    if fmt != FORMAT_NAME:
        raise _not_a_model(path, f"format is {fmt!r}, not {FORMAT_NAME!r}")
    version = data.integer("version", 1, 1 << 30, "a format version")
    if version > FORMAT_VERSION:
        raise ValueError(f"{path!r} has format version {version}; this netdream reads "
                         f"up to {FORMAT_VERSION}")
    pairs = sum(1 for k in data.sizes if re.fullmatch(r"W\d+", k))
    n = data.integer("n_layers", 1, max(pairs, 1),
                     f"the file holds {pairs} weight arrays W0, W1, ...")
    missing = [k for l in range(n) for k in (f"W{l}", f"b{l}") if k not in data]
    if missing:
        raise ValueError(f"{path!r} lacks arrays {missing}")
    weights = [data.numbers(f"W{l}") for l in range(n)]
    biases = [data.numbers(f"b{l}") for l in range(n)]
    acts = data.text("activations", max_len=64)
    if len(acts) != n:
        raise ValueError(f"{path!r}: {len(acts)} activations for {n} layers")
    low, high = (float(v) for v in data.numbers("enc_range", shape=(2,)))
    from .model import Encoding
    try:
        enc = Encoding(low, high, ink=data.one_text("enc_ink", 16),
                       order=data.one_text("enc_order", 16))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path!r}: {exc}") from None
    shape = data.numbers("image_shape", kinds="iu")
    if shape.ndim != 1:
        raise ValueError(f"{path!r}: image_shape must be a list of sizes, got shape {shape.shape}")
    shape = tuple(int(s) for s in shape)  # its values are checked by the model (MLP)
    meta = {}
    if "metadata" in data:
        try:
            meta = json.loads(data.one_text("metadata"))
        except (json.JSONDecodeError, RecursionError) as exc:
            raise ValueError(f"{path!r}: metadata is not valid JSON ({exc})") from None
        if not isinstance(meta, dict):
            raise ValueError(f"{path!r}: metadata must be a JSON object, got "
                             f"{type(meta).__name__}")
    slope = 0.01
    if "leaky_slope" in data:
        slope = float(data.numbers("leaky_slope", shape=()))
    return weights, biases, acts, enc, slope, shape, meta
