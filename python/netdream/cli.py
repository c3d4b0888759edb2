"""The ``netdream`` command line."""

from __future__ import annotations

import argparse
import sys

import numpy as np

__all__ = ["main"]


class CommandError(Exception):
    """An error to print as one line, without a traceback."""


def _load_model(path):
    from ._model import MLP
    if path is None:
        return MLP.pretrained()
    return MLP.load(path)


def _load_test_set(data):
    from .datasets import load_mnist
    if data is None:
        return load_mnist("test", download=True)
    return load_mnist("test", root=data, progress=False)


def _add_model(p):
    p.add_argument("--model", metavar="PATH",
                   help="model file: netdream .npz or the seed's net.js (default: the shipped model)")


def _add_threads(p):
    p.add_argument("--threads", type=int, default=None, metavar="T",
                   help="worker threads (default: every core)")


# ------------------------------------------------------------------ commands
def cmd_eval(args) -> int:
    from ._analysis import evaluate
    net = _load_model(args.model)
    images, labels = _load_test_set(args.data)
    result = evaluate(net, images, labels, threads=args.threads)
    print(result)
    if args.confusion:
        k = result.confusion.shape[0]
        print("true\\pred " + " ".join(f"{p:>5}" for p in range(k)))
        for t in range(k):
            print(f"{t:>9} " + " ".join(f"{v:>5}" for v in result.confusion[t]))
    return 0


def cmd_causal(args) -> int:
    from ._analysis import causal_index, garson
    from .images import save_grid
    net = _load_model(args.model)
    maps = garson(net) if args.garson else causal_index(net)
    labels = [str(k) for k in range(maps.shape[0])]
    save_grid(maps, args.output, labels=labels, cmap="gray" if args.garson else "diverging",
              scale=args.scale, ncols=min(5, maps.shape[0]))
    what = "Garson importance" if args.garson else "causal index (red: ink there raises the class)"
    print(f"wrote {args.output}: {what}")
    return 0


def cmd_classify(args) -> int:
    from .images import load_image
    net = _load_model(args.model)
    for path in args.images:
        img = load_image(path)
        p = net.predict_proba(img)
        best = int(np.argmax(p))
        probs = " ".join(f"{k}:{v:.3f}" for k, v in enumerate(p))
        print(f"{path}: {best} ({100 * p[best]:.1f}%)  {probs}")
    return 0


