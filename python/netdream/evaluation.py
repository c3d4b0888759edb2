"""How well a model classifies labelled images: accuracy and the confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import as_images, check_labels, check_net

__all__ = ["evaluate", "EvaluationResult"]


@dataclass(frozen=True)
class EvaluationResult:
    """Accuracy of a model on labelled images.

    ``confusion[t, p]`` counts images of true class ``t`` predicted as ``p``;
    ``class_names`` are the model's.
    """

    correct: int
    total: int
    confusion: np.ndarray
    predictions: np.ndarray
    class_names: tuple = ()

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else float("nan")

    def __str__(self) -> str:
        return f"accuracy: {self.correct}/{self.total} ({100 * self.accuracy:.2f}%)"

    def _repr_html_(self) -> str:
        from html import escape
        k = self.confusion.shape[0]
        names = [escape(n) for n in self.class_names] or [str(c) for c in range(k)]
        head = "".join(f"<th>{names[p]}</th>" for p in range(k))
        body = "".join(
            "<tr><th>{}</th>{}</tr>".format(
                names[t], "".join(
                    f"<td style='text-align:right;{'font-weight:bold' if t == p else ''}'>"
                    f"{self.confusion[t, p]}</td>" for p in range(k)))
            for t in range(k))
        return (f"<p>{self}</p><table><tr><th>true \\ predicted</th>{head}</tr>{body}</table>")


def evaluate(net, images, labels, *, threads=None) -> EvaluationResult:
    """Accuracy and confusion matrix of ``net`` on ``images`` with ``labels``."""
    net = check_net(net)
    x, _ = as_images(images, shape=net.image_shape)
    k = net.n_classes
    y = check_labels(labels, x.shape[0], k)
    pred = net.predict(x, threads=threads)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (y, pred), 1)
    return EvaluationResult(int(np.trace(confusion)), int(y.size), confusion, pred,
                            tuple(net.class_names))
