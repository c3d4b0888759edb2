"""Read digit images the way MNIST was made; write images, grids and animations.

Pixel convention (the package's own, MNIST's): shape ``(28, 28)``, ``uint8``
0..255 or float in [0, 1], ink high, background 0. :func:`load_image` turns
any picture of a digit into that convention; :func:`grid_image`,
:func:`save_grid` and :func:`save_gif` draw images and signed heat maps with
Pillow only (no matplotlib).
"""

from __future__ import annotations

import numbers
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

__all__ = ["load_image", "to_pil", "save_image", "grid_image", "save_grid", "save_gif"]

# A pixel counts as ink for the bounding box when it reaches this fraction of
# the strongest ink; weaker pixels (paper texture, JPEG noise) are dropped.
_INK_THRESHOLD = 0.1
# An image whose ink differs from its background by fewer grey levels than
# this (of 255) is taken as blank.
_MIN_CONTRAST = 24.0

# RdBu-like diverging colour map from -1 (dark blue) through 0 (white) to
# +1 (dark red), 11 evenly spaced anchors.
_DIVERGING = np.array([
    (5, 48, 97), (33, 102, 172), (67, 147, 195), (146, 197, 222), (209, 229, 240),
    (255, 255, 255),
    (253, 219, 199), (244, 165, 130), (214, 96, 77), (178, 24, 43), (103, 0, 31),
], dtype=np.float64)

_PAD = 4                     # pixels around and between grid cells
_BACKGROUND = (255, 255, 255)
_FRAME = (170, 170, 170)     # 1-pixel frame drawn around each cell
_TEXT = (0, 0, 0)


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
    if not (isinstance(invert, (bool, np.bool_)) or (isinstance(invert, str) and invert == "auto")):
        raise ValueError(f"invert must be 'auto', True or False, got {invert!r}")
    grey = _read_grey(path)
    ink = _to_ink(grey, invert, path)
    small = _fit(_crop_to_ink(ink), 20)
    return _centre(small, 28)


def _read_grey(path) -> np.ndarray:
    """Return the image as float64 grey levels 0..255 (255 = white)."""
    with open(path, "rb") as fh:  # FileNotFoundError, IsADirectoryError, ... as is
        try:
            with Image.open(fh) as im:
                im.load()
                return _to_grey(ImageOps.exif_transpose(im))
        except Exception as exc:  # Pillow raises many types for bad files
            raise ValueError(f"{os.fspath(path)}: not a readable image "
                             f"({type(exc).__name__}: {exc})") from None


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


def _to_ink(grey: np.ndarray, invert, path) -> np.ndarray:
    """Return ink strength in [0, 1]: ink high, background 0."""
    if isinstance(invert, str):  # "auto": a light border means dark ink on light paper
        invert = bool(np.median(_border(grey)) > 127.5)
    x = 255.0 - grey if invert else grey
    background = float(np.median(_border(x)))
    contrast = float(x.max()) - background
    if contrast < _MIN_CONTRAST:
        raise ValueError(f"{os.fspath(path)}: no ink found (the darkest and lightest parts "
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


# --------------------------------------------------------------------------
# Writing single images
# --------------------------------------------------------------------------

def to_pil(image, scale=1):
    """Turn one greyscale image into a Pillow image (white ink on black).

    Parameters
    ----------
    image : array_like, shape (H, W)
        ``uint8`` (or other integers) in 0..255, float in [0, 1], or bool.
    scale : int, default 1
        Each pixel becomes a ``scale`` x ``scale`` block (nearest neighbour).

    Returns
    -------
    PIL.Image.Image
        Mode "L", size ``(W * scale, H * scale)``.

    Raises
    ------
    ValueError
        If ``image`` is not 2-D, holds NaN or values out of range, or
        ``scale`` is not positive.
    TypeError
        If ``image`` is not numeric or ``scale`` is not an integer.
    """
    pixels = _as_uint8(image, "image")
    scale = _check_scale(scale)
    im = Image.fromarray(pixels)
    if scale != 1:
        im = im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST)
    return im


def save_image(image, path, *, scale=1):
    """Write one greyscale image (see :func:`to_pil`) to ``path``.

    The format follows the file's extension (``.png`` recommended). Returns
    the Pillow image.
    """
    im = to_pil(image, scale)
    im.save(path)
    return im


