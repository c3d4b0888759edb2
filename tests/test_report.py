"""netdream.report: the one-page HTML report, and that a browser shows it."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import netdream
from netdream.cli import main
from netdream.report import SECTIONS, make_report
from netdream.report._render import _pct

from conftest import MNIST, NETJS, needs_mnist, needs_netjs, random_mlp, stuck_at_blank_mlp

CHROMIUM = Path("/usr/bin/chromium")
N_SMALL = 500


class _Page(HTMLParser):
    """Collects what the checks need: tags, attributes, headings, style text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.imgs, self.h2, self.attrs, self.style = [], [], [], [], ""
        self._in = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend((tag, k, v or "") for k, v in attrs)
        if tag == "img":
            self.imgs.append(dict(attrs))
        self._in = tag if tag in ("h2", "style") else None
        if tag == "h2":
            self.h2.append("")

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "h2":
            self.h2[-1] += data
        elif self._in == "style":
            self.style += data


def parse(path) -> tuple[str, _Page]:
    text = Path(path).read_text(encoding="utf-8")
    page = _Page()
    page.feed(text)
    return text, page


def check_self_contained(text: str, page: _Page) -> None:
    assert "http://" not in text and "https://" not in text
    assert 'src="/' not in text and "src='/" not in text
    assert not {"script", "link", "iframe", "object", "embed", "video", "audio"} & set(page.tags)
    for tag, key, value in page.attrs:
        if key in ("src", "srcset", "poster", "data", "action", "background"):
            assert value.startswith("data:"), (tag, key, value[:60])
        if key == "href":
            assert value.startswith("#"), (tag, value)
        assert not key.startswith("on"), f"event handler {key} on <{tag}>"
    assert "@import" not in page.style
    for url in re.findall(r"url\(([^)]*)\)", page.style):
        assert url.strip("'\" ").startswith("data:")


def check_images(page: _Page) -> None:
    assert page.imgs
    for img in page.imgs:
        head, _, payload = img["src"].partition(",")
        assert head == "data:image/png;base64"
        raw = base64.b64decode(payload, validate=True)
        with Image.open(io.BytesIO(raw)) as im:
            im.verify()
        with Image.open(io.BytesIO(raw)) as im:
            im.load()
            assert im.format == "PNG"
            assert im.size == (int(img["width"]), int(img["height"]))
        assert img.get("alt")


@pytest.fixture(scope="module")
def small_test(mnist_test):
    x, y = mnist_test
    return x[:N_SMALL], y[:N_SMALL]


@pytest.fixture(scope="module")
def random_report(tmp_path_factory, small_test):
    x, y = small_test
    net = random_mlp(np.random.default_rng(0), [784, 32, 10], "relu")
    path = tmp_path_factory.mktemp("report") / "random.html"
    out = make_report(net, x, y, path=path, dreams=3, seed=1, progress=False, threads=2)
    assert out == str(path)
    return path


# ------------------------------------------------------------------ content
def test_random_net_report_is_self_contained(random_report):
    text, page = parse(random_report)
    check_self_contained(text, page)
    check_images(page)
    assert page.h2 == list(SECTIONS)
    alts = [img["alt"] for img in page.imgs]
    for prefix, n in [("causal index of class", 10), ("a dream of", 10),
                      ("average of 3 dreams", 10), ("fooling image", 10), ("receptive field of hidden unit", 20),
                      ("mean image", 1), ("eigen-digit", 10)]:
        assert sum(a.startswith(prefix) for a in alts) == n, prefix
    # a random net makes plenty of mistakes: 40 in the gallery, and 5
    # examples of each of the 3 commonest confusions beside the matrix
    assert sum(" taken for " in a for a in alts) == 40 + 3 * 5
    assert len(alts) == 71 + 55
    assert text.count('<table class="conf">') == 1
    assert "test images (no training images were given)" in text
    assert "fitted on half of the test images" in text


