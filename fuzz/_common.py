"""What the atheris harnesses share: the input goes to a file (every parser
reads files), and the one outcome allowed besides success is a ValueError
whose message names that file. Any other exception, a hang (libFuzzer's
-timeout) or a memory blow-up (-rss_limit_mb) is a finding."""

from __future__ import annotations

import os
import sys
import tempfile

import atheris

_DIR = tempfile.mkdtemp(prefix="netdream-fuzz-")


def check(parse, data: bytes, name: str):
    """Write ``data`` to a file called ``name`` and parse it."""
    path = os.path.join(_DIR, name)
    with open(path, "wb") as fh:
        fh.write(data)
    try:
        return parse(path)
    except ValueError as exc:
        if name not in str(exc):
            raise AssertionError(f"the error does not name the file: {exc}") from exc
        return None


def main(test_one_input, seeds) -> None:
    """Run libFuzzer; an empty corpus folder given on the command line is
    first filled with ``seeds()`` (valid files, so that mutations reach the
    checks deep in the parser)."""
    folders = [a for a in sys.argv[1:] if not a.startswith("-")]
    for folder in folders:
        os.makedirs(folder, exist_ok=True)
        if not os.listdir(folder):
            for k, data in enumerate(seeds()):
                with open(os.path.join(folder, f"seed-{k}"), "wb") as fh:
                    fh.write(data)
    # instrument what is loaded by now (netdream, NumPy's and Pillow's Python
    # code): an editable install's import hooks hide modules from
    # atheris.instrument_imports
    atheris.instrument_all()
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
