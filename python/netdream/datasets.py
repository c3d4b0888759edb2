"""Read MNIST and other IDX files; fetch MNIST from public mirrors.

The IDX format (used by MNIST) is a big-endian header followed by raw data:

- a 4-byte magic number ``0x0000TTNN``: two zero bytes, a type code ``TT``
  (see :data:`IDX_DTYPES`) and the number of dimensions ``NN``;
- ``NN`` big-endian unsigned 32-bit sizes, one per dimension;
- the data, row-major, big-endian, exactly ``prod(sizes)`` items long.

Files may be gzip-compressed; compression is detected from the content (the
gzip magic bytes ``1f 8b``), never from the file name.

No file is trusted with memory: the sizes its header declares are checked
against :data:`MAX_IDX_BYTES` (and the memory free) before anything is
allocated, gzip data is decompressed as a stream and never beyond the
declared size, and a download stops at the size an MNIST file can have.

Images come back in MNIST's own convention: ``uint8`` 0..255, 0 =
background, 255 = ink, shape ``(N, 28, 28)``.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import math
import os
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from ._validation import check_int, check_memory

__all__ = [
    "read_idx",
    "MAX_IDX_BYTES",
    "load_mnist",
    "default_root",
    "expected_files",
    "DownloadError",
    "MIRRORS",
    "IDX_DTYPES",
    "SHA256",
]

#: IDX type code -> NumPy dtype of the (big-endian) data.
IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

#: Base URLs tried in order by ``load_mnist(..., download=True)``. Each holds
#: the four canonical ``*.gz`` files.
MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]

#: SHA-256 of the *decompressed* canonical files. Hashing the decompressed
#: bytes (rather than the ``.gz`` file) accepts any mirror that re-compressed
#: the same data. ``None`` means the hash is not known to this package: see
#: :func:`_verify` for what is checked instead.
SHA256 = {
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "train-images-idx3-ubyte": None,
}

# SHA-256 of the first 10,000 training images as an IDX file of their own
# (header with count 10000, then their 7,840,000 pixel bytes). Used to check
# the first sixth of a downloaded train-images file, whose full hash is unknown.
_TRAIN10K_IMAGES_SHA256 = "2889698e6bc3614913e76901316712919d1998fc2b44512451bfe65bc1e668b1"

# The shape each canonical file must have once decompressed.
_SHAPES = {
    "train-images-idx3-ubyte": (60000, 28, 28),
    "train-labels-idx1-ubyte": (60000,),
    "t10k-images-idx3-ubyte": (10000, 28, 28),
    "t10k-labels-idx1-ubyte": (10000,),
}

# split -> (images file, labels file), without the ".gz" suffix.
_SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    "train10k": ("train10k-images-idx3-ubyte", "train10k-labels-idx1-ubyte"),
}

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 16
_READ_CHUNK = 1 << 20

#: The most bytes of data :func:`read_idx` reads by default (its
#: ``max_bytes``): 2 GiB, forty times MNIST's training images.
MAX_IDX_BYTES = 1 << 31


class DownloadError(OSError):
    """Every mirror failed to deliver a verified file.

    The message lists each URL tried and what went wrong with it.
    """


# --------------------------------------------------------------------------
# IDX reading
# --------------------------------------------------------------------------

def read_idx(path, *, max_bytes=None):
    """Read an IDX file, gzip-compressed or not.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Gzip compression is detected from its first two bytes.
    max_bytes : int, optional
        The most bytes of data the header may declare (default
        :data:`MAX_IDX_BYTES`); checked, together with the memory free,
        before anything is allocated.

    Returns
    -------
    numpy.ndarray
        The data with the shape given in the header, in native byte order.
        For one-byte types it is read-only: copy it (``arr.copy()``) to
        modify it.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a valid IDX file: a corrupt or truncated gzip
        stream, a bad magic number, an unknown type code, a short header,
        data whose length differs from the product of the dimensions, or a
        declared size above ``max_bytes``. The message names the file and
        what is wrong.
    """
    path = Path(path)
    limit = MAX_IDX_BYTES if max_bytes is None else check_int(max_bytes, "max_bytes", minimum=0)
    with _open_idx(path) as (fh, compressed):
        dtype, shape, header_len = _read_header(fh, path)
        expected = math.prod(shape) * dtype.itemsize
        if not compressed:  # the file's size tells how much data there is
            _check_length(os.fstat(fh.fileno()).st_size - header_len, expected, dtype, shape, path)
        _check_declared(expected, limit, dtype, shape, path)
        buf = np.empty(expected, dtype=np.uint8)  # pages are only taken as data arrives
        found = _read_into(fh, memoryview(buf), path)
        extra = bool(_read(fh, 1, path)) if found == expected else False
        _check_length(found + extra, expected, dtype, shape, path, at_least=extra)
    arr = buf.view(dtype).reshape(shape)
    if dtype.byteorder == ">":
        return arr.astype(dtype.newbyteorder("="))
    arr.flags.writeable = False
    return arr


@contextlib.contextmanager
def _open_idx(path: Path):
    """Yield ``(stream, compressed)``: the file's decompressed bytes as a stream."""
    with open(path, "rb") as fh:
        if fh.read(2) == _GZIP_MAGIC:
            fh.seek(0)
            with gzip.GzipFile(fileobj=fh, mode="rb") as gz:
                yield gz, True
        else:
            fh.seek(0)
            yield fh, False


