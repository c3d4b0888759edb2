"""Fuzz netdream's .npz model loading (netdream.formats, through MLP.load).

    python fuzz/fuzz_npz.py fuzz/corpus/npz -rss_limit_mb=2048 -timeout=5 -max_total_time=3600

Byte-level mutations of a zip rarely get past its CRCs; half of the inputs
are therefore read as a recipe instead: a valid model whose fields are
replaced by values the fuzzer chooses (see test_one_input).
"""

from __future__ import annotations

import io

import atheris
import numpy as np
from netdream import MLP

from _common import check, main

KEYS = ["format", "version", "n_layers", "activations", "leaky_slope", "enc_range", "enc_ink",
        "enc_order", "image_shape", "metadata", "W0", "b0", "W1", "b1", "W2"]


def model_arrays():
    rng = np.random.default_rng(0)
    return {"format": np.array("netdream-mlp"), "version": np.array(1),
            "n_layers": np.array(2), "activations": np.array(["relu", "softmax"]),
            "leaky_slope": np.array(0.01), "enc_range": np.array([0.0, 1.0]),
            "enc_ink": np.array("high"), "enc_order": np.array("row"),
            "image_shape": np.array([28, 28]), "metadata": np.array("{}"),
            "W0": rng.normal(size=(3, 784)), "b0": np.zeros(3),
            "W1": rng.normal(size=(2, 3)), "b1": np.zeros(2)}


def npz_bytes(arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def hostile_value(fdp):
    kind = fdp.ConsumeIntInRange(0, 6)
    if kind == 0:
        return np.array(fdp.ConsumeInt(8))
    if kind == 1:
        return np.array(fdp.ConsumeIntListInRange(fdp.ConsumeIntInRange(0, 4), -2**40, 2**40))
    if kind == 2:
        return np.array(fdp.ConsumeRegularFloat())
    if kind == 3:
        return np.array(fdp.ConsumeUnicode(16))
    if kind == 4:
        return np.array([fdp.ConsumeUnicode(8) for _ in range(fdp.ConsumeIntInRange(1, 3))])
    if kind == 5:  # raw code points, valid or not
        codes = fdp.ConsumeIntListInRange(fdp.ConsumeIntInRange(1, 8), 0, 2**32 - 1)
        return np.array(codes, dtype=np.uint32).view(f"<U{len(codes)}")
    shape = tuple(fdp.ConsumeIntInRange(0, 4) for _ in range(fdp.ConsumeIntInRange(0, 3)))
    dtype = ["<f8", ">f4", "<f2", "<i8", "|b1", "<c8", "<u2"][fdp.ConsumeIntInRange(0, 6)]
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    return np.frombuffer(fdp.ConsumeBytes(size).ljust(size, b"\0"), dtype=dtype).reshape(shape)


def test_one_input(data: bytes) -> None:
    if data[:1] == b"R":  # a recipe: replace or drop some fields of a valid model
        fdp = atheris.FuzzedDataProvider(data[1:])
        arrays = model_arrays()
        for _ in range(fdp.ConsumeIntInRange(1, 4)):
            key = KEYS[fdp.ConsumeIntInRange(0, len(KEYS) - 1)]
            if fdp.ConsumeBool():
                arrays.pop(key, None)
            else:
                arrays[key] = hostile_value(fdp)
        data = npz_bytes(arrays)
    check(MLP.load, data, "input.npz")


def seeds():
    return [npz_bytes(model_arrays()), b"R" + bytes(range(64)), b"R" + b"\xff" * 64]


if __name__ == "__main__":
    main(test_one_input, seeds)
