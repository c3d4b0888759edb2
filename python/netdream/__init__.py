"""netdream: see what a trained neural network has learned about images.

Images are always given in one convention: shape ``(28, 28)`` or
``(N, 28, 28)``, ``uint8`` 0..255 or float 0..1, ink high (MNIST's own).
"""

from ._model import MLP, Encoding
from ._analysis import EvaluationResult, activations, causal_index, evaluate, forward64, garson
from .dream import DreamResult, average, hill_climb
from .evolve import evolve
from .gradient import gradient_ascent, input_gradient, morph, transfer
from .inside import (compare_activations, distinctive_neurons, misclassified, receptive_fields,
                     save_misclassified, weight_images)
from .report import make_report
from . import datasets, images, inside, pca, priors, regularizers, report

__version__ = "0.1.0"

__all__ = ["MLP", "Encoding", "evaluate", "EvaluationResult", "causal_index", "garson",
           "activations", "forward64", "hill_climb", "DreamResult", "average", "regularizers",
           "datasets", "images", "evolve", "priors", "inside", "pca", "receptive_fields",
           "compare_activations", "distinctive_neurons", "misclassified", "save_misclassified",
           "weight_images", "input_gradient", "gradient_ascent", "morph", "transfer",
           "make_report", "report", "__version__"]
