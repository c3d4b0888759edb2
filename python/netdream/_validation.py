"""Input checks shared by the public functions.

Every public function takes images in one convention: shape ``(28, 28)`` or
``(N, 28, 28)``; ``uint8`` in 0..255 or float in [0, 1]; ink high (MNIST's
own convention). The checks here turn anything else into a ValueError or
TypeError that names the argument, before any compiled code runs.
"""

from __future__ import annotations

import numbers
import os

import numpy as np

__all__ = ["as_images", "check_finite", "check_threads", "check_int", "check_path"]


def as_images(images, name: str = "images", shape: tuple[int, int] = (28, 28),
              keep_float64: bool = False):
    """Validate images; return ``(array, single)``.

    ``array`` has shape ``(N, H, W)`` and dtype ``uint8`` (0..255) or
    ``float32`` (in [0, 1]; float64 input stays float64 with
    ``keep_float64``); ``single`` tells whether one ``(H, W)`` image was
    given. Integer arrays other than uint8 are accepted when their values lie
    in 0..255.
    """
    if isinstance(images, (str, bytes, os.PathLike)):
        raise TypeError(f"{name} must be an array of pixels, not a path or string; "
                        "use netdream.images.load_image() to read a file")
    try:
        arr = np.asarray(images)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} could not be read as an array: {exc}") from None
    if arr.dtype == object or arr.dtype.kind not in "buif":
        raise TypeError(f"{name} must be uint8 (0..255) or float (0..1) pixels, got dtype {arr.dtype}")
    if arr.dtype.kind == "b":
        raise TypeError(f"{name} must be uint8 (0..255) or float (0..1) pixels, got dtype bool")
    single = arr.ndim == 2
    if single:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1:] != tuple(shape):
        h, w = shape
        hint = ""
        if np.ndim(images) == 2 and np.shape(images)[-1] == h * w:
            hint = f" (flat rows? reshape with .reshape(-1, {h}, {w}))"
        raise ValueError(f"{name} must have shape ({h}, {w}) or (N, {h}, {w}), got "
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


def check_finite(arr: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")


def check_int(value, name: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


_CORES = _cores()


def check_threads(threads) -> int:
    """``None`` means every core this process may use; otherwise a positive integer."""
    if threads is None:
        return _CORES
    return check_int(threads, "threads", minimum=1)


def check_path(path, name: str = "path") -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike, got {type(path).__name__}")
    return os.fspath(path)
