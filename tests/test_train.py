"""netdream.train: training with scikit-learn and shift augmentation."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import netdream
from netdream import MLP, Encoding
from netdream.train import shift_images, train

sklearn = pytest.importorskip("sklearn")
from conftest import bars, fit_quietly  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
DEFAULT_MODEL = Path(netdream.__file__).parent / "data" / "default.npz"
needs_data = pytest.mark.skipif(
    not (DATA / "t10k-images-idx3-ubyte.gz").is_file(),
    reason=f"MNIST files not found in {DATA} (they live beside the project, not in it)")


def _mnist(split):
    from netdream.datasets import load_mnist
    return load_mnist(split, root=DATA)


# ------------------------------------------------------------------ shifting
def _centre_of_mass(img):
    img = img.astype(np.float64)
    r, c = np.indices(img.shape)
    return np.array([(r * img).sum(), (c * img).sum()]) / img.sum()


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), dy=st.integers(-3, 3), dx=st.integers(-3, 3),
       dtype=st.sampled_from([np.uint8, np.float32, np.float64]))
def test_shift_moves_centre_of_mass_by_the_shift(seed, dy, dx, dtype):
    rng = np.random.default_rng(seed)
    img = np.zeros((28, 28))
    img[3:25, 3:25] = rng.random((22, 22)) * (rng.random((22, 22)) < 0.3)  # ink away from the border
    img[10, 10] = 1.0  # never blank
    img = (img * 255).astype(np.uint8) if dtype == np.uint8 else img.astype(dtype)
    out = shift_images(img[None], np.array([dy, dx]))
    assert out.shape == (1, 28, 28) and out.dtype == img.dtype
    np.testing.assert_allclose(_centre_of_mass(out[0]) - _centre_of_mass(img), [dy, dx], atol=1e-9)
    np.testing.assert_array_equal(np.sort(out, axis=None), np.sort(img, axis=None))  # nothing lost


def test_shift_per_image_and_zero_fill():
    x = np.arange(3 * 28 * 28, dtype=np.uint16).reshape(3, 28, 28) % 250 + 1
    shifts = np.array([[0, 0], [2, -1], [-28, 0]])
    out = shift_images(x, shifts)
    assert out.shape == x.shape and out.dtype == x.dtype
    np.testing.assert_array_equal(out[0], x[0])
    np.testing.assert_array_equal(out[1, 2:, :27], x[1, :26, 1:])  # content moved down 2, left 1
    assert not out[1, :2].any() and not out[1, :, 27].any()        # vacated pixels are zero
    assert not out[2].any()                                        # shifted out of the frame
    assert shift_images(x[:0], np.zeros((0, 2), int)).shape == (0, 28, 28)


def test_shift_validation():
    x = np.zeros((2, 28, 28), np.uint8)
    with pytest.raises(TypeError, match="shifts must be integers"):
        shift_images(x, np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"shifts must have shape \(2, 2\) or \(2,\)"):
        shift_images(x, np.zeros((3, 2), int))
    with pytest.raises(ValueError, match=r"images must have shape \(N, H, W\)"):
        shift_images(x[0], np.zeros(2, int))


# ------------------------------------------------------------------ training
def test_train_synthetic_learns_and_is_an_mlp():
    x, y = bars(400)
    net = train(x, y, hidden=(16,), epochs=3, augment=1, learning_rate=3e-3, progress=False)
    assert isinstance(net, MLP)
    assert net.sizes == [784, 16, 3] and net.activations == ["relu", "softmax"]
    assert net.encoding == Encoding()
    xt, yt = bars(200, seed=1)
    assert netdream.evaluate(net, xt, yt).accuracy > 0.9
    t = net.metadata["training"]
    assert t["epochs_completed"] == 3 and not t["interrupted"] and t["seed"] == 0
    assert len(json_roundtrip(net.metadata)) > 0


def json_roundtrip(meta):
    import json
    return json.loads(json.dumps(meta))


def test_train_float_images_match_uint8():
    x, y = bars(200)
    a = train(x, y, hidden=(8,), epochs=2, augment=1, progress=False)
    b = train(x.astype(np.float32) / 255, y, hidden=(8,), epochs=2, augment=1, progress=False)
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(wa, wb)


def test_train_is_deterministic_for_a_seed():
    x, y = bars(300)
    kw = dict(hidden=(12,), epochs=2, augment=2, progress=False)
    a, b = train(x, y, seed=5, **kw), train(x, y, seed=5, **kw)
    c = train(x, y, seed=6, **kw)
    for wa, wb in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(a.weights[0], c.weights[0])


@needs_data
def test_quick_train_on_real_digits_beats_chance_by_far():
    x, y = _mnist("train10k")
    xt, yt = _mnist("test")
    net = train(x[:1000], y[:1000], hidden=(64,), epochs=3, augment=1, batch_size=32,
                learning_rate=3e-3, progress=False, validation=(xt[:500], yt[:500]))
    assert net.n_classes == 10
    assert netdream.evaluate(net, xt[:2000], yt[:2000]).accuracy > 0.8  # chance: 0.1
    assert len(net.metadata["training"]["validation_accuracy"]) == 3


def test_train_keeps_the_model_on_ctrl_c(monkeypatch):
    x, y = bars(600)
    calls = {"n": 0}
    original = MLPClassifier._backprop

    def interrupting(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 8:  # inside the first epoch's partial_fit (5 batches per epoch)
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(MLPClassifier, "_backprop", interrupting)
    net = train(x, y, hidden=(8,), epochs=5, augment=0, progress=False)
    t = net.metadata["training"]
    assert t["interrupted"] and t["epochs_completed"] == 1
    assert calls["n"] == 8  # no further training after Ctrl-C


def test_train_ctrl_c_before_any_step_propagates(monkeypatch):
    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("netdream.train.shift_images", boom)
    x, y = bars(50)
    with pytest.raises(KeyboardInterrupt):
        train(x, y, hidden=(4,), epochs=1, progress=False)


def test_train_without_sklearn_says_how_to_install(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "sklearn.neural_network", None)
    x, y = bars(20)
    with pytest.raises(ImportError, match=r"pip install netdream\[train\]"):
        train(x, y, progress=False)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(epochs=0), ValueError, "epochs must be >= 1"),
    (dict(epochs=1.5), TypeError, "epochs must be an integer"),
    (dict(batch_size=0), ValueError, "batch_size must be >= 1"),
    (dict(learning_rate=0.0), ValueError, "learning_rate must be > 0"),
    (dict(learning_rate=float("nan")), ValueError, "learning_rate must be > 0 and finite"),
    (dict(alpha=-1.0), ValueError, "alpha must be >= 0"),
    (dict(augment=-1), ValueError, "augment must be >= 0"),
    (dict(max_shift=-1), ValueError, "max_shift must be >= 0"),
    (dict(seed=-1), ValueError, "seed must be >= 0"),
    (dict(seed=2**32), ValueError, r"seed must be < 2\*\*32"),
    (dict(hidden=()), TypeError, "hidden must be a non-empty tuple"),
    (dict(hidden=(0,)), ValueError, "hidden layer width must be >= 1"),
    (dict(activation="softplus"), ValueError, "activation must be one of"),
    (dict(activation=3), TypeError, "activation must be a string"),
    (dict(validation=np.zeros((2, 28, 28))), TypeError, "validation must be None or a pair"),
])
def test_train_validation(kwargs, exc, match):
    x, y = bars(20)
    with pytest.raises(exc, match=match):
        train(x, y, progress=False, **kwargs)


def test_train_data_validation():
    x, y = bars(20)
    with pytest.raises(ValueError, match=r"labels must have shape \(20,\)"):
        train(x, y[:5], progress=False)
    with pytest.raises(TypeError, match="labels must be integers"):
        train(x, y.astype(float), progress=False)
    with pytest.raises(ValueError, match="labels must be >= 0"):
        train(x, y - 1, progress=False)
    with pytest.raises(ValueError, match="at least two classes"):
        train(x, np.zeros(20, int), progress=False)
    with pytest.raises(ValueError, match=r"images must have shape"):
        train(x[:, :27], y, progress=False)
    with pytest.raises(ValueError, match="float pixels must lie in"):
        train(x.astype(float), y, progress=False)


# --------------------------------------------------------------------------
# PyTorch training: CNNs, and adversarially trained MLPs (the shipped default)
# --------------------------------------------------------------------------

@needs_data
@pytest.mark.slow
def test_adversarial_training_makes_a_robust_mlp():
    """channels=() trains an MLP; adversarial=2 makes it robust: an L2
    attack of radius 1 made with netdream's own input gradient flips far
    fewer test digits than on the same MLP trained without it."""
    pytest.importorskip("torch", reason="train_cnn needs PyTorch")
    from netdream.datasets import load_mnist
    from netdream.train import train_cnn
    x, y = load_mnist("train10k", root=DATA, progress=False)
    xt, yt = load_mnist("test", root=DATA, progress=False)
    kw = dict(channels=(), dense=(64,), epochs=8, batch_size=128, learning_rate=2e-3,
              weight_decay=0.0, dropout=0.0, max_shift=0, max_rotation=0.0, seed=0,
              threads=1, progress=False)
    plain = train_cnn(x[:4000], y[:4000], **kw)
    robust = train_cnn(x[:4000], y[:4000], adversarial=2.0, adversarial_steps=5, **kw)
    assert isinstance(robust, MLP) and robust.weights[0].shape == (64, 784)
    assert "L2 PGD, radius 2" in robust.metadata["training"]["adversarial"]
    assert "adversarial" not in plain.metadata["training"]

    def flipped(net):
        im = xt[:300] / 255.0
        moved = im.copy()
        for _ in range(5):  # 5 steps of L2 length 0.3 down the class's log-probability
            g = netdream.input_gradient(net, moved, yt[:300], objective="logprob")
            g = g / (np.linalg.norm(g.reshape(300, -1), axis=1)[:, None, None] + 1e-12)
            moved = np.clip(moved - 0.3 * g, 0, 1)
        before = np.asarray(net.predict_proba(im)).argmax(1) == yt[:300]
        after = np.asarray(net.predict_proba(moved)).argmax(1) == yt[:300]
        return np.mean(before & ~after)

    assert np.mean(np.asarray(robust.predict_proba(xt[:1000])).argmax(1) == yt[:1000]) > 0.8  # 8 epochs on 4,000 images
    assert flipped(robust) < 0.7 * flipped(plain)  # measured: 0.31 against 0.59
    with pytest.raises(ValueError, match="adversarial"):
        train_cnn(x[:10], y[:10], adversarial=-1.0, **kw)


def test_temperature_fit_and_scaling():
    """with_temperature(net, t) divides the logits by t and keeps every
    decision; fit_temperature then finds the fitted temperature divided by t."""
    from netdream.train import fit_temperature, with_temperature
    rng = np.random.default_rng(0)
    x = rng.random((2000, 28, 28)) * 0.3
    net = netdream.pretrained("mlp-standard")
    # labels drawn from the model's own probabilities: it is calibrated on
    # them by construction (T about 1)
    p = np.asarray(net.predict_proba(x), dtype=np.float64)
    y = np.array([rng.choice(10, p=q / q.sum()) for q in p])
    t0 = fit_temperature(net, x, y)
    assert 0.8 < t0 < 1.25
    hot = with_temperature(net, 0.5)
    np.testing.assert_allclose(hot.logits(x[:5]) * 0.5, net.logits(x[:5]), rtol=1e-5, atol=1e-5)
    assert np.array_equal(hot.predict(x), net.predict(x)) and hot.metadata["temperature"] == 0.5
    assert fit_temperature(hot, x, y) == pytest.approx(t0 / 0.5, abs=0.03)
    with pytest.raises(ValueError, match="temperature"):
        with_temperature(net, 0.0)
    with pytest.raises(ValueError, match="labels"):
        fit_temperature(net, x, y[:5])
