"""Input checks shared by the public functions: one helper per check.

Every public function takes images in one convention: shape ``(H, W)`` or
``(N, H, W)`` (``(C, H, W)`` / ``(N, C, H, W)`` for colour models); ``uint8``
in 0..255 or float in [0, 1]; ink high (MNIST's own convention). The checks
here turn anything else into a ValueError or TypeError that names the
argument, before any compiled code runs.
"""

from __future__ import annotations

import math
import numbers
import os

import numpy as np

__all__ = ["renamed", "check_mlp", "as_images", "as_unit_float", "check_net", "check_int", "check_seed", "check_threads",
           "check_real", "check_rate", "check_choice", "check_bool", "check_labels",
           "check_path", "check_output_path", "check_memory", "unit_float", "MAX_THREADS"]

#: The most threads any engine accepts; more is refused as a mistake.
MAX_THREADS = 1024


def renamed(func: str, given: dict, renames: dict) -> dict:
    """Keywords a function took under other names before 0.2: ``given`` (the
    function's ``**deprecated``) -> {new name: value}, with a
    DeprecationWarning naming the new name; an unknown keyword is the usual
    TypeError."""
    import warnings
    out = {}
    for old, value in given.items():
        if old not in renames:
            raise TypeError(f"{func}() got an unexpected keyword argument {old!r}")
        new = renames[old]
        warnings.warn(f"{func}({old}=) is deprecated; use {new}=", DeprecationWarning,
                      stacklevel=3)
        out[new] = value
    return out


def check_net(net, name: str = "net"):
    """``net`` must be a netdream model (an MLP or another Network)."""
    from .model import Network
    if not isinstance(net, Network):
        raise TypeError(f"{name} must be a netdream.MLP or netdream.Network, got {type(net).__name__}")
    return net


def check_mlp(net, what: str, instead: str):
    """``net`` must be an MLP for ``what`` (which has no meaning for a
    convolutional network); the error names what to use ``instead``."""
    from .model import MLP
    check_net(net)
    if not isinstance(net, MLP):
        raise ValueError(f"{what} is defined for dense networks (MLPs), not for a convolutional "
                         f"network; use {instead}")
    return net


def as_images(images, name: str = "images", shape: tuple[int, ...] = (28, 28),
              keep_float64: bool = False):
    """Validate images; return ``(array, single)``.

    ``array`` has shape ``(N, *shape)`` and dtype ``uint8`` (0..255) or
    ``float32`` (in [0, 1]; float64 input stays float64 with
    ``keep_float64``); ``single`` tells whether one image of ``shape`` was
    given. Integer arrays other than uint8 are accepted when their values lie
    in 0..255.
    """
    if isinstance(images, (str, bytes, os.PathLike)):
        raise TypeError(f"{name} must be an array of pixels, not a path or string; "
                        "use netdream.photo.load_image() to read a file")
    try:
        arr = np.asarray(images)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} could not be read as an array: {exc}") from None
    if arr.dtype == object or arr.dtype.kind not in "uif":
        raise TypeError(f"{name} must be uint8 (0..255) or float (0..1) pixels, got dtype {arr.dtype}")
    shape = tuple(shape)
    single = arr.ndim == len(shape)
    if single:
        arr = arr[None]
    if arr.ndim != len(shape) + 1 or arr.shape[1:] != shape:
        dims = ", ".join(map(str, shape))
        hint = ""
        n_pixels = math.prod(shape)
        if np.ndim(images) == 2 and np.shape(images)[-1] == n_pixels:
            hint = f" (flat rows? reshape with .reshape(-1, {dims}))"
        raise ValueError(f"{name} must have shape ({dims}) or (N, {dims}), got "
                         f"{np.shape(images)}{hint}")
    if arr.dtype.kind in "iu":
        if arr.dtype != np.uint8:
            if arr.size and (arr.min() < 0 or arr.max() > 255):
                raise ValueError(f"{name}: integer pixels must lie in 0..255, got values in "
                                 f"[{arr.min()}, {arr.max()}]")
            arr = arr.astype(np.uint8)
        return np.ascontiguousarray(arr), single
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if arr.size and (arr.min() < 0.0 or arr.max() > 1.0):
        raise ValueError(f"{name}: float pixels must lie in [0, 1] (ink high), got values in "
                         f"[{arr.min():.4g}, {arr.max():.4g}]; scale uint8 images by 1/255 "
                         "or pass them as uint8")
    if keep_float64 and arr.dtype == np.float64:
        return np.ascontiguousarray(arr), single
    return np.ascontiguousarray(arr, dtype=np.float32), single


