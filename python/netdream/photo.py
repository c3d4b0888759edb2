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
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ._validation import check_int

__all__ = ["load_image", "load_picture", "read_image", "read_picture", "MAX_PIXELS", "FORMATS"]

#: The image formats :func:`load_image` reads: those cameras, phones,
#: scanners and drawing programs write. Pillow's many other decoders (and
#: EPS, which runs Ghostscript) are never reached by a file of unknown origin.
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "PPM", "AVIF")

_OPENABLE = tuple(f for f in FORMATS if f in Image.registered_extensions().values())

#: The most pixels :func:`load_image` reads by default (its ``max_pixels``):
#: 50 megapixels, more than a phone camera or a page scanned at 600 dpi.
#: Checked from the file's header, before the image is decoded.
MAX_PIXELS = 50_000_000
# Larger pictures are shrunk (by whole-pixel averaging) to about this many
# pixels on their longer side as they are read: a 28x28 digit needs no more.
_WORK_SIDE = 1024
# Paper's brightness is modelled as a quadratic surface fitted to a copy of
# at most this many pixels on its longer side ...
_FIT_SIDE = 64
# ... to the pixels within this many robust standard deviations of it (but
# at least _FIT_FLOOR grey levels): the paper, not the ink.
_FIT_BAND = 3.0
_FIT_FLOOR = 4.0

# A pixel counts as ink for the bounding box when it reaches this fraction of
# the strongest ink; weaker pixels (paper texture, JPEG noise) are dropped.
_INK_THRESHOLD = 0.1
# An image whose ink differs from its background by fewer grey levels than
# this (of 255) is taken as blank.
_MIN_CONTRAST = 24.0


# --------------------------------------------------------------------------
# Reading: MNIST-style preparation
# --------------------------------------------------------------------------

def load_image(path, *, invert="auto", max_pixels=None):
    """Read a picture of a digit and prepare it the way MNIST digits were.

    Steps: read with Pillow (first frame, EXIF rotation applied; refused
    before decoding when it has more than ``max_pixels`` pixels; shrunk by
    whole-pixel averaging to about 1024 pixels on its longer side); convert
    to grey, compositing any transparency onto a background that contrasts
    with the visible strokes; make the ink high (see ``invert``); remove the
    background illumination (a quadratic surface fitted robustly to the
    paper, so that paper shaded from one side to the other, as in a phone
    photo, is level) and stretch the ink to full strength; crop to the ink's
    bounding box (pixels below 10% of full strength count as background);
    scale the longer side to 20 pixels keeping the aspect ratio (Lanczos,
    anti-aliased), and stretch again so the strongest pixel is 255 (as in
    every MNIST digit; thin strokes would otherwise fade when shrunk); paste
    into a 28x28 canvas so that the ink's centre of mass, rounded to whole
    pixels, lands on pixel (14, 14) (row and column index).

    Parameters
    ----------
    path : str or os.PathLike
        A picture in one of :data:`FORMATS` (PNG, JPEG, GIF, BMP, TIFF,
        WebP, PPM/PGM, AVIF where Pillow reads it).
    invert : {"auto", True, False}, default "auto"
        Whether to invert the grey levels so that the ink is high. "auto"
        inverts when the image's border is light (dark ink on light paper);
        ``False`` keeps light-on-dark images (like MNIST itself) as they are.
    max_pixels : int, optional
        The most pixels (width x height) read (default :data:`MAX_PIXELS`);
        larger images are refused from their header, before they are
        decoded, so that a small file declaring a huge image (a
        decompression bomb) takes neither time nor memory. Pillow's own
        limit (``PIL.Image.MAX_IMAGE_PIXELS``, twice which it refuses) also
        applies.

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
        it has more than ``max_pixels`` pixels, if it holds no ink ("no ink
        found"), or if ``invert`` is not one of the accepted values.

    Notes
    -----
    When a digit's ink is so lopsided that centring its centre of mass would
    push part of it off the canvas, the digit is moved only as far as the
    canvas allows: no ink is cut off.
    """
    _check_invert(invert)
    limit = _limit(max_pixels)
    with open(path, "rb") as fh:  # FileNotFoundError, IsADirectoryError, ... as is
        return _prepare(_read_grey(fh, os.fspath(path), limit), invert, os.fspath(path))