def _read(fh, n: int, path) -> bytes:
    """Up to ``n`` bytes; gzip errors become ValueErrors naming ``path``."""
    try:
        return fh.read(n)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path}: corrupt or truncated gzip data ({exc})") from None


def _read_into(fh, view: memoryview, path) -> int:
    """Fill ``view`` from ``fh`` in chunks; return the bytes read (fewer at the end)."""
    filled = 0
    while filled < len(view):
        try:
            n = fh.readinto(view[filled:filled + _READ_CHUNK])
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{path}: corrupt or truncated gzip data ({exc})") from None
        if not n:
            break
        filled += n
    return filled


def _read_header(fh, path):
    """Return ``(dtype, shape, header_length)`` from the start of an IDX stream."""
    raw = _read(fh, 4, path)
    if len(raw) < 4:
        what = "file is empty" if not raw else f"file is only {len(raw)} bytes long"
        raise ValueError(f"{path}: not an IDX file ({what}; the header needs at least 4 bytes)")
    magic = int.from_bytes(raw[:4], "big")
    code, ndim = raw[2], raw[3]
    if raw[0] != 0 or raw[1] != 0 or code not in IDX_DTYPES:
        codes = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"{path}: bad magic number 0x{magic:08x} (expected 0x0000TTNN with "
                         f"type code TT in {codes} and NN dimensions)")
    if ndim == 0:
        raise ValueError(f"{path}: bad magic number 0x{magic:08x} (zero dimensions)")
    header_len = 4 + 4 * ndim
    sizes = _read(fh, 4 * ndim, path)
    if len(sizes) < 4 * ndim:
        raise ValueError(f"{path}: truncated header: {ndim} dimensions need {header_len} "
                         f"header bytes, found {4 + len(sizes)}")
    shape = tuple(int.from_bytes(sizes[4 * i:4 + 4 * i], "big") for i in range(ndim))
    return IDX_DTYPES[code], shape, header_len


def _check_length(found: int, expected: int, dtype, shape, path, at_least=False) -> None:
    if found != expected:
        dims = " x ".join(map(str, shape))
        what = "truncated data" if found < expected else "extra bytes after the data"
        more = "more" if at_least else str(found)
        raise ValueError(f"{path}: {what}: shape {dims} of {dtype.name} expects "
                         f"{expected} bytes of data, found {more}")


def _check_declared(expected: int, limit: int, dtype, shape, path) -> None:
    """Refuse a declared size over ``limit`` or the memory free, before allocating."""
    dims = " x ".join(map(str, shape))
    if expected > limit:
        raise ValueError(f"{path}: the header declares shape {dims} of {dtype.name}, "
                         f"{expected:,} bytes of data, more than the limit of {limit:,} "
                         "(read_idx's max_bytes)")
    span = math.prod(d for d in shape if d) * dtype.itemsize
    if span > limit:  # an empty array whose other sides no array can have
        raise ValueError(f"{path}: the header declares shape {dims} of {dtype.name}: empty, but "
                         f"its other dimensions span {span:,} bytes, more than the limit of "
                         f"{limit:,} (read_idx's max_bytes)")
    check_memory(expected, f"{path}: shape {dims} of {dtype.name}")


# --------------------------------------------------------------------------
# MNIST
# --------------------------------------------------------------------------

def default_root() -> Path:
    """Folder where :func:`load_mnist` looks for MNIST when ``root`` is None.

    ``$NETDREAM_DATA`` if set (the folder holding the MNIST files itself),
    else ``$XDG_CACHE_HOME/netdream/mnist``, else ``~/.cache/netdream/mnist``.
    """
    env = os.environ.get("NETDREAM_DATA")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(cache).expanduser() / "netdream" / "mnist"


