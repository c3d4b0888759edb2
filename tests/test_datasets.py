"""Tests for netdream.datasets: IDX reading, MNIST loading and downloading."""

from __future__ import annotations

import functools
import gzip
import hashlib
import re
import http.server
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from netdream import datasets
from netdream.datasets import DownloadError, load_mnist, read_idx

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"

# SHA-256 of the decompressed files, from shared/data/README.md.
README_SHA256 = {
    "t10k-images-idx3-ubyte.gz":
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte.gz":
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    "train-labels-idx1-ubyte.gz":
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "train10k-images-idx3-ubyte.gz":
        "2889698e6bc3614913e76901316712919d1998fc2b44512451bfe65bc1e668b1",
    "train10k-labels-idx1-ubyte.gz":
        "651e38e2ac0632f5113ec18f1df4977117f953197819034009971a6675a0df78",
}
TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]

needs_data = pytest.mark.skipif(
    not all((DATA / name).is_file() for name in README_SHA256),
    reason=f"MNIST files not found in {DATA} (the shared data folder beside the checkout)")


def idx_bytes(arr, code=0x08):
    """Serialise ``arr`` as an IDX file with type code ``code``."""
    arr = np.asarray(arr)
    header = bytes([0, 0, code, arr.ndim]) + b"".join(n.to_bytes(4, "big") for n in arr.shape)
    return header + arr.astype(datasets.IDX_DTYPES[code]).tobytes()


def write(path, data):
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------
# read_idx
# --------------------------------------------------------------------------

@pytest.mark.parametrize("code, values", [
    (0x08, [[0, 1, 255], [7, 8, 9]]),
    (0x09, [[-128, 0, 127], [1, 2, 3]]),
    (0x0B, [[-30000, 0, 30000], [1, 2, 3]]),
    (0x0C, [[-(2**31), 0, 2**31 - 1], [1, 2, 3]]),
    (0x0D, [[-1.5, 0.0, 3.25], [1e-3, 2e10, -7.0]]),
    (0x0E, [[-1.5, 0.0, 3.25], [1e-300, 2e100, -7.0]]),
])
def test_read_idx_round_trips_every_type(tmp_path, code, values):
    expected = np.array(values, dtype=datasets.IDX_DTYPES[code])
    arr = read_idx(write(tmp_path / "a.idx", idx_bytes(expected, code)))
    assert arr.shape == (2, 3)
    assert arr.dtype.isnative
    np.testing.assert_array_equal(arr, expected)


def test_read_idx_detects_gzip_by_content_not_name(tmp_path):
    data = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    gz_named_raw = write(tmp_path / "raw.gz", idx_bytes(data))
    raw_named_gz = write(tmp_path / "packed.idx", gzip.compress(idx_bytes(data)))
    np.testing.assert_array_equal(read_idx(gz_named_raw), data)
    np.testing.assert_array_equal(read_idx(raw_named_gz), data)


def test_read_idx_accepts_empty_dimension(tmp_path):
    arr = read_idx(write(tmp_path / "e.idx", idx_bytes(np.zeros((0, 28, 28), np.uint8))))
    assert arr.shape == (0, 28, 28)


GOOD = idx_bytes(np.arange(60, dtype=np.uint8).reshape(3, 4, 5))


