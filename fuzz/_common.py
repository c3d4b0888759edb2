"""What the atheris harnesses share: the input goes to a file (every parser
reads files), and the one outcome allowed besides success is a ValueError
whose message names that file. Any other exception, a hang (libFuzzer's
-timeout) or a memory blow-up (-rss_limit_mb) is a finding."""

from __future__ import annotations

import os
import sys
import tempfile
import types

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


def instrument(modules) -> None:
    """Add coverage instrumentation to the functions and methods of the
    loaded modules named ``modules`` (and their submodules). An editable
    install's import hooks hide netdream from atheris.instrument_imports, and
    atheris.instrument_all takes minutes once Numba is loaded."""
    def is_ours(obj, name):
        return getattr(obj, "__module__", None) == name

    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] not in modules:
            continue
        for obj in list(vars(module).values()):
            if isinstance(obj, types.FunctionType) and is_ours(obj, name):
                atheris.instrument_func(obj)
            elif isinstance(obj, type) and is_ours(obj, name):
                for member in vars(obj).values():
                    func = getattr(member, "__func__", member)
                    if isinstance(func, types.FunctionType):
                        atheris.instrument_func(func)


def main(test_one_input, seeds, modules=("netdream",)) -> None:
    """Run libFuzzer with coverage of ``modules``; an empty corpus folder
    given on the command line is first filled with ``seeds()`` (valid files,
    so that mutations reach the checks deep in the parser)."""
    folders = [a for a in sys.argv[1:] if not a.startswith("-") and not os.path.isfile(a)]
    for folder in folders:
        os.makedirs(folder, exist_ok=True)
        if not os.listdir(folder):
            for k, data in enumerate(seeds()):
                with open(os.path.join(folder, f"seed-{k}"), "wb") as fh:
                    fh.write(data)
    instrument(modules)
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
