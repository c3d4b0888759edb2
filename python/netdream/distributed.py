"""netdream's searches on a Dask cluster (``pip install "netdream[distributed]"``).

The functions here take the arguments of the local searches plus a Dask
``client``; the runs are split into chunks, one task per chunk, and the
tasks run the local engines on the workers::

    from distributed import Client
    import netdream.distributed as nd

    client = Client("scheduler:8786")           # or LocalCluster(...), or None:
    r = nd.hill_climb(net, 3, runs=1000)        #   the current client
    s = nd.hill_climb(net, 3, runs=10**6, summary=True)   # a Summary: flat memory
    s.average(), s.examples, s.histogram

    with client.as_current():                   # Dask's own way to choose a client
        nd.evolve(net, 3, runs=64)

* **The same images.** Run ``r`` uses random stream ``r`` of ``seed`` (the
  engines' ``first_run=`` / ``run=``), so a distributed search returns the
  images of the local one, bit for bit, for any chunking and any number of
  workers.
* **Summaries.** With ``summary=True`` a worker reduces its chunk to a
  partial sum (float64 sum image, count, confidence histogram and moments,
  the images of the first ``keep`` runs) and the client merges them in chunk
  order as they arrive: memory stays flat however many runs there are, and
  ``Summary.average()`` equals the local ``average`` to float64 rounding.
* **The model travels once.** It is broadcast to every worker
  (``client.scatter(broadcast=True)``), not sent with every task; a model
  pickles as its arrays and its compiled core is rebuilt on the worker, as are
  the regularisers' Numba C wrappers.
* **Failures.** A task is a pure function of (model, settings, seed, run
  range): when a worker dies Dask runs its tasks again elsewhere and the
  result is unchanged. Ctrl-C (KeyboardInterrupt) on the client cancels the
  search's tasks (a chunk already running finishes on its worker, then its
  result is dropped).

:func:`sweep` runs a grid of models x targets x methods x settings and
returns a pandas DataFrame, with the averages, histograms and kept examples
(and optionally every image) in a Zarr store that the rows point into.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import time
from dataclasses import dataclass, field

import numpy as np

from ._validation import check_bool, check_int, check_net, check_path

_INSTALL = 'pip install "netdream[distributed]"'


def _require(module: str):
    """Import ``module`` (an optional dependency) or say how to install it."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(f"netdream.distributed needs {module!r}, which is not installed; "
                          f"install the extra: {_INSTALL} (dask[distributed], pandas, zarr)"
                          ) from err


distributed = _require("distributed")
from dask.base import tokenize  # noqa: E402  (dask comes with distributed)

__all__ = ["hill_climb", "evolve", "gradient_ascent", "sweep", "Summary", "chunk_size",
           "METHODS", "BINS"]

#: The searches that run distributed (and in :func:`sweep`).
METHODS = ("hill_climb", "evolve", "gradient_ascent")
#: Bins of the confidence histogram of a :class:`Summary` (equal bins of [0, 1]).
BINS = 1000
#: One core's hill-climbing candidates per second (the shipped model; for
#: chunk_size only: measured 3-6 million on the development machine).
CORE_RATE = 4e6
#: The scheduler's cost per task, in seconds (Dask documents about 1 ms; a
#: few ms per task end to end measured here, see the README's "Scaling").
TASK_COST = 1e-3
#: At most this many tasks per thread of the cluster (see chunk_size).
TASKS_PER_THREAD = 16
#: Rough cost of one generation's child / one gradient step, in hill-climbing
#: candidates (for chunk_size only).
_COST = {"hill_climb": 1, "evolve": 4, "gradient_ascent": 300}


