"""Batched forward pass of the seed net: netdream vs NumPy float32.

On MNIST images (mostly background, which netdream's first layer skips) and
on uniform noise (every pixel nonzero: the dense matrix product). Both start
from the same uint8 images and do the same encoding work:
NumPy scales to the seed's [-1, 1], reorders to column-major and runs
matmul + sigmoid + matmul + softmax in float32; netdream does all of it in
one call (the encoding is folded into its first layer).
"""

from __future__ import annotations

import numpy as np
import pytest


def numpy_forward(w1, b1, w2, b2):
    def forward(images):
        z = images.astype(np.float32) * np.float32(2 / 255) - np.float32(1)
        z = z.transpose(0, 2, 1).reshape(len(images), -1)  # column-major, as the seed wants
        h = 1 / (1 + np.exp(-(z @ w1.T + b1)))
        o = h @ w2.T + b2
        e = np.exp(o - o.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    return forward


def _bench(benchmark, record, seed_net, images, label, impl):
    w1, w2 = (w.astype(np.float32) for w in seed_net.weights)
    b1, b2 = (b.astype(np.float32) for b in seed_net.biases)
    ref = numpy_forward(w1, b1, w2, b2)
    fn = ref if impl == "numpy" else seed_net.predict_proba
    benchmark.group = f"{label} N={len(images)}"
    out = benchmark(fn, images)
    np.testing.assert_allclose(out, ref(images), atol=1e-5)
    record(f"{label} N={len(images):>5}", impl, benchmark)


@pytest.mark.parametrize("n", [1, 64, 1000, 10000])
@pytest.mark.parametrize("impl", ["numpy", "netdream"])
def test_forward(benchmark, record, seed_net, mnist_test, n, impl):
    _bench(benchmark, record, seed_net, np.ascontiguousarray(mnist_test[0][:n]), "forward", impl)


@pytest.mark.parametrize("n", [64, 1000])
@pytest.mark.parametrize("impl", ["numpy", "netdream"])
def test_forward_noise(benchmark, record, seed_net, n, impl):
    images = np.random.default_rng(0).integers(1, 256, (n, 28, 28), dtype=np.uint8)
    _bench(benchmark, record, seed_net, images, "forward noise", impl)
