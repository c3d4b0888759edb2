"""netdream.inside: receptive fields and focus, activation comparison,
distinctive neurons, weight images, misclassified galleries."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import netdream
from netdream import Encoding
from netdream.inside import (ActivationComparison, DistinctiveNeurons, Misclassified,
                             ReceptiveFields, compare_activations, distinctive_neurons,
                             misclassified, receptive_fields, save_misclassified, weight_images)

from conftest import random_mlp


def net_with_fields(fields, encoding=None, n_out=3):
    """A 784-H-n_out net whose layer-0 fields (in image orientation, sign
    relative to ink) are ``fields`` (H, 28, 28), whatever the encoding."""
    enc = encoding or Encoding()
    h = len(fields)
    w0 = np.empty((h, 784))
    # public_first_layer: W_pub = scale * W0[:, perm]; the field is sign(scale) * W0 in image order
    w0[:, enc.permutation((28, 28))] = np.sign(enc.scale) * fields.reshape(h, -1)
    w1 = np.ones((n_out, h))
    return netdream.MLP([w0, w1], [np.zeros(h), np.zeros(n_out)], "relu", encoding=enc)


def blob(r, c, size=3, value=1.0):
    img = np.zeros((28, 28))
    img[r:r + size, c:c + size] = value
    return img


# ---------------------------------------------------------------- receptive fields

@pytest.mark.parametrize("enc", [Encoding(), Encoding(-1, 1, "high", "column"),
                                 Encoding(0, 1, "low", "row"), Encoding(-1, 1, "low", "column")])
def test_layer0_fields_are_the_weights_in_image_orientation_with_ink_sign(enc):
    rng = np.random.default_rng(0)
    fields = rng.normal(size=(4, 28, 28))
    fields[0] = 0
    fields[0, 3, 20] = 2.0  # one asymmetric pixel: row 3, column 20
    net = net_with_fields(fields, enc)
    rf = receptive_fields(net)
    assert isinstance(rf, ReceptiveFields)
    assert rf.images.shape == (4, 28, 28) and rf.images.dtype == np.float64
    np.testing.assert_array_equal(rf.images, fields)
    # agrees with the ink gradient of the folded first layer (not rescaled by the span)
    w_pub, _ = net.public_first_layer()
    np.testing.assert_allclose(rf.images.reshape(4, -1), w_pub / abs(enc.scale), rtol=1e-12)


def test_deeper_layers_are_the_linear_path_sum():
    rng = np.random.default_rng(1)
    net = random_mlp(rng, [784, 9, 6, 4], ["relu", "tanh"], encoding=Encoding(-1, 1, "low", "column"))
    w0, w1, w2 = net.weights
    rf1 = receptive_fields(net, 1)
    expected = -(w1 @ w0)  # ink low: sign flipped
    expected = np.swapaxes(expected.reshape(6, 28, 28), 1, 2)  # column-major inputs
    np.testing.assert_allclose(rf1.images, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(receptive_fields(net, 2).images, netdream.causal_index(net),
                               rtol=1e-12, atol=1e-15)


def test_no_hidden_layer_fields_and_weight_images():
    rng = np.random.default_rng(2)
    w = rng.normal(size=(10, 784))
    net = netdream.MLP([w], [np.zeros(10)], encoding=Encoding(0, 1, "low", "row"))
    np.testing.assert_array_equal(weight_images(net), -w.reshape(10, 28, 28))
    np.testing.assert_array_equal(receptive_fields(net).images, weight_images(net))
    with pytest.raises(ValueError, match="1 hidden layer; weight_images needs"):
        weight_images(random_mlp(rng, [784, 5, 3], "relu"))


def test_focus_ranks_blob_above_two_blobs_above_uniform():
    fields = np.stack([
        np.full((28, 28), 0.3),                    # 0: spread evenly
        blob(2, 2, 4) + blob(20, 21, 4),           # 1: two distant blobs
        blob(12, 9, 5, -2.0),                      # 2: one (inhibitory) blob
        np.zeros((28, 28)),                        # 3: no weight at all
        blob(5, 5, 9),                             # 4: a blob larger than the window
    ])
    rf = receptive_fields(net_with_fields(fields, Encoding(-1, 1, "high", "column")))
    assert rf.focus[0] == pytest.approx(49 / 784)
    assert rf.focus[1] == pytest.approx(0.5)
    assert rf.focus[2] == pytest.approx(1.0)
    assert rf.focus[3] == 0.0
    assert rf.focus[4] == pytest.approx(49 / 81)
    assert rf.most_focused().tolist() == [2, 4, 1, 0, 3]
    assert rf.most_focused(2).tolist() == [2, 4]
    assert np.all((rf.focus >= 0) & (rf.focus <= 1))
    # the best window covers the single blob
    r, c = rf.window_origin[2]
    assert r <= 12 and r + 7 >= 17 and c <= 9 and c + 7 >= 14


def test_focus_is_invariant_to_translation_scale_and_sign():
    rng = np.random.default_rng(3)
    patch = rng.uniform(-1, 1, size=(6, 10))  # wider than the window: focus < 1
    fields = []
    for r, c in [(0, 0), (22, 18), (10, 7), (3, 17), (22, 0)]:
        f = np.zeros((28, 28))
        f[r:r + 6, c:c + 10] = patch
        fields.append(f)
    fields.append(-3.5 * fields[2])
    rf = receptive_fields(net_with_fields(np.stack(fields)), window=7)
    assert 0.4 < rf.focus[0] < 1.0
    np.testing.assert_allclose(rf.focus, rf.focus[0], rtol=1e-12)


def test_focus_window_parameter():
    rf = receptive_fields(net_with_fields(np.full((1, 28, 28), 1.0)), window=14)
    assert rf.window == 14 and rf.focus[0] == pytest.approx(0.25)
    assert receptive_fields(net_with_fields(np.full((1, 28, 28), 1.0)), window=28).focus[0] == \
        pytest.approx(1.0)


def test_receptive_fields_checks():
    net = random_mlp(np.random.default_rng(4), [784, 5, 3], "relu")
    with pytest.raises(TypeError, match="net must be a netdream.MLP"):
        receptive_fields("net")
    with pytest.raises(ValueError, match=r"layer must lie in 0..1"):
        receptive_fields(net, 2)
    with pytest.raises(ValueError, match="layer must be >= 0"):
        receptive_fields(net, -1)
    with pytest.raises(TypeError, match="layer must be an integer"):
        receptive_fields(net, 0.5)
    with pytest.raises(ValueError, match="window must be at most 28"):
        receptive_fields(net, window=29)
    with pytest.raises(ValueError, match="window must be >= 1"):
        receptive_fields(net, window=0)
    rf = receptive_fields(net)
    with pytest.raises(ValueError, match="n must be >= 0"):
        rf.most_focused(-1)
    with pytest.raises(ValueError, match="units must lie in 0..4"):
        rf.grid_image(units=[7])


def test_receptive_fields_png(seed_net):
    rf = receptive_fields(seed_net)
    assert rf.images.shape == (200, 28, 28)
    assert "ReceptiveFields(layer=0, units=200" in repr(rf)
    png = rf._repr_png_()
    assert png.startswith(b"\x89PNG")


# ---------------------------------------------------------------- activations

def test_compare_activations_any_depth():
    rng = np.random.default_rng(5)
    real = rng.integers(0, 256, (28, 28)).astype(np.uint8)
    ideal = rng.uniform(0, 1, (28, 28))
    for sizes, hidden in [([784, 3], []), ([784, 12, 4], "relu"), ([784, 8, 7, 5], ["tanh", "sigmoid"])]:
        net = random_mlp(rng, sizes, hidden)
        cmp = compare_activations(net, real, ideal, top=3)
        assert isinstance(cmp, ActivationComparison)
        assert len(cmp) == len(sizes) - 1
        expected = netdream.activations(net, np.stack([real / 255.0, ideal]))
        for l, c in enumerate(cmp):
            assert c.layer == l
            np.testing.assert_allclose(c.real, expected[l][0], rtol=1e-12)
            np.testing.assert_allclose(c.ideal, expected[l][1], rtol=1e-12)
            np.testing.assert_array_equal(c.difference, c.ideal - c.real)
            assert c.correlation == pytest.approx(np.corrcoef(c.real, c.ideal)[0, 1])
            assert c.most_different.tolist() == \
                np.argsort(-np.abs(c.difference), kind="stable")[:3].tolist()
        assert cmp[-1].real.size == sizes[-1]
        assert "<table>" in cmp._repr_html_() and "ActivationComparison(0: r=" in repr(cmp)


def test_compare_activations_constant_layer_and_checks():
    net = netdream.MLP([np.zeros((1, 784)), np.ones((2, 1))], [np.zeros(1), np.zeros(2)], "relu")
    cmp = compare_activations(net, np.zeros((28, 28)), np.ones((1, 28, 28)), top=10)
    assert np.isnan(cmp[0].correlation)  # a one-unit layer has no correlation, and no warning
    assert cmp[0].most_different.tolist() == [0]
    with pytest.raises(ValueError, match="ideal must be one image"):
        compare_activations(net, np.zeros((28, 28)), np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match="real must have shape"):
        compare_activations(net, np.zeros((27, 28)), np.zeros((28, 28)))
    with pytest.raises(ValueError, match="top must be >= 1"):
        compare_activations(net, np.zeros((28, 28)), np.zeros((28, 28)), top=0)


# ---------------------------------------------------------------- distinctive neurons

def class_patches(k):
    """A distinct 4x4 region per class, in a 5-wide grid of cells."""
    masks = np.zeros((k, 28, 28))
    for j in range(k):
        r, c = 2 + 5 * (j // 5), 2 + 5 * (j % 5)
        masks[j, r:r + 4, c:c + 4] = 1.0
    return masks


def labelled_images(rng, k, per_class):
    masks = class_patches(k)
    y = np.repeat(np.arange(k), per_class)
    x = rng.uniform(0, 0.2, size=(len(y), 28, 28))  # faint noise everywhere
    x[masks[y] > 0] = rng.uniform(0.6, 1.0, size=int(masks[y].sum()))
    return x, y


def test_distinctive_neurons_finds_the_unit_of_each_class():
    rng = np.random.default_rng(6)
    k, extra = 5, 4
    masks = class_patches(k)
    perm = rng.permutation(k + extra)  # unit perm[j] detects class j
    w0 = rng.normal(0, 0.05, size=(k + extra, 784))  # the extra units: weak noise
    w0[perm[:k]] = masks.reshape(k, -1)
    b0 = np.zeros(k + extra)
    b0[perm[:k]] = -16 * 0.3  # off unless its patch holds ink
    net = netdream.MLP([w0, rng.normal(size=(k, k + extra))], [b0, np.zeros(k)], "relu")
    x, y = labelled_images(rng, k, 20)
    a = netdream.activations(net, x)[0]
    for j in range(k):  # the construction: unit perm[j] fires only for class j
        assert (a[y == j, perm[j]] > 0).all() and (a[y != j, perm[j]] == 0).all()
    for method in ("cohen_d", "auc"):
        d = distinctive_neurons(net, x, y, top=3, method=method)
        assert isinstance(d, DistinctiveNeurons)
        assert d.indices.shape == (k, 3) and d.scores.shape == (k, 3)
        assert d.all_scores.shape == (k, k + extra)
        assert d.indices[:, 0].tolist() == perm[:k].tolist()
        np.testing.assert_array_equal(np.take_along_axis(d.all_scores, d.indices, 1), d.scores)
        assert (np.diff(d.scores, axis=1) <= 0).all()
    auc = distinctive_neurons(net, x, y, method="auc").scores[:, 0]
    np.testing.assert_array_equal(auc, 1.0)
    assert "<table>" in d._repr_html_()
    # "lower" ranks the other way round: a class's own detector comes last
    low = distinctive_neurons(net, x, y, top=k + extra, direction="lower")
    assert low.indices[:, -1].tolist() == perm[:k].tolist()
    assert (np.diff(low.scores, axis=1) >= 0).all()


def test_cohen_d_and_auc_match_their_definitions():
    rng = np.random.default_rng(7)
    net = random_mlp(rng, [784, 6, 3], "tanh")
    x = rng.uniform(0, 1, (40, 28, 28))
    y = np.arange(40) % 3
    d = distinctive_neurons(net, x, y, top=6)
    auc = distinctive_neurons(net, x, y, top=6, method="auc")
    a = netdream.activations(net, x)[0]
    for c in range(3):
        for j in range(6):
            a1, a0 = a[y == c, j], a[y != c, j]
            s = np.sqrt((a1.var() * a1.size + a0.var() * a0.size) / (a.shape[0] - 2))
            assert d.all_scores[c, j] == pytest.approx((a1.mean() - a0.mean()) / s, rel=1e-9)
            pairs = (a1[:, None] > a0[None, :]).mean() + 0.5 * (a1[:, None] == a0[None, :]).mean()
            assert auc.all_scores[c, j] == pytest.approx(pairs, rel=1e-12)
    either = distinctive_neurons(net, x, y, top=6, direction="either")
    for c in range(3):
        assert (np.diff(np.abs(either.scores[c])) <= 0).all()


def test_cohen_d_perfect_separation_is_infinite():
    w0 = np.zeros((2, 784))
    w0[0, 0] = 1.0  # unit 0: the first pixel; unit 1: always 0
    net = netdream.MLP([w0, np.ones((2, 2))], [np.zeros(2), np.zeros(2)], "relu")
    x = np.zeros((4, 28, 28))
    x[:2, 0, 0] = 1.0
    d = distinctive_neurons(net, x, np.array([0, 0, 1, 1]))
    np.testing.assert_array_equal(d.all_scores, [[np.inf, 0.0], [-np.inf, 0.0]])


def test_distinctive_neurons_output_layer_of_a_net_without_hidden_layers():
    rng = np.random.default_rng(8)
    k = 4
    w = 5 * class_patches(k).reshape(k, -1)
    net = netdream.MLP([w], [np.zeros(k)], "relu", "sigmoid")
    x, y = labelled_images(rng, k, 10)
    d = distinctive_neurons(net, x, y, layer=0, top=k)
    assert d.indices[:, 0].tolist() == list(range(k))
    assert d.indices.shape == (k, k)


def test_distinctive_neurons_checks():
    rng = np.random.default_rng(9)
    net = random_mlp(rng, [784, 6, 3], "relu")
    x = rng.uniform(0, 1, (9, 28, 28))
    y = np.arange(9) % 3
    with pytest.raises(ValueError, match=r"classes \[2\] have no images"):
        distinctive_neurons(net, x, y % 2)
    with pytest.raises(ValueError, match=r"labels must lie in 0..2"):
        distinctive_neurons(net, x, y + 1)
    with pytest.raises(ValueError, match=r"labels must have shape \(9,\)"):
        distinctive_neurons(net, x, y[:5])
    with pytest.raises(TypeError, match="labels must be integers"):
        distinctive_neurons(net, x, y.astype(float))
    with pytest.raises(ValueError, match="method must be"):
        distinctive_neurons(net, x, y, method="t")
    with pytest.raises(ValueError, match="direction must be"):
        distinctive_neurons(net, x, y, direction="up")
    with pytest.raises(ValueError, match="layer must lie in 0..1"):
        distinctive_neurons(net, x, y, layer=2)
    with pytest.raises(ValueError, match="images: float pixels must lie in"):
        distinctive_neurons(net, x * 2, y)
    assert distinctive_neurons(net, x, y, layer=1, top=50).indices.shape == (3, 3)


# ---------------------------------------------------------------- misclassified

@pytest.fixture()
def linear_net_and_data():
    rng = np.random.default_rng(10)
    net = random_mlp(rng, [784, 4], [], scale=3.0)
    x = rng.integers(0, 256, (60, 28, 28)).astype(np.uint8)
    pred = net.predict(x)
    y = pred.copy()
    wrong = np.arange(0, 60, 4)
    y[wrong] = (pred[wrong] + 1) % 4
    return net, x, y, wrong


def test_misclassified_sorted_by_confidence(linear_net_and_data):
    net, x, y, wrong = linear_net_and_data
    m = misclassified(net, x, y)
    assert isinstance(m, Misclassified)
    assert m.n_wrong == len(wrong) == len(m) and m.n_total == 60
    assert sorted(m.indices.tolist()) == wrong.tolist()
    proba = net.predict_proba(x)
    np.testing.assert_allclose(m.confidence, proba[m.indices].max(axis=1), rtol=1e-7)
    assert (np.diff(m.confidence) <= 0).all()
    np.testing.assert_array_equal(m.images, x[m.indices])
    np.testing.assert_array_equal(m.true, y[m.indices])
    np.testing.assert_array_equal(m.predicted, proba[m.indices].argmax(axis=1))
    top = misclassified(net, x, y, n=3)
    assert len(top) == 3 and top.n_wrong == len(wrong)
    np.testing.assert_array_equal(top.indices, m.indices[:3])
    lab = m.labels()[0]
    assert lab == f"{m.true[0]}->{m.predicted[0]} {100 * m.confidence[0]:.0f}%"
    assert "Misclassified(15/60 wrong" in repr(m)


def test_save_misclassified_png(tmp_path, linear_net_and_data):
    net, x, y, _ = linear_net_and_data
    path = tmp_path / "wrong.png"
    im = save_misclassified(net, x, y, path, n=7, ncols=4)
    assert path.is_file()
    with Image.open(path) as saved:
        assert saved.size == im.size and saved.size[0] > 4 * 28 * 3
    assert misclassified(net, x, y)._repr_png_().startswith(b"\x89PNG")
    right = misclassified(net, x, net.predict(x))
    assert len(right) == 0 and right._repr_png_() is None
    with pytest.raises(ValueError, match="classifies every image correctly"):
        save_misclassified(net, x, net.predict(x), tmp_path / "none.png")
    with pytest.raises(TypeError, match="path must be a str"):
        save_misclassified(net, x, y, 5)
    with pytest.raises(ValueError, match="n must be >= 0"):
        misclassified(net, x, y, n=-1)


def test_misclassified_on_mnist(default_net, mnist_test):
    images, labels = mnist_test
    m = misclassified(default_net, images[:2000], labels[:2000], n=20)
    result = netdream.evaluate(default_net, images[:2000], labels[:2000])
    assert m.n_wrong == result.total - result.correct
    assert len(m) == min(20, m.n_wrong) and m.images.dtype == np.uint8


def test_activations_shapes_and_output(seed_net, mnist_test):
    acts = netdream.activations(seed_net, mnist_test[0][:5])
    assert [a.shape for a in acts] == [(5, 200), (5, 10)]
    np.testing.assert_allclose(acts[-1], seed_net.predict_proba(mnist_test[0][:5]), atol=1e-5)
