"""The search commands: dream (hill climbing), evolve (genetic search),
ascend (gradient ascent), morph."""

from __future__ import annotations

import argparse
import contextlib
import sys

import numpy as np

from ._common import (CommandError, add_model, add_progress, add_threads, add_transfer,
                      check_output, load_model, nonneg_float, nonneg_int, percent,
                      positive_int, read_image_for)
from .cluster import add_cluster, connect, wants_cluster


def _smoothness(weight):
    from ..regularizers import smoothness
    return smoothness(weight) if weight else None


def _dream_regularizer(args):
    """The dream's regulariser (by default regularizers.default(): total
    variation 3e-4 + the cost on ink 3e-4), or none with --raw."""
    from ..regularizers import l1, total_variation
    if args.raw:
        return None
    seed = args.recipe == "seed"  # the published demo: smoothness 1e-5 only
    tv = (0.0 if seed else 3e-4) if args.tv is None else args.tv
    ink = (0.0 if seed else 3e-4) if args.ink is None else args.ink
    smooth = (1e-5 if seed else 0.0) if args.smoothness is None else args.smoothness
    terms = [r for r in (total_variation(tv) if tv else None, l1(ink) if ink else None,
                         _smoothness(smooth)) if r]
    return sum(terms[1:], terms[0]) if terms else None


def _model(args):
    """Check the output files, then load the model."""
    check_output(args.output, "-o/--output", (".png",))
    check_output(getattr(args, "average", None), "--average", (".png",))
    check_output(getattr(args, "gif", None), "--gif", (".gif",))
    return load_model(args.model)


def _start(args, digit_name="CLASS"):
    """:func:`_model`, then the target argument turned into a class index."""
    net = _model(args)
    if digit_name == "CLASS":
        if args.digit != "all":
            args.digit = _target(net, args.digit, digit_name, False)
    else:
        args.to = _target(net, args.to, digit_name, False)
    return net


def _target(net, text, what, inner):
    """A class given by number or name; with ``inner`` also hidden:LAYER:UNIT
    or channel:LAYER:C."""
    text = str(text)
    if inner and text.split(":")[0] in ("hidden", "channel"):
        parts = text.split(":")
        try:
            return (parts[0], int(parts[1]), int(parts[2])) if len(parts) == 3 else None
        except ValueError:
            pass
        raise CommandError(f"{what} must look like {parts[0]}:LAYER:INDEX, got {text!r}")
    names = net.class_names
    if text in names:
        return names.index(text)
    try:
        k = int(text)
    except ValueError:
        k = None
    if k is None or not 0 <= k < net.n_classes:
        shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
        raise CommandError(f"{what} must be a class number 0..{net.n_classes - 1} or name "
                           f"({shown}), got {text!r}")
    return k


def _transfer_model(args, net):
    """The --transfer model (loaded before the search, so its errors come first)."""
    if not getattr(args, "transfer", None):
        return None
    other = load_model(args.transfer, "--transfer")
    if other.image_shape != net.image_shape or other.n_classes != net.n_classes:
        raise CommandError(f"--transfer {args.transfer}: it takes {other.n_classes} classes of "
                           f"{'x'.join(map(str, other.image_shape))} images, the model "
                           f"{net.n_classes} of {'x'.join(map(str, net.image_shape))}")
    return other


def _say_transfer(args, other, images, target) -> None:
    if other is not None:
        from ..gradient import transfer
        t = transfer(other, images, target, threads=getattr(args, "threads", None))
        print(f"--transfer {args.transfer}: {t}")


def _name(net, target) -> str:
    """How a target is written: its class name, or hidden/channel:LAYER:INDEX."""
    if isinstance(target, tuple):
        return ":".join(map(str, target))
    return net.class_names[target] if isinstance(target, int) else str(target)


