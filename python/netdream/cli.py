"""The ``netdream`` command line."""

from __future__ import annotations

import argparse
import os
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


def _parse_target(text):
    if text == "all":
        return "all"
    try:
        return int(text)
    except ValueError:
        raise CommandError(f"DIGIT must be a class number or 'all', got {text!r}") from None


def cmd_evolve(args) -> int:
    from .evolve import evolve
    from .images import save_gif, save_grid
    net = _load_model(args.model)
    target = _parse_target(args.digit)
    prior = None
    if args.prior:
        from .datasets import load_mnist
        from .priors import fit
        images, _ = load_mnist(args.prior_split, root=args.prior, progress=False)
        prior = fit(images, weight=args.prior_weight)
    kwargs = dict(population=args.population, generations=args.generations,
                  mutation_rate=args.mutation_rate, mutation=args.mutation,
                  selection=args.selection, crossover=args.crossover, prior=prior,
                  init="prior" if prior is not None and args.init_prior else "uniform",
                  stop_at=args.stop_at, seed=args.seed, threads=args.threads)
    runs = [evolve(net, target, progress=not args.no_progress, **kwargs)]
    for k in range(1, args.repeats):  # more independent searches for --average
        runs.append(evolve(net, target, progress=False, **{**kwargs, "seed": args.seed + k}))
    r = runs[0]
    shown = min(len(r.images), args.show)
    if target == "all":
        labels = [f"{k}: {100 * c:.2f}%" for k, c in enumerate(r.confidence)]
    else:
        labels = [f"{100 * c:.2f}%" for c in r.confidence[:shown]]
    save_grid(r.images[:shown], args.output, labels=labels, cmap="gray", scale=args.scale)
    c = r.confidence
    print(f"evolved {target} for {r.generations} generations: confidence "
          f"min {c.min():.6f}, max {c.max():.6f}; wrote {args.output}")
    if args.average:
        import numpy as np
        best = np.stack([x.images[0] for x in runs]) if target != "all" else r.images
        save_grid(best.mean(axis=0)[None], args.average,
                  labels=[f"average of {len(best)}"], cmap="gray", scale=args.scale * 2)
        print(f"wrote {args.average}")
    if args.gif:
        if target == "all":
            raise CommandError("--gif needs a single digit")
        import numpy as np
        frames, labels = [], []
        step = max(1, r.generations // 40)
        for g in range(0, r.generations + 1, step):
            best = evolve(net, target, progress=False, **{**kwargs, "generations": g})
            frames.append(best.images[0])
            labels.append(f"gen {g}: {100 * best.confidence[0]:.2f}%")
        save_gif(np.stack(frames), args.gif, labels=labels, cmap="gray", scale=args.scale * 2)
        print(f"wrote {args.gif}")
    return 0


def cmd_ascend(args) -> int:
    from .gradient import gradient_ascent
    from .images import save_gif, save_grid
    net = _load_model(args.model)
    every = max(1, args.steps // 40) if args.gif else 0
    r = gradient_ascent(net, args.digit, runs=args.runs, steps=args.steps,
                        step_size=args.step_size, normalize=not args.no_normalize,
                        start=args.start, seed=args.seed, threads=args.threads,
                        record_every=every, progress=not args.no_progress)
    labels = [f"{100 * c:.2f}%" for c in r.confidence]
    save_grid(r.images, args.output, labels=labels, cmap="gray", scale=args.scale)
    print(f"gradient ascent on {args.digit}: confidence min {r.confidence.min():.4f}; "
          f"wrote {args.output}")
    if args.average:
        save_grid(r.average()[None], args.average, labels=[f"average of {args.runs}"],
                  cmap="gray", scale=args.scale * 2)
        print(f"wrote {args.average}")
    if args.gif:
        frames = r.trajectory.images[0]
        probs = net.predict_proba(frames)[:, args.digit]
        labels = [f"step {s}: {100 * p:.1f}%" for s, p in zip(r.trajectory.steps, probs)]
        save_gif(frames, args.gif, labels=labels, cmap="gray", scale=args.scale * 2)
        print(f"wrote {args.gif}")
    return 0


def cmd_morph(args) -> int:
    import numpy as np
    from .gradient import morph
    from .images import load_image
    net = _load_model(args.model)
    image = load_image(args.image)
    before = net.predict_proba(image)
    max_steps = args.max_steps or (2000 if args.method == "gradient" else 20000)
    r = morph(net, image, args.to, method=args.method, max_steps=max_steps,
              confidence=args.confidence, step_size=args.step_size, seed=args.seed,
              progress=not args.no_progress)
    from PIL import Image
    from .images import grid_image
    diff = r.images[0].astype(np.float64) - r.original[0]
    left = grid_image(np.stack([r.original[0], r.images[0]]), cmap="gray", scale=args.scale,
                      labels=[f"{int(before.argmax())} ({100 * before.max():.1f}%)",
                              f"{args.to} ({100 * r.confidence[0]:.1f}%)"])
    right = grid_image(diff[None], cmap="diverging", scale=args.scale,
                       labels=["change (red: ink added)"])
    canvas = Image.new("RGB", (left.width + right.width, max(left.height, right.height)), "white")
    canvas.paste(left.convert("RGB"), (0, 0))
    canvas.paste(right.convert("RGB"), (left.width, 0))
    canvas.save(args.output)
    state = "reached" if r.reached[0] else "NOT reached"
    print(f"morphed {args.image} into {args.to}: p = {r.confidence[0]:.4f} ({state}); "
          f"L2 {r.l2[0]:.3f}, Linf {r.linf[0]:.3f}, {r.changed[0]} pixels changed; "
          f"wrote {args.output}")
    return 0 if r.reached[0] else 1


def cmd_report(args) -> int:
    import time
    from .datasets import default_root, load_mnist
    from .report import make_report
    net = _load_model(args.model)
    images, labels = _load_test_set(args.data)
    try:  # the first 10,000 training images, when they lie beside the test set
        train_images, train_labels = load_mnist("train10k", root=args.data or default_root(),
                                                progress=False)
        eigen = f"{len(train_images):,} training images (train10k)"
    except FileNotFoundError:
        train_images = train_labels = None
        eigen = "the test images (no train10k files beside them)"
    start = time.perf_counter()
    make_report(net, images, labels, path=args.output, train_images=train_images,
                train_labels=train_labels, dreams=args.dreams, seed=args.seed,
                progress=not args.no_progress, threads=args.threads)
    size = os.path.getsize(args.output)
    print(f"wrote {args.output} ({size / 1024:.0f} KB) in {time.perf_counter() - start:.1f} s; "
          f"eigen-digits from {eigen}")
    return 0


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

    p = sub.add_parser("evolve", help="fooling images by a genetic search",
                       description="Breed images for the network's confidence (Nguyen, Yosinski "
                                   "& Clune 2015). DIGIT may be 'all' for a MAP-Elites archive "
                                   "with one elite per class.")
    p.add_argument("digit", metavar="DIGIT|all")
    _add_model(p)
    p.add_argument("--population", type=int, default=200, help="(default: 200)")
    p.add_argument("--generations", type=int, default=200, help="(default: 200)")
    p.add_argument("--stop-at", type=float, default=0.9999,
                   help="stop when the confidence reaches this (default: 0.9999)")
    p.add_argument("--mutation-rate", type=float, default=0.1, help="(default: 0.1)")
    p.add_argument("--mutation", default="polynomial", choices=["polynomial", "gaussian", "resample"])
    p.add_argument("--selection", default="tournament", choices=["tournament", "truncation"])
    p.add_argument("--crossover", default="uniform", choices=["uniform", "sbx"])
    p.add_argument("--prior", metavar="DIR",
                   help="fit a natural-image prior on the MNIST files in DIR and use it")
    p.add_argument("--prior-split", default="train10k", help="(default: train10k)")
    p.add_argument("--prior-weight", type=float, default=0.1, help="(default: 0.1)")
    p.add_argument("--init-prior", action="store_true", help="draw the first population from the prior")
    p.add_argument("--repeats", type=int, default=1,
                   help="independent searches (seeds S, S+1, ...): --average averages their best")
    p.add_argument("--seed", type=int, default=0)
    _add_threads(p)
    p.add_argument("-o", "--output", required=True, metavar="PNG")
    p.add_argument("--average", metavar="PNG", help="also write the average image")
    p.add_argument("--gif", metavar="GIF", help="also write the best individual per generation")
    p.add_argument("--show", type=int, default=50, help="images in the grid at most (default: 50)")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_evolve)

    p = sub.add_parser("ascend", help="gradient ascent on the input",
                       description="Normalised gradient steps on log p(DIGIT), clamped to [0, 1].")
    p.add_argument("digit", type=int)
    _add_model(p)
    p.add_argument("--runs", type=int, default=8)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--step-size", type=float, default=0.1, help="L2 length of a step (default: 0.1)")
    p.add_argument("--no-normalize", action="store_true", help="raw gradient steps")
    p.add_argument("--start", default="noise", choices=["blank", "noise"])
    p.add_argument("--seed", type=int, default=0)
    _add_threads(p)
    p.add_argument("-o", "--output", required=True, metavar="PNG")
    p.add_argument("--average", metavar="PNG")
    p.add_argument("--gif", metavar="GIF", help="also write the first image taking shape")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_ascend)

    p = sub.add_parser("morph", help="change a real digit until the network calls it another",
                       description="The smallest change (by gradient or hill climbing) that makes "
                                   "the network call IMAGE the digit given by --to.")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("--to", type=int, required=True, metavar="DIGIT")
    _add_model(p)
    p.add_argument("--method", default="gradient", choices=["gradient", "hill"])
    p.add_argument("--max-steps", type=int, default=None,
                   help="gradient steps or hill-climbing candidates (default: 2000 / 20000)")
    p.add_argument("--confidence", type=float, default=0.9, help="(default: 0.9)")
    p.add_argument("--step-size", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", required=True, metavar="PNG",
                   help="original, morphed and the change side by side")
    p.add_argument("--scale", type=int, default=6)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_morph)

    p = sub.add_parser("report", help="a one-page HTML report of what a model has learned",
                       description="Write one self-contained HTML page (pictures embedded, no "
                                   "external resources): the model, accuracy and confusion "
                                   "matrix, causal index, dreams, average dreams, fooling "
                                   "images, receptive fields, eigen-digits with the PCA "
                                   "baseline, and the most confident mistakes.")
    _add_model(p)
    p.add_argument("--data", metavar="DIR",
                   help="folder with the MNIST test files (default: download to the cache); "
                        "train10k-images/labels-idx*-ubyte(.gz) there, if present, are used "
                        "for the eigen-digits and the PCA baseline")
    p.add_argument("-o", "--output", required=True, metavar="HTML")
    p.add_argument("--dreams", type=int, default=200,
                   help="dreams averaged per digit (default: 200)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    _add_threads(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_report)

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
