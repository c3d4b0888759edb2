"""input_gradient, gradient_ascent, morph, transfer."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import netdream

from conftest import random_mlp
from reference import score64

HIDDEN = ["identity", "relu", "leaky_relu", "sigmoid", "tanh"]


def _objective(net, x, t, objective):
    """The maximised score, in float64 NumPy."""
    return score64(net, x, t, objective)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), depth=st.integers(0, 3), hidden=st.sampled_from(HIDDEN),
       output=st.sampled_from(["softmax", "sigmoid", "identity"]),
       objective=st.sampled_from(["logprob", "prob", "margin", "logit"]),
       low=st.sampled_from([0.0, -1.0]), order=st.sampled_from(["row", "column"]),
       ink=st.sampled_from(["high", "low"]))
def test_gradient_matches_finite_differences(seed, depth, hidden, output, objective, low, order, ink):
    rng = np.random.default_rng(seed)
    widths = [int(w) for w in rng.integers(3, 30, size=depth)]
    net = random_mlp(rng, [784, *widths, 4], hidden, output,
                     netdream.Encoding(low, 1.0, ink, order), scale=2.0)
    x = rng.uniform(0.05, 0.95, size=(28, 28))
    t = int(rng.integers(4))
    g = netdream.input_gradient(net, x, t, objective)
    assert g.shape == (28, 28)
    eps = 1e-6
    for _ in range(6):
        r, c = (int(v) for v in rng.integers(0, 28, 2))
        up, down = x.copy(), x.copy()
        up[r, c] += eps
        down[r, c] -= eps
        fd = (_objective(net, up[None], t, objective)[0]
              - _objective(net, down[None], t, objective)[0]) / (2 * eps)
        assert g[r, c] == pytest.approx(fd, rel=1e-4, abs=1e-6)


def test_gradient_batch_and_targets(seed_net, mnist_test):
    x = mnist_test[0][:5]
    g = netdream.input_gradient(seed_net, x, [0, 1, 2, 3, 4])
    for i in range(5):
        np.testing.assert_allclose(g[i], netdream.input_gradient(seed_net, x[i], i), rtol=1e-12)
    with pytest.raises(ValueError, match="target"):
        netdream.input_gradient(seed_net, x, [0, 1])
    with pytest.raises(ValueError, match="0..9"):
        netdream.input_gradient(seed_net, x, 10)
    with pytest.raises(ValueError, match="objective"):
        netdream.input_gradient(seed_net, x, 1, objective="loss")


@pytest.mark.parametrize("normalize", [True, False])
def test_gradient_ascent_reaches_the_class(default_net, normalize):
    # (the shipped model is adversarially trained and underconfident: more
    # steps than a standard model needs, and 98% rather than 99%)
    r = netdream.gradient_ascent(default_net, 5, steps=1000, runs=2, start="noise",
                                 step_size=0.1 if normalize else 0.05, normalize=normalize,
                                 record_every=250, progress=False)
    assert r.confidence.min() > 0.98
    assert r.images.min() >= 0 and r.images.max() <= 1
    assert r.trajectory.images.shape == (2, 5, 28, 28)
    assert np.all(np.diff(r.trajectory.scores, axis=1) > -1e-6)


def test_gradient_ascent_with_regulariser(default_net):
    plain = netdream.gradient_ascent(default_net, 2, steps=200, step_size=0.1, progress=False)
    smooth = netdream.regularizers.smoothness(20.0)
    reg = netdream.gradient_ascent(default_net, 2, steps=200, step_size=0.1, regularizer=smooth,
                                   progress=False)
    s = netdream.regularizers.smoothness(1.0)
    assert s.value(reg.images[0]) < s.value(plain.images[0])


def test_regulariser_gradient_is_exact_for_quadratics():
    img = np.random.default_rng(0).random((28, 28))
    s = netdream.regularizers.smoothness(1.0)
    g = s.gradient(img)
    i = 300
    up = img.copy()
    up.flat[i] += 1e-4
    assert g.flat[i] == pytest.approx((s.value(up) - s.value(img)) / 1e-4, rel=1e-3)


@pytest.mark.parametrize("method", ["gradient", "hill"])
def test_morph_a_seven_into_a_three(seed_net, mnist_test, method):
    images, labels = mnist_test
    sevens = images[labels == 7][:3]
    r = netdream.morph(seed_net, sevens, 3, method=method, steps=3000, progress=False)
    assert r.reached.all()
    assert r.confidence.min() >= 0.9
    np.testing.assert_array_equal(seed_net.predict(r.images), 3)
    diff = r.images.astype(np.float64) - sevens / 255
    np.testing.assert_allclose(r.l2, np.sqrt((diff ** 2).sum(axis=(1, 2))), rtol=1e-6)
    np.testing.assert_allclose(r.linf, np.abs(diff).max(axis=(1, 2)), rtol=1e-6)
    assert np.all(r.changed <= 784) and np.all(r.changed > 0)
    # a small change: far from turning the image into another digit entirely
    assert r.l2.max() < 6.0


def test_morph_arguments(seed_net, mnist_test):
    with pytest.raises(ValueError, match="method"):
        netdream.morph(seed_net, mnist_test[0][0], 3, method="magic")
    with pytest.raises(ValueError, match="confidence"):
        netdream.morph(seed_net, mnist_test[0][0], 3, confidence=1.5)


def test_transfer_of_fooling_images(seed_net, default_net):
    fool = netdream.evolve(seed_net, "all", steps=200, stop_at=0.9999, progress=False)
    mine = netdream.transfer(seed_net, fool)
    assert mine.rate == 1.0
    other = netdream.transfer(default_net, fool)
    assert other.predicted.shape == (10,)
    assert 0.0 <= other.rate <= 1.0
    assert "still fool" in str(other)
    with pytest.raises(ValueError, match="target"):
        netdream.transfer(default_net, np.zeros((2, 28, 28)))


def test_gradient_ascent_without_clamp_returns_what_it_made(default_net):
    r = netdream.gradient_ascent(default_net, 5, steps=100, start="noise", step_size=0.5,
                                 clamp=False, progress=False)
    assert r.images.min() < 0 or r.images.max() > 1  # it left [0, 1], as asked
    # confidence of the images as they are (no silent clipping)
    x = r.images.reshape(1, -1).astype(np.float32)
    np.testing.assert_allclose(r.confidence, default_net.core.forward(x, 1, False)[:, 5],
                               rtol=1e-6)
    assert r.average().shape == (28, 28)


def test_hidden_unit_gradient(default_net):
    x = np.random.default_rng(0).random((28, 28))
    g = netdream.input_gradient(default_net, x, ("hidden", 0, 7))
    w, _ = default_net.public_first_layer()
    pre = w[7] @ x.ravel()
    np.testing.assert_allclose(g.ravel(), w[7], rtol=1e-12)  # the pre-activation is linear
    assert np.isfinite(pre)


def test_transfer_takes_the_network_first_and_warns_on_the_old_order(default_net):
    images = np.zeros((2, 28, 28))
    new = netdream.transfer(default_net, images, 3)
    with pytest.warns(DeprecationWarning, match="network first"):
        old = netdream.transfer(images, default_net, 3)
    np.testing.assert_array_equal(new.predicted, old.predicted)


def test_gradient_ascent_runs_split_over_calls_equal_one_call(default_net):
    kw = dict(steps=20, start="noise", seed=4, progress=False)
    whole = netdream.gradient_ascent(default_net, 2, runs=4, **kw)
    parts = [netdream.gradient_ascent(default_net, 2, runs=2, first_run=a, **kw) for a in (0, 2)]
    np.testing.assert_array_equal(np.concatenate([p.images for p in parts]), whole.images)