def test_report_on_a_colour_cnn(tmp_path, monkeypatch):
    """A colour CNN of another size (3x16x20, 3x3 filters, named classes):
    its filters in colour at a readable size, feature maps, eigen-images in
    colour (principal components of the colour images) with the baseline,
    dreams and mistakes in colour; images of more than 4,096 values get
    their components from the Gram matrix, from the first pca.max_images of
    them, and images too large for that are said to be so."""
    from netdream.layers import Conv2D, Dense, Flatten, MaxPool2D
    rng = np.random.default_rng(1)
    names = ["red", "green", "blue"]
    net = netdream.Network(
        [Conv2D(rng.normal(0, 0.5, (4, 3, 3, 3)), np.zeros(4), padding="same"), MaxPool2D(2),
         Flatten(), Dense(rng.normal(0, 0.1, (3, 4 * 8 * 10)), np.zeros(3))],
        image_shape=(3, 16, 20), class_names=names,
        encoding=netdream.Encoding(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)))
    y = np.arange(30) % 3
    x = (rng.random((30, 3, 16, 20)) * 80).astype(np.uint8)
    x[np.arange(30), y] += 150  # each class its own colour
    path = make_report(net, x, y, path=tmp_path / "colour.html", dreams=2, progress=False)
    text, page = parse(path)
    check_self_contained(text, page)
    check_images(page)
    alts = {img["alt"]: img for img in page.imgs}
    filt = alts["filter 0"]
    assert int(filt["width"]) >= 48  # a 3x3 filter drawn large enough to read
    assert "Eigen-images" in page.h2 and "In colour: grey is no change from the mean" in text
    comp = alts["eigen-image 1"]
    raw = base64.b64decode(comp["src"].partition(",")[2])
    rgb = np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"), float)
    assert np.abs(rgb[..., 0] - rgb[..., 2]).max() > 50  # in colour
    # each class is its own colour: the baseline on colour components finds them all
    assert "PCA baseline, 10 components: <b>100.00%</b>" in text
    assert {"Filters", "Feature maps"} <= set(page.h2) and "a dream of blue" in alts
    big = netdream.Network(
        [Conv2D(rng.normal(0, 0.5, (2, 3, 3, 3)), np.zeros(2)), MaxPool2D(8), Flatten(),
         Dense(rng.normal(0, 0.1, (2, 2 * 5 * 5)), np.zeros(2))], image_shape=(3, 42, 42))
    xb = (rng.random((6, 3, 42, 42)) * 255).astype(np.uint8)
    path = make_report(big, xb, np.arange(6) % 2, path=tmp_path / "big.html", dreams=1,
                       progress=False)
    text, page = parse(path)
    assert "Computed from the 6 test images" in text
    assert sum(i["alt"].startswith("eigen-image ") for i in page.imgs) == 5  # 6 images: 5 directions
    # larger still: from the first images, as many as pca.max_images allows, said so
    from netdream import pca
    monkeypatch.setattr(pca, "MAX_GRAM_VALUES", 5292 * 4)
    path = make_report(big, xb, np.arange(6) % 2, path=tmp_path / "big4.html", dreams=1,
                       progress=False)
    text, page = parse(path)
    assert "Computed from the first 4 of the 6 test images" in text
    assert sum(i["alt"].startswith("eigen-image ") for i in page.imgs) == 3
    monkeypatch.setattr(pca, "MAX_GRAM_VALUES", 5292)
    path = make_report(big, xb, np.arange(6) % 2, path=tmp_path / "big1.html", dreams=1,
                       progress=False)
    assert "the images have 5,292 values each, too many for principal components" in \
        parse(path)[0]


def test_report_page_does_not_depend_on_threads(tmp_path, small_test, random_report):
    x, y = small_test
    net = random_mlp(np.random.default_rng(0), [784, 32, 10], "relu")
    path = make_report(net, x, y, path=tmp_path / "one.html", dreams=3, seed=1,
                       progress=False, threads=1)
    assert Path(path).read_bytes() == random_report.read_bytes()


@needs_netjs
def test_seed_net_report(tmp_path, seed_net, small_test, monkeypatch):
    x, y = small_test
    from netdream import pca
    from netdream.datasets import load_mnist
    xt, yt = load_mnist("train10k", root=MNIST, progress=False)
    computed = []
    real = pca._eigendigits
    monkeypatch.setattr(pca, "_eigendigits", lambda *a, **k: computed.append(1) or real(*a, **k))
    path = make_report(seed_net, x, y, path=tmp_path / "seed.html", train_images=xt[:2000],
                       train_labels=yt[:2000], dreams=2, progress=False)
    # the eigen-images and the baseline share one computation of the components
    assert len(computed) == 1
    monkeypatch.setattr(pca, "_eigendigits", real)
    baseline = pca.PCAClassifier(10).fit(xt[:2000], yt[:2000]).score(x, y)
    text, page = parse(path)
    check_self_contained(text, page)
    check_images(page)
    assert page.h2 == list(SECTIONS)
    assert "seed net.js" in text and "784 &rarr; 200 &rarr; 10" in text
    assert "column by column" in text
    assert "Computed from the 2,000 training images." in text
    assert "fitted on the 2,000 training images and scored on the 500 test images" in text
    assert f"PCA baseline, 10 components: <b>{100 * baseline:.2f}%</b>" in text
    acc = netdream.evaluate(seed_net, x, y).accuracy
    assert f"<b>{100 * acc:.2f}%</b>" in text


