"""Gradient ascent on the input, and adversarial morphing of real digits.

The gradient of a goal's score (:mod:`netdream.goals`) with respect to the
image is computed in C++ by backpropagation through the network (double
precision), in the public convention: images (N, 28, 28), ink high, values
in [0, 1]; the model's own input encoding is differentiated through.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from . import _core
from ._progress import progress_bar
from ._validation import (as_images, as_unit_float, renamed, check_bool, check_choice, check_int,
                          check_net, check_rate, check_real, check_seed, check_threads)
from .goals import class_index, make_goal
from .regularizers import Regularizer
from .results import SearchResult, Trajectory

__all__ = ["input_gradient", "gradient_ascent", "morph", "MorphResult", "transfer",
           "TransferResult", "MORPH_METHODS"]

MORPH_METHODS = ("gradient", "hill")


def _targets(net, target, n):
    """One class index per image from ``target``: a class (index or name) or
    one per image."""
    k = net.n_classes
    t = np.asarray(target)
    if t.dtype.kind in "UO" and t.ndim <= 1:  # class names
        t = np.asarray([class_index(net, str(c) if isinstance(c, str) else c)
                        for c in t.reshape(-1)] if t.ndim else class_index(net, t.item()))
    if t.dtype.kind not in "iu" or t.ndim > 1:
        raise TypeError(f"target must be a class (index or name) or one per image, got "
                        f"{target!r}")
    t = np.broadcast_to(t.astype(np.int64), (n,)).copy() if t.ndim == 0 else t.astype(np.int64)
    if t.shape != (n,):
        raise ValueError(f"target must be one class or {n} classes, got shape {t.shape}")
    if n and (t.min() < 0 or t.max() >= k):
        raise ValueError(f"target must lie in 0..{k - 1}")
    return t


def _gradient(net, x, goal, indices, threads):
    """(d score / dx, score) for images x (N, H, W) in float64."""
    n = x.shape[0]
    g, v = _core.input_gradient(net.core, np.ascontiguousarray(x.reshape(n, -1)), goal, indices,
                                threads)
    return g.reshape(x.shape), v


def _goal_and_indices(net, target, objective, n):
    """The goal template and one index (class or unit) per image."""
    if isinstance(target, tuple):
        goal = make_goal(net, target)
        return goal, np.full(n, goal.index, dtype=np.int64)
    t = _targets(net, target, n)
    goal = make_goal(net, int(t[0]) if n else 0, objective)
    return goal, t


def input_gradient(net, images, target, objective: str = "logprob", *,
                   threads: int | None = None) -> np.ndarray:
    """d(score)/d(image) for each image: (N, 28, 28) float64 ((28, 28) for one).

    ``objective`` (to maximise): "logprob" (log p[target]), "prob",
    "margin" (target logit minus the best other) or "logit" (see
    :mod:`netdream.goals`). ``target``: a class (index or name), one class
    per image, or ``("hidden", layer, unit)`` (the unit's pre-activation).
    """
    net = check_net(net)
    x, single = as_unit_float(images, shape=net.image_shape)
    goal, idx = _goal_and_indices(net, target, objective, x.shape[0])
    g, _ = _gradient(net, x, goal, idx, check_threads(threads))
    return g[0] if single else g


def _start_images(net, start, runs, seed, first_run=0):
    shape = tuple(net.image_shape)  # (H, W), or (C, H, W) for colour
    if start is None:
        start = "blank"
    if isinstance(start, str):
        check_choice(start, "start", ("blank", "noise"))
        if start == "blank":
            return np.zeros((runs, *shape))
        # run r's noise is the first pixels of random stream first_run + r of
        # seed (the core's streams), so a run does not depend on how runs
        # are split over calls or machines
        return np.stack([_core.rng_uniform(seed, first_run + r, int(np.prod(shape))).reshape(shape)
                         for r in range(runs)])
    x, _ = as_unit_float(start, "start", net.image_shape)
    if x.shape[0] == 1:
        x = np.repeat(x, runs, axis=0)
    elif x.shape[0] != runs:
        raise ValueError(f"start has {x.shape[0]} images but runs={runs}")
    return x.copy()


def gradient_ascent(net, target, *, start=None, runs: int = 1, steps: int = 200,
                    step_size: float = 0.01, normalize: bool = True, clamp: bool = True,
                    objective: str = "logprob", regularizer: Regularizer | None = None,
                    seed: int = 0, threads: int | None = None, record_every: int = 0,
                    progress: bool = True, first_run: int = 0) -> SearchResult:
    """Gradient ascent on the pixels (the seeds' recipes).

    Each step moves every image by ``step_size`` times the gradient of the
    score (the objective minus the weighted regulariser); with ``normalize``
    the gradient is first scaled to unit L2 norm, so ``step_size`` is the L2
    length of a step. With ``clamp`` pixels are kept in [0, 1] (without it the
    returned images may leave [0, 1]; their confidence is computed as they
    are). ``start``: None or "blank" (all background), "noise" (uniform: run
    ``r`` draws from random stream ``first_run + r`` of ``seed``, so runs can
    be split over calls) or images. ``target``: a class (index or name), one
    per run, or ``("hidden", layer, unit)``.
    """
    net = check_net(net)
    target = class_index(net, target)  # a name: its index, as the result keeps it
    runs = check_int(runs, "runs", 1)
    steps = check_int(steps, "steps", 0)
    seed = check_seed(seed)
    record_every = check_int(record_every, "record_every", 0)
    step_size = check_real(step_size, "step_size", low=0.0, low_open=True)
    threads = check_threads(threads)
    check_bool(normalize, "normalize")
    check_bool(clamp, "clamp")
    check_bool(progress, "progress")
    if regularizer is not None and not isinstance(regularizer, Regularizer):
        raise TypeError("regularizer must be a netdream.regularizers.Regularizer")
    goal, idx = _goal_and_indices(net, target, objective, runs)
    first_run = check_int(first_run, "first_run", 0, 2**62)
    x = _start_images(net, start, runs, seed, first_run)
    frames, scores, record_steps = [], [], []
    with progress_bar(total=steps, enabled=progress, unit="step", desc=f"ascending {target}") as bar:
        for s in range(steps + 1):
            g, v = _gradient(net, x, goal, idx, threads)
            if regularizer is not None:
                for r in range(runs):
                    g[r] -= regularizer.penalty_gradient(x[r])
                v = v - np.atleast_1d(regularizer.penalty(x))
            if record_every and (s % record_every == 0 or s == steps):
                frames.append(x.astype(np.float32))
                scores.append(v)
                record_steps.append(s)
            if s == steps:
                break
            if normalize:
                norm = np.sqrt((g * g).sum(axis=tuple(range(1, g.ndim)), keepdims=True))
                g = g / np.maximum(norm, 1e-12)
            x = x + step_size * g
            if clamp:
                np.clip(x, 0.0, 1.0, out=x)
            if bar.hook:
                bar.callback(s + 1)
    images = x.astype(np.float32)
    confidence = _confidence(net, images, target, idx, threads)
    trajectory = None
    if record_every:
        trajectory = Trajectory(np.stack(frames, axis=1), np.stack(scores, axis=1),
                                np.array(record_steps))
    settings = dict(objective=objective, step_size=step_size, normalize=normalize, clamp=clamp,
                    regularizer=repr(regularizer) if regularizer is not None else None, seed=seed,
                    first_run=first_run)
    return SearchResult(images, confidence, target, v, method="gradient_ascent", steps=steps,
                        trajectory=trajectory, settings=settings,
                        class_names=tuple(net.class_names))


def _confidence(net, images, target, idx, threads):
    """The target's probability (a hidden unit's activation) of images that
    may lie outside [0, 1] (unclamped ascent): through the core directly."""
    flat = np.ascontiguousarray(images.reshape(len(images), -1), dtype=np.float32)
    if isinstance(target, tuple):
        _, post = net.core.forward64(flat.astype(np.float64))
        return post[target[1]][:, target[2]].copy()
    p = net.core.forward(flat, threads, False)
    return p[np.arange(len(images)), idx].astype(np.float64)


@dataclass(repr=False)
class MorphResult(SearchResult):
    """A morphed image: ``images`` and ``confidence`` like the other searches,
    plus how much each image changed: ``l2``, ``linf`` and ``changed`` (the
    number of pixels that moved by more than 1/255), ``original``, and
    ``reached`` (whether the confidence was reached)."""

    original: np.ndarray | None = None
    l2: np.ndarray | None = None
    linf: np.ndarray | None = None
    changed: np.ndarray | None = None
    reached: np.ndarray | None = None


def morph(net, image, target, *, method: str = "gradient", steps: int = 1000,
          confidence: float = 0.9, step_size: float = 0.01, seed: int = 0,
          threads: int | None = None, progress: bool = True, **deprecated) -> MorphResult:
    """The smallest change that makes the network call a real digit ``target``
    (a class index or name).

    ``method="gradient"``: normalised gradient steps of L2 length
    ``step_size`` on log p[target], clamped to [0, 1], stopping as soon as
    p[target] >= ``confidence``. ``method="hill"``: one-pixel hill climbing
    (:func:`netdream.hill_climb`, candidates of U(-0.1, 0.1)) from the image,
    in one call of the engine, each run stopping as soon as p[target] >=
    ``confidence``. ``image``: (28, 28) or (N, 28, 28). ``steps`` counts
    gradient steps or hill-climbing candidates (at most).
    """
    steps = renamed("morph", deprecated, {"max_steps": "steps"}).get("steps", steps)
    net = check_net(net)
    target = class_index(net, target)  # a name: its index, as the result keeps it
    check_choice(method, "method", MORPH_METHODS)
    x0, single = as_unit_float(image, "image", net.image_shape)
    n = x0.shape[0]
    t = _targets(net, target, n)
    confidence = check_rate(confidence, "confidence")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    steps = check_int(steps, "steps", 1)
    step_size = check_real(step_size, "step_size", low=0.0, low_open=True)
    seed = check_seed(seed)
    threads = check_threads(threads)
    x = x0.copy()
    rows = np.arange(n)

    def reached_now():
        return net.predict_proba(x.astype(np.float32), threads=threads)[rows, t] >= confidence

    if method == "gradient":
        goal = make_goal(net, int(t[0]) if n else 0, "logprob")
        done = reached_now()
        with progress_bar(total=steps, enabled=progress, unit="step", desc="morphing") as bar:
            for s in range(steps):
                if done.all():
                    break
                act = ~done
                g, _ = _gradient(net, x[act], goal, t[act], threads)
                norm = np.sqrt((g * g).sum(axis=tuple(range(1, g.ndim)), keepdims=True))
                x[act] = np.clip(x[act] + step_size * g / np.maximum(norm, 1e-12), 0.0, 1.0)
                done = reached_now()
                if bar.hook:
                    bar.callback(s + 1)
    else:
        from .dream import hill_climb
        for cls in np.unique(t):  # one engine call per target class
            sel = np.flatnonzero(t == cls)
            r = hill_climb(net, int(cls), start=x[sel].astype(np.float32), runs=sel.size,
                           steps=steps, stop_at=confidence, seed=seed, threads=threads,
                           progress=progress)
            x[sel] = r.images
        done = reached_now()
    images = x.astype(np.float32)
    probs = net.predict_proba(images, threads=threads)
    diff = images.astype(np.float64) - x0
    flat = diff.reshape(len(diff), -1)
    # pixels changed (a colour pixel: any of its channels)
    moved = np.abs(diff) > 1 / 255
    moved = moved.any(axis=1) if diff.ndim == 4 else moved
    p = probs[rows, t].astype(np.float64)
    return MorphResult(
        images=images, confidence=p, target=target, score=np.log(np.maximum(p, 1e-300)),
        method=f"morph/{method}", steps=steps, original=x0.astype(np.float32),
        l2=np.sqrt((flat ** 2).sum(axis=1)), linf=np.abs(flat).max(axis=1),
        changed=moved.reshape(len(diff), -1).sum(axis=1), reached=done,
        settings=dict(method=method, confidence=confidence, step_size=step_size, seed=seed),
        class_names=tuple(net.class_names))


@dataclass
class TransferResult:
    """How a second network sees images made to fool the first."""

    predicted: np.ndarray      # the other network's classes
    confidence: np.ndarray     # its probability of the target
    still_fooled: np.ndarray   # predicted == target (and p >= threshold)
    threshold: float

    @property
    def rate(self) -> float:
        """The share of images that still fool the other network."""
        return float(self.still_fooled.mean()) if self.still_fooled.size else float("nan")

    def __str__(self):
        return (f"{int(self.still_fooled.sum())}/{self.still_fooled.size} images still fool the "
                f"other network ({100 * self.rate:.1f}%) at p >= {self.threshold:g}")


def transfer(net, images, target=None, *, threshold: float = 0.5,
             threads: int | None = None) -> TransferResult:
    """Do fooling or morphed images fool ``net`` (another network) too?

    ``images``: an array or a search result (its ``target`` is used when
    ``target`` is not given). An image still fools when ``net`` predicts the
    target with probability >= ``threshold``. (Before 0.2 the network came
    second, ``transfer(images, net)``: that order still works, with a
    DeprecationWarning.)
    """
    from .model import MLP
    if not isinstance(net, MLP) and isinstance(images, MLP):
        warnings.warn("transfer(images, net) is deprecated; pass the network first: "
                      "transfer(net, images)", DeprecationWarning, stacklevel=2)
        net, images = images, net
    net = check_net(net)
    threshold = check_rate(threshold, "threshold")
    if target is None:
        target = getattr(images, "target", None)
        if target is None:
            raise ValueError("give target= (the class the images were made for)")
        if isinstance(target, str) and target == "all":
            target = np.arange(len(images.images))
    imgs = getattr(images, "images", images)
    x, _ = as_images(imgs, shape=net.image_shape)
    t = _targets(net, target, x.shape[0])
    p = net.predict_proba(x, threads=threads)
    pred = p.argmax(axis=1)
    conf = p[np.arange(len(t)), t].astype(np.float64)
    return TransferResult(pred, conf, (pred == t) & (conf >= threshold), float(threshold))
