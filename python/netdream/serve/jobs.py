"""The searches a page runs: requests checked against the server's
:class:`Limits`, and the jobs that run them on a worker thread.

A dream is :func:`netdream.hill_climb` in bursts of about one frame (1/30
s, sized from the speed of the previous burst): each burst climbs on from
the images the last one reached with fresh random streams of the seed
(``first_run``), and its images go to the page. A burst costs about 0.1 ms
of set-up, so the core stays busy; a pause or a closed page takes effect
within one burst, and nothing runs while paused. A genetic search is
:func:`netdream.evolve` with its live ``callback`` (about 20 frames a
second); it cannot resume, so pausing it stops it.
"""

from __future__ import annotations

import base64
import io
import os
import threading
import time
from dataclasses import dataclass

import numpy as np

from .._validation import check_bool, check_choice, check_int, check_real

__all__ = ["Limits", "RequestError", "DreamRequest", "EvolveRequest", "Job", "encode_pixels",
           "painted_shape"]


@dataclass(frozen=True)
class Limits:
    """What one request may ask for, and how much the server runs at once."""

    steps: int = 10_000_000          #: candidates per run of a dream
    runs: int = 1000                 #: runs of a dream ("average of N dreams")
    candidates: int = 500_000_000    #: runs x steps of one dream
    population: int = 2000           #: children per generation of a genetic search
    generations: int = 20_000        #: generations of a genetic search
    jobs: int = 2                    #: searches running at once on the server
    message_bytes: int = 1_500_000   #: one WebSocket or API message
    drawing_bytes: int = 1_000_000   #: an encoded drawing (PNG)
    drawing_pixels: int = 1024 * 1024  #: a drawing's width x height
    shown: int = 8                   #: dreams shown side by side (the rest are averaged)
    paused_seconds: float = 600.0    #: a search paused longer is stopped (it holds a slot)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


class RequestError(ValueError):
    """A request the server refuses; its message is shown on the page."""


OBJECTIVES = ("logprob", "prob", "margin", "logit")
DREAM_STARTS = ("blank", "noise", "grey", "drawing")
_GIF_FRAMES = 120
_STUCK_AFTER = 20_000  # steps of a dream from blank before the page hears it is stuck there


def encode_pixels(images) -> list[str]:
    """Images in [0, 1] -> base64 strings of their uint8 pixels, which the
    page paints without decoding a PNG: grey (N, H, W) or (N, 1, H, W) row
    by row; colour (N, 3, H, W) as RGB triples row by row (see
    :func:`painted_shape`); other channel counts as their mean, grey."""
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 4:
        x = x.transpose(0, 2, 3, 1) if x.shape[1] == 3 else x.mean(axis=1)
    x = np.rint(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)
    return [base64.b64encode(im.tobytes()).decode("ascii") for im in x]


def painted_shape(net) -> list[int]:
    """``[channels, height, width]`` of the pixels :func:`encode_pixels`
    sends for ``net``'s images: 3 channels for colour, else 1."""
    shape = tuple(net.image_shape)
    return [3 if len(shape) == 3 and shape[0] == 3 else 1, shape[-2], shape[-1]]


def _field(msg: dict, name: str, default=None):
    return msg.get(name, default)