def _as_uint8(image, name: str) -> np.ndarray:
    arr = _numeric(image, name)
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(f"{name} must be one non-empty 2-D image (H, W), got shape {arr.shape}")
    if arr.dtype.kind == "b":
        return arr.astype(np.uint8) * 255
    if arr.dtype.kind in "iu":
        if arr.min() < 0 or arr.max() > 255:
            raise ValueError(f"{name}: integer pixels must lie in 0..255, got values in "
                             f"[{arr.min()}, {arr.max()}]")
        return arr.astype(np.uint8)
    _check_finite(arr, name)
    if arr.min() < 0.0 or arr.max() > 1.0:
        raise ValueError(f"{name}: float pixels must lie in [0, 1], got values in "
                         f"[{arr.min():.4g}, {arr.max():.4g}]")
    return np.rint(arr * 255.0).astype(np.uint8)


def _numeric(data, name: str) -> np.ndarray:
    try:
        arr = np.asarray(data)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} could not be read as an array: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    return arr


def _check_finite(arr: np.ndarray, name: str) -> None:
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")


def _check_scale(scale) -> int:
    if isinstance(scale, bool) or not isinstance(scale, numbers.Integral):
        raise TypeError(f"scale must be a positive integer, got {scale!r}")
    if scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    return int(scale)


# --------------------------------------------------------------------------
# Grids of images and heat maps
# --------------------------------------------------------------------------

def grid_image(maps, *, labels=None, titles=None, cmap="auto", scale=4, ncols=None,
               vmax=None, symmetric=True):
    """Draw images or heat maps side by side, with text under and over each.

    Parameters
    ----------
    maps : array_like, shape (N, H, W) or (H, W)
        Images (``uint8`` 0..255, float in [0, 1], bool) or signed heat maps.
    labels : sequence, optional
        ``N`` texts drawn under the cells (e.g. ``"7: 99.9%"``); ``str()`` is
        applied to each.
    titles : sequence, optional
        ``N`` texts drawn over the cells.
    cmap : {"auto", "gray", "diverging"}, default "auto"
        "gray" draws white ink on black, like MNIST. "diverging" draws
        negative values blue, zero white and positive values red. "auto"
        picks "diverging" when any value is negative, else "gray".
    scale : int, default 4
        Each pixel becomes a ``scale`` x ``scale`` block.
    ncols : int, optional
        Cells per row; default ``min(N, 10)``.
    vmax : float or "shared", optional
        Colour scale. For "diverging": ``None`` scales each map by its own
        largest magnitude, so that every map uses the full colour range; a
        number fixes the colour limits at ``-vmax`` and ``+vmax`` for all maps
        (values beyond are clipped); "shared" uses one scale for all maps
        computed from all of them, so that maps can be compared. For "gray":
        black is 0 and white is ``vmax``; by default white is 255 for integer
        data, 1 for float data lying in [0, 1], and otherwise each map (or,
        with "shared", all maps) is stretched from its minimum to its maximum.
    symmetric : bool, default True
        Only for an automatic diverging scale (``vmax`` None or "shared").
        True: one limit for both signs, the largest magnitude, so blue and red
        of equal strength mean equal magnitudes. False: negative values are
        scaled by the most negative value and positive ones by the largest, so
        both signs use their full colour range. Zero stays white either way.

    Returns
    -------
    PIL.Image.Image
        An RGB image on a white background.

    Raises
    ------
    ValueError
        If ``maps`` is not 2-D or 3-D, is empty, holds NaN or infinite values,
        if ``labels`` or ``titles`` has the wrong length, or an option is out
        of range.
    TypeError
        If ``maps`` is not numeric, or ``labels``/``titles`` is a single string.
    """
    arr = _as_maps(maps, "maps")
    n = len(arr)
    labels = _check_texts(labels, n, "labels")
    titles = _check_texts(titles, n, "titles")
    scale = _check_scale(scale)
    ncols = _check_ncols(ncols, n)
    rgb = _colourise(arr, _pick_cmap(arr, cmap), vmax, symmetric)
    return _compose(rgb, labels, titles, scale, ncols)


