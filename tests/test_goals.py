"""netdream.goals: one definition of targets and objectives, one sign (higher is better)."""

from __future__ import annotations

import numpy as np
import pytest

import netdream
from netdream import _core, goals

from reference import score64


def test_goals_name_their_target_and_objective(default_net):
    g = goals.make_goal(default_net, 3, "margin")
    assert (g.kind, g.index, g.objective) == (_core.TargetKind.output, 3, _core.Objective.margin)
    h = goals.make_goal(default_net, ("hidden", 0, 17))
    assert (h.kind, h.layer, h.index) == (_core.TargetKind.unit, 0, 17)
    with pytest.raises(ValueError, match="objective"):
        goals.make_goal(default_net, 3, "loss")
    with pytest.raises(TypeError, match="class index"):
        goals.make_goal(default_net, ("hidden", 0, 1), allow_hidden=False)
    with pytest.raises(ValueError, match="wanted must have shape"):
        goals.wanted_goal(default_net, [0.5, 0.5])


@pytest.mark.parametrize("objective", goals.OBJECTIVES)
def test_every_search_scores_the_same_way(default_net, objective):
    """Hill climbing, the genetic search and the gradient report the same
    score for the same image and goal: higher is better everywhere."""
    x = np.random.default_rng(2).random((1, 28, 28))
    expected = score64(default_net, x, 7, objective)[0]
    hill = netdream.hill_climb(default_net, 7, steps=0, start=x, objective=objective,
                               precision="float64", progress=False)
    np.testing.assert_allclose(hill.score, expected, rtol=1e-9)
    _, grad_score = _core.input_gradient(default_net.core, x.reshape(1, -1),
                                         goals.make_goal(default_net, 7, objective),
                                         np.array([7]), 1)
    np.testing.assert_allclose(grad_score, expected, rtol=1e-9)
    ga = netdream.evolve(default_net, 7, population=8, elite=2, steps=0, objective=objective,
                         progress=False)
    np.testing.assert_allclose(ga.score, score64(default_net, ga.images.astype(np.float64), 7,
                                                 objective), rtol=2e-4, atol=1e-5)


def test_confidence_thresholds_as_scores():
    assert goals.score_of_confidence("logprob", 0.9) == pytest.approx(np.log(0.9))
    assert goals.score_of_confidence("prob", 0.9) == 0.9
    with pytest.raises(ValueError, match="logprob"):
        goals.score_of_confidence("margin", 0.9)


def test_searches_take_a_class_by_its_name():
    """Every search takes a class by its name (the model's class_names) as
    well as by its index, with the same result; a name the model lacks is
    refused with its names, and evolve's "all" stays MAP-Elites."""
    from netdream.layers import Conv2D, Dense, Flatten, MaxPool2D
    rng = np.random.default_rng(4)
    names = ["circle", "cross", "line"]
    net = netdream.Network([Conv2D(rng.normal(0, 0.5, (4, 1, 3, 3)), np.zeros(4), padding="same",
                                   activation="relu"), MaxPool2D(2), Flatten(),
                            Dense(rng.normal(0, 0.3, (3, 4 * 6 * 6)), np.zeros(3), "softmax")],
                           image_shape=(12, 12), class_names=names)
    x = rng.random((2, 12, 12))
    by_name = netdream.hill_climb(net, "line", steps=300, runs=2, seed=1, progress=False)
    by_index = netdream.hill_climb(net, 2, steps=300, runs=2, seed=1, progress=False)
    np.testing.assert_array_equal(by_name.images, by_index.images)
    assert by_name.target == 2
    np.testing.assert_array_equal(
        netdream.evolve(net, "cross", population=8, steps=3, seed=0, progress=False).images,
        netdream.evolve(net, 1, population=8, steps=3, seed=0, progress=False).images)
    np.testing.assert_array_equal(netdream.input_gradient(net, x, ["circle", "line"]),
                                  netdream.input_gradient(net, x, [0, 2]))
    np.testing.assert_array_equal(
        netdream.gradient_ascent(net, "cross", runs=2, steps=5, progress=False).images,
        netdream.gradient_ascent(net, 1, runs=2, steps=5, progress=False).images)
    morphed = netdream.morph(net, x[0], "line", steps=5, progress=False)
    np.testing.assert_array_equal(morphed.images,
                                  netdream.morph(net, x[0], 2, steps=5, progress=False).images)
    assert morphed.target == 2
    np.testing.assert_array_equal(netdream.transfer(net, x, "cross").confidence,
                                  netdream.transfer(net, x, 1).confidence)
    assert netdream.evolve(net, "all", population=8, steps=2, seed=0,
                           progress=False).images.shape[0] == 3
    for search in (lambda t: netdream.hill_climb(net, t, steps=1, progress=False),
                   lambda t: netdream.evolve(net, t, population=4, steps=1, progress=False),
                   lambda t: netdream.gradient_ascent(net, t, steps=1, progress=False),
                   lambda t: netdream.input_gradient(net, x, [t, "line"])):
        with pytest.raises(ValueError, match=r"'square' is not one of the model's class names "
                                             r"\(circle, cross, line\)"):
            search("square")
