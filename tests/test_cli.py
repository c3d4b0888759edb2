"""The netdream command line."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import netdream
from netdream import MLP
from netdream.cli import build_parser, main
from netdream.cli.train import cmd_train
from netdream.images import save_image

from conftest import (MNIST, NETJS, bars, needs_mnist, needs_netjs, random_mlp, stuck_at_blank_mlp,
                      write_idx)


@needs_mnist
@needs_netjs
def test_eval_prints_the_published_accuracy(capsys):
    assert main(["eval", "--model", str(NETJS), "--data", str(MNIST)]) == 0
    assert capsys.readouterr().out.strip() == "accuracy: 9808/10000 (98.08%)"


@needs_mnist
def test_eval_default_model_and_confusion(capsys):
    assert main(["eval", "--data", str(MNIST), "--confusion"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("accuracy: ") and "true\\pred" in out


def test_causal_writes_a_grid(tmp_path, capsys):
    out = tmp_path / "causal.png"
    assert main(["causal", "-o", str(out)]) == 0
    with Image.open(out) as im:
        assert im.width > 100 and im.height > 50
    assert main(["causal", "--garson", "-o", str(tmp_path / "g.png")]) == 0


@pytest.mark.parametrize("variant", [[], ["classic"]])
def test_garson_picture_is_not_black(tmp_path, capsys, variant):
    """Garson shares are at most a few thousandths: each map must be drawn
    scaled to its own range, not as absolute grey (which is all black)."""
    out = tmp_path / "g.png"
    assert main(["causal", "--garson", *variant, "-o", str(out)]) == 0
    with Image.open(out) as im:
        rgb = np.asarray(im.convert("L"), dtype=np.float64)
    # the cells (framed, on white): their brightest pixels are near white
    # and they hold a range of greys, not one flat black
    cells = rgb[rgb < 250]
    assert cells.size > 1000
    assert np.percentile(cells, 99) > 200 and cells.std() > 30


def test_dream_with_average_and_gif(tmp_path, capsys):
    args = ["dream", "3", "--runs", "4", "--steps", "2000", "--no-progress",
            "-o", str(tmp_path / "d.png"), "--average", str(tmp_path / "a.png"),
            "--gif", str(tmp_path / "g.gif"), "--frames", "5"]
    assert main(args) == 0
    assert "dreamt 4 x 3" in capsys.readouterr().out
    with Image.open(tmp_path / "g.gif") as gif:
        assert gif.n_frames == 6


def test_dream_all_draws_a_row_per_class(tmp_path, capsys):
    """``dream all``: every class's dreams, a row each in class order, the
    same dreams as the Python API's for each class (and as ``dream K``
    alone), labelled with the class; and a row of averages."""
    from netdream.cli._common import percent
    from netdream.images import grid_image
    net = netdream.pretrained("mlp")
    assert main(["dream", "all", "--runs", "3", "--steps", "3000", "--no-progress", "--show", "20",
                 "-o", str(tmp_path / "all.png"), "--average", str(tmp_path / "avg.png")]) == 0
    out = capsys.readouterr().out
    assert [line.split(" (")[0] for line in out.splitlines()[:10]] == [
        f"dreamt 3 x {k}" for k in range(10)]
    assert "a row of 2 dreams per class" in out  # --show 20, shared by the 10 classes
    runs = [netdream.hill_climb(net, k, runs=3, steps=3000, seed=0, progress=False,
                                regularizer=netdream.regularizers.default()) for k in range(10)]
    assert all((r.images.reshape(3, -1) > 0).any(axis=1).all() for r in runs)
    expected = grid_image(np.concatenate([r.images[:2] for r in runs]), ncols=2, cmap="gray",
                          labels=[f"{k}: {percent(c)}" for k, r in enumerate(runs)
                                  for c in r.confidence[:2]])
    with Image.open(tmp_path / "all.png") as im:
        assert np.array_equal(np.asarray(im.convert("RGB")), np.asarray(expected.convert("RGB")))
    averages = grid_image(np.stack([r.average() for r in runs]), cmap="gray", scale=8,
                          labels=[f"{k}: average of 3" for k in range(10)])
    with Image.open(tmp_path / "avg.png") as im:
        assert np.array_equal(np.asarray(im.convert("RGB")), np.asarray(averages.convert("RGB")))
    # several classes by name or number; --gif wants one; 'all' goes alone
    assert main(["dream", "3", "8", "--runs", "1", "--steps", "100", "--no-progress",
                 "-o", str(tmp_path / "38.png")]) == 0
    assert "dreamt 1 x 3" in capsys.readouterr().out
    for args, message in [(["3", "8", "--gif", str(tmp_path / "g.gif")], "--gif needs a single class"),
                          (["3", "all"], "give 'all' alone")]:
        assert main(["dream", *args, "-o", str(tmp_path / "x.png")]) == 1
        assert message in capsys.readouterr().err


def test_evolve_and_ascend(tmp_path, capsys):
    assert main(["evolve", "all", "--steps", "20", "--no-progress",
                 "-o", str(tmp_path / "e.png")]) == 0
    assert main(["evolve", "5", "--steps", "10", "--runs", "2", "--no-progress",
                 "-o", str(tmp_path / "e5.png"), "--average", str(tmp_path / "a5.png")]) == 0
    assert main(["ascend", "4", "--runs", "2", "--steps", "50", "--no-progress",
                 "-o", str(tmp_path / "asc.png"), "--gif", str(tmp_path / "asc.gif")]) == 0
    assert (tmp_path / "asc.gif").is_file()


def test_transfer_says_how_many_fool_the_other_model(tmp_path, capsys):
    """--transfer MODEL: the count printed is transfer()'s on the same images."""
    from netdream.gradient import gradient_ascent, transfer
    assert main(["ascend", "4", "--runs", "3", "--steps", "30", "--no-progress",
                 "--transfer", "cnn", "-o", str(tmp_path / "asc.png")]) == 0
    r = gradient_ascent(netdream.pretrained("mlp"), 4, runs=3, steps=30, step_size=0.1,
                        start="noise", progress=False)
    expected = transfer(netdream.pretrained("cnn"), r.images, 4)
    assert f"--transfer cnn: {expected}" in capsys.readouterr().out.splitlines()
    assert main(["evolve", "all", "--steps", "5", "--no-progress", "--transfer", "mlp-standard",
                 "-o", str(tmp_path / "e.png")]) == 0
    assert "/10 images still fool the other network" in capsys.readouterr().out
    assert main(["ascend", "4", "--transfer", "/nonexistent.npz", "-o", str(tmp_path / "a.png")]) == 1
    assert "--transfer: no model file at /nonexistent.npz" in capsys.readouterr().err


