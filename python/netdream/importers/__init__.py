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


def from_torch(module_or_state_dict, layers=None, *, encoding=None, output=None,
               image_shape=(28, 28)):
    """See :func:`netdream.importers.torch.from_torch`."""
    from .torch import from_torch as f
    return f(module_or_state_dict, layers, encoding=encoding, output=output,
             image_shape=image_shape)


def from_keras(model, *, encoding=None, output=None):
    """See :func:`netdream.importers.keras.from_keras`."""
    from .keras import from_keras as f
    return f(model, encoding=encoding, output=output)


def from_onnx(path, *, encoding=None, output=None):
    """See :func:`netdream.importers.onnx.from_onnx`."""
    from .onnx import from_onnx as f
    return f(path, encoding=encoding, output=output)


def from_sklearn(clf, encoding=None):
    """See :func:`netdream.importers.sklearn.from_sklearn`."""
    from .sklearn import from_sklearn as f
    return f(clf, encoding=encoding)