# ----------------------------------------------------------------- summary
@dataclass(repr=False)
class Summary:
    """A search reduced as it ran: what a million runs leave without a million
    images. ``count`` runs; ``sum`` their float64 sum image; ``histogram``
    the count of confidences in :data:`BINS` equal bins of [0, 1] (values
    outside are put in the end bins); ``confidence_sum``, ``confidence_sumsq``,
    ``confidence_min``, ``confidence_max``; ``score_sum``; ``examples`` the
    images of the first ``keep`` runs (``example_runs``, their run numbers,
    ``example_confidence``); ``seconds``: compute time summed over the tasks;
    ``candidates``: work done (hill-climbing candidates, children bred, or
    gradient steps). Summaries of disjoint runs :meth:`merge`."""

    target: object
    method: str
    count: int
    sum: np.ndarray
    histogram: np.ndarray
    confidence_sum: float
    confidence_sumsq: float
    confidence_min: float
    confidence_max: float
    score_sum: float
    examples: np.ndarray
    example_runs: np.ndarray
    example_confidence: np.ndarray
    seconds: float = 0.0
    candidates: int = 0
    settings: dict = field(default_factory=dict)

    @classmethod
    def of(cls, result, first_run: int, keep: int, seconds: float = 0.0,
           candidates: int = 0) -> "Summary":
        """The summary of a SearchResult whose runs start at ``first_run``
        (counted from the search's first run: only runs below ``keep`` are
        kept, so later chunks send no images)."""
        images = np.asarray(result.images)
        c = np.asarray(result.confidence, dtype=np.float64)
        k = max(0, min(keep - first_run, len(images)))  # only the first `keep` runs are kept
        return cls(result.target, result.method, len(images),
                   images.astype(np.float64).sum(axis=0), _histogram(c), float(c.sum()),
                   float((c * c).sum()), float(c.min()), float(c.max()),
                   float(np.sum(result.score, dtype=np.float64)),
                   images[:k].astype(np.float32), np.arange(first_run, first_run + k),
                   c[:k].copy(), seconds, candidates, dict(result.settings))

    def merge(self, other: "Summary", keep: int) -> "Summary":
        """The summary of both (disjoint) sets of runs, keeping the images of
        the ``keep`` lowest-numbered runs."""
        runs = np.concatenate([self.example_runs, other.example_runs])
        order = np.argsort(runs, kind="stable")[:keep]
        examples = np.concatenate([self.examples, other.examples])
        conf = np.concatenate([self.example_confidence, other.example_confidence])
        return Summary(self.target, self.method, self.count + other.count, self.sum + other.sum,
                       self.histogram + other.histogram,
                       self.confidence_sum + other.confidence_sum,
                       self.confidence_sumsq + other.confidence_sumsq,
                       min(self.confidence_min, other.confidence_min),
                       max(self.confidence_max, other.confidence_max),
                       self.score_sum + other.score_sum, examples[order], runs[order],
                       conf[order], self.seconds + other.seconds,
                       self.candidates + other.candidates, self.settings)

    def average(self) -> np.ndarray:
        """The mean image, (H, W) float64."""
        return self.sum / self.count

    @property
    def confidence_mean(self) -> float:
        return self.confidence_sum / self.count

    @property
    def confidence_std(self) -> float:
        m = self.confidence_mean
        return math.sqrt(max(self.confidence_sumsq / self.count - m * m, 0.0))

    def confidence_quantile(self, q: float) -> float:
        """The ``q`` quantile of the confidence from the histogram (to within
        one bin, 1/BINS; clamped to the exact min and max)."""
        cum = np.cumsum(self.histogram)
        i = int(np.searchsorted(cum, q * self.count, side="left"))
        v = (min(i, BINS - 1) + 0.5) / BINS
        return float(min(max(v, self.confidence_min), self.confidence_max))

    def __repr__(self):
        return (f"Summary({self.method}, target={self.target!r}, runs={self.count:,}, confidence "
                f"mean {self.confidence_mean:.4f}, min {self.confidence_min:.4f}, max "
                f"{self.confidence_max:.4f}, {len(self.examples)} examples kept)")


def _histogram(c):
    idx = np.clip(np.floor(c * BINS), 0, BINS - 1).astype(np.int64)
    return np.bincount(idx, minlength=BINS).astype(np.int64)


# ------------------------------------------------------- work on a worker
def _take(value, a, b, runs):
    """Runs a..b of a per-run argument (an array with one row per run);
    anything else as it is."""
    if isinstance(value, np.ndarray) and value.ndim >= 1 and runs > 1 and len(value) == runs:
        return value[a:b]
    return value


