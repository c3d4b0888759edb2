"""What every command shares: loading models and data, output paths, and
how numbers are written."""

from __future__ import annotations

import argparse
import os

import numpy as np

__all__ = ["CommandError", "load_model", "load_test_set", "add_model", "add_threads",
           "add_progress", "check_output", "percent", "positive_int", "nonneg_int",
           "unit_float", "port_number"]


class CommandError(Exception):
    """An error to print as one line, without a traceback."""


def load_model(path, option="--model"):
    """The model at ``path`` (netdream .npz or the seed's net.js), a shipped
    model by name (``model.SHIPPED``), or the shipped default; errors in CLI
    terms, naming ``option``."""
    from ..model import SHIPPED, load, pretrained
    if path is None:
        return pretrained("mlp")
    if not os.path.exists(path):
        if path in SHIPPED:
            return pretrained(path)
        raise CommandError(f"{option}: no model file at {path} (the shipped models are named "
                           f"{', '.join(map(repr, SHIPPED[:-1]))} and {SHIPPED[-1]!r})")
    return load(path)


def load_test_set(data, split: str = "test", net=None):
    """The labelled images of ``split`` from the folder ``data``, or from the
    download cache (fetching them) when ``data`` is None; with ``net``,
    checked to be images of the model's shape."""
    from ..datasets import DownloadError, default_root, expected_files, load_mnist
    names = " and ".join(expected_files(split))
    if data is None and net is not None:
        # MNIST's set is the default only for what it can test: a model of
        # its 28x28 grey digits (not, silently, one of other images or classes)
        from ..model import DIGITS
        shape = "x".join(map(str, net.image_shape))
        if tuple(net.image_shape) != (28, 28):
            raise CommandError(f"the model takes {shape} images, and MNIST's (the default "
                               f"{split} set) are 28x28 grey: give --data DIR, a folder holding "
                               f"{names} with the model's {split} images (IDX, {shape} uint8)")
        if tuple(net.class_names) != DIGITS:
            shown = ", ".join(net.class_names[:4]) + (", ..." if len(net.class_names) > 4 else "")
            raise CommandError(f"the model's classes are {shown}, not MNIST's digits (the "
                               f"default {split} set): give --data DIR, a folder holding {names} "
                               f"with the model's {split} images and labels")
    if data is not None:
        try:
            images, labels = load_mnist(split, root=data, progress=False)
        except FileNotFoundError:
            raise CommandError(f"--data {data}: the folder must hold {names} (gzipped or "
                               "not)") from None
    else:
        try:
            images, labels = load_mnist(split, download=True)
        except DownloadError as exc:
            raise CommandError(
                f"could not download the MNIST {split} set into {default_root()} "
                f"({_first_cause(exc)}); without internet, give --data DIR, a folder holding "
                f"{names}") from None
    if net is not None and tuple(images.shape[1:]) != tuple(net.image_shape):
        where = f"--data {data}" if data is not None else f"the MNIST {split} set"
        raise CommandError(f"{where}: its images are {'x'.join(map(str, images.shape[1:]))}; "
                           f"the model takes {'x'.join(map(str, net.image_shape))} images")
    return images, labels


def read_image_for(path, net):
    """An image file for ``net``: a photo of a digit prepared like MNIST for
    a 28x28 grey model, else the picture resized to the model's input
    (colour for a colour model)."""
    from ..photo import load_image, load_picture
    if tuple(net.image_shape) == (28, 28):
        return load_image(path)
    return load_picture(path, net.image_shape)


def _first_cause(exc) -> str:
    lines = [line.strip() for line in str(exc).splitlines()[1:] if line.strip()]
    return lines[0] if lines else str(exc)


def add_model(p):
    p.add_argument("--model", metavar="PATH",
                   help="model file (netdream .npz or the seed's net.js), or a shipped model: "
                        "mlp (the default), mlp-standard, cnn or cnn-standard")


def add_transfer(p):
    p.add_argument("--transfer", metavar="PATH",
                   help="also say how many of the images fool this other model (a file or a "
                        "shipped model, as for --model)")


def add_threads(p):
    p.add_argument("--threads", type=positive_int, default=None, metavar="T",
                   help="worker threads (default: every core)")


def add_progress(p):
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def check_output(path, option: str, extensions):
    """Check an output file before any work: its folder exists and its name
    ends in one of ``extensions``."""
    if path is None:
        return None
    from .._validation import check_output_path
    try:
        return check_output_path(path, option, extensions)
    except (OSError, ValueError) as exc:
        raise CommandError(str(exc)) from None


def percent(p: float) -> str:
    """A probability as every command writes it: a percentage with two
    decimals that never rounds up to 100% (a float32 softmax reaches 1.0; the
    true value is below)."""
    p = float(p)
    if not np.isfinite(p):
        return "n/a"
    if p >= 1.0:
        return ">99.99%"
    return f"{np.floor(p * 1e4) / 100:.2f}%"


def _number(convert, what, low, high, name):
    """An argparse type: text -> convert(text) within [low, high]."""
    def parse(text: str):
        try:
            v = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if (low is not None and v < low) or (high is not None and v > high):
            bounds = f"in [{low}, {high}]" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"expected a number {bounds}, got {v}")
        return v
    parse.__name__ = name
    return parse


positive_int = _number(int, "a whole number", 1, None, "positive_int")
nonneg_int = _number(int, "a whole number", 0, None, "nonneg_int")
unit_float = _number(float, "a number", 0.0, 1.0, "unit_float")
port_number = _number(int, "a port number", 1, 65535, "port_number")


def _finite(text: str) -> float:
    v = float(text)
    if not np.isfinite(v):
        raise ValueError(text)
    return v


nonneg_float = _number(_finite, "a finite number", 0.0, None, "nonneg_float")
