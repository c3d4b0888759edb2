"""Independent judges: does a dream look like its class to other networks?

A dream shows the network's idea of a class when networks that had no part
in the search -- trained on real digits by other recipes -- read it as that
class. :func:`train_judges` trains such a panel on real images;
:func:`recognisability` scores dreams against it::

    judges = netdream.judges.train_judges(train_images, train_labels)
    r = netdream.hill_climb(net, 3, runs=20)
    netdream.judges.recognisability(judges, r.images, 3)   # e.g. 0.95

The panel: 3 nearest neighbours among the training images in the space of
their top 40 principal components, a tanh MLP (both scikit-learn, the
``train`` extra) and, when PyTorch is installed,
a small CNN (3x3 convolutions, dropout, trained on shifted copies). Their
recipes differ from the shipped models' (relu MLP trained adversarially;
5x5 CNN): a judge agreeing is evidence about the image, not about a shared
quirk. A dream counts as recognised when most judges read it as the target.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_images, check_int

__all__ = ["Judge", "train_judges", "recognisability", "votes"]


class Judge:
    """A named classifier of images: ``judge.predict(images)`` -> labels."""

    def __init__(self, name: str, predict, accuracy: float | None = None):
        self.name = name
        self._predict = predict
        self.accuracy = accuracy

    def predict(self, images) -> np.ndarray:
        x, _ = as_images(images, keep_float64=True)
        if x.dtype == np.uint8:
            x = x / 255.0
        return np.asarray(self._predict(np.asarray(x, dtype=np.float64)))

    def __repr__(self) -> str:
        acc = "" if self.accuracy is None else f", test accuracy {100 * self.accuracy:.2f}%"
        return f"Judge({self.name!r}{acc})"


def train_judges(images, labels, *, seed: int = 0, cnn: bool | None = None,
                 test=None) -> list[Judge]:
    """Train the panel of judges on real ``images`` (N, 28, 28) and ``labels``.

    ``cnn``: include the PyTorch CNN (default: when PyTorch is installed;
    it takes about a minute on two cores). ``test``: optional ``(images,
    labels)`` on which each judge's accuracy is measured (``judge.accuracy``).
    Needs scikit-learn (``pip install "netdream[train]"``).
    """
    try:
        from sklearn.decomposition import PCA
        from sklearn.neighbors import KNeighborsClassifier
        from sklearn.neural_network import MLPClassifier
        from sklearn.pipeline import make_pipeline
    except ImportError as exc:
        raise ImportError('the judges need scikit-learn: pip install "netdream[train]"') from exc
    import warnings

    x, _ = as_images(images, keep_float64=True)
    x = x / 255.0 if x.dtype == np.uint8 else np.asarray(x, dtype=np.float64)
    y = np.asarray(labels)
    if y.shape != (len(x),) or y.dtype.kind not in "iu":
        raise ValueError(f"labels must be {len(x)} integers, got shape {y.shape} dtype {y.dtype}")
    seed = check_int(seed, "seed", minimum=0)
    if cnn is None:
        try:
            import torch  # noqa: F401
            cnn = True
        except ImportError:
            cnn = False

    flat = x.reshape(len(x), -1)
    knn = make_pipeline(PCA(40, random_state=seed), KNeighborsClassifier(3)).fit(flat, y)
    judges = [Judge("pca-knn", lambda im: knn.predict(im.reshape(len(im), -1)))]
    mlp = MLPClassifier((256,), activation="tanh", alpha=1e-3, max_iter=30, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: 30 epochs are enough here
        mlp.fit(flat, y)
    judges.append(Judge("tanh-mlp", lambda im: mlp.predict(im.reshape(len(im), -1))))
    if cnn:
        judges.append(Judge("cnn-3x3", _train_cnn(x, y, seed)))
    if test is not None:
        xt, yt = test
        for j in judges:
            j.accuracy = float(np.mean(j.predict(xt) == np.asarray(yt)))
    return judges


def _train_cnn(x, y, seed, epochs=5):
    import torch
    from torch import nn
    import torch.nn.functional as F

    gen = np.random.default_rng(seed)
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(64 * 49, 128), nn.ReLU(), nn.Dropout(0.3),
                        nn.Linear(128, 10))
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    data = torch.from_numpy(x.astype(np.float32))[:, None]
    target = torch.from_numpy(y.astype(np.int64))
    for _ in range(epochs):
        net.train()
        for idx in torch.from_numpy(gen.permutation(len(x))).split(64):
            dy, dx = gen.integers(-2, 3, 2)  # each batch shifted by up to 2 pixels
            batch = torch.roll(data[idx], (int(dy), int(dx)), (2, 3))
            loss = F.cross_entropy(net(batch), target[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()

    def predict(im):
        with torch.no_grad():
            return net(torch.from_numpy(im.astype(np.float32))[:, None]).argmax(1).numpy()
    return predict


def votes(judges, images) -> np.ndarray:
    """Each judge's reading of each image: ``(len(judges), N)`` labels."""
    return np.stack([j.predict(images) for j in judges])


def recognisability(judges, images, target) -> float:
    """The share of ``images`` that most ``judges`` read as ``target``."""
    v = votes(judges, images) == int(target)
    return float(np.mean(v.sum(0) * 2 > len(judges)))
