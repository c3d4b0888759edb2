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

from conftest import MNIST, NETJS, bars, needs_mnist, needs_netjs, write_idx


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


def test_dream_with_average_and_gif(tmp_path, capsys):
    args = ["dream", "3", "--runs", "4", "--steps", "2000", "--no-progress",
            "-o", str(tmp_path / "d.png"), "--average", str(tmp_path / "a.png"),
            "--gif", str(tmp_path / "g.gif"), "--frames", "5"]
    assert main(args) == 0
    assert "dreamt 4 x 3" in capsys.readouterr().out
    with Image.open(tmp_path / "g.gif") as gif:
        assert gif.n_frames == 6


def test_evolve_and_ascend(tmp_path, capsys):
    assert main(["evolve", "all", "--generations", "20", "--no-progress",
                 "-o", str(tmp_path / "e.png")]) == 0
    assert main(["evolve", "5", "--generations", "10", "--repeats", "2", "--no-progress",
                 "-o", str(tmp_path / "e5.png"), "--average", str(tmp_path / "a5.png")]) == 0
    assert main(["ascend", "4", "--runs", "2", "--steps", "50", "--no-progress",
                 "-o", str(tmp_path / "asc.png"), "--gif", str(tmp_path / "asc.gif")]) == 0
    assert (tmp_path / "asc.gif").is_file()


@needs_mnist
def test_classify_and_morph(tmp_path, capsys, mnist_test):
    images, labels = mnist_test
    path = tmp_path / "seven.png"
    save_image(255 - images[labels == 7][0], path, scale=5)  # dark ink on white, like a drawing
    assert main(["classify", str(path)]) == 0
    assert capsys.readouterr().out.split(": ")[1].startswith("7 ")
    assert main(["morph", str(path), "--to", "3", "--no-progress", "-o", str(tmp_path / "m.png")]) == 0
    assert "morphed" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["eval", "--model", "/nonexistent/model.npz"], "no model file"),
    (["dream", "12", "-o", "x.png"], "0..9"),
    (["evolve", "seven", "-o", "x.png"], "DIGIT"),
    (["classify", "/nonexistent.png"], "nonexistent"),
])
def test_errors_are_one_line(args, message, capsys):
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


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


def test_cli_float16_storage_scores_what_is_stored(tmp_path, capsys):
    x, y = bars(200)
    for name, arr in [("train10k-images-idx3-ubyte.gz", x), ("train10k-labels-idx1-ubyte.gz", y),
                      ("t10k-images-idx3-ubyte.gz", x[:50]), ("t10k-labels-idx1-ubyte.gz", y[:50])]:
        write_idx(tmp_path / name, arr)
    out = tmp_path / "m.npz"
    args = _parse(["--data", str(tmp_path), "-o", str(out), "--hidden", "8", "--epochs", "1",
                   "--augment", "0", "--storage-dtype", "float16", "--no-progress"])
    assert cmd_train(args) == 0
    net = MLP.load(out)
    assert net.metadata["storage_dtype"] == "float16"
    assert net.metadata["test_accuracy"]["correct"] == netdream.evaluate(net, x[:50], y[:50]).correct


def test_cli_missing_data_is_an_error_not_a_crash(tmp_path, capsys):
    args = _parse(["--data", str(tmp_path), "-o", str(tmp_path / "m.npz"), "--no-progress"])
    assert cmd_train(args) == 1
    assert "cannot read training data" in capsys.readouterr().err
    assert not (tmp_path / "m.npz").exists()