def _per_run(method, target, kwargs):
    """Per-run arguments (start images, gradient ascent's targets) as arrays,
    so that each task is sent only its own rows."""
    kwargs = dict(kwargs)
    start = kwargs.get("start")
    if start is not None and not isinstance(start, (str, np.ndarray)):
        kwargs["start"] = np.asarray(start)
    if method == "gradient_ascent" and isinstance(target, (list, np.ndarray)):
        target = np.asarray(target)
    return target, kwargs


def _chunk(net, method, target, kw, a, n):
    """Runs a..a+n-1 of a search, on a worker (``target`` and ``kw`` hold
    only their rows of per-run arguments): (SearchResult, work done)."""
    from .dream import hill_climb as local_hill
    from .evolve import evolve as local_evolve
    from .gradient import gradient_ascent as local_ascent
    kw = dict(kw)
    kw.setdefault("threads", 1)
    if method == "hill_climb":
        first = kw.pop("first_run", 0)
        r = local_hill(net, target, runs=n, first_run=first + a, progress=False, **kw)
        return r, r.steps * n
    if method == "gradient_ascent":
        first = kw.pop("first_run", 0)
        r = local_ascent(net, target, runs=n, first_run=first + a, progress=False, **kw)
        return r, (r.steps + 1) * n
    first = kw.pop("run", 0)
    results = [local_evolve(net, target, run=first + r, progress=False, **kw)
               for r in range(a, a + n)]
    return _best_of(results), sum(x.settings["population"] * (x.steps + 1) for x in results)


def _best_of(results):
    """One SearchResult of independent genetic searches: the best individual
    of each (their ``steps``: the most generations any ran)."""
    from .results import SearchResult
    r0 = results[0]
    return SearchResult(np.stack([r.images[0] for r in results]),
                        np.array([r.confidence[0] for r in results]), r0.target,
                        np.array([r.score[0] for r in results]), method="evolve",
                        steps=max(r.steps for r in results),
                        history={"generations": np.array([r.steps for r in results])},
                        settings=dict(r0.settings), stopped=any(r.stopped for r in results))


def _task(net, method, target, kw, a, n, keep, store=None):
    """One task: runs a..a+n-1, returned whole ((SearchResult, seconds,
    work)) or, with ``keep`` not None, as a Summary; with ``store`` (path,
    row) the images are also written into the Zarr store's ``images[row,
    a:a+n]`` (the same values each time the task runs, so a rerun is
    harmless)."""
    t0 = time.perf_counter()
    result, candidates = _chunk(net, method, target, kw, a, n)
    seconds = time.perf_counter() - t0
    if store is not None:
        zarr = _require("zarr")
        path, row = store
        zarr.open_array(path, path="images", mode="r+")[row, a:a + n] = result.images
    if keep is None:
        return result, seconds, candidates
    return Summary.of(result, a, keep, seconds, candidates)


# -------------------------------------------------------------- the client
def _client(client):
    """The client to use: the one given, or Dask's current one (``with
    client.as_current():``, or the last Client made)."""
    if client is None:
        try:
            return distributed.Client.current()
        except ValueError:
            raise ValueError("no Dask client: pass client= or create one first, e.g. "
                             "distributed.Client(LocalCluster()) or "
                             "distributed.Client('scheduler:8786')") from None
    if not isinstance(client, distributed.Client):
        raise TypeError(f"client must be a distributed.Client, got {type(client).__name__}")
    return client


def _threads(client) -> int:
    return max(1, sum(client.nthreads().values()))


def chunk_size(runs: int, cost: float, threads: int, searches: int = 1) -> int:
    """Runs per task: each task at least half a second of one core's work
    (``cost``: one run's work in hill-climbing candidates, at
    :data:`CORE_RATE` a second) and long enough that the scheduler, at
    :data:`TASK_COST` a task, stays at most 20% busy with every one of the
    cluster's ``threads`` asking for work (on 1,600 threads: 8 s tasks); but
    no more than :data:`TASKS_PER_THREAD` tasks per thread over ``searches``
    searches of ``runs`` runs (fewer tasks cost less to submit and track; 16
    keep the tail that a slow or lost worker leaves at about 1/16)."""
    per_thread = math.ceil(runs * searches / (TASKS_PER_THREAD * max(threads, 1)))
    seconds = max(0.5, threads * TASK_COST / 0.2)
    least = math.ceil(CORE_RATE * seconds / max(cost, 1.0))
    return max(1, min(runs, max(per_thread, least)))


