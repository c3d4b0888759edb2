"""Dreaming by hill climbing: what does the network think a class looks like?

Start from a near-blank image, perturb one pixel at a time, keep the change
if the score improves. The C++ core keeps layer 0's pre-activations and
updates them by ``delta * W[:, i]`` for a change of pixel ``i``, so a
candidate costs O(hidden) instead of a full forward pass.
"""

from __future__ import annotations

import numpy as np

from . import _core
from ._progress import progress_bar
from ._validation import (as_unit_float, renamed, check_bool, check_choice, check_int, check_memory,
                          check_net, check_rate, check_real, check_seed, check_threads)
from .goals import OBJECTIVES, class_index, make_goal, score_of_confidence
from .regularizers import Regularizer, core_terms, reraise, smoothness as _smoothness
from .results import SearchResult, Trajectory, _wrap_callback, average

__all__ = ["hill_climb", "average", "STARTS"]

#: Named starts of a hill climb (or pass images).
STARTS = ("blank", "sparse", "noise", "grey")
#: The "grey" start: every pixel this much ink.
GREY = 0.2
_MAX_STEPS = 2**62


def hill_climb(net, target, *, steps: int = 20000, runs: int = 1, start=None,
               step_size: float = 0.1, objective: str = "logprob",
               regularizer: Regularizer | None = None, recipe: str | None = None, seed: int = 0,
               threads: int | None = None, record_every: int = 0, progress: bool = True,
               precision: str = "float32", refresh_every: int = 4096,
               stop_at: float | None = None, first_run: int = 0, callback=None,
               **deprecated) -> SearchResult:
    """Make the network dream of ``target`` by hill climbing on the pixels.

    Parameters
    ----------
    net : MLP or Network
    target : int, str, ("hidden", layer, unit) or ("channel", layer, c)
        A class (its index, or its name: one of ``net.class_names``); a
        hidden unit of a dense layer to maximise (activation maximisation:
        the climb maximises the unit's pre-activation, which is monotone in
        its activation and does not stall where a relu is off);
        or, for a convolutional network, a channel of a conv or pool layer
        (its mean activation: the filter's preferred pattern). Layers are
        numbered as ``net.layers`` (for an MLP, hidden layer 0 is the first).
    steps : candidates per run (one random pixel changed each).
    runs : independent runs (spread over ``threads``).
    start : "blank" (all background), "sparse" (the seed's start: 10% of the
        pixels get ink U(0, 0.1)), "noise" (uniform), "grey" (every pixel 0.2
        ink), or images (28, 28) / (runs, 28, 28) in the public convention.
        By default "blank", and "grey" for a channel target: on a blank image
        many channels are off everywhere, and no one-pixel change switches
        them on.
    step_size : a candidate moves one pixel by U(-step_size, step_size),
        clamped to [0, 1].
    objective : "logprob" (default), "prob", "margin" or "logit": see
        :mod:`netdream.goals` (ignored for hidden targets).
    regularizer : a :class:`netdream.regularizers.Regularizer` (or a sum of
        them, e.g. ``regularizers.smoothness(1e-5) + prior``), subtracted
        from the score.
    recipe : "seed" reproduces the published demo exactly: the seed's error
        1 - p (which saturates where p is about 0), start "sparse", steps of U(-0.1, 0.1) in the seed's [-1, 1] units,
        and the regulariser's weight in those units too.
    seed : random seed; run ``r`` uses stream ``first_run + r`` of it, so
        results are bit-identical for any ``threads`` and any split of the
        runs over calls.
    threads : worker threads (default: every core).
    record_every : keep a snapshot every so many steps (``result.trajectory``).
    progress : show a tqdm progress bar.
    precision : "float32" (fast) or "float64" (exact reference arithmetic;
        the images are then returned in float64 too).
    refresh_every : recompute the incrementally kept state from scratch every
        so many steps, so float32 rounding never accumulates (0: never).
    stop_at : stop a run as soon as the target's probability reaches this
        (objectives "logprob" and "prob"; None: run every step).
    first_run : index of the first run (for splitting runs over calls or
        machines: the runs of ``first_run=a, runs=n`` are runs a..a+n-1 of one
        big call).
    callback : called about 20 times a second with a
        :class:`netdream.results.Snapshot` (the newest image of every run);
        if it returns ``False`` the search stops and returns what it reached
        (``result.stopped``). For live displays.

    Returns
    -------
    SearchResult
        ``score``: the final score of each run (the objective's score minus
        the weighted regulariser; higher is better).
    """
    regularizer, step_size = _deprecated_arguments(deprecated, regularizer, step_size)
    net = check_net(net)
    target = class_index(net, target)
    goal = make_goal(net, target, objective if not isinstance(target, tuple) else "logprob")
    steps = check_int(steps, "steps", 0, _MAX_STEPS)
    runs = check_int(runs, "runs", 1)
    seed = check_seed(seed)
    first_run = check_int(first_run, "first_run", 0, _MAX_STEPS)
    record_every = check_int(record_every, "record_every", 0)
    refresh_every = check_int(refresh_every, "refresh_every", 0)
    threads = check_threads(threads)
    check_choice(precision, "precision", ("float32", "float64"))
    check_bool(progress, "progress")
    if regularizer is not None and not isinstance(regularizer, Regularizer):
        raise TypeError("regularizer must be a netdream.regularizers.Regularizer, got "
                        f"{type(regularizer).__name__}")
    if recipe is not None:
        check_choice(recipe, "recipe", ("seed",))
    step_size = check_real(step_size, "step_size", low=0.0, high=1.0, low_open=True)
    stop_score = np.inf
    if stop_at is not None:
        stop_at = check_rate(stop_at, "stop_at")
        if isinstance(target, tuple):
            raise ValueError("stop_at needs a class target")
        stop_score = score_of_confidence(objective if recipe is None else "seed_error", stop_at)

    reg = regularizer
    if start is None:
        start = "grey" if isinstance(target, tuple) and target[0] == "channel" else "blank"
    start_kind = start
    if recipe == "seed":
        if len(net.image_shape) != 2:
            raise ValueError("the recipe 'seed' reproduces the seed demo's search on grey "
                             f"images; this model takes {net.image_shape} colour images: leave "
                             "the recipe out")
        # the seed's error 1 - p, with its saturation where p is about 0
        goal = make_goal(net, target, "seed_error") if not isinstance(target, tuple) else goal
        # The seed works in [-1, 1]: its steps U(-0.1, 0.1) are half that in
        # [0, 1]; its smoothness weight applies to squared [-1, 1] differences.
        step_size = 0.1 / abs(net.encoding.scale)
        if isinstance(start, str) and start == "blank":
            start_kind = "sparse"
        if reg is not None:
            reg = reg.scaled(net.encoding.scale ** 2)

    shape = net.image_shape
    n_pixels = net.n_pixels
    records = steps // record_every + 1 if record_every else 0
    check_memory(runs * n_pixels * (16 + 4 * records),
                 f"runs={runs:,} x {n_pixels} pixels" + (f" x {records:,} records" if records else ""))
    if isinstance(start_kind, str):
        check_choice(start_kind, "start", STARTS)
        core_start = _core.Start.__members__[
            "given" if start_kind in ("blank", "grey") else start_kind]
        init = np.full((runs, n_pixels), GREY if start_kind == "grey" else 0.0)
    else:
        x, single = as_unit_float(start_kind, "start", net.image_shape)
        if single or x.shape[0] == 1:
            x = np.repeat(x.reshape(1, -1), runs, axis=0)
        elif x.shape[0] != runs:
            raise ValueError(f"start has {x.shape[0]} images but runs={runs}")
        init = np.ascontiguousarray(x.reshape(runs, -1))
        core_start = _core.Start.given

    spec = _core.HillSpec(
        goal=goal, steps=steps, step_size=step_size, start=core_start,
        sparse_fraction=0.1, sparse_amount=0.1,  # the seed's sparse start
        precision=_core.Precision.__members__[precision], regularizer=core_terms(reg),
        record_every=record_every, refresh_every=refresh_every, stop_score=stop_score,
        seed=seed, first_run=first_run)
    with progress_bar(total=runs * steps, enabled=progress, unit="step", unit_scale=True,
                      desc=f"dreaming {target}") as bar:
        try:
            out = _core.hill_climb(net.core, spec, init, threads, bar.hook,
                                   _wrap_callback(callback, net.image_shape))
        except _core.RegularizerError as err:
            reraise(reg, err, net.image_shape[-2:])

    images = out["images"].reshape(runs, *shape).astype(
        np.float64 if precision == "float64" else np.float32)
    confidence = _confidence(net, images, target, threads)
    trajectory = None
    if record_every:
        trajectory = Trajectory(out["trace_images"].reshape(runs, -1, *shape), out["trace_scores"],
                                np.arange(records) * record_every)
    settings = dict(objective=objective if recipe is None else "seed_error", step_size=step_size,
                    start=start_kind if isinstance(start_kind, str) else "images",
                    regularizer=repr(reg) if reg is not None else None, recipe=recipe,
                    seed=seed, first_run=first_run, precision=precision)
    return SearchResult(images, confidence, target, out["total"], method="hill_climb",
                        steps=steps, accepted=out["accepted"], trajectory=trajectory,
                        settings=settings, stopped=bool(out["stopped"]),
                        _legacy_objective=-out["score"], class_names=tuple(net.class_names))


