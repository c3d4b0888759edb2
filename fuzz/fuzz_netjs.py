"""Fuzz the net.js parser (netdream.formats.read_netjs, through MLP.load).

    python fuzz/fuzz_netjs.py fuzz/corpus/netjs -rss_limit_mb=2048 -timeout=5 -max_total_time=3600

Also add -dict=fuzz/netjs.dict to let libFuzzer splice in the parser's words.
"""

from __future__ import annotations

import atheris
import numpy as np
from netdream import MLP

from _common import check, main


def test_one_input(data: bytes) -> None:
    check(MLP.load, data, "input.js")


def seeds():
    def netjs(hidden):
        rng = np.random.default_rng(hidden)
        def arr2(a):
            return "[" + ",\n".join("[" + ", ".join(f"{v:.4g}" for v in r) + "]" for r in a) + "]"
        return (f"// seed\nvar w12 = {arr2(rng.normal(size=(hidden, 784)))};\n"
                f"var bias2 = [{', '.join(['0.5'] * hidden)}];\n"
                f"var w23 = {arr2(rng.normal(size=(10, hidden)))};\n"
                f"var bias3 = [{', '.join(['-1e-3'] * 10)}];\nfunction nn(x) {{ return x; }}\n")
    return [netjs(1).encode(), netjs(3).encode()]


if __name__ == "__main__":
    main(test_one_input, seeds)
