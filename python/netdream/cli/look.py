"""Commands that look at a model: eval, causal, classify, features."""

from __future__ import annotations

import sys

import numpy as np

from ._common import (CommandError, add_model, add_threads, check_output, load_model,
                      load_test_set, nonneg_int, percent, positive_int, read_image_for)


def cmd_eval(args) -> int:
    from ..evaluation import evaluate
    net = load_model(args.model)
    images, labels = load_test_set(args.data, net=net)
    result = evaluate(net, images, labels, threads=args.threads)
    print(result)
    if args.confusion:
        k = result.confusion.shape[0]
        w = max(5, len(str(result.confusion.max())), min(12, max(map(len, net.class_names))))
        names = [n[:w] for n in net.class_names]
        first = max(9, max(map(len, names)))
        corner = "true\\pred"
        print(f"{corner:>{first}} " + " ".join(f"{n:>{w}}" for n in names))
        for t in range(k):
            print(f"{names[t]:>{first}} " + " ".join(f"{v:>{w}}" for v in result.confusion[t]))
    return 0


def cmd_causal(args) -> int:
    from ..causal import causal_index, garson
    from ..images import save_grid
    check_output(args.output, "-o/--output", (".png",))
    net = load_model(args.model)
    if args.garson:
        maps = np.asarray(garson(net, variant=args.garson))
        # non-negative shares of at most a few thousandths: each map is drawn
        # from black (0) to white (its own largest share)
        top = maps.max(axis=(1, 2), keepdims=True)
        maps = np.divide(maps, top, out=np.zeros_like(maps), where=top > 0)
    else:
        maps = np.asarray(causal_index(net))
    labels = list(net.class_names)
    save_grid(maps, args.output, labels=labels, cmap="gray" if args.garson else "diverging",
              scale=args.scale, ncols=min(5, maps.shape[0]))
    what = (f"Garson importance ({args.garson}; white: the pixel's largest share)" if args.garson
            else "causal index (red: ink there raises the class)")
    print(f"wrote {args.output}: {what}")
    return 0


def cmd_classify(args) -> int:
    net = load_model(args.model)
    failed = 0
    for path in args.images:
        try:
            img = read_image_for(path, net)
        except (OSError, ValueError) as exc:
            failed += 1
            print(f"netdream classify: error: {exc}", file=sys.stderr)
            continue
        p = net.predict_proba(img)
        best = int(np.argmax(p))
        names = net.class_names
        probs = " ".join(f"{names[k]}:{percent(v)}" for k, v in enumerate(p))
        print(f"{path}: {names[best]} ({percent(p[best])})  {probs}")
    if failed:
        if len(args.images) > 1:
            print(f"netdream classify: {failed} of {len(args.images)} files could not be read",
                  file=sys.stderr)
        return 1
    return 0


def cmd_features(args) -> int:
    from ..inside import feature_maps
    check_output(args.output, "-o/--output", (".png",))
    net = load_model(args.model)
    if not net.is_convolutional:
        raise CommandError("features needs a convolutional network (--model cnn or a CNN file); "
                           "for an MLP, see `netdream causal`")
    image = read_image_for(args.image, net)
    fm = feature_maps(net, image, args.layer)
    fm.save(args.output, scale=args.scale)
    p = net.predict_proba(image)
    best = int(np.argmax(p))
    print(f"wrote {args.output}: the {len(fm.maps)} channels of layer {fm.layer} "
          f"({type(net.layers[fm.layer]).__name__}) on {args.image}, which the model reads as "
          f"{net.class_names[best]} ({percent(p[best])})")
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("eval", help="accuracy on a test set (MNIST's by default)",
                       description="Accuracy of a model on the official MNIST test set, or on "
                                   "the test files in --data (any dataset in MNIST's IDX "
                                   "layout), its classes named as the model names them.")
    add_model(p)
    p.add_argument("--data", metavar="DIR",
                   help="folder with t10k-images-idx3-ubyte(.gz) and t10k-labels-idx1-ubyte(.gz): "
                        "MNIST's, or another test set in its layout (grey (N, H, W) or colour "
                        "(N, 3, H, W) uint8) (default: download MNIST's to the cache, for a "
                        "model of its digits)")
    p.add_argument("--confusion", action="store_true", help="also print the confusion matrix")
    add_threads(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("causal", help="per-class heat maps of the causal index",
                       description="Write a PNG grid of each class's causal index: "
                                   "sum_j W2[k,j] W1[j,i] (the product of the weight matrices "
                                   "for deeper nets). Red: ink there raises the class; blue: "
                                   "lowers it.")
    add_model(p)
    p.add_argument("-o", "--output", required=True, metavar="PNG", help="the grid to write")
    p.add_argument("--garson", nargs="?", const="class-weighted", default=None,
                   choices=["class-weighted", "classic"],
                   help="Garson importance instead: class-weighted (default) or classic "
                        "(NeuralNetTools' garson, the same map for every class)")
    p.add_argument("--scale", type=positive_int, default=6,
                   help="pixels per image pixel (default: 6)")
    p.set_defaults(func=cmd_causal)

    p = sub.add_parser("classify", help="classify pictures (hand-drawn digits for MNIST models)",
                       description="Classify PNG/JPEG pictures: for a 28x28 grey model, photos "
                                   "of digits prepared like MNIST (greyscale, uneven lighting "
                                   "removed, inverted if dark on light, cropped, 20x20, "
                                   "centred); for other models, the picture resized to the "
                                   "model's size, in colour for a colour model. A file that "
                                   "cannot be read is reported and the others are still "
                                   "classified; the exit status is then 1.")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, ...)")
    add_model(p)
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("features", help="a CNN's filters and where they fire on an image",
                       description="Write a PNG of each channel of a convolution or pooling "
                                   "layer: its filter (red: ink there raises the channel) above "
                                   "where it fires on the image (white: most). Needs a "
                                   "convolutional network, e.g. --model cnn.")
    p.add_argument("image", metavar="IMAGE", help="an image file (PNG, JPEG, ...)")
    p.add_argument("-o", "--output", required=True, metavar="PNG", help="the picture to write")
    add_model(p)
    p.add_argument("--layer", type=nonneg_int, default=None,
                   help="index of a conv or pool layer in the model (default: the first conv)")
    p.add_argument("--scale", type=positive_int, default=4,
                   help="pixels per image pixel (default: 4)")
    p.set_defaults(func=cmd_features)


__all__ = ["add_commands", "CommandError"]