def test_report_without_hidden_layers(tmp_path, small_test):
    x, y = small_test
    rng = np.random.default_rng(3)
    net = netdream.MLP([rng.normal(0, 0.05, (10, 784))], [np.zeros(10)])
    text, page = parse(make_report(net, x, y, path=tmp_path / "lin.html", dreams=2,
                                   progress=False))
    check_self_contained(text, page)
    check_images(page)
    assert page.h2 == list(SECTIONS)
    assert "no hidden layer" in text
    assert "(0 hidden layers)" in text
    # the fields are the 10 weight images, in class order
    assert 'alt="weights of class 9"' in text and "unit 0" not in text


def test_report_on_a_few_images_notes_what_it_cannot_do(tmp_path, small_test):
    x, y = small_test
    net = random_mlp(np.random.default_rng(4), [784, 8, 10], "tanh")
    text, page = parse(make_report(net, x[:3], y[:3], path=tmp_path / "few.html", dreams=1,
                                   progress=False))
    check_images(page)
    assert "Too few test images for the PCA baseline" in text
    assert "Computed from the 3 test images" in text
    assert "the 8 most focused of 8" in text


def test_report_when_nothing_is_misclassified(tmp_path):
    # one class only: every image is a 0, and a net that always says 0
    x = np.zeros((5, 28, 28), np.uint8)
    x[:, 10:18, 10:18] = np.arange(5)[:, None, None] * 40
    w = np.zeros((3, 784))
    net = netdream.MLP([w], [np.array([5.0, 0.0, 0.0])])
    text, page = parse(make_report(net, x, np.zeros(5, np.int64), path=tmp_path / "ok.html",
                                   dreams=1, progress=False))
    check_images(page)
    assert "classifies every test image correctly" in text
    assert "100.00%" in text  # the accuracy


def test_dreams_that_get_nowhere_from_blank_start_from_grey(tmp_path):
    """Class "on" fires only past 50 pixels' worth of ink: from a blank image
    no one-pixel change raises it (a colour network trained on backgrounds
    that are never black does this). Its dreams start from grey instead, and
    the caption says so. The network reads a blank image as "off" (95%): its
    dreams stay blank, from grey too (they lose the ink), and the caption
    says why."""
    net = stuck_at_blank_mlp()
    x = np.zeros((4, 28, 28), np.uint8)
    x[:2] = 200
    blank = netdream.hill_climb(net, "on", steps=2000, progress=False)
    assert blank.confidence[0] < 0.05  # stuck
    text, page = parse(make_report(net, x, np.array([0, 0, 1, 1]), path=tmp_path / "g.html",
                                   dreams=2, progress=False))
    check_images(page)
    assert ("From a blank image the dreams of on stayed below 50%, so they start from grey"
            in text)
    dream = {img["alt"]: img for img in page.imgs}["a dream of on"]
    assert "&gt;99.99%" in text.partition('alt="a dream of on"')[2][:400]
    assert _tile(dream).mean() > 20  # not black
    p0 = net.predict_proba(np.zeros((28, 28)))[1]
    assert (f"The network reads a blank image as off ({_pct(p0)}) already, so the dreams of off "
            "stay (nearly) blank." in text)
    assert _tile({img["alt"]: img for img in page.imgs}["a dream of off"]).max() == 0


def _tile(img):
    """An image of the page, grey, as an array."""
    raw = base64.b64decode(img["src"].partition(",")[2])
    return np.asarray(Image.open(io.BytesIO(raw)).convert("L"))