def _run_cost(method, kwargs):
    """One run's work in hill-climbing candidates (roughly; for chunk_size)."""
    steps = kwargs.get("steps", {"hill_climb": 20000, "evolve": 200,
                                 "gradient_ascent": 200}[method])
    if method == "evolve":
        steps *= kwargs.get("population", 200)
    return max(1, steps) * _COST[method]


def _check_common(runs, chunk, summary, keep, progress):
    runs = check_int(runs, "runs", 1)
    if chunk is not None:
        chunk = check_int(chunk, "chunk", 1)
    check_bool(summary, "summary")
    keep = check_int(keep, "keep", 0)
    check_bool(progress, "progress")
    return runs, chunk, keep


def _dry_run(net, method, target, kwargs, runs):
    """Check every argument on the client before anything is sent: the local
    search's first run, with no steps."""
    kw = {k: _take(v, 0, 1, runs) for k, v in kwargs.items()}
    kw["steps"] = 0
    kw["threads"] = 1
    _chunk(net, method, _take(target, 0, 1, runs), kw, 0, 1)


def _search(method, net, target, kwargs, *, runs, client, chunk, summary, keep, progress):
    net = check_net(net)
    runs, chunk, keep = _check_common(runs, chunk, summary, keep, progress)
    if method == "evolve" and isinstance(target, str):
        raise ValueError("a distributed evolve runs independent searches for one class; "
                         f"target={target!r} (MAP-Elites) runs locally: netdream.evolve")
    if method == "evolve" and kwargs.get("run", 0) + runs > 2**17:
        raise ValueError(f"run + runs must be <= {2**17:,} (the genetic search's run "
                         f"streams), got {kwargs.get('run', 0) + runs:,}")
    for name in ("progress", "runs", "callback"):
        if name in kwargs:
            raise TypeError(f"{method}() got an unexpected keyword argument {name!r}")
    target, kwargs = _per_run(method, target, kwargs)
    _dry_run(net, method, target, kwargs, runs)
    client = _client(client)
    if chunk is None:
        chunk = chunk_size(runs, _run_cost(method, kwargs), _threads(client))
    job = _Job(method, net, target, kwargs, runs, chunk)
    with _progress(runs, progress, f"{method} {target}") as bar:
        out = _execute(client, [job], None if not summary else keep, bar)[0]
    return out


@dataclass
class _Job:
    method: str
    net: object
    target: object
    kwargs: dict
    runs: int
    chunk: int
    store: tuple | None = None

    @property
    def bounds(self):
        return [(a, min(a + self.chunk, self.runs)) for a in range(0, self.runs, self.chunk)]


@contextlib.contextmanager
def _progress(total, enabled, desc):
    from ._progress import progress_bar
    with progress_bar(total=total, enabled=enabled, unit="run", unit_scale=True,
                      desc=desc) as bar:
        yield bar


def _execute(client, jobs, keep, bar):
    """Run the jobs' tasks on the cluster; one result per job (a SearchResult
    or, with ``keep`` not None, a Summary), merged in chunk order as the
    tasks finish. Models are broadcast once each; on any exception
    (KeyboardInterrupt included) the tasks are cancelled."""
    models, futures, where = {}, [], {}
    try:
        for job in jobs:
            if id(job.net) not in models:
                models[id(job.net)] = client.scatter(job.net, broadcast=True, hash=False)
        for j, job in enumerate(jobs):
            model = models[id(job.net)]
            token = tokenize(model.key, job.method, job.target, job.kwargs, job.runs, keep,
                             job.store, j)
            for i, (a, b) in enumerate(job.bounds):
                kw = {k: _take(v, a, b, job.runs) for k, v in job.kwargs.items()}
                f = client.submit(_task, model, job.method, _take(job.target, a, b, job.runs),
                                  kw, a, b - a, keep, job.store,
                                  key=f"netdream-{job.method}-{token}-{a}")
                futures.append(f)
                where[f.key] = (j, i, b - a)
        parts = [dict() for _ in jobs]
        folded = [None] * len(jobs)
        next_chunk = [0] * len(jobs)
        done = 0
        for f in distributed.as_completed(futures):
            j, i, n = where[f.key]
            parts[j][i] = f.result()
            f.release()
            while next_chunk[j] in parts[j]:  # merge in chunk order: deterministic
                part = parts[j].pop(next_chunk[j])
                folded[j] = _fold(folded[j], part, keep)
                next_chunk[j] += 1
            done += n
            bar.callback(done)
        return [_finish(job, f, keep) for job, f in zip(jobs, folded)]
    except BaseException:
        client.cancel(futures)
        raise
    finally:
        for m in models.values():
            m.release()


