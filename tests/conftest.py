"""Shared fixtures: the data beside the checkout (../shared/data), when present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
MNIST = SHARED / "mnist"
NETJS = SHARED / "seed-net" / "net.js"

needs_netjs = pytest.mark.skipif(
    not NETJS.is_file(), reason=f"the seed network {NETJS} is absent (shared data folder)")
needs_mnist = pytest.mark.skipif(
    not (MNIST / "t10k-images-idx3-ubyte.gz").is_file(),
    reason=f"the MNIST test set is absent from {MNIST} (shared data folder)")


@pytest.fixture(scope="session")
def seed_net():
    if not NETJS.is_file():
        pytest.skip(f"the seed network {NETJS} is absent (shared data folder)")
    import netdream
    return netdream.MLP.load(NETJS)


@pytest.fixture(scope="session")
def mnist_test():
    if not (MNIST / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"the MNIST test set is absent from {MNIST} (shared data folder)")
    from netdream.datasets import load_mnist
    return load_mnist("test", root=MNIST, progress=False)


@pytest.fixture(scope="session")
def default_net():
    import netdream
    return netdream.MLP.pretrained()


def random_mlp(rng, sizes, hidden, output="softmax", encoding=None, scale=1.0):
    """A random MLP with the given layer widths (input first)."""
    import netdream
    ws = [rng.normal(0, scale / np.sqrt(a), size=(b, a)) for a, b in zip(sizes[:-1], sizes[1:])]
    bs = [rng.normal(0, 0.1, size=b) for b in sizes[1:]]
    return netdream.MLP(ws, bs, hidden=hidden, output=output, encoding=encoding)
