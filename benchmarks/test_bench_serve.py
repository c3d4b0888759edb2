"""netdream serve: frames reaching the page, the core's speed while
streaming against hill_climb's own, and the latency of a prediction while
drawing (through Starlette's test client: the server's whole path, no
network)."""

from __future__ import annotations

import base64
import io
import json
import time

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

import netdream  # noqa: E402

STEPS = 10_000_000


@pytest.fixture(scope="module")
def net():
    return netdream.MLP.pretrained()


@pytest.fixture(scope="module")
def client(net):
    from starlette.testclient import TestClient
    from netdream.serve import Limits, create_app
    from netdream.serve.app import LOOPBACK_HOSTS
    app = create_app([("default", net)], hosts=LOOPBACK_HOSTS + ("testserver",),
                     limits=Limits(steps=STEPS), threads=1)
    with TestClient(app) as c:
        yield c


def _dream(ws, steps):
    """Send a dream; return (seconds to the final frame, frames, final frame)."""
    t0 = time.perf_counter()
    ws.send_text(json.dumps({"type": "dream", "target": 3, "steps": steps, "seed": 7}))
    frames = 0
    while True:
        m = json.loads(ws.receive_text())
        if m["type"] == "frame":
            frames += 1
            if m["final"]:
                return time.perf_counter() - t0, frames, m
        if m["type"] == "error":
            raise AssertionError(m["message"])


def test_streaming_keeps_the_core_busy(benchmark, note, net, client):
    own, runs = [], []
    with client.websocket_connect("/ws", headers={"origin": "http://testserver"}) as ws:
        for _ in range(4):  # interleaved: the machine's load changes as we go
            t0 = time.perf_counter()
            netdream.hill_climb(net, 3, steps=STEPS, threads=1, progress=False, seed=7)
            own.append(time.perf_counter() - t0)
            runs.append(_dream(ws, STEPS))
        benchmark.pedantic(_dream, args=(ws, 20_000), rounds=5, iterations=1)
    own_rate = STEPS / float(np.median(own))
    seconds = float(np.median([r[0] for r in runs]))
    frames = float(np.median([r[1] for r in runs]))
    served_rate = STEPS / seconds
    ratio = served_rate / own_rate
    core_rate = float(np.median([r[2]["rate"] for r in runs]))
    note(f"serve: a dream of {STEPS:,} candidates, 1 thread: {served_rate / 1e6:.2f} M "
         f"candidates/s to the final frame on the page ({core_rate / 1e6:.2f} M/s in the "
         f"server's search) vs hill_climb's own {own_rate / 1e6:.2f} M/s "
         f"({100 * ratio:.0f}%); {frames / seconds:.1f} frames/s reached the page")
    note(f"serve: a dream of 20,000 candidates reaches the page (final frame) in "
         f"{benchmark.stats.stats.median * 1e3:.1f} ms (median)")
    assert ratio >= 0.8


def _drawing(rng):
    from PIL import Image, ImageDraw
    im = Image.new("L", (280, 280), 0)
    pts = [tuple(rng.integers(40, 240, 2)) for _ in range(4)]
    ImageDraw.Draw(im).line(pts, fill=255, width=20, joint="curve")
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def test_prediction_latency(benchmark, note, client):
    rng = np.random.default_rng(0)
    drawings = [_drawing(rng) for _ in range(40)]
    server_ms = []
    with client.websocket_connect("/ws", headers={"origin": "http://testserver"}) as ws:
        it = iter(drawings * 100)

        def predict():
            ws.send_text(json.dumps({"type": "predict", "drawing": next(it)}))
            m = json.loads(ws.receive_text())
            server_ms.append(m["ms"])
        benchmark.pedantic(predict, rounds=40, iterations=1, warmup_rounds=3)
    rt = benchmark.stats.stats.median * 1e3
    note(f"serve: prediction per drawing update (280x280 PNG): {rt:.1f} ms round trip, "
         f"{np.median(server_ms):.1f} ms on the server (medians)")
    assert rt < 20
