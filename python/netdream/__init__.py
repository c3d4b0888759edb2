"""netdream: see what a trained neural network has learned about images.

Images are always given in one convention: the model's image shape —
``(H, W)`` / ``(N, H, W)`` for grey models such as MNIST's 28x28 ones,
``(C, H, W)`` / ``(N, C, H, W)`` for colour ones — ``uint8`` 0..255 or float
0..1, ink high (MNIST's own); each model encodes them as it was trained to.
A search's target is a class, by index or by name (the model's
``class_names``).

Where each idea lives: models (:mod:`netdream.model`, files in
:mod:`netdream.formats`, imports from other frameworks in
:mod:`netdream.importers`), the causal index and Garson importance
(:mod:`netdream.causal`), accuracy (:mod:`netdream.evaluation`), what the
searches maximise (:mod:`netdream.goals`), dreams by hill climbing
(:mod:`netdream.dream`), genetic fooling images (:mod:`netdream.evolve`),
gradients and morphing (:mod:`netdream.gradient`), their common result
(:mod:`netdream.results`), regularisers and priors
(:mod:`netdream.regularizers`, :mod:`netdream.priors`), looking inside
(:mod:`netdream.inside`, :mod:`netdream.pca`), pictures
(:mod:`netdream.images`), photos of digits (:mod:`netdream.photo`), data
(:mod:`netdream.datasets`), training (:mod:`netdream.train`), the report
(:mod:`netdream.report`) and the live page in the browser
(:mod:`netdream.serve`, with the ``serve`` extra). The searches on a Dask
cluster, and sweeps over models, are in :mod:`netdream.distributed` (an
optional extra, imported on its own: ``import netdream.distributed``).
"""

import warnings as _warnings

from .model import MLP, Encoding, Network, load, pretrained
from .causal import causal_index, garson
from .evaluation import EvaluationResult, evaluate
from .results import SearchResult, Trajectory, average
from .dream import hill_climb
from .evolve import evolve
from .gradient import gradient_ascent, input_gradient, morph, transfer
from .inside import (activations, compare_activations, distinctive_neurons, feature_maps, forward64,
                     misclassified, receptive_fields, save_misclassified, weight_images)
from .report import make_report
from .importers import from_keras, from_onnx, from_sklearn, from_torch
from . import (datasets, formats, goals, images, importers, inside, layers, pca, photo, priors,
               regularizers, report)

__version__ = "0.2.0"

__all__ = ["MLP", "Network", "Encoding", "load", "pretrained", "layers", "feature_maps", "evaluate", "EvaluationResult", "causal_index", "garson",
           "activations", "forward64", "hill_climb", "SearchResult", "Trajectory", "average",
           "regularizers", "datasets", "formats", "goals", "images", "importers", "photo",
           "evolve", "priors", "inside", "pca", "receptive_fields", "compare_activations",
           "distinctive_neurons", "misclassified", "save_misclassified", "weight_images",
           "input_gradient", "gradient_ascent", "morph", "transfer", "make_report", "report",
           "from_torch", "from_keras", "from_onnx", "from_sklearn", "__version__"]


def __getattr__(name):
    # names that moved in 0.2
    if name == "DreamResult":
        _warnings.warn("netdream.DreamResult is deprecated; use netdream.SearchResult",
                       DeprecationWarning, stacklevel=2)
        return SearchResult
    raise AttributeError(f"module 'netdream' has no attribute {name!r}")
