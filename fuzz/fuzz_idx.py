"""Fuzz netdream.datasets.read_idx (IDX files, gzip-compressed or not).

    python fuzz/fuzz_idx.py fuzz/corpus/idx -rss_limit_mb=2048 -timeout=5 -max_total_time=3600
"""

from __future__ import annotations

import gzip

import atheris
import numpy as np
from netdream.datasets import read_idx

from _common import check, main


def test_one_input(data: bytes) -> None:
    arr = check(read_idx, data, "input.idx")
    if arr is not None and arr.size * arr.dtype.itemsize > 1100 * len(data):
        raise AssertionError(f"{len(data)} bytes gave an array of {arr.nbytes} bytes")


def seeds():
    def idx(arr, code=0x08):
        arr = np.asarray(arr)
        dtype = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
        return (bytes([0, 0, code, arr.ndim]) + b"".join(d.to_bytes(4, "big") for d in arr.shape)
                + arr.astype(dtype).tobytes())
    images = idx(np.arange(2 * 28 * 28).reshape(2, 28, 28) % 256)
    return [images, gzip.compress(images), idx(np.arange(10) % 10),
            idx(np.linspace(-1, 1, 12).reshape(3, 4), 0x0D), idx(np.zeros((0, 28, 28)))]


if __name__ == "__main__":
    main(test_one_input, seeds)
