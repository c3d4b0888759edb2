"""netdream sweep: every search of a grid of models x targets x methods x
settings on a Dask cluster; a table (CSV) and a Zarr store of images."""

from __future__ import annotations

import os

from ._common import CommandError, add_progress, load_model, positive_int
from .cluster import add_cluster, connect

__all__ = ["add_commands"]

_SHOWN = ["model", "target", "method", "settings", "runs", "confidence_mean", "confidence_min",
          "confidence_max", "seconds", "candidates_per_s"]


def _targets(text: str) -> list[int]:
    """'0-9', '3', '1,4,7' or '0-2,8' -> a list of classes."""
    out = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                a, b = (int(v) for v in part.split("-", 1))
                if b < a:
                    raise ValueError
                out.extend(range(a, b + 1))
            else:
                out.append(int(part))
    except ValueError:
        raise CommandError(f"--targets must be classes like 0-9 or 1,4,7, got {text!r}") from None
    return out


def _value(text: str):
    low = text.strip().lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text.strip()


def _settings(items) -> dict:
    """--set KEY=V1,V2 (repeatable) -> {key: [values]}; ``smoothness=W``
    becomes the smoothness regulariser of weight W (0: none)."""
    from ..regularizers import smoothness
    grid = {}
    for item in items or []:
        key, sep, values = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key or not values:
            raise CommandError(f"--set must look like KEY=V1,V2, got {item!r}")
        vals = [_value(v) for v in values.split(",")]
        if key == "smoothness":
            for v in vals:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                    raise CommandError(f"--set smoothness takes weights >= 0, got {v!r}")
            key, vals = "regularizer", [smoothness(float(v)) if v else None for v in vals]
        grid[key] = vals
    return grid


def cmd_sweep(args) -> int:
    from .. import distributed as nd
    from ._common import check_output
    check_output(args.output, "-o/--output", (".csv",))
    if args.store is not None:
        folder = os.path.dirname(os.path.abspath(args.store))
        if not os.path.isdir(folder):
            raise CommandError(f"--store: the folder {folder!r} does not exist")
    if args.images and args.store is None:
        raise CommandError("--images needs --store (where the workers write the images)")
    models = {}
    for path in args.models or [None]:
        name = "default" if path is None else os.path.splitext(os.path.basename(path))[0]
        if name in models:
            name = path
        models[name] = load_model(path)
    targets = _targets(args.targets)
    grid = _settings(args.set)
    if not args.scheduler and not args.local_cluster:
        args.local_cluster = os.cpu_count() or 1
    with connect(args) as client:
        df = nd.sweep(models, targets, args.methods, grid, runs=args.runs, seed=args.seed,
                      store=args.store, images=args.images, keep=args.keep, client=client,
                      chunk=args.chunk, progress=not args.no_progress)
    df.to_csv(args.output, index=False)
    import pandas as pd
    with pd.option_context("display.width", 200, "display.max_columns", 20,
                           "display.max_colwidth", 40, "display.float_format", "{:.4g}".format):
        print(df[_SHOWN].to_string(index=False))
    wrote = f"wrote {args.output}" + (f" and {args.store}" if args.store else "")
    print(f"{len(df)} searches in {df.attrs['wall_seconds']:.1f} s; {wrote}")
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser(
        "sweep", help="a grid of searches on a Dask cluster: a table and a Zarr store",
        description="Run every search of models x targets x methods x settings on a Dask "
                    "cluster (--scheduler, or --local-cluster N; default: a local cluster of "
                    "one worker per core) and write a table of confidence statistics and "
                    "speed (CSV) and, with --store, the averages, histograms and first "
                    "images of every search (Zarr; the table's column 'row' indexes it).")
    p.add_argument("--models", nargs="+", metavar="PATH",
                   help="model files (default: the shipped model)")
    p.add_argument("--targets", default="0-9", help="classes, e.g. 0-9 or 1,4,7 (default: 0-9)")
    p.add_argument("--methods", nargs="+", default=["hill_climb"],
                   choices=["hill_climb", "evolve", "gradient_ascent"],
                   help="searches (default: hill_climb)")
    p.add_argument("--set", action="append", metavar="KEY=V1,V2",
                   help="a setting of the searches and its values (repeatable: the grid is "
                        "their product), e.g. --set steps=2000,20000 --set smoothness=0,1e-5")
    p.add_argument("--runs", type=positive_int, default=100,
                   help="runs per search (evolve: independent repeats; default: 100)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--keep", type=int, default=16,
                   help="images kept per search in the store (default: 16)")
    p.add_argument("-o", "--output", required=True, metavar="CSV", help="the table")
    p.add_argument("--store", metavar="ZARR", help="also write a Zarr store of images")
    p.add_argument("--images", action="store_true",
                   help="store every image (written by the workers: --store must be reachable "
                        "from them)")
    add_progress(p)
    add_cluster(p)
    p.set_defaults(func=cmd_sweep)