def read_image(data: bytes, *, invert="auto", name: str = "image",
               max_pixels: int | None = None):
    """:func:`load_image` for an image held in memory (the encoded bytes of a
    PNG, JPEG, ...): the same preparation, step for step. ``name`` is how
    error messages call the image; ``max_pixels`` refuses larger images
    (width x height) before they are decoded."""
    _check_invert(invert)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"{name} must be the bytes of an image file, got {type(data).__name__}")
    return _prepare(_read_grey(io.BytesIO(data), name, _limit(max_pixels)), invert, name)


def _limit(max_pixels) -> int:
    return MAX_PIXELS if max_pixels is None else check_int(max_pixels, "max_pixels", minimum=1)


def _check_invert(invert) -> None:
    if not (isinstance(invert, (bool, np.bool_)) or (isinstance(invert, str) and invert == "auto")):
        raise ValueError(f"invert must be 'auto', True or False, got {invert!r}")


def _prepare(grey: np.ndarray, invert, name: str) -> np.ndarray:
    ink = _to_ink(grey, invert, name)
    small = _fit(_crop_to_ink(ink), 20)
    return _centre(small, 28)


def load_picture(path, shape, *, max_pixels=None) -> np.ndarray:
    """Read a picture as it is, resized to a model's input ``shape``:
    ``(H, W)`` grey or ``(3, H, W)`` colour, ``uint8``. For models that do
    not take MNIST-prepared digits (colour, other sizes): read as
    :func:`load_image` reads (the same formats, the same refusal of images
    of more than ``max_pixels`` before they are decoded, EXIF rotation,
    transparency composited onto white) but not prepared (no inversion,
    cropping or centring), then resized to ``shape`` (Lanczos)."""
    shape = _picture_shape(shape)
    limit = _limit(max_pixels)
    name = os.fspath(path)
    with open(path, "rb") as fh:
        return _picture(_open_checked(fh, name, limit), shape)


def read_picture(data: bytes, shape, *, name: str = "image", max_pixels=None) -> np.ndarray:
    """:func:`load_picture` for a picture held in memory (the encoded bytes
    of a PNG, JPEG, ...): the same reading and resizing. ``name`` is how
    error messages call the picture."""
    shape = _picture_shape(shape)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"{name} must be the bytes of an image file, got {type(data).__name__}")
    return _picture(_open_checked(io.BytesIO(data), name, _limit(max_pixels)), shape)


def _picture_shape(shape) -> tuple:
    shape = tuple(shape)
    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[0] not in (1, 3)) or \
            not all(isinstance(v, (int, np.integer)) and v >= 1 for v in shape):
        raise ValueError(f"shape must be (H, W) or (3, H, W), got {shape!r}")
    return shape


def _picture(im: Image.Image, shape: tuple) -> np.ndarray:
    colour = len(shape) == 3 and shape[0] == 3
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    im = im.convert("RGB" if colour else "L")
    arr = np.asarray(im.resize((shape[-1], shape[-2]), Image.Resampling.LANCZOS))
    return np.ascontiguousarray(arr.transpose(2, 0, 1)) if colour else arr


def _read_grey(fh, name: str, max_pixels: int) -> np.ndarray:
    """Return the image in the open file ``fh`` as float64 grey levels
    0..255 (255 = white)."""
    return _to_grey(_open_checked(fh, name, max_pixels))


def _open_checked(fh, name: str, max_pixels: int) -> Image.Image:
    """The image in the open file ``fh``, decoded (refused before that when
    it has more than ``max_pixels`` pixels), EXIF-rotated and shrunk."""
    try:
        with warnings.catch_warnings():  # over Pillow's warning limit: refused below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(fh, formats=_OPENABLE)
    except Image.DecompressionBombError as exc:
        raise ValueError(f"{name}: the image is too large to read ({exc})") from None
    except UnidentifiedImageError:
        raise ValueError(f"{name}: not a readable image (not {', '.join(FORMATS[:-1])} "
                         f"or {FORMATS[-1]})") from None
    except Exception as exc:  # Pillow raises many types for bad files
        raise ValueError(f"{name}: not a readable image "
                         f"({type(exc).__name__}: {exc})") from None
    with im:
        w, h = im.size  # from the header: nothing is decoded yet
        if w * h > max_pixels:
            raise ValueError(f"{name}: the image is {w} x {h} = {w * h:,} pixels, more than "
                             f"the {max_pixels:,} load_image reads (max_pixels); a small "
                             "file declaring a huge image may be a decompression bomb")
        try:
            im.load()
            return _shrink(ImageOps.exif_transpose(im))
        except Exception as exc:
            raise ValueError(f"{name}: not a readable image "
                             f"({type(exc).__name__}: {exc})") from None


