"""Draw images, grids of images and heat maps, and animations.

Pixel convention (the package's own, MNIST's): shape ``(28, 28)``, ``uint8``
0..255 or float in [0, 1], ink high, background 0. :func:`grid_image`,
:func:`save_grid` and :func:`save_gif` draw images and signed heat maps with
Pillow only (no matplotlib). Reading a photo of a digit is
:func:`netdream.photo.load_image`.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["to_pil", "save_image", "grid_image", "save_grid", "save_gif", "signed_colour"]

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
# Writing single images
# --------------------------------------------------------------------------

def to_pil(image, scale=1):
    """Turn one image into a Pillow image: greyscale (white ink on black) or
    colour.

    Parameters
    ----------
    image : array_like, shape (H, W), or (3, H, W) for colour
        ``uint8`` (or other integers) in 0..255, float in [0, 1], or bool.
    scale : int, default 1
        Each pixel becomes a ``scale`` x ``scale`` block (nearest neighbour).

    Returns
    -------
    PIL.Image.Image
        Mode "L" (colour: "RGB"), size ``(W * scale, H * scale)``.

    Raises
    ------
    ValueError
        If ``image`` is not 2-D, holds NaN or values out of range, or
        ``scale`` is not positive.
    TypeError
        If ``image`` is not numeric or ``scale`` is not an integer.
    """
    arr = _numeric(image, "image")
    colour = arr.ndim == 3 and arr.shape[0] == 3
    pixels = _as_uint8(arr, "image", colour=colour)
    scale = _check_scale(scale)
    im = Image.fromarray(pixels.transpose(1, 2, 0) if colour else pixels)
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


def _as_uint8(image, name: str, colour: bool = False) -> np.ndarray:
    """One image as uint8: (H, W), or (3, H, W) when ``colour``."""
    arr = _numeric(image, name)
    if colour and (arr.ndim != 3 or arr.shape[0] != 3 or 0 in arr.shape):
        raise ValueError(f"{name} must be colour images (3, H, W), got shape {arr.shape}")
    if not colour and (arr.ndim != 2 or 0 in arr.shape):
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
    maps : array_like, shape (N, H, W) or (H, W); (N, 3, H, W) colour images
        Images (``uint8`` 0..255, float in [0, 1], bool) or signed heat maps.
        Colour images are drawn as they are (``cmap`` and ``vmax`` do not
        apply to them).
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
    frames : array_like, shape (T, H, W), or (T, 3, H, W) for colour
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
    """(N, H, W) maps, or (N, 3, H, W) colour images."""
    arr = _numeric(maps, name)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim == 4 and arr.shape[1] == 1:
        arr = arr[:, 0]  # grey images with their one channel
    if arr.ndim == 4 and arr.shape[1] != 3:
        raise ValueError(f"{name}: colour images must have 3 channels (N, 3, H, W), got "
                         f"{arr.shape}")
    if arr.ndim not in (3, 4):
        raise ValueError(f"{name} must have shape (H, W) or (N, H, W), got {arr.shape} (colour "
                         "images: (N, 3, H, W))")
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
    if arr.ndim == 4:
        return "colour"
    if cmap == "auto":
        return "diverging" if arr.min() < 0 else "gray"
    return cmap


def _colourise(arr: np.ndarray, cmap: str, vmax, symmetric: bool) -> np.ndarray:
    """Map ``arr`` (N, H, W) to RGB ``uint8`` (N, H, W, 3); colour images
    (N, 3, H, W) are drawn as they are."""
    if arr.ndim == 4:
        if not len(arr):  # none (a gallery of no mistakes)
            return np.zeros((0, *arr.shape[2:], 3), np.uint8)
        return np.stack([_as_uint8(c, "images", colour=True) for c in arr]).transpose(0, 2, 3, 1)
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


def signed_colour(images, *, each: bool = False) -> np.ndarray:
    """Signed colour images (N, 3, H, W) -- filters, principal components,
    changes -- as colour images in [0, 1] to draw: grey 0.5 is zero, each
    channel brighter where it is positive. One scale for all (the largest
    magnitude maps to 0 or 1), or with ``each`` one per image."""
    x = np.asarray(images, dtype=np.float64)
    axes = tuple(range(1, x.ndim)) if each else None
    top = np.maximum(np.abs(x).max(axis=axes, keepdims=each), 1e-12)
    return np.clip(0.5 + x / (2 * top), 0.0, 1.0)


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


def __getattr__(name):
    # netdream.images.load_image moved to netdream.photo in 0.2
    if name == "load_image":
        warnings.warn("netdream.images.load_image is deprecated; use netdream.photo.load_image",
                      DeprecationWarning, stacklevel=2)
        from .photo import load_image
        return load_image
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
