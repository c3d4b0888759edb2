"""Dreaming by hill climbing: what does the network think a class looks like?

Start from a near-blank image, perturb one pixel at a time, keep the change
if the objective improves. The C++ core keeps layer 0's pre-activations and
updates them by ``delta * W[:, i]`` for a change of pixel ``i``, so a
candidate costs O(hidden) instead of a full forward pass.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

from . import _core
from ._model import MLP
from ._progress import progress_bar
from ._validation import as_images, check_int, check_threads
from .regularizers import Regularizer, smoothness as _smoothness

__all__ = ["hill_climb", "DreamResult", "Trajectory", "average", "OBJECTIVES"]

OBJECTIVES = {"prob": 0, "logprob": 1, "margin": 2}
_STARTS = {"blank": 0, "sparse": 1, "noise": 2}
_MAX_SEED = 2**64 - 1


@dataclass
class Trajectory:
    """Snapshots of each run every ``every`` steps (the start included)."""

    every: int
    images: np.ndarray  # (runs, records, 28, 28) float32
    values: np.ndarray  # (runs, records): the objective plus the regulariser

    @property
    def steps(self) -> np.ndarray:
        return np.arange(self.values.shape[1]) * self.every


@dataclass
class DreamResult:
    """What a search found.

    ``images``: (runs, 28, 28) in [0, 1], ink high (float32, or float64 for a
    search run with ``precision="float64"``). ``confidence``:
    the model's probability of the target class for each image (for a hidden
    unit target: the unit's activation), computed from the returned images.
    """

    images: np.ndarray
    confidence: np.ndarray
    target: object
    objective: np.ndarray = field(repr=False)
    accepted: np.ndarray = field(repr=False)
    steps: int = 0
    trajectory: Trajectory | None = field(default=None, repr=False)
    method: str = "hill_climb"
    history: dict | None = field(default=None, repr=False)
    generations: int = 0

    def __repr__(self):
        c = self.confidence
        return (f"DreamResult({self.method}, target={self.target!r}, runs={len(self.images)}, "
                f"confidence min/median/max={c.min():.4f}/{np.median(c):.4f}/{c.max():.4f})")

    def average(self) -> np.ndarray:
        """The mean image, (28, 28) float64."""
        return average(self)

    def _repr_png_(self):
        from .images import grid_image
        import io
        n = min(len(self.images), 32)
        labels = [f"{c:.3f}" for c in self.confidence[:n]]
        buf = io.BytesIO()
        grid_image(self.images[:n], labels=labels, cmap="gray").save(buf, format="PNG")
        return buf.getvalue()


def average(result) -> np.ndarray:
    """The average of a search's images (the seed's "average of 1000 dreams"):
    (28, 28) float64. Takes a result with ``.images`` or an image array."""
    images = getattr(result, "images", result)
    x, _ = as_images(images)
    x = x.astype(np.float64) / 255.0 if x.dtype == np.uint8 else x.astype(np.float64)
    return x.mean(axis=0)


def _parse_target(net: MLP, target):
    """-> (objective override or None, class/unit, layer)."""
    if isinstance(target, tuple):
        if len(target) != 3 or target[0] != "hidden":
            raise ValueError("target must be a class index or ('hidden', layer, unit)")
        layer = check_int(target[1], "target layer", 0)
        unit = check_int(target[2], "target unit", 0)
        n_hidden = len(net.weights) - 1
        if layer >= n_hidden:
            raise ValueError(f"target layer {layer} is not a hidden layer (the net has {n_hidden})")
        if unit >= net.weights[layer].shape[0]:
            raise ValueError(f"target unit {unit} out of range: hidden layer {layer} has "
                             f"{net.weights[layer].shape[0]} units")
        return 3, unit, layer
    if isinstance(target, bool) or not isinstance(target, numbers.Integral):
        raise TypeError(f"target must be a class index or ('hidden', layer, unit), got {target!r}")
    if not 0 <= int(target) < net.n_classes:
        raise ValueError(f"target must lie in 0..{net.n_classes - 1}, got {target}")
    return None, int(target), 0


def hill_climb(net: MLP, target, *, steps: int = 20000, runs: int = 1, start="blank",
               step: float = 0.1, objective: str = "logprob", smoothness: float = 0.0,
               regularizer: Regularizer | None = None, recipe: str | None = None, seed: int = 0,
               threads: int | None = None, record_every: int = 0, progress: bool = True,
               precision: str = "float32", refresh_every: int = 4096) -> DreamResult:
    """Make the network dream of ``target`` by hill climbing on the pixels.

    Parameters
    ----------
    net : MLP
    target : int or ("hidden", layer, unit)
        A class, or a hidden unit to maximise (activation maximisation: the
        climb maximises the unit's pre-activation, which is monotone in its
        activation and does not stall where a relu is off).
    steps : candidates per run (one random pixel changed each).
    runs : independent runs (spread over ``threads``).
    start : "blank" (all background), "sparse" (the seed's start: 10% of the
        pixels get ink U(0, 0.1)), "noise" (uniform), or images (28, 28) /
        (runs, 28, 28) in the public convention.
    step : a candidate moves one pixel by U(-step, step), clamped to [0, 1].
    objective : "logprob" (default, -log p), "prob" (1 - p, the seed's; it
        saturates when p is about 0), or "margin" (best other logit minus the
        target's). Ignored for hidden targets (their activation is maximised).
    smoothness : weight of the seed's smoothness prior (0: off).
    regularizer : a :class:`netdream.regularizers.Regularizer` (added to
        the smoothness, if both are given it is an error).
    recipe : "seed" reproduces the published demo exactly: objective "prob",
        start "sparse", steps of U(-0.1, 0.1) in the seed's [-1, 1] units,
        and ``smoothness`` in those units too.
    seed : random seed; run ``r`` uses stream ``r`` of it, so results are
        bit-identical for any ``threads``.
    threads : worker threads (default: every core).
    record_every : keep a snapshot every so many steps (``result.trajectory``).
    progress : show a tqdm progress bar.
    precision : "float32" (fast) or "float64" (exact reference arithmetic;
        the images are then returned in float64 too).
    refresh_every : recompute the incrementally kept state from scratch every
        so many steps, so float32 rounding never accumulates (0: never).

    Returns
    -------
    DreamResult
    """
    if not isinstance(net, MLP):
        raise TypeError(f"net must be a netdream.MLP, got {type(net).__name__}")
    hidden_obj, tgt, layer = _parse_target(net, target)
    steps = check_int(steps, "steps", 0)
    runs = check_int(runs, "runs", 1)
    seed = check_int(seed, "seed", 0)
    if seed > _MAX_SEED:
        raise ValueError("seed must be < 2**64")
    record_every = check_int(record_every, "record_every", 0)
    refresh_every = check_int(refresh_every, "refresh_every", 0)
    threads = check_threads(threads)
    if precision not in ("float32", "float64"):
        raise ValueError(f"precision must be 'float32' or 'float64', got {precision!r}")
    if isinstance(smoothness, bool) or not isinstance(smoothness, numbers.Real) or \
            not np.isfinite(smoothness) or smoothness < 0:
        raise ValueError(f"smoothness must be a finite number >= 0, got {smoothness!r}")
    if regularizer is not None and not isinstance(regularizer, Regularizer):
        raise TypeError("regularizer must be a netdream.regularizers.Regularizer, got "
                        f"{type(regularizer).__name__}")
    if regularizer is not None and smoothness:
        raise ValueError("give either smoothness= or regularizer=, not both "
                         "(use regularizers.smoothness(w) to weight it yourself)")
    if recipe not in (None, "seed"):
        raise ValueError(f"recipe must be None or 'seed', got {recipe!r}")
    if isinstance(step, bool) or not isinstance(step, numbers.Real) or not 0 < step <= 1:
        raise ValueError(f"step must be a number in (0, 1], got {step!r}")

    reg = regularizer if regularizer is not None else (_smoothness(smoothness) if smoothness else None)
    start_kind = start
    if recipe == "seed":
        objective = "prob"
        # The seed works in [-1, 1]: its steps U(-0.1, 0.1) are half that in
        # [0, 1]; its smoothness weight applies to squared [-1, 1] differences.
        step = 0.1 / abs(net.encoding.scale) if net.encoding.scale else 0.05
        if isinstance(start, str) and start == "blank":
            start_kind = "sparse"
        if reg is not None:
            reg = reg.scaled(net.encoding.scale ** 2)
    if hidden_obj is None and objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    obj_code = hidden_obj if hidden_obj is not None else OBJECTIVES[objective]

    h, w = net.image_shape
    if isinstance(start_kind, str):
        if start_kind not in _STARTS:
            raise ValueError(f"start must be 'blank', 'sparse', 'noise' or images, got {start_kind!r}")
        start_code = _STARTS[start_kind]
        init = np.zeros((runs, h * w))
    else:
        x, single = as_images(start_kind, name="start", shape=net.image_shape)
        x = x.astype(np.float64) / 255.0 if x.dtype == np.uint8 else x.astype(np.float64)
        if single or x.shape[0] == 1:
            x = np.repeat(x.reshape(1, -1), runs, axis=0)
        elif x.shape[0] != runs:
            raise ValueError(f"start has {x.shape[0]} images but runs={runs}")
        init = np.ascontiguousarray(x.reshape(runs, -1))
        start_code = 0

    if reg is not None and reg.weight > 0:
        v_addr, d_addr = reg.addresses
        reg_weight, params = reg.weight, reg.params
    else:
        v_addr = d_addr = 0
        reg_weight, params = 0.0, np.zeros(1)

    with progress_bar(total=runs * steps, enabled=progress, unit="step", unit_scale=True,
                      desc=f"dreaming {target}") as bar:
        images, accepted, obj, total, trace_i, trace_v = _core.hill_climb(
            net.core, init, obj_code, tgt, layer, steps, float(step), start_code, 0.1, 0.1,
            precision == "float64", reg_weight, d_addr, v_addr, params, h, w, record_every,
            refresh_every, seed, threads, bar.hook)

    images = images.reshape(runs, h, w).astype(np.float64 if precision == "float64" else np.float32)
    if hidden_obj is None:
        confidence = net.predict_proba(images, threads=threads)[:, tgt].astype(np.float64)
    else:
        from ._analysis import activations
        confidence = activations(net, images)[layer][:, tgt]
    trajectory = None
    if record_every:
        trajectory = Trajectory(record_every, trace_i.reshape(runs, -1, h, w), trace_v)
    return DreamResult(images, confidence, target, obj, accepted, steps, trajectory)