@needs_mnist
def test_classify_and_morph(tmp_path, capsys, mnist_test):
    images, labels = mnist_test
    path = tmp_path / "seven.png"
    save_image(255 - images[labels == 7][0], path, scale=5)  # dark ink on white, like a drawing
    assert main(["classify", str(path)]) == 0
    assert capsys.readouterr().out.split(": ")[1].startswith("7 ")
    assert main(["morph", str(path), "--to", "3", "--no-progress", "-o", str(tmp_path / "m.png"),
                 "--transfer", "mlp-standard"]) == 0
    out = capsys.readouterr().out
    assert "morphed" in out and "--transfer mlp-standard: " in out and "/1 images" in out


@pytest.mark.parametrize("args, message", [
    (["eval", "--model", "/nonexistent/model.npz"], "no model file"),
    (["dream", "12", "-o", "x.png"], "CLASS must be a class number 0..9 or name"),
    (["evolve", "seven", "-o", "x.png"], "CLASS must be a class number 0..9 or name (0, 1, 2"),
    (["classify", "/nonexistent.png"], "nonexistent"),
])
def test_errors_are_one_line(args, message, capsys):
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


def test_offline_eval_says_what_to_do(tmp_path, monkeypatch, capsys):
    """Without internet and without --data: what failed, and how to fix it
    in the command's own terms (--data DIR and the files it must hold)."""
    from netdream import datasets
    monkeypatch.setenv("NETDREAM_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets, "MIRRORS", ["http://127.0.0.1:9/mnist/"])  # nothing listens
    assert main(["eval"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "could not download" in err and "--data DIR" in err
    assert "t10k-images-idx3-ubyte.gz" in err and "t10k-labels-idx1-ubyte.gz" in err
    assert "download=True" not in err and "root=" not in err


def test_a_test_set_of_another_shape_is_named(tmp_path, capsys):
    """eval and report on a colour model with MNIST's test files: the
    mismatch in the command's terms, before any work."""
    from conftest import write_idx
    from netdream.layers import Conv2D, Dense, Flatten
    net = netdream.Network([Conv2D(np.ones((2, 3, 3, 3)), np.zeros(2)), Flatten(),
                            Dense(np.zeros((10, 2 * 6 * 6)), np.zeros(10))], image_shape=(3, 8, 8))
    net.save(tmp_path / "colour.npz")
    data = tmp_path / "data"
    data.mkdir()
    write_idx(data / "t10k-images-idx3-ubyte", np.zeros((4, 28, 28), np.uint8))
    write_idx(data / "t10k-labels-idx1-ubyte", np.arange(4, dtype=np.uint8))
    for cmd in (["eval"], ["report", "-o", str(tmp_path / "r.html"), "--no-progress"]):
        assert main(cmd + ["--model", str(tmp_path / "colour.npz"), "--data", str(data)]) == 1
        err = capsys.readouterr().err.strip()
        assert err.endswith(f"--data {data}: its images are 28x28; the model takes 3x8x8 images")
        assert "\n" not in err


def test_the_default_test_set_only_for_models_of_mnist_digits(tmp_path, monkeypatch, capsys):
    """Without --data, eval and report fall back to MNIST's test set only for
    a model of 28x28 grey digits: for one of other images, or of other
    classes, they say what --data must hold, before any download."""
    from netdream import datasets
    from netdream.layers import Conv2D, Dense, Flatten

    def no_download(*args, **kwargs):
        raise AssertionError("MNIST was fetched for a model it cannot test")
    monkeypatch.setattr(datasets, "load_mnist", no_download)
    colour = netdream.Network([Conv2D(np.ones((2, 3, 3, 3)), np.zeros(2)), Flatten(),
                               Dense(np.zeros((10, 2 * 6 * 6)), np.zeros(10))], image_shape=(3, 8, 8))
    colour.save(tmp_path / "colour.npz")
    rng = np.random.default_rng(0)
    fashion = random_mlp(rng, [784, 4, 3], ["relu"]).with_class_names("shirt,shoe,bag")
    fashion.save(tmp_path / "fashion.npz")
    for model, said in [("colour.npz", "the model takes 3x8x8 images, and MNIST's (the default "
                                       "test set) are 28x28 grey: give --data DIR"),
                        ("fashion.npz", "the model's classes are shirt, shoe, bag, not MNIST's "
                                        "digits (the default test set): give --data DIR")]:
        for cmd in (["eval"], ["report", "-o", str(tmp_path / "r.html"), "--no-progress"]):
            assert main(cmd + ["--model", str(tmp_path / model)]) == 1
            err = capsys.readouterr().err
            assert said in err and "t10k-images-idx3-ubyte.gz" in err and err.count("\n") == 1


def test_eval_and_report_on_a_colour_dataset_in_mnists_layout(tmp_path, capsys):
    """A colour test set in IDX files (N, 3, H, W), as MNIST's are laid out:
    eval's confusion matrix under the full class names, and the report."""
    from netdream.layers import Conv2D, Dense, Flatten, MaxPool2D
    rng = np.random.default_rng(3)
    names = ["crimson", "green", "blue"]
    net = netdream.Network([Conv2D(rng.normal(0, 0.5, (4, 3, 3, 3)), np.zeros(4), padding="same"),
                            MaxPool2D(2), Flatten(), Dense(rng.normal(0, 0.3, (3, 4 * 4 * 4)),
                                                           np.zeros(3))],
                           image_shape=(3, 8, 8), class_names=names)
    net.save(tmp_path / "colour.npz")
    y = (np.arange(12) % 3).astype(np.uint8)
    x = (rng.random((12, 3, 8, 8)) * 80).astype(np.uint8)
    x[np.arange(12), y] += 150
    data = tmp_path / "data"
    data.mkdir()
    write_idx(data / "t10k-images-idx3-ubyte", x)
    write_idx(data / "t10k-labels-idx1-ubyte", y)
    model = ["--model", str(tmp_path / "colour.npz"), "--data", str(data)]
    assert main(["eval", "--confusion"] + model) == 0
    out = capsys.readouterr().out.splitlines()
    result = netdream.evaluate(net, x, y)
    assert out[0] == str(result)
    assert out[1].split() == ["true\\pred"] + names  # whole names, not cut to five letters
    assert [int(v) for v in out[2].split()[1:]] == result.confusion[0].tolist()
    assert main(["report", "-o", str(tmp_path / "r.html"), "--dreams", "1", "--no-progress"]
                + model) == 0
    text = (tmp_path / "r.html").read_text()
    assert "crimson" in text and "12 test images" in text


def test_a_dream_that_gets_nowhere_from_blank_says_where_to_start(tmp_path, capsys):
    """Class "on" fires only past 50 pixels' worth of ink, so no one-pixel
    change of a blank image raises it: the dream says so and names the
    starts that do; from grey it gets there, and says nothing."""
    net = stuck_at_blank_mlp()
    net.save(tmp_path / "m.npz")
    args = ["dream", "on", "--model", str(tmp_path / "m.npz"), "--runs", "2", "--steps", "500",
            "-o", str(tmp_path / "d.png"), "--no-progress"]
    assert main(args) == 0
    p0 = net.predict_proba(np.zeros((28, 28)))[0]
    assert capsys.readouterr().err == (
        f"note: the dreams got nowhere from a blank image: on is {100 * p0:.2f}% there and at "
        f"most {100 * p0:.2f}% after 500 steps. Try --start grey or --start noise.\n")
    assert main(args + ["--start", "grey"]) == 0
    out, err = capsys.readouterr()
    assert "note" not in err and "max >99.99%" in out


def test_a_dream_of_what_the_model_reads_a_blank_image_as_says_why_it_stays_blank(tmp_path, capsys):
    """The shipped cnn reads a blank image as a 1 at 99.97%: its dreams of a
    1 have nothing to gain from ink, stay black, and say so (the same for
    "off" of the MLP stuck at blank, 95% off on a blank image); from grey
    they hold ink, and say nothing."""
    args = ["dream", "1", "--model", "cnn", "--runs", "2", "--steps", "3000", "--no-progress"]
    assert main(args + ["-o", str(tmp_path / "one.png")]) == 0
    err = capsys.readouterr().err
    assert err == ("note: the model reads a blank image as 1 already (99.97%), so the dreams of 1 "
                   "have little to gain from ink and stay (nearly) blank. Try --start grey or "
                   "--start noise to see what else it calls 1.\n")
    def first_tile(name):  # the middle of the first dream (112 x 112 pixels at the corner)
        return np.asarray(Image.open(tmp_path / name).convert("L"))[12:100, 12:100]
    assert first_tile("one.png").max() == 0  # black
    assert main(args + ["-o", str(tmp_path / "grey.png"), "--start", "grey"]) == 0
    assert capsys.readouterr().err == ""
    assert first_tile("grey.png").mean() > 20
    net = stuck_at_blank_mlp()
    net.save(tmp_path / "m.npz")
    p0 = net.predict_proba(np.zeros((28, 28)))[1]
    assert main(["dream", "off", "--model", str(tmp_path / "m.npz"), "--runs", "2", "--steps", "500",
                 "-o", str(tmp_path / "off.png"), "--no-progress"]) == 0
    assert capsys.readouterr().err == (
        f"note: the model reads a blank image as off already ({np.floor(p0 * 1e4) / 100:.2f}%), "
        "so the dreams of off have little to gain from ink and stay (nearly) blank. Try --start "
        "grey or --start noise to see what else it calls off.\n")


def test_commands_on_a_colour_model(tmp_path, capsys):
    """classify, morph, features and ascend on a colour model of another
    size: the picture is read in colour at the model's size (classify and
    morph used to prepare it as a 28x28 digit and fail; ascend failed on
    its start images), and the pictures written are in colour."""
    from netdream.layers import Conv2D, Dense, Flatten, MaxPool2D
    rng = np.random.default_rng(6)
    net = netdream.Network([Conv2D(rng.normal(0, 0.5, (4, 3, 3, 3)), np.zeros(4), padding="same"),
                            MaxPool2D(2), Flatten(), Dense(rng.normal(0, 0.3, (3, 4 * 6 * 8)),
                                                           np.zeros(3))],
                           image_shape=(3, 12, 16), class_names=["sky", "grass", "sand"])
    model = tmp_path / "colour.npz"
    net.save(model)
    picture = tmp_path / "photo.png"
    Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)).save(picture)
    assert main(["classify", str(picture), "--model", str(model)]) == 0
    out = capsys.readouterr().out
    from netdream.photo import load_picture
    p = net.predict_proba(load_picture(picture, (3, 12, 16)))
    assert out.startswith(f"{picture}: {net.class_names[int(p.argmax())]} ")
    assert f"sand:{100 * p[2]:.2f}%" in out
    assert main(["morph", str(picture), "--to", "sand", "--model", str(model), "--steps", "50",
                 "--confidence", "0.5", "-o", str(tmp_path / "m.png"), "--no-progress"]) in (0, 1)
    assert "morphed" in capsys.readouterr().out
    assert main(["features", str(picture), "--model", str(model), "-o", str(tmp_path / "f.png")]) == 0
    assert main(["ascend", "grass", "--model", str(model), "--steps", "20", "--start", "noise",
                 "-o", str(tmp_path / "a.png"), "--no-progress"]) == 0
    for name in ("m.png", "f.png", "a.png"):
        rgb = np.asarray(Image.open(tmp_path / name).convert("RGB")).astype(int)
        assert (np.abs(rgb[..., 0] - rgb[..., 1]) > 60).mean() > 0.05, name  # colour, not grey


def test_output_paths_are_checked_before_the_work(tmp_path, capsys):
    import time
    t0 = time.perf_counter()
    for args, message in [
        (["dream", "3", "--steps", "10000000", "-o", "/no/such/dir/x.png"], "does not exist"),
        (["dream", "3", "--steps", "10000000", "-o", str(tmp_path / "x")], "must end in .png"),
        (["dream", "3", "--steps", "10000000", "-o", str(tmp_path / "x.png"),
          "--gif", str(tmp_path / "g.png")], "--gif.*must end in .gif"),
        (["evolve", "3", "--steps", "100000", "-o", str(tmp_path / "nope" / "e.png")],
         "does not exist"),
        (["report", "-o", str(tmp_path / "r.txt")], "must end in .html"),
        (["train", "--data", str(tmp_path), "-o", str(tmp_path / "m.model")], "must end in .npz"),
    ]:
        assert main(args) == 1, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and __import__("re").search(message, err), (args, err)
    assert time.perf_counter() - t0 < 5


def test_too_many_runs_is_one_readable_line(capsys):
    assert main(["dream", "8", "--runs", "1000000000", "-o", "x.png", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "memory" in err and "lower" in err and "TiB" in err


@needs_netjs
def test_seed_recipe_saturation_is_explained(tmp_path, capsys):
    assert main(["dream", "8", "--recipe", "seed", "--model", str(NETJS), "--runs", "2",
                 "--no-progress", "-o", str(tmp_path / "d.png")]) == 0
    err = capsys.readouterr().err
    assert "saturates" in err and "--recipe seed" in err


def test_classify_goes_on_after_an_unreadable_file(tmp_path, capsys, default_net):
    good = tmp_path / "ok.png"
    save_image(np.pad(np.full((12, 3), 255, np.uint8), 8), good, scale=4)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image at all")
    assert main(["classify", str(bad), str(good), str(tmp_path / "missing.png")]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith(f"{good}: ")  # the good one was classified
    assert "bad.png" in captured.err and "missing.png" in captured.err
    assert "2 of 3 files could not be read" in captured.err


def test_every_option_has_help_text():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        for action in p._actions:
            if action.dest in ("help",) or action.help == "==SUPPRESS==":
                continue
            assert action.help, f"netdream {name} {'/'.join(action.option_strings) or action.dest}"


def test_confidence_is_written_one_way(tmp_path, capsys):
    from netdream.cli._common import percent
    assert percent(0.123456) == "12.34%" and percent(1.0) == ">99.99%"
    assert percent(0.99999) == "99.99%" and percent(0.0) == "0.00%"
    assert main(["dream", "0", "--runs", "2", "--steps", "3000", "--no-progress",
                 "-o", str(tmp_path / "d.png")]) == 0
    out = capsys.readouterr().out
    assert __import__("re").search(r"min \d+\.\d\d%, median", out) or ">99.99%" in out


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "netdream", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for command in ("eval", "causal", "classify", "dream", "evolve", "ascend", "morph", "train"):
        assert command in out


# ------------------------------------------------------------------ train
def _parse(argv):
    return build_parser().parse_args(["train", *argv])


@pytest.mark.parametrize("train_name", ["train10k", "train"])
def test_cli_run_trains_evaluates_and_saves(tmp_path, capsys, train_name):
    x, y = bars(300)
    xt, yt = bars(100, seed=1)
    write_idx(tmp_path / f"{train_name}-images-idx3-ubyte.gz", x)
    write_idx(tmp_path / f"{train_name}-labels-idx1-ubyte.gz", y)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", xt)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", yt)
    out = tmp_path / "m.npz"
    args = _parse(["--data", str(tmp_path), "-o", str(out), "--hidden", "16", "--epochs", "3",
                   "--augment", "1", "--learning-rate", "0.003", "--no-progress"])
    assert cmd_train(args) == 0
    stdout = capsys.readouterr().out
    net = MLP.load(out)
    res = netdream.evaluate(net, xt, yt)
    assert f"test accuracy: {res.correct}/100 ({100 * res.accuracy:.2f}%)" in stdout
    meta = net.metadata
    assert meta["test_accuracy"]["correct"] == res.correct
    assert meta["command"].startswith(f"netdream train --data {tmp_path} -o {out} --hidden 16 ")
    assert "--epochs 3" in meta["command"] and "--seed 0" in meta["command"]
    assert meta["training"]["augment"] == 1 and meta["training_data"].startswith("MNIST")


def _write_train_and_test(folder, x, y):
    """x, y as train10k-* files and their first 50 as the test set, in MNIST's layout."""
    for name, arr in [("train10k-images-idx3-ubyte.gz", x), ("train10k-labels-idx1-ubyte.gz", y),
                      ("t10k-images-idx3-ubyte.gz", x[:50]), ("t10k-labels-idx1-ubyte.gz", y[:50])]:
        write_idx(folder / name, arr)


def test_cli_mlp_training_on_other_images_points_to_the_cnn(tmp_path, capsys):
    """The MLP trains on 28x28 grey images: a set of 32x32 ones (or colour)
    gets one line saying so, and that --arch cnn takes them."""
    x = np.zeros((20, 32, 32), np.uint8)
    _write_train_and_test(tmp_path, x, np.arange(20, dtype=np.uint8) % 2)
    args = _parse(["--data", str(tmp_path), "-o", str(tmp_path / "m.npz"), "--no-progress"])
    assert cmd_train(args) == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err == (f"netdream train: the training images in {tmp_path} are 32x32; the MLP trains "
                   "on 28x28 grey ones: use --arch cnn for images of another size or in colour")


def test_cli_float16_storage_scores_what_is_stored(tmp_path, capsys):
    x, y = bars(200)
    _write_train_and_test(tmp_path, x, y)
    out = tmp_path / "m.npz"
    args = _parse(["--data", str(tmp_path), "-o", str(out), "--hidden", "8", "--epochs", "1",
                   "--augment", "0", "--storage-dtype", "float16", "--no-progress"])
    assert cmd_train(args) == 0
    net = MLP.load(out)
    assert net.metadata["storage_dtype"] == "float16"
    assert net.metadata["test_accuracy"]["correct"] == netdream.evaluate(net, x[:50], y[:50]).correct


def test_cli_calibrate_and_adversarial(tmp_path, capsys):
    """--calibrate fits a temperature on held-out images and divides the
    logits by it; --adversarial trains the MLP with PyTorch."""
    x, y = bars(300)
    _write_train_and_test(tmp_path, x, y)
    out = tmp_path / "m.npz"
    args = _parse(["--data", str(tmp_path), "-o", str(out), "--hidden", "8", "--epochs", "2",
                   "--augment", "0", "--calibrate", "0.2", "--no-progress"])
    assert cmd_train(args) == 0
    err = capsys.readouterr().err
    net = MLP.load(out)
    t = net.metadata["temperature"]
    assert f"temperature {t:g}" in err and "the other 60" in err
    assert "--calibrate 0.2" in net.metadata["command"]
    assert net.metadata["calibration"].startswith(f"logits divided by T = {t:g}")
    args = _parse(["--data", str(tmp_path), "-o", str(out), "--calibrate", "0.7", "--no-progress"])
    assert cmd_train(args) == 2
    assert "--calibrate must lie in (0, 0.5)" in capsys.readouterr().err
    pytest.importorskip("torch", reason="--adversarial trains with PyTorch")
    args = _parse(["--data", str(tmp_path), "-o", str(out), "--hidden", "8", "--epochs", "1",
                   "--adversarial", "1.0", "--no-progress"])
    assert cmd_train(args) == 0
    net = MLP.load(out)
    assert "L2 PGD, radius 1" in net.metadata["training"]["adversarial"]
    assert "--adversarial 1.0" in net.metadata["command"]


def test_a_model_trained_with_class_names_shows_them_everywhere(tmp_path, capsys):
    """netdream train --classes on another dataset in MNIST's IDX layout:
    eval, dream and the report show the names; neither the report nor the
    commands call the data MNIST or digits; the report uses the full train-*
    files (not a 10k subset), and without training images its captions stay
    grammatical."""
    import re
    x, y = bars(300)
    for name, arr in [("train-images-idx3-ubyte.gz", x), ("train-labels-idx1-ubyte.gz", y),
                      ("train10k-images-idx3-ubyte.gz", x[:120]),
                      ("train10k-labels-idx1-ubyte.gz", y[:120]),
                      ("t10k-images-idx3-ubyte.gz", x[:60]), ("t10k-labels-idx1-ubyte.gz", y[:60])]:
        write_idx(tmp_path / name, arr)
    model = tmp_path / "bars.npz"
    assert cmd_train(_parse(["--data", str(tmp_path), "-o", str(model), "--hidden", "16",
                             "--epochs", "2", "--augment", "0", "--classes", "bar, post, box",
                             "--no-progress"])) == 0
    said = capsys.readouterr()
    assert "mnist" not in (said.out + said.err).lower() and "digit" not in said.out.lower()
    net = netdream.load(model)
    assert net.class_names == ("bar", "post", "box")
    assert "MNIST" not in net.metadata["training_data"]
    assert main(["eval", "--model", str(model), "--data", str(tmp_path), "--confusion"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"true\\pred +bar +post +box", out) and re.search(r"\n +box +\d", out)
    assert main(["dream", "post", "--model", str(model), "--runs", "2", "--steps", "500",
                 "-o", str(tmp_path / "d.png"), "--no-progress"]) == 0
    assert "dreamt 2 x post (500 steps each)" in capsys.readouterr().out
    page = tmp_path / "r.html"
    assert main(["report", "--model", str(model), "--data", str(tmp_path), "-o", str(page),
                 "--dreams", "2", "--no-progress"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("; eigen-images from 300 training images")
    text = page.read_text(encoding="utf-8")
    visible = re.sub(r"<[^>]+>", " ", re.sub(r'src="[^"]*"', "", text))
    assert "mnist" not in visible.lower() and "digit" not in visible.lower()
    assert ">box<" in text and "Computed from the 300 training images." in text
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "train10k-images-idx3-ubyte.gz", "train10k-labels-idx1-ubyte.gz"):
        (tmp_path / name).unlink()
    assert main(["report", "--model", str(model), "--data", str(tmp_path), "-o", str(page),
                 "--dreams", "2", "--no-progress"]) == 0
    assert "eigen-images from the test images (no training images beside them)" in \
        capsys.readouterr().out
    text = page.read_text(encoding="utf-8")
    assert "Computed from the 60 test images (no training images were given)." in text


def test_cli_missing_data_is_an_error_not_a_crash(tmp_path, capsys):
    args = _parse(["--data", str(tmp_path), "-o", str(tmp_path / "m.npz"), "--no-progress"])
    assert cmd_train(args) == 1
    assert "cannot read training data" in capsys.readouterr().err
    assert not (tmp_path / "m.npz").exists()