def _shrink(im: Image.Image) -> Image.Image:
    """A picture larger than needed, shrunk by a whole factor (each pixel
    the average of a block) to about _WORK_SIDE pixels on its longer side."""
    factor = max(im.size) // _WORK_SIDE
    if factor < 2:
        return im
    if im.mode in ("P", "PA"):  # palette indices cannot be averaged
        im = im.convert("RGBA")
    elif im.mode == "1" or im.mode.startswith("I;16"):
        im = im.convert("L" if im.mode == "1" else "I")
    return im.reduce(factor)


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
    luma = np.asarray(im.convert("RGB").convert("L"), dtype=np.float64)
    opacity = im.getchannel("A")
    if opacity.getextrema() == (255, 255):  # opaque (a canvas from the live page): as it is
        return luma
    alpha = np.asarray(opacity, dtype=np.float64) / 255.0
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
    # one array, changed in place (a fresh one per step cost more in page
    # faults than the arithmetic)
    x = np.subtract(255.0, grey) if invert else np.array(grey, dtype=np.float64)
    x -= _illumination(x)
    background = float(np.median(_border(x)))
    contrast = float(x.max()) - background
    if contrast < _MIN_CONTRAST:
        raise ValueError(f"{name}: no ink found (the darkest and lightest parts "
                         f"differ by {max(contrast, 0.0):.0f} of 255 grey levels)")
    x -= background
    x /= contrast
    ink = np.clip(x, 0.0, 1.0, out=x)
    ink[ink < _INK_THRESHOLD] = 0.0
    return ink


def _illumination(x: np.ndarray) -> np.ndarray:
    """The paper's level under every pixel of ``x``, as a quadratic surface:
    light falling unevenly on paper (brighter on one side, darker in a
    corner) varies slowly across it.

    The surface is fitted by least squares on a reduced copy, first to the
    pixels near the border's median (the border is paper), then, a few times
    over, to the pixels within a robust band around the last fit; ink lies
    outside that band on one side (and whichever side it is on, it is the
    minority), so it does not pull the fit.
    """
    h, w = x.shape
    factor = max(1, -(-max(h, w) // _FIT_SIDE))
    small = np.asarray(Image.fromarray(x.astype(np.float32)).resize(
        (-(-w // factor), -(-h // factor)), Image.Resampling.BOX), dtype=np.float64)
    design = _quadratic_terms(*small.shape).reshape(-1, 6)
    values = small.ravel()
    edge = _border(small)
    centre = np.median(edge)
    spread = max(_FIT_BAND * 1.4826 * float(np.median(np.abs(edge - centre))), _FIT_FLOOR)
    paper = np.abs(values - centre) <= spread
    coef = np.zeros(6)
    coef[0] = centre
    for _ in range(6):
        if paper.sum() < 6:
            break
        coef = np.linalg.lstsq(design[paper], values[paper], rcond=None)[0]
        resid = values - design @ coef
        noise = 1.4826 * float(np.median(np.abs(resid[paper])))
        band = np.abs(resid) <= max(_FIT_BAND * noise, _FIT_FLOOR)
        if np.array_equal(band, paper):  # settled: the next fits would be this one
            break
        paper = band
    # the surface at full size, term by term (as _quadratic_terms), in one
    # array (a full-size temporary per term cost 5x the time in page faults)
    u, v = _positions(h, w)
    surface = u * (coef[1] + coef[4] * v)
    surface += coef[0] + coef[2] * v + coef[5] * (v * v)
    surface += coef[3] * (u * u)
    return surface


def _positions(h: int, w: int):
    """u ``(1, w)`` and v ``(h, 1)``: each pixel's column and row centre
    scaled to [-1, 1] (the same for an image and a reduced copy of it)."""
    v = ((np.arange(h) + 0.5) / h * 2.0 - 1.0)[:, None]
    u = ((np.arange(w) + 0.5) / w * 2.0 - 1.0)[None, :]
    return u, v


def _quadratic_terms(h: int, w: int) -> np.ndarray:
    """``(h, w, 6)``: 1, u, v, u*u, u*v, v*v at each pixel's centre
    (:func:`_positions`)."""
    u, v = _positions(h, w)
    u, v = np.broadcast_to(u, (h, w)), np.broadcast_to(v, (h, w))
    return np.stack([np.ones((h, w)), u, v, u * u, u * v, v * v], axis=-1)


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


