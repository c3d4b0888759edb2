"""Draw the README's pictures.

``python benchmarks/readme_pictures.py [MODEL]`` writes
``.github/readme/dreams.png`` (for every class, the raw search's first dream
above the default dream's first) and ``.github/readme/averages.png`` (the
average of 1,000 default dreams per class), with the shipped MLP.

``python benchmarks/readme_pictures.py cnn OTHER.npz`` writes the shipped
CNN's pictures: ``cnn_fooling.png`` (gradient fooling images from noise, and
how the CNN OTHER.npz -- the same recipe retrained with another seed, e.g.
``netdream train --arch cnn --seed 1`` -- reads them), ``cnn_morph.png`` (the
first 7 of the MNIST test set morphed into a 3) and ``cnn_channels.png`` (the
second convolution's channels maximised by hill climbing). MNIST is read from
``../shared/data/mnist``."""

from __future__ import annotations

import sys
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
    from netdream.datasets import load_mnist
    net, other = netdream.pretrained("cnn"), netdream.load(other_path)
    fool = netdream.gradient_ascent(net, np.arange(10), runs=10, start="noise", steps=200,
                                    step_size=0.1, progress=False)
    t = netdream.transfer(other, fool)
    save_grid(fool.images, OUT / "cnn_fooling.png", cmap="gray", scale=4, ncols=10,
              labels=[f"{c}: {100 * p:.1f}%" for c, p in zip(range(10), fool.confidence)],
              titles=[f"other {100 * p:.0f}%" for p in t.confidence])
    print(f"gradient fooling: confidence min {fool.confidence.min():.4f}; the retrained CNN: {t}")

    images, labels = load_mnist("test", root=Path(__file__).resolve().parents[2] / "shared"
                                / "data" / "mnist", progress=False)
    seven = images[labels == 7][0]
    m = netdream.morph(net, seven, 3, progress=False)
    tm = netdream.transfer(other, m)
    before = net.predict_proba(seven)
    diff = m.images[0].astype(np.float64) - seven / 255.0
    save_grid(np.stack([seven / 255.0, m.images[0], diff]), OUT / "cnn_morph.png", cmap="auto",
              scale=5, labels=[f"7 ({100 * before[7]:.1f}%)", f"3 ({100 * m.confidence[0]:.1f}%)",
                               "the change"],
              titles=["test image", f"other: 3 at {100 * tm.confidence[0]:.0f}%", ""])
    print(f"morph: p(3) = {m.confidence[0]:.4f}, L2 {m.l2[0]:.2f}; the retrained CNN: {tm}")

    layer = max(i for i, ly in enumerate(net.layers) if type(ly).__name__ == "Conv2D")
    chans = [netdream.hill_climb(net, ("channel", layer, c), steps=20000, progress=False)
             for c in range(16)]
    save_grid(np.stack([r.images[0] for r in chans]), OUT / "cnn_channels.png", cmap="gray",
              scale=4, ncols=16, labels=[f"ch {c}" for c in range(16)])
    print(f"wrote {OUT / 'cnn_fooling.png'}, {OUT / 'cnn_morph.png'}, {OUT / 'cnn_channels.png'}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["cnn"]:
        cnn(*sys.argv[2:])
    else:
        main(*sys.argv[1:])