def test_a_class_the_network_reads_a_blank_image_as_is_dreamt_from_grey(tmp_path):
    """The shipped cnn reads a blank image as a 1 at 99.97%: from a blank
    image its dreams of a 1 stay black (nothing to gain from ink), so the
    report dreams the 1 from grey, where the dreams hold a stroke, and says
    why; the other digits still start blank."""
    net = netdream.pretrained("cnn")
    x = np.zeros((4, 28, 28), np.uint8)
    x[:2, 4:24, 13:15] = 255
    text, page = parse(make_report(net, x, np.array([1, 1, 0, 0]), path=tmp_path / "c.html",
                                   dreams=1, progress=False))
    check_images(page)
    assert ("The network reads a blank image as 1 (99.97%) already, so the dreams of 1 would stay "
            "blank there; they start from grey (every pixel at 0.2)." in text)
    assert "from grey where a blank start got nowhere or stayed blank" in text
    tiles = {img["alt"]: _tile(img) for img in page.imgs}
    assert tiles["a dream of 1"].mean() > 20
    assert np.median(tiles["a dream of 3"]) == 0  # from blank: a black background


def test_percentages_never_round_up_to_certainty():
    assert _pct(0.99999988) == "99.99%"
    assert _pct(1.0) == "&gt;99.99%"  # float32 rounding, never a certainty
    assert _pct(0.991234) == "99.12%"
    assert _pct(0.987654) == "98.8%"
    assert _pct(0.5) == "50.0%"
    assert _pct(12.5, percent=False) == "12.5"


@pytest.mark.slow
def test_progress_bar_writes_to_stderr(tmp_path, small_test, capsys, monkeypatch):
    x, y = small_test
    net = random_mlp(np.random.default_rng(5), [784, 4, 10], "relu")
    # on a terminal the bar is drawn on stderr...
    import sys
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    make_report(net, x[:50], y[:50], path=tmp_path / "p.html", dreams=1, progress=True)
    err = capsys.readouterr().err
    assert "report" in err and "dreams 10/10" in err
    # ...but not into a log (stderr not a terminal)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    make_report(net, x[:50], y[:50], path=tmp_path / "p.html", dreams=1, progress=True)
    assert "dreams" not in capsys.readouterr().err


# -------------------------------------------------------------- validation
@pytest.fixture(scope="module")
def tiny():
    net = random_mlp(np.random.default_rng(6), [784, 4, 3], "relu")
    x = np.zeros((6, 28, 28), np.uint8)
    return net, x, np.arange(6) % 3


@pytest.mark.parametrize("change, error, match", [
    (dict(net="net"), TypeError, "net must be a netdream.MLP or netdream.Network, got str"),
    (dict(path=3), TypeError, "path must be a str or os.PathLike, got int"),
    (dict(images=np.zeros((0, 28, 28), np.uint8), labels=np.zeros(0, np.int64)),
     ValueError, "images: need at least one image"),
    (dict(images=np.zeros((6, 27, 28))), ValueError, r"images must have shape \(28, 28\)"),
    (dict(labels=np.arange(5)), ValueError, r"labels must have shape \(6,\)"),
    (dict(labels=np.full(6, 3)), ValueError, r"labels must lie in 0..2, got values in \[3, 3\]"),
    (dict(labels=np.zeros(6)), TypeError, "labels must be integers, got dtype float64"),
    (dict(dreams=0), ValueError, "dreams must be >= 1, got 0"),
    (dict(dreams=2.5), TypeError, "dreams must be an integer, got float"),
    (dict(seed=-1), ValueError, "seed must be >= 0, got -1"),
    (dict(seed=2**64), ValueError, "seed must be < 2\\*\\*64"),
    (dict(threads=0), ValueError, "threads must be >= 1, got 0"),
    (dict(progress="yes"), TypeError, "progress must be True or False"),
    (dict(train_labels=np.zeros(6, np.int64)), ValueError,
     "train_labels given without train_images"),
    (dict(train_images=np.zeros((1, 28, 28), np.uint8)), ValueError,
     "train_images: need at least 2 images, got 1"),
    (dict(train_images=np.zeros((4, 28, 28), np.uint8), train_labels=np.zeros(3, np.int64)),
     ValueError, r"train_labels must have shape \(4,\)"),
])
def test_make_report_validates_its_arguments(tmp_path, tiny, change, error, match):
    net, x, y = tiny
    kwargs = dict(net=net, images=x, labels=y, path=tmp_path / "r.html", progress=False)
    kwargs.update(change)
    with pytest.raises(error, match=match):
        make_report(kwargs.pop("net"), kwargs.pop("images"), kwargs.pop("labels"), **kwargs)
    assert not (tmp_path / "r.html").exists()