def load_mnist(split, root=None, download=False, *, mirrors=None, progress=True, timeout=60.0):
    """Load one split of MNIST.

    Parameters
    ----------
    split : {"train", "test", "train10k"}
        ``"train"``: the 60,000 training images; ``"test"``: the 10,000 test
        images; ``"train10k"``: the first 10,000 training images, from files
        named ``train10k-images-idx3-ubyte.gz`` and
        ``train10k-labels-idx1-ubyte.gz`` (not published by the mirrors; for
        machines that hold only this part of the training set).
    root : str or os.PathLike, optional
        Folder holding the files under their canonical names
        (``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
        ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``), with
        or without the ``.gz``. Default: :func:`default_root`.
    download : bool, default False
        Fetch missing canonical files from ``mirrors`` into ``root``. Files
        already present are used as they are.
    mirrors : list of str, optional
        Base URLs to try in order (default :data:`MIRRORS`).
    progress : bool, default True
        Show a tqdm progress bar while downloading.
    timeout : float, default 60
        Seconds to wait on a stalled connection before trying the next mirror.

    Returns
    -------
    images : numpy.ndarray
        ``uint8`` array of shape ``(N, 28, 28)``, 0 = background, 255 = ink
        (read-only; copy it to modify it). Another dataset in MNIST's
        layout (files under the same names in ``root``) may hold grey images
        of any size, ``(N, H, W)``, or colour ones, channels first: an IDX
        file of shape ``(N, 3, H, W)`` (``(N, 1, H, W)`` is read as
        ``(N, H, W)``).
    labels : numpy.ndarray
        ``uint8`` array of shape ``(N,)``: the digits 0..9 for MNIST, class
        indices for another dataset.

    Raises
    ------
    ValueError
        For an unknown split, a malformed file, or image and label files that
        disagree in count.
    FileNotFoundError
        If a file is missing and ``download`` is False (or cannot be
        downloaded, for ``"train10k"``).
    DownloadError
        If ``download`` is True and no mirror delivered a verified file.

    Notes
    -----
    Every downloaded file is checked before it is moved into place (see
    :data:`SHA256`): the SHA-256 of the decompressed bytes for the test
    images, test labels and training labels. For the training images the
    full hash is not known to this package; it checks the file's structure
    (an IDX file of 60,000 images of 28x28 uint8) and that its first 10,000
    images are byte-identical to the known ones (a SHA-256 over that part).
    The remaining 50,000 images are checked only for structure.
    """
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {sorted(_SPLITS)}, got {split!r}")
    root = default_root() if root is None else Path(root).expanduser()
    names = _SPLITS[split]
    paths = [_find(root, name) for name in names]
    missing = [name for name, p in zip(names, paths) if p is None]
    if missing:
        if not download or split == "train10k":
            raise FileNotFoundError(_missing_message(split, root, missing, download))
        root.mkdir(parents=True, exist_ok=True)
        for name in missing:
            _download(name + ".gz", root, MIRRORS if mirrors is None else mirrors,
                      progress=progress, timeout=timeout)
        paths = [_find(root, name) for name in names]
    return _load_pair(*paths)


def expected_files(split) -> list[str]:
    """The file names (gzipped) that hold ``split``: images, then labels."""
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {sorted(_SPLITS)}, got {split!r}")
    return [name + ".gz" for name in _SPLITS[split]]


def _find(root: Path, name: str):
    """Return the path of ``name`` (gzipped or not) in ``root``, or None."""
    for candidate in (root / (name + ".gz"), root / name):
        if candidate.is_file():
            return candidate
    return None


def _missing_message(split, root: Path, missing, download) -> str:
    files = ", ".join(name + ".gz" for name in missing)
    msg = f"MNIST split {split!r}: {files} not found in {root}."
    if split == "train" and "train-images-idx3-ubyte" in missing and \
            _find(root, "train10k-images-idx3-ubyte") is not None:
        return (msg + " That folder holds only the first 10,000 training images "
                "(train10k-images-idx3-ubyte); use split='train10k' for those, or "
                "download=True to fetch the full training set.")
    if split == "train10k":
        return (msg + " The train10k files are not published by the mirrors; use "
                "split='train' (with download=True if needed) for the full training set.")
    return (msg + " Pass download=True to fetch the missing files, or root= to point at a "
                  "folder that holds them (gzipped or not).")


def _load_pair(image_path: Path, label_path: Path):
    images = read_idx(image_path)
    labels = read_idx(label_path)
    # MNIST's (N, 28, 28), or another dataset in its layout: grey (N, H, W),
    # or colour channels first (N, C, H, W), as the models take them
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if (images.dtype != np.uint8 or images.ndim not in (3, 4) or min(images.shape[1:], default=0) < 1
            or (images.ndim == 4 and images.shape[1] != 3)):
        raise ValueError(f"{image_path}: expected uint8 images of shape (N, H, W) (grey, as "
                         f"MNIST's (N, 28, 28)) or (N, 3, H, W) (colour), got "
                         f"{images.dtype} of shape {images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(f"{label_path}: expected uint8 labels of shape (N,), got "
                         f"{labels.dtype} of shape {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(f"{image_path} holds {len(images)} images but {label_path} holds "
                         f"{len(labels)} labels")
    return images, labels


