"""A one-page HTML report of what a network has learned.

:func:`make_report` runs the package's analyses on one network
(:mod:`netdream.report._compute`, which fills a typed
:class:`~netdream.report._compute.ReportData`) and writes a single
self-contained HTML file (:mod:`netdream.report._render`): every picture is an
embedded PNG (a ``data:`` URI), the style sheet is inline, and the page loads
nothing else and runs no script, so it can be mailed, archived or opened
offline.

Sections, in order: the model, accuracy and the confusion matrix, the causal
index, one dream per class, the average of many dreams per class, fooling
images, receptive fields sorted by focus, eigen-digits with the PCA baseline,
and the most confident mistakes.
"""

from __future__ import annotations

import os

from .._progress import tqdm_bar
from .._validation import (as_images, check_bool, check_int, check_labels, check_net,
                           check_output_path, check_seed, check_threads)
from ._compute import ReportData, compute
from ._render import SECTIONS, render

__all__ = ["make_report", "SECTIONS", "ReportData"]


def make_report(net, images, labels, *, path, train_images=None, train_labels=None,
                dreams: int = 200, seed: int = 0, progress: bool = True, threads=None) -> str:
    """Write a one-page HTML report of what ``net`` has learned.

    Parameters
    ----------
    net : MLP
    images : (N, 28, 28), public convention
        Held-out labelled images (normally the MNIST test set): accuracy,
        confusion matrix and mistakes are computed on them.
    labels : (N,) integers in 0..K-1
    path : str or os.PathLike
        The HTML file to write (replaced if it exists; its folder must exist).
    train_images : (M, 28, 28), optional
        Images for the eigen-digits (e.g. MNIST's training images). Without
        them the eigen-digits come from ``images``; the page says which.
    train_labels : (M,) integers, optional
        Labels of ``train_images``: the PCA baseline is then fitted on the
        training images and scored on ``images``. Without them it is fitted
        on one half of ``images`` and scored on the other, both ways round
        (even and odd positions), so no image is scored by a fit that saw it.
    dreams : int, default 200
        Hill-climbing runs per class (20,000 steps each, the default dream
        regulariser :func:`netdream.regularizers.default`);
        the page shows the first run and the average of all of them.
    seed : int, default 0
        Random seed of the dreams and the fooling images. Class ``k``'s
        dreams are exactly ``netdream dream k --seed S --runs N``'s.
    progress : bool, default True
        Show a tqdm progress bar over the sections.
    threads : int, optional
        Worker threads (default: every core). The page does not depend on it.

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    TypeError, ValueError
        For a bad argument (the message names it).
    FileNotFoundError
        If the folder of ``path`` does not exist (checked before any work).
    """
    net = check_net(net)
    path = check_output_path(path, "path")
    x, _ = as_images(images, shape=net.image_shape, keep_float64=True)
    if x.shape[0] == 0:
        raise ValueError("images: need at least one image")
    y = check_labels(labels, x.shape[0], net.n_classes, "labels")
    xt = yt = None
    if train_images is not None:
        xt, _ = as_images(train_images, name="train_images", shape=net.image_shape,
                          keep_float64=True)
        if xt.shape[0] < 2:
            raise ValueError(f"train_images: need at least 2 images, got {xt.shape[0]}")
        if train_labels is not None:
            yt = check_labels(train_labels, xt.shape[0], None, "train_labels")
    elif train_labels is not None:
        raise ValueError("train_labels given without train_images")
    dreams = check_int(dreams, "dreams", 1)
    seed = check_seed(seed)
    check_bool(progress, "progress")
    threads = check_threads(threads)

    # the dreams take most of the time: they count one step per class
    bar = _SectionBar(7 + net.n_classes, progress)
    try:
        data = compute(net, x, y, xt, yt, dreams=dreams, seed=seed, threads=threads, bar=bar)
        bar.note("writing")
        _write(path, render(data))
        bar.advance()
    finally:
        bar.close()
    return path


class _SectionBar:
    """A tqdm bar over the sections (shows nothing when disabled)."""

    def __init__(self, total: int, enabled: bool):
        self._bar = None
        if enabled:
            self._bar = tqdm_bar(total=total, desc="report", unit="part", leave=False)

    def note(self, text: str) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(text)

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()



def _write(path: str, text: str) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