def cmd_dream(args) -> int:
    from ..images import save_grid
    texts = args.digit
    single = len(texts) == 1 and texts != ["all"]
    if args.gif and not single:
        raise CommandError("--gif needs a single class")
    if "all" in texts and len(texts) > 1:
        raise CommandError("CLASS: give 'all' alone, or the classes one by one")
    net = _model(args)
    targets = (list(range(net.n_classes)) if texts == ["all"]
               else [_target(net, t, "CLASS", True) for t in texts])
    # --show is shared by the classes: a row of dreams each
    shown = min(args.runs, max(1, args.show // len(targets)))
    # one cluster for every class
    with connect(args) if wants_cluster(args) else contextlib.nullcontext() as client:
        rows = [_dream_one(net, args, target, shown, single, client) for target in targets]
    if not single:  # (one class: written by _dream_one)
        save_grid(np.concatenate([r[0] for r in rows]), args.output, ncols=shown,
                  labels=[f"{_name(net, t)}: {label}" for t, r in zip(targets, rows)
                          for label in r[1]],
                  cmap="gray", scale=args.scale)
        each = "class" if all(isinstance(t, int) for t in targets) else "target"
        print(f"wrote {args.output}: a row of {shown} dream{'s' if shown > 1 else ''} per {each}")
    if args.average:
        labels = ([f"average of {args.runs}"] if single else
                  [f"{_name(net, t)}: average of {args.runs}" for t in targets])
        save_grid(np.stack([r[2] for r in rows]), args.average, labels=labels, cmap="gray",
                  scale=args.scale * 2)
        print(f"wrote {args.average}")
    if args.gif:
        # Run 0 again, recording: its random stream does not depend on the
        # number of runs, so this is exactly the first dream of the grid.
        from ..dream import hill_climb
        every = max(1, args.steps // args.frames)
        rec = hill_climb(net, targets[0], runs=1, threads=args.threads, record_every=every,
                         progress=False, **_dream_kwargs(args))
        _save_trajectory_gif(net, rec, targets[0], args.gif, args.scale * 2, "step")
        print(f"wrote {args.gif}")
    return 0


def _dream_kwargs(args):
    """hill_climb's arguments from the command's, but for runs and threads."""
    return dict(steps=args.steps, objective=args.objective, regularizer=_dream_regularizer(args),
                recipe=args.recipe, seed=args.seed, step_size=args.step_size, start=args.start)


def _dream_one(net, args, target, shown, single, client):
    """The dreams of one target (on ``client``'s cluster, if not None): says
    how they went (``single``: writes their grid first, and says where),
    returns the first ``shown`` images, their labels and the average image."""
    from ..dream import hill_climb
    from ..images import save_grid
    kwargs = _dream_kwargs(args)
    if client is not None:
        # the runs' summary (their sum, confidences and the first dreams)
        # comes back, never every image
        from .. import distributed as nd
        result = nd.hill_climb(net, target, runs=args.runs, client=client, chunk=args.chunk,
                               summary=True, keep=shown, progress=not args.no_progress,
                               **({"threads": args.threads} if args.threads else {}), **kwargs)
        images, conf = result.examples, result.example_confidence
        lo, mid, hi = (result.confidence_min, result.confidence_quantile(0.5),
                       result.confidence_max)
    else:
        result = hill_climb(net, target, runs=args.runs, threads=args.threads,
                            progress=not args.no_progress, **kwargs)
        images, conf = result.images[:shown], result.confidence[:shown]
        c = result.confidence
        lo, mid, hi = c.min(), np.median(c), c.max()
    inner = isinstance(target, tuple)
    fmt = (lambda v: f"{v:.3g}") if inner else percent
    labels = [fmt(c) for c in conf]
    if single:
        save_grid(images, args.output, labels=labels, cmap="gray", scale=args.scale)
    print(f"dreamt {args.runs} x {_name(net, target)} ({args.steps} steps each): "
          f"{'activation' if inner else 'confidence'} min {fmt(lo)}, median {fmt(mid)}, max "
          f"{fmt(hi)}" + (f"; wrote {args.output}" if single else ""))
    if inner and target[0] == "channel" and hi == 0:
        print(f"note: channel {_name(net, target)} stayed off everywhere: from this start "
              "no one-pixel change switches it on. Try --start grey (the default for a channel) "
              "or --start noise.", file=sys.stderr)
    average = result.average()
    if isinstance(target, int) and args.start in (None, "blank"):
        from ..dream import _blank_confidence, _got_nowhere, _stays_blank
        p0 = _blank_confidence(net, target)
        name = _name(net, target)
        if _got_nowhere(hi, p0):
            print(f"note: the dreams got nowhere from a blank image: {name} "
                  f"is {percent(p0)} there and at most {percent(hi)} after {args.steps} steps. "
                  "Try --start grey or --start noise.", file=sys.stderr)
        elif _stays_blank(average, hi, p0):
            print(f"note: the model reads a blank image as {name} already ({percent(p0)}), so "
                  f"the dreams of {name} have little to gain from ink and stay (nearly) blank. "
                  f"Try --start grey or --start noise to see what else it calls {name}.",
                  file=sys.stderr)
    if args.recipe == "seed" and hi < 0.01:
        print(f"note: the seed's objective 1 - p saturates where p is about 0: "
              f"p({_name(net, target)}) "
              f"started near 0 and stayed at {hi:.2g}, so no candidate could change it. "
              "Drop --recipe seed (the default objective is log p) to dream this digit.",
              file=sys.stderr)
    return images, labels, average


def _save_trajectory_gif(net, result, target, path, scale, unit):
    from ..images import save_gif
    t = result.trajectory
    frames = np.clip(t.images[0], 0, 1)
    if isinstance(target, tuple):  # a unit or channel: its score
        labels = [f"{unit} {s}: {v:.3g}" for s, v in zip(t.steps, t.scores[0])]
    else:
        probs = net.predict_proba(frames)[:, target]
        labels = [f"{unit} {s}: {_name(net, target)} {percent(p)}" for s, p in zip(t.steps, probs)]
    save_gif(frames, path, labels=labels, cmap="gray", scale=scale)


def cmd_evolve(args) -> int:
    from ..evolve import evolve
    from ..images import save_grid
    if args.gif and args.digit == "all":
        raise CommandError("--gif needs a single class")
    net = _start(args)
    other = _transfer_model(args, net)
    target = args.digit
    prior = None
    if args.prior:
        from ..datasets import load_mnist
        from ..priors import fit
        try:
            images, _ = load_mnist(args.prior_split, root=args.prior, progress=False)
        except FileNotFoundError as exc:
            raise CommandError(f"--prior {args.prior}: {exc}") from None
        prior = fit(images, weight=args.prior_weight)
    start = args.start
    if args.init_prior:
        start = "prior"
    if start == "prior" and prior is None:
        raise CommandError("--start prior needs --prior DIR (the digits to learn the prior from)")
    every = max(1, args.steps // 40) if args.gif else 0
    kwargs = dict(population=args.population, steps=args.steps,
                  mutation_rate=args.mutation_rate, mutation=args.mutation,
                  selection=args.selection, crossover=args.crossover, regularizer=prior,
                  start=start, stop_at=args.stop_at, seed=args.seed, threads=args.threads)
    if wants_cluster(args):
        if target == "all":
            raise CommandError("--scheduler/--local-cluster run independent searches for one "
                               "DIGIT, not 'all'")
        if other is not None:
            raise CommandError("--transfer is not available with --scheduler/--local-cluster")
        return _evolve_on_cluster(args, net, target, kwargs)
    runs = [evolve(net, target, progress=not args.no_progress, record_every=every, **kwargs)]
    for r in range(1, args.runs):  # independent searches for --average
        runs.append(evolve(net, target, progress=False, run=r, **kwargs))
    r = runs[0]
    shown = min(len(r.images), args.show)
    if target == "all":
        labels = [f"{net.class_names[k]}: {percent(c)}" for k, c in enumerate(r.confidence)]
    else:
        labels = [percent(c) for c in r.confidence[:shown]]
    save_grid(r.images[:shown], args.output, labels=labels, cmap="gray", scale=args.scale)
    c = r.confidence
    print(f"evolved {_name(net, target)} for {r.steps} generations: confidence "
          f"min {percent(c.min())}, max {percent(c.max())}; wrote {args.output}")
    _say_transfer(args, other, r.images,
                  np.arange(len(r.images)) if target == "all" else target)
    if args.average:
        best = np.stack([x.images[0] for x in runs]) if target != "all" else r.images
        save_grid(best.mean(axis=0)[None], args.average,
                  labels=[f"average of {len(best)}"], cmap="gray", scale=args.scale * 2)
        print(f"wrote {args.average}")
    if args.gif:
        _save_trajectory_gif(net, r, target, args.gif, args.scale * 2, "generation")
        print(f"wrote {args.gif}")
    return 0


def _evolve_on_cluster(args, net, target, kwargs) -> int:
    """--runs independent searches on a Dask cluster: the grid shows the best
    individual of each (run r is the local search's ``run=r``)."""
    from .. import distributed as nd
    from ..images import save_grid
    if not args.threads:
        kwargs.pop("threads")
    with connect(args) as client:
        s = nd.evolve(net, target, runs=args.runs, client=client, chunk=args.chunk,
                      summary=True, keep=min(args.runs, args.show),
                      progress=not args.no_progress, **kwargs)
    save_grid(s.examples, args.output, labels=[percent(c) for c in s.example_confidence],
              cmap="gray", scale=args.scale)
    print(f"evolved {target} in {s.count} independent searches: best confidence min "
          f"{percent(s.confidence_min)}, max {percent(s.confidence_max)}; wrote {args.output} "
          "(the best of each search)")
    if args.average:
        save_grid(s.average()[None], args.average, labels=[f"average of {s.count}"],
                  cmap="gray", scale=args.scale * 2)
        print(f"wrote {args.average}")
    if args.gif:
        from ..evolve import evolve
        rec = evolve(net, target, progress=False, record_every=max(1, args.steps // 40),
                     **kwargs)
        _save_trajectory_gif(net, rec, target, args.gif, args.scale * 2, "generation")
        print(f"wrote {args.gif}")
    return 0


def cmd_ascend(args) -> int:
    from ..gradient import gradient_ascent
    from ..images import save_grid
    net = _start(args)
    other = _transfer_model(args, net)
    every = max(1, args.steps // 40) if args.gif else 0
    r = gradient_ascent(net, args.digit, runs=args.runs, steps=args.steps,
                        step_size=args.step_size, normalize=not args.no_normalize,
                        start=args.start, seed=args.seed, threads=args.threads,
                        record_every=every, progress=not args.no_progress)
    labels = [percent(c) for c in r.confidence]
    save_grid(r.images, args.output, labels=labels, cmap="gray", scale=args.scale)
    print(f"gradient ascent on {_name(net, args.digit)}: confidence min "
          f"{percent(r.confidence.min())}; "
          f"wrote {args.output}")
    _say_transfer(args, other, r.images, args.digit)
    if args.average:
        save_grid(r.average()[None], args.average, labels=[f"average of {args.runs}"],
                  cmap="gray", scale=args.scale * 2)
        print(f"wrote {args.average}")
    if args.gif:
        _save_trajectory_gif(net, r, args.digit, args.gif, args.scale * 2, "step")
        print(f"wrote {args.gif}")
    return 0


def cmd_morph(args) -> int:
    from PIL import Image

    from ..gradient import morph
    from ..images import grid_image
    net = _start(args, "--to")
    other = _transfer_model(args, net)
    image = read_image_for(args.image, net)
    before = net.predict_proba(image)
    steps = args.steps or (2000 if args.method == "gradient" else 20000)
    r = morph(net, image, args.to, method=args.method, steps=steps,
              confidence=args.confidence, step_size=args.step_size, seed=args.seed,
              progress=not args.no_progress)
    diff = r.images[0].astype(np.float64) - r.original[0]
    left = grid_image(np.stack([r.original[0], r.images[0]]), cmap="gray", scale=args.scale,
                      labels=[f"{_name(net, int(before.argmax()))} ({percent(before.max())})",
                              f"{_name(net, args.to)} ({percent(r.confidence[0])})"])
    colour = diff.ndim == 3  # (3, H, W): the change of brightness, the channels' mean
    right = grid_image(diff.mean(axis=0)[None] if colour else diff[None], cmap="diverging",
                       scale=args.scale,
                       labels=["change (red: brighter)" if colour else "change (red: ink added)"])
    canvas = Image.new("RGB", (left.width + right.width, max(left.height, right.height)), "white")
    canvas.paste(left.convert("RGB"), (0, 0))
    canvas.paste(right.convert("RGB"), (left.width, 0))
    canvas.save(args.output)
    state = "reached" if r.reached[0] else "NOT reached"
    print(f"morphed {args.image} into {_name(net, args.to)}: p = {percent(r.confidence[0])} "
          f"({state}); "
          f"L2 {r.l2[0]:.3f}, Linf {r.linf[0]:.3f}, {r.changed[0]} pixels changed; "
          f"wrote {args.output}")
    _say_transfer(args, other, r.images, args.to)
    return 0 if r.reached[0] else 1


def add_commands(sub) -> None:
    p = sub.add_parser("dream", help="what the network thinks a class looks like",
                       description="Hill climbing from a blank image: one pixel at a time, "
                                   "keeping changes that raise the class's probability, less a "
                                   "cost on ink and on its edges (--raw: no cost).")
    p.add_argument("digit", metavar="CLASS", nargs="+",
                   help="the class to dream of (number or name), or hidden:LAYER:UNIT / "
                        "channel:LAYER:C for a hidden unit or a CNN's channel; several, or "
                        "all, for a row of dreams each")
    add_model(p)
    p.add_argument("--runs", type=positive_int, default=16, help="independent dreams (default: 16)")
    p.add_argument("--steps", type=nonneg_int, default=20000,
                   help="candidates per dream (default: 20000)")
    # the defaults of --tv and --ink are regularizers.default()
    p.add_argument("--tv", type=nonneg_float, default=None,
                   help="weight of the total variation, a cost on the edges of ink (default: "
                        "3e-4; 0 turns it off)")
    p.add_argument("--ink", type=nonneg_float, default=None,
                   help="weight of the cost on ink, which clears the speckle the network does "
                        "not need (default: 3e-4; 0 turns it off)")
    p.add_argument("--smoothness", type=nonneg_float, default=None,
                   help="weight of the seed's smoothness prior (default: 0, off; 1e-5 with "
                        "--recipe seed, which turns --tv and --ink off)")
    p.add_argument("--raw", action="store_true",
                   help="the raw search, no regulariser: the network's unfiltered preference, "
                        "speckle and all (the default keeps the strokes it needs)")
    p.add_argument("--objective", default="logprob", choices=["logprob", "prob", "margin", "logit"],
                   help="what to raise (default: logprob; prob is the seed's 1 - p)")
    p.add_argument("--recipe", choices=["seed"], help="reproduce the published demo exactly")
    p.add_argument("--step-size", "--step", dest="step_size", type=float, default=0.1,
                   help="a candidate moves a pixel by U(-s, s) (default: 0.1)")
    p.add_argument("--start", default=None, choices=["blank", "sparse", "noise", "grey"],
                   help="the first image of every run (default: blank; grey, every pixel "
                        "0.2 ink, for a channel)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="random seed (default: 0)")
    add_threads(p)
    p.add_argument("-o", "--output", required=True, metavar="PNG", help="grid of dreams")
    p.add_argument("--average", metavar="PNG", help="also write the average image")
    p.add_argument("--gif", metavar="GIF", help="also write the first dream taking shape")
    p.add_argument("--frames", type=positive_int, default=50, help="GIF frames (default: 50)")
    p.add_argument("--show", type=positive_int, default=100,
                   help="dreams in the grid at most, shared by the classes (default: 100)")
    p.add_argument("--scale", type=positive_int, default=4,
                   help="pixels per image pixel (default: 4)")
    add_progress(p)
    add_cluster(p)
    p.set_defaults(func=cmd_dream)

    p = sub.add_parser("evolve", help="fooling images by a genetic search",
                       description="Breed images for the network's confidence (Nguyen, Yosinski "
                                   "& Clune 2015). CLASS may be 'all' for a MAP-Elites archive "
                                   "with one elite per class.")
    p.add_argument("digit", metavar="CLASS|all",
                   help="the class to fool (number or name), or all")
    add_model(p)
    p.add_argument("--population", type=positive_int, default=200,
                   help="children per generation (default: 200)")
    p.add_argument("--steps", "--generations", dest="steps", type=nonneg_int, default=200,
                   help="generations at most (default: 200)")
    p.add_argument("--stop-at", type=float, default=0.9999,
                   help="stop when the confidence reaches this (default: 0.9999)")
    p.add_argument("--mutation-rate", type=float, default=0.1,
                   help="probability that a pixel mutates (default: 0.1)")
    p.add_argument("--mutation", default="polynomial", choices=["polynomial", "gaussian", "resample"],
                   help="how a pixel mutates (default: polynomial)")
    p.add_argument("--selection", default="tournament", choices=["tournament", "truncation"],
                   help="how parents are picked (default: tournament)")
    p.add_argument("--crossover", default="uniform", choices=["uniform", "sbx"],
                   help="how two parents mix (default: uniform)")
    p.add_argument("--prior", metavar="DIR",
                   help="fit a natural-image prior on the MNIST files in DIR and use it")
    p.add_argument("--prior-split", default="train10k",
                   help="which MNIST files of DIR the prior learns from (default: train10k)")
    p.add_argument("--prior-weight", type=float, default=0.1,
                   help="the prior's weight in the fitness (default: 0.1)")
    p.add_argument("--start", default="noise", choices=["noise", "prior"],
                   help="the first population: uniform noise or drawn from the prior "
                        "(default: noise)")
    p.add_argument("--init-prior", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--runs", "--repeats", dest="runs", type=positive_int, default=1,
                   help="independent searches: --average averages their best (default: 1)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="random seed (default: 0)")
    add_threads(p)
    p.add_argument("-o", "--output", required=True, metavar="PNG",
                   help="the final population (or archive), best first")
    p.add_argument("--average", metavar="PNG", help="also write the average image")
    p.add_argument("--gif", metavar="GIF", help="also write the best individual per generation")
    p.add_argument("--show", type=positive_int, default=50,
                   help="images in the grid at most (default: 50)")
    p.add_argument("--scale", type=positive_int, default=4,
                   help="pixels per image pixel (default: 4)")
    add_transfer(p)
    add_progress(p)
    add_cluster(p)
    p.set_defaults(func=cmd_evolve)

    p = sub.add_parser("ascend", help="gradient ascent on the input",
                       description="Normalised gradient steps on log p(CLASS), clamped to [0, 1].")
    p.add_argument("digit", metavar="CLASS", help="the class to raise (number or name)")
    add_model(p)
    p.add_argument("--runs", type=positive_int, default=8, help="images (default: 8)")
    p.add_argument("--steps", type=nonneg_int, default=200, help="gradient steps (default: 200)")
    p.add_argument("--step-size", type=float, default=0.1,
                   help="L2 length of a step (default: 0.1)")
    p.add_argument("--no-normalize", action="store_true",
                   help="raw gradient steps (the step size then multiplies the gradient)")
    p.add_argument("--start", default="noise", choices=["blank", "noise"],
                   help="the first image (default: noise)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="random seed (default: 0)")
    add_threads(p)
    p.add_argument("-o", "--output", required=True, metavar="PNG", help="the final images")
    p.add_argument("--average", metavar="PNG", help="also write the average image")
    p.add_argument("--gif", metavar="GIF", help="also write the first image taking shape")
    p.add_argument("--scale", type=positive_int, default=4,
                   help="pixels per image pixel (default: 4)")
    add_transfer(p)
    add_progress(p)
    p.set_defaults(func=cmd_ascend)

    p = sub.add_parser("morph", help="change a real image until the network calls it another class",
                       description="The smallest change (by gradient or hill climbing) that makes "
                                   "the network call IMAGE the class given by --to.")
    p.add_argument("image", metavar="IMAGE", help="a picture (PNG, JPEG, ...): a digit for an "
                   "MNIST model")
    p.add_argument("--to", required=True, metavar="CLASS",
                   help="the class to reach (number or name)")
    add_model(p)
    p.add_argument("--method", default="gradient", choices=["gradient", "hill"],
                   help="gradient steps or one-pixel hill climbing (default: gradient)")
    p.add_argument("--steps", "--max-steps", dest="steps", type=positive_int, default=None,
                   help="gradient steps or hill-climbing candidates at most "
                        "(default: 2000 / 20000)")
    p.add_argument("--confidence", type=float, default=0.9,
                   help="stop when the network is this sure (default: 0.9)")
    p.add_argument("--step-size", type=float, default=0.01,
                   help="L2 length of a gradient step (default: 0.01)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="random seed (default: 0)")
    p.add_argument("-o", "--output", required=True, metavar="PNG",
                   help="original, morphed and the change side by side")
    p.add_argument("--scale", type=positive_int, default=6,
                   help="pixels per image pixel (default: 6)")
    add_transfer(p)
    add_progress(p)
    p.set_defaults(func=cmd_morph)
