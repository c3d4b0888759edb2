"""Draw the README's pictures.

``python benchmarks/readme_pictures.py [MODEL]`` writes
``.github/readme/dreams.png`` (for every class, the raw search's first dream
above the default dream's first) and ``.github/readme/averages.png`` (the
average of 1,000 default dreams per class), with the shipped MLP.

``python benchmarks/readme_pictures.py cnn OTHER.npz`` writes the pictures of
the shipped CNN trained on clean digits (``cnn-standard``): ``cnn_fooling.png``
(gradient fooling images from noise, and how the CNN OTHER.npz -- the same
recipe retrained with another seed, e.g. ``netdream train --arch cnn --seed 1``
-- reads them), ``cnn_morph.png`` (the first 7 of the MNIST test set morphed
into a 3, by ``netdream morph``) and ``cnn_channels.png`` (every channel of the
second convolution maximised by hill climbing from the grey start, with its
mean activation). MNIST is read from ``../shared/data/mnist``.

``python benchmarks/readme_pictures.py cnn-dreams`` writes ``cnn_dreams.png``:
for every class, the first default dream of the shipped (adversarially
trained) ``cnn`` above that of ``cnn-standard``, and the average of 200
default dreams of ``cnn``."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

import netdream
from netdream import regularizers as R
from netdream.images import save_grid

OUT = Path(__file__).resolve().parents[1] / ".github" / "readme"


def main(model="mlp"):
    net = netdream.load(model) if model != "mlp" else netdream.pretrained("mlp")
    raw, default, averages, labels_raw, labels_def = [], [], [], [], []
    for c in range(10):
        r = netdream.hill_climb(net, c, runs=1, progress=False)
        d = netdream.hill_climb(net, c, runs=1000, regularizer=R.default(), progress=False)
        raw.append(r.images[0])
        default.append(d.images[0])
        averages.append(d.average())
        labels_raw.append(f"raw {c}: {100 * r.confidence[0]:.1f}%")
        labels_def.append(f"{c}: {100 * d.confidence[0]:.1f}%")
    save_grid(np.stack(raw + default), OUT / "dreams.png", labels=labels_raw + labels_def,
              cmap="gray", scale=4, ncols=10)
    save_grid(np.stack(averages), OUT / "averages.png",
              labels=[f"{c}: average of 1000" for c in range(10)], cmap="gray", scale=4, ncols=10)
    print(f"wrote {OUT / 'dreams.png'} and {OUT / 'averages.png'}")


def cnn(other_path):
    from netdream.cli import main as cli
    from netdream.datasets import load_mnist
    from netdream.images import save_image
    net, other = netdream.pretrained("cnn-standard"), netdream.load(other_path)
    fool = netdream.gradient_ascent(net, np.arange(10), runs=10, start="noise", steps=200,
                                    step_size=0.1, progress=False)
    t = netdream.transfer(other, fool)
    save_grid(fool.images, OUT / "cnn_fooling.png", cmap="gray", scale=4, ncols=10,
              labels=[f"{c}: {100 * p:.1f}%" for c, p in zip(range(10), fool.confidence)],
              titles=[f"other {100 * p:.0f}%" for p in t.confidence])
    print(f"gradient fooling: confidence min {fool.confidence.min():.4f}; the retrained CNN: {t}")

    images, labels = load_mnist("test", root=Path(__file__).resolve().parents[2] / "shared"
                                / "data" / "mnist", progress=False)
    with tempfile.TemporaryDirectory() as tmp:  # the command line's picture of a morph
        seven = Path(tmp) / "seven.png"
        save_image(images[labels == 7][0], seven)
        cli(["morph", str(seven), "--to", "3", "--model", "cnn-standard", "--transfer", str(other_path),
             "--no-progress", "-o", str(OUT / "cnn_morph.png")])

    layer = max(i for i, ly in enumerate(net.layers) if type(ly).__name__ == "Conv2D")
    n = net.layers[layer].weight.shape[0]
    chans = [netdream.hill_climb(net, ("channel", layer, c), steps=20000, progress=False)
             for c in range(n)]
    save_grid(np.stack([r.images[0] for r in chans]), OUT / "cnn_channels.png", cmap="gray",
              scale=3, ncols=16, labels=[f"{c}: {r.confidence[0]:.2f}" for c, r in enumerate(chans)])
    print(f"wrote {OUT / 'cnn_fooling.png'}, {OUT / 'cnn_morph.png'}, {OUT / 'cnn_channels.png'}")


def cnn_dreams():
    robust, standard = netdream.pretrained("cnn"), netdream.pretrained("cnn-standard")
    rows = {"cnn": [], "cnn-standard": [], "average": []}
    labels = {k: [] for k in rows}
    for c in range(10):
        d = netdream.hill_climb(robust, c, runs=200, regularizer=R.default(), progress=False)
        s = netdream.hill_climb(standard, c, runs=1, regularizer=R.default(), progress=False)
        rows["cnn"].append(d.images[0])
        rows["cnn-standard"].append(s.images[0])
        rows["average"].append(d.average())
        labels["cnn"].append(f"{c}: {100 * d.confidence[0]:.1f}%")
        labels["cnn-standard"].append(f"standard {c}: {100 * s.confidence[0]:.1f}%")
        labels["average"].append(f"{c}: average of 200")
    save_grid(np.stack(sum(rows.values(), [])), OUT / "cnn_dreams.png", cmap="gray", scale=4,
              ncols=10, labels=sum(labels.values(), []))
    print(f"wrote {OUT / 'cnn_dreams.png'}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["cnn"]:
        cnn(*sys.argv[2:])
    elif sys.argv[1:2] == ["cnn-dreams"]:
        cnn_dreams()
    else:
        main(*sys.argv[1:])