@pytest.mark.parametrize("content, match", [
    pytest.param(b"", r"not an IDX file \(file is empty", id="empty"),
    pytest.param(b"\x00\x00", r"only 2 bytes long", id="two-bytes"),
    pytest.param(b"\x01\x02\x08\x03" + GOOD[4:], r"bad magic number 0x01020803", id="magic"),
    pytest.param(b"\x00\x00\x07\x03" + GOOD[4:], r"bad magic number 0x00000703", id="type"),
    pytest.param(b"\x00\x00\x08\x00" + GOOD[4:], r"0x00000800 \(zero dimensions\)", id="ndim0"),
    pytest.param(GOOD[:10], r"truncated header: 3 dimensions need 16 header bytes, found 10",
                 id="short-header"),
    pytest.param(GOOD[:-7], r"truncated data: shape 3 x 4 x 5 of uint8 expects 60 bytes of "
                 r"data, found 53", id="truncated"),
    pytest.param(GOOD + b"\x00\x00", r"extra bytes after the data: .* expects 60 bytes of "
                 r"data, found 62", id="trailing"),
    pytest.param(GOOD[:4] + (1000).to_bytes(4, "big") + GOOD[8:],
                 r"shape 1000 x 4 x 5 of uint8 expects 20000 bytes of data, found 60",
                 id="wrong-count"),
    pytest.param(GOOD[:4] + b"\xff" * 12 + GOOD[16:], r"expects \d+ bytes of data, found 60",
                 id="huge-dims"),
])
def test_read_idx_rejects_malformed_files(tmp_path, content, match):
    path = write(tmp_path / "bad.idx", content)
    with pytest.raises(ValueError, match=match) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_rejects_wrong_ndim_for_the_header(tmp_path):
    # A 3-d header byte in front of data laid out with only 2 sizes.
    data = idx_bytes(np.zeros((4, 5), np.uint8))
    path = write(tmp_path / "ndim.idx", data[:3] + b"\x03" + data[4:])
    with pytest.raises(ValueError, match="bytes of data, found"):
        read_idx(path)


