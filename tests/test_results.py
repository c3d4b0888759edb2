"""netdream.results: the one result type every search returns."""

from __future__ import annotations

import io

import numpy as np
import pytest

import netdream


def test_average_of_a_result_and_of_arrays(default_net):
    r = netdream.hill_climb(default_net, 0, steps=500, runs=4, progress=False)
    np.testing.assert_allclose(netdream.average(r), r.images.astype(np.float64).mean(axis=0))
    np.testing.assert_allclose(netdream.average(r.images), netdream.average(r))
    np.testing.assert_allclose(netdream.average((r.images * 255).round().astype(np.uint8)),
                               netdream.average(r), atol=0.5 / 255)
    with pytest.raises(ValueError, match="shape"):
        netdream.average(np.zeros(5))
    colour = np.random.default_rng(0).random((5, 3, 8, 6))  # (N, C, H, W): one colour mean
    np.testing.assert_allclose(netdream.average(colour), colour.mean(axis=0))
    np.testing.assert_allclose(netdream.average((colour * 255).round().astype(np.uint8)),
                               colour.mean(axis=0), atol=0.5 / 255)


@pytest.mark.parametrize("search", ["hill_climb", "evolve", "gradient_ascent"])
def test_every_search_returns_the_same_type(default_net, search):
    kw = {"hill_climb": dict(steps=300), "evolve": dict(population=12, elite=2, steps=2),
          "gradient_ascent": dict(steps=3)}[search]
    r = getattr(netdream, search)(default_net, 1, progress=False, record_every=1, **kw)
    assert isinstance(r, netdream.SearchResult) and r.method == search
    assert r.images.shape[1:] == (28, 28) and r.confidence.shape == r.score.shape
    assert r.trajectory.images.shape[2:] == (28, 28)
    assert r.trajectory.scores.shape == r.trajectory.images.shape[:2]
    assert r.trajectory.steps[0] == 0
    assert "SearchResult(" in repr(r) and r._repr_png_().startswith(b"\x89PNG")


def test_scores_never_fall_along_a_hill_climb(default_net):
    r = netdream.hill_climb(default_net, 2, steps=3000, record_every=100, progress=False,
                            regularizer=netdream.regularizers.smoothness(1e-4))
    assert np.all(np.diff(r.trajectory.scores, axis=1) >= 0)
    assert r.trajectory.every == 100
    with pytest.warns(DeprecationWarning, match="scores"):
        np.testing.assert_array_equal(r.trajectory.values, -r.trajectory.scores)


def test_a_result_shows_a_named_class_by_its_name():
    """repr and the notebook picture of a search on a model with class names
    show the target's name (a digit model's names add nothing: not shown)."""
    from PIL import Image
    from netdream.layers import Dense
    rng = np.random.default_rng(3)
    net = netdream.Network([Dense(rng.normal(0, 0.1, (3, 64)), np.zeros(3), "softmax")],
                           image_shape=(8, 8), class_names=["cat", "dog", "owl"])
    r = netdream.hill_climb(net, "dog", steps=50, runs=2, progress=False)
    assert "target=1 (dog)" in repr(r)
    assert r._class_name(0) == "dog"
    every = netdream.evolve(net, "all", population=6, steps=2, progress=False)
    assert [every._class_name(i) for i in range(3)] == ["cat", "dog", "owl"]
    per_run = netdream.gradient_ascent(net, ["owl", "cat"], runs=2, steps=2, progress=False)
    assert [per_run._class_name(i) for i in range(2)] == ["owl", "cat"]
    digits = netdream.hill_climb(netdream.MLP.pretrained(), 3, steps=10, progress=False)
    assert "target=3," in repr(digits) and digits._class_name() is None
    # the labels make the picture taller than one without them would not: drawn, not blank
    png = Image.open(io.BytesIO(r._repr_png_()))
    assert png.size[1] > 0 and np.asarray(png).std() > 0
