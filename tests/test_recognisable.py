"""Recognisable dreams: the judges, the cost on ink, and the default dream of
the shipped model read as its class by networks that took no part in it."""

from __future__ import annotations

import numpy as np
import pytest

import netdream
from netdream import judges as J
from netdream import regularizers as R

from conftest import MNIST, mnist

needs_train = pytest.mark.skipif(
    not (MNIST / "train10k-images-idx3-ubyte.gz").is_file(),
    reason=f"the MNIST training images are absent from {MNIST} (shared data folder)")


@pytest.fixture(scope="module")
def panel():
    """The fast panel (no CNN): nearest neighbours on eigen-digits, a tanh MLP."""
    pytest.importorskip("sklearn", reason="the judges need scikit-learn (train extra)")
    x, y = mnist("train10k")
    return J.train_judges(x, y, seed=1, cnn=False, test=mnist("test"))


@needs_train
def test_judges_read_real_digits_and_refuse_noise(panel):
    xt, yt = mnist("test")
    for judge in panel:
        assert judge.accuracy > 0.9, judge
    # real digits of each class are recognised, by the panel as a whole
    for c in range(10):
        assert J.recognisability(panel, xt[yt == c][:50], c) >= 0.8, c
    # a blank image and uniform noise are not "every class"
    rng = np.random.default_rng(0)
    noise = rng.random((20, 28, 28))
    hits = [J.recognisability(panel, noise, c) for c in range(10)]
    assert sum(hits) <= 1.0 + 1e-9  # each noise image counts for one class at most
    assert J.votes(panel, noise).shape == (len(panel), 20)


def test_recognisability_is_the_majority_share():
    always = [J.Judge(str(k), lambda im, k=k: np.full(len(im), k)) for k in (3, 3, 5)]
    assert J.recognisability(always, np.zeros((4, 28, 28)), 3) == 1.0
    assert J.recognisability(always, np.zeros((4, 28, 28)), 5) == 0.0
    split = [J.Judge("a", lambda im: np.array([1, 2])), J.Judge("b", lambda im: np.array([1, 1]))]
    assert J.recognisability(split, np.zeros((2, 28, 28)), 1) == 0.5  # 2 of 2, then 1 of 2
    with pytest.raises(ValueError, match="images"):
        J.recognisability(always, np.zeros((4, 27, 27)), 3)


def test_l1_clears_ink_the_network_does_not_need(default_net):
    raw = netdream.hill_climb(default_net, 7, runs=4, steps=20000, seed=3, progress=False)
    ink = netdream.hill_climb(default_net, 7, runs=4, steps=20000, seed=3, progress=False,
                              regularizer=R.l1(1e-3))
    # the cost on ink halves the ink at least, and the dream stays the class
    assert ink.images.sum() < 0.5 * raw.images.sum()
    assert np.all(ink.confidence > 0.9)
    assert repr(R.default()) == "total_variation(weight=0.0003) + l1(weight=0.0003)"


@needs_train
@pytest.mark.slow
def test_default_dreams_of_the_shipped_model_are_recognised(default_net):
    """With default settings, the dreams of every class are read as that
    class by independent judges (the full panel, with the CNN when PyTorch is
    there; the benchmark measures it on more dreams), with the model's own
    confidence high; the raw search of the standard model is not."""
    pytest.importorskip("torch", reason="the full panel of judges includes a PyTorch CNN "
                                        "(two judges would both have to agree)")
    x, y = mnist("train10k")
    panel = J.train_judges(x, y, seed=1)
    shares = []
    for c in range(10):
        r = netdream.hill_climb(default_net, c, runs=20, seed=11, progress=False,
                                regularizer=R.default())
        shares.append(J.recognisability(panel, r.images, c))
        assert shares[-1] >= 0.7, (c, shares)
        assert np.median(r.confidence) >= 0.99, c
    assert np.mean(shares) >= 0.9, shares
    standard = netdream.pretrained("mlp-standard")
    worst = min(J.recognisability(panel, netdream.hill_climb(
        standard, c, runs=10, seed=11, progress=False).images, c) for c in range(10))
    assert worst <= 0.5
