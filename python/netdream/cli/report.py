"""netdream report: one self-contained HTML page."""

from __future__ import annotations

import math
import os
import time

from ._common import (add_model, add_progress, add_threads, check_output, load_model,
                      load_test_set, nonneg_int, positive_int)


def _training_images(data):
    """The labelled training images beside the test set: the full train-*
    files when they are there, else the first 10,000 (train10k-*), else
    none. Returns (images, labels, description)."""
    from ..datasets import default_root, load_mnist
    root = data or default_root()
    for split, what in (("train", "training images"), ("train10k", "training images (train10k)")):
        try:
            images, labels = load_mnist(split, root=root, progress=False)
        except (FileNotFoundError, ValueError):
            continue
        return images, labels, f"{len(images):,} {what}"
    return None, None, "the test images (no training images beside them)"


def cmd_report(args) -> int:
    from ..report import make_report
    check_output(args.output, "-o/--output", (".html", ".htm"))
    net = load_model(args.model)
    images, labels = load_test_set(args.data, net=net)
    train_images, train_labels, eigen = _training_images(args.data)
    start = time.perf_counter()
    make_report(net, images, labels, path=args.output, train_images=train_images,
                train_labels=train_labels, dreams=args.dreams, seed=args.seed,
                progress=not args.no_progress, threads=args.threads)
    from ..model import DIGITS
    size = os.path.getsize(args.output)
    what = "eigen-digits" if tuple(net.class_names) == DIGITS else "eigen-images"
    from ..pca import max_images
    most = max_images(math.prod(net.image_shape))
    if most is not None and train_images is not None and len(train_images) > most:
        eigen = f"the first {most:,} of {eigen}"  # large images: see pca.max_images
    print(f"wrote {args.output} ({size / 1024:.0f} KB) in {time.perf_counter() - start:.1f} s; "
          f"{what} from {eigen}")
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("report", help="a one-page HTML report of what a model has learned",
                       description="Write one self-contained HTML page (pictures embedded, no "
                                   "external resources): the model, accuracy and confusion "
                                   "matrix, causal index, dreams, average dreams, fooling "
                                   "images, receptive fields, eigen-images (eigen-digits) "
                                   "with the PCA baseline, and the most confident mistakes.")
    add_model(p)
    p.add_argument("--data", metavar="DIR",
                   help="folder with the t10k-* test files: MNIST's, or another test set in "
                        "its layout (grey (N, H, W) or colour (N, 3, H, W) uint8) (default: "
                        "download MNIST's to the cache, for a model of its digits); train-* (or "
                        "train10k-*) files there, if present, are used for the eigen-images and "
                        "the PCA baseline")
    p.add_argument("-o", "--output", required=True, metavar="HTML", help="the page to write")
    p.add_argument("--dreams", type=positive_int, default=200,
                   help="dreams averaged per class (default: 200)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="random seed (default: 0)")
    add_threads(p)
    add_progress(p)
    p.set_defaults(func=cmd_report)