def _fold(acc, part, keep):
    if keep is not None:
        return part if acc is None else acc.merge(part, keep)
    acc = acc or []
    acc.append(part)
    return acc


def _finish(job, folded, keep):
    if keep is None:
        return _concat(job, folded)
    folded.target = job.target
    for name in ("first_run", "run"):  # the search's, not its first chunk's
        if name in folded.settings:
            folded.settings[name] = job.kwargs.get(name, 0)
    return folded


def _concat(job, parts):
    """One SearchResult from the chunks' results (in run order)."""
    from .results import SearchResult, Trajectory
    results = [p[0] for p in parts]
    r0 = results[0]
    cat = lambda name: (None if getattr(r0, name) is None else  # noqa: E731
                        np.concatenate([getattr(r, name) for r in results]))
    trajectory = None
    if r0.trajectory is not None:
        trajectory = Trajectory(np.concatenate([r.trajectory.images for r in results]),
                                np.concatenate([r.trajectory.scores for r in results]),
                                r0.trajectory.steps)
    settings = dict(r0.settings)
    for name in ("first_run", "run"):
        if name in settings:
            settings[name] = job.kwargs.get(name, 0)
    history = None
    if job.method == "evolve":
        history = {"generations": np.concatenate([r.history["generations"] for r in results])}
    return SearchResult(cat("images"), cat("confidence"), job.target, cat("score"),
                        method=job.method, steps=max(r.steps for r in results),
                        accepted=cat("accepted"), trajectory=trajectory, history=history,
                        settings=settings, stopped=any(r.stopped for r in results),
                        class_names=r0.class_names)


# ----------------------------------------------------------- the searches
_DOC = """

    Distributed: ``client`` (a ``distributed.Client``; None: the current
    one), ``chunk`` (runs per task; default :func:`chunk_size`), ``summary``
    (False: every image comes back, bit-identical to the local search; True:
    a :class:`Summary`, memory flat in ``runs``), ``keep`` (with
    ``summary``: the images of the first ``keep`` runs), ``progress`` (a bar
    counting finished runs across the cluster). Each task runs the local
    engine with ``threads=1`` unless ``threads`` is given. Every other
    argument is the local search's (checked on the client first).
    """


def hill_climb(net, target, *, runs: int = 1, client=None, chunk: int | None = None,
               summary: bool = False, keep: int = 16, progress: bool = True, **kwargs):
    """:func:`netdream.hill_climb` on a Dask cluster: run ``r`` is run ``r``
    of the local search (random stream ``first_run + r`` of ``seed``)."""
    return _search("hill_climb", net, target, kwargs, runs=runs, client=client, chunk=chunk,
                   summary=summary, keep=keep, progress=progress)


def evolve(net, target, *, runs: int = 1, client=None, chunk: int | None = None,
           summary: bool = False, keep: int = 16, progress: bool = True, **kwargs):
    """Independent repeats of :func:`netdream.evolve` on a Dask cluster:
    repeat ``r`` is ``netdream.evolve(..., run=run + r)``. The result holds
    the best individual of each repeat (``images[r]`` is
    ``netdream.evolve(..., run=r).images[0]``); ``history["generations"]``
    the generations each ran."""
    return _search("evolve", net, target, kwargs, runs=runs, client=client, chunk=chunk,
                   summary=summary, keep=keep, progress=progress)


def gradient_ascent(net, target, *, runs: int = 1, client=None, chunk: int | None = None,
                    summary: bool = False, keep: int = 16, progress: bool = True, **kwargs):
    """:func:`netdream.gradient_ascent` on a Dask cluster (runs are
    independent: a chunk's runs are ``first_run + a ..``, per-run targets
    and start images are split with them)."""
    return _search("gradient_ascent", net, target, kwargs, runs=runs, client=client,
                   chunk=chunk, summary=summary, keep=keep, progress=progress)


