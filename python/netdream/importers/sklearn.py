"""Conversion of a fitted scikit-learn ``MLPClassifier`` into a netdream :class:`MLP`.

scikit-learn stores ``coefs_[l]`` as ``(n_in, n_out)`` (``x @ W``); netdream
uses ``W @ x``, so every matrix is transposed. scikit-learn itself is imported
only when a conversion is asked for.

An ``MLPClassifier`` has one fixed structure (linear layers, one hidden
activation, a softmax or logistic output), so this importer needs no handler
table: :data:`_HIDDEN` maps its hidden activations to netdream's and
:func:`_output_layer` reads its output.
"""

from __future__ import annotations

import numpy as np

from ..model import MLP, Encoding

__all__ = ["from_sklearn"]

# scikit-learn hidden activation -> netdream name
_HIDDEN = {"relu": "relu", "logistic": "sigmoid", "tanh": "tanh", "identity": "identity"}


def from_sklearn(clf, encoding: Encoding | None = None) -> MLP:
    """A netdream :class:`MLP` computing the same function as a fitted
    :class:`sklearn.neural_network.MLPClassifier`.

    Parameters
    ----------
    clf : fitted ``MLPClassifier`` whose input is a flattened 28x28 image
        (784 features).
    encoding : :class:`Encoding` describing how ``clf``'s training images were
        turned into feature vectors. The default (``None``) is
        ``images / 255`` in [0, 1], ink high, flattened row by row — what
        :func:`netdream.train.train` does. If you trained on, say,
        ``2 * images / 255 - 1``, pass ``Encoding(-1.0, 1.0)``.

    Returns
    -------
    MLP
        ``net.predict_proba(images)`` equals ``clf.predict_proba(features)``
        up to float32 rounding. ``net.predict`` returns the *index* of the
        winning class; ``clf.predict`` returns ``clf.classes_[index]``. The
        classes are recorded in ``net.metadata["classes"]`` and, as text,
        are the model's ``class_names`` (for digits trained on labels 0..9
        index and label coincide).

    Binary classifiers (one logistic output unit, ``p = sigmoid(z)``) become
    a two-output softmax network with logits ``(0, z)``: ``softmax(0, z) =
    (1 - p, p)``, exactly scikit-learn's ``predict_proba`` columns, so
    ``predict`` and :func:`netdream.evaluate` work as for any other model.

    Raises
    ------
    TypeError
        ``clf`` is not an ``MLPClassifier`` (an ``MLPRegressor`` included).
    ValueError
        ``clf`` is not fitted, does not take 784 features, or is a
        multi-label classifier (several independent logistic outputs), which
        netdream cannot represent.
    """
    try:
        from sklearn.neural_network import MLPClassifier
    except ImportError:  # then clf cannot be an MLPClassifier either
        MLPClassifier = None
    if MLPClassifier is None or not isinstance(clf, MLPClassifier):
        raise TypeError("clf must be a fitted sklearn.neural_network.MLPClassifier, got "
                        f"{type(clf).__module__}.{type(clf).__name__}")
    if not hasattr(clf, "coefs_") or not hasattr(clf, "classes_"):
        raise ValueError("clf is not fitted: call clf.fit(X, y) before converting it")
    if encoding is not None and not isinstance(encoding, Encoding):
        raise TypeError(f"encoding must be a netdream.Encoding or None, got {type(encoding).__name__}")

    n_in = clf.coefs_[0].shape[0]
    if n_in != 28 * 28:
        raise ValueError(f"clf takes {n_in} features; netdream models take 784 "
                         "(a flattened 28x28 image)")
    if clf.activation not in _HIDDEN:
        raise ValueError(f"clf has hidden activation {clf.activation!r}, which netdream does "
                         f"not support; supported: {', '.join(_HIDDEN)}")

    weights = [np.asarray(w, dtype=np.float64).T for w in clf.coefs_]
    biases = [np.asarray(b, dtype=np.float64) for b in clf.intercepts_]
    weights[-1], biases[-1], output = _output_layer(clf, weights[-1], biases[-1])
    return MLP(weights, biases, hidden=_HIDDEN[clf.activation], output=output,
               encoding=encoding, metadata=_metadata(clf), class_names=_label_names(clf))


def _label_names(clf):
    """The classifier's labels as class names, or ``None`` (the default
    names: the class indices) when they cannot serve as names (empty, too
    long or unprintable once turned into text, or two the same)."""
    from ..model import _check_class_names
    names = [str(_json_scalar(c)) for c in clf.classes_]
    try:
        names = _check_class_names(names, len(names), None)
    except ValueError:
        return None
    return names if len(set(names)) == len(names) else None


def _output_layer(clf, w, b):
    """The last layer's weight, bias and netdream output activation."""
    out = clf.out_activation_
    if out == "softmax":
        return w, b, "softmax"
    if out == "logistic" and w.shape[0] == 1 and len(clf.classes_) == 2:
        # sigmoid(z) == softmax([0, z])[1]: prepend a zero logit for class 0
        return np.vstack([np.zeros_like(w), w]), np.concatenate([[0.0], b]), "softmax"
    if out == "logistic":
        raise ValueError("clf is a multi-label classifier (independent logistic outputs); "
                         "netdream converts only single-label (binary or multiclass) classifiers")
    raise ValueError(f"clf has output activation {out!r}, which netdream does not support")


def _metadata(clf) -> dict:
    import sklearn

    return {
        "source": "sklearn.neural_network.MLPClassifier",
        "sklearn_version": sklearn.__version__,
        "classes": [_json_scalar(c) for c in clf.classes_],
        "sklearn_params": {
            "hidden_layer_sizes": [int(h) for h in np.atleast_1d(clf.hidden_layer_sizes)],
            "activation": clf.activation,
            "solver": clf.solver,
            "alpha": float(clf.alpha),
        },
    }


def _json_scalar(c):
    """A class label as something json.dumps accepts."""
    if isinstance(c, (np.integer, int)) and not isinstance(c, bool):
        return int(c)
    if isinstance(c, (np.floating, float)):
        return float(c)
    return str(c)
