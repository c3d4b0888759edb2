"""Benchmarks against NumPy in the same run (not part of the default test run).

Run: ``python -m pytest benchmarks`` (pytest-benchmark). Each benchmark
records its median under a (group, name) key; at the end the ratios
reference / netdream are printed, since the machines are shared and noisy
and only ratios measured in the same run mean anything.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
_MEDIANS: dict = {}
_EXTRA: list = []


@pytest.fixture(scope="session")
def seed_net():
    path = SHARED / "seed-net" / "net.js"
    if not path.is_file():
        pytest.skip(f"the seed network {path} is absent (shared data folder)")
    import netdream
    return netdream.MLP.load(path)


@pytest.fixture(scope="session")
def mnist_test():
    root = SHARED / "mnist"
    if not (root / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"the MNIST test set is absent from {root}")
    from netdream.datasets import load_mnist
    return load_mnist("test", root=root, progress=False)


@pytest.fixture
def record():
    """record(group, name, benchmark): keep the benchmark's median."""
    def _record(group, name, benchmark, per=1.0):
        _MEDIANS[(group, name)] = (benchmark.stats.stats.median, per)
    return _record


@pytest.fixture
def note():
    """note(text): a line for the summary (for figures that are not timings)."""
    return _EXTRA.append


def pytest_terminal_summary(terminalreporter):
    if not _MEDIANS and not _EXTRA:
        return
    tr = terminalreporter
    tr.section("netdream vs reference (medians of this run)")
    groups = sorted({g for g, _ in _MEDIANS})
    for g in groups:
        items = {n: v for (gg, n), v in _MEDIANS.items() if gg == g}
        line = ", ".join(f"{n} {m * 1e3:.3f} ms" for n, (m, _) in sorted(items.items()))
        ratio = ""
        others = [n for n in items if n != "netdream"]
        if "netdream" in items and len(others) == 1:
            ref = others[0]
            ratio = (f"  => netdream is {items[ref][0] / items['netdream'][0]:.2f}x "
                     f"{'NumPy' if ref == 'numpy' else ref}")
        tr.write_line(f"{g}: {line}{ratio}")
    for text in _EXTRA:
        tr.write_line(text)
