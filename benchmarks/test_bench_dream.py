"""Hill climbing: candidates per second against the seed recipe in NumPy."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

import netdream
from netdream.regularizers import smoothness

NUMPY_STEPS = 2000
CORE_STEPS = 2_000_000


def _reg(weight):
    return smoothness(weight) if weight else None


def numpy_seed_recipe(net, target, steps, smoothness, rng):
    """The seed demo in NumPy float32: one full forward pass per candidate."""
    w1, w2 = (w.astype(np.float32) for w in net.weights)
    b1, b2 = (b.astype(np.float32) for b in net.biases)
    z = -np.ones(784, np.float32)
    mask = rng.random(784) < 0.1
    z[mask] += 0.2 * rng.random(mask.sum()).astype(np.float32)

    def error(v):
        h = 1 / (1 + np.exp(-(w1 @ v + b1)))
        o = w2 @ h + b2
        e = np.exp(o - o.max())
        err = 1 - e[target] / e.sum()
        if smoothness:
            img = v.reshape(28, 28)
            direct = img[:-2, 1:-1] + img[2:, 1:-1] + img[1:-1, :-2] + img[1:-1, 2:]
            diag = img[:-2, :-2] + img[:-2, 2:] + img[2:, :-2] + img[2:, 2:]
            err += smoothness * np.sum(((direct + 0.7 * diag) / 6.8 - img[1:-1, 1:-1]) ** 2)
        return err

    err = error(z)
    for _ in range(steps):
        j = rng.integers(784)
        cand = z.copy()
        cand[j] = np.clip(z[j] + 0.2 * rng.random() - 0.1, -1, 1)
        e = error(cand)
        if e < err:
            z, err = cand, e
    return z


@pytest.mark.parametrize("smooth", [0.0, 1e-5])
@pytest.mark.parametrize("impl", ["numpy", "netdream"])
def test_candidates_per_second(benchmark, record, note, seed_net, impl, smooth):
    group = f"seed recipe, 1 thread, smoothness {smooth:g}"
    benchmark.group = group
    if impl == "numpy":
        rng = np.random.default_rng(0)
        benchmark.pedantic(numpy_seed_recipe, args=(seed_net, 3, NUMPY_STEPS, smooth, rng),
                           rounds=3, iterations=1)
        per = NUMPY_STEPS
    else:
        benchmark.pedantic(netdream.hill_climb, args=(seed_net, 3),
                           kwargs=dict(steps=CORE_STEPS, recipe="seed", regularizer=_reg(smooth),
                                       threads=1, progress=False), rounds=3, iterations=1)
        per = CORE_STEPS
    median = benchmark.stats.stats.median
    record(group + " (per candidate)", impl, _PerCandidate(median / per))
    note(f"{group}: {impl} {per / median / 1e6:.3f} M candidates/s")


class _PerCandidate:
    def __init__(self, seconds):
        self.stats = type("S", (), {"stats": type("T", (), {"median": seconds})()})()


def test_two_threads_vs_one(benchmark, note, seed_net):
    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs 2 cores")
    kw = dict(steps=200_000, runs=8, regularizer=smoothness(1e-5), progress=False)
    timings = {}
    for t in (1, 2):
        best = []
        for _ in range(3):
            t0 = time.perf_counter()
            netdream.hill_climb(seed_net, 5, threads=t, **kw)
            best.append(time.perf_counter() - t0)
        timings[t] = float(np.median(best))
    benchmark.pedantic(netdream.hill_climb, args=(seed_net, 5), kwargs=dict(threads=2, **kw),
                       rounds=1, iterations=1)
    note(f"independent runs: 2 threads are {timings[1] / timings[2]:.2f}x one thread "
         f"(medians {timings[1]:.3f} s vs {timings[2]:.3f} s)")


def test_thousand_dreams_averaged(benchmark, note, seed_net):
    def job():
        r = netdream.hill_climb(seed_net, 3, steps=20000, runs=1000, regularizer=smoothness(1e-5),
                                progress=False)
        return netdream.average(r)
    avg = benchmark.pedantic(job, rounds=3, iterations=1)
    assert avg.shape == (28, 28)
    note(f"1,000 dreams x 20,000 steps, averaged, on {os.cpu_count()} cores: "
         f"median {benchmark.stats.stats.median:.2f} s")
