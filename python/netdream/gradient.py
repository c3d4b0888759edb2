"""Gradient ascent on the input, and adversarial morphing of real digits.

The gradient of an objective with respect to the image is computed in C++ by
backpropagation through the MLP (double precision), in the public
convention: images (N, 28, 28), ink high, values in [0, 1]; the model's own
input encoding is differentiated through.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from . import _core
from ._model import MLP
from ._progress import progress_bar
from ._validation import as_images, check_int, check_threads
from .dream import DreamResult, Trajectory
from .regularizers import Regularizer

__all__ = ["input_gradient", "gradient_ascent", "morph", "MorphResult", "transfer",
           "TransferResult"]

_OBJECTIVES = {"logprob": 0, "prob": 1, "margin": 2, "logit": 3}


def _images64(images, net, name="images"):
    x, single = as_images(images, name=name, shape=net.image_shape, keep_float64=True)
    x = x.astype(np.float64) / 255.0 if x.dtype == np.uint8 else x.astype(np.float64)
    return x, single


def _targets(target, n, k):
    t = np.asarray(target)
    if t.dtype.kind not in "iu" or t.ndim > 1:
        raise TypeError(f"target must be a class index or one per image, got {target!r}")
    t = np.broadcast_to(t.astype(np.int64), (n,)).copy() if t.ndim == 0 else t.astype(np.int64)
    if t.shape != (n,):
        raise ValueError(f"target must be one class or {n} classes, got shape {t.shape}")
    if n and (t.min() < 0 or t.max() >= k):
        raise ValueError(f"target must lie in 0..{k - 1}")
    return t


def _objective(objective):
    if objective not in _OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(_OBJECTIVES)}, got {objective!r}")
    return _OBJECTIVES[objective]


def _gradient(net, x, targets, code, threads):
    n = x.shape[0]
    g, v = _core.input_gradient(net.core, np.ascontiguousarray(x.reshape(n, -1)), targets, code,
                                threads)
    return g.reshape(x.shape), v


def input_gradient(net: MLP, images, target, objective: str = "logprob", *,
                   threads: int | None = None) -> np.ndarray:
    """d(objective)/d(image) for each image: (N, 28, 28) float64 ((28, 28) for one).

    ``objective`` (to maximise): "logprob" (log p[target]), "prob",
    "margin" (target logit minus the best other) or "logit". ``target``: a
    class, or one per image.
    """
    if not isinstance(net, MLP):
        raise TypeError(f"net must be a netdream.MLP, got {type(net).__name__}")
    x, single = _images64(images, net)
    t = _targets(target, x.shape[0], net.n_classes)
    g, _ = _gradient(net, x, t, _objective(objective), check_threads(threads))
    return g[0] if single else g


def _positive(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0 \
            or not np.isfinite(value):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def _start_images(net, start, runs, seed):
    h, w = net.image_shape
    if start is None:
        start = "blank"
    if isinstance(start, str):
        if start == "blank":
            return np.zeros((runs, h, w))
        if start == "noise":
            return np.random.default_rng(seed).random((runs, h, w))
        raise ValueError(f"start must be 'blank', 'noise' or images, got {start!r}")
    x, _ = _images64(start, net, "start")
    if x.shape[0] == 1:
        x = np.repeat(x, runs, axis=0)
    elif x.shape[0] != runs:
        raise ValueError(f"start has {x.shape[0]} images but runs={runs}")
    return x.copy()


def gradient_ascent(net: MLP, target, *, start=None, runs: int = 1, steps: int = 200,
                    step_size: float = 0.01, normalize: bool = True, clamp: bool = True,
                    objective: str = "logprob", regularizer: Regularizer | None = None,
                    seed: int = 0, threads: int | None = None, record_every: int = 0,
                    progress: bool = True) -> DreamResult:
    """Gradient ascent on the pixels (the seeds' recipes).

    Each step moves every image by ``step_size`` times the gradient of the
    objective (minus the regulariser's weighted gradient); with ``normalize``
    the gradient is first scaled to unit L2 norm, so ``step_size`` is the L2
    length of a step. With ``clamp`` pixels are kept in [0, 1].
    ``start``: None or "blank" (all background), "noise" (uniform, from
    ``seed``) or images.
    """
    if not isinstance(net, MLP):
        raise TypeError(f"net must be a netdream.MLP, got {type(net).__name__}")
    code = _objective(objective)
    runs = check_int(runs, "runs", 1)
    steps = check_int(steps, "steps", 0)
    seed = check_int(seed, "seed", 0)
    record_every = check_int(record_every, "record_every", 0)
    step_size = _positive(step_size, "step_size")
    threads = check_threads(threads)
    if regularizer is not None and not isinstance(regularizer, Regularizer):
        raise TypeError("regularizer must be a netdream.regularizers.Regularizer")
    x = _start_images(net, start, runs, seed)
    t = _targets(target, runs, net.n_classes)
    frames, values = [], []
    with progress_bar(total=steps, enabled=progress, unit="step", desc=f"ascending {target}") as bar:
        for s in range(steps + 1):
            g, v = _gradient(net, x, t, code, threads)
            if regularizer is not None and regularizer.weight:
                for r in range(runs):
                    g[r] -= regularizer.weight * regularizer.gradient(x[r])
                v = v - regularizer.weight * np.atleast_1d(regularizer.value(x))
            if record_every and s % record_every == 0:
                frames.append(x.astype(np.float32))
                values.append(v)
            if s == steps:
                break
            if normalize:
                norm = np.sqrt((g * g).sum(axis=(1, 2), keepdims=True))
                g = g / np.maximum(norm, 1e-12)
            x = x + step_size * g
            if clamp:
                np.clip(x, 0.0, 1.0, out=x)
            if bar.hook:
                bar.callback(s + 1)
    images = x.astype(np.float32)
    probs = net.predict_proba(images, threads=threads)
    confidence = probs[np.arange(runs), t].astype(np.float64)
    trajectory = None
    if record_every:
        trajectory = Trajectory(record_every, np.stack(frames, axis=1), np.stack(values, axis=1))
    return DreamResult(images, confidence, target, v, np.zeros(runs, np.int64), steps,
                       trajectory, method="gradient_ascent")


@dataclass
class MorphResult(DreamResult):
    """A morphed image: ``images`` and ``confidence`` like the other searches,
    plus how much each image changed: ``l2``, ``linf`` and ``changed`` (the
    number of pixels that moved by more than 1/255), and ``original``."""

    original: np.ndarray = None
    l2: np.ndarray = None
    linf: np.ndarray = None
    changed: np.ndarray = None
    reached: np.ndarray = None


def morph(net: MLP, image, target, *, method: str = "gradient", max_steps: int = 1000,
          confidence: float = 0.9, step_size: float = 0.01, seed: int = 0,
          threads: int | None = None, progress: bool = True) -> MorphResult:
    """The smallest change that makes the network call a real digit ``target``.

    ``method="gradient"``: normalised gradient steps of L2 length
    ``step_size`` on log p[target], clamped to [0, 1], stopping as soon as
    p[target] >= ``confidence``. ``method="hill"``: one-pixel hill climbing
    (netdream.hill_climb) from the image, in rounds of 100 candidates, with
    the same stop. ``image``: (28, 28) or (N, 28, 28). ``max_steps`` counts
    gradient steps or hill-climbing candidates.
    """
    if not isinstance(net, MLP):
        raise TypeError(f"net must be a netdream.MLP, got {type(net).__name__}")
    if method not in ("gradient", "hill"):
        raise ValueError(f"method must be 'gradient' or 'hill', got {method!r}")
    x0, single = _images64(image, net, "image")
    n = x0.shape[0]
    t = _targets(target, n, net.n_classes)
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real) \
            or not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    max_steps = check_int(max_steps, "max_steps", 1)
    step_size = _positive(step_size, "step_size")
    seed = check_int(seed, "seed", 0)
    threads = check_threads(threads)
    x = x0.copy()
    rows = np.arange(n)

    def reached_now():
        return net.predict_proba(x.astype(np.float32), threads=threads)[rows, t] >= confidence

    done = reached_now()
    with progress_bar(total=max_steps, enabled=progress, unit="step", desc="morphing") as bar:
        if method == "gradient":
            for s in range(max_steps):
                if done.all():
                    break
                act = ~done
                g, _ = _gradient(net, x[act], t[act], 0, threads)
                norm = np.sqrt((g * g).sum(axis=(1, 2), keepdims=True))
                x[act] = np.clip(x[act] + step_size * g / np.maximum(norm, 1e-12), 0.0, 1.0)
                done = reached_now()
                if bar.hook:
                    bar.callback(s + 1)
        else:
            from .dream import hill_climb
            rounds = (max_steps + 99) // 100
            for k in range(rounds):
                act = np.flatnonzero(~done)
                if act.size == 0:
                    break
                for i in act:
                    r = hill_climb(net, int(t[i]), start=x[i].astype(np.float32), steps=100,
                                   seed=seed + k, progress=False, threads=1)
                    x[i] = r.images[0]
                done = reached_now()
                if bar.hook:
                    bar.callback(min(max_steps, 100 * (k + 1)))
    images = x.astype(np.float32)
    probs = net.predict_proba(images, threads=threads)
    diff = images.astype(np.float64) - x0
    result = MorphResult(
        images=images, confidence=probs[rows, t].astype(np.float64), target=target,
        objective=np.log(np.maximum(probs[rows, t], 1e-300)), accepted=np.zeros(n, np.int64),
        method=f"morph/{method}", original=x0.astype(np.float32),
        l2=np.sqrt((diff ** 2).sum(axis=(1, 2))), linf=np.abs(diff).max(axis=(1, 2)),
        changed=(np.abs(diff) > 1 / 255).sum(axis=(1, 2)), reached=done)
    return result


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


def transfer(images, other_net: MLP, target=None, *, threshold: float = 0.5,
             threads: int | None = None) -> TransferResult:
    """Do fooling or morphed images fool ``other_net`` too?

    ``images``: an array or a search result (its ``target`` is used when
    ``target`` is not given). An image still fools when the other network
    predicts the target with probability >= ``threshold``.
    """
    if not isinstance(other_net, MLP):
        raise TypeError(f"other_net must be a netdream.MLP, got {type(other_net).__name__}")
    if target is None:
        target = getattr(images, "target", None)
        if target is None or target == "all":
            if target == "all":
                target = np.arange(len(images.images))
            else:
                raise ValueError("give target= (the class the images were made for)")
    imgs = getattr(images, "images", images)
    x, _ = as_images(imgs, shape=other_net.image_shape)
    t = _targets(target, x.shape[0], other_net.n_classes)
    p = other_net.predict_proba(x, threads=threads)
    pred = p.argmax(axis=1)
    conf = p[np.arange(len(t)), t].astype(np.float64)
    return TransferResult(pred, conf, (pred == t) & (conf >= threshold), float(threshold))
