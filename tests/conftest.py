"""Shared fixtures: the data beside the checkout (../shared/data), when present."""

from __future__ import annotations

import _thread
import contextlib
import faulthandler
import gzip
import os
import signal
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
MNIST = SHARED / "mnist"
NETJS = SHARED / "seed-net" / "net.js"

needs_netjs = pytest.mark.skipif(
    not NETJS.is_file(), reason=f"the seed network {NETJS} is absent (shared data folder)")
needs_mnist = pytest.mark.skipif(
    not (MNIST / "t10k-images-idx3-ubyte.gz").is_file(),
    reason=f"the MNIST test set is absent from {MNIST} (shared data folder)")


@contextlib.contextmanager
def ctrl_c(after=0.3, again=0.5, stuck_after=60):
    """Press Ctrl-C (``_thread.interrupt_main``) ``after`` seconds into the
    block, and again every ``again`` seconds until the block is left, as a
    user would: one press can be lost (handled while a finalizer runs, which
    swallows the KeyboardInterrupt), and a test of an endless search would
    then hang. Yields a list that holds the time of the first press
    (``time.perf_counter``). A press still pending when the block is left
    is absorbed there. If the block still runs ``stuck_after`` seconds
    after the first press, Python's stacks go to a file named on stderr,
    and the process gets a real SIGINT, then ends (exit status 70): a
    failure, never a hang."""
    done = threading.Event()
    pressed = []

    def run():
        if done.wait(after):
            return
        pressed.append(time.perf_counter())
        _thread.interrupt_main()
        while not done.wait(again):
            if time.perf_counter() - pressed[0] > stuck_after:
                return _stuck()
            _thread.interrupt_main()

    def _stuck():
        # never a hang: say what is there (Python's stacks, the SIGINT
        # handler), send a real SIGINT, and end the process if even that
        # does not stop the block
        path = Path(tempfile.gettempdir()) / f"netdream-ctrl-c-stuck-{os.getpid()}.txt"
        with open(path, "w") as fh:
            fh.write(f"ctrl_c: the block went on {stuck_after} s after Ctrl-C; SIGINT handler "
                     f"{signal.getsignal(signal.SIGINT)!r}\n")
            faulthandler.dump_traceback(fh, all_threads=True)
        os.write(2, f"\nctrl_c: no stop {stuck_after} s after Ctrl-C; see {path}\n".encode())
        os.kill(os.getpid(), signal.SIGINT)
        if not done.wait(10):
            os._exit(70)

    presser = threading.Thread(target=run, daemon=True)
    presser.start()
    try:
        yield pressed
    finally:
        while True:
            try:
                done.set()
                presser.join()
                time.sleep(0.05)  # a pending press is raised here, not after the block
                break
            except KeyboardInterrupt:
                continue


def lively_mlp(rng, sizes, hidden, output, starts, scale=1.0):
    """A random MLP (see random_mlp) none of whose relu layers is dead on any
    of the images ``starts``: a layer all of whose units are off makes every
    later layer constant, and a search from such an image can never move.
    Where that would happen, the layer's biases are raised together until its
    most active unit is on (by 0.5) for every start."""
    import netdream
    from reference import layers64
    net = random_mlp(rng, sizes, hidden, output, scale=scale)
    if hidden not in ("relu", "leaky_relu"):
        return net
    ws, bs = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
    for l in range(len(ws) - 1):
        probe = netdream.MLP(ws, bs, hidden=hidden, output=output, encoding=net.encoding)
        pre, _ = layers64(probe, starts)
        lift = max(0.0, 0.5 - float(pre[l].max(axis=1).min()))
        bs[l] = bs[l] + lift
    return netdream.MLP(ws, bs, hidden=hidden, output=output, encoding=net.encoding)


CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


@pytest.fixture
def browser():
    """browser(width, height, mobile=False) -> a selenium Chrome driver
    (Debian's chromium and chromedriver) whose page is `width` x `height`
    CSS pixels, emulating a phone when `mobile`; skips when they or selenium
    are absent."""
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.skip(f"{CHROMIUM} or {CHROMEDRIVER} is absent (apt-get install chromium "
                    "chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service
    drivers = []

    def make(width, height=900, mobile=False):
        opts = webdriver.ChromeOptions()
        opts.binary_location = str(CHROMIUM)
        for flag in CHROMIUM_FLAGS:
            opts.add_argument(flag)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # driver.get_log("browser")
        if mobile:
            opts.add_experimental_option("mobileEmulation", {
                "deviceMetrics": {"width": width, "height": height, "pixelRatio": 1.0}})
        else:
            opts.add_argument(f"--window-size={width},{height}")
        # the browser is not ours to instrument: without the sanitizer
        # runtimes that the ASan job preloads into every process
        env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS",
                                                                  "UBSAN_OPTIONS")}
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER), env=env), options=opts)
        drivers.append(driver)
        if not mobile:  # the page itself, not the window, is width x height
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        return driver

    yield make
    for d in drivers:
        d.quit()


@pytest.fixture
def phone_browser(browser):
    """phone_browser(width) -> a selenium Chrome driver emulating a phone
    screen `width` CSS pixels wide (see `browser`)."""
    return lambda width, height=900: browser(width, height, mobile=True)


def mnist(split):
    """An MNIST split from the shared data folder (the caller skips when absent)."""
    from netdream.datasets import load_mnist
    return load_mnist(split, root=MNIST, progress=False)


DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "python" / "netdream" / "data" / "default.npz"


@pytest.fixture(scope="session")
def seed_net():
    if not NETJS.is_file():
        pytest.skip(f"the seed network {NETJS} is absent (shared data folder)")
    import netdream
    return netdream.MLP.load(NETJS)


@pytest.fixture(scope="session")
def mnist_test():
    if not (MNIST / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"the MNIST test set is absent from {MNIST} (shared data folder)")
    from netdream.datasets import load_mnist
    return load_mnist("test", root=MNIST, progress=False)


@pytest.fixture(scope="session")
def default_net():
    import netdream
    return netdream.MLP.pretrained()


def random_mlp(rng, sizes, hidden, output="softmax", encoding=None, scale=1.0):
    """A random MLP with the given layer widths (input first)."""
    import netdream
    ws = [rng.normal(0, scale / np.sqrt(a), size=(b, a)) for a, b in zip(sizes[:-1], sizes[1:])]
    bs = [rng.normal(0, 0.1, size=b) for b in sizes[1:]]
    return netdream.MLP(ws, bs, hidden=hidden, output=output, encoding=encoding)


def stuck_at_blank_mlp():
    """An MLP whose class "on" fires only past 50 pixels' worth of ink, so
    that no one-pixel change of a blank image raises it (as a colour network
    that never saw a black image); from grey it is sure of it. "off" is the
    other class."""
    import netdream
    return netdream.MLP([np.ones((1, 784)), np.array([[10.0], [0.0]])],
                        [np.array([-50.0]), np.array([-3.0, 0.0])], hidden=["relu"],
                        class_names=["on", "off"])


def bars(n, seed=0):
    """A synthetic 3-class set: a horizontal bar, a vertical bar, a square."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = np.zeros((n, 28, 28), np.uint8)
    for i, (k, p) in enumerate(zip(y, rng.integers(6, 22, n))):
        if k == 0:
            x[i, p - 1:p + 1, 4:24] = 255
        elif k == 1:
            x[i, 4:24, p - 1:p + 1] = 255
        else:
            x[i, 8:20, 8:20] = 255
    return x, y


def fit_quietly(clf, x, y):
    from sklearn.exceptions import ConvergenceWarning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(x, y)


def write_idx(path, arr):
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + arr.tobytes())
