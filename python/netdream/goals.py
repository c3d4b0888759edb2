"""What a search maximises: targets and objectives, defined once.

Every search (:func:`netdream.hill_climb`, :func:`netdream.evolve`,
:func:`netdream.input_gradient`, :func:`netdream.gradient_ascent`,
:func:`netdream.morph`) takes a ``target`` and an ``objective`` and maximises a
**score, higher is better**, computed in the compiled core by one function:

============ ===============================================================
objective    score of class ``t`` (from the logits ``z``)
============ ===============================================================
"logprob"    ``log p_t`` (kept precise near ``p = 1``); the default
"prob"       ``p_t``, the confidence itself (the genetic search's default)
"margin"     ``z_t - max_{k != t} z_k``
"logit"      ``z_t``
============ ===============================================================

(for a network with an identity output, "logprob" and "prob" are ``z_t``).
The seed demo minimised ``1 - p_t`` computed as the others' share of the
probability mass, which saturates where ``p_t`` is about 0 (a hill climb
with smoothness then never moves); ``hill_climb(recipe="seed")`` reproduces
exactly that (the objective ``"seed_error"``, ``-(1 - p_t)``).
A target is a class index or name (one of the model's ``class_names``), or
``("hidden", layer, unit)``: a unit of a hidden layer, whose *pre-activation*
is the score (it is monotone in the unit's activation and does not stall
where a relu is off); the objective is then ignored. For a convolutional
network, ``("channel", layer, c)`` targets channel ``c`` of a conv or pool
layer: its mean activation over the positions is the score (the filter's
preferred pattern). Layers are numbered as in ``net.layers``. The genetic
search also takes a whole wanted output vector (``wanted=``), scored
``-sum_k |p_k - wanted_k|``.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _core
from ._validation import check_choice, check_int

__all__ = ["OBJECTIVES", "class_index", "make_goal", "score_of_confidence"]

#: The objectives a class target can be scored by.
OBJECTIVES = ("logprob", "prob", "margin", "logit")


def class_index(net, target):
    """``target`` with a class name (one of ``net.class_names``) replaced by
    the class's index; anything else as given (checked where it is used)."""
    if not isinstance(target, str):
        return target
    names = list(net.class_names)
    if target in names:
        return names.index(target)
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    raise ValueError(f"target {target!r} is not one of the model's class names ({shown})")


def make_goal(net, target, objective: str = "logprob", *, allow_hidden: bool = True):
    """The core's Goal for ``target`` (a class, ``("hidden", layer, unit)``
    or ``("channel", layer, c)``) scored by ``objective``. Raises a ValueError/TypeError naming
    what is wrong."""
    if isinstance(target, tuple):
        if not allow_hidden:
            raise TypeError(f"target must be a class index or name, got {target!r}")
        return _inner_goal(net, target)
    target = class_index(net, target)
    if isinstance(target, bool) or not isinstance(target, numbers.Integral):
        what = ("a class index or name, ('hidden', layer, unit) or ('channel', layer, c)"
                if allow_hidden else "a class index or name")
        raise TypeError(f"target must be {what}, got {target!r}")
    if not 0 <= int(target) < net.n_classes:
        raise ValueError(f"target must lie in 0..{net.n_classes - 1}, got {target}")
    if objective != "seed_error":  # the seed recipe's own, not offered by name
        check_choice(objective, "objective", OBJECTIVES)
    return _core.Goal(kind=_core.TargetKind.output, index=int(target),
                      objective=_core.Objective.__members__[objective])


def _inner_goal(net, target):
    """The Goal of ``("hidden", layer, unit)`` (a dense layer's unit, not the
    last layer) or ``("channel", layer, c)`` (a conv or pool layer's channel);
    ``layer`` indexes ``net.layers``."""
    from .layers import Conv2D, Dense, MaxPool2D
    if len(target) != 3 or target[0] not in ("hidden", "channel"):
        raise ValueError(f"target must be a class index, ('hidden', layer, unit) or "
                         f"('channel', layer, c), got {target!r}")
    kind = target[0]
    layer = check_int(target[1], "target layer", 0)
    index = check_int(target[2], f"target {'unit' if kind == 'hidden' else 'channel'}", 0)
    layers = net.layers
    if kind == "hidden":
        hidden = [l for l, lay in enumerate(layers[:-1]) if isinstance(lay, Dense)]
        if layer not in hidden:
            raise ValueError(f"target layer {layer} is not a hidden layer (the hidden dense "
                             f"layers are {', '.join(map(str, hidden)) or 'none'})")
        width = layers[layer].weight.shape[0]
        if index >= width:
            raise ValueError(f"target unit {index} out of range: hidden layer {layer} has "
                             f"{width} units")
        return _core.Goal(kind=_core.TargetKind.unit, index=index, layer=layer)
    maps = [l for l, lay in enumerate(layers) if isinstance(lay, (Conv2D, MaxPool2D))]
    if layer not in maps:
        raise ValueError(f"target layer {layer} is not a convolution or pooling layer (those "
                         f"are {', '.join(map(str, maps)) or 'none: use a class or a hidden unit'})")
    channels = net.layer_shapes[layer][0]
    if index >= channels:
        raise ValueError(f"target channel {index} out of range: layer {layer} has {channels} "
                         "channels")
    return _core.Goal(kind=_core.TargetKind.channel, index=index, layer=layer)


def wanted_goal(net, wanted):
    """The Goal of a whole wanted output vector (K values)."""
    w = np.asarray(wanted, dtype=np.float64)
    if w.shape != (net.n_classes,):
        raise ValueError(f"wanted must have shape ({net.n_classes},), got {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("wanted contains NaN or infinite values")
    return _core.Goal(kind=_core.TargetKind.output, objective=_core.Objective.wanted,
                      index=int(np.argmax(w)), wanted=w.tolist())


def score_of_confidence(objective: str, confidence: float) -> float:
    """The score at which a class's probability reaches ``confidence``, for
    the objectives where that is a threshold on the score."""
    if objective == "logprob":
        return float(np.log(confidence))
    if objective == "prob":
        return float(confidence)
    if objective == "seed_error":
        return float(confidence) - 1.0
    raise ValueError(f"a confidence threshold needs objective 'logprob' or 'prob', got {objective!r}")
