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


@pytest.mark.parametrize("paper_alpha", [255, 254], ids=["opaque", "nearly-opaque"])
def test_load_image_rgba_like_its_rgb(tmp_path, paper_alpha):
    """A canvas from the live page is RGBA but opaque: it reads as its RGB
    picture (light strokes on black: no compositing onto white), and paper
    that is barely transparent still goes through the compositing to the
    same digit."""
    rgb = stroke_image(mode="RGB", ink=(250, 250, 250), paper=(0, 0, 0))
    rgba = stroke_image(mode="RGBA", ink=(250, 250, 250, 255), paper=(0, 0, 0, paper_alpha))
    expected = load_image(save(rgb, tmp_path / "rgb.png"))
    got = load_image(save(rgba, tmp_path / "rgba.png"))
    check_mnist_like(got)
    if paper_alpha == 255:
        np.testing.assert_array_equal(got, expected)
    else:
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


@pytest.mark.parametrize("fmt", ["SGI", "TGA", "PCX", "ICO"])
def test_load_image_reads_only_camera_and_scanner_formats(tmp_path, fmt):
    """Pillow's many other decoders are never reached by a file of unknown origin."""
    path = tmp_path / "digit.img"
    stroke_image().save(path, fmt)
    with pytest.raises(ValueError, match=r"digit\.img: not a readable image \(not PNG, JPEG, "
                                         r"GIF, BMP, TIFF, WEBP, PPM or AVIF\)"):
        load_image(path)


def test_load_image_never_runs_ghostscript(tmp_path):
    path = tmp_path / "digit.eps"
    path.write_text("%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n"
                    "newpath 10 10 moveto 90 90 lineto stroke showpage\n")
    with pytest.raises(ValueError, match=r"digit\.eps: not a readable image \(not PNG"):
        load_image(path)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "PPM"])
def test_load_image_reads_its_formats_whatever_the_name(tmp_path, fmt):
    path = tmp_path / "digit.dat"
    stroke_image().save(path, fmt)
    check_mnist_like(load_image(path))


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
# decompression bombs: refused from the header, before decoding
# --------------------------------------------------------------------------

