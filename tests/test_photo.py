"""netdream.photo: reading photos and scans of digits the way MNIST was made."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from netdream.photo import load_image

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"

# A "7"-like polyline in a 100x100 frame.
SEVEN = [(25, 20), (75, 20), (45, 85)]


def stroke_image(size=(100, 100), points=SEVEN, *, ink=0, paper=255, width=8, mode="L"):
    im = Image.new(mode, size, paper)
    ImageDraw.Draw(im).line(points, fill=ink, width=width, joint="curve")
    return im


def save(im, path):
    im.save(path)
    return path


def centre_of_mass(a):
    a = a.astype(np.float64)
    i = np.arange(a.shape[0])
    return (a.sum(axis=1) @ i) / a.sum(), (a.sum(axis=0) @ i) / a.sum()


def ink_box(a):
    rows = np.flatnonzero(a.any(axis=1))
    cols = np.flatnonzero(a.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def check_mnist_like(a):
    assert a.shape == (28, 28) and a.dtype == np.uint8
    assert a.max() >= 250, "ink should be high"
    assert np.median(a) == 0 and a[0].max() == 0 and a[:, 0].max() == 0, "background is 0"
    h, w = ink_box(a)
    assert 19 <= max(h, w) <= 21
    cy, cx = centre_of_mass(a)
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1, (cy, cx)


# --------------------------------------------------------------------------
# load_image
# --------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    pytest.param(lambda: stroke_image(), id="dark-on-light"),
    pytest.param(lambda: stroke_image(ink=255, paper=0), id="light-on-dark"),
    pytest.param(lambda: stroke_image(size=(200, 100), points=[(20, 50), (180, 30)], width=6),
                 id="wide-200x100"),
    pytest.param(lambda: stroke_image(size=(60, 300), points=[(30, 20), (28, 280)], width=7),
                 id="tall-thin"),
    pytest.param(lambda: stroke_image(size=(300, 300), points=[(220, 230), (280, 240), (250, 290)]),
                 id="off-centre"),
    pytest.param(lambda: stroke_image(size=(12, 12), points=[(3, 2), (8, 2), (5, 10)], width=2),
                 id="tiny-12x12"),
    pytest.param(lambda: stroke_image(mode="RGB", ink=(20, 20, 160), paper=(250, 245, 230)),
                 id="blue-pen-on-cream"),
])
def test_load_image_prepares_like_mnist(tmp_path, make):
    check_mnist_like(load_image(save(make(), tmp_path / "digit.png")))


def test_load_image_both_polarities_agree(tmp_path):
    dark = load_image(save(stroke_image(), tmp_path / "dark.png"))
    light = load_image(save(stroke_image(ink=255, paper=0), tmp_path / "light.png"))
    assert np.abs(dark.astype(int) - light.astype(int)).max() <= 1


def test_load_image_invert_can_be_forced(tmp_path):
    path = save(stroke_image(), tmp_path / "dark.png")
    np.testing.assert_array_equal(load_image(path, invert=True), load_image(path))
    np.testing.assert_array_equal(load_image(path, invert=np.True_), load_image(path))
    with pytest.raises(ValueError, match="no ink found"):  # paper taken as ink: all "ink"
        load_image(path, invert=False)


@pytest.mark.parametrize("ink", [(0, 0, 0, 255), (255, 255, 255, 255)], ids=["black", "white"])
def test_load_image_transparent_background(tmp_path, ink):
    im = stroke_image(mode="RGBA", ink=ink, paper=(0, 0, 0, 0))
    expected = load_image(save(stroke_image(), tmp_path / "plain.png"))
    got = load_image(save(im, tmp_path / "rgba.png"))
    check_mnist_like(got)
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def test_load_image_greyscale_with_alpha_and_16_bit(tmp_path):
    la = stroke_image(mode="LA", ink=(0, 255), paper=(255, 0))
    check_mnist_like(load_image(save(la, tmp_path / "la.png")))
    deep = Image.fromarray(np.asarray(stroke_image(), dtype=np.uint16) * 257)
    assert deep.mode.startswith("I")
    expected = load_image(save(stroke_image(), tmp_path / "plain.png"))
    got = load_image(save(deep, tmp_path / "deep.png"))
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def test_load_image_noisy_paper_and_jpeg(tmp_path):
    rng = np.random.default_rng(1)
    paper = np.asarray(stroke_image(ink=60, paper=200), dtype=np.float64)
    noisy = np.clip(paper + rng.normal(0, 6, paper.shape), 0, 255).astype(np.uint8)
    check_mnist_like(load_image(save(Image.fromarray(noisy), tmp_path / "noisy.png")))
    check_mnist_like(load_image(save(stroke_image(), tmp_path / "photo.jpg")))


@pytest.mark.skipif(not (DATA / "t10k-images-idx3-ubyte.gz").is_file(),
                    reason=f"MNIST test images not found in {DATA}")
def test_load_image_reproduces_mnist_digits(tmp_path):
    """An MNIST digit blown up 10x as dark ink on white comes back nearly as it was.

    Up to a one-pixel shift: a centre of mass near a half pixel may round
    either way after the round trip.
    """
    from netdream.datasets import read_idx

    digits = read_idx(DATA / "t10k-images-idx3-ubyte.gz")[:20].astype(np.float64)
    for k, digit in enumerate(digits):
        big = Image.fromarray(255 - digit.astype(np.uint8)).resize((280, 280),
                                                                   Image.Resampling.BICUBIC)
        got = load_image(save(big, tmp_path / f"{k}.png")).astype(np.float64)
        check_mnist_like(got.astype(np.uint8))
        corr = max(np.corrcoef(np.roll(got, (dy, dx), axis=(0, 1)).ravel(), digit.ravel())[0, 1]
                   for dy in (-1, 0, 1) for dx in (-1, 0, 1))
        assert corr > 0.9, (k, corr)


def test_load_image_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_image(tmp_path / "nope.png")


def test_load_image_garbage(tmp_path):
    path = tmp_path / "garbage.png"
    path.write_bytes(b"this is not an image at all" * 10)
    with pytest.raises(ValueError, match=r"garbage\.png: not a readable image"):
        load_image(path)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_load_image_truncated_png(tmp_path, fraction):
    rng = np.random.default_rng(0)
    full = save(Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8)), tmp_path / "f.png")
    data = full.read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(ValueError, match=r"cut\.png: not a readable image"):
        load_image(cut)


def test_load_image_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="not a readable image"):
        load_image(path)


@pytest.mark.parametrize("paper", [0, 255, 128])
def test_load_image_blank(tmp_path, paper):
    path = save(Image.new("L", (50, 40), paper), tmp_path / "blank.png")
    with pytest.raises(ValueError, match=r"blank\.png: no ink found"):
        load_image(path)


@pytest.mark.parametrize("invert", ["yes", None, 1])
def test_load_image_rejects_bad_invert(tmp_path, invert):
    path = save(stroke_image(), tmp_path / "dark.png")
    with pytest.raises(ValueError, match="invert must be 'auto', True or False"):
        load_image(path, invert=invert)




# --------------------------------------------------------------------------
# read_image: the same preparation for bytes held in memory
# --------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_read_image_matches_load_image(tmp_path, fmt):
    from netdream.photo import read_image
    path = tmp_path / f"digit.{fmt.lower()}"
    stroke_image().save(path, format=fmt)
    np.testing.assert_array_equal(read_image(path.read_bytes()), load_image(path))


def test_read_image_errors_name_the_image():
    from netdream.photo import read_image
    import io
    buf = io.BytesIO()
    Image.new("L", (50, 40), 0).save(buf, format="PNG")
    with pytest.raises(ValueError, match="drawing: no ink found"):
        read_image(buf.getvalue(), name="drawing")
    with pytest.raises(ValueError, match="drawing: not a readable image"):
        read_image(b"nonsense", name="drawing")
    with pytest.raises(ValueError, match=r"image: 50x40 pixels is more than the 1,000 accepted"):
        read_image(buf.getvalue(), max_pixels=1000)
    with pytest.raises(TypeError, match="image must be the bytes of an image file"):
        read_image("digit.png")
    with pytest.raises(ValueError, match="invert must be"):
        read_image(buf.getvalue(), invert="yes")
