"""Genetic search for images a network is sure about ("fooling images").

Nguyen, Yosinski & Clune (2015), "Deep Neural Networks are Easily Fooled":
a population of images is bred for the network's confidence in a class;
images it classifies with >= 99.99% confidence while they look like noise
appear within a few dozen generations. The generation loop runs in C++:
children are evaluated from their parent's layer-0 state where they differ
in few pixels, and selection, crossover and mutation use one random stream
per child (derived from seed, run, generation and index), so results are
bit-identical for any number of threads.
"""

from __future__ import annotations

import numpy as np

from . import _core
from ._progress import progress_bar
from ._validation import (check_bool, renamed, check_choice, check_int, check_memory, check_net,
                          check_rate, check_real, check_seed, check_threads)
from .goals import OBJECTIVES, class_index, make_goal, wanted_goal
from .priors import Prior
from .regularizers import Regularizer, core_terms, reraise
from .results import SearchResult, Trajectory, _wrap_callback

__all__ = ["evolve", "SELECTIONS", "CROSSOVERS", "MUTATIONS", "STARTS"]

SELECTIONS = ("tournament", "truncation")
CROSSOVERS = ("uniform", "sbx")
MUTATIONS = ("polynomial", "gaussian", "resample")
#: The first population: uniform noise, or pixels drawn from a prior's histogram.
STARTS = ("noise", "prior")

_ETA_CROSSOVER = 15.0  # SBX's distribution index (Deb's usual value)
_TRUNCATION = 0.5      # truncation selection: the better half may breed


