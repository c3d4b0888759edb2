"""netdream train: train an MLP (scikit-learn) or a small CNN (PyTorch) on
images in MNIST's IDX layout in a folder."""

from __future__ import annotations

import argparse
import shlex
import sys
import time

import numpy as np

from ._common import check_output


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``netdream train`` to ``parser``."""
    parser.add_argument("--data", required=True, metavar="DIR",
                        help="folder with IDX files in MNIST's layout: train-* (or train10k-*) "
                             "to train on, t10k-* (optional) to report test accuracy; grey "
                             "(N, H, W) images, or colour (N, 3, H, W) ones for --arch cnn")
    parser.add_argument("-o", "--output", required=True, metavar="MODEL.npz",
                        help="where to save the trained model")
    parser.add_argument("--arch", default="mlp", choices=["mlp", "cnn"],
                        help="mlp: dense layers, trained with scikit-learn (default); cnn: "
                             "conv 5x5 + max-pool stages then dense layers, trained with PyTorch")
    parser.add_argument("--classes", metavar="NAMES",
                        help="comma-separated class names, one per label 0..K-1 (default: the "
                             "digits 0..9, and the data is called MNIST)")
    parser.add_argument("--hidden", type=int, nargs="+", default=None, metavar="N",
                        help="dense hidden layer widths (default: 256 for mlp, 64 for cnn)")
    parser.add_argument("--channels", type=int, nargs="+", default=[16, 32], metavar="N",
                        help="cnn: channels of each conv stage (default: 16 32)")
    parser.add_argument("--activation", default="relu",
                        choices=["relu", "tanh", "sigmoid", "identity"],
                        help="hidden activation (default: relu)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs (default: 30 for mlp, 40 for cnn)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="mini-batch size (default: 128 for mlp, 64 for cnn)")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="initial Adam step size, cosine-decayed (default: 0.001 for mlp, "
                             "0.002 for cnn)")
    parser.add_argument("--alpha", type=float, default=1e-4,
                        help="L2 penalty (mlp) or decoupled weight decay (cnn) (default: 0.0001)")
    parser.add_argument("--augment", type=int, default=6, metavar="K",
                        help="mlp: shifted copies of each image per epoch (default: 6; 0 = none); "
                             "cnn: every image is moved once per epoch by a random rotation "
                             "(up to 10 degrees) and shift")
    parser.add_argument("--max-shift", type=int, default=2, metavar="PX",
                        help="largest shift in pixels along x and y (default: 2)")
    parser.add_argument("--adversarial", type=float, default=0.0, metavar="EPS",
                        help="adversarial training (PyTorch, also for mlp): half of each batch "
                             "moved within an L2 radius EPS to raise the loss; robust models "
                             "dream recognisable digits (default: 0, off; the shipped mlp: 2.0)")
    parser.add_argument("--adversarial-steps", type=int, default=7, metavar="K",
                        help="gradient steps per adversarial example (default: 7)")
    parser.add_argument("--dropout", type=float, default=None,
                        help="PyTorch training: dropout before each dense layer (default: 0.25 "
                             "for cnn, 0 for mlp)")
    parser.add_argument("--calibrate", type=float, default=0.0, metavar="FRACTION",
                        help="recalibrate the confidences: train once more on all but the last "
                             "FRACTION of the images, fit the temperature that minimises the "
                             "loss on those held out, and divide the final model's logits by "
                             "it (default: 0, off; the shipped mlp: 0.1)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--threads", type=int, default=1,
                        help="cnn: PyTorch threads (default: 1; the same seed and thread count "
                             "give the same weights)")
    parser.add_argument("--storage-dtype", default="float32", choices=["float32", "float16"],
                        help="dtype of the saved weights (default: float32)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def cmd_train(args) -> int:
    """Run ``netdream train`` with parsed ``args``; returns the exit status
    (0, or 130 when interrupted with Ctrl-C — the model trained so far is
    still evaluated and saved)."""
    check_output(args.output, "-o/--output", (".npz",))
    from ..datasets import load_mnist
    from ..evaluation import evaluate
    from ..model import _check_class_names
    from ..train import _INSTALL_HINT, _TORCH_HINT

    if args.calibrate and not 0 < args.calibrate < 0.5:
        print(f"netdream train: --calibrate must lie in (0, 0.5), got {args.calibrate}",
              file=sys.stderr)
        return 2
    cnn = args.arch == "cnn"
    use_torch = cnn or args.adversarial > 0
    if args.dropout is None:
        args.dropout = 0.25 if cnn else 0.0
    defaults = dict(hidden=[64] if cnn else [256], epochs=40 if cnn else 30,
                    batch_size=64 if cnn else 128, learning_rate=2e-3 if cnn else 1e-3)
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    try:
        if use_torch:
            import torch as framework
        else:
            import sklearn as framework
    except ImportError:
        print(f"netdream train: {_TORCH_HINT if use_torch else _INSTALL_HINT}", file=sys.stderr)
        return 1
    import netdream

    try:
        split = "train"
        try:
            images, labels = load_mnist("train", root=args.data)
        except FileNotFoundError:
            split = "train10k"
            images, labels = load_mnist("train10k", root=args.data)
    except (FileNotFoundError, ValueError) as exc:
        print(f"netdream train: cannot read training data from {args.data}: {exc}", file=sys.stderr)
        return 1
    try:
        test = load_mnist("test", root=args.data)
    except FileNotFoundError:
        test = None
    except ValueError as exc:
        print(f"netdream train: cannot read the test set in {args.data}: {exc}", file=sys.stderr)
        return 1
    if not use_torch and images.shape[1:] != (28, 28):
        print(f"netdream train: the training images in {args.data} are "
              f"{'x'.join(map(str, images.shape[1:]))}; the MLP trains on 28x28 grey ones: "
              "use --arch cnn for images of another size or in colour", file=sys.stderr)
        return 2
    n_classes = int(labels.max()) + 1
    try:
        names = _check_class_names(args.classes, n_classes, None) if args.classes else None
    except (TypeError, ValueError) as exc:
        print(f"netdream train: --classes: {exc} (the labels run from 0 to {n_classes - 1})",
              file=sys.stderr)
        return 2
    dataset = "MNIST" if names is None else "the data"

    print(f"training a{' CNN' if cnn else 'n MLP'} on {len(images)} images ({split}-* files in "
          f"{args.data})", file=sys.stderr)
    start = time.perf_counter()
    try:
        net = _fit(args, images, labels, use_torch, cnn, names)
        if args.calibrate and not net.metadata["training"]["interrupted"]:
            net = _calibrated(net, args, images, labels, use_torch, cnn, names)
    except (TypeError, ValueError) as exc:
        print(f"netdream train: {exc}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - start
    facts = net.metadata["training"]
    if facts["interrupted"]:
        print(f"interrupted after {facts['epochs_completed']} of {facts['epochs']} epochs; "
              "keeping the model trained so far", file=sys.stderr)
    print(f"trained in {seconds:.0f} s", file=sys.stderr)

    if names is None:
        net.metadata["training_data"] = (
            "MNIST: the first 10,000 official training images (train10k)" if split == "train10k"
            else f"MNIST: the {len(images):,} official training images")
        net.metadata["name"] = f"MNIST {net.metadata['name']}" if cnn else net.metadata["name"]
    else:
        net.metadata["training_data"] = f"{len(images):,} images ({split}-* files)"
        net.metadata["name"] = net.metadata["name"].replace("MNIST ", "")
    net.metadata["command"] = _command(args)
    net.metadata["versions"] = {"netdream": netdream.__version__,
                                ("torch" if use_torch else "scikit-learn"): framework.__version__,
                                "numpy": np.__version__}
    if args.storage_dtype != "float32":
        net.metadata["storage_dtype"] = args.storage_dtype
    if test is not None:
        if args.storage_dtype != "float32":  # score the weights as they will be stored
            net.save(args.output)
            net = netdream.load(args.output)
        result = evaluate(net, *test)
        net.metadata["test_accuracy"] = {
            "data": (f"{dataset} test set (t10k-* files, {result.total:,} images)" if names
                     else f"MNIST official test set (t10k, {result.total:,} images)"),
            "correct": result.correct, "total": result.total,
            "accuracy": round(result.accuracy, 6)}
        print(f"test accuracy: {result.correct}/{result.total} ({100 * result.accuracy:.2f}%)")
    else:
        print(f"no test set (t10k-*) in {args.data}: test accuracy not measured", file=sys.stderr)
    try:
        net.save(args.output)
    except OSError as exc:
        print(f"netdream train: cannot write {args.output}: {exc}", file=sys.stderr)
        return 1
    print(f"saved {args.output}", file=sys.stderr)
    return 130 if facts["interrupted"] else 0


def _fit(args, images, labels, use_torch, cnn, names):
    """The network trained on ``images`` as the options say."""
    from ..model import MLP
    from ..train import train, train_cnn
    if use_torch:
        if not cnn and args.activation != "relu":
            raise ValueError("--adversarial trains relu MLPs (drop --activation)")
        return train_cnn(images, labels, channels=tuple(args.channels) if cnn else (),
                         dense=tuple(args.hidden), epochs=args.epochs,
                         batch_size=args.batch_size, learning_rate=args.learning_rate,
                         weight_decay=args.alpha, dropout=args.dropout,
                         max_shift=args.max_shift, max_rotation=10.0 if args.augment else 0.0,
                         seed=args.seed, threads=args.threads, progress=not args.no_progress,
                         class_names=names, adversarial=args.adversarial,
                         adversarial_steps=args.adversarial_steps)
    net = train(images, labels, hidden=tuple(args.hidden), activation=args.activation,
                epochs=args.epochs, batch_size=args.batch_size,
                learning_rate=args.learning_rate, alpha=args.alpha, augment=args.augment,
                max_shift=args.max_shift, seed=args.seed, progress=not args.no_progress)
    if names is not None:
        net = MLP(net.weights, net.biases, hidden=net.hidden, output=net.output,
                  encoding=net.encoding, metadata=net.metadata, class_names=names)
    return net


def _calibrated(net, args, images, labels, use_torch, cnn, names):
    """``net`` with the temperature fitted on the last ``args.calibrate`` of
    the images by a model trained the same way on the others."""
    from ..train import fit_temperature, with_temperature
    cut = len(images) - max(1, int(round(args.calibrate * len(images))))
    print(f"calibrating: training on the first {cut} images, fitting the temperature on the "
          f"other {len(images) - cut}", file=sys.stderr)
    probe = _fit(args, images[:cut], labels[:cut], use_torch, cnn, names)
    t = fit_temperature(probe, images[cut:], labels[cut:])
    print(f"temperature {t:g} (logits divided by it)", file=sys.stderr)
    net = with_temperature(net, t)
    net.metadata["calibration"] = (
        f"logits divided by T = {t:g}, the temperature minimising the cross-entropy on the last "
        f"{len(images) - cut:,} training images of a model trained the same way on the first "
        f"{cut:,}")
    return net


def _command(args) -> str:
    """The command line that reproduces this run, every option explicit."""
    parts = ["netdream", "train", "--data", str(args.data), "-o", str(args.output),
             "--hidden", *map(str, args.hidden),
             *(["--channels", *map(str, args.channels)] if args.arch == "cnn" else
               ["--activation", args.activation]),
             *(["--threads", str(args.threads), "--dropout", repr(args.dropout)]
               if args.arch == "cnn" or args.adversarial > 0 else []),
             *(["--adversarial", repr(args.adversarial), "--adversarial-steps",
                str(args.adversarial_steps)] if args.adversarial > 0 else []),
             *(["--calibrate", repr(args.calibrate)] if args.calibrate else []),
             "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
             "--learning-rate", repr(args.learning_rate), "--alpha", repr(args.alpha),
             "--augment", str(args.augment), "--max-shift", str(args.max_shift),
             "--seed", str(args.seed), "--storage-dtype", args.storage_dtype,
             *(["--arch", "cnn"] if args.arch == "cnn" else []),
             *(["--classes", args.classes] if args.classes else [])]
    return shlex.join(parts)


def add_commands(sub) -> None:
    p = sub.add_parser("train", help="train an MLP (scikit-learn) or a CNN (PyTorch)",
                       description="Train an MLP with scikit-learn, or a small convolutional "
                                   "network with PyTorch (--arch cnn), on images in MNIST's IDX "
                                   "layout in a folder.")
    add_arguments(p)
    p.set_defaults(func=cmd_train)