def save_grid(maps, path, *, labels=None, titles=None, cmap="auto", scale=4, ncols=None,
              vmax=None, symmetric=True):
    """Write :func:`grid_image` of ``maps`` to ``path`` (PNG) and return it.

    Parameters are those of :func:`grid_image`; the image is returned so that
    it shows in Jupyter.
    """
    im = grid_image(maps, labels=labels, titles=titles, cmap=cmap, scale=scale, ncols=ncols,
                    vmax=vmax, symmetric=symmetric)
    im.save(path)
    return im


def save_gif(frames, path, *, duration=100, scale=4, labels=None, cmap="auto", vmax=None,
             symmetric=True, loop=0):
    """Write frames ``(T, H, W)`` as an animated GIF and return the frames.

    Parameters
    ----------
    frames : array_like, shape (T, H, W)
        The frames, e.g. successive steps of an optimisation.
    path : str or os.PathLike
        Output file; always written as GIF whatever its extension.
    duration : int or sequence of int, default 100
        Display time of each frame in milliseconds (one for all, or ``T``).
    scale : int, default 4
        Each pixel becomes a ``scale`` x ``scale`` block.
    labels : sequence, optional
        ``T`` texts, one drawn under each frame.
    cmap, vmax, symmetric
        As in :func:`grid_image`, except that the automatic scale is shared
        by all frames (``vmax=None`` acts as "shared"), so that brightness
        and colour mean the same thing throughout the animation.
    loop : int, default 0
        How many times the animation repeats; 0 means forever.

    Returns
    -------
    list of PIL.Image.Image
        The rendered frames, all the same size.
    """
    arr = _as_maps(frames, "frames")
    t = len(arr)
    labels = _check_texts(labels, t, "labels")
    scale = _check_scale(scale)
    _check_duration(duration, t)
    rgb = _colourise(arr, _pick_cmap(arr, cmap), "shared" if vmax is None else vmax, symmetric)
    width = max((_text_size(s)[0] for s in labels), default=0) if labels else 0
    images = [_compose(rgb[i:i + 1], None if labels is None else [labels[i]], None, scale, 1,
                       min_text_width=width) for i in range(t)]
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:],
                   duration=duration, loop=loop)
    return images


def _as_maps(maps, name: str) -> np.ndarray:
    arr = _numeric(maps, name)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(f"{name} must have shape (H, W) or (N, H, W), got {arr.shape}")
    if 0 in arr.shape:
        raise ValueError(f"{name} is empty: shape {arr.shape}")
    _check_finite(arr, name)
    return arr