@pytest.mark.parametrize("mangle, match", [
    (lambda gz: gz[: len(gz) // 2], "corrupt or truncated gzip data"),
    (lambda gz: gz[:-4], "corrupt or truncated gzip data"),
    (lambda gz: gz[:-8] + bytes(b ^ 0xFF for b in gz[-8:-4]) + gz[-4:], "CRC check failed"),
    (lambda gz: gz[:3], "corrupt or truncated gzip data"),
    (lambda gz: gz + b"junk", "corrupt or truncated gzip data"),
])
def test_read_idx_rejects_bad_gzip(tmp_path, mangle, match):
    gz = gzip.compress(idx_bytes(np.random.default_rng(0).integers(0, 256, (50, 28, 28))))
    path = write(tmp_path / "bad.gz", mangle(gz))
    with pytest.raises(ValueError, match=match) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope.gz")


def gzip_bomb(path, shape, zeros_mb, code=0x08):
    """A gzip IDX file: a header declaring ``shape``, then ``zeros_mb`` MiB of
    zeros (about 1 KiB of file per MiB), compressed as a stream."""
    import zlib
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    header = bytes([0, 0, code, len(shape)]) + b"".join(d.to_bytes(4, "big") for d in shape)
    chunk = bytes(1 << 20)
    with open(path, "wb") as fh:
        fh.write(c.compress(header))
        for _ in range(zeros_mb):
            fh.write(c.compress(chunk))
        fh.write(c.flush())
    return path


def peak_memory_mb(code: str) -> float:
    """How much the peak memory (RSS) of a fresh Python grows while running
    ``code`` (after ``from netdream import datasets``)."""
    import subprocess
    import sys
    script = ("import resource\nfrom netdream import datasets\n"
              "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
              f"{code}\n"
              "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
              "print((after - before) / 1024)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def test_read_idx_gzip_bomb_is_stopped_at_the_declared_size(tmp_path):
    """256 MiB of zeros after a header declaring 10 images: reading stops one
    byte past the 7,840 declared (the old reader decompressed it all)."""
    path = gzip_bomb(tmp_path / "bomb.gz", (10, 28, 28), 256)
    assert path.stat().st_size < 300_000
    with pytest.raises(ValueError, match=r"bomb\.gz: extra bytes after the data: shape 10 x 28 "
                                         r"x 28 of uint8 expects 7840 bytes of data, found more"):
        read_idx(path)
    grown = peak_memory_mb("try:\n    datasets.read_idx(%r)\nexcept ValueError:\n    pass"
                           % str(path))
    assert grown < 32, f"read_idx took {grown:.0f} MB for a 7,840-byte file"


def test_read_idx_refuses_a_declared_size_over_the_limit(tmp_path):
    path = gzip_bomb(tmp_path / "big.gz", (2**32 - 1, 2**32 - 1), 1)
    with pytest.raises(ValueError, match=r"big\.gz: the header declares shape 4294967295 x "
                                         r"4294967295 of uint8, [\d,]+ bytes of data, more than "
                                         r"the limit of 2,147,483,648 \(read_idx's max_bytes\)"):
        read_idx(path)
    small = write(tmp_path / "small.idx", GOOD)
    with pytest.raises(ValueError, match=r"small\.idx: .*60 bytes of data, more than the limit "
                                         r"of 59"):
        read_idx(small, max_bytes=59)
    assert read_idx(small, max_bytes=60).shape == (3, 4, 5)


def test_read_idx_refuses_empty_shapes_no_array_can_have(tmp_path):
    """Found by fuzzing: 0 x 2**32-1 x 2**32-1 x 2**32-1 holds no data, but
    NumPy cannot shape an array so."""
    path = write(tmp_path / "e.idx", bytes([0, 0, 8, 4]) + bytes(4) + b"\xff" * 12)
    with pytest.raises(ValueError, match=r"e\.idx: the header declares shape 0 x 4294967295 x "
                                         r"4294967295 x 4294967295 of uint8: empty, but its other "
                                         r"dimensions span [\d,]+ bytes, more than the limit"):
        read_idx(path)
    assert read_idx(write(tmp_path / "ok.idx", bytes([0, 0, 8, 2]) + bytes(4) +
                          (1000).to_bytes(4, "big"))).shape == (0, 1000)


def test_read_idx_refuses_what_memory_cannot_hold(tmp_path, monkeypatch):
    from netdream import _validation
    monkeypatch.setattr(_validation, "_available_memory", lambda: 50)
    with pytest.raises(ValueError, match=r"a\.idx: shape 3 x 4 x 5 of uint8 needs 60 bytes of "
                                         "memory, more than this machine has free"):
        read_idx(write(tmp_path / "a.idx", GOOD))


@pytest.mark.parametrize("max_bytes, error, match", [
    (-1, ValueError, "max_bytes must be >= 0"),
    (1.5, TypeError, "max_bytes must be an integer"),
])
def test_read_idx_checks_max_bytes(tmp_path, max_bytes, error, match):
    with pytest.raises(error, match=match):
        read_idx(write(tmp_path / "a.idx", GOOD), max_bytes=max_bytes)


def test_read_idx_lying_gzip_header_takes_only_what_arrives(tmp_path):
    """A header declaring 100 MB over 1 MiB of data: truncated, found 1 MiB."""
    path = gzip_bomb(tmp_path / "liar.gz", (100, 1000, 1000), 1)
    with pytest.raises(ValueError, match=r"liar\.gz: truncated data: shape 100 x 1000 x 1000 of "
                                         r"uint8 expects 100000000 bytes of data, found 1048576"):
        read_idx(path)


def test_read_idx_one_byte_types_are_read_only(tmp_path):
    arr = read_idx(write(tmp_path / "a.idx", GOOD))
    assert not arr.flags.writeable
    wide = read_idx(write(tmp_path / "w.idx", idx_bytes(np.arange(6).reshape(2, 3), 0x0C)))
    assert wide.flags.writeable and wide.dtype == np.dtype("=i4")


# --------------------------------------------------------------------------
# load_mnist on the real files
# --------------------------------------------------------------------------

@needs_data
@pytest.mark.parametrize("name", sorted(README_SHA256))
def test_shared_files_decompress_to_readme_hashes(name):
    raw = gzip.decompress((DATA / name).read_bytes())
    assert hashlib.sha256(raw).hexdigest() == README_SHA256[name]
    arr = read_idx(DATA / name)  # and read_idx returns exactly those bytes
    assert raw.endswith(arr.tobytes())
    assert len(raw) == arr.nbytes + 4 + 4 * arr.ndim


@needs_data
def test_load_mnist_test_split():
    images, labels = load_mnist("test", root=DATA)
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    assert np.bincount(labels).tolist() == TEST_LABEL_COUNTS
    assert images.max() == 255 and np.median(images) == 0  # ink high, background 0
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


@needs_data
def test_load_mnist_train10k_split():
    images, labels = load_mnist("train10k", root=DATA)
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    assert labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    full_labels = read_idx(DATA / "train-labels-idx1-ubyte.gz")
    np.testing.assert_array_equal(full_labels[:10000], labels)


@needs_data
def test_load_mnist_train_explains_that_only_train10k_is_there():
    with pytest.raises(FileNotFoundError, match=r"only the first 10,000.*split='train10k'"):
        load_mnist("train", root=DATA)


@needs_data
def test_load_mnist_reads_ungzipped_files(tmp_path):
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        write(tmp_path / name, gzip.decompress((DATA / (name + ".gz")).read_bytes()))
    images, labels = load_mnist("test", root=tmp_path)
    assert images.shape == (10000, 28, 28)
    assert np.bincount(labels).tolist() == TEST_LABEL_COUNTS


def test_load_mnist_reads_other_datasets_in_its_layout(tmp_path):
    """Grey images of another size, and colour ones channels first (one
    channel read as grey); other channel counts are refused, naming the
    file and the shape."""
    rng = np.random.default_rng(0)
    labels = np.arange(5, dtype=np.uint8)
    write(tmp_path / "t10k-labels-idx1-ubyte", idx_bytes(labels))
    for shape, want in [((5, 32, 32), (5, 32, 32)), ((5, 3, 32, 20), (5, 3, 32, 20)),
                        ((5, 1, 9, 7), (5, 9, 7))]:
        x = rng.integers(0, 256, shape).astype(np.uint8)
        write(tmp_path / "t10k-images-idx3-ubyte", idx_bytes(x))
        images, got = load_mnist("test", root=tmp_path)
        assert images.shape == want and np.array_equal(images.reshape(shape), x)
        assert np.array_equal(got, labels)
    for shape in [(5, 2, 8, 8), (5, 8), (5, 3, 4, 4, 4)]:
        write(tmp_path / "t10k-images-idx3-ubyte", idx_bytes(np.zeros(shape, np.uint8)))
        with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte: expected uint8 images of "
                                             r"shape \(N, H, W\).* got uint8 of shape " +
                                             re.escape(str(shape))):
            load_mnist("test", root=tmp_path)


def test_load_mnist_rejects_unknown_split():
    with pytest.raises(ValueError, match=r"split must be one of .*'validation'"):
        load_mnist("validation")


def test_load_mnist_missing_files_suggest_download(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"t10k-images-idx3-ubyte.gz.*download=True.*root="):
        load_mnist("test", root=tmp_path / "empty")


def test_load_mnist_train10k_is_never_downloaded(tmp_path):
    with pytest.raises(FileNotFoundError, match="not published by the mirrors"):
        load_mnist("train10k", root=tmp_path, download=True, mirrors=["http://127.0.0.1:9/"])


def test_load_mnist_uses_netdream_data(tmp_path, monkeypatch):
    write(tmp_path / "t10k-images-idx3-ubyte", idx_bytes(np.zeros((3, 28, 28), np.uint8)))
    write(tmp_path / "t10k-labels-idx1-ubyte", idx_bytes(np.array([1, 2, 3])))
    monkeypatch.setenv("NETDREAM_DATA", str(tmp_path))
    images, labels = load_mnist("test")
    assert images.shape == (3, 28, 28) and labels.tolist() == [1, 2, 3]


def test_default_root_without_env(monkeypatch, tmp_path):
    monkeypatch.delenv("NETDREAM_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert datasets.default_root() == tmp_path / "netdream" / "mnist"


@pytest.mark.parametrize("images, labels, match", [
    (np.zeros((3, 28, 28)), np.arange(4), "holds 3 images but .* holds 4 labels"),
    (np.zeros((3, 28)), np.arange(3), r"shape \(N, H, W\).* got uint8 of shape \(3, 28\)"),
    (np.zeros((3, 28, 28)), np.zeros((3, 1)), r"labels of shape \(N,\)"),
])
def test_load_mnist_checks_the_pair(tmp_path, images, labels, match):
    write(tmp_path / "t10k-images-idx3-ubyte.gz", gzip.compress(idx_bytes(images)))
    write(tmp_path / "t10k-labels-idx1-ubyte.gz", gzip.compress(idx_bytes(labels)))
    with pytest.raises(ValueError, match=match):
        load_mnist("test", root=tmp_path)


# --------------------------------------------------------------------------
# Downloading from a local HTTP server
# --------------------------------------------------------------------------

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files; under /liar/ it promises more bytes than it sends, under
    /huge/ it announces a terabyte, under /endless/ it sends 4 MB without
    announcing a length."""

    def log_message(self, format, *args):  # keep the test output clean
        pass

    def do_GET(self):
        if self.path.startswith("/endless/"):
            self.send_response(200)
            self.end_headers()
            for _ in range(64):
                self.wfile.write(b"\x1f\x8b" + bytes(1 << 16))
            self.close_connection = True
            return None
        if not self.path.startswith(("/liar/", "/huge/")):
            return super().do_GET()
        self.send_response(200)
        self.send_header("Content-Length", "100000" if self.path.startswith("/liar/") else
                         str(10**12))
        self.end_headers()
        self.wfile.write(b"\x1f\x8b" + bytes(1000))
        self.close_connection = True
        return None


@pytest.fixture(scope="module")
def mirror_site(tmp_path_factory):
    """Serve mirror folders over HTTP on 127.0.0.1: good/, truncated/, altered/, empty/."""
    if not all((DATA / name).is_file() for name in README_SHA256):
        pytest.skip(f"MNIST files not found in {DATA}")
    www = tmp_path_factory.mktemp("www")
    names = ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    for folder in ("good", "truncated", "altered", "empty"):
        (www / folder).mkdir()
    for name in names:
        shutil.copyfile(DATA / name, www / "good" / name)
        gz = (DATA / name).read_bytes()
        write(www / "truncated" / name, gz[: len(gz) // 3])
        raw = bytearray(gzip.decompress(gz))
        raw[-1] ^= 1  # valid structure, wrong content
        write(www / "altered" / name, gzip.compress(bytes(raw), compresslevel=1))
    handler = functools.partial(_QuietHandler, directory=str(www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", www
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")


def test_download_from_mirror(mirror_site, tmp_path):
    base, _ = mirror_site
    root = tmp_path / "cache"
    images, labels = load_mnist("test", root=root, download=True, mirrors=[base + "/good"],
                                progress=False)
    assert images.shape == (10000, 28, 28)
    assert np.bincount(labels).tolist() == TEST_LABEL_COUNTS
    assert sorted(p.name for p in root.iterdir()) == [
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    # A second call finds the files and does not touch the network.
    images2, _ = load_mnist("test", root=root, download=True, mirrors=["http://127.0.0.1:9/"])
    np.testing.assert_array_equal(images, images2)


@pytest.mark.parametrize("bad", ["truncated", "altered", "empty", "liar"])
def test_download_falls_back_to_next_mirror(mirror_site, tmp_path, bad):
    base, _ = mirror_site
    root = tmp_path / "cache"
    images, labels = load_mnist("test", root=root, download=True, progress=False,
                                mirrors=[f"{base}/{bad}/", f"{base}/good/"])
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    assert sorted(p.name for p in root.iterdir()) == [
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def test_download_all_mirrors_bad_leaves_nothing(mirror_site, tmp_path):
    base, _ = mirror_site
    root = tmp_path / "cache"
    mirrors = [f"{base}/truncated/", f"{base}/altered", f"{base}/empty/", f"{base}/liar/"]
    with pytest.raises(DownloadError) as info:
        load_mnist("test", root=root, download=True, mirrors=mirrors, progress=False)
    message = str(info.value)
    assert "could not download t10k-images-idx3-ubyte.gz from any mirror" in message
    assert f"{base}/truncated/t10k-images-idx3-ubyte.gz: " in message
    assert "corrupt or truncated gzip data" in message
    assert "checksum mismatch" in message
    assert "HTTP 404" in message
    assert f"{base}/liar/t10k-images-idx3-ubyte.gz: " in message
    assert isinstance(info.value, OSError)
    assert list(root.iterdir()) == []


def test_download_unreachable_mirror(tmp_path):
    with pytest.raises(DownloadError, match=r"127\.0\.0\.1:9/t10k-images-idx3-ubyte.gz: "):
        load_mnist("test", root=tmp_path, download=True, mirrors=["http://127.0.0.1:9"],
                   progress=False, timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_download_train_images_checks_the_known_first_10k(mirror_site, tmp_path):
    """The full train-images hash is unknown; its first 10,000 images are checked."""
    base, www = mirror_site
    first = gzip.decompress((DATA / "train10k-images-idx3-ubyte.gz").read_bytes())
    header = first[:4] + (60000).to_bytes(4, "big") + first[8:16]
    rest = bytes(50000 * 28 * 28)  # stands in for the other 50,000 images
    for folder, data in (("train-ok", first[16:]), ("train-bad", b"\x01" + first[17:])):
        (www / folder).mkdir()
        write(www / folder / "train-images-idx3-ubyte.gz",
              gzip.compress(header + data + rest, compresslevel=1))
    shutil.copyfile(DATA / "train-labels-idx1-ubyte.gz", www / "train-ok" /
                    "train-labels-idx1-ubyte.gz")
    root = tmp_path / "cache"
    with pytest.raises(DownloadError, match="checksum mismatch"):
        load_mnist("train", root=root, download=True, mirrors=[f"{base}/train-bad/"],
                   progress=False)
    assert list(root.iterdir()) == []
    images, labels = load_mnist("train", root=root, download=True, progress=False,
                                mirrors=[f"{base}/train-ok/"])
    assert images.shape == (60000, 28, 28) and labels.shape == (60000,)
    np.testing.assert_array_equal(images[:10000], read_idx(DATA / "train10k-images-idx3-ubyte.gz"))


@pytest.fixture(scope="module")
def bomb_site(tmp_path_factory):
    """Serve hostile mirrors on 127.0.0.1: bomb/ (a 256 MiB gzip bomb behind a
    right header), shape/ (a header declaring a huge shape), and the handler's
    huge/ and endless/."""
    www = tmp_path_factory.mktemp("bombs")
    for folder in ("bomb", "shape"):
        (www / folder).mkdir()
    gzip_bomb(www / "bomb" / "t10k-labels-idx1-ubyte.gz", (10000,), 256)
    gzip_bomb(www / "shape" / "t10k-labels-idx1-ubyte.gz", (2**32 - 1, 2**32 - 1), 1)
    handler = functools.partial(_QuietHandler, directory=str(www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("folder, match", [
    ("bomb", r"extra bytes after the data: shape 10000 of uint8 expects 10000 bytes of data, "
             r"found more"),
    ("shape", r"expected uint8 data of shape \(10000,\), got uint8 of shape \(4294967295, "
              r"4294967295\)"),
    ("huge", r"the server announces 1,000,000,000,000 bytes, more than the file can have "
             r"\(1,058,584\); refused"),
    ("endless", r"the server sent more than 1,058,584 bytes, more than the file can have; "
                r"stopped"),
])
def test_download_refuses_bombs(bomb_site, tmp_path, folder, match):
    """A mirror serving a bomb is one more failed mirror: the download stops
    at the size the file can have, and the check decompresses as a stream,
    no further than the header declares."""
    with pytest.raises(DownloadError, match=rf"/{folder}/t10k-labels-idx1-ubyte.gz: {match}"):
        datasets._download("t10k-labels-idx1-ubyte.gz", tmp_path, [f"{bomb_site}/{folder}/"],
                           progress=False, timeout=10)
    assert list(tmp_path.iterdir()) == []
