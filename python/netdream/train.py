"""Train an MNIST MLP with scikit-learn and turn it into a netdream :class:`MLP`.

scikit-learn is an optional dependency (``pip install netdream[train]``) and is
imported only when :func:`train` runs.

Training recipe (what :func:`train` does)
-----------------------------------------
- Features are ``images / 255`` as float32 in [0, 1], flattened row by row:
  exactly the default :class:`~netdream.Encoding`, so the trained model needs
  no special encoding.
- ``MLPClassifier(solver="adam")`` fed one epoch at a time with
  ``partial_fit``. Each epoch holds every training image once unshifted plus
  ``augment`` copies of it, each shifted by a fresh random whole-pixel offset
  ``(dy, dx)`` with ``|dy|, |dx| <= max_shift`` (zero-filled), all in a fresh
  random order.
- The Adam step size follows a cosine schedule from ``learning_rate`` at the
  first epoch towards 0 at the end (set on scikit-learn's optimizer between
  epochs; with a scikit-learn whose optimizer lacks that attribute the step
  size stays constant and a warning says so).
- Every random choice (initial weights, shifts, order) derives from ``seed``,
  and the matrix products run on one BLAS thread (OpenBLAS rounds
  differently with different thread counts): the same seed and data give
  bit-identical weights on any number of cores (given the same NumPy/BLAS
  build, CPU family and scikit-learn version).
- Ctrl-C stops training at once; the model trained so far is returned, with
  ``metadata["training"]["interrupted"] = True``.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .model import MLP
from ._validation import as_images, check_int

__all__ = ["train", "train_cnn", "shift_images"]

_ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "identity": "identity",
                "logistic": "logistic", "sigmoid": "logistic"}
_INSTALL_HINT = "training needs scikit-learn: pip install netdream[train]"
# samples per partial_fit call; a multiple of batch_size is used, so chunking
# does not change the mini-batches (see _chunk_size)
_CHUNK_SAMPLES = 8192


# --------------------------------------------------------------------------
# Augmentation
# --------------------------------------------------------------------------

def shift_images(images, shifts) -> np.ndarray:
    """Move each image by a whole number of pixels, filling with background.

    Parameters
    ----------
    images : array of shape ``(N, H, W)`` (any dtype; background must be 0)
    shifts : int array of shape ``(N, 2)`` — ``(dy, dx)`` per image — or
        ``(2,)`` for one shift applied to all. Positive ``dy`` moves the
        content down, positive ``dx`` to the right; pixels moved past the
        border are lost.

    Returns
    -------
    numpy.ndarray
        A new array with the shape and dtype of ``images``: ``out[n, r, c] ==
        images[n, r - dy, c - dx]`` where that lies inside the image, else 0.
    """
    x = np.asarray(images)
    if x.ndim != 3:
        raise ValueError(f"images must have shape (N, H, W), got {x.shape}")
    s = np.asarray(shifts)
    if s.dtype.kind not in "iu":
        raise TypeError(f"shifts must be integers, got dtype {s.dtype}")
    if s.shape == (2,):
        s = np.broadcast_to(s, (x.shape[0], 2))
    if s.shape != (x.shape[0], 2):
        raise ValueError(f"shifts must have shape ({x.shape[0]}, 2) or (2,), got {s.shape}")
    s = s.astype(np.int64)
    h, w = x.shape[1:]
    out = np.zeros_like(x)
    if x.shape[0] == 0:
        return out
    # one slice copy per distinct shift (at most (2*max_shift + 1)**2 of them)
    uniq, group = np.unique(s, axis=0, return_inverse=True)
    group = group.reshape(-1)
    for g, (dy, dx) in enumerate(uniq):
        if abs(dy) >= h or abs(dx) >= w:
            continue  # everything leaves the frame
        idx = np.flatnonzero(group == g)
        moved = np.zeros((idx.size, h, w), dtype=x.dtype)
        moved[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
            x[idx, max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
        out[idx] = moved
    return out


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------

def train(images, labels, *, hidden=(256,), activation="relu", epochs=30, batch_size=128,
          learning_rate=1e-3, alpha=1e-4, augment=6, max_shift=2, seed=0, progress=True,
          validation=None) -> MLP:
    """Train an MLP on images with scikit-learn's ``MLPClassifier``.

    Parameters
    ----------
    images : ``(N, 28, 28)`` uint8 (0..255) or float (0..1), ink high
    labels : ``(N,)`` integers 0..K-1; the model gets ``K = labels.max() + 1``
        outputs, so output ``k`` is label ``k``.
    hidden : widths of the hidden layers, e.g. ``(256,)`` or ``(300, 100)``
    activation : hidden activation: relu, tanh, logistic (= sigmoid), identity
    epochs : passes over the (augmented) training set
    batch_size : Adam mini-batch size
    learning_rate : initial Adam step size (cosine-decayed over the epochs)
    alpha : scikit-learn's L2 penalty
    augment : shifted copies of each image per epoch (0 = no augmentation)
    max_shift : largest shift in pixels, in each of x and y
    seed : seed of every random choice
    progress : show a tqdm progress bar over epochs
    validation : optional ``(images, labels)`` scored after every epoch (shown
        on the progress bar, stored in ``metadata["training"]``); it never
        influences training.

    Returns
    -------
    MLP
        ``hidden``-relu (etc.) layers and a softmax output, default encoding.
        ``metadata["training"]`` records the recipe and how it went.

    Raises
    ------
    ImportError
        scikit-learn is not installed.
    """
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
        from threadpoolctl import threadpool_limits  # a dependency of scikit-learn
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    from tqdm.auto import tqdm

    from .importers.sklearn import from_sklearn

    x, y = _check_data(images, labels, "images", "labels")
    hidden = _check_hidden(hidden)
    if not isinstance(activation, str):
        raise TypeError(f"activation must be a string, got {type(activation).__name__}")
    if activation.lower() not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(_ACTIVATIONS)}, got {activation!r}")
    activation = _ACTIVATIONS[activation.lower()]
    epochs = check_int(epochs, "epochs", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    learning_rate = _check_float(learning_rate, "learning_rate", positive=True)
    alpha = _check_float(alpha, "alpha", positive=False)
    augment = check_int(augment, "augment", minimum=0)
    max_shift = check_int(max_shift, "max_shift", minimum=0)
    seed = check_int(seed, "seed", minimum=0)
    if seed >= 2**32:  # scikit-learn's random_state limit
        raise ValueError(f"seed must be < 2**32, got {seed}")
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise TypeError("validation must be None or a pair (images, labels)")
        xv, yv = _check_data(*validation, "validation images", "validation labels")
        xv = _features(xv)
    n_classes = int(y.max()) + 1
    if n_classes < 2:
        raise ValueError("labels must hold at least two classes (0 and 1)")

    n = x.shape[0]
    rng = np.random.default_rng(seed)
    clf = MLPClassifier(hidden_layer_sizes=hidden, activation=activation, solver="adam",
                        alpha=alpha, batch_size=batch_size, learning_rate_init=learning_rate,
                        shuffle=False,  # we shuffle ourselves: partial_fit would reuse one order
                        random_state=seed)
    classes = np.arange(n_classes)
    chunk = _chunk_size(batch_size)
    history = {"loss": [], "validation_accuracy": []}
    interrupted = False
    done = 0
    # One BLAS thread: OpenBLAS sums in a different order for different thread
    # counts, so this is what makes the weights independent of the machine's
    # core count. Small matrices gain little from more threads anyway.
    limits = threadpool_limits(limits=1, user_api="blas")
    bar = tqdm(range(epochs), desc="training", unit="epoch", disable=not progress,
               dynamic_ncols=True)
    try:
        for epoch in bar:
            # the epoch's samples: every image unshifted, then `augment` shifted copies
            index = np.tile(np.arange(n), augment + 1)
            shifts = np.zeros((index.size, 2), dtype=np.int64)
            shifts[n:] = rng.integers(-max_shift, max_shift + 1, size=(n * augment, 2))
            order = rng.permutation(index.size)
            index, shifts = index[order], shifts[order]

            if epoch > 0:  # the optimizer exists only after the first partial_fit
                _set_step_size(clf, learning_rate * 0.5 * (1 + math.cos(math.pi * epoch / epochs)))
            loss = 0.0
            for lo in range(0, index.size, chunk):
                sel = slice(lo, lo + chunk)
                batch = _features(shift_images(x[index[sel]], shifts[sel]))
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    warnings.filterwarnings("always", message="Training interrupted by user")
                    clf.partial_fit(batch, y[index[sel]], classes=classes)
                _rethrow(caught)  # scikit-learn swallows Ctrl-C inside partial_fit
                loss += clf.loss_ * batch.shape[0]
            done += 1
            history["loss"].append(round(float(loss) / index.size, 6))
            postfix = {"loss": f"{loss / index.size:.4f}"}
            if validation is not None:
                acc = float(np.mean(clf.predict(xv) == yv))
                history["validation_accuracy"].append(round(acc, 6))
                postfix["val"] = f"{100 * acc:.2f}%"
            bar.set_postfix(postfix)
    except KeyboardInterrupt:
        interrupted = True
        if not hasattr(clf, "coefs_"):
            raise  # nothing trained yet: nothing to keep
    finally:
        bar.close()
        limits.restore_original_limits()

    net = from_sklearn(clf)
    sizes = "-".join(map(str, net.sizes))
    net.metadata.pop("sklearn_params", None)  # superseded by "training"
    net.metadata.update({
        "name": f"MNIST MLP {sizes}",
        "architecture": f"{sizes}: {', '.join(net.hidden)} hidden, {net.output} output",
        "training": {
            "n_images": int(n),
            "optimizer": "adam (scikit-learn MLPClassifier.partial_fit), cosine step-size decay",
            "epochs": epochs,
            "epochs_completed": done,
            "interrupted": interrupted,
            "batch_size": batch_size,
            "learning_rate": learning_rate,
            "alpha": alpha,
            "augment": augment,
            "max_shift": max_shift,
            "augmentation": (f"each epoch: every image once unshifted plus {augment} copies shifted "
                             f"by random whole pixels, |dx|, |dy| <= {max_shift}, zero-filled"
                             if augment else "none"),
            "seed": seed,
            "final_loss": history["loss"][-1] if history["loss"] else None,
        },
    })
    if validation is not None:
        net.metadata["training"]["validation_accuracy"] = history["validation_accuracy"]
    return net


def _check_data(images, labels, iname, lname):
    x, _ = as_images(images, name=iname)
    if x.ndim != 3:
        raise ValueError(f"{iname} must be a stack (N, 28, 28), got one image")
    y = np.asarray(labels)
    if y.dtype.kind not in "iu":
        raise TypeError(f"{lname} must be integers, got dtype {y.dtype}")
    if y.shape != (x.shape[0],):
        raise ValueError(f"{lname} must have shape ({x.shape[0]},) to match {iname}, got {y.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{iname} is empty")
    if y.min() < 0:
        raise ValueError(f"{lname} must be >= 0, got {y.min()}")
    return x, y.astype(np.int64)


def _check_hidden(hidden):
    if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
        hidden = (hidden,)
    if not isinstance(hidden, (tuple, list)) or not hidden:
        raise TypeError(f"hidden must be a non-empty tuple of layer widths, got {hidden!r}")
    return tuple(check_int(h, "hidden layer width", minimum=1) for h in hidden)


def _check_float(value, name, *, positive):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be {'> 0' if positive else '>= 0'} and finite, got {value}")
    return value


def _features(x):
    """(N, 28, 28) uint8 or float [0, 1] -> (N, 784) float32 in [0, 1], row-major."""
    f = x.reshape(x.shape[0], -1)
    if f.dtype == np.uint8:
        return f.astype(np.float32) / np.float32(255)
    return f.astype(np.float32, copy=False)


def _chunk_size(batch_size):
    """Samples per partial_fit call: a multiple of batch_size, so that feeding
    an epoch in chunks forms the same mini-batches as feeding it whole."""
    return batch_size * max(1, _CHUNK_SAMPLES // batch_size)


def _set_step_size(clf, lr):
    # scikit-learn has no public way to change Adam's step size between
    # partial_fit calls; its AdamOptimizer reads ``learning_rate_init`` on
    # every update (true since scikit-learn 0.18).
    opt = getattr(clf, "_optimizer", None)
    if opt is not None and hasattr(opt, "learning_rate_init"):
        opt.learning_rate_init = lr
    else:
        warnings.warn("this scikit-learn's optimizer has no learning_rate_init; "
                      "training continues with a constant step size", RuntimeWarning, stacklevel=3)


def _rethrow(caught):
    """Re-raise a Ctrl-C that scikit-learn turned into a warning; re-emit the rest."""
    for w in caught:
        if "Training interrupted by user" in str(w.message):
            raise KeyboardInterrupt
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


# --------------------------------------------------------------------------
# A convolutional network, trained with PyTorch
# --------------------------------------------------------------------------

_TORCH_HINT = "training a convolutional network needs PyTorch: pip install netdream[torch]"


def train_cnn(images, labels, *, channels=(16, 32), kernel=5, dense=(64,), epochs=20,
              batch_size=64, learning_rate=2e-3, weight_decay=1e-4, dropout=0.25,
              max_shift=2, max_rotation=10.0, seed=0, threads=1, progress=True,
              validation=None, class_names=None, adversarial=0.0, adversarial_steps=7):
    """Train a small convolutional network (or, with ``channels=()``, a
    dense one) with PyTorch.

    The architecture: for each entry of ``channels`` a ``kernel`` x
    ``kernel`` convolution (padding "same", relu) and a 2x2 max-pool; a
    flatten; for each entry of ``dense`` a dense relu layer (dropout
    ``dropout`` before it while training); a dense softmax output. The
    default, 16 and 32 channels and 64 dense units, has about 115,000
    weights (460 KB as float32). Each epoch shows every training image once,
    moved by a random affine map: a rotation of at most ``max_rotation``
    degrees and a shift of at most ``max_shift`` pixels in x and y. Adam with
    decoupled weight decay (``weight_decay``), the step size cosine-decayed
    from ``learning_rate`` towards 0.

    Every random choice derives from ``seed``; PyTorch runs on ``threads``
    threads (the same seed and thread count give the same weights).

    ``adversarial``: an L2 radius (in [0, 1] pixel units; 0: off). Half of
    every batch is then replaced by adversarial examples: each image moved
    within that radius (and within [0, 1]) by ``adversarial_steps`` steps of
    projected gradient ascent on the loss (Madry et al. 2018). Such robust
    models have "perceptually aligned" input gradients (Santurkar et al.
    2019): what they dream looks like the class. The shipped default MLP
    is trained this way (see its model card).

    ``channels=()``: no convolution; the network is then a dense
    :class:`~netdream.MLP` (``dense`` hidden units, ``max_rotation`` and
    ``max_shift`` still apply).

    ``images``: ``(N, H, W)`` or ``(N, C, H, W)``, uint8 or float [0, 1],
    ink high; ``labels`` 0..K-1. ``validation``: optional ``(images,
    labels)`` scored after every epoch (shown on the progress bar). Ctrl-C
    stops at once and returns the model trained so far
    (``metadata["training"]["interrupted"]``).

    Returns a :class:`~netdream.Network`.
    """
    try:
        import torch
        from torch import nn
        import torch.nn.functional as F
    except ImportError as exc:
        raise ImportError(_TORCH_HINT) from exc
    from tqdm.auto import tqdm

    from .layers import Conv2D, Dense, Flatten, MaxPool2D
    from .model import Network

    x = np.asarray(images)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or x.shape[1] not in (1, 3) or x.shape[0] == 0:
        raise ValueError(f"images must have shape (N, H, W) or (N, C, H, W) with 1 or 3 channels, "
                         f"got {x.shape}")
    as_images(x[:, 0] if x.shape[1] == 1 else x, name="images",
              shape=x.shape[2:] if x.shape[1] == 1 else x.shape[1:])  # dtype and range
    y = np.asarray(labels)
    if y.dtype.kind not in "iu" or y.shape != (len(x),):
        raise ValueError(f"labels must be {len(x)} integers, got shape {y.shape} dtype {y.dtype}")
    if y.min() < 0:
        raise ValueError(f"labels must be >= 0, got {y.min()}")
    channels = _check_hidden(channels) if channels else ()
    dense = _check_hidden(dense) if dense else ()
    adversarial = _check_float(adversarial, "adversarial", positive=False)
    adversarial_steps = check_int(adversarial_steps, "adversarial_steps", minimum=1)

    kernel = check_int(kernel, "kernel", minimum=1)
    epochs = check_int(epochs, "epochs", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    learning_rate = _check_float(learning_rate, "learning_rate", positive=True)
    weight_decay = _check_float(weight_decay, "weight_decay", positive=False)
    dropout = _check_float(dropout, "dropout", positive=False)
    if dropout >= 1:
        raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
    max_shift = check_int(max_shift, "max_shift", minimum=0)
    max_rotation = _check_float(max_rotation, "max_rotation", positive=False)
    seed = check_int(seed, "seed", minimum=0)
    threads = check_int(threads, "threads", minimum=1)
    n_classes = int(y.max()) + 1
    if n_classes < 2:
        raise ValueError("labels must hold at least two classes (0 and 1)")
    c, h, w = x.shape[1:]
    if not channels and c != 1:
        raise ValueError("channels=() (a dense network) takes greyscale images (N, H, W)")
    side = (h, w)
    for _ in channels:
        side = (side[0] // 2, side[1] // 2)
    if min(side) < 1:
        raise ValueError(f"{len(channels)} conv+pool stages halve a {h}x{w} image below one pixel")

    def as_tensor(a):
        a = np.asarray(a)
        a = a[:, None] if a.ndim == 3 else a
        return torch.from_numpy(a.astype(np.float32) / (255.0 if a.dtype == np.uint8 else 1.0))

    data = as_tensor(x)
    target = torch.from_numpy(y.astype(np.int64))
    if validation is not None:
        xv = as_tensor(validation[0])
        yv = torch.from_numpy(np.asarray(validation[1]).astype(np.int64))

    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    mods, width = [], c
    for ch in channels:
        mods += [nn.Conv2d(width, ch, kernel, padding="same"), nn.ReLU(), nn.MaxPool2d(2)]
        width = ch
    mods.append(nn.Flatten())
    n_in = width * side[0] * side[1]
    for units in dense:
        mods += [nn.Dropout(dropout), nn.Linear(n_in, units), nn.ReLU()]
        n_in = units
    mods += [nn.Dropout(dropout), nn.Linear(n_in, n_classes)]
    model = nn.Sequential(*mods)
    opt = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    steps_per_epoch = -(-len(x) // batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
    history = {"loss": [], "validation_accuracy": []}
    interrupted, done = False, 0
    bar = tqdm(range(epochs), desc="training", unit="epoch", disable=not progress,
               dynamic_ncols=True)
    try:
        for _ in bar:
            model.train()
            order = torch.randperm(len(x), generator=gen)
            total = 0.0
            for lo in range(0, len(x), batch_size):
                idx = order[lo:lo + batch_size]
                xb = _affine(data[idx], max_rotation, max_shift, gen, torch, F)
                if adversarial > 0:
                    half = len(idx) // 2
                    model.eval()  # dropout off while attacking
                    xb = torch.cat([xb[:half], _pgd_l2(model, xb[half:], target[idx[half:]],
                                                       adversarial, adversarial_steps, torch, F)])
                    model.train()
                loss = F.cross_entropy(model(xb), target[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                total += loss.item() * len(idx)
            done += 1
            history["loss"].append(round(total / len(x), 6))
            postfix = {"loss": f"{total / len(x):.4f}"}
            if validation is not None:
                model.eval()
                with torch.no_grad():
                    acc = float((model(xv).argmax(1) == yv).float().mean())
                history["validation_accuracy"].append(round(acc, 6))
                postfix["val"] = f"{100 * acc:.2f}%"
            bar.set_postfix(postfix)
    except KeyboardInterrupt:
        interrupted = True
        if done == 0:
            raise
    finally:
        bar.close()
        torch.set_num_threads(old_threads)

    training = {
        "framework": f"PyTorch {torch.__version__}", "n_images": int(len(x)),
        "optimizer": "AdamW, cosine step-size decay", "epochs": epochs,
        "epochs_completed": done, "interrupted": interrupted, "batch_size": batch_size,
        "learning_rate": learning_rate, "weight_decay": weight_decay, "dropout": dropout,
        "augmentation": (f"each epoch: every image once, rotated by at most {max_rotation:g} "
                         f"degrees and shifted by at most {max_shift} pixels"),
        **({"adversarial": f"half of each batch: L2 PGD, radius {adversarial:g}, "
                           f"{adversarial_steps} steps"} if adversarial > 0 else {}),
        "seed": seed, "threads": threads,
        "final_loss": history["loss"][-1] if history["loss"] else None,
        **({"validation_accuracy": history["validation_accuracy"]} if validation else {}),
    }
    linears = [m for m in model if isinstance(m, nn.Linear)]
    if not channels:
        from .model import MLP
        sizes = "-".join(map(str, [h * w, *dense, n_classes]))
        return MLP([lin.weight.detach().double().numpy() for lin in linears],
                   [lin.bias.detach().double().numpy() for lin in linears], hidden="relu",
                   image_shape=(h, w), class_names=class_names,
                   metadata={"name": f"MLP {sizes}" + (" (adversarially trained)"
                                                        if adversarial > 0 else ""),
                             "architecture": f"dense {sizes}, relu, softmax",
                             "training": training})
    layers, convs = [], [m for m in model if isinstance(m, nn.Conv2d)]
    for conv in convs:
        layers += [Conv2D(conv.weight.detach().double().numpy(), conv.bias.detach().double().numpy(),
                          padding="same", activation="relu"), MaxPool2D(2)]
    layers.append(Flatten())
    for k, lin in enumerate(linears):
        layers.append(Dense(lin.weight.detach().double().numpy(), lin.bias.detach().double().numpy(),
                            "softmax" if k == len(linears) - 1 else "relu"))
    arch = (" -> ".join(f"conv {kernel}x{kernel} {ch} same relu -> max-pool 2x2" for ch in channels)
            + "".join(f" -> dense {u} relu" for u in dense) + f" -> dense {n_classes} softmax")
    net = Network(layers, image_shape=(c, h, w), class_names=class_names, metadata={
        "name": f"CNN {'-'.join(map(str, channels))}-{'-'.join(map(str, dense))}",
        "architecture": arch,
        "training": training})
    return net


def fit_temperature(net, images, labels) -> float:
    """The temperature T that minimises the cross-entropy of ``softmax(logits
    / T)`` on ``(images, labels)`` -- held-out data, not the training set
    (Guo et al. 2017). T < 1: the model is underconfident, as adversarially
    trained models are; T > 1: overconfident. Searched on a grid of 0.01 from
    0.05 to 5."""
    z = np.asarray(net.logits(images), dtype=np.float64)
    y = np.asarray(labels)
    if y.shape != (len(z),) or y.dtype.kind not in "iu":
        raise ValueError(f"labels must be {len(z)} integers, got shape {y.shape} dtype {y.dtype}")
    best, best_t = np.inf, 1.0
    for t in np.arange(0.05, 5.0001, 0.01):
        a = z / t
        a = a - a.max(axis=1, keepdims=True)
        loss = float(np.mean(np.log(np.exp(a).sum(axis=1)) - a[np.arange(len(y)), y]))
        if loss < best:
            best, best_t = loss, float(round(t, 2))
    return best_t


def with_temperature(net, temperature: float):
    """``net`` with its logits divided by ``temperature`` (the last dense
    layer's weights and bias scaled by 1 / T): the same decisions, its
    confidences recalibrated (see :func:`fit_temperature`)."""
    from .layers import Dense
    from .model import MLP, Network
    t = _check_float(temperature, "temperature", positive=True)
    meta = dict(net.metadata)
    meta["temperature"] = t
    if isinstance(net, MLP):
        return MLP(list(net.weights[:-1]) + [net.weights[-1] / t],
                   list(net.biases[:-1]) + [net.biases[-1] / t], hidden=net.hidden,
                   output=net.output, encoding=net.encoding, leaky_slope=net.leaky_slope,
                   image_shape=net.image_shape, metadata=meta, class_names=net.class_names)
    layers = list(net.layers)
    last = layers[-1]
    layers[-1] = Dense(last.weight / t, last.bias / t, last.activation)
    return Network(layers, image_shape=net.image_shape, encoding=net.encoding,
                   leaky_slope=net.leaky_slope, metadata=meta, class_names=net.class_names)


def _pgd_l2(model, x, y, radius, steps, torch, F):
    """``x`` moved within an L2 ball of ``radius`` (and within [0, 1]) to
    raise the loss: projected normalised-gradient ascent, step 2.5 radius /
    steps (Madry et al. 2018)."""
    step = 2.5 * radius / steps
    delta = torch.zeros_like(x)
    dims = tuple(range(1, x.ndim))
    for _ in range(steps):
        delta.requires_grad_(True)
        loss = F.cross_entropy(model(x + delta), y)
        (grad,) = torch.autograd.grad(loss, delta)
        norm = grad.pow(2).sum(dims, keepdim=True).sqrt()
        delta = delta.detach() + step * grad / (norm + 1e-12)
        norm = delta.pow(2).sum(dims, keepdim=True).sqrt()
        delta = delta * torch.clamp(radius / (norm + 1e-12), max=1.0)
        delta = torch.clamp(x + delta, 0, 1) - x
    return (x + delta).detach()


def _affine(x, max_rotation, max_shift, gen, torch, F):
    """A batch moved by random rotations and shifts (bilinear, zero fill)."""
    n, _, h, w = x.shape
    if max_rotation == 0 and max_shift == 0:
        return x
    angle = (torch.rand(n, generator=gen) * 2 - 1) * (max_rotation * np.pi / 180)
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * max_shift
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = cos, -sin, sin, cos
    theta[:, 0, 2] = -shift[:, 0] * 2 / w  # affine_grid works in [-1, 1] coordinates
    theta[:, 1, 2] = -shift[:, 1] * 2 / h
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")
