"""Convolutional networks: netdream against PyTorch (CPU) in the same run.

The architecture is TensorFlow's "Deep MNIST for Experts" CNN (conv 5x5 32
same relu, max-pool 2, conv 5x5 64 same relu, max-pool 2, dense 1024 relu,
dense 10 softmax) with He-initialised random weights and biases of 0.1 (as
the tutorial initialises them) and trained (4 epochs, at the start of the
run), and the shipped small CNN. Both sides use
the same number of threads.

- forward: a batch of MNIST test images, B = 1 and 1000.
- hill climbing, per candidate: netdream's incremental single-pixel
  re-evaluation (``hill_climb``), against netdream's own full forward pass per
  candidate and against PyTorch evaluating each candidate (B = 1); the full
  passes see a plain hill climb's candidates (one pixel of the image the
  incremental climb ended on, moved by the step), and the three sides take
  turns, round by round.
- genetic search: ``evolve`` against a PyTorch GA that evaluates each
  generation's children in one batch (the same population, elites,
  truncation selection, uniform crossover and point mutation), the two
  timed in turns.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import netdream
from netdream.layers import Conv2D, Dense, Flatten, MaxPool2D
from netdream.model import Network

torch = pytest.importorskip("torch")
THREADS = 2


def deep_mnist():
    rng = np.random.default_rng(0)

    def he(shape, fan_in):
        return rng.normal(0, np.sqrt(2 / fan_in), shape)
    return Network([Conv2D(he((32, 1, 5, 5), 25), np.full(32, 0.1), padding="same",
                           activation="relu"), MaxPool2D(2),
                    Conv2D(he((64, 32, 5, 5), 800), np.full(64, 0.1), padding="same",
                           activation="relu"), MaxPool2D(2), Flatten(),
                    Dense(he((1024, 3136), 3136), np.full(1024, 0.1), "relu"),
                    Dense(he((10, 1024), 1024), np.full(10, 0.1), "softmax")])


def deep_mnist_trained():
    """The same architecture trained for 4 epochs on the 10,000 training
    images (about 30 s on 2 cores; about 98.8% on the test set): a trained
    network's relus and max-pools hide more of a one-pixel change than random
    weights with biases of 0.1 (every relu on)."""
    from conftest import SHARED
    from netdream.datasets import load_mnist
    from netdream.train import train_cnn
    root = SHARED / "mnist"
    if not (root / "train10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"the MNIST training images are absent from {root}")
    images, labels = load_mnist("train10k", root=root, progress=False)
    return train_cnn(images, labels, channels=(32, 64), dense=(1024,), epochs=4, seed=0,
                     threads=THREADS, progress=False)


MODELS = {"deep-mnist": deep_mnist, "deep-mnist trained": deep_mnist_trained,
          "shipped cnn": lambda: netdream.pretrained("cnn")}


def as_torch(net):
    from torch import nn
    mods = []
    for layer in net.layers:
        if isinstance(layer, Conv2D):
            c = nn.Conv2d(layer.weight.shape[1], layer.weight.shape[0], layer.weight.shape[2],
                          padding="same")
            c.weight.data = torch.tensor(layer.weight, dtype=torch.float32)
            c.bias.data = torch.tensor(layer.bias, dtype=torch.float32)
            mods += [c, nn.ReLU()]
        elif isinstance(layer, MaxPool2D):
            mods.append(nn.MaxPool2d(layer.size))
        elif isinstance(layer, Flatten):
            mods.append(nn.Flatten())
        else:
            lin = nn.Linear(layer.weight.shape[1], layer.weight.shape[0])
            lin.weight.data = torch.tensor(layer.weight, dtype=torch.float32)
            lin.bias.data = torch.tensor(layer.bias, dtype=torch.float32)
            mods += [lin, nn.ReLU() if layer.activation == "relu" else nn.Softmax(dim=1)]
    return nn.Sequential(*mods).eval()


@pytest.fixture(scope="module", params=list(MODELS))
def model(request):
    torch.set_num_threads(THREADS)
    net = MODELS[request.param]()
    return request.param, net, as_torch(net)


@pytest.mark.parametrize("n", [1, 1000])
@pytest.mark.parametrize("impl", ["torch", "netdream"])
def test_forward(benchmark, record, model, mnist_test, n, impl):
    name, net, tnet = model
    x = np.ascontiguousarray(mnist_test[0][:n])
    if impl == "torch":
        def fn(images):
            with torch.no_grad():
                t = torch.tensor(images, dtype=torch.float32).div_(255).unsqueeze(1)
                return tnet(t).numpy()
    else:
        def fn(images):
            return net.predict_proba(images, threads=THREADS)
    out = benchmark(fn, x)
    assert np.abs(out - net.predict_proba(x)).max() < 1e-4
    record(f"cnn {name} forward B={n}", impl, benchmark)


def test_hill_climbing_per_candidate(benchmark, record, note, model):
    """Candidates per second on one thread: incremental, full forward, torch.

    The three sides are timed in turns, round by round (the machines are
    shared: a side timed a minute after another may see another load), and
    each ratio is the median of the rounds' own ratios."""
    name, net, tnet = model
    steps, n_full, rounds = 4000, 100, 5

    def climb(start=None):
        return netdream.hill_climb(net, 3, steps=steps, seed=0, threads=1, start=start,
                                   progress=False)

    # the full passes evaluate candidates as a plain hill climb would: one
    # pixel of the image the incremental climb ended on moved by U(-0.1, 0.1)
    # (hill_climb's step), each candidate rejected (the image goes back)
    rng = np.random.default_rng(0)
    ends = {"blank": climb().images[0], "grey": climb("grey").images[0]}

    def candidates(start):  # made before the timing starts
        base = ends[start].astype(np.float32).reshape(-1)
        out = []
        for _ in range(n_full):
            x = base.copy()
            i = rng.integers(784)
            x[i] = np.clip(x[i] + rng.uniform(-0.1, 0.1), 0, 1)
            out.append((x.reshape(1, 28, 28), torch.from_numpy(x).reshape(1, 1, 28, 28)))
        return out

    def full_round(xs):  # netdream's own full forward pass per candidate
        for x, _ in xs:
            net.predict_proba(x, threads=1)

    def torch_round(xs):
        with torch.no_grad():
            for _, t in xs:
                tnet(t)

    torch.set_num_threads(1)
    # from a grey start nearly every candidate changes the image (from a blank
    # one, a pixel at 0 pushed below 0 changes nothing and costs nothing)
    starts = {"": None, " grey": "grey"}
    per = {side + tag: [] for tag in starts for side in ("inc", "full", "torch")}
    for _ in range(rounds):
        for tag, start in starts.items():
            xs = candidates(start or "blank")
            per["inc" + tag].append(_timed(lambda: climb(start)) / steps)
            per["full" + tag].append(_timed(lambda: full_round(xs)) / n_full)
            per["torch" + tag].append(_timed(lambda: torch_round(xs)) / n_full)
    torch.set_num_threads(THREADS)
    # one more incremental climb through pytest-benchmark (the summary's table)
    benchmark.pedantic(climb, rounds=1)
    record(f"cnn {name} hill climb, per candidate", "netdream", benchmark, per=steps)
    a = {k: np.array(v) for k, v in per.items()}

    def ratio(ref, side):
        return float(np.median(a[ref] / a[side]))

    def rate(side):
        return 1 / float(np.median(a[side]))
    note(f"cnn {name} hill climbing, 1 thread ({rounds} rounds in turns, medians): "
         f"{rate('inc'):,.0f} candidates/s incremental, {rate('full'):,.0f}/s netdream full "
         f"forward ({ratio('full', 'inc'):.1f}x), {rate('torch'):,.0f}/s torch per candidate "
         f"({ratio('torch', 'inc'):.1f}x); from a grey start {rate('inc grey'):,.0f}/s "
         f"({ratio('full grey', 'inc grey'):.1f}x, {ratio('torch grey', 'inc grey'):.1f}x); "
         f"own-full-pass ratio "
         f"by round {', '.join(f'{v:.1f}' for v in a['full'] / a['inc'])}")


