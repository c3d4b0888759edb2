"""Genetic search for images a network is sure about ("fooling images").

Nguyen, Yosinski & Clune (2015), "Deep Neural Networks are Easily Fooled":
a population of images is bred for the network's confidence in a class;
images it classifies with >= 99.99% confidence while they look like noise
appear within a few dozen generations. The generation loop runs in C++:
fitness of the whole population is a batched forward pass split over
threads, and selection, crossover and mutation use one random stream per
child (derived from seed, generation and index), so results are
bit-identical for any number of threads.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _core
from ._model import MLP
from ._progress import progress_bar
from ._validation import check_int, check_threads
from .dream import DreamResult
from .priors import Prior
from .regularizers import Regularizer

__all__ = ["evolve"]

_SELECTION = {"tournament": 0, "truncation": 1}
_CROSSOVER = {"uniform": 0, "sbx": 1}
_MUTATION = {"polynomial": 0, "gaussian": 1, "resample": 2}


def _rate(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def evolve(net: MLP, target, *, population: int = 200, generations: int = 200, elite: int = 10,
           selection: str = "tournament", tournament: int = 10, crossover: str = "uniform",
           crossover_rate: float = 0.5, mutation_rate: float = 0.1,
           mutation: str = "polynomial", eta: float = 5.0, sigma: float = 0.1,
           prior: Regularizer | None = None, init: str = "uniform", wanted=None,
           stop_at: float | None = None, seed: int = 0, threads: int | None = None,
           progress: bool = True, incremental: bool = True) -> DreamResult:
    """Breed images for the network's confidence.

    Parameters
    ----------
    target : int, "all" or None
        A class; ``"all"`` for a MAP-Elites archive with one elite per class
        (Nguyen's MNIST setup); None with ``wanted``.
    population, generations : children per generation, and generations.
    elite : the best individuals copied unchanged into the next generation.
    selection : "tournament" (the best of ``tournament`` random individuals)
        or "truncation" (a random individual of the better half).
    crossover : "uniform" (each pixel from either parent) or "sbx" (simulated
        binary crossover); ``crossover_rate``: the share of children bred by
        crossover (the others are mutated copies of one parent).
    mutation : "polynomial" (Deb's, distribution index ``eta``), "gaussian"
        (``sigma``) or "resample" (a new value drawn from the prior's pixel
        histogram, or uniform without a prior); ``mutation_rate``: the
        probability that a pixel mutates.
    prior : a :class:`netdream.priors.Prior` (or any regulariser): fitness is
        the confidence minus ``prior.weight * prior.value(image)``.
    init : "uniform" (uniform noise) or "prior" (pixels drawn from the prior).
    wanted : a full wanted output vector; fitness is then ``-sum |p - wanted|``
        (the seed's cost).
    stop_at : stop once the best confidence (every class's, for "all")
        reaches this, e.g. 0.9999.
    incremental : evaluate a child from its first parent's layer-0
        pre-activations when it differs from it in at most half of the
        pixels (every 16th generation is computed in full); False computes
        every child in full. The results agree to float32 rounding.

    Returns
    -------
    DreamResult with ``method="evolve"``: ``images`` (the population sorted by
    fitness, or the archive in class order for "all"), ``confidence`` (the
    target's probability; for "all", each cell's own class; with ``wanted``,
    ``1 - sum|p - wanted| / 2``), ``objective`` (fitness) and ``history``
    (``best`` and ``mean`` per generation, index 0 the first population; for
    "all" the lowest and mean confidence over the archive) and ``generations``.
    """
    if not isinstance(net, MLP):
        raise TypeError(f"net must be a netdream.MLP, got {type(net).__name__}")
    k = net.n_classes
    wanted_arr = np.zeros(0)
    if wanted is not None:
        wanted_arr = np.asarray(wanted, dtype=np.float64)
        if wanted_arr.shape != (k,):
            raise ValueError(f"wanted must have shape ({k},), got {wanted_arr.shape}")
        if not np.all(np.isfinite(wanted_arr)):
            raise ValueError("wanted contains NaN or infinite values")
        if target not in (None, "all") and not isinstance(target, numbers.Integral):
            raise TypeError("target must be a class, 'all' or None")
        cls = int(np.argmax(wanted_arr)) if target is None else target
    else:
        cls = target
    if cls == "all":
        if wanted is not None:
            raise ValueError("wanted= does not combine with target='all'")
        code = -1
    elif isinstance(cls, bool) or not isinstance(cls, numbers.Integral):
        raise TypeError(f"target must be a class index or 'all', got {target!r}")
    elif not 0 <= int(cls) < k:
        raise ValueError(f"target must lie in 0..{k - 1}, got {cls}")
    else:
        code = int(cls)
    population = check_int(population, "population", 2)
    generations = check_int(generations, "generations", 0)
    elite = check_int(elite, "elite", 0)
    if elite >= population:
        raise ValueError(f"elite must be smaller than population, got {elite} >= {population}")
    tournament = check_int(tournament, "tournament", 1)
    seed = check_int(seed, "seed", 0)
    if seed >= 2**64:
        raise ValueError("seed must be < 2**64")
    threads = check_threads(threads)
    crossover_rate = _rate(crossover_rate, "crossover_rate")
    mutation_rate = _rate(mutation_rate, "mutation_rate")
    for value, table, name in ((selection, _SELECTION, "selection"), (crossover, _CROSSOVER, "crossover"),
                               (mutation, _MUTATION, "mutation")):
        if value not in table:
            raise ValueError(f"{name} must be one of {', '.join(table)}, got {value!r}")
    for value, name in ((eta, "eta"), (sigma, "sigma")):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0 \
                or not np.isfinite(value):
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    if init not in ("uniform", "prior"):
        raise ValueError(f"init must be 'uniform' or 'prior', got {init!r}")
    if prior is not None and not isinstance(prior, Regularizer):
        raise TypeError(f"prior must be a netdream.priors.Prior, got {type(prior).__name__}")
    cdf = np.zeros(0)
    if isinstance(prior, Prior):
        cdf = prior.cdf
    if init == "prior" and cdf.size == 0:
        raise ValueError("init='prior' needs prior=netdream.priors.fit(...)")
    if stop_at is None:
        stop_at = 2.0  # never
    elif isinstance(stop_at, bool) or not isinstance(stop_at, numbers.Real) or not np.isfinite(stop_at):
        raise ValueError(f"stop_at must be a number, got {stop_at!r}")
    if prior is not None and prior.weight > 0:
        reg_value, _ = prior.addresses
        reg_weight, params = prior.weight, prior.params
    else:
        reg_value, reg_weight, params = 0, 0.0, np.zeros(1)

    h, w = net.image_shape
    with progress_bar(total=generations, enabled=progress, unit="gen",
                      desc=f"evolving {target}") as bar:
        images, fitness, best, mean, done = _core.evolve(
            net.core, population, generations, elite, _SELECTION[selection], tournament, 0.5,
            _CROSSOVER[crossover], crossover_rate, mutation_rate, _MUTATION[mutation], float(eta),
            15.0, float(sigma), init == "prior", cdf, code, wanted_arr, reg_weight, reg_value,
            params, h, w, float(stop_at), seed, threads, bar.hook, bool(incremental))
    images = images.reshape(-1, h, w)
    if code >= 0:
        order = np.argsort(-fitness, kind="stable")
        images, fitness = images[order], fitness[order]
    probs = net.predict_proba(images, threads=threads).astype(np.float64)
    if code == -1:
        confidence = probs[np.arange(k), np.arange(k)]
    elif wanted is not None:
        confidence = 1.0 - np.abs(probs - wanted_arr).sum(axis=1) / 2
    else:
        confidence = probs[:, code]
    history = {"best": best, "mean": mean}
    return DreamResult(images, confidence, target, fitness, np.zeros(len(images), np.int64),
                       steps=0, method="evolve", history=history, generations=int(done))