for _f in (hill_climb, evolve, gradient_ascent):
    _f.__doc__ += _DOC


# ------------------------------------------------------------------- sweep
def _grid(settings, name="settings"):
    """A list of keyword dicts from a dict of lists (their product, like
    scikit-learn's ParameterGrid), a list of dicts, or None ([{}])."""
    if settings is None:
        return [{}]
    if isinstance(settings, dict):
        keys = list(settings)
        values = []
        for k in keys:
            v = settings[k]
            values.append(list(v) if isinstance(v, (list, tuple)) else [v])
        return [dict(zip(keys, combo)) for combo in itertools.product(*values)]
    if isinstance(settings, (list, tuple)) and all(isinstance(s, dict) for s in settings):
        return [dict(s) for s in settings] or [{}]
    raise TypeError(f"{name} must be a dict of lists or a list of dicts, got "
                    f"{type(settings).__name__}")


def _models(models):
    """{name: model} from a dict, a list of models, or one model."""
    from .model import Network
    if isinstance(models, Network):
        models = [models]
    if isinstance(models, dict):
        items = list(models.items())
    elif isinstance(models, (list, tuple)):
        items = [(str(m.metadata.get("name", f"model{i}")) if isinstance(m, Network) else
                  f"model{i}", m) for i, m in enumerate(models)]
        names = [n for n, _ in items]
        if len(set(names)) != len(names):
            items = [(f"model{i}", m) for i, (_, m) in enumerate(items)]
    else:
        raise TypeError(f"models must be a model, a list of models or a dict name -> model, "
                        f"got {type(models).__name__}")
    if not items:
        raise ValueError("models must not be empty")
    return [(str(n), check_net(m, f"models[{n!r}]")) for n, m in items]


def _describe(settings):
    def plain(v):
        if isinstance(v, (bool, int, float, str)) or v is None:
            return v
        return repr(v)
    return json.dumps({k: plain(v) for k, v in sorted(settings.items())})


