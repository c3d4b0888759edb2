"""netdream.MLP: the compiled forward pass, encodings, file formats, input checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import netdream
from netdream import MLP, Encoding, _core, forward64

from conftest import NETJS, needs_netjs, random_mlp

HIDDEN = ["identity", "relu", "leaky_relu", "sigmoid", "tanh"]
OUTPUT = ["softmax", "sigmoid", "identity"]


# ------------------------------------------------------------ forward pass
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1),
       widths=st.lists(st.integers(1, 70), min_size=0, max_size=3),
       hidden=st.sampled_from(HIDDEN), output=st.sampled_from(OUTPUT),
       n=st.integers(1, 9), uint8=st.booleans(),
       low=st.sampled_from([0.0, -1.0, -0.5]), ink=st.sampled_from(["high", "low"]),
       order=st.sampled_from(["row", "column"]))
def test_forward_matches_float64_reference(seed, widths, hidden, output, n, uint8, low, ink, order):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 12))
    net = random_mlp(rng, [784, *widths, k], hidden, output, Encoding(low, 1.0, ink, order))
    if uint8:
        x = rng.integers(0, 256, size=(n, 28, 28)).astype(np.uint8)
        x[rng.random(x.shape) < 0.6] = 0  # sparse, like digits
    else:
        x = rng.random((n, 28, 28)).astype(np.float32)
        x[rng.random(x.shape) < 0.6] = 0.0
    ref = forward64(net, x)
    for isa in _core.available_isas():
        _core.set_isa(isa)
        try:
            got = net.predict_proba(x)
        finally:
            _core.set_isa(_core.available_isas()[0])
        assert got.shape == (n, k)
        if output == "identity":
            np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4, err_msg=isa)
        else:
            np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5, err_msg=isa)


def test_single_image_and_predict(seed_net, mnist_test):
    images, labels = mnist_test
    p1 = seed_net.predict_proba(images[0])
    assert p1.shape == (10,)
    np.testing.assert_array_equal(p1, seed_net.predict_proba(images[:1])[0])
    assert seed_net.predict(images[0]) == labels[0]
    # uint8 and float inputs agree
    pf = seed_net.predict_proba(images[:50].astype(np.float32) / 255)
    np.testing.assert_allclose(pf, seed_net.predict_proba(images[:50]), atol=1e-6)


def test_bit_identical_for_any_threads(seed_net, mnist_test):
    images = mnist_test[0][:2001]
    one = seed_net.predict_proba(images, threads=1)
    two = seed_net.predict_proba(images, threads=2)
    three = seed_net.predict_proba(images, threads=3)
    singles = np.stack([seed_net.predict_proba(im) for im in images[:37]])
    assert np.array_equal(one, two) and np.array_equal(one, three)
    assert np.array_equal(one[:37], singles)


def test_float32_c_contiguous_input_is_not_copied():
    net = random_mlp(np.random.default_rng(0), [784, 8, 3], "relu")
    x = np.random.default_rng(1).random((4, 784), dtype=np.float32)
    a = net.core.forward(x, 1, False)
    # a non-contiguous view gives the same result through a copy
    big = np.zeros((4, 1568), np.float32)
    big[:, ::2] = x
    b = net.core.forward(big[:, ::2], 1, False)
    np.testing.assert_array_equal(a, b)


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


def _netjs_text(w12, b2, w23, b3):
    def arr2(a):
        return "[\n" + ",\n".join("    [" + ", ".join(repr(float(v)) for v in row) + "]"
                                  for row in a) + "\n]"
    return (f"// test\nvar w12 = {arr2(w12)};\nvar bias2 = [{', '.join(map(str, b2))}];\n"
            f"var w23 = {arr2(w23)};\nvar bias3 = [{', '.join(map(str, b3))}];\nfunction nn() {{}}\n")


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


# --------------------------------------------------------- bad arguments
@pytest.fixture(scope="module")
def small_net():
    return random_mlp(np.random.default_rng(0), [784, 16, 10], "relu")


@pytest.mark.parametrize("images, exc, message", [
    (np.zeros((2, 27, 28)), ValueError, "shape"),
    (np.zeros((2, 784)), ValueError, "reshape"),
    (np.zeros((2, 2, 28, 28)), ValueError, "shape"),
    (np.full((1, 28, 28), np.nan), ValueError, "NaN"),
    (np.full((1, 28, 28), np.inf, np.float32), ValueError, "NaN or infinite"),
    (np.full((1, 28, 28), 2.0), ValueError, r"\[0, 1\]"),
    (np.full((1, 28, 28), -1, np.int64), ValueError, "0..255"),
    (np.zeros((1, 28, 28), bool), TypeError, "bool"),
    (np.zeros((1, 28, 28), complex), TypeError, "dtype"),
    (np.array([["a"] * 28] * 28), TypeError, "dtype"),
    ("digit.png", TypeError, "path"),
])
def test_bad_images_are_refused(small_net, images, exc, message):
    with pytest.raises(exc, match=message):
        small_net.predict_proba(images)


def test_int_images_in_range_are_accepted(small_net):
    x = np.random.default_rng(0).integers(0, 256, (3, 28, 28))
    np.testing.assert_array_equal(small_net.predict_proba(x), small_net.predict_proba(x.astype(np.uint8)))


@pytest.mark.parametrize("kwargs, exc, message", [
    (dict(weights=[np.zeros((5, 783))], biases=[np.zeros(5)]), ValueError, "784 pixels"),
    (dict(weights=[np.zeros((5, 784)), np.zeros((3, 4))], biases=[np.zeros(5), np.zeros(3)]),
     ValueError, "outputs of layer 0"),
    (dict(weights=[np.full((5, 784), np.nan)], biases=[np.zeros(5)]), ValueError, "NaN"),
    (dict(weights=[np.zeros((5, 784))], biases=[np.zeros(4)]), ValueError, r"biases\[0\]"),
    (dict(weights=[np.zeros((5, 784))], biases=[np.zeros(5)], output="relu"), ValueError, "output"),
    (dict(weights=[np.zeros((5, 784)), np.zeros((2, 5))], biases=[np.zeros(5), np.zeros(2)],
          hidden="swish"), ValueError, "swish"),
    (dict(weights=[], biases=[]), ValueError, "at least one"),
    (dict(weights=[np.array([["x"] * 784])], biases=[np.zeros(1)]), TypeError, "numeric"),
    (dict(weights=[np.zeros((5, 784))], biases=[np.zeros(5)], encoding="row"), TypeError, "Encoding"),
])
def test_bad_models_are_refused(kwargs, exc, message):
    with pytest.raises(exc, match=message):
        MLP(**kwargs)


def test_weights_too_large_for_float32():
    net = MLP([np.full((2, 784), 1e300)], [np.zeros(2)], output="identity")
    with pytest.raises(ValueError, match="float32"):
        net.predict_proba(np.zeros((28, 28)))


@pytest.mark.parametrize("args, message", [
    ((0.0, 0.0), "high > low"), ((0.0, float("nan")), "finite"),
])
def test_bad_encodings(args, message):
    with pytest.raises(ValueError, match=message):
        Encoding(*args)
    with pytest.raises(ValueError, match="ink"):
        Encoding(ink="dark")
    with pytest.raises(ValueError, match="order"):
        Encoding(order="diagonal")


def test_bad_threads(small_net):
    with pytest.raises(ValueError, match="threads"):
        small_net.predict_proba(np.zeros((28, 28)), threads=0)
    with pytest.raises(TypeError, match="threads"):
        small_net.predict_proba(np.zeros((28, 28)), threads=1.5)


def test_core_refuses_bad_arrays(small_net):
    with pytest.raises(ValueError, match="shape"):
        small_net.core.forward(np.zeros((2, 783), np.float32), 1, False)
    with pytest.raises(TypeError):
        small_net.core.forward(np.zeros((2, 784), np.int16), 1, False)


def test_repr_and_html(small_net):
    assert "784-16-10" in repr(small_net)
    assert "<table>" in small_net._repr_html_()
