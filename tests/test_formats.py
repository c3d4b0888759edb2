"""netdream.formats: the .npz format and the seed's net.js."""

from __future__ import annotations

import numpy as np
import pytest

import netdream
from netdream import MLP, Encoding

from conftest import NETJS, needs_netjs, random_mlp


def _netjs_text(w12, b2, w23, b3):
    def arr2(a):
        return "[\n" + ",\n".join("    [" + ", ".join(repr(float(v)) for v in row) + "]"
                                  for row in a) + "\n]"
    return (f"// test\nvar w12 = {arr2(w12)};\nvar bias2 = [{', '.join(map(str, b2))}];\n"
            f"var w23 = {arr2(w23)};\nvar bias3 = [{', '.join(map(str, b3))}];\nfunction nn() {{}}\n")


# ----------------------------------------------------------------- the seed
@needs_netjs
def test_seed_net_scores_published_9808(seed_net, mnist_test):
    result = netdream.evaluate(seed_net, *mnist_test)
    assert (result.correct, result.total) == (9808, 10000)
    assert str(result) == "accuracy: 9808/10000 (98.08%)"
    assert result.confusion.sum() == 10000
    assert np.trace(result.confusion) == 9808



@needs_netjs
def test_seed_net_structure(seed_net):
    assert seed_net.sizes == [784, 200, 10]
    assert seed_net.activations == ["sigmoid", "softmax"]
    enc = seed_net.encoding
    assert (enc.low, enc.high, enc.ink, enc.order) == (-1.0, 1.0, "high", "column")



@needs_netjs
def test_seed_net_background_convention_matters(seed_net, mnist_test):
    """The file's comment says background is +1; that scores 32/10,000."""
    wrong = MLP(seed_net.weights, seed_net.biases, "sigmoid", "softmax",
                encoding=Encoding(-1.0, 1.0, ink="low", order="column"))
    assert netdream.evaluate(wrong, *mnist_test).correct < 100



# ---------------------------------------------------------------- file I/O
def test_npz_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    net = random_mlp(rng, [784, 20, 7, 4], ["tanh", "leaky_relu"], "sigmoid",
                     Encoding(-1.0, 2.0, "low", "column"))
    net.metadata["name"] = "round trip"
    path = tmp_path / "m.npz"
    net.save(path)
    back = MLP.load(path)
    assert back.sizes == net.sizes and back.activations == net.activations
    assert back.encoding == net.encoding and back.metadata["name"] == "round trip"
    x = rng.integers(0, 256, (5, 28, 28)).astype(np.uint8)
    np.testing.assert_allclose(back.predict_proba(x), net.predict_proba(x), atol=1e-6)
    with np.load(path, allow_pickle=False) as data:  # no pickles inside
        assert str(data["format"]) == "netdream-mlp"



def test_npz_refuses_other_and_broken_files(tmp_path):
    p = tmp_path / "other.npz"
    np.savez(p, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a netdream model"):
        MLP.load(p)
    good = tmp_path / "good.npz"
    random_mlp(np.random.default_rng(0), [784, 5, 3], "relu").save(good)
    raw = good.read_bytes()
    trunc = tmp_path / "trunc.npz"
    trunc.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError):
        MLP.load(trunc)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"this is not a zip file")
    with pytest.raises(ValueError, match="not a valid .npz"):
        MLP.load(junk)
    with pytest.raises(FileNotFoundError):
        MLP.load(tmp_path / "missing.npz")
    # an object array would need a pickle: refused
    obj = tmp_path / "obj.npz"
    np.savez(obj, format=np.array("netdream-mlp"), version=np.array(1),
             n_layers=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError):
        MLP.load(obj)



def test_netjs_parser_on_generated_file(tmp_path):
    rng = np.random.default_rng(5)
    w12, b2 = rng.normal(size=(6, 784)), rng.normal(size=6)
    w23, b3 = rng.normal(size=(10, 6)), rng.normal(size=10)
    p = tmp_path / "net.js"
    p.write_text(_netjs_text(w12, b2, w23, b3))
    net = MLP.load(p)
    np.testing.assert_array_equal(net.weights[0], w12)
    np.testing.assert_array_equal(net.biases[1], b3)



@pytest.mark.parametrize("mutate, message", [
    (lambda t: t[: len(t) // 2], "not closed|no array"),
    (lambda t: t.replace("var bias3", "var bias4"), "bias3"),
    (lambda t: t.replace("0.5", "alert(1)", 1), "not a number"),
    (lambda t: t.replace("], [", "], [1, ", 1) if "], [" in t else t.replace("],\n    [", "],\n    [1, ", 1),
     "different"),
    (lambda t: t.replace("var bias2 = [", "var bias2 = [1e999, "), "inf|values"),
    (lambda t: t.replace("var w12 = [", "var w12 = [[[0]], "), "nested"),
])
def test_broken_netjs_raises(tmp_path, mutate, message):
    rng = np.random.default_rng(6)
    w12 = rng.normal(size=(3, 784)).round(3)
    w12[0, 0] = 0.5
    text = _netjs_text(w12, [0.1, 0.2, 0.3], rng.normal(size=(10, 3)), np.zeros(10))
    p = tmp_path / "bad.js"
    p.write_text(mutate(text))
    with pytest.raises(ValueError, match=message):
        MLP.load(p)



def test_binary_garbage_netjs(tmp_path):
    p = tmp_path / "net.js"
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError):
        MLP.load(p)
