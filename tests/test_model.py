"""netdream.model: the MLP, its compiled forward pass, encodings, input checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import netdream
from netdream import MLP, Encoding, _core, forward64

from conftest import DEFAULT_MODEL, mnist, needs_mnist, random_mlp
from reference import layers64

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
    xf = x.astype(np.float64) / (255.0 if uint8 else 1.0)
    ref = layers64(net, xf)[1][-1]  # plain NumPy float64
    # the core's own float64 pass (netdream.forward64) is a reference too
    np.testing.assert_allclose(forward64(net, x), ref, rtol=1e-10, atol=1e-12)
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


# ------------------------------------------------------------- default model
def test_default_model_ships_with_a_model_card():
    assert DEFAULT_MODEL.is_file(), "python/netdream/data/default.npz is missing"
    assert (DEFAULT_MODEL.parent / "MODEL_CARD.md").is_file()
    net = MLP.load(DEFAULT_MODEL)
    assert net.sizes[0] == 784 and net.n_classes == 10
    meta = net.metadata
    assert meta["command"].startswith("netdream train ")
    assert meta["test_accuracy"]["total"] == 10000


@needs_mnist
def test_default_model_scores_at_least_97_percent():
    xt, yt = mnist("test")
    net = MLP.load(DEFAULT_MODEL)
    res = netdream.evaluate(net, xt, yt)
    assert res.accuracy >= 0.97, str(res)
    assert res.correct == net.metadata["test_accuracy"]["correct"]  # the card tells the truth


# ------------------------------------------------------- resources, errors
def test_outputs_that_overflow_float32_are_an_error_not_class_0():
    rng = np.random.default_rng(0)
    net = MLP([rng.normal(0, 1e19, (16, 784)), rng.normal(0, 1e19, (10, 16))],
              [np.zeros(16), np.zeros(10)], hidden="relu")
    x = rng.random((3, 28, 28))
    with pytest.raises(ValueError, match="overflows float32"):
        net.predict(x)
    with pytest.raises(ValueError, match="NaN or infinite"):
        net.predict_proba(x)


def test_an_empty_batch_gives_an_empty_result(small_net):
    for dtype in (np.uint8, np.float32):
        empty = np.zeros((0, 28, 28), dtype)
        assert small_net.predict_proba(empty).shape == (0, small_net.n_classes)
        assert small_net.predict(empty).shape == (0,)
        assert small_net.logits(empty).shape == (0, small_net.n_classes)


@pytest.mark.parametrize("shape, exc, message", [
    ((-28, -28), ValueError, "1..4096"),
    ((28, 28, 1), ValueError, "pair"),
    ((), ValueError, "pair"),
    ((28.0, 28), TypeError, "integers"),
    (None, TypeError, "pair"),
])
def test_image_shape_is_checked(shape, exc, message):
    with pytest.raises(exc, match=message):
        MLP([np.zeros((3, 784)), np.zeros((2, 3))], [np.zeros(3), np.zeros(2)],
            image_shape=shape)


def test_core_initialisation_is_thread_safe():
    """Several threads asking for the kernels and a new model's core at once
    all get the same, working result."""
    import threading
    rng = np.random.default_rng(1)
    net = random_mlp(rng, [784, 32, 10], "relu")
    x = rng.random((64, 28, 28)).astype(np.float32)
    results, errors = [], []

    def work():
        try:
            results.append(net.predict_proba(x, threads=2))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


def test_nan_inside_the_net_is_not_squashed_into_a_number():
    """A NaN in a hidden layer (inf - inf after a float32 overflow) must reach
    the output and be reported, not be clamped into a finite activation."""
    w0 = np.full((2, 784), 1e36)                       # relu units overflow to +inf
    w1 = np.array([[1.0, -1.0]] * 4)                   # inf - inf = NaN
    w2 = np.ones((3, 4))
    net = MLP([w0, w1, w2], [np.zeros(2), np.zeros(4), np.zeros(3)],
              hidden=["relu", "sigmoid"])
    for isa in _core.available_isas():
        _core.set_isa(isa)
        try:
            with pytest.raises(ValueError, match="NaN or infinite"):
                net.predict_proba(np.ones((1, 28, 28), np.float32))
        finally:
            _core.set_isa(_core.available_isas()[0])


@pytest.mark.parametrize("uint8", [False, True])
def test_a_row_does_not_depend_on_its_batch(seed_net, mnist_test, uint8):
    """Dense blocks go through a GEMM, sparse ones through sums over their
    nonzero pixels: the arithmetic is the same, so an image's output is
    bit-identical alone, among digits, or among noise images, on every
    instruction set and for any thread count."""
    digits = mnist_test[0][:7]
    noise = (np.random.default_rng(0).random((300, 28, 28)) * 255).astype(np.uint8)
    if not uint8:
        digits, noise = digits.astype(np.float32) / 255, noise.astype(np.float32) / 255
    for isa in _core.available_isas():
        _core.set_isa(isa)
        try:
            alone = np.stack([seed_net.predict_proba(d) for d in digits])
            among_digits = seed_net.predict_proba(digits, threads=1)
            mixed = seed_net.predict_proba(np.concatenate([noise[:150], digits, noise[150:]]),
                                           threads=3)
            assert np.array_equal(alone, among_digits), isa
            assert np.array_equal(alone, mixed[150:157]), isa
        finally:
            _core.set_isa(_core.available_isas()[0])


def test_a_model_pickles_as_its_arrays_and_rebuilds_its_core():
    """For Dask and multiprocessing: the compiled core is not pickled but
    rebuilt where the model is unpickled, giving the same outputs."""
    import pickle
    net = netdream.MLP.pretrained()
    x = np.random.default_rng(0).random((3, 28, 28))
    p = net.predict_proba(x)  # the core is built
    copy = pickle.loads(pickle.dumps(net))
    assert copy._core_net is None and net._core_net is not None
    np.testing.assert_array_equal(copy.predict_proba(x), p)
    assert copy.class_names == net.class_names and copy.encoding == net.encoding