def _checked(fn, *args, **kwargs):
    """Run a netdream check; its ValueError/TypeError becomes a RequestError."""
    try:
        return fn(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        raise RequestError(str(exc)) from None


def parse_target(net, value, *, allow_all=False):
    """A class index, {"hidden": [layer, unit]}, {"channel": [layer, c]} (a
    convolutional network's conv or pool layer) or, with ``allow_all``, "all"."""
    if allow_all and isinstance(value, str) and value == "all":
        return "all"
    if isinstance(value, dict) and set(value) == {"channel"}:
        from ..layers import AvgPool2D, Conv2D, MaxPool2D
        pair = value["channel"]
        if not (isinstance(pair, list) and len(pair) == 2):
            raise RequestError(f"target.channel must be [layer, channel], got {pair!r}")
        layers = getattr(net, "layers", [])
        if not any(isinstance(l, Conv2D) for l in layers):
            raise RequestError("channel dreams need a convolutional network")
        layer = _checked(check_int, pair[0], "layer", 0, len(layers) - 1)
        if not isinstance(layers[layer], (Conv2D, MaxPool2D, AvgPool2D)):
            raise RequestError(f"layer {layer} is not a convolution or pooling layer")
        channels = net.layer_shapes[layer][0]
        c = _checked(check_int, pair[1], "channel", 0, channels - 1)
        return ("channel", layer, c)
    if isinstance(value, dict) and set(value) == {"hidden"}:
        pair = value["hidden"]
        if not (isinstance(pair, list) and len(pair) == 2):
            raise RequestError(f"target.hidden must be [layer, unit], got {pair!r}")
        sizes = getattr(net, "sizes", None)
        if sizes is None:
            raise RequestError("hidden-unit dreams need a dense network (an MLP)")
        layer = _checked(check_int, pair[0], "hidden layer", 0, len(sizes) - 3)
        unit = _checked(check_int, pair[1], "hidden unit", 0, sizes[layer + 1] - 1)
        return ("hidden", layer, unit)
    k = net.n_classes
    return _checked(check_int, value, "target", 0, k - 1)


@dataclass
class DreamRequest:
    target: object
    runs: int
    steps: int
    start: object          # "blank", "noise", "grey" or an image (28, 28) uint8
    objective: str
    step_size: float
    smoothness: float
    seed: int
    average: bool
    pace: int              # candidates per second per run (0: full speed)
    shown: int

    @classmethod
    def parse(cls, msg: dict, net, limits: Limits, drawing) -> "DreamRequest":
        target = parse_target(net, _field(msg, "target"))
        runs = _checked(check_int, _field(msg, "runs", 1), "runs", 1, limits.runs)
        steps = _checked(check_int, _field(msg, "steps", 200_000), "steps", 1, limits.steps)
        if runs * steps > limits.candidates:
            raise RequestError(f"runs x steps must be <= {limits.candidates:,}, got "
                               f"{runs:,} x {steps:,}")
        start = _field(msg, "start", "blank")
        _checked(check_choice, start, "start", DREAM_STARTS)
        if start == "drawing":
            start = drawing()  # the prepared 28x28 drawing, or a RequestError
        objective = _field(msg, "objective", "logprob")
        _checked(check_choice, objective, "objective", OBJECTIVES)
        step_size = _checked(check_real, _field(msg, "step_size", 0.1), "step_size",
                             low=0.0, high=1.0, low_open=True)
        smoothness = _checked(check_real, _field(msg, "smoothness", 0.0), "smoothness",
                              low=0.0, high=10.0)
        seed = _checked(check_int, _field(msg, "seed", 0), "seed", 0, 2**32 - 1)
        average = _checked(check_bool, _field(msg, "average", False), "average")
        pace = _checked(check_int, _field(msg, "pace", 0), "pace", 0, limits.steps)
        return cls(target, runs, steps, start, objective, step_size, smoothness, seed, average,
                   pace, min(runs, limits.shown))


@dataclass
class EvolveRequest:
    target: object
    population: int
    steps: int
    seed: int

    @classmethod
    def parse(cls, msg: dict, net, limits: Limits) -> "EvolveRequest":
        target = parse_target(net, _field(msg, "target"), allow_all=True)
        if isinstance(target, tuple):
            raise RequestError("a genetic search breeds for a class or 'all', not a hidden unit")
        population = _checked(check_int, _field(msg, "population", 200), "population", 2,
                              limits.population)
        steps = _checked(check_int, _field(msg, "steps", 500), "steps", 1, limits.generations)
        seed = _checked(check_int, _field(msg, "seed", 0), "seed", 0, 2**32 - 1)
        return cls(target, population, steps, seed)


class Job:
    """One search of one page on a worker thread. ``send(message)`` is
    called from that thread with every frame and change of state;
    ``release()`` once the thread ends."""

    def __init__(self, job_id: int, net, request, send, release, threads: int | None = None,
                 max_pause: float = 600.0):
        self.id = job_id
        self.net = net
        self.request = request
        self.kind = "dream" if isinstance(request, DreamRequest) else "evolve"
        self._send = send
        self._release = release
        self._threads = threads
        self._max_pause = max_pause
        self.finished = False
        self.frame_interval = 1 / 30     # seconds of climbing per frame
        self._halt = threading.Event()   # stop (or pause) the running search
        self._wake = threading.Condition()
        self._command = "run"            # run, pause, stop
        self.frames: list[np.ndarray] = []  # run 0 (or the best image), for the GIF
        self._frame_every = 1
        self._seen = 0
        self.candidates = 0
        self._elapsed = 0.0             # seconds searching (pauses excluded)
        self.thread = threading.Thread(target=self._main, name=f"netdream-serve-job-{job_id}",
                                       daemon=True)

    # -- control (from the event loop) ------------------------------------
    def start(self):
        self.thread.start()

    def pause(self):
        with self._wake:
            if self._command == "run":
                self._command = "pause"
                self._halt.set()

    def resume(self):
        with self._wake:
            if self._command == "pause":
                self._command = "run"
                self._wake.notify_all()

    def stop(self):
        with self._wake:
            self._command = "stop"
            self._halt.set()
            self._wake.notify_all()

    @property
    def alive(self) -> bool:
        """Still searching (or paused)."""
        return not self.finished

    # -- the worker thread --------------------------------------------------
    def _main(self):
        error = None
        try:
            state = self._dream() if self.kind == "dream" else self._evolve()
        except Exception as exc:  # shown on the page; the server goes on
            state, error = "failed", f"the search failed: {type(exc).__name__}: {exc}"
        finally:
            # the slot is free and pause/stop refused before the page hears of the end
            self.finished = True
            self._release()
        if error:
            self._send({"type": "error", "job": self.id, "message": error})
        self._state(state)

    def _state(self, state: str, **extra):
        self._send({"type": "state", "job": self.id, "kind": self.kind, "state": state, **extra})

    def _wait_while_paused(self) -> bool:
        """Block while paused; True to go on, False when stopped (or paused
        for longer than ``max_pause`` seconds)."""
        with self._wake:
            if self._command == "pause":
                self._halt.clear()
                self._state("paused", candidates=self.candidates)
            until = time.monotonic() + self._max_pause
            while self._command == "pause":
                left = until - time.monotonic()
                if left <= 0:
                    self._send({"type": "error", "job": self.id,
                                "message": f"the search was paused for over "
                                           f"{self._max_pause:g} s and has been stopped"})
                    return False
                self._wake.wait(left)
            if self._command == "stop":
                return False
            self._halt.clear()
            return True

    def _dream(self) -> str:
        from ..cli._common import percent
        from ..dream import _blank_confidence, _got_nowhere, _stays_blank, hill_climb
        from ..regularizers import smoothness
        r = self.request
        reg = smoothness(r.smoothness) if r.smoothness > 0 else None
        images = r.start if isinstance(r.start, str) else np.asarray(r.start, np.float64) / 255.0
        threads = min(r.runs, self._threads or os.cpu_count() or 1)
        done, segment = 0, 0
        # slow motion: `pace` candidates a second, in bursts of one frame
        burst = max(1, round(r.pace * self.frame_interval)) if r.pace else 4096
        # a class whose dreams get nowhere from a blank image: the page says
        # so, and which start to try
        blank = None
        if isinstance(r.start, str) and r.start == "blank" and isinstance(r.target, int):
            blank = _blank_confidence(self.net, r.target)
        self._state("running", candidates=0)
        while done < r.steps:
            if self._halt.is_set():
                if not self._wait_while_paused():
                    return "stopped"
                self._state("running", candidates=self.candidates)
            n = min(burst, r.steps - done)
            began = time.perf_counter()
            # runs r of burst k use the random streams k * runs + r of the seed
            result = hill_climb(self.net, r.target, steps=n, runs=r.runs, start=images,
                                step_size=r.step_size, objective=r.objective, regularizer=reg,
                                seed=r.seed, first_run=segment * r.runs, threads=threads,
                                progress=False)
            took = time.perf_counter() - began
            segment += 1
            done += n
            self.candidates += n * r.runs
            images = np.clip(result.images, 0.0, 1.0)
            if took > 0 and not r.pace:  # the next burst lasts about one frame
                burst = int(min(max(n * self.frame_interval / took, 256), r.steps))
            self._elapsed += took
            self._dream_frame(images, done, result.confidence, final=done >= r.steps)
            if blank is not None and done >= _STUCK_AFTER:
                best = float(np.max(result.confidence))
                note = None
                if _got_nowhere(best, blank):
                    note = ("stuck near the blank image: no one-pixel change gets further. "
                            "Try Start: grey or noise.")
                elif _stays_blank(images.mean(axis=0), best, blank):
                    name = self.net.class_names[r.target]
                    note = (f"the model reads a blank image as {name} already "
                            f"({percent(blank)}), so the dream has little to gain from ink "
                            "and stays (nearly) blank. Try Start: grey or noise.")
                if note:
                    self._send({"type": "note", "job": self.id, "message": note})
                blank = None  # once
            if r.pace and done < r.steps:  # a pause or stop ends the wait
                self._halt.wait(max(0.0, self.frame_interval - (time.perf_counter() - began)))
                self._elapsed = self._elapsed - took + time.perf_counter() - began
        return "done"

    def _dream_frame(self, images, done, confidence, final):
        """The first runs (with ``average``: their mean, then the first runs)."""
        r = self.request
        shown = images[:r.shown]
        conf = [float(c) for c in confidence[:r.shown]]
        if r.average:
            avg = images.mean(axis=0, keepdims=True)
            shown = np.concatenate([avg, shown[:r.shown - 1]])
            conf = _confidence(self.net, avg, r.target) + conf[:r.shown - 1]
        self._send_frame(shown, conf, final, progress=done / r.steps)

    def _evolve_frame(self, images, generation, final):
        """The best image, or the archive (one per class) for "all"."""
        r = self.request
        p = self.net.predict_proba(np.clip(images, 0, 1).astype(np.float32), threads=1)
        conf = ([float(p[k, k]) for k in range(len(images))] if r.target == "all"
                else [float(p[0, r.target])])
        self._send_frame(images, conf, final, progress=generation / r.steps,
                         generation=generation)

    def _send_frame(self, shown, confidence, final, **extra):
        rate = self.candidates / self._elapsed if self._elapsed > 0 else 0.0
        self._keep(shown[0])
        self._send({"type": "frame", "job": self.id, "kind": self.kind, "final": final,
                    "candidates": self.candidates, "rate": rate, "confidence": confidence,
                    "images": encode_pixels(shown), "shape": painted_shape(self.net), **extra})

    def _keep(self, image):
        """Keep every ``_frame_every``-th first image for the GIF, at most
        _GIF_FRAMES (every other one is dropped when full)."""
        self._seen += 1
        if (self._seen - 1) % self._frame_every:
            return
        self.frames.append(np.clip(np.asarray(image, dtype=np.float32), 0, 1).copy())
        if len(self.frames) >= _GIF_FRAMES:
            self.frames = self.frames[::2]
            self._frame_every *= 2

    def _evolve(self) -> str:
        from ..evolve import evolve
        r = self.request
        began = time.perf_counter()
        self._state("running", candidates=0)

        def live(snap):
            if self._halt.is_set():
                return False
            gen = int(snap.steps.max())
            self.candidates = gen * r.population
            self._elapsed = time.perf_counter() - began
            self._evolve_frame(snap.images, gen, final=False)
            return True

        result = evolve(self.net, r.target, population=r.population, steps=r.steps,
                        seed=r.seed, threads=self._threads, progress=False, callback=live)
        if result.stopped:
            return "stopped"
        self.candidates = result.steps * r.population
        self._elapsed = time.perf_counter() - began
        images = result.images if r.target == "all" else result.images[:1]
        self._evolve_frame(images, result.steps, final=True)
        return "done"

    def gif(self) -> bytes:
        """The kept frames of run 0 (or of the best image) as an animated GIF."""
        from ..images import save_gif
        frames = list(self.frames)  # the search may be adding to them
        if not frames:
            raise RequestError("nothing to save yet: run a search first")
        buf = io.BytesIO()
        save_gif(np.stack(frames), buf, duration=80, scale=8, cmap="gray", vmax=1.0)
        return buf.getvalue()


def _confidence(net, images, target) -> list[float]:
    """The target's probability (a hidden unit's activation) of each image."""
    from ..dream import _confidence as confidence
    return [float(c) for c in confidence(net, np.clip(images, 0, 1).astype(np.float32), target, 1)]
