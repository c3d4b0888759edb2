"""Short fuzz runs of every file parser: read_idx, the net.js parser, .npz
models and load_image.

Whatever the bytes, a parser returns its result or raises a ValueError that
names the file: never another exception, a hang, a crash or a memory
blow-up. Each run starts from valid files and mutates them (flipped and
inserted bytes, truncation, lying headers, hostile values), so that the
checks deep inside the parsers are reached, not only the first one. The
longer runs are the atheris harnesses in ``fuzz/`` (see fuzz/README.md),
or these with more examples: ``NETDREAM_FUZZ_EXAMPLES=5000 pytest
tests/test_fuzz.py``.
"""

from __future__ import annotations

import gzip
import io
import os
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from netdream import MLP
from netdream.datasets import IDX_DTYPES, read_idx
from netdream.photo import load_image

FUZZ = settings(max_examples=int(os.environ.get("NETDREAM_FUZZ_EXAMPLES", "120")),
                deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def expect_value_error_naming(path, parse):
    """Run ``parse(path)``; return its result, or None after a ValueError
    whose message names the file. Anything else fails the test."""
    try:
        return parse(path)
    except ValueError as exc:
        assert path.name in str(exc), f"the error does not name the file: {exc}"
        return None


@st.composite
def mutated(draw, valid: bytes):
    """``valid`` with a few bytes flipped, inserted or deleted, or cut short."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete" and data:
            del data[at:at + draw(st.integers(1, 8))]
        elif kind == "truncate":
            del data[at:]
    return bytes(data)


# --------------------------------------------------------------------------
# read_idx
# --------------------------------------------------------------------------

@st.composite
def idx_files(draw):
    code = draw(st.sampled_from([*IDX_DTYPES, 0x00, 0x0A, 0xFF]))
    shape = draw(st.lists(st.one_of(st.integers(0, 4), st.integers(0, 2**32 - 1)),
                          min_size=0, max_size=4))
    header = bytes([0, 0, code, len(shape)]) + b"".join(d.to_bytes(4, "big") for d in shape)
    itemsize = IDX_DTYPES[code].itemsize if code in IDX_DTYPES else 1
    n = int(np.prod(shape, dtype=object)) * itemsize if shape else 0
    body = bytes(draw(st.integers(0, 64))) if n > 64 else draw(st.binary(min_size=n, max_size=n))
    data = header + body
    if draw(st.booleans()):
        data = gzip.compress(data, compresslevel=1)
    if draw(st.booleans()):
        data = draw(mutated(data))
    return data


@FUZZ
@given(data=st.one_of(idx_files(), st.binary(max_size=64)))
def test_fuzz_read_idx(folder, data):
    path = folder / "fuzz.idx"
    path.write_bytes(data)
    arr = expect_value_error_naming(path, read_idx)
    if arr is not None:
        assert arr.dtype.isnative and arr.size * arr.dtype.itemsize <= len(data) * 1100


# --------------------------------------------------------------------------
# net.js
# --------------------------------------------------------------------------

def _netjs(rows: int, hidden: int = 3) -> str:
    rng = np.random.default_rng(rows)
    def arr2(a):
        return "[" + ",".join("[" + ",".join(f"{v:.3g}" for v in r) + "]" for r in a) + "]"
    return (f"// net\nvar w12 = {arr2(rng.normal(size=(hidden, 784)))};\n"
            f"var bias2 = [{','.join(['0.1'] * hidden)}];\n"
            f"var w23 = {arr2(rng.normal(size=(10, hidden)))};\n"
            f"var bias3 = [{','.join(['0'] * 10)}];\n")


NETJS = _netjs(1)
JS_ALPHABET = "[]0123456789.,-+eE; =\nvarwbias123x"


@st.composite
def netjs_texts(draw):
    text = NETJS
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 12))
        text = text[:at] + draw(st.text(JS_ALPHABET, max_size=12)) + text[at + cut:]
    return text


@FUZZ
@given(text=st.one_of(netjs_texts(), st.text(JS_ALPHABET, max_size=200),
                      st.binary(max_size=64).map(lambda b: b.decode("latin-1"))))
def test_fuzz_netjs(folder, text):
    path = folder / "net.js"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    net = expect_value_error_naming(path, MLP.load)
    if net is not None:
        assert net.sizes[0] == 784 and net.sizes[-1] == 10


# --------------------------------------------------------------------------
# .npz models
# --------------------------------------------------------------------------

def _npz_arrays():
    rng = np.random.default_rng(2)
    return {"format": np.array("netdream-mlp"), "version": np.array(1),
            "n_layers": np.array(2), "activations": np.array(["relu", "softmax"]),
            "leaky_slope": np.array(0.01), "enc_range": np.array([0.0, 1.0]),
            "enc_ink": np.array("high"), "enc_order": np.array("row"),
            "image_shape": np.array([28, 28]), "metadata": np.array('{"name": "f"}'),
            "W0": rng.normal(size=(3, 784)), "b0": np.zeros(3),
            "W1": rng.normal(size=(2, 3)), "b1": np.zeros(2)}


def _npz_bytes(arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


VALID_NPZ = _npz_bytes(_npz_arrays())

hostile_values = st.one_of(
    st.integers(-2**63, 2**63 - 1).map(np.array),
    st.sampled_from([2**62, -1, 0, 1, 2, 3, 28, 784, 2**31]).map(np.array),
    st.lists(st.integers(-2**40, 2**40), max_size=4).map(lambda v: np.array(v, dtype=np.int64)),
    st.floats(allow_nan=True, allow_infinity=True).map(np.array),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=4).map(np.array),
    st.text(max_size=12).map(np.array),
    st.lists(st.text(max_size=8), min_size=1, max_size=3).map(np.array),
    st.sampled_from(["relu", "softmax", "high", "row", "column", "netdream-mlp", "{}", "[]",
                     "null", '{"class_names": 5}']).map(np.array),
    st.sampled_from([np.zeros((3, 784), np.complex64), np.zeros((0,)), np.zeros((2, 0)),
                     np.ones((3, 3), bool), np.zeros(3, ">f4"), np.zeros((3, 784), np.float16),
                     np.array([0x110000], dtype=np.uint32).view("<U1")]),
)


@st.composite
def npz_files(draw):
    arrays = _npz_arrays()
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(sorted(arrays) + ["W2", "b2"]))
        if draw(st.integers(0, 4)) == 0:
            arrays.pop(key, None)
        else:
            arrays[key] = draw(hostile_values)
    return _npz_bytes(arrays)


@FUZZ
@given(data=st.one_of(npz_files(), mutated(VALID_NPZ)))
def test_fuzz_npz(folder, data):
    path = folder / "model.npz"
    path.write_bytes(data)
    net = expect_value_error_naming(path, MLP.load)
    if net is not None:
        assert net.sizes[0] == 784


def test_fuzz_npz_lying_member_headers(folder):
    """Members whose .npy headers declare shapes far beyond their bytes."""
    import itertools
    for key, shape in itertools.product(["W0", "b0", "n_layers", "activations"],
                                        [(2**40,), (2**31, 2**31), (10**6, 784)]):
        path = folder / "liar.npz"
        path.write_bytes(VALID_NPZ)
        head = io.BytesIO()
        np.lib.format.write_array_header_1_0(head, {"descr": "<f8", "fortran_order": False,
                                                    "shape": shape})
        with zipfile.ZipFile(path, "a") as z, pytest.warns(UserWarning, match="Duplicate name"):
            z.writestr(key + ".npy", head.getvalue() + bytes(64))
        expect_value_error_naming(path, MLP.load)


# --------------------------------------------------------------------------
# load_image
# --------------------------------------------------------------------------

def _image_bytes(fmt: str, mode: str = "L") -> bytes:
    im = Image.new("L", (24, 20), 255)
    im.paste(0, (10, 3, 14, 17))
    buf = io.BytesIO()
    im.convert(mode).save(buf, fmt)
    return buf.getvalue()


VALID_IMAGES = [_image_bytes("PNG"), _image_bytes("PNG", "RGBA"), _image_bytes("PNG", "1"),
                _image_bytes("JPEG", "RGB"), _image_bytes("GIF", "P"), _image_bytes("BMP"),
                _image_bytes("TIFF"), _image_bytes("WEBP", "RGB")]


@FUZZ
@given(data=st.one_of(st.sampled_from(VALID_IMAGES).flatmap(mutated), st.binary(max_size=64)))
def test_fuzz_load_image(folder, data):
    path = folder / "photo.img"
    path.write_bytes(data)
    image = expect_value_error_naming(path, load_image)
    if image is not None:
        assert image.shape == (28, 28) and image.dtype == np.uint8


@pytest.mark.parametrize("data", VALID_IMAGES, ids=["png", "rgba", "1-bit", "jpeg", "gif",
                                                    "bmp", "tiff", "webp"])
def test_fuzz_seed_images_are_read(folder, data):
    """The fuzz runs start from images that load_image reads."""
    path = folder / "seed.img"
    path.write_bytes(data)
    assert load_image(path).shape == (28, 28)
