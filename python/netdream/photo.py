"""Read a photo or scan of a handwritten digit and prepare it the way MNIST
digits were made: the same code path for ``netdream classify``, the report
and the live page.

The result is in the package's pixel convention: ``(28, 28)`` ``uint8``,
ink high (255), background 0, the digit scaled to fit 20x20 and centred by
its centre of mass.
"""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image, ImageOps

__all__ = ["load_image", "read_image"]

# A pixel counts as ink for the bounding box when it reaches this fraction of
# the strongest ink; weaker pixels (paper texture, JPEG noise) are dropped.
_INK_THRESHOLD = 0.1
# An image whose ink differs from its background by fewer grey levels than
# this (of 255) is taken as blank.
_MIN_CONTRAST = 24.0


# --------------------------------------------------------------------------
# Reading: MNIST-style preparation
# --------------------------------------------------------------------------

def load_image(path, *, invert="auto"):
    """Read a picture of a digit and prepare it the way MNIST digits were.

    Steps: read with Pillow (first frame, EXIF rotation applied); convert to
    grey, compositing any transparency onto a background that contrasts with
    the visible strokes; make the ink high (see ``invert``); subtract the
    background level and stretch the ink to full strength; crop to the ink's
    bounding box (pixels below 10% of full strength count as background);
    scale the longer side to 20 pixels keeping the aspect ratio (Lanczos,
    anti-aliased), and stretch again so the strongest pixel is 255 (as in
    every MNIST digit; thin strokes would otherwise fade when shrunk); paste
    into a 28x28 canvas so that the ink's centre of mass, rounded to whole
    pixels, lands on pixel (14, 14) (row and column index).

    Parameters
    ----------
    path : str or os.PathLike
        Any image format Pillow reads (PNG, JPEG, BMP, GIF, ...).
    invert : {"auto", True, False}, default "auto"
        Whether to invert the grey levels so that the ink is high. "auto"
        inverts when the image's border is light (dark ink on light paper);
        ``False`` keeps light-on-dark images (like MNIST itself) as they are.

    Returns
    -------
    numpy.ndarray
        ``uint8`` array of shape ``(28, 28)``, ink high, background 0.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a readable image (the message names the path), if
        it holds no ink ("no ink found"), or if ``invert`` is not one of the
        accepted values.

    Notes
    -----
    When a digit's ink is so lopsided that centring its centre of mass would
    push part of it off the canvas, the digit is moved only as far as the
    canvas allows: no ink is cut off.
    """
    _check_invert(invert)
    with open(path, "rb") as fh:  # FileNotFoundError, IsADirectoryError, ... as is
        return _prepare(_read_grey(fh, os.fspath(path)), invert, os.fspath(path))


def read_image(data: bytes, *, invert="auto", name: str = "image",
               max_pixels: int | None = None):
    """:func:`load_image` for an image held in memory (the encoded bytes of a
    PNG, JPEG, ...): the same preparation, step for step. ``name`` is how
    error messages call the image; ``max_pixels`` refuses larger images
    (width x height) before they are decoded."""
    _check_invert(invert)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"{name} must be the bytes of an image file, got {type(data).__name__}")
    return _prepare(_read_grey(io.BytesIO(data), name, max_pixels), invert, name)


def _check_invert(invert) -> None:
    if not (isinstance(invert, (bool, np.bool_)) or (isinstance(invert, str) and invert == "auto")):
        raise ValueError(f"invert must be 'auto', True or False, got {invert!r}")


def _prepare(grey: np.ndarray, invert, name: str) -> np.ndarray:
    ink = _to_ink(grey, invert, name)
    small = _fit(_crop_to_ink(ink), 20)
    return _centre(small, 28)