# --------------------------------------------------------------------------
# Downloading
# --------------------------------------------------------------------------

def _download(filename: str, root: Path, mirrors, *, progress: bool, timeout: float) -> Path:
    """Fetch ``filename`` from the first mirror that gives a verified copy.

    Each attempt writes to a temporary file in ``root`` that is deleted on any
    failure (including KeyboardInterrupt) and atomically renamed into place
    on success, so no partial file is ever left under the final name.
    """
    if isinstance(mirrors, str):
        mirrors = [mirrors]
    if not mirrors:
        raise ValueError("mirrors must list at least one base URL")
    target = root / filename
    errors = []
    for base in mirrors:
        url = base if base.endswith("/") else base + "/"
        url += filename
        fd, tmp = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=root)
        try:
            with os.fdopen(fd, "wb") as out:
                _fetch(url, out, progress=progress, timeout=timeout, desc=filename,
                       limit=_download_limit(filename))
            _verify(Path(tmp), filename, url)
            os.replace(tmp, target)
            return target
        except (OSError, ValueError, http.client.HTTPException) as exc:
            # URLError, timeouts and resets are OSErrors; IncompleteRead is an HTTPException
            errors.append(f"  {url}: {exc}")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    raise DownloadError(f"could not download {filename} from any mirror:\n" + "\n".join(errors))


def _download_limit(filename: str) -> int:
    """The most bytes a download of ``filename`` may take: its data
    uncompressed, plus room for gzip's own bytes (compressing never grows
    data by more than a little)."""
    shape = _SHAPES[filename.removesuffix(".gz")]
    return 4 + 4 * len(shape) + math.prod(shape) + (1 << 20)


def _fetch(url: str, out, *, progress: bool, timeout: float, desc: str, limit: int) -> None:
    """Copy ``url`` into the open binary file ``out``, refusing more than
    ``limit`` bytes (as announced, or as received)."""
    from tqdm.auto import tqdm

    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise OSError(f"HTTP {exc.code} {exc.reason}") from None
    with response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        if total is not None and total > limit:
            raise OSError(f"the server announces {total:,} bytes, more than the file can "
                          f"have ({limit:,}); refused")
        received = 0
        with tqdm(total=total, unit="B", unit_scale=True, desc=desc, disable=not progress,
                  leave=False) as bar:
            while chunk := response.read(_CHUNK):
                received += len(chunk)
                if received > limit:
                    raise OSError(f"the server sent more than {limit:,} bytes, more than the "
                                  "file can have; stopped")
                out.write(chunk)
                bar.update(len(chunk))
    if total is not None and received != total:
        raise OSError(f"connection closed after {received} of {total} bytes")


def _verify(path: Path, filename: str, url: str) -> None:
    """Check a downloaded canonical file; raise ValueError if it is wrong.

    The file is decompressed as a stream: its header is checked before any
    data is read, and no more data is read than the header declares."""
    name = filename.removesuffix(".gz")
    with _open_idx(path) as (fh, _):
        dtype, shape, header_len = _read_header(fh, url)
        if dtype != np.uint8 or shape != _SHAPES[name]:
            raise ValueError(f"expected uint8 data of shape {_SHAPES[name]}, got {dtype.name} of "
                             f"shape {shape}")
        expected = math.prod(shape)
        header = b"\x00\x00\x08" + bytes([len(shape)]) + \
            b"".join(d.to_bytes(4, "big") for d in shape)
        known = SHA256[name]
        if known is None:  # train images: check the first 10,000 images, see load_mnist's Notes
            header = header[:4] + (10000).to_bytes(4, "big") + header[8:]
            known, hashed = _TRAIN10K_IMAGES_SHA256, 10000 * 28 * 28
        else:
            hashed = expected
        digest = hashlib.sha256(header)
        found = 0
        while chunk := _read(fh, min(_READ_CHUNK, expected + 1 - found), url):
            if found < hashed:
                digest.update(chunk[:hashed - found])
            found += len(chunk)
            if found > expected:
                break
        _check_length(found, expected, dtype, shape, url, at_least=found > expected)
    if digest.hexdigest() != known:
        raise ValueError(f"checksum mismatch: SHA-256 {digest.hexdigest()}, expected {known}")