def cmd_dream(args) -> int:
    from .dream import hill_climb
    from .images import save_gif, save_grid
    net = _load_model(args.model)
    kwargs = dict(steps=args.steps, objective=args.objective, smoothness=args.smoothness,
                  recipe=args.recipe, seed=args.seed, threads=args.threads, step=args.step,
                  start=args.start)
    result = hill_climb(net, args.digit, runs=args.runs, progress=not args.no_progress, **kwargs)
    shown = min(args.runs, args.show)
    labels = [f"{100 * c:.1f}%" for c in result.confidence[:shown]]
    save_grid(result.images[:shown], args.output, labels=labels, cmap="gray", scale=args.scale)
    c = result.confidence
    print(f"dreamt {args.runs} x {args.digit} ({args.steps} steps each): confidence "
          f"min {c.min():.4f}, median {np.median(c):.4f}, max {c.max():.4f}; wrote {args.output}")
    if args.average:
        avg = result.average()
        save_grid(avg[None], args.average, labels=[f"average of {args.runs}"], cmap="gray",
                  scale=args.scale * 2)
        print(f"wrote {args.average}")
    if args.gif:
        # Run 0 again, recording: its random stream does not depend on the
        # number of runs, so this is exactly the first dream of the grid.
        every = max(1, args.steps // args.frames)
        rec = hill_climb(net, args.digit, runs=1, record_every=every, progress=False, **kwargs)
        frames = rec.trajectory.images[0]
        probs = _confidences(net, frames, args.digit)
        labels = [f"step {s}: {100 * p:.1f}%" for s, p in zip(rec.trajectory.steps, probs)]
        save_gif(frames, args.gif, labels=labels, cmap="gray", scale=args.scale * 2)
        print(f"wrote {args.gif}")
    return 0


def _confidences(net, frames, digit):
    return net.predict_proba(np.clip(frames, 0, 1))[:, digit]


def cmd_train(args) -> int:
    from .train import run
    return run(args)


# -------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    parser = argparse.ArgumentParser(
        prog="netdream",
        description="See what a trained neural network has learned about images.")
    parser.add_argument("--version", action="version", version=f"netdream {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("eval", help="accuracy on the MNIST test set",
                       description="Accuracy of a model on the official MNIST test set.")
    _add_model(p)
    p.add_argument("--data", metavar="DIR",
                   help="folder with t10k-images-idx3-ubyte(.gz) and t10k-labels-idx1-ubyte(.gz) "
                        "(default: download to the cache)")
    p.add_argument("--confusion", action="store_true", help="also print the confusion matrix")
    _add_threads(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("causal", help="per-class heat maps of the causal index",
                       description="Write a PNG grid of each class's causal index: "
                                   "sum_j W2[k,j] W1[j,i] (the product of the weight matrices "
                                   "for deeper nets). Red: ink there raises the class; blue: lowers it.")
    _add_model(p)
    p.add_argument("-o", "--output", required=True, metavar="PNG")
    p.add_argument("--garson", action="store_true", help="Garson importance instead")
    p.add_argument("--scale", type=int, default=6, help="pixels per image pixel (default: 6)")
    p.set_defaults(func=cmd_causal)

    p = sub.add_parser("classify", help="classify hand-drawn digit images",
                       description="Classify PNG/JPEG images of digits, prepared like MNIST "
                                   "(greyscale, inverted if dark on light, cropped, 20x20, centred).")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    _add_model(p)
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("dream", help="what the network thinks a digit looks like",
                       description="Hill climbing from a blank image: one pixel at a time, "
                                   "keeping changes that raise the digit's probability.")
    p.add_argument("digit", type=int)
    _add_model(p)
    p.add_argument("--runs", type=int, default=16, help="independent dreams (default: 16)")
    p.add_argument("--steps", type=int, default=20000, help="candidates per dream (default: 20000)")
    p.add_argument("--smoothness", type=float, default=1e-5,
                   help="weight of the seed's smoothness prior (default: 1e-5; 0 turns it off)")
    p.add_argument("--objective", default="logprob", choices=["logprob", "prob", "margin"],
                   help="what to improve (default: logprob; prob is the seed's 1 - p)")
    p.add_argument("--recipe", choices=["seed"], help="reproduce the published demo exactly")
    p.add_argument("--step", type=float, default=0.1,
                   help="a candidate moves a pixel by U(-step, step) (default: 0.1)")
    p.add_argument("--start", default="blank", choices=["blank", "sparse", "noise"])
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    _add_threads(p)
    p.add_argument("-o", "--output", required=True, metavar="PNG", help="grid of dreams")
    p.add_argument("--average", metavar="PNG", help="also write the average image")
    p.add_argument("--gif", metavar="GIF", help="also write the first dream taking shape")
    p.add_argument("--frames", type=int, default=50, help="GIF frames (default: 50)")
    p.add_argument("--show", type=int, default=100, help="dreams in the grid at most (default: 100)")
    p.add_argument("--scale", type=int, default=4, help="pixels per image pixel (default: 4)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_dream)

    p = sub.add_parser("train", help="train an MLP on MNIST (needs scikit-learn)",
                       description="Train an MLP with scikit-learn on MNIST files in a folder.")
    from .train import add_arguments
    add_arguments(p)
    p.set_defaults(func=cmd_train)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("netdream: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, OSError, ImportError, CommandError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"netdream {args.command}: error: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
