"""netdream.evaluation: accuracy and the confusion matrix."""

from __future__ import annotations

import numpy as np
import pytest

import netdream

from conftest import random_mlp


def test_evaluate_confusion_and_checks():
    rng = np.random.default_rng(2)
    net = random_mlp(rng, [784, 10, 3], "relu")
    x = rng.integers(0, 256, (50, 28, 28)).astype(np.uint8)
    pred = net.predict(x)
    r = netdream.evaluate(net, x, pred)
    assert r.correct == 50 and r.accuracy == 1.0
    assert r.confusion.sum() == 50
    assert "<table>" in r._repr_html_()
    with pytest.raises(ValueError, match="shape"):
        netdream.evaluate(net, x, pred[:-1])
    with pytest.raises(ValueError, match="0..2"):
        netdream.evaluate(net, x, np.full(50, 3))
    with pytest.raises(TypeError, match="integers"):
        netdream.evaluate(net, x, pred.astype(float))
    with pytest.raises(TypeError, match="MLP"):
        netdream.evaluate("net", x, pred)
