"""Networks trained elsewhere, as netdream models.

One module per framework — :mod:`.torch`, :mod:`.keras`, :mod:`.onnx`,
:mod:`.sklearn` — each reads the framework's layers into the small list of
steps of :mod:`._steps`, which are folded and checked into an
:class:`~netdream.MLP` (the ONNX importer's convolutional steps into a
:class:`~netdream.Network`; :mod:`.torch_cnn` and :mod:`.keras_cnn` read
convolutional ``Sequential`` models, :mod:`.torch_fx` turns a plain torch
module into one). Each framework module keeps a table of handlers, one
small function per kind of layer or op, and a short driver loop that looks
each layer up in it and refuses, naming the layer and listing the table, what
no handler reads (see :mod:`._handlers`); supporting a new kind of layer is
adding one handler. The frameworks are optional: each is imported only when
its importer runs. Also reachable as ``MLP.from_torch`` and friends.
"""

from __future__ import annotations

__all__ = ["from_torch", "from_keras", "from_onnx", "from_sklearn"]

# Every importer also takes ``class_names``: one name per output class (a
# list, or one string of names separated by commas), which grids, the
# report, ``evaluate`` and the CLI show; the default is the digits for ten
# classes (scikit-learn: the classifier's own labels, ``clf.classes_``).


def _named(net, class_names):
    return net if class_names is None else net.with_class_names(class_names)


def from_torch(module_or_state_dict, layers=None, *, encoding=None, output=None,
               image_shape=(28, 28), class_names=None):
    """See :func:`netdream.importers.torch.from_torch`; ``class_names``: one
    name per output class (default the digits 0..9)."""
    from .torch import from_torch as f
    return _named(f(module_or_state_dict, layers, encoding=encoding, output=output,
                    image_shape=image_shape), class_names)


def from_keras(model, *, encoding=None, output=None, class_names=None):
    """See :func:`netdream.importers.keras.from_keras`; ``class_names``: one
    name per output class (default the digits 0..9)."""
    from .keras import from_keras as f
    return _named(f(model, encoding=encoding, output=output), class_names)


def from_onnx(path, *, encoding=None, output=None, class_names=None):
    """See :func:`netdream.importers.onnx.from_onnx`; ``class_names``: one
    name per output class (default the digits 0..9)."""
    from .onnx import from_onnx as f
    return _named(f(path, encoding=encoding, output=output), class_names)


def from_sklearn(clf, encoding=None, *, class_names=None):
    """See :func:`netdream.importers.sklearn.from_sklearn`; ``class_names``:
    one name per output class (default the classifier's labels,
    ``clf.classes_``, as text)."""
    from .sklearn import from_sklearn as f
    return _named(f(clf, encoding=encoding), class_names)
