"""Draw the README's pictures of dreams with the shipped model:
``python benchmarks/readme_pictures.py [MODEL]`` writes
``.github/readme/dreams.png`` (for every class, the raw search's first dream
above the default dream's first) and ``.github/readme/averages.png`` (the
average of 1,000 default dreams per class)."""

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


if __name__ == "__main__":
    main(*sys.argv[1:])