def _timed(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def torch_ga(tnet, population, generations, elite, target, seed):
    """The GA of ``evolve(..., selection="truncation", crossover_rate=1,
    mutation="resample")`` in torch: the first population and then each
    generation's children (not its elites, whose fitness is kept)
    evaluated in one batch."""
    g = torch.Generator().manual_seed(seed)
    n = population - elite
    with torch.no_grad():
        pop = torch.rand(population, 1, 28, 28, generator=g)
        fit = tnet(pop)[:, target]
        for _ in range(generations):
            order = torch.argsort(fit, descending=True)
            parents = pop[order[: population // 2]]
            a = parents[torch.randint(len(parents), (n,), generator=g)]
            b = parents[torch.randint(len(parents), (n,), generator=g)]
            child = torch.where(torch.rand(a.shape, generator=g) < 0.5, a, b)
            mut = torch.rand(child.shape, generator=g) < 0.01
            child = torch.where(mut, torch.rand(child.shape, generator=g), child)
            pop = torch.cat([pop[order[:elite]], child])
            fit = torch.cat([fit[order[:elite]], tnet(child)[:, target]])
    return fit


def test_genetic_search(benchmark, record, note, model):
    """A genetic search of 20 generations of 200 on two threads, netdream's
    and torch's timed in turns, round by round (the machines are shared),
    the ratio the median of the rounds' own."""
    name, net, tnet = model
    population, generations, elite, rounds = 200, 20, 20, 7

    def ours():
        return netdream.evolve(net, 3, population=population, steps=generations, elite=elite,
                               selection="truncation", crossover_rate=1.0, mutation="resample",
                               mutation_rate=0.01, stop_at=None, seed=0, threads=THREADS,
                               progress=False)

    def theirs():
        return torch_ga(tnet, population, generations, elite, 3, 0)

    # warm up (thread pools, packed weights); the two searches' best
    # confidence, to show that they do the same work
    best = {"netdream": float(np.max(ours().score)), "torch": float(theirs().max())}
    times = {"netdream": [], "torch": []}
    for r in range(rounds):  # who goes first alternates
        for side in (("netdream", "torch") if r % 2 == 0 else ("torch", "netdream")):
            times[side].append(_timed(ours if side == "netdream" else theirs))
    # one more search through pytest-benchmark (the summary's table)
    benchmark.pedantic(ours, rounds=1)
    record(f"cnn {name} GA, {population} x {generations} generations", "netdream", benchmark)
    per = np.array(times["torch"]) / np.array(times["netdream"])
    note(f"cnn {name} GA, {population} x {generations} generations, {THREADS} threads "
         f"({rounds} rounds in turns, medians): netdream {np.median(times['netdream']):.3f} s, "
         f"torch {np.median(times['torch']):.3f} s: {np.median(per):.2f}x torch "
         f"(rounds {', '.join(f'{v:.2f}' for v in per)}); best confidence at the end "
         f"{best['netdream']:.3f} netdream, {best['torch']:.3f} torch")
