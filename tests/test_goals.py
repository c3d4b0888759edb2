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
