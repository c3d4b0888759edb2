"""Handler tables: how each importer turns a framework's layers into steps.

Every framework importer keeps one :class:`Handlers` table that maps the
framework's own name for a kind of layer — an ONNX ``op_type``, a
``torch.nn`` class name, a ``keras.layers`` class name, a state-dict layer
kind such as ``"linear"`` — to a *handler*: a small function

    handler(node, ctx) -> list of steps (see :mod:`._steps`)

that reads one node or layer. ``node`` is the framework's object (an ONNX
``NodeProto``, an ``nn.Module``, a Keras layer, an entry of ``layers=[...]``
for a state dict); ``ctx`` is the framework's :class:`Context`, which says where
the node is (``ctx.where``, used in every message), which table entry matched
(``ctx.op``), the per-sample shape of the data entering the node
(``ctx.shape``) and whatever else the framework's handlers share. A handler
returns the node's steps — an empty list for a layer that computes nothing at
inference — or raises ``ValueError`` naming ``ctx.where`` when the node is
of a supported kind but uses a setting netdream cannot represent. Where the
importer tracks the per-sample shape (ONNX does; torch and Keras leave
``ctx.shape`` at ``None`` until they read layers that need it, such as
convolutions), a handler whose node changes it (Flatten, Reshape, a linear
layer) sets ``ctx.shape``.

Each framework module has a short driver loop that walks the graph or the
layers, sets up ``ctx``, looks the handler up and raises
:meth:`Handlers.not_supported` — which names the node and lists the table — when
there is none. Adding a kind of layer is therefore adding one decorated
function::

    @OPS.register("Neg")
    def _neg(node, ctx):
        return [steps_.affine(ctx.where, -1.0, 0.0)]
"""

from __future__ import annotations

from dataclasses import dataclass

from ._steps import NOT_DENSE

__all__ = ["Handlers", "Context"]


class Handlers:
    """A table from a framework's names for layers to the handlers that read them.

    ``what`` is how messages call the table's entries ("ONNX ops",
    "torch.nn modules", ...) and ``scope`` how refusals say what the importer
    reads (default: dense networks). Names keep the order they were registered
    in, which is the order messages list them in. ``register(*names)`` is a
    decorator.
    """

    def __init__(self, what: str, scope: str = NOT_DENSE):
        self.what = what
        self.scope = scope  # what the importer reads, for refusals
        self._handlers = {}

    def register(self, *names):
        """Register the decorated function as the handler of each of ``names``."""
        if not names:
            raise TypeError("register needs at least one name")

        def decorate(fn):
            for name in names:
                if name in self._handlers:
                    raise RuntimeError(f"{self.what}: '{name}' has two handlers "
                                       f"({self._handlers[name].__name__} and {fn.__name__})")
                self._handlers[name] = fn
            return fn

        return decorate

    def get(self, name):
        """The handler of ``name``, or ``None``."""
        return self._handlers.get(name)

    def names(self) -> list:
        """The supported names, in registration order."""
        return list(self._handlers)

    def __contains__(self, name) -> bool:
        return name in self._handlers

    def __iter__(self):
        return iter(self._handlers)

    def __len__(self) -> int:
        return len(self._handlers)

    def __repr__(self) -> str:
        return f"Handlers({self.what!r}: {', '.join(self._handlers)})"

    def not_supported(self, where: str, also=()) -> ValueError:
        """The error for a node no handler reads: names it and lists what is
        supported (the table, then ``also``: what the driver handles itself)."""
        supported = ", ".join([*self._handlers, *also])
        return ValueError(f"{where} is not supported: {self.scope}; the supported {self.what} "
                          f"are {supported}")


@dataclass
class Context:
    """What every handler may read besides its node.

    ``where`` names the node in messages (e.g. ``"layer 2 (ReLU)"``), ``op``
    is the table entry that matched, and ``shape`` the per-sample shape of the
    data entering the node (a tuple; ``None`` entries are unknown sizes), or
    ``None`` while the importer does not track it. Each framework subclasses
    it with what its handlers share.
    """

    where: str = ""
    op: str = ""
    shape: tuple | None = None
