"""netdream.images: drawing images, grids and GIFs with Pillow."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from netdream.images import grid_image, save_gif, save_grid, save_image, to_pil

# --------------------------------------------------------------------------
# to_pil / save_image
# --------------------------------------------------------------------------

def test_to_pil_and_save_image_round_trip(tmp_path):
    a = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    im = to_pil(a)
    assert im.mode == "L" and im.size == (28, 28)
    np.testing.assert_array_equal(np.asarray(to_pil(a / 255.0)), a)
    big = save_image(a, tmp_path / "a.png", scale=3)
    assert big.size == (84, 84)
    with Image.open(tmp_path / "a.png") as back:
        np.testing.assert_array_equal(np.asarray(back)[::3, ::3], a)


@pytest.mark.parametrize("image, scale, error, match", [
    (np.zeros((1, 28, 28)), 1, ValueError,
     r"one non-empty 2-D image \(H, W\), got shape \(1, 28, 28\)"),
    (np.full((28, 28), 1.5), 1, ValueError, r"float pixels must lie in \[0, 1\]"),
    (np.full((28, 28), 300), 1, ValueError, "integer pixels must lie in 0..255"),
    (np.full((28, 28), np.nan), 1, ValueError, "NaN or infinite"),
    (np.full((28, 28), "a"), 1, TypeError, "must hold numbers"),
    (np.zeros((28, 28)), 0, ValueError, "scale must be a positive integer"),
    (np.zeros((28, 28)), 2.5, TypeError, "scale must be a positive integer"),
])
def test_to_pil_rejects_bad_input(image, scale, error, match):
    with pytest.raises(error, match=match):
        to_pil(image, scale)


# --------------------------------------------------------------------------
# grid_image / save_grid
# --------------------------------------------------------------------------

def cell_centre(im, index, *, ncols, cell=28 * 4, pad=4, top=0):
    """Colour at the centre of cell ``index`` (no labels, so columns are cell wide)."""
    x = pad + (index % ncols) * (cell + pad) + cell // 2
    y = pad + (index // ncols) * (cell + pad + top) + top + cell // 2
    return im.getpixel((x, y))


def test_save_grid_writes_png_of_expected_size(tmp_path):
    maps = np.random.default_rng(0).random((12, 28, 28))
    im = save_grid(maps, tmp_path / "grid.png")
    assert im.size == (10 * (112 + 4) + 4, 2 * (112 + 4) + 4)  # 10 columns by default
    with Image.open(tmp_path / "grid.png") as back:
        assert back.format == "PNG" and back.size == im.size
    im3 = grid_image(maps, ncols=3, scale=2)
    assert im3.size == (3 * (56 + 4) + 4, 4 * (56 + 4) + 4)


def test_save_grid_labels_and_titles_add_rows(tmp_path):
    maps = np.zeros((10, 28, 28), np.uint8)
    plain = grid_image(maps)
    labelled = save_grid(maps, tmp_path / "l.png", labels=[f"{d}: 99.9%" for d in range(10)])
    both = grid_image(maps, labels=range(10), titles=[f"#{d}" for d in range(10)])
    assert labelled.width == plain.width and labelled.height > plain.height
    assert both.height > labelled.height
    # Text is drawn in black under the cells.
    strip = np.asarray(labelled)[plain.height - 4:, :, :]
    assert strip.min() < 100


def test_grid_text_wider_than_cell_widens_columns():
    maps = np.zeros((2, 28, 28), np.uint8)
    narrow = grid_image(maps, scale=1)
    wide = grid_image(maps, scale=1, labels=["a rather long label here", "b"])
    assert wide.width > narrow.width


def test_diverging_colours():
    maps = np.stack([np.full((28, 28), 0.8), np.full((28, 28), -0.3), np.zeros((28, 28))])
    maps[0, 0, 0] = 1.0  # own max |value| per map: the flat parts are not the extreme ones
    maps[1, 0, 0] = -1.0
    im = grid_image(maps)  # auto: negative values -> diverging
    r, g, b = cell_centre(im, 0, ncols=3)
    assert r > 150 and r > g + 60 and r > b + 60, (r, g, b)  # reddish
    r, g, b = cell_centre(im, 1, ncols=3)
    assert b > r + 30 and b > 150, (r, g, b)  # bluish
    assert cell_centre(im, 2, ncols=3) == (255, 255, 255)  # zero is white


def test_diverging_scaling_options():
    maps = np.stack([np.full((28, 28), 0.5), np.full((28, 28), -1.0)])
    darkest_red, darkest_blue = (103, 0, 31), (5, 48, 97)
    own = grid_image(maps, cmap="diverging")
    assert cell_centre(own, 0, ncols=2) == darkest_red  # each map by its own max |value|
    assert cell_centre(own, 1, ncols=2) == darkest_blue
    shared = grid_image(maps, vmax="shared")
    assert cell_centre(shared, 0, ncols=2) != darkest_red  # 0.5 of the shared limit 1.0
    assert cell_centre(shared, 0, ncols=2) == cell_centre(grid_image(maps, vmax=1.0), 0, ncols=2)
    one = np.stack([np.full((28, 28), 0.5), np.full((28, 28), -1.0)]).reshape(1, 56, 28)
    asym = grid_image(one, symmetric=False)
    assert asym.getpixel((4 + 56, 4 + 14 * 4)) == darkest_red
    sym = grid_image(one)
    assert sym.getpixel((4 + 56, 4 + 14 * 4)) != darkest_red


def test_gray_maps_are_white_ink_on_black():
    img = np.zeros((28, 28), np.uint8)
    img[10:18, 10:18] = 255
    im = grid_image(img)  # a single 2-D map is a grid of one
    assert im.size == (112 + 8, 112 + 8)
    assert im.getpixel((4 + 56, 4 + 56)) == (255, 255, 255)
    assert im.getpixel((4 + 8, 4 + 8)) == (0, 0, 0)
    floats = grid_image(img / 255.0, cmap="gray")
    assert np.array_equal(np.asarray(floats), np.asarray(im))
    stretched = grid_image(img.astype(float) * 7 + 3)  # outside [0, 1]: min..max
    assert np.array_equal(np.asarray(stretched), np.asarray(im))


@pytest.mark.parametrize("maps, kwargs, error, match", [
    (np.zeros(28), {}, ValueError, r"maps must have shape \(H, W\) or \(N, H, W\), got \(28,\)"),
    (np.zeros((2, 2, 28, 28)), {}, ValueError, r"got \(2, 2, 28, 28\)"),
    (np.zeros((0, 28, 28)), {}, ValueError, "maps is empty"),
    (np.full((2, 28, 28), np.nan), {}, ValueError, "NaN or infinite"),
    (np.array([[[np.inf]]]), {}, ValueError, "NaN or infinite"),
    (np.zeros((2, 28, 28)), {"labels": ["a"]}, ValueError, "labels has 1 entries but there are 2"),
    (np.zeros((2, 28, 28)), {"titles": ["a", "b", "c"]}, ValueError, "titles has 3 entries"),
    (np.zeros((2, 28, 28)), {"labels": "ab"}, TypeError, "not a single string"),
    (np.zeros((2, 28, 28)), {"cmap": "viridis"}, ValueError, "cmap must be"),
    (np.zeros((2, 28, 28)), {"vmax": 0}, ValueError, "vmax must be a positive number"),
    (np.zeros((2, 28, 28)), {"vmax": "max"}, ValueError, "vmax must be a positive number"),
    (np.zeros((2, 28, 28)), {"ncols": 0}, ValueError, "ncols must be a positive integer"),
    (np.zeros((2, 28, 28)), {"scale": -1}, ValueError, "scale must be a positive integer"),
    (np.array([[["x"]]]), {}, TypeError, "maps must hold numbers"),
])
def test_grid_image_rejects_bad_input(maps, kwargs, error, match):
    with pytest.raises(error, match=match):
        grid_image(maps, **kwargs)


# --------------------------------------------------------------------------
# save_gif
# --------------------------------------------------------------------------

def test_save_gif(tmp_path):
    frames = np.linspace(0.0, 1.0, 5)[:, None, None] * np.ones((5, 28, 28))
    labels = [f"step {i}" for i in range(4)] + ["step 4: a much longer label"]
    out = save_gif(frames, tmp_path / "anim.gif", duration=50, scale=2, labels=labels)
    assert len(out) == 5 and len({im.size for im in out}) == 1
    with Image.open(tmp_path / "anim.gif") as back:
        assert back.format == "GIF" and back.n_frames == 5 and back.size == out[0].size
        back.seek(4)
        assert back.convert("L").getpixel((4 + 28, 4 + 28)) == 255  # last frame: white


def test_save_gif_signed_frames_share_one_scale(tmp_path):
    frames = np.stack([np.full((28, 28), v) for v in (-2.0, -1.0, 0.0, 1.0, 2.0)])
    out = save_gif(frames, tmp_path / "heat.gif")
    colours = [im.getpixel((4 + 56, 4 + 56)) for im in out]
    assert colours[0] == (5, 48, 97) and colours[4] == (103, 0, 31)
    assert colours[2] == (255, 255, 255)
    assert colours[1] != colours[0] and colours[3] != colours[4]


@pytest.mark.parametrize("kwargs, match", [
    ({"labels": ["a"]}, "labels has 1 entries but there are 3"),
    ({"duration": 0}, "duration must be positive"),
    ({"duration": [10, 20]}, "duration has 2 entries but there are 3 frames"),
])
def test_save_gif_rejects_bad_input(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        save_gif(np.zeros((3, 28, 28)), tmp_path / "x.gif", **kwargs)
    assert not (tmp_path / "x.gif").exists()


def test_reversed_diverging_map_is_blue_for_positive():
    from netdream.images import grid_image
    maps = np.zeros((1, 3, 3))
    maps[0, 0, 0], maps[0, 2, 2] = 1.0, -1.0
    im = np.asarray(grid_image(maps, cmap="diverging_r", scale=1).convert("RGB")).astype(int)
    flat = im.reshape(-1, 3)
    bluish = (flat[:, 2] - flat[:, 0] > 50).any()
    reddish = (flat[:, 0] - flat[:, 2] > 50).any()
    assert bluish and reddish
    ref = np.asarray(grid_image(maps, cmap="diverging", scale=1).convert("RGB")).astype(int)
    assert not np.array_equal(im, ref)
