"""netdream: see what a trained neural network has learned about images.

Images are always given in one convention: shape ``(28, 28)`` or
``(N, 28, 28)``, ``uint8`` 0..255 or float 0..1, ink high (MNIST's own).
"""

from ._model import MLP, Encoding
from ._analysis import EvaluationResult, activations, causal_index, evaluate, forward64, garson
from .dream import DreamResult, average, hill_climb
from . import datasets, images, regularizers

__version__ = "0.1.0"

__all__ = ["MLP", "Encoding", "evaluate", "EvaluationResult", "causal_index", "garson",
           "activations", "forward64", "hill_climb", "DreamResult", "average", "regularizers",
           "datasets", "images",
           "__version__"]