def evolve(net, target, *, population: int = 200, steps: int = 200, elite: int | None = None,
           selection: str = "tournament", tournament: int | None = None,
           crossover: str = "uniform",
           crossover_rate: float = 0.5, mutation_rate: float = 0.1,
           mutation: str = "polynomial", eta: float = 5.0, sigma: float = 0.1,
           objective: str = "prob", regularizer: Regularizer | None = None,
           start: str = "noise", wanted=None, stop_at: float | None = None, seed: int = 0,
           run: int = 0, threads: int | None = None, record_every: int = 0,
           progress: bool = True, incremental: bool = True, callback=None,
           **deprecated) -> SearchResult:
    """Breed images for the network's confidence.

    Parameters
    ----------
    target : int, str, "all" or None
        A class (its index, or its name: one of ``net.class_names``);
        ``"all"`` for a MAP-Elites archive with one elite per class (Nguyen's
        MNIST setup); None with ``wanted``.
    population : children per generation.
    steps : generations.
    elite : the best individuals copied unchanged into the next generation
        (default 10, at most half the population).
    selection : "tournament" (the best of ``tournament`` random individuals;
        default 10, at most the population) or "truncation" (a random
        individual of the better half).
    crossover : "uniform" (each pixel from either parent) or "sbx" (simulated
        binary crossover); ``crossover_rate``: the share of children bred by
        crossover (the others are mutated copies of one parent).
    mutation : "polynomial" (Deb's, distribution index ``eta``), "gaussian"
        (``sigma``) or "resample" (a new value drawn from the prior's pixel
        histogram, or uniform without a prior); ``mutation_rate``: the
        probability that a pixel mutates.
    objective : the fitness of a class (see :mod:`netdream.goals`); "prob"
        (the default, Nguyen's: the confidence itself) or "logprob",
        "margin", "logit".
    regularizer : e.g. a :class:`netdream.priors.Prior`: fitness is the
        score minus the weighted regulariser.
    start : "noise" (uniform noise) or "prior" (pixels drawn from the pixel
        histogram of the :class:`~netdream.priors.Prior` in ``regularizer``).
    wanted : a full wanted output vector; fitness is then ``-sum |p - wanted|``
        (the seed's cost).
    stop_at : stop once the best confidence (every class's, for "all")
        reaches this, e.g. 0.9999.
    run : which independent search of ``seed`` this is (runs use different
        random streams; ``evolve(..., run=r)`` for r = 0, 1, ... are
        independent repeats).
    record_every : keep the best image (for "all": the archive) every so many
        generations, and at the last one (``result.trajectory``).
    callback : called about 20 times a second with a
        :class:`netdream.results.Snapshot` (the best individual; for "all" the
        archive, one row per class); if it returns ``False`` the search stops
        after the current generation (``result.stopped``).
    incremental : evaluate a child from its first parent's layer-0
        pre-activations when it differs from it in at most half of the
        pixels (every 16th generation is computed in full); False computes
        every child in full. The results agree to float32 rounding.

    Returns
    -------
    SearchResult with ``method="evolve"``: ``images`` (the population sorted
    by fitness, or the archive in class order for "all"), ``confidence`` (the
    target's probability; for "all", each cell's own class; with ``wanted``,
    ``1 - sum|p - wanted| / 2``), ``score`` (fitness, higher is better),
    ``steps`` (generations run) and ``history`` (``best`` and ``mean``
    fitness per generation, index 0 the first population; for "all" the
    lowest and mean confidence over the archive).
    """
    steps, regularizer, start = _deprecated_arguments(deprecated, steps, regularizer, start)
    net = check_net(net)
    k = net.n_classes
    map_elites = isinstance(target, str) and target == "all"
    if not map_elites:
        target = class_index(net, target)
    if wanted is not None:
        if map_elites:
            raise ValueError("wanted= does not combine with target='all'")
        goal = wanted_goal(net, wanted)
        if target is not None:
            goal.index = make_goal(net, target, allow_hidden=False).index
    elif map_elites:
        check_choice(objective, "objective", OBJECTIVES)
        goal = _core.Goal(kind=_core.TargetKind.output,
                          objective=_core.Objective.__members__[objective])
    else:
        if target is None:
            raise ValueError("target=None needs wanted= (a whole wanted output vector)")
        goal = make_goal(net, target, objective, allow_hidden=False)
    population = check_int(population, "population", 2, 10**7)
    steps = check_int(steps, "steps", 0, 10**9)
    elite = min(10, population // 2) if elite is None else check_int(elite, "elite", 0)
    if elite >= population:
        raise ValueError(f"elite must be smaller than population, got {elite} >= {population}")
    tournament = (min(10, population) if tournament is None
                  else check_int(tournament, "tournament", 1))
    if tournament > population:
        raise ValueError(f"tournament must be at most the population ({population}), got "
                         f"{tournament}")
    seed = check_seed(seed)
    run = check_int(run, "run", 0, 2**17 - 1)
    threads = check_threads(threads)
    record_every = check_int(record_every, "record_every", 0)
    check_bool(progress, "progress")
    crossover_rate = check_rate(crossover_rate, "crossover_rate")
    mutation_rate = check_rate(mutation_rate, "mutation_rate")
    check_choice(selection, "selection", SELECTIONS)
    check_choice(crossover, "crossover", CROSSOVERS)
    check_choice(mutation, "mutation", MUTATIONS)
    eta = check_real(eta, "eta", low=0.0, low_open=True)
    sigma = check_real(sigma, "sigma", low=0.0, low_open=True)
    check_choice(start, "start", STARTS)
    if regularizer is not None and not isinstance(regularizer, Regularizer):
        raise TypeError(f"regularizer must be a netdream.regularizers.Regularizer (e.g. "
                        f"netdream.priors.fit(...)), got {type(regularizer).__name__}")
    priors_in = [t for t in (regularizer.terms if regularizer is not None else [])
                 if isinstance(t, Prior)]
    cdf = priors_in[0].cdf if priors_in else np.zeros(0)
    if start == "prior" and cdf.size == 0:
        raise ValueError("start='prior' needs regularizer=netdream.priors.fit(...)")
    if stop_at is None:
        stop_at = 2.0  # never
    else:
        stop_at = check_real(stop_at, "stop_at")
    shape = net.image_shape
    n_pixels = net.n_pixels
    width0 = net.weights[0].shape[0] if hasattr(net, "weights") else 0
    check_memory(population * (n_pixels + width0 + 2 * k) * 4 * 2,
                 f"population={population:,} x {n_pixels} pixels")

    spec = _core.GaSpec(
        goal=goal, map_elites=map_elites, population=population, steps=steps, elite=elite,
        selection=_core.Selection.__members__[selection], tournament=tournament,
        truncation=_TRUNCATION, crossover=_core.Crossover.__members__[crossover],
        crossover_rate=crossover_rate, mutation_rate=mutation_rate,
        mutation=_core.Mutation.__members__[mutation], eta_mutation=eta,
        eta_crossover=_ETA_CROSSOVER, sigma=sigma, start=_core.GaStart.__members__[start],
        cdf=cdf.tolist(), regularizer=core_terms(regularizer), stop_at=stop_at,
        incremental=bool(incremental), record_every=record_every, seed=seed, run=run)
    with progress_bar(total=steps, enabled=progress, unit="gen", desc=f"evolving {target}") as bar:
        try:
            out = _core.evolve(net.core, spec, threads, bar.hook,
                               _wrap_callback(callback, net.image_shape))
        except _core.RegularizerError as err:
            reraise(regularizer, err, net.image_shape[-2:])
    images = out["images"].reshape(-1, *shape)
    fitness = out["fitness"]
    if not map_elites:
        order = np.argsort(-fitness, kind="stable")
        images, fitness = images[order], fitness[order]
    probs = net.predict_proba(images, threads=threads).astype(np.float64)
    if map_elites:
        confidence = probs[np.arange(k), np.arange(k)]
    elif wanted is not None:
        confidence = 1.0 - np.abs(probs - np.asarray(wanted, dtype=np.float64)).sum(axis=1) / 2
    else:
        confidence = probs[:, goal.index]
    trajectory = None
    if record_every:
        t = out["trace_images"]
        trajectory = Trajectory(np.swapaxes(t, 0, 1).reshape(t.shape[1], t.shape[0], *shape),
                                out["trace_scores"].T.copy(), out["trace_steps"])
    settings = dict(objective=objective if wanted is None else "wanted", population=population,
                    selection=selection, crossover=crossover, mutation=mutation,
                    regularizer=repr(regularizer) if regularizer is not None else None,
                    start=start, seed=seed, run=run)
    return SearchResult(images, confidence, target, fitness, method="evolve",
                        steps=int(out["generations"]), trajectory=trajectory,
                        history={"best": out["best"], "mean": out["mean"]}, settings=settings,
                        stopped=bool(out["stopped"]), class_names=tuple(net.class_names))


def _deprecated_arguments(deprecated, steps, regularizer, start):
    """The names evolve took before 0.2: generations=, prior=, init=."""
    new = renamed("evolve", deprecated, {"generations": "steps", "prior": "regularizer",
                                         "init": "start"})
    if "regularizer" in new and regularizer is not None:
        raise ValueError("give either prior= or regularizer=, not both")
    start = {"uniform": "noise"}.get(new.get("start", start), new.get("start", start))
    return new.get("steps", steps), new.get("regularizer", regularizer), start