def png_bomb(path, width, height):
    """A valid 1-bit PNG of ``width`` x ``height`` blank pixels, compressed
    row by row: some kilobytes on disk, ``width * height`` pixels decoded."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    c = zlib.compressobj(9)
    row = bytes(1 + (width + 7) // 8)  # filter byte 0, then the packed bits
    idat = b"".join(c.compress(row) for _ in range(height)) + c.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) +
                     chunk(b"IEND", b""))
    return path


def test_load_image_refuses_too_many_pixels_before_decoding(tmp_path):
    path = png_bomb(tmp_path / "bomb.png", 9000, 9000)  # 81 Mpx, under Pillow's own limits
    assert path.stat().st_size < 50_000
    with pytest.raises(ValueError, match=r"bomb\.png: the image is 9000 x 9000 = 81,000,000 "
                                         r"pixels, more than the 50,000,000 load_image reads "
                                         r"\(max_pixels\)"):
        load_image(path)
    small = save(stroke_image(), tmp_path / "small.png")
    with pytest.raises(ValueError, match=r"small\.png: the image is 100 x 100 = 10,000 pixels, "
                                         r"more than the 9,999"):
        load_image(small, max_pixels=9_999)
    check_mnist_like(load_image(small, max_pixels=10_000))


def test_load_image_bomb_takes_no_memory(tmp_path):
    """Run in a fresh interpreter to measure its peak memory: the old reader
    decoded the 81 Mpx bomb (GBs of float64 copies) before anything else."""
    import subprocess
    import sys
    path = png_bomb(tmp_path / "bomb.png", 9000, 9000)
    script = ("import resource\nfrom netdream.photo import load_image\n"
              "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
              f"try:\n    load_image({str(path)!r})\nexcept ValueError:\n    pass\n"
              "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, check=True)
    assert float(out.stdout.split()[-1]) < 16


def test_load_image_beyond_pillows_limit(tmp_path):
    """Over twice Image.MAX_IMAGE_PIXELS Pillow refuses in Image.open."""
    path = png_bomb(tmp_path / "huge.png", 20000, 20000)
    with pytest.raises(ValueError, match=r"huge\.png: the image is too large to read "
                                         r"\(Image size \(400000000 pixels\) exceeds limit"):
        load_image(path, max_pixels=10**9)


@pytest.mark.parametrize("max_pixels, error, match", [
    (0, ValueError, "max_pixels must be >= 1"),
    (1e6, TypeError, "max_pixels must be an integer"),
])
def test_load_image_checks_max_pixels(tmp_path, max_pixels, error, match):
    with pytest.raises(error, match=match):
        load_image(save(stroke_image(), tmp_path / "d.png"), max_pixels=max_pixels)


def test_load_image_large_photo_is_shrunk_as_read(tmp_path):
    """A 3000 x 3000 picture is read at a quarter of that (whole-pixel averages)."""
    big = stroke_image(size=(3000, 3000), points=[(750, 600), (2250, 600), (1350, 2550)],
                       width=200)
    got = load_image(save(big, tmp_path / "big.png"))
    check_mnist_like(got)
    small = load_image(save(stroke_image(), tmp_path / "small.png"))
    assert np.corrcoef(got.ravel(), small.ravel())[0, 1] > 0.9


# --------------------------------------------------------------------------
# uneven light: paper shaded from one side to the other
# --------------------------------------------------------------------------

def shaded_photo(digit, lo=170, hi=200, axis=1, ink=40, noise=3.0, seed=0, size=280):
    """An MNIST digit as dark ink on paper whose grey goes from ``lo`` to
    ``hi`` along ``axis`` (1: left to right), as a phone photo of a drawing."""
    rng = np.random.default_rng(seed)
    big = np.asarray(Image.fromarray(digit).resize((size, size), Image.Resampling.BICUBIC),
                     dtype=np.float64) / 255.0
    ramp = np.linspace(lo, hi, size)
    paper = np.broadcast_to(ramp[None, :] if axis == 1 else ramp[:, None], (size, size))
    grey = paper * (1.0 - big) + ink * big + rng.normal(0.0, noise, big.shape)
    return Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8))


@pytest.mark.parametrize("paper", [(170, 200, 1), (200, 170, 1), (170, 200, 0), (120, 220, 1)],
                         ids=["dark-left", "dark-right", "dark-top", "steep"])
def test_load_image_levels_uneven_light(tmp_path, paper):
    """No part of the shaded paper becomes ink: the digit comes back as it was."""
    lo, hi, axis = paper
    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 12:16] = 255  # a "1"
    got = load_image(save(shaded_photo(digit, lo, hi, axis), tmp_path / "shaded.png"))
    check_mnist_like(got)
    assert np.count_nonzero(got) < 0.3 * got.size
    h, w = ink_box(got)
    assert h == 20 and w <= 8, (h, w)  # a bar, not a bar on a dark half of the page


def test_load_image_blank_shaded_paper_has_no_ink(tmp_path):
    blank = shaded_photo(np.zeros((28, 28), np.uint8), 170, 200)
    with pytest.raises(ValueError, match=r"blank\.png: no ink found"):
        load_image(save(blank, tmp_path / "blank.png"))


@pytest.mark.skipif(not (DATA / "t10k-images-idx3-ubyte.gz").is_file(),
                    reason=f"MNIST test images not found in {DATA}")
@pytest.mark.parametrize("axis", [1, 0], ids=["left-to-right", "top-to-bottom"])
def test_shaded_photos_of_mnist_digits_are_read_right(tmp_path, axis):
    """Photos of real MNIST digits on paper shaded from 170 to 200 grey are
    classified as the digits themselves are (the shading once turned a 3
    into a 9): the first 30 test digits the shipped model reads right (the
    unlevelled reader got one of them wrong each time)."""
    import netdream
    from netdream.datasets import read_idx

    images = read_idx(DATA / "t10k-images-idx3-ubyte.gz")[:40]
    labels = read_idx(DATA / "t10k-labels-idx1-ubyte.gz")[:40]
    net = netdream.MLP.pretrained()
    right = np.flatnonzero(net.predict(images) == labels)[:30]
    photos = np.stack([load_image(save(shaded_photo(images[i], axis=axis, seed=int(i)),
                                       tmp_path / f"{i}.png")) for i in right])
    np.testing.assert_array_equal(net.predict(photos), labels[right])


@pytest.mark.skipif(not (DATA / "t10k-images-idx3-ubyte.gz").is_file(),
                    reason=f"MNIST test images not found in {DATA}")
def test_classify_reads_a_shaded_photo_of_a_three(tmp_path, capsys):
    from netdream.cli import main
    from netdream.datasets import read_idx

    images = read_idx(DATA / "t10k-images-idx3-ubyte.gz")[:100]
    labels = read_idx(DATA / "t10k-labels-idx1-ubyte.gz")[:100]
    # test image 44: read as 1 (27%) before the illumination was levelled
    path = save(shaded_photo(images[labels == 3][3]), tmp_path / "three.png")
    assert main(["classify", str(path)]) == 0
    assert capsys.readouterr().out.split(": ")[1].startswith("3 ")


@pytest.mark.parametrize("mode", ["1", "P", "LA", "I;16", "RGB"])
def test_load_image_shrinks_every_mode(tmp_path, mode):
    big = stroke_image(size=(2400, 2400), points=[(600, 480), (1800, 480), (1080, 2040)],
                       width=160)
    if mode == "I;16":
        im = Image.fromarray(np.asarray(big, dtype=np.uint16) * 257)
    else:
        im = big.convert(mode)
    check_mnist_like(load_image(save(im, tmp_path / "big.png")))


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
    with pytest.raises(ValueError, match=r"image: the image is 50 x 40 = 2,000 pixels, more than the 1,000"):
        read_image(buf.getvalue(), max_pixels=1000)
    with pytest.raises(TypeError, match="image must be the bytes of an image file"):
        read_image("digit.png")
    with pytest.raises(ValueError, match="invert must be"):
        read_image(buf.getvalue(), invert="yes")


def test_load_picture_reads_a_picture_as_it_is_at_a_models_size(tmp_path):
    """For colour models and other sizes: the picture resized, not prepared
    like MNIST; transparency on white; the same refusals as load_image."""
    from netdream.photo import load_picture
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[:, :30] = (200, 20, 20)   # red left half
    rgb[:, 30:] = (20, 20, 200)   # blue right half
    path = tmp_path / "halves.png"
    Image.fromarray(rgb).save(path)
    x = load_picture(path, (3, 20, 30))
    assert x.shape == (3, 20, 30) and x.dtype == np.uint8
    assert x[0, :, :10].min() > 180 and x[2, :, :10].max() < 40  # red on the left ...
    assert x[2, :, -10:].min() > 180 and x[0, :, -10:].max() < 40  # ... blue on the right
    grey = load_picture(path, (16, 16))
    assert grey.shape == (16, 16) and 40 < grey.mean() < 90  # not inverted, cropped or centred
    rgba = np.zeros((10, 10, 4), np.uint8)  # fully transparent: white
    Image.fromarray(rgba).save(tmp_path / "clear.png")
    assert load_picture(tmp_path / "clear.png", (3, 5, 5)).min() == 255
    with pytest.raises(ValueError, match=r"bomb\.png: the image is 9000 x 9000 = 81,000,000 "
                                         r"pixels, more than the 50,000,000"):
        load_picture(png_bomb(tmp_path / "bomb.png", 9000, 9000), (3, 32, 32))
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"junk\.png: not a readable image"):
        load_picture(tmp_path / "junk.png", (32, 32))
    with pytest.raises(ValueError, match=r"shape must be \(H, W\) or \(3, H, W\)"):
        load_picture(path, (4, 8, 8))
    # read_picture: the same for the bytes of a file held in memory
    from netdream.photo import read_picture
    np.testing.assert_array_equal(read_picture(path.read_bytes(), (3, 20, 30)), x)
    np.testing.assert_array_equal(read_picture(path.read_bytes(), (16, 16)), grey)
    with pytest.raises(ValueError, match=r"upload: the image is 9000 x 9000"):
        read_picture((tmp_path / "bomb.png").read_bytes(), (32, 32), name="upload")
    with pytest.raises(ValueError, match=r"upload: not a readable image"):
        read_picture(b"not an image", (32, 32), name="upload")
    with pytest.raises(TypeError, match=r"upload must be the bytes of an image file, got str"):
        read_picture("clear.png", (32, 32), name="upload")
    with pytest.raises(ValueError, match=r"shape must be \(H, W\) or \(3, H, W\)"):
        read_picture(path.read_bytes(), (0, 8))
