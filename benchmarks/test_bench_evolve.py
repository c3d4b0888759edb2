"""Genetic search: generations per second against the same GA in NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import netdream

GENERATIONS = 20


def numpy_ga(net, target, population, generations, seed=0, elite=10, tournament=10,
             crossover_rate=0.5, mutation_rate=0.1, eta=5.0):
    """The same GA as netdream.evolve, vectorised: one matrix product per generation."""
    rng = np.random.default_rng(seed)
    w1, w2 = (w.astype(np.float32) for w in net.weights)
    b1, b2 = (b.astype(np.float32) for b in net.biases)
    perm = net.encoding.permutation(net.image_shape)
    scale, offset = np.float32(net.encoding.scale), np.float32(net.encoding.offset)

    def fitness(pop):
        z = offset + scale * pop[:, np.argsort(perm)]  # the seed's column-major [-1, 1] input
        h = 1 / (1 + np.exp(-(z @ w1.T + b1)))
        o = h @ w2.T + b2
        e = np.exp(o - o.max(axis=1, keepdims=True))
        return (e[:, target] / e.sum(axis=1)).astype(np.float64)

    pop = rng.random((population, 784), dtype=np.float32)
    fit = fitness(pop)
    for _ in range(generations):
        order = np.argsort(-fit, kind="stable")
        n_children = population - elite
        cand = rng.integers(population, size=(n_children, 2, tournament))
        winners = np.take_along_axis(cand, np.argmax(fit[cand], axis=2)[..., None], axis=2)[..., 0]
        a, b = pop[winners[:, 0]], pop[winners[:, 1]]
        cross = rng.random(n_children) < crossover_rate
        take_b = (rng.random((n_children, 784)) < 0.5) & cross[:, None]
        child = np.where(take_b, b, a)
        mut = rng.random(child.shape) < mutation_rate
        u = rng.random(child.shape)
        x = child.astype(np.float64)
        pw = 1 / (eta + 1)
        lo = np.power(2 * u + (1 - 2 * u) * np.power(1 - x, eta + 1), pw) - 1
        hi = 1 - np.power(2 * (1 - u) + 2 * (u - 0.5) * np.power(x, eta + 1), pw)
        x = np.where(mut, np.clip(x + np.where(u < 0.5, lo, hi), 0, 1), x)
        pop = np.concatenate([pop[order[:elite]], x.astype(np.float32)])
        fit = fitness(pop)
    return fit.max()


@pytest.mark.parametrize("population", [200, 1000])
@pytest.mark.parametrize("impl", ["numpy", "netdream"])
def test_generations_per_second(benchmark, record, note, seed_net, population, impl):
    benchmark.group = f"GA population {population}"
    if impl == "numpy":
        benchmark.pedantic(numpy_ga, args=(seed_net, 3, population, GENERATIONS), rounds=3,
                           iterations=1)
    else:
        benchmark.pedantic(netdream.evolve, args=(seed_net, 3),
                           kwargs=dict(population=population, steps=GENERATIONS,
                                       threads=2, progress=False), rounds=3, iterations=1)
    record(f"GA population {population:>4}, {GENERATIONS} generations, 2 threads", impl, benchmark)
    note(f"GA population {population}: {impl} {GENERATIONS / benchmark.stats.stats.median:.1f} "
         "generations/s")


@pytest.mark.parametrize("model", ["seed", "mlp-standard", "default"])
def test_map_elites_all_digits(benchmark, note, seed_net, model):
    # the robust default takes about 1,400 generations (1,000 left one class
    # at 99.98%): up to 3,000, stopping once every class is reached
    net = seed_net if model == "seed" else netdream.MLP.pretrained(
        "mlp" if model == "default" else model)
    r = benchmark.pedantic(netdream.evolve, args=(net, "all"),
                           kwargs=dict(steps=3000, stop_at=0.9999, threads=2,
                                       progress=False), rounds=3, iterations=1)
    assert r.confidence.min() >= 0.9999
    note(f"MAP-Elites, all 10 digits >= 99.99% ({model} net): median "
         f"{benchmark.stats.stats.median:.3f} s, {r.steps} generations")


@pytest.mark.parametrize("crossover_rate", [0.0, 0.5])
@pytest.mark.parametrize("incremental", [False, True])
def test_incremental_children(benchmark, record, seed_net, crossover_rate, incremental):
    """Does evaluating children from their parent's layer-0 state pay?"""
    group = f"GA population 200, crossover_rate {crossover_rate}: incremental vs full"
    benchmark.group = group
    benchmark.pedantic(netdream.evolve, args=(seed_net, 3),
                       kwargs=dict(population=200, steps=GENERATIONS, threads=1,
                                   crossover_rate=crossover_rate, incremental=incremental,
                                   progress=False), rounds=3, iterations=1)
    record(group, "netdream" if incremental else "full evaluation", benchmark)