def test_missing_folder_is_reported_before_any_work(tmp_path, tiny):
    net, x, y = tiny
    with pytest.raises(FileNotFoundError, match="path: the folder .* does not exist"):
        make_report(net, x, y, path=tmp_path / "nope" / "r.html", progress=False)


# ---------------------------------------------------------------------- CLI
@pytest.mark.slow
@needs_mnist
@needs_netjs
def test_cli_report(tmp_path, capsys):
    out = tmp_path / "seed.html"
    assert main(["report", "--model", str(NETJS), "--data", str(MNIST), "-o", str(out),
                 "--dreams", "2", "--seed", "3", "--no-progress"]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"wrote {out} (") and "eigen-digits from 10,000 training images" in said
    text, page = parse(out)
    check_self_contained(text, page)
    assert "98.08%" in text  # the seed network's published accuracy, on all 10,000


@needs_mnist
def test_cli_report_errors_are_one_line(tmp_path, capsys):
    assert main(["report", "--data", str(MNIST), "-o", str(tmp_path / "no" / "r.html")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("netdream report: error: -o/--output: the folder") and err.count("\n") == 1
    assert main(["report", "--data", str(tmp_path), "-o", str(tmp_path / "r.html")]) == 1
    assert "t10k-images-idx3-ubyte.gz" in capsys.readouterr().err


# ----------------------------------------------------------- in a browser
_CHECK = """<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var external = performance.getEntriesByType("resource").filter(function (e) {
    return e.name.indexOf("data:") !== 0;
  }).map(function (e) { return e.name; });
  var out = {
    n: imgs.length,
    ok: imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length,
    sized: imgs.filter(function (i) { return i.naturalWidth === i.width; }).length,
    external: external,
    h2: Array.prototype.map.call(document.querySelectorAll("h2"),
                                 function (h) { return h.textContent; })
  };
  var pre = document.createElement("pre");
  pre.id = "imgcheck";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def chromium(*args, profile):
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.skipif(not CHROMIUM.is_file(),
                    reason=f"{CHROMIUM} is absent (apt-get install chromium)")
@pytest.mark.slow
def test_chromium_decodes_every_image(tmp_path, random_report):
    text = random_report.read_text(encoding="utf-8")
    assert "</body>" in text
    # a copy of the page with a checking script; the report itself has none
    wrapper = tmp_path / "check.html"
    wrapper.write_text(text.replace("</body>", _CHECK + "</body>"), encoding="utf-8")
    run = chromium("--virtual-time-budget=5000", "--dump-dom", wrapper.as_uri(),
                   profile=tmp_path / "profile")
    m = re.search(r'<pre id="imgcheck">(.*?)</pre>', run.stdout, re.S)
    assert m, f"no result in chromium's DOM (exit {run.returncode}): {run.stderr[-2000:]}"
    result = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    _, page = parse(random_report)
    assert result["n"] == len(page.imgs) > 0
    assert result["ok"] == result["n"]
    assert result["sized"] == result["n"]
    assert result["external"] == []
    assert result["h2"] == list(SECTIONS)

    shot = tmp_path / "report.png"
    run = chromium("--hide-scrollbars", "--window-size=1280,2400", f"--screenshot={shot}",
                   random_report.as_uri(), profile=tmp_path / "profile2")
    assert shot.is_file(), run.stderr[-2000:]
    with Image.open(shot) as im:
        arr = np.asarray(im.convert("RGB"))
    assert arr.shape[:2] == (2400, 1280)
    assert arr.std() > 20  # a page with pictures, not a blank or error screen


@pytest.fixture(scope="module")
def mnist_report(tmp_path_factory, mnist_test, default_net):
    """The shipped model's report on the whole test set: four-digit counts in
    the confusion matrix, the widest table a report has."""
    path = tmp_path_factory.mktemp("report") / "mnist.html"
    make_report(default_net, *mnist_test, path=path, dreams=2, progress=False)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("width", [420, 360])
def test_report_fits_a_phone_screen(width, mnist_report, phone_browser):
    """No sideways scrolling on a phone-sized screen: wide content (the
    confusion matrix, rows of pictures) wraps or scrolls inside its own box."""
    driver = phone_browser(width)
    driver.get(mnist_report.as_uri())
    inner, scroll = driver.execute_script(
        "return [window.innerWidth, document.documentElement.scrollWidth]")
    assert inner == width and scroll <= width
