"""netdream train: train an MLP with scikit-learn on MNIST files in a folder."""

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
                        help="folder with MNIST IDX files: train10k-* (or train-*) to train on, "
                             "t10k-* (optional) to report test accuracy")
    parser.add_argument("-o", "--output", required=True, metavar="MODEL.npz",
                        help="where to save the trained model")
    parser.add_argument("--hidden", type=int, nargs="+", default=[256], metavar="N",
                        help="hidden layer widths (default: 256)")
    parser.add_argument("--activation", default="relu",
                        choices=["relu", "tanh", "sigmoid", "identity"],
                        help="hidden activation (default: relu)")
    parser.add_argument("--epochs", type=int, default=30, help="epochs (default: 30)")
    parser.add_argument("--batch-size", type=int, default=128, help="mini-batch size (default: 128)")
    parser.add_argument("--learning-rate", type=float, default=1e-3,
                        help="initial Adam step size, cosine-decayed (default: 0.001)")
    parser.add_argument("--alpha", type=float, default=1e-4, help="L2 penalty (default: 0.0001)")
    parser.add_argument("--augment", type=int, default=6, metavar="K",
                        help="shifted copies of each image per epoch (default: 6; 0 = none)")
    parser.add_argument("--max-shift", type=int, default=2, metavar="PX",
                        help="largest shift in pixels along x and y (default: 2)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
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
    from ..model import MLP
    from ..train import _INSTALL_HINT, train

    try:
        import sklearn
    except ImportError:
        print(f"netdream train: {_INSTALL_HINT}", file=sys.stderr)
        return 1
    import netdream

    try:
        split = "train10k"
        try:
            images, labels = load_mnist("train10k", root=args.data)
        except FileNotFoundError:
            split = "train"
            images, labels = load_mnist("train", root=args.data)
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

    print(f"training on {len(images)} images ({split} split of {args.data})", file=sys.stderr)
    start = time.perf_counter()
    try:
        net = train(images, labels, hidden=tuple(args.hidden), activation=args.activation,
                    epochs=args.epochs, batch_size=args.batch_size,
                    learning_rate=args.learning_rate, alpha=args.alpha, augment=args.augment,
                    max_shift=args.max_shift, seed=args.seed, progress=not args.no_progress)
    except (TypeError, ValueError) as exc:
        print(f"netdream train: {exc}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - start
    facts = net.metadata["training"]
    if facts["interrupted"]:
        print(f"interrupted after {facts['epochs_completed']} of {facts['epochs']} epochs; "
              "keeping the model trained so far", file=sys.stderr)
    print(f"trained in {seconds:.0f} s", file=sys.stderr)

    net.metadata["training_data"] = (
        "MNIST: the first 10,000 official training images (train10k)" if split == "train10k"
        else f"MNIST: the {len(images)} official training images")
    net.metadata["command"] = _command(args)
    net.metadata["versions"] = {"netdream": netdream.__version__, "scikit-learn": sklearn.__version__,
                                "numpy": np.__version__}
    if args.storage_dtype != "float32":
        net.metadata["storage_dtype"] = args.storage_dtype
    if test is not None:
        if args.storage_dtype != "float32":  # score the weights as they will be stored
            net = MLP([w.astype(args.storage_dtype) for w in net.weights],
                      [b.astype(args.storage_dtype) for b in net.biases],
                      hidden=net.hidden, output=net.output, encoding=net.encoding,
                      metadata=net.metadata)
        result = evaluate(net, *test)
        net.metadata["test_accuracy"] = {
            "data": "MNIST official test set (t10k, 10,000 images)",
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


def _command(args) -> str:
    """The command line that reproduces this run, every option explicit."""
    parts = ["netdream", "train", "--data", str(args.data), "-o", str(args.output),
             "--hidden", *map(str, args.hidden), "--activation", args.activation,
             "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
             "--learning-rate", repr(args.learning_rate), "--alpha", repr(args.alpha),
             "--augment", str(args.augment), "--max-shift", str(args.max_shift),
             "--seed", str(args.seed), "--storage-dtype", args.storage_dtype]
    return shlex.join(parts)


def add_commands(sub) -> None:
    p = sub.add_parser("train", help="train an MLP on MNIST (needs scikit-learn)",
                       description="Train an MLP with scikit-learn on MNIST files in a folder.")
    add_arguments(p)
    p.set_defaults(func=cmd_train)
