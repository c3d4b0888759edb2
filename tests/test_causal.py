"""netdream.causal: the causal index and Garson importance."""

from __future__ import annotations

import numpy as np
import pytest

import netdream
from netdream import Encoding

from conftest import random_mlp


def test_causal_index_one_hidden_layer_is_the_seed_formula(seed_net):
    c = netdream.causal_index(seed_net)
    w1, w2 = seed_net.weights
    # the seed's formula, explicitly: C[k, i] = sum_j W2[k, j] W1[j, i], with
    # i running over the column-major input vector
    explicit = np.einsum("kj,ji->ki", w2, w1)
    assert c.shape == (10, 28, 28)
    for k in range(10):
        np.testing.assert_allclose(c[k], explicit[k].reshape(28, 28).T, rtol=1e-12, atol=1e-15)
    # image orientation: pixel (r, c) is input c*28 + r of the seed vector
    assert c[3, 5, 20] == pytest.approx(explicit[3, 20 * 28 + 5])



def test_causal_index_two_hidden_layers_is_the_path_sum():
    rng = np.random.default_rng(0)
    net = random_mlp(rng, [784, 12, 7, 4], ["relu", "tanh"])
    w1, w2, w3 = net.weights
    c = netdream.causal_index(net)
    # sum over all paths i -> j -> l -> k of the weight products
    expected = np.einsum("kl,lj,ji->ki", w3, w2, w1).reshape(4, 28, 28)
    np.testing.assert_allclose(c, expected, rtol=1e-12, atol=1e-15)



def test_causal_index_no_hidden_layer_and_sign_relative_to_ink():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(3, 784))
    high = netdream.MLP([w], [np.zeros(3)], encoding=Encoding(0, 1, "high", "row"))
    low = netdream.MLP([w], [np.zeros(3)], encoding=Encoding(0, 1, "low", "row"))
    np.testing.assert_array_equal(netdream.causal_index(high), w.reshape(3, 28, 28))
    np.testing.assert_array_equal(netdream.causal_index(low), -w.reshape(3, 28, 28))



@pytest.mark.parametrize("ink, order", [("high", "column"), ("low", "row"), ("high", "row")])
def test_causal_index_is_the_ink_gradient_of_a_linear_net(ink, order):
    """With identity activations the path sum is exactly d(logit_k)/d(ink at
    (r, c)) divided by the encoding's span: orientation and sign checked."""
    rng = np.random.default_rng(4)
    net = random_mlp(rng, [784, 9, 5, 3], "identity", "identity", Encoding(-1, 1, ink, order))
    c = netdream.causal_index(net)
    base = np.full((28, 28), 0.5)
    for r, col in [(3, 20), (27, 0), (14, 9)]:
        bumped = base.copy()
        bumped[r, col] += 0.25
        d = netdream.forward64(net, bumped[None])[0] - netdream.forward64(net, base[None])[0]
        np.testing.assert_allclose(d / (0.25 * 2.0), c[:, r, col], rtol=1e-9, atol=1e-12)



def test_garson_hand_computed():
    w1 = np.zeros((2, 784))
    w1[0, 0], w1[0, 1], w1[1, 1] = 1.0, -3.0, 2.0
    w2 = np.array([[1.0, -1.0]])
    net = netdream.MLP([w1, w2], [np.zeros(2), np.zeros(1)], "relu", "sigmoid")
    g = netdream.garson(net)
    # Q[j, i] = |w1[j,i]| / sum_i |w1[j,i]| * |w2[0,j]|: unit 0 -> 0.25, 0.75; unit 1 -> 0, 1
    assert g.shape == (1, 28, 28)
    assert g[0, 0, 0] == pytest.approx(0.25 / 2)
    assert g[0, 0, 1] == pytest.approx(1.75 / 2)
    assert g.sum() == pytest.approx(1.0)
    assert (g >= 0).all()


def test_garson_variants_differ_where_output_weights_differ():
    """Class-weighted: Q[k,j,i] = |W2[k,j]| |W1[j,i]| / sum_i' |W1[j,i']|; classic
    (NeuralNetTools): normalised after multiplying by |W2[k,j]|, which cancels."""
    rng = np.random.default_rng(3)
    w1 = rng.normal(size=(5, 784))
    w2 = rng.normal(size=(3, 5)) * np.array([1, 10, 0.1, 3, 0.5])
    net = netdream.MLP([w1, w2], [np.zeros(5), np.zeros(3)], hidden="relu")
    a, b = np.abs(w1), np.abs(w2)
    share = a / a.sum(axis=1, keepdims=True)               # (hidden, pixels)
    weighted = b @ share
    weighted /= weighted.sum(axis=1, keepdims=True)
    classic = np.tile(share.sum(axis=0) / share.sum(), (3, 1))
    np.testing.assert_allclose(netdream.garson(net).reshape(3, -1), weighted, rtol=1e-12)
    np.testing.assert_allclose(netdream.garson(net, variant="classic").reshape(3, -1), classic,
                               rtol=1e-12)
    assert np.abs(weighted - classic).max() > 1e-4
    with pytest.raises(ValueError, match="variant"):
        netdream.garson(net, variant="fancy")
    deep = random_mlp(rng, [784, 4, 4, 3], "relu")
    with pytest.raises(ValueError, match="one hidden layer"):
        netdream.garson(deep, variant="classic")


def test_maps_draw_themselves_in_jupyter(default_net):
    from PIL import Image
    import io
    for maps in (netdream.causal_index(default_net), netdream.garson(default_net)):
        png = maps._repr_png_()
        with Image.open(io.BytesIO(png)) as im:
            assert im.width > 200 and np.asarray(im.convert("L")).std() > 20
        assert isinstance(maps, np.ndarray) and maps.shape == (10, 28, 28)