def _confidence(net, images, target, threads):
    """The target's probability of each image (a hidden unit's activation,
    a channel's mean activation)."""
    if isinstance(target, tuple):
        from .inside import activations
        kind, layer, unit = target
        a = activations(net, images)[layer]
        if kind == "channel":
            return a[:, unit].reshape(len(a), -1).mean(axis=1)
        return a[:, unit]
    x = np.clip(images, 0.0, 1.0).astype(np.float32)
    return net.predict_proba(x, threads=threads)[:, target].astype(np.float64)


def _blank_confidence(net, target: int) -> float:
    """The confidence in class ``target`` of the blank image a blank start
    begins from."""
    return float(net.predict_proba(np.zeros(net.image_shape, np.float32), threads=1)[target])


def _got_nowhere(best: float, blank: float) -> bool:
    """Whether dreams from a blank image (whose confidence is ``blank``) that
    reach at most ``best`` got nowhere: below 50% and within a point of the
    start (a network that never saw a black image: no one-pixel change
    raises the class). The CLI and the live page then suggest another start."""
    return best < min(0.5, blank + 0.01)


def _stays_blank(average, best: float, blank: float) -> bool:
    """Whether dreams from a blank image of a class the network reads there
    already (with confidence ``blank``, at least 50%: the shipped ``cnn``'s
    1) stayed (nearly) blank: they reach at most ``best``, within a point of
    the start, and their average image ``average`` holds under 1% ink. Such
    a dream has little to gain from ink: the CLI and the live page suggest
    another start, and the report starts from grey."""
    return blank >= 0.5 and best < blank + 0.01 and _nearly_blank(average)


def _nearly_blank(image) -> bool:
    """Whether an image (or the average of dreams) holds under 1% ink."""
    return float(np.mean(image)) < 0.01


def _deprecated_arguments(deprecated, regularizer, step_size):
    """The names hill_climb took before 0.2: smoothness=w (now
    regularizer=regularizers.smoothness(w)) and step= (now step_size=)."""
    new = renamed("hill_climb", deprecated, {"smoothness": "regularizer", "step": "step_size"})
    step_size = new.get("step_size", step_size)
    if "regularizer" in new:
        weight = new["regularizer"]
        if isinstance(weight, bool) or not isinstance(weight, (int, float, np.floating)) or \
                not np.isfinite(weight) or weight < 0:
            raise ValueError(f"smoothness must be a finite number >= 0, got {weight!r}")
        if weight:
            if regularizer is not None:
                raise ValueError("give either smoothness= or regularizer=, not both "
                                 "(add them: regularizers.smoothness(w) + other)")
            regularizer = _smoothness(weight)
    return regularizer, step_size