def _read_grey(fh, name: str, max_pixels: int | None = None) -> np.ndarray:
    """Return the image in the open file ``fh`` as float64 grey levels
    0..255 (255 = white)."""
    try:
        with Image.open(fh) as im:
            if max_pixels is not None and im.width * im.height > max_pixels:
                raise _TooLarge(f"{name}: {im.width}x{im.height} pixels is more than the "
                                f"{max_pixels:,} accepted")
            im.load()
            return _to_grey(ImageOps.exif_transpose(im))
    except _TooLarge as exc:
        raise ValueError(str(exc)) from None
    except Exception as exc:  # Pillow raises many types for bad files
        raise ValueError(f"{name}: not a readable image "
                         f"({type(exc).__name__}: {exc})") from None


class _TooLarge(Exception):
    pass


def _to_grey(im: Image.Image) -> np.ndarray:
    if im.mode in ("I", "F") or im.mode.startswith("I;16"):
        arr = np.asarray(im, dtype=np.float64)
        top = 1.0 if im.mode == "F" and arr.max() <= 1.0 else \
            255.0 if arr.max() <= 255 else 65535.0 if arr.max() <= 65535 else arr.max()
        return np.clip(arr * (255.0 / top), 0.0, 255.0)
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        return _flatten_alpha(im.convert("RGBA"))
    return np.asarray(im.convert("L"), dtype=np.float64)


def _flatten_alpha(im: Image.Image) -> np.ndarray:
    """Composite onto white, or onto black when the visible strokes are light."""
    rgba = np.asarray(im, dtype=np.float64)
    alpha = rgba[..., 3] / 255.0
    luma = np.asarray(im.convert("RGB").convert("L"), dtype=np.float64)
    weight = alpha.sum()
    visible = (luma * alpha).sum() / weight if weight > 0 else 0.0
    background = 0.0 if visible > 127.5 else 255.0
    return luma * alpha + background * (1.0 - alpha)


def _border(a: np.ndarray) -> np.ndarray:
    return np.concatenate([a[0], a[-1], a[1:-1, 0], a[1:-1, -1]])


def _to_ink(grey: np.ndarray, invert, name: str) -> np.ndarray:
    """Return ink strength in [0, 1]: ink high, background 0."""
    if isinstance(invert, str):  # "auto": a light border means dark ink on light paper
        invert = bool(np.median(_border(grey)) > 127.5)
    x = 255.0 - grey if invert else grey
    background = float(np.median(_border(x)))
    contrast = float(x.max()) - background
    if contrast < _MIN_CONTRAST:
        raise ValueError(f"{name}: no ink found (the darkest and lightest parts "
                         f"differ by {max(contrast, 0.0):.0f} of 255 grey levels)")
    ink = np.clip((x - background) / contrast, 0.0, 1.0)
    ink[ink < _INK_THRESHOLD] = 0.0
    return ink


def _crop_to_ink(ink: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    return ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _fit(box: np.ndarray, size: int) -> np.ndarray:
    """Resize so that the longer side is ``size``, keeping the aspect ratio."""
    h, w = box.shape
    factor = size / max(h, w)
    new = (max(1, round(w * factor)), max(1, round(h * factor)))
    resized = Image.fromarray(box.astype(np.float32)).resize(new, Image.Resampling.LANCZOS)
    small = np.clip(np.asarray(resized, dtype=np.float64), 0.0, 1.0)
    top = small.max()  # thin strokes fade when shrunk; MNIST ink reaches 255
    return small / max(top, 1e-12)


def _centre(small: np.ndarray, size: int) -> np.ndarray:
    """Paste into a ``size`` square so the centre of mass lands on ``size // 2``."""
    h, w = small.shape
    mass = small.sum()
    cy = (small.sum(axis=1) @ np.arange(h)) / mass
    cx = (small.sum(axis=0) @ np.arange(w)) / mass
    oy = min(max(int(np.floor(size // 2 - cy + 0.5)), 0), size - h)
    ox = min(max(int(np.floor(size // 2 - cx + 0.5)), 0), size - w)
    canvas = np.zeros((size, size))
    canvas[oy:oy + h, ox:ox + w] = small
    return np.rint(canvas * 255.0).astype(np.uint8)