def sweep(models, targets=range(10), methods=("hill_climb",), settings=None, *,
          runs: int = 100, seed: int = 0, store=None, images: bool = False, keep: int = 16,
          client=None, chunk: int | None = None, progress: bool = True):
    """Every search of a grid, on a Dask cluster: a tidy table and a Zarr store.

    Parameters
    ----------
    models : a model, a list of models (named by their ``metadata["name"]``)
        or a dict name -> model. Each is broadcast to the workers once.
    targets : classes (e.g. ``range(10)``).
    methods : names from :data:`METHODS`, or a dict method -> its own
        settings grid (overriding ``settings``).
    settings : the keyword arguments of the searches: a dict of lists (their
        product) or a list of dicts; None: the defaults.
    runs : runs of each search (for "evolve": independent repeats).
    seed : the seed of every search (so rows differ only by what the grid
        varies).
    store : a path: a Zarr store (written anew) with, per row, ``average``
        (rows, H, W) float64, ``histogram`` (rows, BINS), ``examples`` (rows,
        keep, H, W) float32 (the first ``keep`` runs) and, with ``images``,
        every image, ``images`` (rows, runs, H, W) float32, chunked by task
        and written by the workers themselves (the store must be reachable
        from them: a shared file system or an object store URL).
    keep, client, chunk, progress : as for :func:`hill_climb`.

    Returns
    -------
    pandas.DataFrame, one row per (model, target, method, settings):
    ``model, target, method, settings`` (JSON), ``runs``, ``confidence_mean,
    confidence_std, confidence_min, confidence_median`` (to within 1/BINS),
    ``confidence_max``, ``score_mean``, ``seconds`` (compute time summed over
    the tasks), ``candidates``, ``candidates_per_s`` (per core) and
    ``row``: the row's index into the store's arrays. ``df.attrs`` holds
    ``store`` and ``wall_seconds``.
    """
    pd = _require("pandas")
    named = _models(models)
    targets = list(targets) if not isinstance(targets, int) else [targets]
    if not targets:
        raise ValueError("targets must not be empty")
    if isinstance(methods, str):
        methods = (methods,)
    per_method = {}
    if isinstance(methods, dict):
        for m, s in methods.items():
            per_method[m] = _grid(s, f"methods[{m!r}]")
    else:
        grid = _grid(settings)
        per_method = {m: grid for m in methods}
    if not per_method:
        raise ValueError("methods must not be empty")
    for m in per_method:
        if m not in METHODS:
            raise ValueError(f"methods must be among {', '.join(map(repr, METHODS))}, got {m!r}")
    runs, chunk_given, keep = _check_common(runs, chunk, True, keep, progress)
    check_bool(images, "images")
    if images and store is None:
        raise ValueError("images=True needs store= (where the workers write the images)")
    if store is not None:
        store = check_path(store, "store")
    rows = []
    for (name, net), target, (method, grid) in itertools.product(named, targets,
                                                                 per_method.items()):
        for s in grid:
            kw = dict(s)
            kw.setdefault("seed", seed)
            target, kw = _per_run(method, target, kw)
            for bad in ("runs", "progress", "callback", "client"):
                if bad in kw:
                    raise ValueError(f"settings must not set {bad!r} (the sweep sets it)")
            rows.append((name, net, target, method, kw))
    # every argument checked before anything runs
    for name, net, target, method, kw in {(r[0], r[2], r[3], _describe(r[4])): r
                                          for r in rows}.values():
        if method == "evolve" and isinstance(target, str):
            raise ValueError("sweep: evolve takes class targets")
        _dry_run(net, method, target, kw, runs)
    client = _client(client)
    threads = _threads(client)
    jobs = []
    for name, net, target, method, kw in rows:
        c = chunk_given or chunk_size(runs, _run_cost(method, kw), threads, len(rows))
        jobs.append(_Job(method, net, target, kw, runs, c))
    group = None
    if store is not None:
        group = _open_store(store, named, jobs, runs, keep, images)
        if images:
            for row, job in enumerate(jobs):
                job.store = (store, row)
    t0 = time.perf_counter()
    with _progress(runs * len(jobs), progress, f"sweep of {len(jobs)} searches") as bar:
        summaries = _execute(client, jobs, keep, bar)
    wall = time.perf_counter() - t0
    table = []
    for row, ((name, net, target, method, kw), s) in enumerate(zip(rows, summaries)):
        table.append(dict(model=name, target=target, method=method, settings=_describe(kw),
                          runs=s.count, confidence_mean=s.confidence_mean,
                          confidence_std=s.confidence_std, confidence_min=s.confidence_min,
                          confidence_median=s.confidence_quantile(0.5),
                          confidence_max=s.confidence_max, score_mean=s.score_sum / s.count,
                          seconds=s.seconds, candidates=s.candidates,
                          candidates_per_s=s.candidates / s.seconds if s.seconds else np.nan,
                          row=row))
        if group is not None:
            group["average"][row] = s.average()
            group["histogram"][row] = s.histogram
            if keep:
                group["examples"][row, :len(s.examples)] = s.examples
    df = pd.DataFrame(table)
    df.attrs["store"] = store
    df.attrs["wall_seconds"] = wall
    if group is not None:
        group.attrs["table"] = json.loads(df.to_json(orient="split", index=False))
    return df


def _open_store(path, named, jobs, runs, keep, images):
    """A new Zarr store for a sweep's arrays."""
    zarr = _require("zarr")
    shapes = {tuple(net.image_shape) for _, net in named}
    if len(shapes) != 1:
        raise ValueError(f"a sweep's models must take images of one shape to share a store, got "
                         f"{sorted(shapes)}")
    shape = shapes.pop()
    n = len(jobs)
    group = zarr.open_group(path, mode="w")
    group.create_array("average", shape=(n, *shape), chunks=(1, *shape), dtype="float64")
    group.create_array("histogram", shape=(n, BINS), chunks=(1, BINS), dtype="int64")
    group.create_array("examples", shape=(n, keep, *shape), chunks=(1, max(keep, 1), *shape),
                       dtype="float32", fill_value=np.nan)
    if images:
        chunk = jobs[0].chunk
        if any(j.chunk != chunk for j in jobs):  # one chunking, so tasks write whole chunks
            for j in jobs:
                j.chunk = chunk
        group.create_array("images", shape=(n, runs, *shape), chunks=(1, chunk, *shape),
                           dtype="float32")
    group.attrs["bins"] = BINS
    return group
