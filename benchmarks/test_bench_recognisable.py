"""Recognisable dreams: do independent networks read a dream as its class?

For the raw search, the earlier default (smoothness 1e-5) and today's
default (:func:`netdream.regularizers.default`), on the shipped model
(adversarially trained), the earlier shipped model ("mlp-standard"), the
seed network and the two shipped CNNs ("cnn", adversarially trained, and
"cnn-standard"), prints: recognisability (the share of dreams most judges
of :mod:`netdream.judges` read as the target; per class, and the lowest
class), the model's own confidence, diversity (mean pairwise L2 between the
dreams of one class), and candidates per second (2 threads).

Run: ``python -m pytest benchmarks/test_bench_recognisable.py -s``.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import netdream
from netdream import judges as J
from netdream import regularizers as R

RUNS = 20          # dreams per class
STEPS = 20_000

SETTINGS = {
    "raw": dict(),
    "smoothness 1e-5 (earlier default)": dict(regularizer=R.smoothness(1e-5)),
    "default (total variation 3e-4 + l1 3e-4)": dict(regularizer=R.default()),
    "default, noise start": dict(regularizer=R.default(), start="noise"),
}


@pytest.fixture(scope="module")
def panel(mnist_test):
    from conftest import SHARED
    root = SHARED / "mnist"
    if not (root / "train10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"the MNIST training images are absent from {root}")
    pytest.importorskip("sklearn", reason="the judges need scikit-learn")
    x, y = netdream.datasets.load_mnist("train10k", root=root, progress=False)
    judges = J.train_judges(x, y, seed=1, test=mnist_test)
    return judges


def measure(net, judges, **kw):
    rec, conf, div = [], [], []
    t = time.perf_counter()
    for c in range(10):
        r = netdream.hill_climb(net, c, runs=RUNS, steps=STEPS, seed=7, threads=2,
                                progress=False, **kw)
        im = np.asarray(r.images, dtype=np.float64)
        rec.append(J.recognisability(judges, im, c))
        conf.append(np.asarray(net.predict_proba(im))[:, c])
        flat = im.reshape(RUNS, -1)
        d = np.sqrt(((flat[:, None] - flat[None]) ** 2).sum(-1))
        div.append(d[np.triu_indices(RUNS, 1)].mean())
    seconds = time.perf_counter() - t
    return np.array(rec), np.array(conf), float(np.mean(div)), 10 * RUNS * STEPS / seconds


@pytest.mark.parametrize("model", ["mlp", "mlp-standard", "seed", "cnn", "cnn-standard"])
def test_recognisability(model, panel, seed_net, note):
    net = seed_net if model == "seed" else netdream.pretrained(model)
    note(f"judges: {', '.join(repr(j) for j in panel)}")
    for name, kw in SETTINGS.items():
        rec, conf, div, rate = measure(net, panel, **kw)
        line = (f"recognisable {model} / {name}: mean {rec.mean():.2f}, lowest class "
                f"{int(rec.argmin())} at {rec.min():.2f} (per class {np.round(rec, 2).tolist()}); "
                f"own confidence median {np.median(conf):.4f}, min {conf.min():.4f}; "
                f"diversity {div:.2f}; {rate / 1e6:.2f} M candidates/s")
        print(line)
        note(line)
