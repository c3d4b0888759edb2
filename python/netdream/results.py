"""What every search returns: one result type, one trajectory type.

Every search — :func:`netdream.hill_climb`, :func:`netdream.evolve`,
:func:`netdream.gradient_ascent`, :func:`netdream.morph` — returns a
:class:`SearchResult` whose ``score`` is what the search maximised, **higher
is better**: the objective's score (``log p`` for ``"logprob"``, ``p`` for
``"prob"``, ...; see :mod:`netdream.goals`) minus the weighted regulariser.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

import numpy as np

from ._validation import as_images, unit_float

__all__ = ["SearchResult", "Trajectory", "Snapshot", "average"]


@dataclass
class Trajectory:
    """Snapshots of each run as the search went: ``images`` (runs, records,
    H, W) float32, ``scores`` (runs, records) — the search's score then,
    higher is better — and ``steps`` (records,), the step (candidate,
    generation or gradient step) of each record; the start is record 0."""

    images: np.ndarray
    scores: np.ndarray
    steps: np.ndarray

    @property
    def every(self) -> int:
        """Steps between records."""
        return int(self.steps[1] - self.steps[0]) if len(self.steps) > 1 else 0

    @property
    def values(self) -> np.ndarray:
        """Deprecated: the negated scores, as hill_climb reported them before 0.2."""
        warnings.warn("Trajectory.values is deprecated; use Trajectory.scores (higher is "
                      "better, the negation of values)", DeprecationWarning, stacklevel=2)
        return -self.scores


@dataclass
class Snapshot:
    """A search in progress, as a ``callback=`` of :func:`netdream.hill_climb`
    or :func:`netdream.evolve` sees it (about 20 times a second):
    ``images`` (rows, H, W) float32 — every run of a hill climb, the best
    individual of a genetic search (one row), or its MAP-Elites archive (one
    row per class) — their ``scores`` (rows,) and ``steps`` (rows,): the
    candidates tried or generations run so far."""

    images: np.ndarray
    scores: np.ndarray
    steps: np.ndarray


def _wrap_callback(callback, shape):
    """The core's callback(images, scores, steps) from a user's callback(Snapshot)."""
    if callback is None:
        return None
    if not callable(callback):
        raise TypeError(f"callback must be callable, got {type(callback).__name__}")

    def call(images, scores, steps):
        return callback(Snapshot(images.reshape(-1, *shape), scores, steps))
    return call


@dataclass(repr=False)
class SearchResult:
    """What a search found.

    ``images``: (runs, H, W) in [0, 1], ink high (float32, or float64 for a
    hill climb with ``precision="float64"``). ``confidence``: the model's
    probability of the target class for each image (for a hidden unit: the
    unit's activation), computed from the returned images. ``score``: what
    the search maximised, higher is better (the objective minus the weighted
    regulariser). ``steps``: candidates per run (hill climbing), generations
    run (genetic search) or gradient steps. ``accepted``: accepted candidates
    per run (hill climbing). ``trajectory``: snapshots when recorded.
    ``history``: per-generation ``best`` and ``mean`` fitness (genetic search).
    ``stopped``: the search's ``callback`` stopped it before the end (the
    result holds what it had reached). ``class_names``: the model's, for
    showing a class target by its name.
    """

    images: np.ndarray
    confidence: np.ndarray
    target: object
    score: np.ndarray
    method: str = "hill_climb"
    steps: int = 0
    accepted: np.ndarray | None = None
    trajectory: Trajectory | None = None
    history: dict | None = None
    settings: dict = field(default_factory=dict)
    stopped: bool = False
    _legacy_objective: np.ndarray | None = None
    class_names: tuple | None = None

    def _class_name(self, run: int | None = None) -> str | None:
        """The name of the class run ``run`` aims at (of the one target when
        None), where the model's names say more than its index."""
        t = self.target
        if isinstance(t, str) and t == "all":
            t = run
        elif not isinstance(t, (int, np.integer)):
            t = np.asarray(t)
            if run is None or t.dtype.kind not in "iuU" or t.ndim != 1 or run >= len(t):
                return None
            t = t[run]
            if isinstance(t, str):  # given by name
                return t
        if t is None or not self.class_names or not 0 <= t < len(self.class_names):
            return None
        name = str(self.class_names[t])
        return None if name == str(t) else name

    def __repr__(self):
        c = self.confidence
        name = self._class_name()
        target = f"{self.target!r}" + (f" ({name})" if name else "")
        return (f"SearchResult({self.method}, target={target}, runs={len(self.images)}, "
                f"confidence min/median/max={c.min():.4f}/{np.median(c):.4f}/{c.max():.4f})")

    @property
    def objective(self) -> np.ndarray:
        """Deprecated: the per-method value the searches reported before 0.2
        (-log p for hill climbing, fitness for evolve, log p for gradient
        ascent). Use ``score`` (higher is better for every search)."""
        warnings.warn("SearchResult.objective is deprecated; use .score (higher is better for "
                      "every search)", DeprecationWarning, stacklevel=2)
        return self.score if self._legacy_objective is None else self._legacy_objective

    @property
    def generations(self) -> int:
        """Deprecated: the generations a genetic search ran; use ``steps``."""
        warnings.warn("SearchResult.generations is deprecated; use .steps", DeprecationWarning,
                      stacklevel=2)
        return self.steps

    def average(self) -> np.ndarray:
        """The mean image, (H, W) float64 ((C, H, W) in colour)."""
        return average(self)

    def _repr_png_(self):
        from .images import grid_image
        n = min(len(self.images), 32)
        names = [self._class_name(i) for i in range(n)]
        labels = [f"{name}: {c:.3f}" if name else f"{c:.3f}"
                  for name, c in zip(names, self.confidence[:n])]
        buf = io.BytesIO()
        grid_image(np.clip(self.images[:n], 0, 1), labels=labels, cmap="gray").save(buf, format="PNG")
        return buf.getvalue()


def average(result) -> np.ndarray:
    """The average of a search's images (the seed's "average of 1000 dreams"):
    (H, W) float64, or (C, H, W) for colour images. Takes a result with
    ``.images``, an image array ((N, H, W), or (N, C, H, W) in colour), or a
    :class:`netdream.distributed.Summary`."""
    if isinstance(result, SearchResult):  # unclamped gradient ascent may leave [0, 1]
        return np.asarray(result.images, dtype=np.float64).mean(axis=0)
    if not hasattr(result, "images") and callable(getattr(result, "average", None)):
        return result.average()  # a netdream.distributed.Summary: its runs' sum / count
    arr = np.asarray(getattr(result, "images", result))
    if not 2 <= arr.ndim <= 4:
        raise ValueError(f"images must have shape (H, W), (N, H, W) or (N, C, H, W), got "
                         f"{arr.shape}")
    x, _ = as_images(arr, shape=arr.shape[-2:] if arr.ndim < 4 else arr.shape[1:],
                     keep_float64=True)
    return unit_float(x).mean(axis=0)