def unit_float(x: np.ndarray) -> np.ndarray:
    """Validated images (uint8 or float) as float64 in [0, 1]."""
    return x.astype(np.float64) / 255.0 if x.dtype == np.uint8 else x.astype(np.float64)


def as_unit_float(images, name: str = "images", shape: tuple[int, ...] = (28, 28)):
    """Validate images; return ``(float64 array in [0, 1] of shape (N, *shape), single)``."""
    x, single = as_images(images, name=name, shape=shape, keep_float64=True)
    return unit_float(x), single


def check_int(value, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum:,}, got {value:,}")
    return value


def check_seed(seed, name: str = "seed") -> int:
    """A random seed: an integer in 0 .. 2**64 - 1."""
    seed = check_int(seed, name, minimum=0)
    if seed >= 2**64:
        raise ValueError(f"{name} must be < 2**64, got {seed}")
    return seed


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


CORES = _cores()


def check_threads(threads, name: str = "threads") -> int:
    """``None`` means every core this process may use; otherwise an integer in
    1..MAX_THREADS. The engines use at most four threads per core (more only
    costs memory), so a larger value is quietly lowered to that."""
    if threads is None:
        return CORES
    threads = check_int(threads, name, minimum=1, maximum=MAX_THREADS)
    return min(threads, 4 * CORES)


def check_real(value, name: str, *, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False) -> float:
    """A finite real number within the given bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    ok = math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        if low is not None and high is not None:
            what = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        elif low is not None:
            what = f"{'>' if low_open else '>='} {low:g}"
        elif high is not None:
            what = f"{'<' if high_open else '<='} {high:g}"
        else:
            what = "finite"
        raise ValueError(f"{name} must be a finite number {what}, got {value!r}")
    return value


def check_rate(value, name: str) -> float:
    """A probability: a number in [0, 1]."""
    return check_real(value, name, low=0.0, high=1.0)


def check_choice(value, name: str, choices):
    """One of ``choices`` (strings)."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_bool(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_labels(labels, n: int, k: int | None, name: str = "labels") -> np.ndarray:
    """Integer labels, one per image, in 0..k-1 (any non-negative when k is None)."""
    y = np.asarray(labels)
    if y.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integers, got dtype {y.dtype}")
    if y.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) to match the images, got {y.shape}")
    if y.size and y.min() < 0:
        raise ValueError(f"{name} must be >= 0, got {y.min()}")
    if k is not None and y.size and y.max() >= k:
        raise ValueError(f"{name} must lie in 0..{k - 1}, got values in [{y.min()}, {y.max()}]")
    return y.astype(np.int64)


def check_path(path, name: str = "path") -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike, got {type(path).__name__}")
    return os.fspath(path)


def check_output_path(path, name: str = "path", extensions=None) -> str:
    """A file that can be written: its folder exists and, when
    ``extensions`` is given, its name ends in one of them. Checked before any
    work is done, so that a long run does not fail at the end."""
    path = check_path(path, name)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{name}: the folder {folder!r} does not exist")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{name}: {path!r} is a folder, not a file name")
    if extensions:
        if not path.lower().endswith(tuple(e.lower() for e in extensions)):
            raise ValueError(f"{name}: {path!r} must end in {' or '.join(extensions)}")
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"{name}: the folder {folder!r} is not writable")
    return path


def _available_memory() -> int:
    """Bytes of memory this process could still take (physical memory when
    MemAvailable is unknown)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 62


def check_memory(nbytes: float, what: str) -> None:
    """Refuse work whose arrays would not fit in memory, before allocating:
    ``what`` says what to lower (e.g. "runs=10**9 x 784 pixels")."""
    if nbytes > 0.8 * _available_memory():
        raise ValueError(f"{what} needs {_size(nbytes)} of memory, more than this machine has "
                         f"free ({_size(_available_memory())}); lower it")


def _size(nbytes: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1024 or unit == "PiB":
            return f"{nbytes:.1f} {unit}" if unit != "bytes" else f"{int(nbytes)} bytes"
        nbytes /= 1024
    return f"{nbytes:.1f} PiB"
