"""Computing what the report shows (no HTML here: see _render)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..causal import causal_index
from ..dream import _blank_confidence, _nearly_blank, _stays_blank, hill_climb
from ..evaluation import EvaluationResult, evaluate
from ..evolve import evolve
from ..inside import Misclassified, ReceptiveFields, misclassified, receptive_fields
from ..pca import Eigendigits, PCAClassifier, eigendigits
from ..regularizers import default as default_regularizer
from ..results import SearchResult

__all__ = ["ReportData", "compute"]

_STEPS = 20000         # hill-climbing steps per dream (the CLI's default)
_GREY_BELOW = 0.5      # ... from grey for a class whose dreams from blank stay below this

_GENERATIONS = 300     # fooling images: generations at most
_STOP_AT = 0.9999      # ... stopping once every class reaches this confidence
_N_FIELDS = 20         # receptive fields shown
_N_EIGEN = 10          # eigen-digits shown, and the PCA baseline's components
_N_MISTAKES = 40       # misclassified images shown
_N_PAIRS = 3           # commonest confusions shown beside the confusion matrix
_N_EXAMPLES = 5        # ... with this many examples each
_BIG, _SMALL = 4, 3    # PNG pixels per image pixel: 112 and 84 CSS pixels wide




@dataclass
class ReportData:
    """Everything the page shows, computed before any HTML is written."""

    net: object
    n: int                          # labelled (test) images
    dreams: int                     # dreams per class
    seed: int
    eval: EvaluationResult | None = None
    causal: np.ndarray | None = None            # (K, H, W)
    dream_images: np.ndarray | None = None      # (K, H, W): the first dream of each class
    dream_conf: np.ndarray | None = None        # (K,)
    dream_median: np.ndarray | None = None      # (K,): median confidence of each class's dreams
    dream_grey: list = field(default_factory=list)  # the classes dreamt from grey (see _dreams)
    # (class, confidence) when the network reads a blank image as a class
    # (50% or more: one class at most) and its dreams stayed blank; and
    # whether they were then dreamt from grey
    blank_read: tuple | None = None
    blank_read_grey: bool = False
    average_images: np.ndarray | None = None    # (K, H, W)
    average_conf: np.ndarray | None = None      # (K,): confidence in the average image
    fool: SearchResult | None = None            # MAP-Elites archive
    fields: ReceptiveFields | None = None
    features: object | None = None              # FeatureMaps (a CNN's first conv layer)
    eigen: Eigendigits | None = None
    eigen_from_train: bool = False
    eigen_n: int = 0
    eigen_of: int = 0              # ... of this many (the first eigen_n: large images)
    pca_accuracy: float | None = None
    pca_how: str = ""
    mistakes: Misclassified | None = None


def compute(net, x, y, xt, yt, *, dreams, seed, threads, bar) -> ReportData:
    """Run every analysis of the page; ``bar`` (with ``note`` and
    ``advance``) shows progress: one step per section, one per class of dreams."""
    r = ReportData(net=net, n=x.shape[0], dreams=dreams, seed=seed)
    steps = [
        ("accuracy", lambda: _accuracy(r, x, y, threads)),
        ("causal index", lambda: _causal(r)),
        ("dreams", lambda: _dreams(r, threads, bar)),
        ("fooling images", lambda: _fooling(r, threads)),
        ("receptive fields", lambda: _fields(r, x)),
        ("eigen-digits", lambda: _eigen(r, x, y, xt, yt)),
        ("mistakes", lambda: _mistakes(r, x, y, threads)),
    ]
    for name, step in steps:
        bar.note(name)
        step()
        if name != "dreams":
            bar.advance()
    return r


def _accuracy(r, x, y, threads) -> None:
    r.eval = evaluate(r.net, x, y, threads=threads)


def _causal(r) -> None:
    if not r.net.is_convolutional:  # a product of weight matrices: dense networks only
        r.causal = causal_index(r.net)


def _dreams(r, threads, bar) -> None:
    k = r.net.n_classes
    first, avg, conf_first, conf_avg, conf_median = [], [], [], [], []
    for c in range(k):
        bar.note(f"dreams {c + 1}/{k}")
        res = hill_climb(r.net, c, steps=_STEPS, runs=r.dreams,
                         regularizer=default_regularizer(), seed=r.seed, threads=threads,
                         progress=False)
        if np.median(res.confidence) < _GREY_BELOW:
            # stuck near a blank image (a colour network trained on
            # backgrounds that are never black: no one-pixel change raises
            # the class); from grey, if that gets further
            grey = hill_climb(r.net, c, steps=_STEPS, runs=r.dreams, start="grey",
                              regularizer=default_regularizer(), seed=r.seed, threads=threads,
                              progress=False)
            if np.median(grey.confidence) > np.median(res.confidence):
                res = grey
                r.dream_grey.append(c)
        elif _stays_blank(res.average(), float(np.max(res.confidence)),
                          p0 := _blank_confidence(r.net, c)):
            # the network reads a blank image as the class already: its
            # dreams stay blank (the shipped cnn's 1); from grey, if they
            # reach the class there with some ink
            grey = hill_climb(r.net, c, steps=_STEPS, runs=r.dreams, start="grey",
                              regularizer=default_regularizer(), seed=r.seed, threads=threads,
                              progress=False)
            r.blank_read = (c, p0)
            if np.median(grey.confidence) >= _GREY_BELOW and not _nearly_blank(grey.average()):
                res = grey
                r.blank_read_grey = True
        first.append(res.images[0])
        conf_first.append(res.confidence[0])
        conf_median.append(float(np.median(res.confidence)))
        a = res.average()
        avg.append(a)
        conf_avg.append(float(r.net.predict_proba(a, threads=threads)[c]))
        bar.advance()
    r.dream_images = np.stack(first)
    r.dream_conf = np.array(conf_first)
    r.dream_median = np.array(conf_median)
    r.average_images = np.stack(avg)
    r.average_conf = np.array(conf_avg)


def _fooling(r, threads) -> None:
    r.fool = evolve(r.net, "all", steps=_GENERATIONS, stop_at=_STOP_AT, seed=r.seed,
                    threads=threads, progress=False)


def _fields(r, x) -> None:
    if r.net.is_convolutional:  # the first conv layer's filters, on the first test image
        from ..inside import feature_maps
        r.features = feature_maps(r.net, x[0])
    else:
        r.fields = receptive_fields(r.net, 0)


def _eigen(r, x, y, xt, yt) -> None:
    from ..pca import max_images
    source = xt if xt is not None else x
    r.eigen_from_train = xt is not None
    r.eigen, r.eigen_why, r.pca_accuracy, r.pca_how = None, "", None, ""
    values = int(np.prod(source.shape[1:]))
    most = max_images(values)  # images of more than 4,096 values: from the first that many
    if most is not None and most < 2:
        r.eigen_why = (f"Not computed: the images have {values:,} values each, too many for "
                       "principal components here.")
        return

    def first(a):
        return a if most is None else a[:most]
    r.eigen_of = source.shape[0]
    source = first(source)
    r.eigen_n = source.shape[0]
    if source.shape[0] < 2:
        r.eigen_why = "Too few images for principal components (at least 2 are needed)."
    else:
        try:
            r.eigen = eigendigits(source, min(_N_EIGEN, source.shape[0] - 1))
        except ValueError as exc:  # e.g. images that vary in too few directions
            r.eigen_why = f"Not computed: {exc}."
            return
    if yt is not None:
        xf, yf = first(xt), first(yt)
        clf = PCAClassifier(_N_EIGEN)
        if r.eigen is not None and r.eigen.components.shape[0] == _N_EIGEN:
            clf._fit_with(r.eigen, xf, yf)  # the same images: the components once
        else:
            clf.fit(xf, yf)
        r.pca_accuracy = clf.score(x, y)
        which = (f"the {xt.shape[0]:,}" if xf.shape[0] == xt.shape[0] else
                 f"the first {xf.shape[0]:,} of the {xt.shape[0]:,}")
        r.pca_how = f"fitted on {which} training images and scored on the {x.shape[0]:,} test images"
    elif x.shape[0] >= 4:
        correct = 0
        for fit, test in ((slice(0, None, 2), slice(1, None, 2)),
                          (slice(1, None, 2), slice(0, None, 2))):
            xf, yf = first(x[fit]), first(y[fit])
            clf = PCAClassifier(min(_N_EIGEN, xf.shape[0] - 1)).fit(xf, yf)
            correct += int(np.sum(np.atleast_1d(clf.predict(x[test])) == y[test]))
        r.pca_accuracy = correct / x.shape[0]
        r.pca_how = ("no labelled training images were given, so it was fitted on half of the "
                     "test images and scored on the other half, both ways round")


def _mistakes(r, x, y, threads) -> None:
    r.mistakes = misclassified(r.net, x, y, threads=threads)  # all, most confident first