def _check_texts(texts, n: int, name: str):
    if texts is None:
        return None
    if isinstance(texts, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of {n} texts, not a single string")
    texts = [str(t) for t in texts]
    if len(texts) != n:
        raise ValueError(f"{name} has {len(texts)} entries but there are {n} maps")
    return texts


def _check_ncols(ncols, n: int) -> int:
    if ncols is None:
        return min(n, 10)
    if isinstance(ncols, bool) or not isinstance(ncols, numbers.Integral) or ncols < 1:
        raise ValueError(f"ncols must be a positive integer, got {ncols!r}")
    return min(int(ncols), n)


def _check_duration(duration, t: int) -> None:
    values = [duration] if isinstance(duration, numbers.Real) else list(duration)
    if not isinstance(duration, numbers.Real) and len(values) != t:
        raise ValueError(f"duration has {len(values)} entries but there are {t} frames")
    if any(isinstance(d, bool) or not isinstance(d, numbers.Real) or not d > 0 for d in values):
        raise ValueError(f"duration must be positive milliseconds, got {duration!r}")


def _pick_cmap(arr: np.ndarray, cmap: str) -> str:
    if cmap not in ("auto", "gray", "diverging", "diverging_r"):
        raise ValueError(f"cmap must be 'auto', 'gray', 'diverging' or 'diverging_r', got {cmap!r}")
    if cmap == "auto":
        return "diverging" if arr.min() < 0 else "gray"
    return cmap


def _colourise(arr: np.ndarray, cmap: str, vmax, symmetric: bool) -> np.ndarray:
    """Map ``arr`` (N, H, W) to RGB ``uint8`` (N, H, W, 3)."""
    if not (vmax is None or (isinstance(vmax, str) and vmax == "shared")):
        if isinstance(vmax, bool) or not isinstance(vmax, numbers.Real) or \
                not np.isfinite(vmax) or vmax <= 0:
            raise ValueError(f"vmax must be a positive number, 'shared' or None, got {vmax!r}")
    if cmap == "gray":
        level = np.rint(_grey_levels(arr, vmax) * 255.0).astype(np.uint8)
        return np.repeat(level[..., None], 3, axis=-1)
    t = _signed_levels(arr.astype(np.float64), vmax, symmetric)
    if cmap == "diverging_r":  # blue positive, red negative (the TensorFlow notebook's)
        t = -t
    anchors = np.linspace(-1.0, 1.0, len(_DIVERGING))
    rgb = np.stack([np.interp(t, anchors, _DIVERGING[:, c]) for c in range(3)], axis=-1)
    return np.rint(rgb).astype(np.uint8)


def _grey_levels(arr: np.ndarray, vmax) -> np.ndarray:
    """Values scaled to [0, 1] for the grey map."""
    x = arr.astype(np.float64)
    if isinstance(vmax, numbers.Real):
        return np.clip(x / vmax, 0.0, 1.0)
    if arr.dtype.kind in "biu" and arr.min() >= 0 and arr.max() <= 255:
        return x / (1.0 if arr.dtype.kind == "b" else 255.0)
    if arr.dtype.kind == "f" and arr.min() >= 0.0 and arr.max() <= 1.0:
        return x
    axes = None if vmax == "shared" else (1, 2)
    lo = x.min(axis=axes, keepdims=True)
    span = x.max(axis=axes, keepdims=True) - lo
    return (x - lo) / np.where(span > 0, span, 1.0)


def _signed_levels(x: np.ndarray, vmax, symmetric: bool) -> np.ndarray:
    """Values scaled to [-1, 1] with zero kept at zero."""
    if isinstance(vmax, numbers.Real):
        return np.clip(x / vmax, -1.0, 1.0)
    axes = None if vmax == "shared" else (1, 2)
    if symmetric:
        top = np.abs(x).max(axis=axes, keepdims=True)
        return x / np.where(top > 0, top, 1.0)
    pos = x.max(axis=axes, keepdims=True)
    neg = -x.min(axis=axes, keepdims=True)
    return np.where(x > 0, x / np.where(pos > 0, pos, 1.0), x / np.where(neg > 0, neg, 1.0))


def _font():
    return ImageFont.load_default()


def _text_size(text: str):
    left, top, right, bottom = ImageDraw.Draw(Image.new("RGB", (1, 1))).multiline_textbbox(
        (0, 0), text, font=_font())
    return right - left, bottom


def _compose(rgb: np.ndarray, labels, titles, scale: int, ncols: int,
             min_text_width: int = 0) -> Image.Image:
    """Lay out cells ``rgb`` (N, H, W, 3) on a white sheet with their texts."""
    n, h, w, _ = rgb.shape
    cell_w, cell_h = w * scale, h * scale
    texts = (labels or []) + (titles or [])
    col_w = max([cell_w, min_text_width] + [_text_size(s)[0] for s in texts])
    label_h = max(_text_size(s)[1] for s in labels) + _PAD if labels else 0
    title_h = max(_text_size(s)[1] for s in titles) + _PAD if titles else 0
    row_h = title_h + cell_h + label_h
    nrows = -(-n // ncols)
    sheet = Image.new("RGB", (ncols * (col_w + _PAD) + _PAD, nrows * (row_h + _PAD) + _PAD),
                      _BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = _font()
    for i in range(n):
        x0 = _PAD + (i % ncols) * (col_w + _PAD)
        y0 = _PAD + (i // ncols) * (row_h + _PAD)
        cx = x0 + (col_w - cell_w) // 2
        cell = Image.fromarray(rgb[i]).resize((cell_w, cell_h), Image.Resampling.NEAREST)
        sheet.paste(cell, (cx, y0 + title_h))
        draw.rectangle((cx - 1, y0 + title_h - 1, cx + cell_w, y0 + title_h + cell_h),
                       outline=_FRAME)
        if titles:
            _centred_text(draw, titles[i], x0 + col_w / 2, y0, font)
        if labels:
            _centred_text(draw, labels[i], x0 + col_w / 2, y0 + title_h + cell_h + _PAD // 2 + 1,
                          font)
    return sheet


def _centred_text(draw: ImageDraw.ImageDraw, text: str, centre_x: float, top: int, font):
    width = _text_size(text)[0]
    draw.multiline_text((round(centre_x - width / 2), top), text, fill=_TEXT, font=font,
                        align="center")
